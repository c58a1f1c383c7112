//! `mcast responder GROUP:PORT --name NAME`: answer `mcast discover` queries by unicast with a name and the
//! address of the interface the query came in on (the engine is `mcast::discover::Responder`).

use std::time::Instant;

use mcast::discover::{Responder, ResponderEvent, ResponderReport};
use mcast::guard::{self, AnswerPolicy, RateLimit, TokenBucket};
use mcast::wire::proto;

use crate::args::{self, Fail, Matches, Opt};
use crate::output::{self, Json, Out};
use crate::recv::{outage_json, outage_text};
use crate::tools;
use crate::vocab;

pub const SUMMARY: &str = "answer discover queries on a group with a name, by unicast";

pub const HELP: &str = r#"mcast responder: answer `mcast discover` queries with a name

Usage: mcast responder GROUP:PORT [--name NAME] [OPTIONS]

Joins GROUP on PORT and answers each discover query by unicast to the querier, with NAME and the
address of the interface the query arrived on. The query's TTL (hop limit) is echoed, so the querier
knows the ring at which it found this responder; answers leave with TTL (hop limit) 64, so it also
knows how many routers away this responder is.

On a shared network every query may be forged, so a query is answered only when (docs/security.md):
its source could be a real peer (not port 0, not a multicast or broadcast address ...); the answer is
no larger than the query (`mcast discover` pads its queries so that it always is); the source is on a
subnet directly connected to the interface the query arrived on, or inside an --allow prefix; and
neither the source's nor the total rate limit is exceeded. Each refusal is counted by reason in the
summary and shown as a line (at most 10 a second, beyond a first 20).

When an interface it joined on goes down and up, or is deleted and made again under the same name, it
joins again (saying so on standard error) and keeps answering, with the interface's address as it is
now; the summary lists each outage: the interface, what happened, when and for how long.

Options:
{options}

Exit status: 0 at the end (--count, --time); 1 runtime error; 2 bad arguments; 130 at Ctrl-C (SIGINT),
143 at SIGTERM.

Example:
  mcast responder 239.255.0.9:4000 --name printer-3 --iface eth0
"#;

pub const OPTS: &[Opt] = &[
    Opt::value("--name", "NAME", "the name to answer with, at most 255 bytes (default: the host name)"),
    vocab::IFACE.help("join on this interface (name, index or address); repeat for several"),
    Opt::value(
        "--allow",
        "PREFIX",
        "also answer sources in PREFIX (e.g. 10.2.0.0/16); repeat for several. 0.0.0.0/0 and ::/0 \
        answer every routed querier, for discovery across routers",
    ),
    Opt::value("--answer-rate", "N", "answers a second to one source, burst N (default 1000)"),
    Opt::value("--total-rate", "N", "answers a second in all, burst N (default 10000)"),
    vocab::COUNT.help("exit after answering N queries"),
    vocab::TIME.help("exit after SECS seconds (an overall limit)").alias(&["--timeout"]),
    vocab::JSON.help("one JSON object per line instead of text"),
    vocab::QUIET.help("no line per query or refusal"),
];

const USAGE: &str = "mcast responder GROUP:PORT [--name NAME] [OPTIONS]";

/// Refusal lines shown: a burst of 20, then 10 a second; the rest are only counted.
const REFUSAL_LINES: RateLimit = RateLimit { per_second: 10, burst: 20 };

pub fn run(words: &[String]) -> Result<(), Fail> {
    let Some(m) = args::command_line(words, OPTS, HELP)? else { return Ok(()) };
    let pos = m.positionals(1, 1, "GROUP:PORT", USAGE)?;
    let group = tools::group(&pos[0])?;
    let mut b = Responder::builder(group).policy(policy(&m)?);
    if let Some(name) = m.values("--name").last() {
        if name.is_empty() || name.len() > proto::MAX_NAME {
            return Err(Fail::usage(format!("--name '{name}': give 1 to {} bytes", proto::MAX_NAME)));
        }
        b = b.name(name);
    }
    for i in tools::ifaces(&m, "--iface")? {
        b = b.interface(i);
    }
    let count = m.int_in("--count", 1, u64::MAX)?;
    let timeout = m.seconds("--time")?;
    let (json, quiet) = (m.flag("--json"), m.flag("--quiet"));
    let mut responder = b.build()?;
    tools::catch_interrupts()?;
    if !quiet {
        let name = responder.name();
        tools::note(&format!("mcast responder: answering discover queries on {group} as '{name}' (Ctrl-C stops)"));
    }
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut out = Out::new();
    let mut lines = TokenBucket::full(REFUSAL_LINES);
    let mut unshown = 0u64;
    while !count.is_some_and(|n| responder.answered() >= n) && !tools::interrupted() {
        let Some(wait) = tools::until(deadline, Instant::now()) else { break };
        let Some(event) = responder.next_event(wait)? else { continue };
        if let ResponderEvent::Notice(n) = &event {
            if !quiet {
                tools::note(&format!("mcast responder: {n}"));
            }
            continue;
        }
        let refused = matches!(event, ResponderEvent::Refused { .. });
        if quiet || (refused && !lines.take(REFUSAL_LINES, Instant::now())) {
            unshown += u64::from(refused && !quiet);
            continue;
        }
        if let Some(line) = event_line(&event, json) {
            out.line(&line)?;
        }
    }
    out.text(&summary(&responder.report(), json, unshown))
}

/// The answering policy from `--allow`, `--answer-rate` and `--total-rate`.
fn policy(m: &Matches) -> Result<AnswerPolicy, Fail> {
    let mut p = AnswerPolicy::default();
    for v in m.values("--allow") {
        let prefix = guard::parse_prefix(v)
            .ok_or_else(|| Fail::usage(format!("--allow {v}: give a prefix ADDR/LEN, e.g. 10.2.0.0/16 or ::/0")))?;
        p.allow.push(prefix);
    }
    if let Some(n) = m.int_in("--answer-rate", 1, u64::from(u32::MAX))? {
        p.per_source = RateLimit::per_second(n as u32);
    }
    if let Some(n) = m.int_in("--total-rate", 1, u64::from(u32::MAX))? {
        p.total = RateLimit::per_second(n as u32);
    }
    Ok(p)
}

fn event_line(event: &ResponderEvent, json: bool) -> Option<String> {
    Some(match (event, json) {
        (ResponderEvent::Answered { querier, ring, ttl, addr }, true) => Json::new()
            .str("type", "query")
            .peer("from", *querier)
            .int("ttl_sent", *ring)
            .opt_int("ttl", *ttl)
            .opt_str("addr", addr.map(|a| a.to_string()).as_deref())
            .finish(),
        (ResponderEvent::Answered { querier, ring, .. }, false) => {
            format!("query from {querier} (sent with TTL {ring}), answered")
        }
        (ResponderEvent::Refused { source, reason }, true) => {
            Json::new().str("type", "refused").peer("from", *source).str("reason", reason.name()).finish()
        }
        (ResponderEvent::Refused { source, reason }, false) => format!("datagram from {source} refused: {reason}"),
        (ResponderEvent::SendFailed { querier, error }, true) => {
            Json::new().str("type", "send_failed").peer("to", *querier).str("error", error).finish()
        }
        (ResponderEvent::SendFailed { querier, error }, false) => format!("answer to {querier} not sent: {error}"),
        _ => return None,
    })
}

fn summary(r: &ResponderReport, json: bool, unshown: u64) -> String {
    if json {
        let refused = r.refused.iter().fold(Json::new(), |j, (why, n)| j.int(why.name(), n)).finish();
        return Json::new()
            .str("type", "summary")
            .str("name", &r.name)
            .int("answered", r.answered)
            .int("send_failed", r.sends.failed)
            .raw("refused", &refused)
            .int("sources_evicted", r.sources_evicted)
            .raw("outages", &output::array(r.outages.iter().map(outage_json)))
            .finish();
    }
    let mut s = format!("answered {} quer{}", r.answered, if r.answered == 1 { "y" } else { "ies" });
    if let Some(f) = tools::failures_text(&r.sends) {
        s += &format!("; {f}");
    }
    if r.refused.total() > 0 {
        let why: Vec<String> = r.refused.iter().map(|(w, n)| format!("{} {n}", w.name())).collect();
        s += &format!("; refused {} ({})", r.refused.total(), why.join(", "));
    }
    if unshown > 0 {
        s += &format!(", {unshown} of them not shown");
    }
    if r.sources_evicted > 0 {
        s += &format!("; {} sources forgotten (table full)", r.sources_evicted);
    }
    s + &r.outages.iter().map(|o| format!("\n    outage: {}", outage_text(o))).collect::<String>()
}
