//! What `ping`, `perf`, `discover`, `responder` and `relay` share: a socket that is both a member of a group
//! and a sender to it, option parsing common to them, session ids and time arithmetic.

use std::io::Write;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use mcast::SendStats;
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
    mcast::__private::signal::catch_interrupts().map_err(|e| Fail::runtime(format!("sigaction: {e}")))
}

/// Whether Ctrl-C (or SIGTERM) arrived.
pub fn interrupted() -> bool {
    mcast::__private::signal::interrupted()
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

/// The `--ttl` option, 0..=255: range-checked as a number first, so `--ttl 300` is refused with its value
/// ("--ttl 300: out of range 0..=255") rather than failing to parse as a `u8`.
pub fn ttl(m: &Matches) -> Result<Option<u8>, Fail> {
    Ok(m.int_in("--ttl", 0, 255)?.map(|t| t as u8))
}

/// The `--dscp` option: a number 0..=63 or a name (RFC 2474, 2597, 3246, 8622).
pub fn dscp(m: &Matches) -> Result<Option<u8>, Fail> {
    let Some(v) = m.value("--dscp") else { return Ok(None) };
    parse_dscp(v).map(Some).ok_or_else(|| {
        Fail::usage(format!("{} {v}: a DSCP is 0..=63 or a name (ef, af11..af43, cs0..cs7, le, be)", m.typed("--dscp")))
    })
}

/// `ef` 46, `afXY` 8X+2Y, `csN` 8N, `le` 1, `be` 0, or a number 0..=63.
pub fn parse_dscp(v: &str) -> Option<u8> {
    let v = v.to_ascii_lowercase();
    let n = match v.as_str() {
        "ef" => 46,
        "le" => 1,
        "be" | "default" => 0,
        _ => {
            if let Some(c) = v.strip_prefix("cs") {
                let n: u8 = c.parse().ok()?;
                (n <= 7).then_some(n * 8)?
            } else if let Some(af) = v.strip_prefix("af") {
                let (x, y) = (af.as_bytes().first()?, af.as_bytes().get(1)?);
                let (x, y) = (x.checked_sub(b'0')?, y.checked_sub(b'0')?);
                ((1..=4).contains(&x) && (1..=3).contains(&y) && af.len() == 2).then_some(8 * x + 2 * y)?
            } else {
                v.parse().ok()?
            }
        }
    };
    (n <= 63).then_some(n)
}

/// Refuses options that belong only to the other side (client or `--serve`).
pub fn refuse(m: &Matches, names: &[&str], why: &str) -> Result<(), Fail> {
    match names.iter().find(|n| m.flag(n)) {
        Some(n) => Err(Fail::usage(format!("{} {why}", m.typed(n)))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_dscp;

    #[test]
    fn dscp_names_and_numbers() {
        assert_eq!(parse_dscp("ef"), Some(46));
        assert_eq!(parse_dscp("AF41"), Some(34));
        assert_eq!(parse_dscp("af11"), Some(10));
        assert_eq!(parse_dscp("af43"), Some(38));
        assert_eq!(parse_dscp("cs1"), Some(8));
        assert_eq!(parse_dscp("cs7"), Some(56));
        assert_eq!(parse_dscp("le"), Some(1));
        assert_eq!(parse_dscp("63"), Some(63));
        for bad in ["64", "af51", "af14", "af1", "af111", "cs8", "x", "-1", ""] {
            assert_eq!(parse_dscp(bad), None, "{bad}");
        }
    }
}
