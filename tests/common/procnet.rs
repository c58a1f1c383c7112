//! The kernel's own account of memberships and source filters, read from `/proc/net` inside a namespace.
//!
//! `/proc/net` is `/proc/self/net`, which shows the namespace of the process's main thread, not of a
//! thread that `setns`-ed elsewhere; [`Netns::proc_net`] reads `/proc/thread-self/net` from a thread inside
//! the namespace instead, so the answer is the namespace's.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use mcast::procnet;

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

// The parsing is the library's own (`mcast::procnet`, unit-tested on the kernel's formats); these adapters only
// give each test the one family it asks about.

fn v4(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(_) => None,
    }
}

fn v6(ip: IpAddr) -> Option<Ipv6Addr> {
    match ip {
        IpAddr::V6(a) => Some(a),
        IpAddr::V4(_) => None,
    }
}

fn membership<A>(m: procnet::HostGroup, family: fn(IpAddr) -> Option<A>) -> Option<Membership<A>> {
    Some(Membership { ifindex: m.ifindex, dev: m.iface, group: family(m.group)?, users: m.users })
}

fn filter<A>(f: procnet::HostSource, family: fn(IpAddr) -> Option<A>) -> Option<SourceFilter<A>> {
    Some(SourceFilter {
        ifindex: f.ifindex,
        group: family(f.group)?,
        source: family(f.source)?,
        include: f.include,
        exclude: f.exclude,
    })
}

/// `/proc/net/igmp`, flattened to one entry per (device, group).
pub fn parse_igmp(text: &str) -> Vec<Membership<Ipv4Addr>> {
    procnet::parse_igmp(text).into_iter().flat_map(|i| i.groups).filter_map(|m| membership(m, v4)).collect()
}

/// `/proc/net/igmp6`.
pub fn parse_igmp6(text: &str) -> Vec<Membership<Ipv6Addr>> {
    procnet::parse_igmp6(text).into_iter().filter_map(|m| membership(m, v6)).collect()
}

/// `/proc/net/mcfilter`.
pub fn parse_mcfilter(text: &str) -> Vec<SourceFilter<Ipv4Addr>> {
    procnet::parse_mcfilter(text).into_iter().filter_map(|f| filter(f, v4)).collect()
}

/// `/proc/net/mcfilter6`.
pub fn parse_mcfilter6(text: &str) -> Vec<SourceFilter<Ipv6Addr>> {
    procnet::parse_mcfilter6(text).into_iter().filter_map(|f| filter(f, v6)).collect()
}
