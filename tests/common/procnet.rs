//! The kernel's own account of memberships and source filters, read from `/proc/net` inside a namespace.
//!
//! `/proc/net` is `/proc/self/net`, which shows the namespace of the process's main thread, not of a
//! thread that `setns`-ed elsewhere; [`Netns::proc_net`] reads `/proc/thread-self/net` from a thread inside
//! the namespace instead, so the answer is the namespace's.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::Netns;

/// One line of `/proc/net/igmp` or `/proc/net/igmp6`: a group joined on a device, and how many claims it has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership<A> {
    /// Interface index.
    pub ifindex: u32,
    /// Interface name.
    pub dev: String,
    /// The group.
    pub group: A,
    /// Claims on it: one per socket join, plus the kernel's own (all-hosts, all-nodes).
    pub users: u32,
}

/// One line of `/proc/net/mcfilter` or `/proc/net/mcfilter6`: a source in a group's filter on a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFilter<A> {
    /// Interface index.
    pub ifindex: u32,
    /// The group.
    pub group: A,
    /// The source.
    pub source: A,
    /// Sockets that include this source (source-specific joins).
    pub include: u32,
    /// Sockets that exclude it (blocked in an any-source join).
    pub exclude: u32,
}

impl Netns {
    /// The text of `/proc/net/<file>` as this namespace sees it.
    pub fn proc_net(&self, file: &str) -> String {
        let path = format!("/proc/thread-self/net/{file}");
        self.run(move || std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}")))
    }

    /// IPv4 memberships per device (`/proc/net/igmp`).
    pub fn igmp(&self) -> Vec<Membership<Ipv4Addr>> {
        parse_igmp(&self.proc_net("igmp"))
    }

    /// IPv6 memberships per device (`/proc/net/igmp6`).
    pub fn igmp6(&self) -> Vec<Membership<Ipv6Addr>> {
        parse_igmp6(&self.proc_net("igmp6"))
    }

    /// IPv4 source filters (`/proc/net/mcfilter`).
    pub fn mcfilter(&self) -> Vec<SourceFilter<Ipv4Addr>> {
        parse_mcfilter(&self.proc_net("mcfilter"))
    }

    /// IPv6 source filters (`/proc/net/mcfilter6`).
    pub fn mcfilter6(&self) -> Vec<SourceFilter<Ipv6Addr>> {
        parse_mcfilter6(&self.proc_net("mcfilter6"))
    }

    /// The claims on IPv4 `group` on device `dev`; 0 when the device is not a member.
    pub fn igmp_users(&self, dev: &str, group: Ipv4Addr) -> u32 {
        self.igmp().iter().find(|m| m.dev == dev && m.group == group).map_or(0, |m| m.users)
    }

    /// The claims on IPv6 `group` on device `dev`; 0 when the device is not a member.
    pub fn igmp6_users(&self, dev: &str, group: Ipv6Addr) -> u32 {
        self.igmp6().iter().find(|m| m.dev == dev && m.group == group).map_or(0, |m| m.users)
    }
}

/// `/proc/net/igmp`: a device line `IDX\tNAME : COUNT QUERIER`, then one `\t\t\t\tGROUP USERS TIMER\t\tREPORTER`
/// line per group. The group is the `__be32` printed as a host `u32` with `%08X`, so its bytes in memory order
/// are the address.
pub fn parse_igmp(text: &str) -> Vec<Membership<Ipv4Addr>> {
    let mut out = Vec::new();
    let mut dev: Option<(u32, String)> = None;
    for line in text.lines().skip(1) {
        if !line.starts_with('\t') {
            let mut f = line.split(['\t', ':']).map(str::trim);
            let index = f.next().and_then(|s| s.parse().ok());
            let name = f.next().map(str::to_string);
            dev = index.zip(name);
            continue;
        }
        let mut f = line.split_whitespace();
        let (Some((index, name)), Some(hex), Some(users)) = (&dev, f.next(), f.next()) else { continue };
        let (Ok(raw), Ok(users)) = (u32::from_str_radix(hex, 16), users.parse()) else { continue };
        out.push(Membership { ifindex: *index, dev: name.clone(), group: Ipv4Addr::from(raw.to_ne_bytes()), users });
    }
    out
}

/// `/proc/net/igmp6`: `IDX NAME GROUP32HEX USERS FLAGS TIMER`.
pub fn parse_igmp6(text: &str) -> Vec<Membership<Ipv6Addr>> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [index, dev, group, users, ..] = f.as_slice() else { return None };
            Some(Membership {
                ifindex: index.parse().ok()?,
                dev: dev.to_string(),
                group: hex6(group)?,
                users: users.parse().ok()?,
            })
        })
        .collect()
}

/// `/proc/net/mcfilter`: a header, then `IDX NAME 0xGROUP 0xSOURCE INC EXC` with addresses in host order.
pub fn parse_mcfilter(text: &str) -> Vec<SourceFilter<Ipv4Addr>> {
    let hex4 = |s: &str| u32::from_str_radix(s.strip_prefix("0x")?, 16).ok().map(Ipv4Addr::from);
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [index, _dev, group, source, inc, exc] = f.as_slice() else { return None };
            Some(SourceFilter {
                ifindex: index.parse().ok()?,
                group: hex4(group)?,
                source: hex4(source)?,
                include: inc.parse().ok()?,
                exclude: exc.parse().ok()?,
            })
        })
        .collect()
}

/// `/proc/net/mcfilter6`: a header, then `IDX NAME GROUP32HEX SOURCE32HEX INC EXC`.
pub fn parse_mcfilter6(text: &str) -> Vec<SourceFilter<Ipv6Addr>> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [index, _dev, group, source, inc, exc] = f.as_slice() else { return None };
            Some(SourceFilter {
                ifindex: index.parse().ok()?,
                group: hex6(group)?,
                source: hex6(source)?,
                include: inc.parse().ok()?,
                exclude: exc.parse().ok()?,
            })
        })
        .collect()
}

fn hex6(s: &str) -> Option<Ipv6Addr> {
    (s.len() == 32).then(|| u128::from_str_radix(s, 16).ok().map(Ipv6Addr::from)).flatten()
}
