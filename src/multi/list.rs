//! Lists of groups as users write them: `239.1.1.1-239.1.1.50:5000`, `239.1.1.1-50:5000`,
//! `[ff15::1-ff15::20]:5000`, and comma lists of those and single groups, IPv4 and IPv6 mixed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{Error, ErrorKind, Result};
use crate::group::Group;

/// The most groups one range may expand to: a typo like `239.0.0.1-239.255.255.255` is an error, not 16
/// million joins.
pub const MAX_RANGE: u64 = 65_536;

/// Parses a comma-separated list of groups and ranges; each item carries its port, or takes `default_port`
/// (which may be 0, for callers that need no port).
///
/// ```
/// let groups = mcast::multi::parse_group_list("239.1.1.1-239.1.1.3:5000,[ff15::1]:6000", None)?;
/// assert_eq!(groups.len(), 4);
/// assert_eq!(groups[2].to_string(), "239.1.1.3:5000");
/// # Ok::<(), mcast::Error>(())
/// ```
pub fn parse_group_list(text: &str, default_port: Option<u16>) -> Result<Vec<Group>> {
    let mut out = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(parse_error(text, "an empty item between commas"));
        }
        out.extend(parse_item(item, default_port)?);
    }
    Ok(out)
}

/// One item: a group (`239.1.2.3:5000`, `[ff15::1]:5000`) or a range of groups (`A-B:PORT`, `[A-B]:PORT`).
pub fn parse_item(item: &str, default_port: Option<u16>) -> Result<Vec<Group>> {
    let (host, port) = split_port(item)?;
    let port = match (port, default_port) {
        (Some(0), _) => return Err(parse_error(item, "port 0: a receiver needs a port 1-65535")),
        (Some(p), _) => p,
        (None, Some(p)) => p,
        (None, None) => {
            return Err(parse_error(
                item,
                "no port: write GROUP:PORT, e.g. 239.1.1.1-239.1.1.50:5000 or [ff15::1]:5000",
            ))
        }
    };
    match split_range(host) {
        Some((first, last)) => expand(item, first, last, port),
        None => Ok(vec![group_at(item, host, port)?]),
    }
}

/// Splits `HOST:PORT` / `[HOST]:PORT` / `HOST` / `[HOST]`; `HOST` may be a range.
fn split_port(item: &str) -> Result<(&str, Option<u16>)> {
    let port = |p: &str| p.parse::<u16>().map_err(|_| parse_error(item, &format!("port '{p}' is not 0-65535")));
    if let Some(rest) = item.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| parse_error(item, "missing ']'"))?;
        return match after {
            "" => Ok((host, None)),
            a => match a.strip_prefix(':') {
                Some(p) => Ok((host, Some(port(p)?))),
                None => Err(parse_error(item, "expected ':PORT' after ']'")),
            },
        };
    }
    // Without brackets, one colon separates an IPv4 host from its port; more colons are a bare IPv6 address.
    match item.matches(':').count() {
        1 => {
            let (h, p) = item.split_once(':').ok_or_else(|| parse_error(item, "missing port"))?;
            Ok((h, Some(port(p)?)))
        }
        _ => Ok((item, None)),
    }
}

/// `A-B` where both sides are addresses (an IPv6 zone may follow either, and zone names may hold '-'), or an
/// IPv4 `A-N` where N replaces A's last byte. `None` when `host` is not a range.
fn split_range(host: &str) -> Option<(&str, &str)> {
    host.char_indices().filter(|&(_, c)| c == '-').map(|(i, _)| (&host[..i], &host[i + 1..])).find(|(a, b)| {
        let addr = |s: &str| s.split('%').next().unwrap_or(s).parse::<IpAddr>().is_ok();
        addr(a) && (addr(b) || (a.parse::<Ipv4Addr>().is_ok() && b.parse::<u8>().is_ok()))
    })
}

fn group_at(item: &str, host: &str, port: u16) -> Result<Group> {
    let text = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    text.parse::<Group>().map_err(|e| match e.kind() {
        ErrorKind::Parse => parse_error(item, &e.to_string()),
        _ => e,
    })
}

fn expand(item: &str, first: &str, last: &str, port: u16) -> Result<Vec<Group>> {
    let start = group_at(item, first, port)?;
    let end = match (start.ip(), last.parse::<u8>()) {
        (IpAddr::V4(a), Ok(n)) => {
            let [x, y, z, _] = a.octets();
            Group::new(IpAddr::V4(Ipv4Addr::new(x, y, z, n)), port)?
        }
        _ => group_at(item, last, port)?,
    };
    let zone = match (start.scope_id(), end.scope_id()) {
        (a, 0) | (0, a) => a,
        (a, b) if a == b => a,
        _ => return Err(parse_error(item, "the range's two ends name different zones")),
    };
    let (lo, hi) = match (start.ip(), end.ip()) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b))),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b)),
        _ => return Err(parse_error(item, "a range's two ends must be of one family")),
    };
    if hi < lo {
        return Err(parse_error(item, &format!("the range ends ({}) before it starts ({})", end.ip(), start.ip())));
    }
    let count = hi - lo + 1;
    if count > u128::from(MAX_RANGE) {
        return Err(Error::new(
            ErrorKind::OutOfRange,
            format!("'{item}' is {count} groups; one range may hold at most {MAX_RANGE}"),
        ));
    }
    // Both ends are multicast and the multicast blocks (224.0.0.0/4, ff00::/8) are contiguous, so every
    // address between them is a group too.
    (lo..=hi)
        .map(|v| {
            let ip = match start.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(v as u32)),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(v)),
            };
            Group::with_scope(ip, port, zone)
        })
        .collect()
}

fn parse_error(item: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::Parse,
        format!("'{item}' is not a group list: {why} (expected e.g. 239.1.1.1-239.1.1.50:5000,[ff15::1]:5000)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> Vec<String> {
        parse_group_list(s, None).unwrap_or_else(|e| panic!("{s}: {e}")).iter().map(Group::to_string).collect()
    }

    #[test]
    fn expands_ranges_and_lists() {
        assert_eq!(list("239.1.1.1-239.1.1.3:5000"), ["239.1.1.1:5000", "239.1.1.2:5000", "239.1.1.3:5000"]);
        assert_eq!(list("239.1.1.254-239.1.2.1:7").len(), 4, "ranges cross byte boundaries");
        assert_eq!(list("239.1.1.9-10:7"), ["239.1.1.9:7", "239.1.1.10:7"]);
        assert_eq!(list("[ff15::1-ff15::2]:9"), ["[ff15::1]:9", "[ff15::2]:9"]);
        assert_eq!(
            list("239.1.1.1:5000, [ff15::1]:5001,224.0.1.1-224.0.1.2:5002"),
            ["239.1.1.1:5000", "[ff15::1]:5001", "224.0.1.1:5002", "224.0.1.2:5002"]
        );
        assert_eq!(list("239.1.1.1-239.1.1.1:1").len(), 1);
        let g = parse_group_list("ff15::1-ff15::3,239.1.1.1", Some(4000)).unwrap();
        assert_eq!(g.len(), 4);
        assert!(g.iter().all(|g| g.port() == 4000));
        assert_eq!(parse_group_list("239.1.1.1", Some(0)).unwrap()[0].port(), 0);
    }

    #[test]
    fn ranges_keep_zones_even_when_names_hold_dashes() {
        let lo = crate::sys::ifconf::index_to_name(1).unwrap();
        let g = parse_group_list(&format!("[ff02::1-ff02::2%{lo}]:9"), None).unwrap();
        assert_eq!(g.len(), 2);
        assert!(g.iter().all(|g| g.scope_id() == 1));
        // A zone name with a dash is not a range.
        let e = parse_group_list("[ff02::1%no-such-if]:9", None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownInterface, "{e}");
    }

    #[test]
    fn refuses_bad_lists_clearly() {
        for (s, kind) in [
            ("", ErrorKind::Parse),
            ("239.1.1.1:5000,", ErrorKind::Parse),
            ("239.1.1.1", ErrorKind::Parse),
            ("239.1.1.1:0", ErrorKind::Parse),
            ("239.1.1.5-239.1.1.1:5000", ErrorKind::Parse),
            ("239.1.1.1-ff15::1:5000", ErrorKind::Parse),
            ("[239.1.1.1-ff15::1]:5000", ErrorKind::Parse),
            ("239.0.0.0-239.255.255.255:5000", ErrorKind::OutOfRange),
            ("[ff15::-ff16::]:1", ErrorKind::OutOfRange),
            ("10.0.0.1-10.0.0.5:5000", ErrorKind::NotMulticast),
            ("239.1.1.1-x:5000", ErrorKind::Parse),
            ("[ff15::1-ff15::2:1", ErrorKind::Parse),
            ("239.1.1.1:99999", ErrorKind::Parse),
            ("-:1", ErrorKind::Parse),
            ("---", ErrorKind::Parse),
        ] {
            let e = parse_group_list(s, None).unwrap_err();
            assert_eq!(e.kind(), kind, "{s}: {e}");
        }
        let e = parse_group_list("239.1.1.1", None).unwrap_err();
        assert!(e.to_string().contains("no port"), "{e}");
    }

    #[test]
    fn never_panics_on_odd_text() {
        for s in ["[", "]", "[]", "[-]", ":", "::", "-", "%", "[%]:1", "1-2-3:4", "239.1.1.1-256:1", "é-ü:1"] {
            assert!(parse_group_list(s, Some(1)).is_err(), "{s}");
            assert!(parse_group_list(s, None).is_err(), "{s}");
        }
    }
}
