//! `mcast recv` with many groups: ranges and lists (`239.1.1.1-239.1.1.50:5000,[ff15::1]:5000`), several
//! arguments, IPv4 and IPv6 mixed, each optionally source-specific (`--source` after a group applies to it,
//! before any group to all). Joins are spread over as many sockets as the kernel's per-socket limits need
//! ([`mcast::multi::MultiReceiver`]); every interval prints one line with each group's datagrams, bytes and
//! rate, and the end prints a table.

use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use mcast::multi::{is_range, parse_group_list, Counters, Member, MultiReceiver, Subscription, MAX_GROUPS};
use mcast::procnet::sysctl_u32;
use mcast::resilient::{LinkFollower, Outage};
use mcast::IfaceSpec;

use crate::args::{self, Fail, Opt};
use crate::output::{self, array, plural, Json, Out};
use crate::recv::{eprintln_note, outcome, End};

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
        let more = (groups.len() as u64).saturating_mul(sources.len().max(1) as u64);
        if (subs.len() as u64).saturating_add(more) > MAX_GROUPS {
            return Err(Fail::usage(format!(
                "more than {MAX_GROUPS} groups in all (counting each group once per --source): give fewer"
            )));
        }
        for g in groups {
            if sources.is_empty() {
                subs.push(Subscription { group: g, source: None });
            }
            for s in sources {
                if s.is_ipv4() != g.ip().is_ipv4() {
                    return Err(Fail::usage(format!("--source {s} is not of the family of {g}")));
                }
                subs.push(Subscription { group: g, source: Some(*s) });
            }
        }
    }
    Ok(subs)
}

pub fn run(words: &[String]) -> Result<(), Fail> {
    let m = match args::parse(words, OPTS)? {
        args::Parsed::Help => return Out::new().text(crate::recv::HELP),
        args::Parsed::Run(m) => m,
    };
    let subs = subscriptions(words)?;
    let count = m.int_in("--count", 1, u64::MAX)?;
    let timeout = m.seconds("--timeout")?;
    let interval = m.seconds("--interval")?.unwrap_or(Duration::from_secs(1));
    let rcvbuf = m.int_in("--rcvbuf", 1, i32::MAX as u64)?.map(|n| n as u32);
    let (quiet, json) = (m.flag("--quiet"), m.flag("--json"));
    let mut builder = MultiReceiver::builder().subscriptions(subs);
    for v in m.values("--iface") {
        builder = builder.interface(v.parse::<IfaceSpec>().map_err(|e| Fail::usage(format!("--iface {v}: {e}")))?);
    }
    if let Some(b) = rcvbuf {
        builder = builder.recv_buffer(b);
    }
    let mut rx = builder.build()?;
    if let Some(bytes) = rcvbuf {
        // Read back what the kernel granted, and say so once when it clamped the size.
        let granted: Vec<_> = rx.sockets().map(|s| s.request_recv_buffer(bytes)).collect::<Result<_, _>>()?;
        if let Some(b) = granted.iter().find(|b| b.clamped()) {
            eprintln_note(&format!("mcast recv: {b}"));
        }
    }
    // Rejoins after an interface flaps or is made again, and records each outage (mcast::resilient).
    let mut follower = LinkFollower::new(&mut rx);
    mcast::sys::signal::catch_interrupts().map_err(|e| Fail::runtime(format!("sigaction: {e}")))?;
    if !quiet {
        eprintln_note(&listening(&rx));
    }

    let start = Instant::now();
    let deadline = timeout.map(|t| start + t);
    let mut next_line = start + interval;
    let mut last = (start, rx.snapshot());
    let mut out = Out::new();
    let mut buf = vec![0u8; 65_535];
    let mut total = 0u64;
    let end = loop {
        if count.is_some_and(|c| total >= c) {
            break End::Count;
        }
        if mcast::sys::signal::interrupted() {
            break End::Interrupted;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break End::Timeout;
        }
        if !interval.is_zero() && now >= next_line {
            if !quiet {
                out.line(&interval_line(&rx, &last.1, now - last.0, json))?;
            }
            last = (now, rx.snapshot());
            next_line = (next_line + interval).max(now);
        }
        let mut wait = SLICE;
        if let Some(d) = deadline {
            wait = wait.min(d.saturating_duration_since(now));
        }
        if !interval.is_zero() {
            wait = wait.min(next_line.saturating_duration_since(now));
        }
        if let Some(a) = rx.recv_timeout(&mut buf, follower.wait_limit(wait))? {
            total += u64::from(a.member.is_some());
            follower.observe(buf.get(..a.meta.len).unwrap_or_default(), Instant::now());
        }
        follower.service(&mut rx);
        for n in follower.take_notices() {
            if !quiet {
                eprintln_note(&format!("mcast recv: {n}"));
            }
        }
    };
    let outages: Vec<Outage> = follower.outages().cloned().collect();
    let elapsed = start.elapsed();
    if json {
        out.line(&summary_json(&rx, elapsed, end, &outages))?;
    } else {
        out.text(&summary_text(&rx, elapsed, &outages))?;
    }
    outcome(end, count, total, elapsed)
}

/// "mcast recv: listening on 100 groups over 5 sockets (20, 20, 20, 20, 20 memberships) ...".
fn listening(rx: &MultiReceiver) -> String {
    let per = rx.members_per_socket();
    let limit = sysctl_u32("net.ipv4.igmp_max_memberships")
        .map_or(String::new(), |n| format!("; net.ipv4.igmp_max_memberships={n} per socket"));
    format!(
        "mcast recv: listening on {} group{} over {} socket{} ({} memberships{limit}), Ctrl-C stops",
        rx.members().len(),
        plural(rx.members().len() as u64),
        per.len(),
        plural(per.len() as u64),
        per.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
    )
}

/// How a member is named: `239.1.1.1:5000`, `(10.0.0.1, 232.1.1.1):5000`, with `%eth0` when joined on a
/// named interface and there are several.
fn label(m: &Member) -> String {
    let g = m.group();
    let base = match m.subscription.source {
        Some(s) => format!("({s}, {}):{}", g.ip(), g.port()),
        None => g.to_string(),
    };
    match &m.iface {
        Some(i) => format!("{base} on {}", i.name),
        None => base,
    }
}

fn rate_text(bits: f64) -> String {
    match bits {
        b if b >= 1e9 => format!("{:.2} Gbit/s", b / 1e9),
        b if b >= 1e6 => format!("{:.2} Mbit/s", b / 1e6),
        b if b >= 1e3 => format!("{:.1} kbit/s", b / 1e3),
        b => format!("{b:.0} bit/s"),
    }
}

fn interval_line(rx: &MultiReceiver, before: &[Counters], dt: Duration, json: bool) -> String {
    let rows: Vec<(&Member, u64, u64, mcast::multi::Rate)> = rx
        .members()
        .iter()
        .zip(before)
        .map(|(m, b)| {
            let r = m.counters.rate_since(b, dt);
            (m, m.counters.datagrams - b.datagrams, m.counters.bytes - b.bytes, r)
        })
        .collect();
    let dgrams: u64 = rows.iter().map(|r| r.1).sum();
    let bytes: u64 = rows.iter().map(|r| r.2).sum();
    let secs = dt.as_secs_f64().max(1e-9);
    if json {
        let groups = rows.iter().map(|(m, d, b, r)| {
            member_json(m)
                .int("datagrams", *d)
                .int("bytes", *b)
                .float("pps", r.datagrams_per_sec)
                .float("bps", r.bits_per_sec)
                .int("total_datagrams", m.counters.datagrams)
                .int("total_bytes", m.counters.bytes)
                .finish()
        });
        return Json::new()
            .str("type", "interval")
            .float("time", output::unix_seconds(SystemTime::now()))
            .float("seconds", dt.as_secs_f64())
            .int("datagrams", dgrams)
            .int("bytes", bytes)
            .raw("groups", &array(groups))
            .finish();
    }
    let heard = rows.iter().filter(|r| r.1 > 0).count();
    let mut s = format!(
        "{}  {dgrams} datagrams ({:.1}/s, {}), {heard} of {} groups heard",
        output::time_of_day(SystemTime::now()),
        dgrams as f64 / secs,
        rate_text(bytes as f64 * 8.0 / secs),
        rows.len()
    );
    for (m, d, b, r) in &rows {
        s.push_str(&format!(" | {} {d}/{b}B {:.1}/s", label(m), r.datagrams_per_sec));
    }
    s
}

fn member_json(m: &Member) -> Json {
    let g = m.group();
    Json::new()
        .str("group", &g.ip().to_string())
        .int("port", g.port())
        .opt_str("source", m.subscription.source.map(|s| s.to_string()).as_deref())
        .opt_str("iface", m.iface.as_ref().map(|i| i.name.as_str()))
        .int("socket", m.socket as u64)
}

fn summary_text(rx: &MultiReceiver, elapsed: Duration, outages: &[Outage]) -> String {
    let members = rx.members();
    let dgrams: u64 = members.iter().map(|m| m.counters.datagrams).sum();
    let bytes: u64 = members.iter().map(|m| m.counters.bytes).sum();
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mut s = format!(
        "--- {} group{} on {} socket{}: {dgrams} datagram{}, {bytes} bytes in {:.3} s",
        members.len(),
        plural(members.len() as u64),
        rx.fds().len(),
        plural(rx.fds().len() as u64),
        plural(dgrams),
        elapsed.as_secs_f64()
    );
    if rx.kernel_drops() > 0 {
        s.push_str(&format!(", {} dropped by the kernel (receive buffer full)", rx.kernel_drops()));
    }
    if rx.strays() > 0 {
        s.push_str(&format!(", {} for no group joined (unicast to the port?)", rx.strays()));
    }
    let mut rows = vec![["GROUP".to_string(), "DATAGRAMS".into(), "BYTES".into(), "RATE".into(), "TRUNCATED".into()]];
    for m in members {
        let c = &m.counters;
        rows.push([
            label(m),
            c.datagrams.to_string(),
            c.bytes.to_string(),
            format!("{:.1}/s {}", c.datagrams as f64 / secs, rate_text(c.bytes as f64 * 8.0 / secs)),
            c.truncated.to_string(),
        ]);
    }
    let mut widths = [0usize; 5];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    for row in &rows {
        let line: Vec<String> = row.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        s.push('\n');
        s.push_str(line.join("  ").trim_end());
    }
    for o in outages {
        s.push_str(&format!("\n    outage: {}", crate::recv::outage_text(o)));
    }
    s
}

fn summary_json(rx: &MultiReceiver, elapsed: Duration, end: End, outages: &[Outage]) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let members = rx.members();
    let groups = members.iter().map(|m| {
        let c = &m.counters;
        member_json(m)
            .int("datagrams", c.datagrams)
            .int("bytes", c.bytes)
            .int("truncated", c.truncated)
            .float("pps", c.datagrams as f64 / secs)
            .float("bps", c.bytes as f64 * 8.0 / secs)
            .finish()
    });
    Json::new()
        .str("type", "summary")
        .int("datagrams", members.iter().map(|m| m.counters.datagrams).sum::<u64>())
        .int("bytes", members.iter().map(|m| m.counters.bytes).sum::<u64>())
        .int("sockets", rx.fds().len() as u64)
        .raw("members_per_socket", &array(rx.members_per_socket().iter().map(|n| n.to_string())))
        .int("strays", rx.strays())
        .int("drops", rx.kernel_drops())
        .float("elapsed", elapsed.as_secs_f64())
        .str("end", end.name())
        .raw("groups", &array(groups))
        .raw("outages", &array(outages.iter().map(crate::recv::outage_json)))
        .finish()
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
