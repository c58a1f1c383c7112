//! `mcast recv` with many groups: ranges and lists (`239.1.1.1-239.1.1.50:5000,[ff15::1]:5000`), several
//! arguments, IPv4 and IPv6 mixed, each optionally source-specific (`--source` after a group applies to it,
//! before any group to all). Joins are spread over as many sockets as the kernel's per-socket limits need
//! ([`mcast::multi::MultiReceiver`]); every interval prints one line with each group's datagrams, bytes and
//! rate, and the end prints a table.

use std::time::{Duration, Instant};

use mcast::__private::tally::{Next, StopRule};
use mcast::multi::{IntervalMeter, MultiReceiver};
use mcast::resilient::{LinkFollower, Outage};
use mcast::IfaceSpec;

use crate::args::{self, Fail};
use crate::output::Out;
use crate::recv::outcome;
use crate::recv_groups_print::{interval_line, listening, summary_json, summary_text};
use crate::recv_words::subscriptions;
pub use crate::recv_words::wanted;
use crate::tools::note;

/// Longest single wait: bounds how late a Ctrl-C or an interval line comes.
const SLICE: Duration = Duration::from_millis(200);

/// What the command line asks, besides the groups.
struct Request {
    count: Option<u64>,
    timeout: Option<Duration>,
    interval: Duration,
    quiet: bool,
    json: bool,
}

/// The receiver the words ask for, with the clamped buffer noted once; `None` for --help.
fn request(words: &[String]) -> Result<Option<(MultiReceiver, Request)>, Fail> {
    let Some(m) = args::command_line(words, crate::recv::OPTS, crate::recv::HELP)? else { return Ok(None) };
    if m.flag("--raw") {
        return Err(Fail::usage("--raw takes one group (and no --interval)"));
    }
    let subs = subscriptions(words)?;
    let req = Request {
        count: m.int_in("--count", 1, u64::MAX)?,
        timeout: m.seconds("--time")?,
        interval: m.seconds("--interval")?.unwrap_or(Duration::from_secs(1)),
        quiet: m.flag("--quiet"),
        json: m.flag("--json"),
    };
    let rcvbuf = m.bytes("--rcvbuf", 1, i32::MAX as u64)?.map(|n| n as u32);
    if m.flag("--bind-group") && m.flag("--one-reader") {
        return Err(Fail::usage("--bind-group and --one-reader are two layouts for many groups: give one"));
    }
    let mut builder = MultiReceiver::builder()
        .subscriptions(subs)
        .bind_groups(m.flag("--bind-group"))
        .one_reader(m.flag("--one-reader"));
    for v in m.values("--iface") {
        builder = builder.interface(v.parse::<IfaceSpec>().map_err(|e| Fail::usage(format!("--iface {v}: {e}")))?);
    }
    if let Some(b) = rcvbuf {
        builder = builder.recv_buffer(b);
    }
    let rx = builder.build()?;
    if let Some(bytes) = rcvbuf {
        // Read back what the kernel granted, and say so once when it clamped the size.
        let granted: Vec<_> = rx.sockets().map(|s| s.request_recv_buffer(bytes)).collect::<Result<_, _>>()?;
        if let Some(b) = granted.iter().find(|b| b.clamped()) {
            note(&format!("mcast recv: {b}"));
        }
    }
    Ok(Some((rx, req)))
}

pub fn run(words: &[String]) -> Result<(), Fail> {
    let Some((mut rx, req)) = request(words)? else { return Ok(()) };
    // Rejoins after an interface flaps or is made again, and records each outage (mcast::resilient).
    let mut follower = LinkFollower::new(&mut rx);
    mcast::__private::signal::catch_interrupts().map_err(|e| Fail::runtime(format!("sigaction: {e}")))?;
    if !req.quiet {
        note(&listening(&rx));
    }

    let start = Instant::now();
    let rule = StopRule::new(start, req.count, req.timeout, SLICE);
    let mut meter = IntervalMeter::new(req.interval, start, rx.members());
    let mut out = Out::new();
    let mut buf = vec![0u8; 65_535];
    let mut total = 0u64;
    let end = loop {
        let now = Instant::now();
        let wait = match rule.next(total, mcast::__private::signal::interrupted(), now) {
            Next::Wait(w) => w,
            Next::Stop(end) => break end,
        };
        if meter.due(now) {
            let report = meter.take(rx.members(), now);
            if !req.quiet {
                out.line(&interval_line(&rx, &report, req.json))?;
            }
        }
        if let Some(a) = rx.recv_timeout(&mut buf, follower.wait_limit(meter.wait_limit(wait, now)))? {
            total += u64::from(a.member.is_some());
            follower.observe(buf.get(..a.meta.len).unwrap_or_default(), Instant::now());
        }
        follower.service(&mut rx);
        for n in follower.take_notices() {
            if !req.quiet {
                note(&format!("mcast recv: {n}"));
            }
        }
    };
    let outages: Vec<Outage> = follower.outages().cloned().collect();
    let elapsed = start.elapsed();
    if req.json {
        out.line(&summary_json(&rx, elapsed, end, &outages))?;
    } else {
        out.text(&summary_text(&rx, elapsed, &outages))?;
    }
    outcome(&rule, end, total, elapsed)
}
