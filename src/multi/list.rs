//! Lists of groups as users write them: `239.1.1.1-239.1.1.50:5000`, `239.1.1.1-50:5000`,
//! `[ff15::1-ff15::20]:5000`, and comma lists of those and single groups, IPv4 and IPv6 mixed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Subscription;
use crate::error::{Error, ErrorKind, Result};
use crate::group::Group;

/// The most groups one range may expand to: a typo like `239.0.0.1-239.255.255.255` is an error, not 16
/// million joins.
pub const MAX_RANGE: u64 = 65_536;

/// The most groups one list may hold, all its ranges and items together. Lists are counted before any group
/// is made, so a list past the cap costs no memory: 256 ranges of [`MAX_RANGE`] groups each are refused, not
/// allocated. A list past it is an error of kind [`ErrorKind::TooMany`] (`ERANGE` in the C ABI).
pub const MAX_GROUPS: u64 = 65_536;

/// Parses a comma-separated list of groups and ranges; each item carries its port, or takes `default_port`
/// (which may be 0, for callers that need no port). The whole list holds at most [`MAX_GROUPS`] groups.
///
/// ```
/// let groups = mcast::multi::parse_group_list("239.1.1.1-239.1.1.3:5000,[ff15::1]:6000", None)?;
/// assert_eq!(groups.len(), 4);
/// assert_eq!(groups[2].to_string(), "239.1.1.3:5000");
/// # Ok::<(), mcast::Error>(())
/// ```
pub fn parse_group_list(text: &str, default_port: Option<u16>) -> Result<Vec<Group>> {
    // Count first, then expand: every item is read (so its own errors are reported) before anything grows.
    let mut spans = Vec::new();
    let mut total: u64 = 0;
    for item in text.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(parse_error(text, "an empty item between commas"));
        }
        let span = parse_span(item, default_port)?;
        total = total.saturating_add(span.count);
        if total <= MAX_GROUPS {
            spans.push(span);
        }
    }
    if total > MAX_GROUPS {
        return Err(Error::new(
            ErrorKind::TooMany,
            format!(
                "the group list holds {total} groups; a list may hold at most {MAX_GROUPS} groups, its ranges \
                 and items together"
            ),
        ));
    }
    Ok(spans.iter().flat_map(Span::groups).collect())
}

/// One item: a group (`239.1.2.3:5000`, `[ff15::1]:5000`) or a range of groups (`A-B:PORT`, `[A-B]:PORT`).
pub fn parse_item(item: &str, default_port: Option<u16>) -> Result<Vec<Group>> {
    Ok(parse_span(item, default_port)?.groups().collect())
}

/// Whether `item` is written as a range of groups (`A-B:PORT`, `[A-B]:PORT`, `A-N:PORT`), whether or not
/// its ends make a valid one: a reversed or oversized range is still a range, to be reported as one.
pub fn is_range(item: &str) -> bool {
    split_port(item.trim()).is_ok_and(|(host, _)| split_range(host).is_some())
}

/// Adds to `subs` one subscription per group of `groups` and source of `sources` (from any source when
/// `sources` is empty). Refused before `subs` grows: passing [`MAX_GROUPS`] subscriptions in all (kind
/// [`ErrorKind::TooMany`]), and a source of another family than its group ([`ErrorKind::Mismatch`]).
///
/// ```
/// use mcast::multi::{add_subscriptions, parse_group_list};
/// let mut subs = Vec::new();
/// let groups = parse_group_list("232.1.1.1-232.1.1.2:5000", None)?;
/// add_subscriptions(&mut subs, &groups, &["10.0.0.1".parse()?, "10.0.0.2".parse()?])?;
/// assert_eq!(subs.len(), 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn add_subscriptions(subs: &mut Vec<Subscription>, groups: &[Group], sources: &[IpAddr]) -> Result<()> {
    let more = (groups.len() as u64).saturating_mul(sources.len().max(1) as u64);
    if (subs.len() as u64).saturating_add(more) > MAX_GROUPS {
        return Err(Error::new(
            ErrorKind::TooMany,
            format!("more than {MAX_GROUPS} subscriptions in all (each group counted once per source)"),
        ));
    }
    if let Some((s, g)) =
        groups.iter().find_map(|g| sources.iter().find(|s| s.is_ipv4() != g.ip().is_ipv4()).map(|s| (s, g)))
    {
        return Err(Error::new(ErrorKind::Mismatch, format!("source {s} is not of the family of {g}")));
    }
    for &group in groups {
        if sources.is_empty() {
            subs.push(Subscription { group, source: None });
        }
        subs.extend(sources.iter().map(|&s| Subscription { group, source: Some(s) }));
    }
    Ok(())
}

/// An item before it is expanded: its first group, and how many consecutive groups it holds (at most
/// [`MAX_RANGE`]).
struct Span {
    first: Group,
    count: u64,
}

impl Span {
    /// The groups, in address order. Both ends are multicast and the multicast blocks (224.0.0.0/4,
    /// ff00::/8) are contiguous, so every address between them is a group too.
    fn groups(&self) -> impl Iterator<Item = Group> + '_ {
        let lo = match self.first.ip() {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        };
        (0..u128::from(self.count)).filter_map(move |i| {
            let v = lo.checked_add(i)?;
            let ip = match self.first.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(v).ok()?)),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(v)),
            };
            Group::with_scope(ip, self.first.port(), self.first.scope_id()).ok()
        })
    }
}

fn parse_span(item: &str, default_port: Option<u16>) -> Result<Span> {
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
        Some((first, last)) => range(item, first, last, port),
        None => Ok(Span { first: group_at(item, host, port)?, count: 1 }),
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
    Group::parse_address(&text).map_err(|e| match e.kind() {
        ErrorKind::Parse => parse_error(item, &e.to_string()),
        _ => e,
    })
}

/// Reads a range's two ends and counts the groups between them, refusing a reversed or oversized range.
fn range(item: &str, first: &str, last: &str, port: u16) -> Result<Span> {
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
        return Err(parse_error(
            item,
            &format!(
                "reversed range: it ends at {} before it starts at {}; write the lower end first",
                end.ip(),
                start.ip()
            ),
        ));
    }
    // hi - lo + 1 cannot overflow for IPv4; for IPv6, ff00::-ffff:...:ffff is below u128::MAX.
    let count = (hi - lo).saturating_add(1);
    if count > u128::from(MAX_RANGE) {
        return Err(Error::new(
            ErrorKind::TooMany,
            format!("'{item}': range larger than {MAX_RANGE} groups ({count} groups), the most one range may hold"),
        ));
    }
    Ok(Span { first: Group::with_scope(start.ip(), port, zone)?, count: count as u64 })
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
    fn subscriptions_pair_each_group_with_each_source_and_stay_capped() {
        let g = |s: &str| s.parse::<Group>().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut subs = Vec::new();
        add_subscriptions(&mut subs, &[g("239.1.1.1:5000")], &[]).unwrap();
        add_subscriptions(&mut subs, &[g("232.1.1.1:5000"), g("232.1.1.2:5000")], &[ip("10.0.0.1"), ip("10.0.0.2")])
            .unwrap();
        let pairs: Vec<(String, Option<IpAddr>)> = subs.iter().map(|s| (s.group.to_string(), s.source)).collect();
        assert_eq!(pairs[0], ("239.1.1.1:5000".to_string(), None));
        assert_eq!(pairs[1], ("232.1.1.1:5000".to_string(), Some(ip("10.0.0.1"))));
        assert_eq!(pairs[4], ("232.1.1.2:5000".to_string(), Some(ip("10.0.0.2"))));
        assert_eq!(subs.len(), 5);
        let e = add_subscriptions(&mut subs, &[g("239.1.1.1:5000")], &[ip("::1")]).unwrap_err();
        assert_eq!(
            (e.kind(), e.to_string()),
            (ErrorKind::Mismatch, "source ::1 is not of the family of 239.1.1.1:5000".into())
        );
        let many = parse_group_list("239.1.0.0-239.1.255.255:5000", None).unwrap();
        let e = add_subscriptions(&mut subs, &many, &[]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TooMany);
        assert_eq!(subs.len(), 5, "a refused list adds nothing");
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
            ("239.0.0.0-239.255.255.255:5000", ErrorKind::TooMany),
            ("[ff15::-ff16::]:1", ErrorKind::TooMany),
            ("[ff00::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:1", ErrorKind::TooMany),
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
    fn reversed_and_oversized_ranges_say_so() {
        let e = parse_group_list("239.1.1.50-239.1.1.1:5000", None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Parse);
        assert_eq!(
            e.to_string(),
            "'239.1.1.50-239.1.1.1:5000' is not a group list: reversed range: it ends at 239.1.1.1 before it \
             starts at 239.1.1.50; write the lower end first (expected e.g. 239.1.1.1-239.1.1.50:5000,\
             [ff15::1]:5000)"
        );
        let e = parse_group_list("239.1.1.9-3:5000", None).unwrap_err();
        assert!(e.to_string().contains("reversed range"), "{e}");
        let e = parse_group_list("[ff15::9-ff15::1]:5000", None).unwrap_err();
        assert!(e.to_string().contains("reversed range"), "{e}");

        let e = parse_group_list("239.0.0.0-239.255.255.255:5000", None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TooMany);
        assert_eq!(
            e.to_string(),
            "'239.0.0.0-239.255.255.255:5000': range larger than 65536 groups (16777216 groups), the most one \
             range may hold"
        );
        assert_eq!(e.errno(), libc::ERANGE);
        assert_eq!(parse_group_list("239.1.0.0-239.1.255.255:1", None).unwrap().len() as u64, MAX_RANGE);
        assert!(parse_group_list("239.1.0.0-239.2.0.0:1", None).is_err(), "one past the range cap");
    }

    #[test]
    fn the_whole_list_is_capped_before_it_is_expanded() {
        // Exactly the cap, over two items, is fine.
        let g = parse_group_list("239.1.0.0-239.1.127.255:1,[ff15::1:0-ff15::1:7fff]:1", None).unwrap();
        assert_eq!(g.len() as u64, MAX_GROUPS);
        assert_eq!(g.last().unwrap().to_string(), "[ff15::1:7fff]:1");
        // One group more, as a single item after two full ranges, or as many full ranges at once.
        let over = "239.1.0.0-239.1.255.255:1,239.3.0.0:1";
        let e = parse_group_list(over, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TooMany, "{e}");
        assert_eq!(
            e.to_string(),
            "the group list holds 65537 groups; a list may hold at most 65536 groups, its ranges and items \
             together"
        );
        let many: Vec<String> = (0..256).map(|i| format!("239.{i}.0.0-239.{i}.255.255:5000")).collect();
        let e = parse_group_list(&many.join(","), None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TooMany);
        assert!(e.to_string().starts_with("the group list holds 16777216 groups; "), "{e}");
        assert_eq!(e.errno(), libc::ERANGE);
        // An item's own error still wins over the count, wherever it stands.
        let e = parse_group_list(&format!("{},x:1", many.join(",")), None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Parse, "{e}");
    }

    #[test]
    fn ranges_are_recognised_before_they_are_judged() {
        for s in ["239.1.1.50-239.1.1.1:5000", "239.0.0.0-239.255.255.255:1", "239.1.1.1-5", "[ff15::2-ff15::1]:1"] {
            assert!(is_range(s), "{s}");
        }
        for s in ["239.1.1.1:5000", "[ff02::1%veth-a]:5000", "x-y:1", "239.1.1.1-x:1", "", "[", "-"] {
            assert!(!is_range(s), "{s}");
        }
    }

    #[test]
    fn never_panics_on_odd_text() {
        for s in ["[", "]", "[]", "[-]", ":", "::", "-", "%", "[%]:1", "1-2-3:4", "239.1.1.1-256:1", "é-ü:1"] {
            assert!(parse_group_list(s, Some(1)).is_err(), "{s}");
            assert!(parse_group_list(s, None).is_err(), "{s}");
        }
    }
}
