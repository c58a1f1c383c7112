//! `mcast recv` with many groups: ranges and lists (`239.1.1.1-239.1.1.50:5000,[ff15::1]:5000`), several
//! arguments, IPv4 and IPv6 mixed, each optionally source-specific (`--source` after a group applies to it,
//! before any group to all). Joins are spread over as many sockets as the kernel's per-socket limits need
//! ([`mcast::multi::MultiReceiver`]); every interval prints one line with each group's datagrams, bytes and
//! rate, and the end prints a table.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use mcast::multi::{
    add_subscriptions, is_range, parse_group_list, IntervalMeter, MultiReceiver, Subscription, MAX_GROUPS,
};
use mcast::resilient::{LinkFollower, Outage};
use mcast::tally::{Next, StopRule};
use mcast::{ErrorKind, IfaceSpec};

use crate::args::{self, Fail, Opt};
use crate::output::Out;
use crate::recv::outcome;
use crate::recv_groups_print::{interval_line, listening, summary_json, summary_text};
use crate::tools::note;

/// The options of `mcast recv` in this mode: its own, and `--interval`.
const OPTS: &[Opt] = &[
    Opt::value(&["--iface", "-i"], "IFACE"),
    Opt::value(&["--source"], "ADDR"),
    Opt::value(&["--count", "-c"], "N"),
    Opt::value(&["--timeout"], "SECS"),
    Opt::value(&["--rcvbuf"], "BYTES"),
    Opt::value(&["--interval"], "SECS"),
    Opt::flag(&["--quiet", "-q"]),
    Opt::flag(&["--json"]),
];

/// Longest single wait: bounds how late a Ctrl-C or an interval line comes.
const SLICE: Duration = Duration::from_millis(200);

/// Whether these words (after `recv`) ask for more than one group, or for interval lines: then this module
/// serves them.
pub fn wanted(words: &[String]) -> bool {
    let items = scan(words).map(|(items, _)| items).unwrap_or_default();
    let many = items.len() > 1
        || items.first().is_some_and(|(g, _)| {
            parse_group_list(g, None).map(|l| l.len() > 1).unwrap_or(g.contains(',') || is_range(g))
        });
    many || words.iter().any(|w| w == "--interval" || w.starts_with("--interval="))
}

/// The group arguments in order, each with the `--source`s that follow it, and the `--source`s given
/// before any group.
type Items = (Vec<(String, Vec<String>)>, Vec<String>);

fn scan(words: &[String]) -> Option<Items> {
    let mut items: Vec<(String, Vec<String>)> = Vec::new();
    let mut global = Vec::new();
    let mut i = 0;
    while let Some(w) = words.get(i) {
        i += 1;
        if w == "--" {
            items.extend(words.get(i..).unwrap_or_default().iter().map(|g| (g.clone(), Vec::new())));
            break;
        }
        let is_option =
            w.len() > 1 && w.starts_with('-') && !w[1..].starts_with(|c: char| c.is_ascii_digit() || c == '.');
        if !is_option {
            items.push((w.clone(), Vec::new()));
            continue;
        }
        let (name, inline) = match w.split_once('=') {
            Some((n, v)) if w.starts_with("--") => (n, Some(v.to_string())),
            _ => (w.as_str(), None),
        };
        let takes_value = OPTS.iter().find(|o| o.names.contains(&name)).is_some_and(|o| o.value.is_some());
        let value = match (takes_value, inline) {
            (true, Some(v)) => Some(v),
            (true, None) => {
                i += 1;
                Some(words.get(i - 1)?.clone())
            }
            (false, _) => None,
        };
        if name == "--source" {
            let v = value?;
            match items.last_mut() {
                Some((_, sources)) => sources.push(v),
                None => global.push(v),
            }
        }
    }
    Some((items, global))
}

fn parse_source(v: &str) -> Result<IpAddr, Fail> {
    v.parse().map_err(|_| Fail::usage(format!("--source {v}: not an IPv4 or IPv6 address")))
}

/// Every (group, source) the words ask for.
fn subscriptions(words: &[String]) -> Result<Vec<Subscription>, Fail> {
    let (items, global) = scan(words).ok_or_else(|| Fail::usage("--source: missing value (--source ADDR)"))?;
    if items.is_empty() {
        return Err(Fail::usage("missing GROUP:PORT (usage: mcast recv GROUP:PORT[,GROUP:PORT...] [OPTIONS])"));
    }
    let global: Vec<IpAddr> = global.iter().map(|s| parse_source(s)).collect::<Result<_, _>>()?;
    let mut subs = Vec::new();
    for (text, own) in &items {
        let groups = parse_group_list(text, None)?;
        let own: Vec<IpAddr> = own.iter().map(|s| parse_source(s)).collect::<Result<_, _>>()?;
        let sources = if own.is_empty() { &global } else { &own };
        // Each argument is capped by itself; the arguments and their sources together are capped here, before
        // the subscriptions grow.
        add_subscriptions(&mut subs, &groups, sources).map_err(|e| match e.kind() {
            ErrorKind::TooMany => Fail::usage(format!(
                "more than {MAX_GROUPS} groups in all (counting each group once per --source): give fewer"
            )),
            // "source 10.0.0.1 is not of the family of [ff15::1]:5000", of the option that gave it.
            _ => Fail::usage(format!("--{e}")),
        })?;
    }
    Ok(subs)
}

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
    let m = match args::parse(words, OPTS)? {
        args::Parsed::Help => {
            Out::new().text(crate::recv::HELP)?;
            return Ok(None);
        }
        args::Parsed::Run(m) => m,
    };
    let subs = subscriptions(words)?;
    let req = Request {
        count: m.int_in("--count", 1, u64::MAX)?,
        timeout: m.seconds("--timeout")?,
        interval: m.seconds("--interval")?.unwrap_or(Duration::from_secs(1)),
        quiet: m.flag("--quiet"),
        json: m.flag("--json"),
    };
    let rcvbuf = m.int_in("--rcvbuf", 1, i32::MAX as u64)?.map(|n| n as u32);
    let mut builder = MultiReceiver::builder().subscriptions(subs);
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
    mcast::sys::signal::catch_interrupts().map_err(|e| Fail::runtime(format!("sigaction: {e}")))?;
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
        let wait = match rule.next(total, mcast::sys::signal::interrupted(), now) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn many_groups_or_an_interval_select_this_mode() {
        assert!(wanted(&w(&["239.1.1.1-239.1.1.3:5000"])));
        assert!(wanted(&w(&["239.1.1.1:5000,239.1.1.2:5000"])));
        assert!(wanted(&w(&["239.1.1.1:5000", "239.1.1.2:5000", "--iface", "lo"])));
        assert!(wanted(&w(&["239.1.1.1:5000", "--interval", "2"])));
        assert!(!wanted(&w(&["239.1.1.1:5000", "--iface", "lo", "--source", "10.0.0.1"])));
        assert!(!wanted(&w(&["[ff02::1%lo]:5000", "--count", "3"])));
    }

    #[test]
    fn sources_bind_to_the_group_before_them() {
        let subs = subscriptions(&w(&[
            "--source",
            "10.0.0.9",
            "232.1.1.1-232.1.1.2:5000",
            "232.2.2.2:5000",
            "--source",
            "10.0.0.1",
            "--source=10.0.0.2",
            "--iface",
            "lo",
            "239.1.1.1:5000",
        ]))
        .unwrap();
        let pairs: Vec<(String, Option<String>)> =
            subs.iter().map(|s| (s.group.to_string(), s.source.map(|a| a.to_string()))).collect();
        let want = |g: &str, s: &str| (g.to_string(), Some(s.to_string()));
        assert_eq!(
            pairs,
            [
                want("232.1.1.1:5000", "10.0.0.9"),
                want("232.1.1.2:5000", "10.0.0.9"),
                want("232.2.2.2:5000", "10.0.0.1"),
                want("232.2.2.2:5000", "10.0.0.2"),
                want("239.1.1.1:5000", "10.0.0.9"),
            ]
        );
        assert!(matches!(subscriptions(&w(&["239.1.1.1:5000", "--source", "::1"])), Err(Fail::Usage(_))));
        assert!(matches!(subscriptions(&w(&["239.1.1.1:5000", "--source"])), Err(Fail::Usage(_))));
        assert!(matches!(subscriptions(&w(&["--iface", "lo"])), Err(Fail::Usage(_))));
    }
}
