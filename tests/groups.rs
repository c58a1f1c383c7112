//! What the host has joined (`mcast::procnet`, `mcast groups`): joins made by the test appear, decoded, on
//! the interface they were made on, with their sources and the version in force; leaves make them disappear.
//!
//! Topology: one namespace; IPv4 joins on `lo`, IPv6 joins on `va` of a veth pair `va`/`vb` inside it.

mod common;

use std::net::IpAddr;

use common::*;
use mcast::__private::json::Json;
use mcast::procnet::{self, HostGroup, InterfaceGroups};
use mcast::{Family, McastSocket};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The memberships of `group` on interface `ifname`, as this namespace's kernel reports them.
fn find<'a>(list: &'a [InterfaceGroups], ifname: &str, family: Family, group: &str) -> Option<&'a HostGroup> {
    list.iter()
        .filter(|i| i.iface == ifname && i.version.family == family)
        .flat_map(|i| i.groups.iter())
        .find(|m| m.group == ip(group))
}

fn socket(family: Family) -> McastSocket {
    McastSocket::udp(family).unwrap()
}

/// `mcast groups ARGS --json` in the namespace: one parsed object per line.
fn cli(ns: &Netns, args: &[&str]) -> Vec<Json> {
    let out = ns.command(env!("CARGO_BIN_EXE_mcast")).arg("groups").args(args).arg("--json").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().map(|l| Json::parse(l).unwrap_or_else(|| panic!("not JSON: {l}"))).collect()
}

fn cli_groups(objs: &[Json], ifname: &str) -> Vec<(String, u64)> {
    objs.iter()
        .filter(|o| o.get("name").and_then(Json::as_str) == Some(ifname))
        .flat_map(|o| o.get("groups").map(Json::items).unwrap_or_default().iter())
        .map(|g| {
            let addr = g.get("group").and_then(Json::as_str).unwrap_or_default().to_string();
            (addr, g.get("users").and_then(Json::as_u64).unwrap_or(0))
        })
        .collect()
}

#[test]
fn joins_appear_with_their_interface_users_and_sources_and_leaves_disappear() {
    needs_root!();
    let ns = Netns::new("groups");
    veth_pair_in(&ns, "va", "vb");
    let (lo, va) = (ns.ifindex("lo"), ns.ifindex("va"));
    // Two sockets join 239.3.3.3 on lo (two users), one joins 232.3.3.3 from 127.0.0.2 only (SSM), one joins
    // ff15::33 on va and one ff3e::8000:33 from 2001:db8::7 on va.
    let held = ns.run(move || {
        let a = socket(Family::V4);
        a.join_group(ip("239.3.3.3"), lo).unwrap();
        a.join_source_group(ip("232.3.3.3"), ip("127.0.0.2"), lo).unwrap();
        let b = socket(Family::V4);
        b.join_group(ip("239.3.3.3"), lo).unwrap();
        let c = socket(Family::V6);
        c.join_group(ip("ff15::33"), va).unwrap();
        c.join_source_group(ip("ff3e::8000:33"), ip("2001:db8::7"), va).unwrap();
        (a, b, c)
    });
    let list = ns.run(|| procnet::read().unwrap());
    let m = find(&list, "lo", Family::V4, "239.3.3.3").expect("239.3.3.3 on lo");
    assert_eq!((m.ifindex, m.users), (lo, 2));
    assert!(m.sources.is_empty());
    let ssm = find(&list, "lo", Family::V4, "232.3.3.3").expect("232.3.3.3 on lo");
    assert_eq!(ssm.sources.len(), 1);
    assert_eq!((ssm.sources[0].source, ssm.sources[0].include, ssm.sources[0].exclude), (ip("127.0.0.2"), 1, 0));
    assert_eq!(find(&list, "va", Family::V6, "ff15::33").expect("ff15::33 on va").users, 1);
    let ssm6 = find(&list, "va", Family::V6, "ff3e::8000:33").expect("ff3e::8000:33 on va");
    assert_eq!(ssm6.sources.iter().map(|s| s.source).collect::<Vec<_>>(), [ip("2001:db8::7")]);
    assert!(find(&list, "vb", Family::V6, "ff15::33").is_none(), "joined on va only");
    let lo_v4 = list.iter().find(|i| i.iface == "lo" && i.version.family == Family::V4).unwrap();
    assert_eq!((lo_v4.version.name(), lo_v4.version.forced), ("IGMPv3".to_string(), None));
    let va_v6 = list.iter().find(|i| i.iface == "va" && i.version.family == Family::V6).unwrap();
    assert_eq!(va_v6.version.name(), "MLDv2");

    // The command shows the same, decoded.
    let objs = cli(&ns, &[]);
    assert!(cli_groups(&objs, "lo").contains(&("239.3.3.3".to_string(), 2)), "{objs:?}");
    assert!(cli_groups(&objs, "va").contains(&("ff15::33".to_string(), 1)), "{objs:?}");
    for six in ["-6", "--ipv6"] {
        let only_v6 = cli(&ns, &[six, "--iface", "va"]);
        assert!(!only_v6.is_empty() && only_v6.iter().all(|o| o.get("family").and_then(Json::as_str) == Some("ipv6")));
        assert!(cli_groups(&only_v6, "lo").is_empty());
    }

    // Leaves: one of two users goes, then the other, and the rest. (Explicit leaves, not closes: a child that
    // another test forks meanwhile holds every descriptor until it execs, memberships included.)
    let (a, b, c) = held;
    b.leave_group(ip("239.3.3.3"), lo).unwrap();
    let list = ns.run(|| procnet::read().unwrap());
    assert_eq!(find(&list, "lo", Family::V4, "239.3.3.3").map(|m| m.users), Some(1));
    a.leave_group(ip("239.3.3.3"), lo).unwrap();
    a.leave_source_group(ip("232.3.3.3"), ip("127.0.0.2"), lo).unwrap();
    c.leave_group(ip("ff15::33"), va).unwrap();
    c.leave_source_group(ip("ff3e::8000:33"), ip("2001:db8::7"), va).unwrap();
    let list = ns.run(|| procnet::read().unwrap());
    for (ifname, family, g) in [
        ("lo", Family::V4, "239.3.3.3"),
        ("lo", Family::V4, "232.3.3.3"),
        ("va", Family::V6, "ff15::33"),
        ("va", Family::V6, "ff3e::8000:33"),
    ] {
        assert!(find(&list, ifname, family, g).is_none(), "{g} still joined on {ifname}");
    }
    let objs = cli(&ns, &[]);
    assert!(!cli_groups(&objs, "lo").iter().any(|(g, _)| g == "239.3.3.3"), "{objs:?}");
    // The kernel's own memberships stay.
    assert!(cli_groups(&objs, "lo").contains(&("224.0.0.1".to_string(), 1)), "{objs:?}");
}

#[test]
fn a_forced_igmp_version_shows() {
    needs_root!();
    let ns = Netns::new("groupsforce");
    ns.sysctl("net.ipv4.conf.lo.force_igmp_version", "2");
    let list = ns.run(|| procnet::read().unwrap());
    let lo = list.iter().find(|i| i.iface == "lo" && i.version.family == Family::V4).expect("lo in /proc/net/igmp");
    assert_eq!((lo.version.version, lo.version.forced), (2, Some(2)));
    let out = ns.command(env!("CARGO_BIN_EXE_mcast")).args(["groups", "-4"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("lo (#1) IGMPv2 (forced to v2)\n"), "{text}");
    assert!(text.contains("224.0.0.1  01:00:5e:00:00:01  users 1"), "{text}");
    let bad = ns.command(env!("CARGO_BIN_EXE_mcast")).args(["groups", "--iface", "nosuch0"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown interface 'nosuch0'"));
}
