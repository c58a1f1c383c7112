//! `mcast responder GROUP:PORT --name NAME`: answer `mcast discover` queries by unicast with a name and the
//! address of the interface the query came in on.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use mcast::resilient::ResilientReceiver;
use mcast::sendretry::SendStats;
use mcast::wire::proto::{self, Answer, Kind};
use mcast::{Family, Interface};

use crate::args::{self, Fail, Opt};
use crate::output::{self, Json, Out};
use crate::recv::{outage_json, outage_text};
use crate::tools;

pub const SUMMARY: &str = "answer discover queries on a group with a name, by unicast";

pub const HELP: &str = r#"mcast responder: answer `mcast discover` queries with a name

Usage: mcast responder GROUP:PORT [--name NAME] [OPTIONS]

Joins GROUP on PORT and answers each discover query by unicast to the querier, with NAME and the
address of the interface the query arrived on. The query's TTL (hop limit) is echoed, so the querier
knows the ring at which it found this responder.

When an interface it joined on goes down and up, or is deleted and made again under the same name, it
joins again (saying so on standard error) and keeps answering, with the interface's address as it is
now; the summary lists each outage: the interface, what happened, when and for how long.

Options:
  --name NAME          the name to answer with, at most 255 bytes (default: the host name)
  --iface IFACE        join on this interface (name, index or address); repeat for several
  --count N, -c N      exit after answering N queries
  --timeout SECS       exit after SECS seconds
  --json               one JSON object per line instead of text
  --quiet, -q          no line per query

Exit status: 0 at the end (--count, --timeout); 1 runtime error; 2 bad arguments; 130 at Ctrl-C (SIGINT),
143 at SIGTERM.

Example:
  mcast responder 239.255.0.9:4000 --name printer-3 --iface eth0
"#;

const OPTS: &[Opt] = &[
    Opt::value(&["--name"], "NAME"),
    Opt::value(&["--iface"], "IFACE"),
    Opt::value(&["--count", "-c"], "N"),
    Opt::value(&["--timeout"], "SECS"),
    Opt::flag(&["--json"]),
    Opt::flag(&["--quiet", "-q"]),
];

const USAGE: &str = "mcast responder GROUP:PORT [--name NAME] [OPTIONS]";

pub fn run(words: &[String]) -> Result<(), Fail> {
    let Some(m) = args::command_line(words, OPTS, HELP)? else { return Ok(()) };
    let pos = m.positionals(1, 1, "GROUP:PORT", USAGE)?;
    let group = tools::group(&pos[0])?;
    let name = match m.values("--name").last() {
        Some(n) => n.to_string(),
        None => std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default(),
    };
    if name.is_empty() || name.len() > proto::MAX_NAME {
        return Err(Fail::usage(format!("--name '{name}': give 1 to {} bytes", proto::MAX_NAME)));
    }
    let ifaces = tools::ifaces(&m, "--iface")?;
    let count = m.int_in("--count", 1, u64::MAX)?;
    let timeout = m.seconds("--timeout")?;
    let (json, quiet) = (m.flag("--json"), m.flag("--quiet"));
    // Rejoins after an interface flaps or is made again (mcast::resilient).
    let mut rx = ResilientReceiver::new(tools::member(group, &ifaces, &[], None)?)?;
    tools::catch_interrupts()?;
    if !quiet {
        tools::note(&format!("mcast responder: answering discover queries on {group} as '{name}' (Ctrl-C stops)"));
    }
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut out = Out::new();
    let mut buf = vec![0u8; 65_536];
    let mut reply = vec![0u8; proto::HEADER_LEN + proto::MAX_NAME + 18];
    let mut answered = 0u64;
    let mut failures = SendStats::default();
    while !count.is_some_and(|n| answered >= n) && !tools::interrupted() {
        let Some(wait) = tools::until(deadline, Instant::now()) else { break };
        let got = rx.recv_timeout(&mut buf, wait.min(Duration::from_millis(200)))?;
        for n in rx.take_notices() {
            if !quiet {
                tools::note(&format!("mcast responder: {n}"));
            }
        }
        let Some(meta) = got else { continue };
        let Ok((q, _)) = proto::decode(&buf[..meta.len]) else { continue };
        if q.kind != Kind::DiscoverQuery {
            continue;
        }
        // By the index the query came in on, so a re-created interface answers with its address now.
        let addr = meta.ifindex.and_then(|i| Interface::by_index(i).ok()).and_then(|i| address_of(&i, group.ip()));
        let body = Answer { name: name.clone(), addr }.to_bytes().map_err(Fail::runtime)?;
        let len = proto::encode(Kind::DiscoverAnswer, q.session, q.seq, q.send_time_ns, &body, &mut reply)
            .map_err(Fail::runtime)?;
        let sock = rx.socket();
        tools::send_counted(&mut failures, || sock.send_to(&reply[..len], meta.source))?;
        answered += 1;
        if quiet {
            continue;
        }
        let line = if json {
            Json::new()
                .str("type", "query")
                .str("from", &meta.source.to_string())
                .int("ttl_sent", q.seq)
                .opt_int("ttl", meta.ttl)
                .opt_str("addr", addr.map(|a| a.to_string()).as_deref())
                .finish()
        } else {
            format!("query from {} (sent with TTL {}), answered", meta.source, q.seq)
        };
        out.line(&line)?;
    }
    let line = if json {
        Json::new()
            .str("type", "summary")
            .str("name", &name)
            .int("answered", answered)
            .int("send_failed", failures.failed)
            .raw("outages", &output::array(rx.outages().map(outage_json)))
            .finish()
    } else {
        let fails = tools::failures_text(&failures).map_or(String::new(), |f| format!("; {f}"));
        let outages: String = rx.outages().map(|o| format!("\n    outage: {}", outage_text(o))).collect();
        format!("answered {answered} quer{}{fails}{outages}", if answered == 1 { "y" } else { "ies" })
    };
    out.text(&line)
}

/// The interface's address in the group's family: IPv4's first, or for IPv6 a global address before a
/// link-local one.
fn address_of(i: &Interface, group: IpAddr) -> Option<IpAddr> {
    match Family::of(group) {
        Family::V4 => i.first_ipv4().map(IpAddr::V4),
        Family::V6 => {
            let global = i.ipv6.iter().find(|a| a.segments()[0] & 0xffc0 != 0xfe80);
            global.or(i.ipv6.first()).copied().map(IpAddr::V6)
        }
    }
}
