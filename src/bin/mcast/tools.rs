//! What `ping`, `perf`, `discover`, `responder` and `relay` share: a socket that is both a member of a group
//! and a sender to it, option parsing common to them, session ids and time arithmetic.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use mcast::sendretry::{send_with_retry, Outcome, RetryPolicy, SendStats};
use mcast::{Family, Group, IfaceSpec, Interface, McastSocket, Receiver, RecvMeta};

use crate::args::{Fail, Matches};

/// Longest single wait, so a Ctrl-C or a deadline is noticed promptly.
pub const SLICE: Duration = Duration::from_millis(200);

/// `--iface` values, resolved.
pub fn ifaces(m: &Matches, name: &str) -> Result<Vec<Interface>, Fail> {
    m.values(name)
        .map(|v| {
            let spec: IfaceSpec = v.parse().map_err(|e| Fail::usage(format!("{name} {v}: {e}")))?;
            spec.resolve().map_err(|e| Fail::usage(format!("{name} {v}: {e}")))
        })
        .collect()
}

/// `--source` values: source-specific joins.
pub fn sources(m: &Matches) -> Result<Vec<IpAddr>, Fail> {
    m.values("--source")
        .map(|v| v.parse().map_err(|_| Fail::usage(format!("--source {v}: not an IPv4 or IPv6 address"))))
        .collect()
}

/// A group from the command line, which must carry a port.
pub fn group(word: &str) -> Result<Group, Fail> {
    Group::parse_with_port(word).map_err(Fail::from)
}

/// A socket bound to the group's port and joined on each of `ifaces` (the routing table's choice if none).
pub fn member(
    group: Group,
    ifaces: &[Interface],
    sources: &[IpAddr],
    recv_buffer: Option<u32>,
) -> Result<Receiver, Fail> {
    let mut b = Receiver::builder(group);
    for i in ifaces {
        b = b.interface(IfaceSpec::Index(i.index));
    }
    for s in sources {
        b = b.source(*s);
    }
    if let Some(bytes) = recv_buffer {
        b = b.recv_buffer(bytes);
    }
    Ok(b.build()?)
}

/// Sets what a sender to `group` needs on `socket`: outgoing interface, TTL or hop limit, loopback.
pub fn set_send(
    socket: &McastSocket,
    group: Group,
    iface: Option<&Interface>,
    ttl: Option<u32>,
    multicast_loop: Option<bool>,
) -> Result<(), Fail> {
    match Family::of(group.ip()) {
        Family::V4 => {
            if let Some(t) = ttl {
                socket.set_multicast_ttl_v4(t)?;
            }
            if let Some(on) = multicast_loop {
                socket.set_multicast_loop_v4(on)?;
            }
            if let Some(i) = iface {
                match i.first_ipv4() {
                    Some(a) => socket.set_multicast_if_v4(a)?,
                    None => socket.set_multicast_if_v4_index(i.index)?,
                }
            }
        }
        Family::V6 => {
            if let Some(t) = ttl {
                socket.set_multicast_hops_v6(t as i32)?;
            }
            if let Some(on) = multicast_loop {
                socket.set_multicast_loop_v6(on)?;
            }
            let index = iface.map(|i| i.index).unwrap_or(group.scope_id());
            if index != 0 {
                socket.set_multicast_if_v6(index)?;
            } else if group.needs_interface() {
                return Err(Fail::usage(format!(
                    "{group} is {:?}-scoped: name the interface (--iface, or {}%IFACE)",
                    group.scope(),
                    group.ip()
                )));
            }
        }
    }
    Ok(())
}

/// A UDP socket of the group's family on an ephemeral port, ready to send to `group` (and receive unicast
/// answers, with arrival timestamps).
pub fn unicast_sender(group: Group, iface: Option<&Interface>, ttl: Option<u32>) -> Result<McastSocket, Fail> {
    let family = Family::of(group.ip());
    let s = McastSocket::udp(family)?;
    match family {
        Family::V4 => s.set_recv_ttl_v4(true)?,
        Family::V6 => {
            s.set_only_v6(true)?;
            s.set_recv_hoplimit_v6(true)?;
        }
    }
    s.set_timestamp_ns(true)?;
    s.bind(SocketAddr::new(family.unspecified(), 0))?;
    set_send(&s, group, iface, ttl, None)?;
    Ok(s)
}

/// A session id that differs between runs and between processes started at the same moment.
pub fn session_id() -> u32 {
    let mut rng = mcast::relay::Rng::new(mcast::wire::proto::now_ns() ^ (u64::from(std::process::id()) << 32));
    rng.next_u64() as u32
}

/// When a datagram arrived: the kernel's stamp (`SO_TIMESTAMPNS`), else now.
pub fn arrival_ns(meta: &RecvMeta) -> u64 {
    meta.timestamp
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_else(mcast::wire::proto::now_ns)
}

/// Milliseconds from nanoseconds.
pub fn ms(ns: f64) -> f64 {
    ns / 1e6
}

/// Sends through trouble (`mcast::sendretry`): a full queue (`ENOBUFS`, `EAGAIN`) is retried with short
/// pauses, a lost link (`ENETUNREACH`, `ENODEV`, ...) is counted in `stats` and skipped; `None` when this
/// one failed. Only an error no retry can help ends the command.
pub fn send_counted(
    stats: &mut SendStats,
    mut send: impl FnMut() -> mcast::Result<usize>,
) -> Result<Option<usize>, Fail> {
    match send_with_retry(&RetryPolicy::default(), stats, &mut std::thread::sleep, &mut send)? {
        Outcome::Sent(n) => Ok(Some(n)),
        Outcome::Failed(_) => Ok(None),
    }
}

/// "3 sends failed (No such device (os error 19) x3)", or nothing when none did.
pub fn failures_text(stats: &SendStats) -> Option<String> {
    (stats.failed > 0).then(|| {
        let why: Vec<String> =
            stats.errors.iter().map(|(e, n)| format!("{} x{n}", std::io::Error::from_raw_os_error(*e))).collect();
        format!("{} send{} failed ({})", stats.failed, if stats.failed == 1 { "" } else { "s" }, why.join(", "))
    })
}

/// Catches Ctrl-C as a flag, so loops end with their summary.
pub fn catch_interrupts() -> Result<(), Fail> {
    mcast::sys::signal::catch_interrupts().map_err(|e| Fail::runtime(format!("sigaction: {e}")))
}

/// Whether Ctrl-C (or SIGTERM) arrived.
pub fn interrupted() -> bool {
    mcast::sys::signal::interrupted()
}

/// A note on standard error; standard output stays the report.
pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// How long until `deadline`, at most [`SLICE`]; `None` once it has passed.
pub fn until(deadline: Option<Instant>, now: Instant) -> Option<Duration> {
    match deadline {
        None => Some(SLICE),
        Some(d) => d.checked_duration_since(now).filter(|l| !l.is_zero()).map(|l| l.min(SLICE)),
    }
}

/// "0.123" milliseconds, three decimals.
pub fn fmt_ms(ns: f64) -> String {
    format!("{:.3}", ms(ns))
}

/// A per-mille-free percentage: `lost` of `expected`.
pub fn pct(lost: u64, expected: u64) -> f64 {
    if expected == 0 {
        0.0
    } else {
        lost as f64 * 100.0 / expected as f64
    }
}

/// The `--ttl` option, 0..=255.
pub fn ttl(m: &Matches) -> Result<Option<u32>, Fail> {
    Ok(m.int_in("--ttl", 0, 255)?.map(|t| t as u32))
}

/// Refuses options that belong only to the other side (client or `--serve`).
pub fn refuse(m: &Matches, names: &[&str], why: &str) -> Result<(), Fail> {
    match names.iter().find(|n| m.flag(n)) {
        Some(n) => Err(Fail::usage(format!("{n} {why}"))),
        None => Ok(()),
    }
}
