//! `mcast discover GROUP:PORT`: the expanding-ring search of the Multicast HOWTO. Send a query with TTL 0,
//! then 1, 2, 4, 8 ... up to `--max-ttl`, wait a bounded time at each ring, and report every responder with
//! the ring at which it first answered.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use mcast::sendretry::SendStats;
use mcast::wire::proto::{self, Answer, Kind};
use mcast::{Family, Group, Interface, McastSocket};

use crate::args::{self, Fail, Opt};
use crate::output::{Json, Out};
use crate::tools;

pub const SUMMARY: &str = "find responders by expanding-ring search (TTL 0, 1, 2, 4 ...)";

pub const HELP: &str = r#"mcast discover: find responders by expanding-ring search

Usage: mcast discover GROUP:PORT [OPTIONS]

Sends a query to GROUP with TTL (hop limit) 0, waits --wait for answers, then 1, 2, 4, 8 ... up to
--max-ttl, as the Multicast HOWTO describes: TTL 0 reaches this host only, 1 this link, each ring a
router further. Responders (`mcast responder`) answer by unicast with their name and address. Stops
after the first ring that brought an answer, unless --all.

Options:
  --max-ttl N          the widest ring, 0..=255 (default 32)
  --wait SECS          how long to wait for answers at each ring (default 0.5)
  --all                keep widening after the first answer, to find everyone up to --max-ttl
  --iface IFACE        send from this interface (name, index or address)
                       IP_MULTICAST_IF / IPV6_MULTICAST_IF
  --json               one JSON object per line: {"type":"found",...} per responder, then a summary
  --quiet, -q          only the responders, no line per ring

Output: "found NAME at ADDR (from SOURCE) at TTL T, X ms" per responder, the first time it answers.

Exit status: 0 when a responder was found; 1 when none answered up to --max-ttl, or on a runtime
error; 2 bad arguments; 130 at Ctrl-C (SIGINT), 143 at SIGTERM.

Example:
  mcast discover 239.255.0.9:4000 --iface eth0 --max-ttl 8 --all
"#;

const OPTS: &[Opt] = &[
    Opt::value(&["--max-ttl", "--max-hops"], "N"),
    Opt::value(&["--wait"], "SECS"),
    Opt::flag(&["--all"]),
    Opt::value(&["--iface"], "IFACE"),
    Opt::flag(&["--json"]),
    Opt::flag(&["--quiet", "-q"]),
];

const USAGE: &str = "mcast discover GROUP:PORT [OPTIONS]";

/// The rings: 0, 1, 2, 4, 8 ... while at most `max`, then `max` itself.
pub fn rings(max: u32) -> Vec<u32> {
    let mut v = vec![0];
    let mut t = 1;
    while t <= max {
        v.push(t);
        t *= 2;
    }
    if *v.last().unwrap_or(&0) != max {
        v.push(max);
    }
    v
}

struct Found {
    name: String,
    addr: Option<IpAddr>,
    from: SocketAddr,
    ring: u32,
    rtt_ns: u64,
}

/// Keeps a TTL-0 query on this host. Linux drops a TTL-0 (hop-limit-0) multicast datagram only on its multicast
/// output path, which it takes when this host is a member of the group on the outgoing interface and loop is on;
/// otherwise it transmits the datagram with TTL 0 and every neighbour on the link receives it. So while ring 0 is
/// sent, the querying socket itself holds a membership (on its own ephemeral port, it receives none of the
/// group's datagrams) with loop on; both are undone when this value is dropped.
struct HostOnly<'a> {
    sock: &'a McastSocket,
    group: IpAddr,
    index: u32,
    loop_was: bool,
}

impl<'a> HostOnly<'a> {
    fn enter(sock: &'a McastSocket, group: Group, iface: Option<&Interface>) -> Result<Self, Fail> {
        let index = iface.map(|i| i.index).unwrap_or(group.scope_id());
        let loop_was = match group.ip() {
            IpAddr::V4(g) => {
                let was = sock.multicast_loop_v4()?;
                sock.set_multicast_loop_v4(true)?;
                sock.join_v4_index(g, index)?;
                was
            }
            IpAddr::V6(g) => {
                let was = sock.multicast_loop_v6()?;
                sock.set_multicast_loop_v6(true)?;
                sock.join_v6(g, index)?;
                was
            }
        };
        Ok(HostOnly { sock, group: group.ip(), index, loop_was })
    }
}

impl Drop for HostOnly<'_> {
    fn drop(&mut self) {
        // Best effort: the socket is closed at exit anyway, which ends the membership.
        let _ = match self.group {
            IpAddr::V4(g) => {
                self.sock.leave_v4_index(g, self.index).and(self.sock.set_multicast_loop_v4(self.loop_was))
            }
            IpAddr::V6(g) => self.sock.leave_v6(g, self.index).and(self.sock.set_multicast_loop_v6(self.loop_was)),
        };
    }
}

pub fn run(words: &[String]) -> Result<(), Fail> {
    let Some(m) = args::command_line(words, OPTS, HELP)? else { return Ok(()) };
    let pos = m.positionals(1, 1, "GROUP:PORT", USAGE)?;
    let group = tools::group(&pos[0])?;
    let max = m.int_in("--max-ttl", 0, 255)?.unwrap_or(32) as u32;
    let wait = m.seconds("--wait")?.unwrap_or(Duration::from_millis(500));
    if wait.is_zero() {
        return Err(Fail::usage("--wait 0: give the time to wait at each ring, e.g. 0.5"));
    }
    let all = m.flag("--all");
    let (json, quiet) = (m.flag("--json"), m.flag("--quiet"));
    let ifaces = tools::ifaces(&m, "--iface")?;
    if ifaces.len() > 1 {
        return Err(Fail::usage("--iface: give one (a query leaves by one interface)"));
    }
    let sock = tools::unicast_sender(group, ifaces.first(), None)?;
    tools::catch_interrupts()?;
    let session = tools::session_id();
    let mut out = Out::new();
    let mut found: BTreeMap<SocketAddr, Found> = BTreeMap::new();
    let mut buf = vec![0u8; 65_536];
    let mut query = [0u8; proto::HEADER_LEN];
    let mut widest = 0;
    let mut failures = SendStats::default();
    for ring in rings(max) {
        if tools::interrupted() {
            break;
        }
        widest = ring;
        match Family::of(group.ip()) {
            Family::V4 => sock.set_multicast_ttl_v4(ring)?,
            Family::V6 => sock.set_multicast_hops_v6(ring as i32)?,
        }
        let len = proto::encode(Kind::DiscoverQuery, session, u64::from(ring), proto::now_ns(), &[], &mut query)
            .map_err(Fail::runtime)?;
        let host_only = (ring == 0).then(|| HostOnly::enter(&sock, group, ifaces.first())).transpose()?;
        // A query that cannot leave (the link is gone) is counted; the next ring tries again.
        tools::send_counted(&mut failures, || sock.send_to(&query[..len], group.socket_addr()))?;
        drop(host_only);
        let before = found.len();
        if !quiet {
            let line = if json {
                Json::new().str("type", "ring").int("ttl", ring).finish()
            } else {
                format!("query to {group} with TTL {ring}")
            };
            out.line(&line)?;
        }
        let deadline = Instant::now() + wait;
        while let Some(w) = tools::until(Some(deadline), Instant::now()) {
            if tools::interrupted() {
                break;
            }
            let Some(meta) = sock.recv_timeout(&mut buf, w)? else { continue };
            let Ok((a, body)) = proto::decode(&buf[..meta.len]) else { continue };
            if a.kind != Kind::DiscoverAnswer || a.session != session || found.contains_key(&meta.source) {
                continue;
            }
            let Ok(answer) = Answer::parse(body) else { continue };
            let f = Found {
                name: answer.name,
                addr: answer.addr,
                from: meta.source,
                ring: u32::try_from(a.seq).unwrap_or(u32::MAX),
                rtt_ns: tools::arrival_ns(&meta).saturating_sub(a.send_time_ns),
            };
            out.line(&found_line(&f, json))?;
            found.insert(meta.source, f);
        }
        if found.len() > before && !all {
            break;
        }
    }
    let line = if json {
        Json::new()
            .str("type", "summary")
            .int("found", found.len() as u64)
            .int("max_ttl", widest)
            .int("send_failed", failures.failed)
            .finish()
    } else {
        let fails = tools::failures_text(&failures).map_or(String::new(), |f| format!("; {f}"));
        format!("{} responder{} found up to TTL {widest}{fails}", found.len(), if found.len() == 1 { "" } else { "s" })
    };
    out.line(&line)?;
    if found.is_empty() {
        return Err(Fail::runtime(format!("no responder answered on {group} up to TTL {widest}")));
    }
    Ok(())
}

fn found_line(f: &Found, json: bool) -> String {
    if json {
        Json::new()
            .str("type", "found")
            .str("name", &f.name)
            .opt_str("addr", f.addr.map(|a| a.to_string()).as_deref())
            .str("from", &f.from.to_string())
            .int("ttl", f.ring)
            .float("rtt_ms", tools::ms(f.rtt_ns as f64))
            .finish()
    } else {
        format!(
            "found {} at {} (from {}) at TTL {}, {} ms",
            crate::output::preview(f.name.as_bytes(), 255),
            f.addr.map_or("?".to_string(), |a| a.to_string()),
            f.from,
            f.ring,
            tools::fmt_ms(f.rtt_ns as f64)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::rings;

    #[test]
    fn rings_double_up_to_the_maximum() {
        assert_eq!(rings(0), [0]);
        assert_eq!(rings(1), [0, 1]);
        assert_eq!(rings(8), [0, 1, 2, 4, 8]);
        assert_eq!(rings(10), [0, 1, 2, 4, 8, 10]);
        assert_eq!(rings(255), [0, 1, 2, 4, 8, 16, 32, 64, 128, 255]);
    }
}
