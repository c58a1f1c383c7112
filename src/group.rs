//! Multicast groups: parsing, validation, scope classification and the Ethernet MAC they map to.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV6};
use std::str::FromStr;

use crate::error::{Error, ErrorKind, Result};

/// The multicast ranges, for error messages that teach.
pub const MULTICAST_RANGES: &str = "IPv4 groups are 224.0.0.0/4 (224.0.0.0-239.255.255.255), IPv6 groups ff00::/8";

/// A validated multicast group, with the UDP port and (IPv6) the zone it was given with.
///
/// Parsing (`str::parse`) wants a port: `239.1.2.3:5000`, `[ff15::1%eth0]:5000`, `[ff02::1%2]:5000`. Text
/// without one is an error that shows the fix ("'239.1.2.3' has no port: write 239.1.2.3:PORT"), so a bare
/// IPv6 address such as `ff02::1:5000` is never taken for a group and a port. Where only the address
/// matters (a raw socket's join, a group's description), [`Group::parse_address`] also takes `239.1.2.3`
/// and `ff02::1%eth0`, with port 0.
///
/// ```
/// use mcast::Group;
/// let g: Group = "239.1.2.3:5000".parse()?;
/// assert_eq!((g.ip().to_string(), g.port()), ("239.1.2.3".to_string(), 5000));
/// assert_eq!(g.v4_block(), Some(mcast::V4Block::AdministrativelyScoped));
///
/// let e = "239.1.2.3".parse::<Group>().unwrap_err();
/// assert!(e.to_string().contains("write 239.1.2.3:PORT"), "{e}");
/// assert_eq!(Group::parse_address("ff02::1:5000")?.port(), 0);
/// # Ok::<(), mcast::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Group {
    ip: IpAddr,
    port: u16,
    scope_id: u32,
}

/// Where an IPv4 group lies in IANA's multicast address space (RFC 5771 and the registry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V4Block {
    /// 224.0.0.0/24: routing protocols and discovery on one link; never forwarded, whatever the TTL.
    LocalNetworkControl,
    /// 224.0.1.0/24: protocol traffic that may be forwarded (NTP, ...).
    InternetworkControl,
    /// 224.0.2.0-224.0.255.255, 224.3.0.0-224.4.255.255, 233.252.0.0/14: assigned ad hoc.
    AdHoc,
    /// 224.2.0.0/16: SDP/SAP session announcements.
    SdpSap,
    /// 232.0.0.0/8: source-specific multicast (RFC 4607); receivers must name the source.
    SourceSpecific,
    /// 233.0.0.0-233.251.255.255: GLOP, 233.AS.AS.x for an autonomous system number (RFC 3180).
    Glop,
    /// 234.0.0.0/8: unicast-prefix-based groups (RFC 6034).
    UnicastPrefixBased,
    /// 239.0.0.0/8: administratively scoped (RFC 2365), kept inside an organisation's boundary.
    AdministrativelyScoped,
    /// Reserved or unassigned space.
    Reserved,
}

/// The scope of a group: how far it is meant to travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// ffx1: this interface only (loopback).
    InterfaceLocal,
    /// ffx2, 224.0.0.0/24: one link.
    LinkLocal,
    /// ffx3.
    RealmLocal,
    /// ffx4: the smallest administratively configured scope.
    AdminLocal,
    /// ffx5, 239.255.0.0/16 (the IPv4 "local scope").
    SiteLocal,
    /// ffx8, 239.192.0.0/14.
    OrganizationLocal,
    /// ffxe, and IPv4 groups outside the scoped blocks.
    Global,
    /// An IPv6 scope nibble without a defined meaning (0, f are reserved; others unassigned).
    Other(u8),
}

impl Group {
    /// A group from an address and port; fails unless `ip` is multicast.
    pub fn new(ip: IpAddr, port: u16) -> Result<Self> {
        Self::with_scope(ip, port, 0)
    }

    /// A group with an IPv6 zone (interface index); the zone is ignored for IPv4.
    pub fn with_scope(ip: IpAddr, port: u16, scope_id: u32) -> Result<Self> {
        if !ip.is_multicast() {
            return Err(Error::new(
                ErrorKind::NotMulticast,
                format!("{ip} is not a multicast address: {MULTICAST_RANGES}"),
            ));
        }
        let scope_id = if ip.is_ipv4() { 0 } else { scope_id };
        Ok(Group { ip, port, scope_id })
    }

    /// Parses `GROUP:PORT` and insists on a port (1-65535); the same as `s.parse()`.
    pub fn parse_with_port(s: &str) -> Result<Self> {
        s.parse()
    }

    /// Parses a group address, with or without a port: `239.1.2.3`, `ff02::1%eth0`, `[ff02::1]`, and every
    /// form `str::parse` takes. A missing port is 0; a bare IPv6 address keeps all its groups of digits
    /// (`ff02::1:5000` is the address ff02::1:5000).
    pub fn parse_address(s: &str) -> Result<Self> {
        parse(s).map(|(g, _)| g)
    }

    /// The group address.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// The UDP port (0 if none was given).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The IPv6 zone (interface index) given with the group, 0 for none.
    pub fn scope_id(&self) -> u32 {
        self.scope_id
    }

    /// The same group on another port.
    pub fn with_port(self, port: u16) -> Self {
        Group { port, ..self }
    }

    /// Whether this is an IPv6 group.
    pub fn is_ipv6(&self) -> bool {
        self.ip.is_ipv6()
    }

    /// The socket address to send to.
    pub fn socket_addr(&self) -> SocketAddr {
        match self.ip {
            IpAddr::V4(_) => SocketAddr::new(self.ip, self.port),
            IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, self.port, 0, self.scope_id)),
        }
    }

    /// Where an IPv4 group lies in IANA's address space; `None` for IPv6.
    pub fn v4_block(&self) -> Option<V4Block> {
        let IpAddr::V4(v4) = self.ip else { return None };
        let [a, b, c, _] = v4.octets();
        Some(match (a, b, c) {
            (224, 0, 0) => V4Block::LocalNetworkControl,
            (224, 0, 1) => V4Block::InternetworkControl,
            (224, 0, _) | (224, 3..=4, _) => V4Block::AdHoc,
            (224, 2, _) => V4Block::SdpSap,
            (232, _, _) => V4Block::SourceSpecific,
            (233, 252..=255, _) => V4Block::AdHoc,
            (233, _, _) => V4Block::Glop,
            (234, _, _) => V4Block::UnicastPrefixBased,
            (239, _, _) => V4Block::AdministrativelyScoped,
            _ => V4Block::Reserved,
        })
    }

    /// The group's scope: the IPv6 scope nibble, or for IPv4 the scope its block implies.
    pub fn scope(&self) -> Scope {
        match self.ip {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                match (a, b, c) {
                    (224, 0, 0) => Scope::LinkLocal,
                    (239, 255, _) => Scope::SiteLocal,
                    (239, 192..=195, _) => Scope::OrganizationLocal,
                    (239, _, _) => Scope::AdminLocal,
                    _ => Scope::Global,
                }
            }
            IpAddr::V6(v6) => match v6.octets()[1] & 0x0f {
                0x1 => Scope::InterfaceLocal,
                0x2 => Scope::LinkLocal,
                0x3 => Scope::RealmLocal,
                0x4 => Scope::AdminLocal,
                0x5 => Scope::SiteLocal,
                0x8 => Scope::OrganizationLocal,
                0xe => Scope::Global,
                n => Scope::Other(n),
            },
        }
    }

    /// IPv6 flags nibble (RFC 4291, 3306, 3956): (R: embedded RP, P: prefix-based, T: transient).
    pub fn v6_flags(&self) -> Option<V6Flags> {
        let IpAddr::V6(v6) = self.ip else { return None };
        let f = v6.octets()[1] >> 4;
        Some(V6Flags { rendezvous_point: f & 0x4 != 0, prefix_based: f & 0x2 != 0, transient: f & 0x1 != 0 })
    }

    /// Source-specific multicast range: 232.0.0.0/8, or ff3x::/96 (RFC 4607).
    pub fn is_source_specific(&self) -> bool {
        match self.ip {
            IpAddr::V4(v4) => v4.octets()[0] == 232,
            IpAddr::V6(v6) => {
                let o = v6.octets();
                o[1] >> 4 == 0x3 && o[2..12].iter().all(|&b| b == 0)
            }
        }
    }

    /// Routers never forward this group: 224.0.0.0/24, or IPv6 interface- and link-local scope.
    pub fn is_never_forwarded(&self) -> bool {
        matches!(self.scope(), Scope::InterfaceLocal | Scope::LinkLocal)
    }

    /// Whether a socket must name an interface to use this group (IPv6 link- and interface-local scope).
    pub fn needs_interface(&self) -> bool {
        self.is_ipv6() && matches!(self.scope(), Scope::InterfaceLocal | Scope::LinkLocal)
    }

    /// The error for a group that [needs an interface](Self::needs_interface) but was given none.
    pub(crate) fn no_interface_error(&self) -> Error {
        Error::new(
            ErrorKind::NeedsInterface,
            format!("{self} is {}-scoped: name the interface, or write the group as {}%IFACE", self.scope(), self.ip),
        )
    }

    /// The Ethernet destination MAC: 01:00:5e + low 23 bits (IPv4, RFC 1112), 33:33 + low 32 bits (IPv6).
    pub fn mac(&self) -> [u8; 6] {
        match self.ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
            }
            IpAddr::V6(v6) => {
                let o = v6.octets();
                [0x33, 0x33, o[12], o[13], o[14], o[15]]
            }
        }
    }

    /// The other IPv4 groups with the same MAC: 5 of the 28 group bits are lost in the mapping, so 32 groups
    /// share each MAC and a NIC's filter lets all of them in. Empty for IPv6 (2^88 groups share each MAC there;
    /// see [`Group::mac`]).
    pub fn mac_aliases(&self) -> Vec<Ipv4Addr> {
        let IpAddr::V4(v4) = self.ip else {
            return Vec::new();
        };
        let o = v4.octets();
        let mut out = Vec::with_capacity(31);
        for first in 224u8..=239 {
            for high in [0u8, 0x80] {
                let alias = Ipv4Addr::new(first, (o[1] & 0x7f) | high, o[2], o[3]);
                if alias != v4 {
                    out.push(alias);
                }
            }
        }
        out
    }

    /// The well-known name of this group, if it has one (224.0.0.1 all-hosts, ff02::fb mDNS, ...).
    pub fn well_known(&self) -> Option<&'static str> {
        match self.ip {
            IpAddr::V4(v4) => WELL_KNOWN_V4.iter().find(|(a, _)| *a == u32::from(v4)).map(|(_, n)| *n),
            IpAddr::V6(v6) => {
                let o = v6.octets();
                if o[1] == 0x02 && o[2..11] == [0; 9] && o[11] == 1 && o[12] == 0xff {
                    return Some("solicited-node (neighbour discovery)");
                }
                // Well-known IPv6 groups are defined per scope: match the group ID with the scope nibble kept.
                WELL_KNOWN_V6.iter().find(|(a, _)| *a == u128::from(v6)).map(|(_, n)| *n)
            }
        }
    }
}

/// The IPv6 multicast flags nibble.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct V6Flags {
    /// R: the address embeds its rendezvous point (RFC 3956).
    pub rendezvous_point: bool,
    /// P: the address is based on a unicast prefix (RFC 3306).
    pub prefix_based: bool,
    /// T: transient (dynamically assigned), not IANA-assigned.
    pub transient: bool,
}

const WELL_KNOWN_V4: &[(u32, &str)] = &[
    (0xe000_0001, "all-hosts (every multicast host joins it)"),
    (0xe000_0002, "all-routers"),
    (0xe000_0004, "DVMRP routers"),
    (0xe000_0005, "OSPF all routers"),
    (0xe000_0006, "OSPF designated routers"),
    (0xe000_0009, "RIPv2 routers"),
    (0xe000_000d, "all PIM routers"),
    (0xe000_0012, "VRRP"),
    (0xe000_0016, "IGMPv3 reports"),
    (0xe000_00fb, "mDNS"),
    (0xe000_00fc, "LLMNR"),
    (0xe000_0101, "NTP"),
    (0xefff_fffa, "SSDP (UPnP)"),
];

const WELL_KNOWN_V6: &[(u128, &str)] = &[
    (0xff01_0000_0000_0000_0000_0000_0000_0001, "all-nodes (interface-local)"),
    (0xff02_0000_0000_0000_0000_0000_0000_0001, "all-nodes"),
    (0xff01_0000_0000_0000_0000_0000_0000_0002, "all-routers (interface-local)"),
    (0xff02_0000_0000_0000_0000_0000_0000_0002, "all-routers"),
    (0xff05_0000_0000_0000_0000_0000_0000_0002, "all-routers (site-local)"),
    (0xff02_0000_0000_0000_0000_0000_0000_0005, "OSPFv3 all routers"),
    (0xff02_0000_0000_0000_0000_0000_0000_0006, "OSPFv3 designated routers"),
    (0xff02_0000_0000_0000_0000_0000_0000_0009, "RIPng routers"),
    (0xff02_0000_0000_0000_0000_0000_0000_000c, "SSDP (UPnP)"),
    (0xff02_0000_0000_0000_0000_0000_0000_000d, "all PIM routers"),
    (0xff02_0000_0000_0000_0000_0000_0000_0016, "MLDv2 reports"),
    (0xff02_0000_0000_0000_0000_0000_0000_00fb, "mDNS"),
    (0xff02_0000_0000_0000_0000_0000_0001_0002, "DHCPv6 relay agents and servers"),
    (0xff05_0000_0000_0000_0000_0000_0001_0003, "DHCPv6 servers"),
];

impl fmt::Display for V4Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            V4Block::LocalNetworkControl => "Local Network Control Block (224.0.0.0/24)",
            V4Block::InternetworkControl => "Internetwork Control Block (224.0.1.0/24)",
            V4Block::AdHoc => "AD-HOC Block",
            V4Block::SdpSap => "SDP/SAP Block (224.2.0.0/16)",
            V4Block::SourceSpecific => "Source-Specific Multicast Block (232.0.0.0/8)",
            V4Block::Glop => "GLOP Block (233.0.0.0/8)",
            V4Block::UnicastPrefixBased => "Unicast-Prefix-based Block (234.0.0.0/8)",
            V4Block::AdministrativelyScoped => "Administratively Scoped Block (239.0.0.0/8)",
            V4Block::Reserved => "reserved/unassigned",
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::InterfaceLocal => f.write_str("interface-local"),
            Scope::LinkLocal => f.write_str("link-local"),
            Scope::RealmLocal => f.write_str("realm-local"),
            Scope::AdminLocal => f.write_str("admin-local"),
            Scope::SiteLocal => f.write_str("site-local"),
            Scope::OrganizationLocal => f.write_str("organization-local"),
            Scope::Global => f.write_str("global"),
            Scope::Other(n) => write!(f, "reserved scope {n:x}"),
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.ip, self.port, self.scope_id) {
            (IpAddr::V4(ip), 0, _) => write!(f, "{ip}"),
            (IpAddr::V4(ip), p, _) => write!(f, "{ip}:{p}"),
            (IpAddr::V6(ip), 0, 0) => write!(f, "{ip}"),
            (IpAddr::V6(ip), 0, z) => write!(f, "{ip}%{}", zone_name(z)),
            (IpAddr::V6(ip), p, 0) => write!(f, "[{ip}]:{p}"),
            (IpAddr::V6(ip), p, z) => write!(f, "[{ip}%{}]:{p}", zone_name(z)),
        }
    }
}

fn zone_name(index: u32) -> String {
    crate::sys::ifconf::index_to_name(index).unwrap_or_else(|_| index.to_string())
}

/// Resolves an IPv6 zone: an interface name or a decimal index, either naming an interface of this network
/// namespace (index 0 is no zone). A missing interface is an error here, as a name is, rather than a bare
/// `ENODEV` from the first socket call that uses it.
fn parse_zone(zone: &str, whole: &str) -> Result<u32> {
    if let Ok(n) = zone.parse::<u32>() {
        if n != 0 && crate::sys::ifconf::index_to_name(n).is_err() {
            return Err(Error::new(
                ErrorKind::UnknownInterface,
                format!("'{whole}': no interface with index {n} for the zone"),
            ));
        }
        return Ok(n);
    }
    crate::sys::ifconf::name_to_index(zone).map_err(|_| {
        Error::new(ErrorKind::UnknownInterface, format!("'{whole}': no interface named '{zone}' for the zone"))
    })
}

impl FromStr for Group {
    type Err = Error;

    /// `GROUP:PORT`; see [`Group`] for the forms, and [`Group::parse_address`] for text without a port.
    fn from_str(s: &str) -> Result<Self> {
        match parse(s)? {
            (g, Some(p)) if p != 0 => Ok(g),
            (g, _) => Err(no_port(s, g)),
        }
    }
}

/// "'239.1.2.3' has no port: write 239.1.2.3:PORT", with the bracketed form for IPv6, and the guess that a
/// bare IPv6 address's last group of digits was meant as the port.
fn no_port(s: &str, g: Group) -> Error {
    let host = g.with_port(0).to_string();
    let mut text = match g.ip {
        IpAddr::V4(_) => format!("'{s}' has no port: write {host}:PORT"),
        IpAddr::V6(_) => format!("'{s}' has no port: write [{host}]:PORT"),
    };
    let last = s.trim().rsplit_once(':').filter(|(a, p)| p.parse::<u16>().is_ok_and(|p| p != 0) && a.contains(':'));
    if let Some((addr, port)) = last.filter(|_| !s.trim().starts_with('[')) {
        if addr.split('%').next().is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok_and(|a| a.is_multicast())) {
            text.push_str(&format!(", or [{addr}]:{port} if {port} is the port"));
        }
    }
    Error::new(ErrorKind::Parse, text)
}

/// Reads every written form of a group: the group (port 0 when none is written) and the port if one is.
fn parse(s: &str) -> Result<(Group, Option<u16>)> {
    let bad = |why: &str| {
        Error::new(
            ErrorKind::Parse,
            format!("'{s}' is not a group: {why} (expected e.g. 239.1.2.3:5000, [ff15::1%eth0]:5000)"),
        )
    };
    let s_trim = s.trim();
    if s_trim.is_empty() {
        return Err(bad("empty"));
    }
    let parse_port = |p: &str| p.parse::<u16>().map_err(|_| bad(&format!("port '{p}' is not 0-65535")));
    let (host, port) = if let Some(rest) = s_trim.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| bad("missing ']'"))?;
        let port = match after {
            "" => None,
            p => Some(parse_port(p.strip_prefix(':').ok_or_else(|| bad("expected ':PORT' after ']'"))?)?),
        };
        (host, port)
    } else if s_trim.matches(':').count() == 1 {
        let (h, p) = s_trim.split_once(':').ok_or_else(|| bad("missing port"))?;
        (h, Some(parse_port(p)?))
    } else {
        (s_trim, None)
    };
    let (addr, zone) = match host.split_once('%') {
        Some((a, z)) => (a, Some(z)),
        None => (host, None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| bad(&format!("'{addr}' is not an IP address")))?;
    let scope_id = match (ip, zone) {
        (IpAddr::V4(_), Some(_)) => return Err(bad("a %zone applies to IPv6 only")),
        (_, Some(z)) => parse_zone(z, s)?,
        (_, None) => 0,
    };
    Ok((Group::with_scope(ip, port.unwrap_or(0), scope_id)?, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> Group {
        Group::parse_address(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(g("239.1.2.3:5000").socket_addr(), "239.1.2.3:5000".parse().unwrap());
        assert_eq!(g("239.1.2.3").port(), 0);
        let v6 = g("[ff15::1%1]:5000");
        assert_eq!((v6.ip(), v6.port(), v6.scope_id()), ("ff15::1".parse().unwrap(), 5000, 1));
        assert_eq!(g("ff02::1%1").scope_id(), 1, "lo is index 1 in every namespace");
        assert_eq!(g("[ff02::1%0]:7").scope_id(), 0, "zone 0 is no zone");
        assert_eq!(g("[ff02::1]").port(), 0);
        assert_eq!(g("ff02::1:5000").port(), 0, "a bare IPv6 address keeps its last group");
        assert_eq!(g("[ff15::1%lo]:9").scope_id(), crate::sys::ifconf::name_to_index("lo").unwrap());
        for s in ["239.1.2.3:5000", "[ff15::1%1]:5000", "[ff02::1%0]:7"] {
            assert_eq!(s.parse::<Group>().unwrap(), g(s), "{s}");
        }
    }

    #[test]
    fn parsing_without_a_port_is_an_error_that_shows_the_fix() {
        for (s, fix) in [
            ("239.1.2.3", "'239.1.2.3' has no port: write 239.1.2.3:PORT"),
            ("239.1.2.3:0", "'239.1.2.3:0' has no port: write 239.1.2.3:PORT"),
            ("[ff15::1]", "'[ff15::1]' has no port: write [ff15::1]:PORT"),
            ("ff02::1%lo", "'ff02::1%lo' has no port: write [ff02::1%lo]:PORT"),
            (
                "ff02::1:5000",
                "'ff02::1:5000' has no port: write [ff02::1:5000]:PORT, or [ff02::1]:5000 if 5000 is the port",
            ),
        ] {
            let e = s.parse::<Group>().unwrap_err();
            assert_eq!((e.kind(), e.to_string()), (ErrorKind::Parse, fix.to_string()), "{s}");
        }
        assert!(Group::parse_with_port("239.1.2.3").unwrap_err().to_string().contains("has no port"));
    }

    #[test]
    fn refuses_non_multicast_naming_the_ranges() {
        for s in ["10.0.0.1:5000", "[2001:db8::1]:5000", "255.255.255.255:1", "127.0.0.1"] {
            let e = Group::parse_address(s).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::NotMulticast, "{s}");
            assert!(e.to_string().contains("224.0.0.0/4") && e.to_string().contains("ff00::/8"), "{e}");
        }
    }

    #[test]
    fn refuses_malformed_text() {
        for s in [
            "",
            "239.1.2.3:",
            "239.1.2.3:70000",
            "239.1.2.3:x",
            "[ff02::1",
            "[ff02::1]5000",
            "foo:1",
            "239.1.2.3%eth0:1",
            "ff02::1%no-such-if0",
        ] {
            let e = Group::parse_address(s).unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::Parse | ErrorKind::UnknownInterface), "{s}: {e:?}");
        }
    }

    #[test]
    fn refuses_a_zone_index_with_no_interface() {
        // The kernel's indexes are positive ints, handed out counting up from 1: the largest is never reached,
        // and one past it cannot be.
        for (s, index) in [("[ff02::1%2147483647]:5000", i32::MAX as u32), ("ff02::1%4294967295", u32::MAX)] {
            let e = Group::parse_address(s).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::UnknownInterface, "{s}");
            assert_eq!(e.to_string(), format!("'{s}': no interface with index {index} for the zone"));
        }
    }

    #[test]
    fn classifies_ipv4_blocks_and_scopes() {
        assert_eq!(g("224.0.0.251").v4_block(), Some(V4Block::LocalNetworkControl));
        assert!(g("224.0.0.1").is_never_forwarded());
        assert!(!g("224.0.1.1").is_never_forwarded());
        assert_eq!(g("232.1.1.1").v4_block(), Some(V4Block::SourceSpecific));
        assert!(g("232.1.1.1").is_source_specific());
        assert_eq!(g("233.1.2.3").v4_block(), Some(V4Block::Glop));
        assert_eq!(g("239.1.2.3").v4_block(), Some(V4Block::AdministrativelyScoped));
        assert_eq!(g("239.255.0.1").scope(), Scope::SiteLocal);
        assert_eq!(g("239.192.0.1").scope(), Scope::OrganizationLocal);
        assert_eq!(g("225.1.1.1").v4_block(), Some(V4Block::Reserved));
        assert_eq!(g("224.0.0.1").well_known(), Some("all-hosts (every multicast host joins it)"));
    }

    #[test]
    fn classifies_ipv6_scope_and_flags() {
        assert_eq!(g("ff01::1").scope(), Scope::InterfaceLocal);
        assert_eq!(g("ff02::1").scope(), Scope::LinkLocal);
        assert_eq!(g("ff05::1:3").scope(), Scope::SiteLocal);
        assert_eq!(g("ff08::1").scope(), Scope::OrganizationLocal);
        assert_eq!(g("ff0e::1").scope(), Scope::Global);
        assert!(g("ff15::1").v6_flags().unwrap().transient);
        assert!(g("ff3e::8000:1").is_source_specific());
        assert!(!g("ff1e::1").is_source_specific());
        assert!(g("ff02::1").needs_interface() && !g("ff05::1").needs_interface());
        assert_eq!(g("ff02::1:ff00:1234").well_known(), Some("solicited-node (neighbour discovery)"));
    }

    #[test]
    fn maps_to_ethernet_macs_and_lists_aliases() {
        assert_eq!(g("239.129.2.3").mac(), [0x01, 0x00, 0x5e, 0x01, 0x02, 0x03]);
        assert_eq!(g("224.1.2.3").mac(), g("239.129.2.3").mac());
        let aliases = g("239.1.2.3").mac_aliases();
        assert_eq!(aliases.len(), 31);
        assert!(aliases.contains(&Ipv4Addr::new(224, 1, 2, 3)));
        assert!(aliases.contains(&Ipv4Addr::new(238, 129, 2, 3)));
        assert!(aliases.iter().all(|a| Group::new(IpAddr::V4(*a), 0).unwrap().mac() == g("239.1.2.3").mac()));
        assert_eq!(g("ff02::1:ff00:1234").mac(), [0x33, 0x33, 0xff, 0x00, 0x12, 0x34]);
    }

    #[test]
    fn displays_in_the_form_it_parses() {
        for s in ["239.1.2.3:5000", "239.1.2.3", "[ff15::1]:5000", "ff02::1", "[ff02::1%lo]:7"] {
            assert_eq!(g(s).to_string(), s);
        }
    }
}
