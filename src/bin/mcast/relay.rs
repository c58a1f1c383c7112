//! `mcast relay FROM_GROUP:PORT TO_GROUP:PORT`: forward every datagram of one group (and interface) to
//! another, IPv4 and IPv6 in any combination, optionally impaired (drop, duplicate, reorder, delay)
//! deterministically from a seed, and report exactly what was done.

use std::time::{Duration, Instant};

use mcast::guard::Refusal;
use mcast::relay::{Event, Impairments, Probability, QueueLimits, Relay, Report};
use mcast::relay::{DEFAULT_DEDUP_CAP, DEFAULT_QUEUE_BYTES, DEFAULT_QUEUE_DATAGRAMS};
use mcast::IfaceSpec;

use crate::args::{self, Fail, Matches, Opt};
use crate::output::{Json, Out};
use crate::tools;
use crate::vocab;

pub const SUMMARY: &str = "forward a group to another group or interface (v4<->v6), optionally impaired";

pub const HELP: &str = r#"mcast relay: forward one group to another, and impair the traffic on demand

Usage: mcast relay FROM_GROUP:PORT TO_GROUP:PORT [OPTIONS]

Joins FROM on --iface and sends every datagram of that group that arrives to TO from --out-iface;
either side may be IPv4 or IPv6. Like the relays that carry mDNS or SSDP between segments, and a
test tool: it can drop, duplicate, hold back (reorder) and delay what it forwards, each decision fixed
by --seed, and it reports exactly how many it dropped, duplicated and reordered, so a receiver's
counts can be checked against the truth.

A relay cannot loop or launder (docs/security.md):
  - only datagrams sent to FROM, arrived on a FROM interface, are forwarded; unicast to this host on
    the port, or the group from another interface, is refused (wrong_group);
  - a copy leaves with the TTL / hop limit its datagram arrived with, minus one (--ttl only lowers
    it); one that arrived with 1 or less is not forwarded (hops_exhausted), so a sender's default TTL
    of 1 means "this link only" and is respected;
  - a payload forwarded less than --dedup ago is a copy coming back round a loop of relays (or from
    another relay of the group) and is refused (duplicate): an identical payload repeated within it
    goes through once;
  - relaying a group onto itself on the same interface is refused at the start;
  - the queue of copies waiting (--delay, --reorder) is bounded; what does not fit is refused
    (queue_full).
Datagrams the relay itself sent (looped back to it) are never forwarded again.

Options:
{options}

Report: received, dropped, duplicated, reordered (datagrams sent after a newer one), sent, and the
datagrams refused by reason (wrong_group, hops_exhausted, duplicate, queue_full).

Exit status: 0 at the end; 1 runtime error; 2 bad arguments (including a group relayed onto itself);
130 at Ctrl-C (SIGINT), 143 at SIGTERM, after the summary.

Examples:
  mcast relay 224.0.0.251:5353 224.0.0.251:5353 --iface eth0 --out-iface eth1
  mcast relay 239.1.1.1:5000 '[ff15::1]:5000' --out-iface eth1
  mcast relay 239.1.1.1:5000 239.1.1.2:5000 --drop 10% --reorder 5% --seed 7 --count 1000 --json
"#;

pub const OPTS: &[Opt] = &[
    vocab::IFACE
        .help("join FROM on this interface (repeatable; default: the routing table's). (iperf's -i is --interval)")
        .alias(&["--in-iface"]),
    vocab::SOURCE.help("source-specific join on the FROM side (repeatable)"),
    Opt::value("--out-iface", "IFACE", "send TO from this interface"),
    vocab::TTL.help("at most this TTL / hop limit on the TO side, 0..=255 (default: as arrived, minus 1)"),
    vocab::LOOP.help("whether this host's members of TO get a copy (default on)"),
    vocab::NO_LOOP.help("the opposite of --loop"),
    vocab::DSCP.help("mark the copies sent to TO with a DSCP: 0..=63 or a name (ef, af41, cs1 ...)"),
    Opt::value("--drop", "P", "drop each datagram with probability P (0.05 or 5%)"),
    Opt::value("--duplicate", "P", "send each datagram twice with probability P"),
    Opt::value("--reorder", "P", "hold a datagram back with probability P and send it right after the next one"),
    Opt::value("--delay", "MS", "hold every forwarded datagram MS milliseconds (fractions allowed)"),
    Opt::value("--queue", "N", "at most N copies waiting to be sent (default 1000)"),
    Opt::value("--queue-bytes", "BYTES", "at most BYTES waiting to be sent (default 16M; units allowed)"),
    Opt::value(
        "--dedup",
        "MS",
        "how long a forwarded payload is remembered to refuse its copies (default 500; 0: not at all, \
        and only the TTL ends a loop)",
    ),
    Opt::value("--seed", "N", "seed of the decisions (default 1): same seed, same input, same output"),
    vocab::COUNT.help("stop after N datagrams have arrived (then send what is held and queued)"),
    vocab::TIME.help("stop SECS seconds after the start (an overall limit; -t as iperf's)"),
    vocab::IDLE,
    vocab::JSON.help("the report as JSON"),
    vocab::QUIET.help("no \"relaying\" note on standard error"),
];

const USAGE: &str = "mcast relay FROM_GROUP:PORT TO_GROUP:PORT [OPTIONS]";

/// When to stop, besides Ctrl-C.
struct Limits {
    count: Option<u64>,
    deadline: Option<Instant>,
    timeout: Option<Duration>,
}

pub fn run(words: &[String]) -> Result<(), Fail> {
    let Some(m) = args::command_line(words, OPTS, HELP)? else { return Ok(()) };
    let (relay, limits) = build(&m)?;
    let (json, quiet) = (m.flag("--json"), m.flag("--quiet"));
    tools::catch_interrupts()?;
    let report = run_until(relay, &limits, quiet)?;
    Out::new().line(&if json { summary_json(&report) } else { summary_text(&report) })
}

/// Parses the command line into a relay, built (joined and ready), and when to stop.
fn build(m: &Matches) -> Result<(Relay, Limits), Fail> {
    let pos = m.positionals(2, 2, "FROM_GROUP:PORT TO_GROUP:PORT", USAGE)?;
    let from = tools::group(&pos[0])?;
    let to = tools::group(&pos[1])?;
    let out_ifaces = tools::ifaces(m, "--out-iface")?;
    if out_ifaces.len() > 1 {
        return Err(Fail::usage("--out-iface: give one (a datagram leaves by one interface)"));
    }
    let mut b = Relay::builder(from, to).impairments(impairments(m)?, m.int_in("--seed", 0, u64::MAX)?.unwrap_or(1));
    for i in tools::ifaces(m, "--iface")? {
        b = b.in_iface(IfaceSpec::Index(i.index));
    }
    for s in tools::sources(m)? {
        b = b.source(s);
    }
    if let Some(i) = out_ifaces.first() {
        b = b.out_iface(IfaceSpec::Index(i.index));
    }
    if let Some(t) = tools::ttl(m)? {
        b = b.max_ttl(t);
    }
    if let Some(d) = tools::dscp(m)? {
        b = b.dscp(d);
    }
    if let Some(on) = m.last_of("--loop", "--no-loop") {
        b = b.multicast_loop(on);
    }
    b = b.queue(QueueLimits {
        datagrams: m.int_in("--queue", 1, 1 << 20)?.map_or(DEFAULT_QUEUE_DATAGRAMS, |n| n as usize),
        bytes: m.bytes("--queue-bytes", 1, 1 << 32)?.map_or(DEFAULT_QUEUE_BYTES, |n| n as usize),
    });
    if let Some(ms) = millis(m, "--dedup")? {
        b = b.dedup(ms, DEFAULT_DEDUP_CAP);
    }
    let limits = Limits {
        count: m.int_in("--count", 1, u64::MAX)?,
        deadline: m.seconds("--time")?.map(|t| Instant::now() + t),
        timeout: m.seconds("--idle")?,
    };
    Ok((b.build()?, limits))
}

/// --drop, --duplicate, --reorder and --delay.
fn impairments(m: &Matches) -> Result<Impairments, Fail> {
    Ok(Impairments {
        drop: m.parsed::<Probability>("--drop")?.unwrap_or_default(),
        duplicate: m.parsed::<Probability>("--duplicate")?.unwrap_or_default(),
        reorder: m.parsed::<Probability>("--reorder")?.unwrap_or_default(),
        delay: millis(m, "--delay")?.unwrap_or_default(),
    })
}

/// A duration in milliseconds, fractions allowed, at most a minute.
fn millis(m: &Matches, name: &str) -> Result<Option<Duration>, Fail> {
    let Some(v) = m.value(name) else { return Ok(None) };
    let ms = v
        .parse::<f64>()
        .ok()
        .filter(|d| d.is_finite() && (0.0..=60_000.0).contains(d))
        .ok_or_else(|| Fail::usage(format!("{name} {v}: milliseconds, 0..=60000")))?;
    Ok(Some(Duration::from_secs_f64(ms / 1e3)))
}

/// Relays until a limit or Ctrl-C, saying on standard error what happens to the interfaces; then sends
/// what is held and queued.
fn run_until(mut relay: Relay, limits: &Limits, quiet: bool) -> Result<Report, Fail> {
    let (start, mut hinted) = (Instant::now(), false);
    if !quiet {
        let r = relay.report();
        tools::note(&format!("mcast relay: {} -> {} (Ctrl-C stops)", r.from, r.to));
    }
    loop {
        let now = Instant::now();
        let idle_end = limits.timeout.map(|t| relay.last_arrival().max(start) + t);
        if tools::interrupted()
            || limits.count.is_some_and(|c| relay.received() >= c)
            || limits.deadline.is_some_and(|d| now >= d)
            || idle_end.is_some_and(|e| now >= e)
        {
            break;
        }
        let mut wait = tools::until(limits.deadline, now).unwrap_or_default();
        if let Some(e) = idle_end {
            wait = wait.min(e.saturating_duration_since(now));
        }
        notes(relay.poll(wait)?, quiet, &mut hinted);
    }
    let (report, events) = relay.finish()?;
    notes(events, quiet, &mut hinted);
    Ok(report)
}

/// Interface notices on standard error, and once why a datagram with no hop left was not forwarded; the
/// rest is counted in the report.
fn notes(events: Vec<Event>, quiet: bool, hinted: &mut bool) {
    for e in events.into_iter().filter(|_| !quiet) {
        match e {
            Event::Notice(n) => tools::note(&format!("mcast relay: {n}")),
            Event::Refused { source, reason: Refusal::HopsExhausted } if !*hinted => {
                *hinted = true;
                tools::note(&format!(
                    "mcast relay: {source} sent a datagram for its own link only (TTL 1 or less): not forwarded; \
                     a sender that wants to be relayed gives a TTL of 2 or more"
                ));
            }
            _ => {}
        }
    }
}

/// The reasons a relay refuses for, in the report's order.
const REASONS: [Refusal; 4] = [Refusal::WrongGroup, Refusal::HopsExhausted, Refusal::Duplicate, Refusal::QueueFull];

fn summary_json(r: &Report) -> String {
    let refused = REASONS.iter().fold(Json::new(), |j, &why| j.int(why.name(), r.refused.get(why)));
    Json::new()
        .str("type", "summary")
        .group(r.from)
        .str("to_group", &r.to.ip().to_string())
        .int("to_port", r.to.port())
        .int("received", r.received)
        .int("dropped", r.counts.dropped)
        .int("duplicated", r.counts.duplicated)
        .int("reordered", r.counts.reordered)
        .int("sent", r.sent)
        .int("looped", r.looped)
        .int("send_failed", r.send.failed)
        .raw("refused", &refused.finish())
        .int("digests_evicted", r.digests_evicted)
        .int("seed", r.seed)
        .finish()
}

fn summary_text(r: &Report) -> String {
    let c = &r.counts;
    let mut line = format!(
        "relayed {} -> {}: received {}, dropped {}, duplicated {}, reordered {}, sent {} (seed {})",
        r.from, r.to, r.received, c.dropped, c.duplicated, c.reordered, r.sent, r.seed
    );
    if r.refused.total() > 0 {
        let why: Vec<String> = r.refused.iter().map(|(why, n)| format!("{n} {}", why.name())).collect();
        line += &format!("; refused {}", why.join(", "));
    }
    if let Some(f) = tools::failures_text(&r.send) {
        line += &format!("; {f}");
    }
    if r.digests_evicted > 0 {
        line += &format!("; {} digests forgotten early (table full)", r.digests_evicted);
    }
    line
}
