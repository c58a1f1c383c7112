//! Network interfaces: listed with `SIOCGIFCONF`/`SIOCGIFFLAGS`, named by name, index or address.

use std::fmt;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::error::{Error, ErrorKind, Result};
use crate::sys;

/// An interface as the kernel describes it.
///
/// ```
/// use mcast::Interface;
/// let lo = Interface::by_name("lo")?;
/// assert!(lo.is_loopback() && lo.is_up());
/// assert_eq!(lo.to_string(), "lo");
/// assert!(Interface::list()?.iter().any(|i| i.index == lo.index));
/// # Ok::<(), mcast::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Interface {
    /// Name, e.g. `lo`, `eth0`.
    pub name: String,
    /// Index (`if_nametoindex`).
    pub index: u32,
    /// `IFF_*` flags (`SIOCGIFFLAGS`).
    pub flags: u32,
    /// MTU (`SIOCGIFMTU`), 0 if unknown.
    pub mtu: u32,
    /// IPv4 addresses (`SIOCGIFCONF`).
    pub ipv4: Vec<Ipv4Addr>,
    /// IPv6 addresses (`/proc/net/if_inet6`).
    pub ipv6: Vec<Ipv6Addr>,
}

impl Interface {
    /// `IFF_UP`: administratively up.
    pub fn is_up(&self) -> bool {
        self.flags & libc::IFF_UP as u32 != 0
    }

    /// `IFF_RUNNING`: the link is operational.
    pub fn is_running(&self) -> bool {
        self.flags & libc::IFF_RUNNING as u32 != 0
    }

    /// `IFF_MULTICAST`: the driver supports multicast; without it joins and sends fail or go nowhere.
    pub fn is_multicast(&self) -> bool {
        self.flags & libc::IFF_MULTICAST as u32 != 0
    }

    /// `IFF_LOOPBACK`.
    pub fn is_loopback(&self) -> bool {
        self.flags & libc::IFF_LOOPBACK as u32 != 0
    }

    /// The flags as names, as `ip link` shows them.
    pub fn flag_names(&self) -> Vec<&'static str> {
        const NAMES: &[(libc::c_int, &str)] = &[
            (libc::IFF_UP, "UP"),
            (libc::IFF_BROADCAST, "BROADCAST"),
            (libc::IFF_LOOPBACK, "LOOPBACK"),
            (libc::IFF_POINTOPOINT, "POINTOPOINT"),
            (libc::IFF_RUNNING, "RUNNING"),
            (libc::IFF_NOARP, "NOARP"),
            (libc::IFF_PROMISC, "PROMISC"),
            (libc::IFF_ALLMULTI, "ALLMULTI"),
            (libc::IFF_MULTICAST, "MULTICAST"),
        ];
        NAMES.iter().filter(|(bit, _)| self.flags & *bit as u32 != 0).map(|(_, n)| *n).collect()
    }

    /// The first IPv4 address, used where an option wants an interface by address (`ip_mreq`).
    pub fn first_ipv4(&self) -> Option<Ipv4Addr> {
        self.ipv4.first().copied()
    }

    /// Every interface on this host (in this network namespace), in index order.
    ///
    /// `if_nameindex` gives every interface, even those without addresses; `SIOCGIFCONF` adds IPv4
    /// addresses (it knows no others); IPv6 addresses come from `/proc/net/if_inet6`, since neither ioctl
    /// reports them.
    pub fn list() -> Result<Vec<Interface>> {
        let fd = sys::socket::socket(libc::AF_INET, libc::SOCK_DGRAM, 0)
            .map_err(|e| Error::os("socket(AF_INET, SOCK_DGRAM) for interface ioctls", e))?;
        let names = sys::ifconf::name_index().map_err(|e| Error::os("if_nameindex", e))?;
        let v4 = sys::ifconf::ifconf_ipv4(std::os::fd::AsFd::as_fd(&fd)).map_err(|e| Error::os("SIOCGIFCONF", e))?;
        let v6 = read_if_inet6();
        let mut out = Vec::with_capacity(names.len());
        for (index, name) in names {
            // An interface can vanish between the listing and this call; skip it rather than fail the list.
            let Ok(flags) = sys::ifconf::if_flags(std::os::fd::AsFd::as_fd(&fd), &name) else {
                continue;
            };
            let mtu = sys::ifconf::if_mtu(std::os::fd::AsFd::as_fd(&fd), &name).unwrap_or(0);
            // SIOCGIFCONF names aliases "eth0:1"; they belong to eth0.
            let ipv4 = v4.iter().filter(|(n, _)| n.split(':').next() == Some(&name)).map(|(_, a)| *a).collect();
            let ipv6 = v6.iter().filter(|(i, _)| *i == index).map(|(_, a)| *a).collect();
            out.push(Interface { name, index, flags, mtu, ipv4, ipv6 });
        }
        out.sort_by_key(|i| i.index);
        Ok(out)
    }

    /// The interface with this name.
    pub fn by_name(name: &str) -> Result<Interface> {
        Self::list()?.into_iter().find(|i| i.name == name).ok_or_else(|| unknown(name))
    }

    /// The interface with this index.
    pub fn by_index(index: u32) -> Result<Interface> {
        Self::list()?.into_iter().find(|i| i.index == index).ok_or_else(|| unknown(&index.to_string()))
    }

    /// The interface that has this address.
    pub fn by_addr(addr: IpAddr) -> Result<Interface> {
        Self::list()?
            .into_iter()
            .find(|i| match addr {
                IpAddr::V4(a) => i.ipv4.contains(&a),
                IpAddr::V6(a) => i.ipv6.contains(&a),
            })
            .ok_or_else(|| unknown(&addr.to_string()))
    }
}

fn unknown(what: &str) -> Error {
    let known =
        Interface::list().map(|l| l.iter().map(|i| i.name.clone()).collect::<Vec<_>>().join(", ")).unwrap_or_default();
    Error::new(ErrorKind::UnknownInterface, format!("unknown interface '{what}' (this host has: {known})"))
}

/// `/proc/net/if_inet6`: one line per address, `ADDR32HEX IFINDEX PLEN SCOPE FLAGS NAME`.
///
/// `/proc/net` is the main thread's namespace; `/proc/thread-self/net` is the calling thread's, which is the
/// one the ioctls above see when a thread has `setns`-ed into another namespace.
fn read_if_inet6() -> Vec<(u32, Ipv6Addr)> {
    let Ok(text) =
        fs::read_to_string("/proc/thread-self/net/if_inet6").or_else(|_| fs::read_to_string("/proc/net/if_inet6"))
    else {
        return Vec::new();
    };
    parse_if_inet6(&text)
}

fn parse_if_inet6(text: &str) -> Vec<(u32, Ipv6Addr)> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let hex = f.next()?;
            let index = u32::from_str_radix(f.next()?, 16).ok()?;
            let bits = u128::from_str_radix(hex, 16).ok().filter(|_| hex.len() == 32)?;
            Some((index, Ipv6Addr::from(bits)))
        })
        .collect()
}

/// How a user names an interface: `eth0`, `2`, `192.168.1.10`, `fe80::1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IfaceSpec {
    /// By name.
    Name(String),
    /// By index.
    Index(u32),
    /// By one of its addresses.
    Addr(IpAddr),
}

impl IfaceSpec {
    /// Looks the interface up.
    pub fn resolve(&self) -> Result<Interface> {
        match self {
            IfaceSpec::Name(n) => Interface::by_name(n),
            IfaceSpec::Index(i) => Interface::by_index(*i),
            IfaceSpec::Addr(a) => Interface::by_addr(*a),
        }
    }
}

impl FromStr for IfaceSpec {
    type Err = Error;

    /// A name, a decimal index or an address; refuses what no interface can be called (empty, 16 bytes or
    /// more, a '/' or a space).
    fn from_str(s: &str) -> Result<Self> {
        if s.is_empty() {
            return Err(Error::new(ErrorKind::Parse, "empty interface: give a name, index or address"));
        }
        let spec = IfaceSpec::from(s);
        if matches!(spec, IfaceSpec::Name(_)) && (s.len() >= sys::ifconf::IFNAMSIZ || s.contains(['/', ' ', '\0'])) {
            return Err(Error::new(
                ErrorKind::UnknownInterface,
                format!("'{s}' cannot be an interface name (at most 15 bytes, no '/' or spaces)"),
            ));
        }
        Ok(spec)
    }
}

/// `"eth0"`, `"2"`, `"192.168.1.10"`: a decimal index or an address when it reads as one, else a name.
/// Nothing is refused here; a name no interface has fails when it is looked up (at `build()`).
impl From<&str> for IfaceSpec {
    fn from(s: &str) -> Self {
        if let Ok(i) = s.parse::<u32>() {
            return IfaceSpec::Index(i);
        }
        match s.parse::<IpAddr>() {
            Ok(a) => IfaceSpec::Addr(a),
            Err(_) => IfaceSpec::Name(s.to_string()),
        }
    }
}

impl From<&String> for IfaceSpec {
    fn from(s: &String) -> Self {
        IfaceSpec::from(s.as_str())
    }
}

impl From<String> for IfaceSpec {
    fn from(s: String) -> Self {
        IfaceSpec::from(s.as_str())
    }
}

/// An interface index.
impl From<u32> for IfaceSpec {
    fn from(index: u32) -> Self {
        IfaceSpec::Index(index)
    }
}

/// One of the interface's addresses.
impl From<IpAddr> for IfaceSpec {
    fn from(addr: IpAddr) -> Self {
        IfaceSpec::Addr(addr)
    }
}

impl From<Ipv4Addr> for IfaceSpec {
    fn from(addr: Ipv4Addr) -> Self {
        IfaceSpec::Addr(addr.into())
    }
}

impl From<Ipv6Addr> for IfaceSpec {
    fn from(addr: Ipv6Addr) -> Self {
        IfaceSpec::Addr(addr.into())
    }
}

/// An interface already looked up, by its index.
impl From<&Interface> for IfaceSpec {
    fn from(iface: &Interface) -> Self {
        IfaceSpec::Index(iface.index)
    }
}

/// Its name, as `ip link` shows it: `eth0`.
impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl fmt::Display for IfaceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IfaceSpec::Name(n) => f.write_str(n),
            IfaceSpec::Index(i) => write!(f, "#{i}"),
            IfaceSpec::Addr(a) => write!(f, "{a}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_if_inet6_lines() {
        let text = "00000000000000000000000000000001 01 80 10 80       lo\n\
                    fe800000000000000000000000000001 02 40 20 80     eth0\nbroken line\n";
        let v = parse_if_inet6(text);
        assert_eq!(v, vec![(1, Ipv6Addr::LOCALHOST), (2, "fe80::1".parse().unwrap())]);
    }

    #[test]
    fn specs_parse_by_kind() {
        assert_eq!("lo".parse::<IfaceSpec>().unwrap(), IfaceSpec::Name("lo".into()));
        assert_eq!("3".parse::<IfaceSpec>().unwrap(), IfaceSpec::Index(3));
        assert_eq!("127.0.0.1".parse::<IfaceSpec>().unwrap(), IfaceSpec::Addr("127.0.0.1".parse().unwrap()));
        assert!("x".repeat(16).parse::<IfaceSpec>().is_err());
    }

    #[test]
    fn lists_loopback_with_its_flags() {
        let lo = Interface::list().unwrap().into_iter().find(|i| i.is_loopback()).expect("a loopback interface");
        assert_eq!(lo.index, sys::ifconf::name_to_index(&lo.name).unwrap());
        assert!(lo.flag_names().contains(&"LOOPBACK"));
        assert_eq!(Interface::by_index(lo.index).unwrap().name, lo.name);
        let e = Interface::by_name("nosuchif0").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownInterface);
        assert!(e.to_string().contains(&lo.name), "{e}");
    }

    #[test]
    fn names_indexes_and_addresses_convert_without_parsing_by_hand() {
        assert_eq!(IfaceSpec::from("eth0"), IfaceSpec::Name("eth0".into()));
        assert_eq!(IfaceSpec::from("2"), IfaceSpec::Index(2));
        assert_eq!(IfaceSpec::from("fe80::1"), IfaceSpec::Addr("fe80::1".parse().unwrap()));
        assert_eq!(IfaceSpec::from(7u32), IfaceSpec::Index(7));
        assert_eq!(IfaceSpec::from(Ipv4Addr::LOCALHOST), IfaceSpec::Addr(Ipv4Addr::LOCALHOST.into()));
        for s in ["eth0", "2", "10.0.0.1", "fe80::1"] {
            assert_eq!(s.parse::<IfaceSpec>().unwrap(), IfaceSpec::from(s), "{s}");
        }
        assert!("a/b".parse::<IfaceSpec>().is_err() && "".parse::<IfaceSpec>().is_err());
        let lo = Interface::by_name("lo").unwrap();
        assert_eq!(IfaceSpec::from(&lo).resolve().unwrap(), lo);
        assert_eq!(lo.to_string(), "lo");
    }
}
