//! `mcast info ADDR`: what an address is, as a multicast group (block, scope, flags, MAC, TTL) or not.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use mcast::{Group, Scope, MULTICAST_RANGES};

use crate::args::{self, Fail, Opt};
use crate::output::{self, Json, Out};

pub const SUMMARY: &str = "explain an address: block, scope, flags, Ethernet MAC, TTL advice";

pub const HELP: &str = r#"mcast info: explain an IP address as a multicast group

Usage: mcast info ADDR [OPTIONS]

For a multicast address: its family, IANA block (IPv4, RFC 5771) or flags and scope (IPv6, RFC 4291),
its well-known name, whether it is source-specific (232.0.0.0/8, ff3x::/96: receivers must name the
source), whether routers ever forward it, the Ethernet MAC it maps to (01:00:5e + the low 23 bits for
IPv4, 33:33 + the low 32 bits for IPv6) and, for IPv4, the 31 other groups that share that MAC (a NIC
filter that lets one in lets all 32 in), and the TTL or hop limit to send it with (the seed's thresholds:
0 host, 1 link, 32 site, 64 region, 128 continent, 255 unrestricted).

For any other address it says what the address is and which ranges are multicast, and exits 1.

ADDR may carry a port or zone: 239.1.2.3, 239.1.2.3:5000, ff02::fb, [ff02::fb%eth0]:5353.

Options:
  --json       one JSON object with the same facts (address, family, multicast, block, scope, flags,
               well_known, source_specific, never_forwarded, mac, mac_shared_with, ttl, ttl_advice)
  -h, --help   this help

Exit status: 0 ADDR is multicast, 1 it is not (explained all the same), 2 ADDR is not an address.

Examples:
  mcast info 224.0.0.251          mDNS: link-local, never forwarded, 01:00:5e:00:00:fb
  mcast info 239.1.2.3 --json
  mcast info ff3e::8000:1         an IPv6 source-specific group
"#;

const OPTS: &[Opt] = &[Opt::flag(&["--json"])];

pub fn run(words: &[String]) -> Result<(), Fail> {
    let Some(m) = args::command_line(words, OPTS, HELP)? else { return Ok(()) };
    let pos = m.positionals(1, 1, "ADDR", "mcast info ADDR [--json]")?;
    let ip = parse_addr(&pos[0]).ok_or_else(|| {
        Fail::usage(format!("'{}' is not an IP address (e.g. 239.1.2.3, ff02::fb, [ff15::1]:5000)", pos[0]))
    })?;
    let json = m.flag("--json");
    let mut out = Out::new();
    let Ok(group) = Group::new(ip, 0) else {
        out.text(&if json { unicast_json(ip) } else { unicast_text(ip) })?;
        return Err(Fail::Quiet);
    };
    let facts = Facts::of(group);
    out.text(&if json { facts.json() } else { facts.text() })
}

/// An address, with or without brackets, zone and port: `ff02::fb`, `[ff02::fb%eth0]:5353`, `10.0.0.1:80`.
fn parse_addr(s: &str) -> Option<IpAddr> {
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

/// Everything `info` says about a group, computed once for both text and JSON.
struct Facts {
    group: Group,
    family: &'static str,
    block: Option<String>,
    scope: String,
    flags: Option<String>,
    well_known: Option<&'static str>,
    ssm: bool,
    never_forwarded: bool,
    mac: String,
    aliases: Vec<Ipv4Addr>,
    ttl: u8,
    ttl_advice: String,
}

impl Facts {
    fn of(group: Group) -> Facts {
        let (ttl, ttl_advice) = ttl_advice(group);
        let flags = group.v6_flags().map(|f| {
            let mut names = Vec::new();
            if f.rendezvous_point {
                names.push("R: embeds its rendezvous point (RFC 3956)");
            }
            if f.prefix_based {
                names.push("P: based on a unicast prefix (RFC 3306)");
            }
            if f.transient {
                names.push("T: transient, assigned locally");
            }
            if names.is_empty() {
                "none: permanent, assigned by IANA".to_string()
            } else {
                names.join("; ")
            }
        });
        let scope = match group.ip() {
            IpAddr::V6(v6) => format!("{} (scope nibble {:x})", group.scope(), v6.octets()[1] & 0x0f),
            IpAddr::V4(_) => group.scope().to_string(),
        };
        Facts {
            group,
            family: if group.is_ipv6() { "IPv6" } else { "IPv4" },
            block: group.v4_block().map(|b| b.to_string()),
            scope,
            flags,
            well_known: group.well_known(),
            ssm: group.is_source_specific(),
            never_forwarded: group.is_never_forwarded(),
            mac: output::mac(group.mac()),
            aliases: group.mac_aliases(),
            ttl,
            ttl_advice,
        }
    }

    fn text(&self) -> String {
        let ip = self.group.ip();
        let mut rows: Vec<(&str, String)> =
            vec![("address", ip.to_string()), ("family", self.family.to_string()), ("multicast", "yes".to_string())];
        if let Some(b) = &self.block {
            rows.push(("block", b.clone()));
        }
        if let Some(f) = &self.flags {
            rows.push(("flags", f.clone()));
        }
        rows.push(("scope", self.scope.clone()));
        rows.push(("well-known", self.well_known.unwrap_or("-").to_string()));
        rows.push((
            "source-specific",
            if self.ssm {
                "yes: receivers must name the source (mcast recv --source; MCAST_JOIN_SOURCE_GROUP)".into()
            } else {
                "no: any-source; receivers join the group from every sender".into()
            },
        ));
        rows.push((
            "forwarding",
            if self.never_forwarded {
                "never forwarded by routers, whatever the TTL: it stays on one link (or one interface)".into()
            } else {
                "routers may forward it, as far as its TTL and scope boundaries allow".into()
            },
        ));
        rows.push(("ethernet mac", self.mac.clone()));
        rows.push(("mac shared with", self.mac_sharing()));
        rows.push(("ttl advice", format!("{}: {}", self.ttl, self.ttl_advice)));
        rows.push(("thresholds", "0 host, 1 link, 32 site, 64 region, 128 continent, 255 unrestricted".into()));
        let mut s = String::new();
        for (k, v) in rows {
            s.push_str(&format!("{k:<16} {}\n", output::wrap(&v, 17, 104)));
        }
        s
    }

    /// The 32 groups of one MAC, summarised: `224-239.{1,129}.2.3`.
    fn mac_sharing(&self) -> String {
        match self.group.ip() {
            IpAddr::V4(v4) => {
                let [_, b, c, d] = v4.octets();
                let (lo, hi) = (b & 0x7f, b | 0x80);
                let first = self.aliases.first().map(|a| a.to_string()).unwrap_or_default();
                let last = self.aliases.last().map(|a| a.to_string()).unwrap_or_default();
                format!(
                    "{} other groups, 224-239.{{{lo},{hi}}}.{c}.{d} ({first} ... {last}): the MAC keeps only the \
                     low 23 of the 28 group bits, so a NIC that lets one in lets all 32 in",
                    self.aliases.len()
                )
            }
            IpAddr::V6(_) => {
                "every IPv6 group with the same low 32 bits (33:33 + those bits): 2^88 groups per MAC".to_string()
            }
        }
    }

    fn json(&self) -> String {
        let flags = self.group.v6_flags().map(|f| {
            Json::new()
                .bool("rendezvous_point", f.rendezvous_point)
                .bool("prefix_based", f.prefix_based)
                .bool("transient", f.transient)
                .finish()
        });
        Json::new()
            .str("address", &self.group.ip().to_string())
            .str("family", &self.family.to_lowercase())
            .bool("multicast", true)
            .opt_str("block", self.block.as_deref())
            .str("scope", &self.group.scope().to_string())
            .raw("flags", flags.as_deref().unwrap_or("null"))
            .opt_str("well_known", self.well_known)
            .bool("source_specific", self.ssm)
            .bool("never_forwarded", self.never_forwarded)
            .str("mac", &self.mac)
            .strs("mac_shared_with", self.aliases.iter().map(|a| a.to_string()))
            .int("ttl", self.ttl)
            .str("ttl_advice", &self.ttl_advice)
            .finish()
    }
}

/// The TTL (hop limit) to send a group with, and why: the seed's threshold table read against the scope.
fn ttl_advice(group: Group) -> (u8, String) {
    let v6 = group.is_ipv6();
    match group.scope() {
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
    }
}

/// What a non-multicast address is.
fn unicast_kind(ip: IpAddr) -> &'static str {
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

fn unicast_text(ip: IpAddr) -> String {
    format!("{ip} is not a multicast address: it is {}.\nMulticast groups: {MULTICAST_RANGES}.\n", unicast_kind(ip))
}

fn unicast_json(ip: IpAddr) -> String {
    Json::new()
        .str("address", &ip.to_string())
        .str("family", if ip.is_ipv6() { "ipv6" } else { "ipv4" })
        .bool("multicast", false)
        .str("kind", unicast_kind(ip))
        .str("multicast_ranges", MULTICAST_RANGES)
        .finish()
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
    fn ipv4_facts_come_from_the_group() {
        let f = Facts::of("239.1.2.3".parse().unwrap());
        assert_eq!(f.mac, "01:00:5e:01:02:03");
        assert_eq!(f.aliases.len(), 31);
        assert!(f.mac_sharing().contains("224-239.{1,129}.2.3"), "{}", f.mac_sharing());
        let t = f.text();
        assert!(t.contains("Administratively Scoped Block"), "{t}");
    }

    #[test]
    fn ttl_advice_follows_the_scope() {
        let ttl = |s: &str| ttl_advice(s.parse().unwrap()).0;
        assert_eq!(ttl("224.0.0.251"), 1);
        assert_eq!(ttl("239.255.1.1"), 32);
        assert_eq!(ttl("239.192.0.1"), 64);
        assert_eq!(ttl("ff01::1"), 0);
        assert_eq!(ttl("ff05::1:3"), 1);
    }

    #[test]
    fn unicast_addresses_are_named() {
        assert!(unicast_kind("10.0.0.1".parse().unwrap()).contains("RFC 1918"));
        assert!(unicast_kind("fe80::1".parse().unwrap()).contains("link-local"));
        assert!(unicast_kind("::ffff:1.2.3.4".parse().unwrap()).contains("IPv4-mapped"));
        assert!(unicast_text("10.0.0.1".parse().unwrap()).contains("224.0.0.0/4"));
    }
}
