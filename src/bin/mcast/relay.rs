//! `mcast relay FROM_GROUP:PORT TO_GROUP:PORT`: forward every datagram of one group (and interface) to
//! another, IPv4 and IPv6 in any combination, optionally impaired (drop, duplicate, reorder, delay)
//! deterministically from a seed, and report exactly what was done.

use std::time::{Duration, Instant};

use mcast::relay::{Engine, Impairments, Probability};
use mcast::resilient::ResilientReceiver;
use mcast::sendretry::SendStats;
use mcast::{IfaceSpec, Sender};

use crate::args::{self, Fail, Opt};
use crate::output::{Json, Out};
use crate::tools;

pub const SUMMARY: &str = "forward a group to another group or interface (v4<->v6), optionally impaired";

pub const HELP: &str = r#"mcast relay: forward one group to another, and impair the traffic on demand

Usage: mcast relay FROM_GROUP:PORT TO_GROUP:PORT [OPTIONS]

Joins FROM on --in-iface and sends every datagram that arrives to TO from --out-iface, with its own
TTL; either side may be IPv4 or IPv6. Like the relays that carry mDNS or SSDP between segments, and a
test tool: it can drop, duplicate, hold back (reorder) and delay what it forwards, each decision fixed
by --seed, and it reports exactly how many it dropped, duplicated and reordered, so a receiver's
counts can be checked against the truth. Datagrams the relay itself sent (looped back to it) are
never forwarded again.

Options:
  --in-iface IFACE     join FROM on this interface (repeatable; default: the routing table's)
  --source ADDR        source-specific join on the FROM side (repeatable)
  --out-iface IFACE    send TO from this interface
  --ttl N              TTL / hop limit on the TO side, 0..=255 (default 1)
  --loop, --no-loop    whether this host's members of TO get a copy (default on)
  --drop P             drop each datagram with probability P (0.05 or 5%)
  --duplicate P        send each datagram twice with probability P
  --reorder P          hold a datagram back with probability P and send it right after the next one
  --delay MS           hold every forwarded datagram MS milliseconds (fractions allowed)
  --seed N             seed of the decisions (default 1): same seed, same input, same output
  --count N, -c N      stop after N datagrams have arrived (then send what is held and queued)
  --time SECS          stop after SECS seconds
  --timeout SECS       stop after SECS seconds with nothing arriving (before the first one too)
  --json               the report as JSON
  --quiet, -q          no "relaying" note on standard error

Report: received, dropped, duplicated, reordered (datagrams sent after a newer one), sent.

Exit status: 0 at the end; 1 runtime error; 2 bad arguments; 130 at Ctrl-C (SIGINT), 143 at SIGTERM, after
the summary.

Examples:
  mcast relay 224.0.0.251:5353 224.0.0.251:5353 --in-iface eth0 --out-iface eth1 --ttl 255
  mcast relay 239.1.1.1:5000 '[ff15::1]:5000' --out-iface eth1
  mcast relay 239.1.1.1:5000 239.1.1.2:5000 --drop 10% --reorder 5% --seed 7 --count 1000 --json
"#;

const OPTS: &[Opt] = &[
    Opt::value(&["--in-iface"], "IFACE"),
    Opt::value(&["--source"], "ADDR"),
    Opt::value(&["--out-iface"], "IFACE"),
    Opt::value(&["--ttl", "--hops"], "N"),
    Opt::flag(&["--loop"]),
    Opt::flag(&["--no-loop"]),
    Opt::value(&["--drop"], "P"),
    Opt::value(&["--duplicate"], "P"),
    Opt::value(&["--reorder"], "P"),
    Opt::value(&["--delay"], "MS"),
    Opt::value(&["--seed"], "N"),
    Opt::value(&["--count", "-c"], "N"),
    Opt::value(&["--time"], "SECS"),
    Opt::value(&["--timeout"], "SECS"),
    Opt::flag(&["--json"]),
    Opt::flag(&["--quiet", "-q"]),
];

const USAGE: &str = "mcast relay FROM_GROUP:PORT TO_GROUP:PORT [OPTIONS]";

pub fn run(words: &[String]) -> Result<(), Fail> {
    let Some(m) = args::command_line(words, OPTS, HELP)? else { return Ok(()) };
    let pos = m.positionals(2, 2, "FROM_GROUP:PORT TO_GROUP:PORT", USAGE)?;
    let from = tools::group(&pos[0])?;
    let to = tools::group(&pos[1])?;
    let in_ifaces = tools::ifaces(&m, "--in-iface")?;
    let out_ifaces = tools::ifaces(&m, "--out-iface")?;
    if out_ifaces.len() > 1 {
        return Err(Fail::usage("--out-iface: give one (a datagram leaves by one interface)"));
    }
    let sources = tools::sources(&m)?;
    let delay_ms: f64 = match m.values("--delay").last() {
        None => 0.0,
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|d| d.is_finite() && (0.0..=60_000.0).contains(d))
            .ok_or_else(|| Fail::usage(format!("--delay {v}: milliseconds, 0..=60000")))?,
    };
    let imp = Impairments {
        drop: m.parsed::<Probability>("--drop")?.unwrap_or_default(),
        duplicate: m.parsed::<Probability>("--duplicate")?.unwrap_or_default(),
        reorder: m.parsed::<Probability>("--reorder")?.unwrap_or_default(),
        delay: Duration::from_secs_f64(delay_ms / 1e3),
    };
    let seed = m.int_in("--seed", 0, u64::MAX)?.unwrap_or(1);
    let count = m.int_in("--count", 1, u64::MAX)?;
    let time = m.seconds("--time")?;
    let timeout = m.seconds("--timeout")?;
    let (json, quiet) = (m.flag("--json"), m.flag("--quiet"));

    // Rejoins after an interface flaps or is made again (mcast::resilient), saying so on standard error.
    let mut rx = ResilientReceiver::new(tools::member(from, &in_ifaces, &sources, Some(8 << 20))?)?;
    let mut b = Sender::builder(to);
    if let Some(t) = tools::ttl(&m)? {
        b = b.ttl(t);
    }
    if let Some(on) = m.last_of("--loop", "--no-loop") {
        b = b.multicast_loop(on);
    }
    if let Some(i) = out_ifaces.first() {
        b = b.interface(IfaceSpec::Index(i.index));
    }
    let tx = b.build()?;
    // Connecting fixes the source address and port the kernel gives what we send, so a copy that loops back
    // to our own FROM membership (same group, or TO joined here) can be recognised and not sent again.
    tx.socket().connect(to.socket_addr())?;
    let own = tx.socket().local_addr()?;
    tools::catch_interrupts()?;
    if !quiet {
        tools::note(&format!("mcast relay: {from} -> {to} (Ctrl-C stops)"));
    }

    let mut engine = Engine::new(imp, seed);
    let mut buf = vec![0u8; 65_536];
    let start = Instant::now();
    let deadline = time.map(|t| start + t);
    let mut last_arrival = start;
    let mut looped = 0u64;
    // A forward that cannot leave (the out interface is gone) is counted; the relay carries on.
    let mut failures = SendStats::default();
    loop {
        let now = Instant::now();
        while let Some(d) = engine.pop_due(now) {
            tools::send_counted(&mut failures, || tx.send(&d))?;
        }
        if tools::interrupted()
            || count.is_some_and(|c| engine.counts().received >= c)
            || deadline.is_some_and(|d| now >= d)
            || timeout.is_some_and(|t| now >= last_arrival + t)
        {
            break;
        }
        let mut wait = tools::until(deadline, now).unwrap_or_default();
        if let Some(due) = engine.next_due() {
            wait = wait.min(due.saturating_duration_since(now));
        }
        if let Some(t) = timeout {
            wait = wait.min((last_arrival + t).saturating_duration_since(now));
        }
        let got = rx.recv_timeout(&mut buf, wait)?;
        for n in rx.take_notices() {
            if !quiet {
                tools::note(&format!("mcast relay: {n}"));
            }
        }
        let Some(meta) = got else { continue };
        if meta.source == own {
            looped += 1;
            continue;
        }
        last_arrival = Instant::now();
        engine.push(buf[..meta.len].to_vec(), last_arrival);
    }
    // Whatever is held or waiting goes out now: nothing newer follows it, so a held one is not reordered.
    engine.flush(Instant::now());
    while let Some(d) = engine.pop_due(Instant::now()) {
        tools::send_counted(&mut failures, || tx.send(&d))?;
    }
    let c = engine.counts();
    let line = if json {
        Json::new()
            .str("type", "summary")
            .str("from", &from.to_string())
            .str("to", &to.to_string())
            .int("received", c.received)
            .int("dropped", c.dropped)
            .int("duplicated", c.duplicated)
            .int("reordered", c.reordered)
            .int("sent", c.sent)
            .int("looped", looped)
            .int("send_failed", failures.failed)
            .int("seed", seed)
            .finish()
    } else {
        let fails = tools::failures_text(&failures).map_or(String::new(), |f| format!("; {f}"));
        format!(
            "relayed {from} -> {to}: received {}, dropped {}, duplicated {}, reordered {}, sent {} (seed {seed}){fails}",
            c.received, c.dropped, c.duplicated, c.reordered, c.sent
        )
    };
    Out::new().line(&line)
}
