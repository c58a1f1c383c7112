//! What `ping`, `perf`, `discover`, `responder` and `relay` share: a socket that is both a member of a group
//! and a sender to it, option parsing common to them, session ids and time arithmetic.

use std::io::Write;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use mcast::sendretry::SendStats;
use mcast::{Group, IfaceSpec, Interface};

use crate::args::{Fail, Matches};

/// Longest single wait, so a Ctrl-C or a deadline is noticed promptly.
pub const SLICE: Duration = Duration::from_millis(200);

/// `--iface` values, resolved.
pub fn ifaces(m: &Matches, name: &str) -> Result<Vec<Interface>, Fail> {
    m.values(name)
        .map(|v| {
            let spec: IfaceSpec = v.parse().map_err(|e| Fail::usage(format!("{name} {v}: {e}")))?;
            spec.resolve().map_err(|e| Fail::usage(format!("{name} {v}: {e:#}")))
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

/// A session id that differs between runs and between processes started at the same moment.
pub fn session_id() -> u32 {
    let mut rng = mcast::relay::Rng::new(mcast::wire::proto::now_ns() ^ (u64::from(std::process::id()) << 32));
    rng.next_u64() as u32
}

/// Milliseconds from nanoseconds.
pub fn ms(ns: f64) -> f64 {
    ns / 1e6
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
