//! What an address is, as a multicast group or not: the facts `mcast info` explains, computed once.
//!
//! [`Group`] knows its block, scope, flags, MAC and well-known name; this module adds the judgements drawn
//! from them: the TTL or hop limit to send a group with ([`ttl_advice`]), and what a non-multicast address is
//! ([`unicast_kind`]). It also reads an address the way people paste one, with brackets, zone and port
//! ([`parse_addr`]).
//!
//! ```
//! use mcast::__private::addrinfo::{describe, parse_addr};
//! let ip = parse_addr("[ff02::fb%eth0]:5353").unwrap();
//! let facts = describe(mcast::Group::new(ip, 0)?);
//! assert_eq!((facts.well_known, facts.never_forwarded, facts.ttl.ttl), (Some("mDNS"), true, 1));
//! # Ok::<(), mcast::Error>(())
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::group::{Group, Scope, V4Block, V6Flags};

/// An address, with or without brackets, zone and port: `ff02::fb`, `[ff02::fb%eth0]:5353`, `10.0.0.1:80`.
/// The zone and port are dropped; `None` when it is not an address.
pub fn parse_addr(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    let host = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(|p| p.parse::<u16>().is_ok())) {
            return None;
        }
        host
    } else {
        s
    };
    host.split_once('%').map_or(host, |(a, _)| a).parse().ok()
}

/// The TTL (hop limit) to send a group with, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TtlAdvice {
    /// The TTL or hop limit.
    pub ttl: u8,
    /// Why, in a sentence.
    pub why: String,
}

/// Everything known about one group, for an explanation.
#[derive(Clone, Debug)]
pub struct GroupFacts {
    /// The group.
    pub group: Group,
    /// The IANA block (IPv4, RFC 5771).
    pub block: Option<V4Block>,
    /// The scope.
    pub scope: Scope,
    /// The scope nibble of an IPv6 group (RFC 4291 §2.7).
    pub scope_nibble: Option<u8>,
    /// The flags of an IPv6 group.
    pub flags: Option<V6Flags>,
    /// Its well-known name, if IANA assigned it.
    pub well_known: Option<&'static str>,
    /// Source-specific (232.0.0.0/8, ff3x::/96): receivers must name the source.
    pub source_specific: bool,
    /// Routers never forward it, whatever the TTL.
    pub never_forwarded: bool,
    /// The Ethernet MAC it maps to.
    pub mac: [u8; 6],
    /// The other IPv4 groups that map to the same MAC (31 of them); empty for IPv6.
    pub mac_aliases: Vec<Ipv4Addr>,
    /// The TTL or hop limit to send it with.
    pub ttl: TtlAdvice,
}

/// The facts of `group`.
pub fn describe(group: Group) -> GroupFacts {
    GroupFacts {
        group,
        block: group.v4_block(),
        scope: group.scope(),
        scope_nibble: match group.ip() {
            IpAddr::V6(v6) => Some(v6.octets()[1] & 0x0f),
            IpAddr::V4(_) => None,
        },
        flags: group.v6_flags(),
        well_known: group.well_known(),
        source_specific: group.is_source_specific(),
        never_forwarded: group.is_never_forwarded(),
        mac: group.mac(),
        mac_aliases: group.mac_aliases(),
        ttl: ttl_advice(group),
    }
}

/// The TTL (hop limit) to send a group with, and why: the thresholds 0 host, 1 link, 32 site, 64 region,
/// 128 continent, 255 unrestricted, read against the group's scope.
pub fn ttl_advice(group: Group) -> TtlAdvice {
    let v6 = group.is_ipv6();
    let (ttl, why) = match group.scope() {
        Scope::InterfaceLocal => (0, "interface-local: it never leaves this host; hop limit 0 is enough".into()),
        Scope::LinkLocal if v6 => (1, "link-local: routers never forward it; hop limit 1".into()),
        Scope::LinkLocal => (1, "224.0.0.0/24 is never forwarded, whatever the TTL; send with TTL 1".into()),
        _ if v6 => (
            1,
            format!(
                "the {} scope is in the address and routers enforce it at the zone's boundary; the hop \
                 limit only counts routers: 1 (the default) stays on this link, raise it to cross routers",
                group.scope()
            ),
        ),
        Scope::SiteLocal => (32, "239.255.0.0/16 is the local (site) scope: TTL 32 at most".into()),
        Scope::OrganizationLocal => {
            (64, "239.192.0.0/14 is organization-local: boundary routers stop it; TTL up to 64".into())
        }
        Scope::AdminLocal => (32, "administratively scoped: boundary routers stop it; TTL up to 32 (site)".into()),
        _ => (1, "global scope: the TTL alone sets the reach; 1 (the default) stays on this link".into()),
    };
    TtlAdvice { ttl, why }
}

/// What a non-multicast address is: "a private unicast address (10.0.0.0/8, RFC 1918)".
pub fn unicast_kind(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            match (a, b, c) {
                _ if v4.is_unspecified() => "the unspecified address (0.0.0.0: any address, as in bind)",
                _ if v4.is_broadcast() => "the limited broadcast address",
                (127, _, _) => "a loopback address (127.0.0.0/8)",
                (10, _, _) => "a private unicast address (10.0.0.0/8, RFC 1918)",
                (172, 16..=31, _) => "a private unicast address (172.16.0.0/12, RFC 1918)",
                (192, 168, _) => "a private unicast address (192.168.0.0/16, RFC 1918)",
                (169, 254, _) => "a link-local unicast address (169.254.0.0/16)",
                (100, 64..=127, _) => "a shared address (100.64.0.0/10, carrier-grade NAT)",
                (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address (RFC 5737)",
                (240..=255, _, _) => "a reserved address (240.0.0.0/4)",
                _ => "a global unicast address",
            }
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            match s[0] {
                _ if v6.is_unspecified() => "the unspecified address (::)",
                _ if v6.is_loopback() => "the loopback address (::1)",
                _ if s[..5] == [0; 5] && s[5] == 0xffff => "an IPv4-mapped address (::ffff:0:0/96)",
                0xfe80..=0xfebf => "a link-local unicast address (fe80::/10)",
                0xfc00..=0xfdff => "a unique local unicast address (fc00::/7)",
                0x2001 if s[1] == 0x0db8 => "a documentation address (2001:db8::/32)",
                0x2000..=0x3fff => "a global unicast address (2000::/3)",
                _ => "a reserved or unassigned IPv6 address",
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_with_or_without_port_and_zone() {
        let fb: IpAddr = "ff02::fb".parse().unwrap();
        for s in ["ff02::fb", "[ff02::fb]", "[ff02::fb]:5353", "ff02::fb%eth0", "[ff02::fb%eth0]:5353"] {
            assert_eq!(parse_addr(s), Some(fb), "{s}");
        }
        assert_eq!(parse_addr("239.1.2.3:5000"), Some("239.1.2.3".parse().unwrap()));
        for s in ["", "239.1.2", "[ff02::fb", "[ff02::fb]x", "hello", "[ff02::fb]:99999"] {
            assert_eq!(parse_addr(s), None, "{s}");
        }
    }

    #[test]
    fn ttl_advice_follows_the_scope() {
        let ttl = |s: &str| ttl_advice(Group::parse_address(s).unwrap()).ttl;
        assert_eq!(ttl("224.0.0.251"), 1);
        assert_eq!(ttl("239.255.1.1"), 32);
        assert_eq!(ttl("239.192.0.1"), 64);
        assert_eq!(ttl("239.1.2.3"), 32);
        assert_eq!(ttl("ff01::1"), 0);
        assert_eq!(ttl("ff05::1:3"), 1);
    }

    #[test]
    fn facts_come_from_the_group() {
        let f = describe(Group::parse_address("239.1.2.3").unwrap());
        assert_eq!(f.mac, [0x01, 0x00, 0x5e, 0x01, 0x02, 0x03]);
        assert_eq!(f.mac_aliases.len(), 31);
        assert_eq!((f.scope_nibble, f.flags, f.source_specific, f.never_forwarded), (None, None, false, false));
        let v6 = describe(Group::parse_address("ff3e::8000:1").unwrap());
        assert_eq!((v6.scope_nibble, v6.source_specific), (Some(0xe), true));
        assert!(v6.flags.is_some_and(|f| f.prefix_based && f.transient) && v6.mac_aliases.is_empty());
    }

    #[test]
    fn unicast_addresses_are_named() {
        assert!(unicast_kind("10.0.0.1".parse().unwrap()).contains("RFC 1918"));
        assert!(unicast_kind("fe80::1".parse().unwrap()).contains("link-local"));
        assert!(unicast_kind("::ffff:1.2.3.4".parse().unwrap()).contains("IPv4-mapped"));
        assert!(unicast_kind("100.100.0.1".parse().unwrap()).contains("carrier-grade NAT"));
        assert_eq!(unicast_kind("4000::1".parse().unwrap()), "a reserved or unassigned IPv6 address");
    }
}
