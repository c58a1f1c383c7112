//! What this host has joined, as the kernel tells it: `/proc/net/igmp`, `/proc/net/igmp6` and their source
//! filters `/proc/net/mcfilter`, `/proc/net/mcfilter6`, decoded into addresses, with the IGMP/MLD version in
//! force on each interface.
//!
//! The parsers are pure and total: any text gives a (possibly empty) list, never a panic; lines that do not
//! have the kernel's shape are skipped. [`read`] reads the files of the calling thread's network namespace
//! (`/proc/thread-self/net`: plain `/proc/net` is the main thread's namespace, which a thread that `setns`-ed
//! elsewhere does not share).
//!
//! The kernel's formats (net/ipv4/igmp.c, net/ipv6/mcast.c):
//!
//! ```text
//! /proc/net/igmp      Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter
//!                     1\tlo        :     1      V3
//!                     \t\t\t\t010000E0     1 0:00000000\t\t0
//! /proc/net/igmp6     1    lo              ff020000000000000000000000000001     1 0000000C 0
//! /proc/net/mcfilter  Idx Device        MCA        SRC    INC    EXC
//!                       2   eth0 0xe8010101 0x0a000001      1      0
//! /proc/net/mcfilter6 Idx Device                Multicast Address                   Source Address    INC    EXC
//!                       2   eth0 ff3e0000000000000000000080000001 20010db8000000000000000000000001      1      0
//! ```
//!
//! `/proc/net/igmp` prints the group's `__be32` as a host-order `%08X`, so on a little-endian machine
//! 224.0.0.1 reads `010000E0`; `mcfilter` passes both addresses through `ntohl` first and reads `0xe0000001`.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{Error, Result};
use crate::socket::Family;

/// A multicast membership protocol and the version a host speaks on an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtocolVersion {
    /// IGMP for IPv4, MLD for IPv6.
    pub family: Family,
    /// 1, 2 or 3 (IGMP); 1 or 2 (MLD). 0 when the kernel has no multicast support (`NONE`).
    pub version: u8,
    /// The version set by `force_igmp_version`/`force_mld_version` (all or per interface), if any. Without it
    /// the host drops to an older version for a while when it hears an older querier.
    pub forced: Option<u8>,
}

impl ProtocolVersion {
    /// "IGMPv3", "MLDv2", ...
    pub fn name(&self) -> String {
        match (self.family, self.version) {
            (_, 0) => "none".to_string(),
            (Family::V4, v) => format!("IGMPv{v}"),
            (Family::V6, v) => format!("MLDv{v}"),
        }
    }

    /// Whether this version can carry source-specific joins (IGMPv3, MLDv2).
    pub fn supports_sources(&self) -> bool {
        match self.family {
            Family::V4 => self.version >= 3,
            Family::V6 => self.version >= 2,
        }
    }
}

/// One source in a group's filter on an interface (`/proc/net/mcfilter`, `/proc/net/mcfilter6`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostSource {
    /// Interface index.
    pub ifindex: u32,
    /// The group.
    pub group: IpAddr,
    /// The source.
    pub source: IpAddr,
    /// Sockets that include this source: source-specific joins (INCLUDE mode).
    pub include: u32,
    /// Sockets that exclude it: blocked in an any-source join (EXCLUDE mode).
    pub exclude: u32,
}

/// One group joined on one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostGroup {
    /// Interface index.
    pub ifindex: u32,
    /// Interface name.
    pub iface: String,
    /// The group.
    pub group: IpAddr,
    /// Claims on the membership: one per socket join, plus the kernel's own (all-hosts, all-nodes,
    /// solicited-node).
    pub users: u32,
    /// A report is scheduled (the host answers a query or repeats an unsolicited report).
    pub timer_running: bool,
    /// This host sent the last report for the group on the link (IGMPv1/v2, MLDv1 report suppression).
    pub last_reporter: bool,
    /// The sources in its filter; empty for plain any-source joins.
    pub sources: Vec<HostSource>,
}

/// An interface with the groups joined on it, for one family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceGroups {
    /// Interface index.
    pub ifindex: u32,
    /// Interface name.
    pub iface: String,
    /// The IGMP or MLD version in force.
    pub version: ProtocolVersion,
    /// Groups joined on it.
    pub groups: Vec<HostGroup>,
}

/// `MAF_TIMER_RUNNING` in `/proc/net/igmp6`'s flags (include/net/if_inet6.h).
const MAF_TIMER_RUNNING: u32 = 0x01;
/// `MAF_LAST_REPORTER`.
const MAF_LAST_REPORTER: u32 = 0x02;

/// Parses `/proc/net/igmp`: per interface, its index, name, the IGMP version in force (the `Querier`
/// column: `V1`/`V2` while an older querier was heard or the version is forced, else `V3`) and its groups.
/// `forced` is left `None`: that comes from sysctl, not this file.
pub fn parse_igmp(text: &str) -> Vec<InterfaceGroups> {
    let mut out: Vec<InterfaceGroups> = Vec::new();
    // Whether group lines belong to the last device in `out`: a line of neither shape ends that device, so
    // its groups are never lent to another.
    let mut in_device = false;
    for line in text.lines() {
        if line.starts_with('\t') {
            let Some(iface) = out.last_mut().filter(|_| in_device) else { continue };
            if let Some(m) = parse_igmp_group(line, iface.ifindex, &iface.iface) {
                iface.groups.push(m);
            }
        } else if let Some(iface) = parse_igmp_device(line) {
            out.push(iface);
            in_device = true;
        } else {
            in_device = false;
        }
    }
    out
}

/// `1\tlo        :     1      V3`
fn parse_igmp_device(line: &str) -> Option<InterfaceGroups> {
    let (head, tail) = line.split_once(':')?;
    let mut h = head.split_whitespace();
    let ifindex: u32 = h.next()?.parse().ok().filter(|&i| i != 0)?;
    let iface = h.next()?.to_string();
    if h.next().is_some() {
        return None;
    }
    let mut t = tail.split_whitespace();
    let _count: u32 = t.next()?.parse().ok()?;
    let version = match t.next()? {
        "V1" => 1,
        "V2" => 2,
        "V3" => 3,
        "NONE" => 0,
        _ => return None,
    };
    Some(InterfaceGroups {
        ifindex,
        iface,
        version: ProtocolVersion { family: Family::V4, version, forced: None },
        groups: Vec::new(),
    })
}

/// `\t\t\t\t010000E0     1 0:00000000\t\t0`
fn parse_igmp_group(line: &str, ifindex: u32, iface: &str) -> Option<HostGroup> {
    let mut f = line.split_whitespace();
    let hex = f.next().filter(|h| h.len() == 8)?;
    let raw = u32::from_str_radix(hex, 16).ok()?;
    let users = f.next()?.parse().ok()?;
    let (running, _delta) = f.next()?.split_once(':')?;
    let reporter = f.next()?;
    Some(HostGroup {
        ifindex,
        iface: iface.to_string(),
        // The kernel printed the network-order word as a host integer: its bytes in memory order are the address.
        group: IpAddr::V4(Ipv4Addr::from(raw.to_ne_bytes())),
        users,
        timer_running: running != "0",
        last_reporter: reporter != "0",
        sources: Vec::new(),
    })
}

/// Parses `/proc/net/igmp6`: `IDX NAME GROUP32HEX USERS FLAGS TIMER`, one membership a line.
pub fn parse_igmp6(text: &str) -> Vec<HostGroup> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [index, name, group, users, flags, _timer] = f.as_slice() else { return None };
            let flags = u32::from_str_radix(flags, 16).ok()?;
            Some(HostGroup {
                ifindex: index.parse().ok().filter(|&i| i != 0)?,
                iface: name.to_string(),
                group: IpAddr::V6(hex6(group)?),
                users: users.parse().ok()?,
                timer_running: flags & MAF_TIMER_RUNNING != 0,
                last_reporter: flags & MAF_LAST_REPORTER != 0,
                sources: Vec::new(),
            })
        })
        .collect()
}

/// Parses `/proc/net/mcfilter`: a header, then `IDX NAME 0xGROUP 0xSOURCE INC EXC` (addresses host order).
pub fn parse_mcfilter(text: &str) -> Vec<HostSource> {
    let hex4 = |s: &str| {
        let h = s.strip_prefix("0x").filter(|h| h.len() == 8)?;
        u32::from_str_radix(h, 16).ok().map(|v| IpAddr::V4(Ipv4Addr::from(v)))
    };
    parse_filters(text, hex4)
}

/// Parses `/proc/net/mcfilter6`: a header, then `IDX NAME GROUP32HEX SOURCE32HEX INC EXC`.
pub fn parse_mcfilter6(text: &str) -> Vec<HostSource> {
    parse_filters(text, |s| hex6(s).map(IpAddr::V6))
}

fn parse_filters(text: &str, addr: impl Fn(&str) -> Option<IpAddr>) -> Vec<HostSource> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // The device name is cut to six bytes ("%6.6s"), so the index is what identifies the interface.
            let [index, _name, group, source, inc, exc] = f.as_slice() else { return None };
            Some(HostSource {
                ifindex: index.parse().ok().filter(|&i| i != 0)?,
                group: addr(group)?,
                source: addr(source)?,
                include: inc.parse().ok()?,
                exclude: exc.parse().ok()?,
            })
        })
        .collect()
}

fn hex6(s: &str) -> Option<Ipv6Addr> {
    if s.len() != 32 {
        return None;
    }
    u128::from_str_radix(s, 16).ok().map(Ipv6Addr::from)
}

/// Groups IPv6 memberships by interface, with `version` for each (MLD's version is not in the file).
pub fn group_by_interface(
    memberships: Vec<HostGroup>,
    version: impl Fn(u32, &str) -> ProtocolVersion,
) -> Vec<InterfaceGroups> {
    let mut out: Vec<InterfaceGroups> = Vec::new();
    for m in memberships {
        match out.iter_mut().find(|i| i.ifindex == m.ifindex) {
            Some(i) => i.groups.push(m),
            None => out.push(InterfaceGroups {
                ifindex: m.ifindex,
                iface: m.iface.clone(),
                version: version(m.ifindex, &m.iface),
                groups: vec![m],
            }),
        }
    }
    out
}

/// Attaches each source filter to the membership it belongs to (same interface and group).
pub fn attach_sources(interfaces: &mut [InterfaceGroups], filters: &[HostSource]) {
    for iface in interfaces.iter_mut() {
        for m in iface.groups.iter_mut() {
            m.sources = filters.iter().filter(|f| f.ifindex == m.ifindex && f.group == m.group).copied().collect();
        }
    }
}

/// The value of a `force_igmp_version`/`force_mld_version` pair (`conf/all`, `conf/IFACE`): `all` wins when
/// set, else the interface's; 0 is "not forced". (For IGMP the kernel honours the lower of two forced
/// versions; `/proc/net/igmp`'s version column shows the result.)
pub fn forced_version(all: Option<u32>, iface: Option<u32>) -> Option<u8> {
    let pick = match (all.unwrap_or(0), iface.unwrap_or(0)) {
        (0, v) => v,
        (a, _) => a,
    };
    u8::try_from(pick).ok().filter(|&v| v != 0)
}

/// The directory holding this thread's namespace's `/proc/net` files.
fn proc_net(file: &str) -> std::io::Result<String> {
    fs::read_to_string(format!("/proc/thread-self/net/{file}"))
        .or_else(|_| fs::read_to_string(format!("/proc/net/{file}")))
}

/// Reads a sysctl under `/proc/sys` (which follows the calling thread's network namespace) as an integer.
pub fn sysctl_u32(path: &str) -> Option<u32> {
    let text = fs::read_to_string(format!("/proc/sys/{}", path.replace('.', "/"))).ok()?;
    text.trim().parse().ok()
}

/// `net/ipv4/conf/IFACE/KEY` for an interface name; the name may contain dots (VLANs: `eth0.100`), which
/// must not be read as path separators.
pub fn conf_u32(family: Family, iface: &str, key: &str) -> Option<u32> {
    let fam = match family {
        Family::V4 => "ipv4",
        Family::V6 => "ipv6",
    };
    let text = fs::read_to_string(format!("/proc/sys/net/{fam}/conf/{iface}/{key}")).ok()?;
    text.trim().parse().ok()
}

/// The version forced on `iface` by `force_igmp_version` or `force_mld_version`, if any.
pub fn forced_on(family: Family, iface: &str) -> Option<u8> {
    let key = match family {
        Family::V4 => "force_igmp_version",
        Family::V6 => "force_mld_version",
    };
    forced_version(conf_u32(family, "all", key), conf_u32(family, iface, key))
}

/// What this host (this thread's network namespace) has joined: IPv4 interfaces first, then IPv6, each with
/// the version in force and the source filters of each group.
pub fn read() -> Result<Vec<InterfaceGroups>> {
    let igmp = proc_net("igmp").map_err(|e| Error::os("read /proc/net/igmp", e))?;
    let mut v4 = parse_igmp(&igmp);
    for i in v4.iter_mut() {
        i.version.forced = forced_on(Family::V4, &i.iface);
    }
    // A kernel without IPv6 has no igmp6: that is no IPv6 memberships, not an error.
    let mut v6 = group_by_interface(parse_igmp6(&proc_net("igmp6").unwrap_or_default()), |_, name| {
        let forced = forced_on(Family::V6, name);
        ProtocolVersion { family: Family::V6, version: forced.unwrap_or(2), forced }
    });
    attach_sources(&mut v4, &parse_mcfilter(&proc_net("mcfilter").unwrap_or_default()));
    attach_sources(&mut v6, &parse_mcfilter6(&proc_net("mcfilter6").unwrap_or_default()));
    v4.append(&mut v6);
    Ok(v4)
}

/// How many memberships of `group` this host holds, over all its interfaces (the `Users` counts of
/// `/proc/net/igmp` or `/proc/net/igmp6`): each socket's join on each interface counts once. `None` when the
/// file cannot be read.
pub fn group_users(group: IpAddr) -> Option<u32> {
    let groups = match group {
        IpAddr::V4(_) => parse_igmp(&proc_net("igmp").ok()?).into_iter().flat_map(|i| i.groups).collect(),
        IpAddr::V6(_) => parse_igmp6(&proc_net("igmp6").ok()?),
    };
    Some(groups.iter().filter(|m| m.group == group).fold(0u32, |n, m| n.saturating_add(m.users)))
}

/// Every membership of this host, flattened (both families).
pub fn memberships() -> Result<Vec<HostGroup>> {
    Ok(read()?.into_iter().flat_map(|i| i.groups).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const IGMP: &str = "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n\
        1\tlo        :     2      V3\n\
        \t\t\t\t030201EF     2 0:00000000\t\t0\n\
        \t\t\t\t010000E0     1 0:00000000\t\t0\n\
        7\tveth-long-name:     1      V2\n\
        \t\t\t\t010000E0     1 1:0000003A\t\t1\n";

    #[cfg(target_endian = "little")]
    #[test]
    fn decodes_igmp_devices_groups_and_versions() {
        let v = parse_igmp(IGMP);
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].ifindex, v[0].iface.as_str(), v[0].version.name()), (1, "lo", "IGMPv3".to_string()));
        let groups: Vec<IpAddr> = v[0].groups.iter().map(|m| m.group).collect();
        assert_eq!(groups, ["239.1.2.3".parse::<IpAddr>().unwrap(), "224.0.0.1".parse().unwrap()]);
        assert_eq!(v[0].groups[0].users, 2);
        assert!(!v[0].groups[0].timer_running && !v[0].groups[0].last_reporter);
        assert_eq!((v[1].ifindex, v[1].iface.as_str(), v[1].version.version), (7, "veth-long-name", 2));
        assert!(v[1].groups[0].timer_running && v[1].groups[0].last_reporter);
        assert!(!v[1].version.supports_sources());
    }

    #[test]
    fn decodes_igmp6() {
        let text = "1    lo              ff020000000000000000000000000001     1 0000000C 0\n\
                    4    eth0            ff0200000000000000000001ff000002     2 00000007 30\n";
        let v = parse_igmp6(text);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].group, "ff02::1".parse::<IpAddr>().unwrap());
        assert_eq!((v[1].ifindex, v[1].iface.as_str(), v[1].users), (4, "eth0", 2));
        assert_eq!(v[1].group, "ff02::1:ff00:2".parse::<IpAddr>().unwrap());
        assert!(v[1].timer_running && v[1].last_reporter && !v[0].timer_running);
        let by_if = group_by_interface(v, |_, _| ProtocolVersion { family: Family::V6, version: 2, forced: None });
        assert_eq!(by_if.len(), 2);
        assert_eq!(by_if[1].version.name(), "MLDv2");
    }

    #[test]
    fn decodes_source_filters_and_attaches_them() {
        let f4 = parse_mcfilter(
            "Idx Device        MCA        SRC    INC    EXC\n  2   eth0 0xe8010101 0x0a000001      1      0\n",
        );
        assert_eq!(f4.len(), 1);
        assert_eq!((f4[0].group, f4[0].source), ("232.1.1.1".parse().unwrap(), "10.0.0.1".parse().unwrap()));
        assert_eq!((f4[0].include, f4[0].exclude), (1, 0));
        let f6 = parse_mcfilter6(
            "Idx Device                Multicast Address                   Source Address    INC    EXC\n  \
             3   eth1 ff3e0000000000000000000080000001 20010db8000000000000000000000001      0      2\n",
        );
        assert_eq!(f6[0].group, "ff3e::8000:1".parse::<IpAddr>().unwrap());
        assert_eq!(f6[0].source, "2001:db8::1".parse::<IpAddr>().unwrap());
        let m = HostGroup {
            ifindex: 2,
            iface: "eth0".into(),
            group: "232.1.1.1".parse().unwrap(),
            users: 1,
            timer_running: false,
            last_reporter: false,
            sources: vec![],
        };
        let mut ifs = vec![InterfaceGroups {
            ifindex: 2,
            iface: "eth0".into(),
            version: ProtocolVersion { family: Family::V4, version: 3, forced: None },
            groups: vec![m],
        }];
        attach_sources(&mut ifs, &f4);
        assert_eq!(ifs[0].groups[0].sources, f4);
    }

    #[test]
    fn garbage_gives_nothing_and_never_panics() {
        let samples = [
            "",
            "\n\n\t",
            "Idx\tDevice\n\t\t\t\tZZZZZZZZ 1 0:0\t\t0\n",
            "\t\t\t\t010000E0     1 0:00000000\t\t0\n",
            "1\tlo :\n",
            "1\tlo : x V3\n",
            "0\tlo : 1 V3\n\t\t\t\t010000E0 1 0:0 0\n",
            "1\tlo : 1 V9\n",
            "x lo ff020000000000000000000000000001 1 0000000C 0\n",
            "1 lo ff02 1 0000000C 0\n",
            "1 lo ff020000000000000000000000000001 1 zz 0\n",
            "1 lo 0xe0000001 0x0a000001 1\n",
            "\u{0}\u{ffff}::::\t\t\t\t",
        ];
        for s in samples {
            assert!(parse_igmp(s).iter().all(|i| i.groups.is_empty()), "{s:?}");
            assert!(parse_igmp6(s).is_empty(), "{s:?}");
            assert!(parse_mcfilter(s).is_empty() && parse_mcfilter6(s).is_empty(), "{s:?}");
        }
        // Every prefix of real text parses without panicking, and never yields more than the whole.
        for cut in 0..IGMP.len() {
            if IGMP.is_char_boundary(cut) {
                assert!(parse_igmp(&IGMP[..cut]).len() <= 2);
            }
        }
    }

    #[test]
    fn a_broken_device_line_does_not_lend_its_groups_to_the_previous_device() {
        let text = "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n\
            1\tlo        :     1      V3\n\
            \t\t\t\t010000E0     1 0:00000000\t\t0\n\
            garbage\n\
            \t\t\t\t030201EF     1 0:00000000\t\t0\n";
        let v = parse_igmp(text);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].groups.len(), 1);
    }

    #[test]
    fn forced_version_follows_the_kernel() {
        assert_eq!(forced_version(Some(0), Some(0)), None);
        assert_eq!(forced_version(None, None), None);
        assert_eq!(forced_version(Some(0), Some(2)), Some(2));
        assert_eq!(forced_version(Some(1), Some(2)), Some(1));
    }
}
