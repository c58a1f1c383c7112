//! `mcast discover GROUP:PORT`: the expanding-ring search of the Multicast HOWTO. Send a query with TTL 0,
//! then 1, 2, 4, 8 ... up to `--max-ttl`, wait a bounded time at each ring, and report every responder with
//! the ring at which it first answered.

use std::time::Duration;

use mcast::discover::{Found, Search, SearchEvent};

use crate::args::{self, Fail, Opt};
use crate::output::{Json, Out};
use crate::tools;
use crate::vocab;

pub const SUMMARY: &str = "find responders by expanding-ring search (TTL 0, 1, 2, 4 ...)";

pub const HELP: &str = r#"mcast discover: find responders by expanding-ring search

Usage: mcast discover GROUP:PORT [OPTIONS]

Sends a query to GROUP with TTL (hop limit) 0, waits --wait for answers, then 1, 2, 4, 8 ... up to
--max-ttl, as the Multicast HOWTO describes: TTL 0 reaches this host only, 1 this link, each ring a
router further. Responders (`mcast responder`) answer by unicast with their name and address. Stops
after the first ring that brought an answer, unless --all.

Options:
{options}

Queries are padded to the longest answer a responder can give (301 bytes), since a responder never
answers with more bytes than it was asked with. Responders answer with TTL (hop limit) 64, so the
number of routers between here and each responder is 64 minus the TTL its answer arrived with.

Output: "found NAME at ADDR (from SOURCE) at TTL T, D routers away, X ms" per responder, the first time
it answers ("distance" in JSON; null when the answer did not leave with TTL 64).

Exit status: 0 when a responder was found; 1 when none answered up to --max-ttl, or on a runtime
error; 2 bad arguments; 130 at Ctrl-C (SIGINT), 143 at SIGTERM.

Example:
  mcast discover 239.255.0.9:4000 --iface eth0 --max-ttl 8 --all
"#;

pub const OPTS: &[Opt] = &[
    Opt::value("--max-ttl", "N", "the widest ring, 0..=255 (default 32)").alias(&["--max-hops"]),
    Opt::value("--wait", "SECS", "how long to wait for answers at each ring (default 0.5)"),
    Opt::flag("--all", "keep widening after the first answer, to find everyone up to --max-ttl"),
    vocab::IFACE.help("send from this interface (name, index or address) IP_MULTICAST_IF / IPV6_MULTICAST_IF"),
    vocab::JSON.help("one JSON object per line: {\"type\":\"found\",...} per responder, then a summary"),
    vocab::QUIET.help("only the responders, no line per ring"),
];

const USAGE: &str = "mcast discover GROUP:PORT [OPTIONS]";

pub fn run(words: &[String]) -> Result<(), Fail> {
    let Some(m) = args::command_line(words, OPTS, HELP)? else { return Ok(()) };
    let pos = m.positionals(1, 1, "GROUP:PORT", USAGE)?;
    let group = tools::group(&pos[0])?;
    let max = m.int_in("--max-ttl", 0, 255)?.unwrap_or(32) as u8;
    let wait = m.seconds("--wait")?.unwrap_or(Duration::from_millis(500));
    if wait.is_zero() {
        return Err(Fail::usage("--wait 0: give the time to wait at each ring, e.g. 0.5"));
    }
    let (json, quiet) = (m.flag("--json"), m.flag("--quiet"));
    let ifaces = tools::ifaces(&m, "--iface")?;
    if ifaces.len() > 1 {
        return Err(Fail::usage("--iface: give one (a query leaves by one interface)"));
    }
    let mut b = Search::builder(group).max_ring(max).wait(wait).all(m.flag("--all")).session(tools::session_id());
    if let Some(i) = ifaces.first() {
        b = b.interface(i.clone());
    }
    let mut search = b.build()?;
    tools::catch_interrupts()?;
    let mut out = Out::new();
    while !tools::interrupted() {
        match search.step(tools::SLICE)? {
            Some(SearchEvent::Ring { ttl }) if !quiet => {
                let line = if json {
                    Json::new().str("type", "ring").int("ttl", ttl).finish()
                } else {
                    format!("query to {group} with TTL {ttl}")
                };
                out.line(&line)?;
            }
            Some(SearchEvent::Found(f)) => out.line(&found_line(&f, json))?,
            Some(SearchEvent::Finished) => break,
            _ => {}
        }
    }
    let r = search.report();
    let n = r.found.len();
    let line = if json {
        Json::new()
            .str("type", "summary")
            .int("found", n as u64)
            .int("max_ttl", r.widest)
            .int("send_failed", r.sends.failed)
            .int("ignored", r.ignored)
            .finish()
    } else {
        let fails = tools::failures_text(&r.sends).map_or(String::new(), |f| format!("; {f}"));
        format!("{n} responder{} found up to TTL {}{fails}", if n == 1 { "" } else { "s" }, r.widest)
    };
    out.line(&line)?;
    if n == 0 {
        return Err(Fail::runtime(format!("no responder answered on {group} up to TTL {}", r.widest)));
    }
    Ok(())
}

fn found_line(f: &Found, json: bool) -> String {
    let rtt_ns = f.rtt.as_nanos() as f64;
    if json {
        Json::new()
            .str("type", "found")
            .str("name", &f.name)
            .opt_str("addr", f.addr.map(|a| a.to_string()).as_deref())
            .peer("from", f.from)
            .int("ttl", f.ring)
            .opt_int("distance", f.distance)
            .float("rtt_ms", tools::ms(rtt_ns))
            .finish()
    } else {
        let away = f.distance.map_or(String::new(), |d| format!(", {d} router{} away", if d == 1 { "" } else { "s" }));
        format!(
            "found {} at {} (from {}) at TTL {}{away}, {} ms",
            crate::output::preview(f.name.as_bytes(), 255),
            f.addr.map_or("?".to_string(), |a| a.to_string()),
            f.from,
            f.ring,
            tools::fmt_ms(rtt_ns)
        )
    }
}
