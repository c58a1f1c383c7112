//! How `mcast recv` with many groups writes what it heard: the "listening" note, a line per interval and the
//! table at the end, as text or JSON. The counting is [`mcast::multi`]'s.

use std::time::{Duration, SystemTime};

use mcast::__private::tally::End;
use mcast::multi::{IntervalReport, Member, MultiReceiver};
use mcast::procnet::sysctl_u32;
use mcast::resilient::Outage;

use crate::output::{self, array, plural, Json};
use crate::recv_print::{outage_json, outage_text};

/// "mcast recv: listening on 100 groups over 5 sockets (20, 20, 20, 20, 20 memberships) ...".
pub fn listening(rx: &MultiReceiver) -> String {
    let all = rx.members_per_socket();
    // Only a reader of its port's every group (one_reader) holds no membership: the others hold them for it.
    let readers = all.iter().filter(|&&n| n == 0).count();
    let per: Vec<usize> = all.iter().copied().filter(|&n| n > 0).collect();
    let bound = rx.sockets().any(|s| s.local_addr().is_ok_and(|a| !a.ip().is_unspecified()));
    let limit = match sysctl_u32("net.ipv4.igmp_max_memberships") {
        _ if bound => "; each bound to its group".to_string(),
        Some(n) => format!("; net.ipv4.igmp_max_memberships={n} per socket"),
        None => String::new(),
    };
    // Up to 16 sockets, each one's count; past that the range (a list of thousands says nothing).
    let counts = match (per.iter().min(), per.iter().max()) {
        (Some(lo), Some(hi)) if per.len() > 16 => {
            if lo == hi {
                format!("{lo} each")
            } else {
                format!("{lo} to {hi} each")
            }
        }
        _ => per.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", "),
    };
    let held = match readers {
        0 => format!("{counts} memberships"),
        n => format!("{n} reading every group with no membership, {counts} memberships held by the others"),
    };
    format!(
        "mcast recv: listening on {} group{} over {} socket{} ({held}{limit}), Ctrl-C stops",
        rx.members().len(),
        plural(rx.members().len() as u64),
        all.len(),
        plural(all.len() as u64),
    )
}

/// How a member is named: `239.1.1.1:5000`, `(10.0.0.1, 232.1.1.1):5000`, with `on eth0` when joined on a
/// named interface.
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

pub fn rate_text(bits: f64) -> String {
    match bits {
        b if b >= 1e9 => format!("{:.2} Gbit/s", b / 1e9),
        b if b >= 1e6 => format!("{:.2} Mbit/s", b / 1e6),
        b if b >= 1e3 => format!("{:.1} kbit/s", b / 1e3),
        b => format!("{b:.0} bit/s"),
    }
}

/// One interval's line: totals, then each group's datagrams, bytes and rate.
pub fn interval_line(rx: &MultiReceiver, report: &IntervalReport, json: bool) -> String {
    let members = rx.members();
    let (dgrams, bytes) = (report.datagrams(), report.bytes());
    // Only the groups heard in the interval are listed; the silent ones are counted.
    let rows = report.rows.iter().filter(|r| r.datagrams > 0).filter_map(|r| Some((members.get(r.member)?, r)));
    let silent = report.rows.len() - report.heard();
    if json {
        let groups = rows.map(|(m, r)| {
            member_json(m)
                .int("datagrams", r.datagrams)
                .int("bytes", r.bytes)
                .float("pps", r.rate.datagrams_per_sec)
                .float("bps", r.rate.bits_per_sec)
                .int("total_datagrams", m.counters.datagrams)
                .int("total_bytes", m.counters.bytes)
                .finish()
        });
        return Json::new()
            .str("type", "interval")
            .float("time", output::unix_seconds(SystemTime::now()))
            .float("interval", report.elapsed.as_secs_f64())
            .int("datagrams", dgrams)
            .int("bytes", bytes)
            .raw("groups", &array(groups))
            .int("silent", silent as u64)
            .finish();
    }
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    let mut s = format!(
        "{}  {dgrams} datagrams ({:.1}/s, {}), {} of {} groups heard",
        output::time_of_day(SystemTime::now()),
        dgrams as f64 / secs,
        rate_text(bytes as f64 * 8.0 / secs),
        report.heard(),
        report.rows.len()
    );
    for (m, r) in rows {
        s.push_str(&format!(" | {} {}/{}B {:.1}/s", label(m), r.datagrams, r.bytes, r.rate.datagrams_per_sec));
    }
    if silent > 0 {
        s.push_str(&format!(" | {silent} silent"));
    }
    s
}

fn member_json(m: &Member) -> Json {
    let g = m.group();
    Json::new()
        .group(g)
        .opt_str("source", m.subscription.source.map(|s| s.to_string()).as_deref())
        .opt_str("iface", m.iface.as_ref().map(|i| i.name.as_str()))
        .int("socket", m.socket as u64)
}

/// The table at the end: one row per group, then each outage.
pub fn summary_text(rx: &MultiReceiver, elapsed: Duration, outages: &[Outage]) -> String {
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
        s.push_str(&format!("\n    outage: {}", outage_text(o)));
    }
    s
}

pub fn summary_json(rx: &MultiReceiver, elapsed: Duration, end: End, outages: &[Outage]) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let members = rx.members();
    let groups = members.iter().map(|m| {
        let c = &m.counters;
        member_json(m)
            .int("datagrams", c.datagrams)
            .int("bytes", c.bytes)
            .int("truncated_datagrams", c.truncated)
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
        .raw("outages", &array(outages.iter().map(outage_json)))
        .finish()
}
