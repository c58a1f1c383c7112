//! The request-struct options: `IP_MULTICAST_IF`, joins, leaves and source filters, checked against the
//! kernel's own tables (`/proc/net/igmp`, `igmp6`, `mcfilter`, `mcfilter6`) in the test's namespace, and the
//! errors for a wrong join: twice, a leave without a join, a unicast group, an interface that does not exist.
//!
//! Topology: one namespace from [`Netns::new`] per test (`lo` up, MULTICAST, 127.0.0.1, ::1); no traffic.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;

use common::procnet::SourceFilter;
use common::Netns;
use mcast::{ErrorKind, Family, Group, IfaceSpec, Interface, McastSocket, Receiver, Sender};

const LO: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// An any-source group (administratively scoped).
const G: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 3);
/// A source-specific group (232/8).
const SSM: Ipv4Addr = Ipv4Addr::new(232, 1, 1, 1);
/// A source that never sends (TEST-NET-1).
const S: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 7);
/// An any-source IPv6 group (site-local scope).
const G6: Ipv6Addr = Ipv6Addr::new(0xff15, 0, 0, 0, 0, 0, 0, 0x1234);
/// A source-specific IPv6 group (ff3x::/96).
const SSM6: Ipv6Addr = Ipv6Addr::new(0xff3e, 0, 0, 0, 0, 0, 0, 0x4321);
/// An IPv6 source that never sends (documentation prefix).
const S6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7);

fn udp4() -> McastSocket {
    McastSocket::udp(Family::V4).expect("AF_INET SOCK_DGRAM")
}

fn udp6() -> McastSocket {
    McastSocket::udp(Family::V6).expect("AF_INET6 SOCK_DGRAM")
}

fn lo() -> u32 {
    Interface::by_name("lo").expect("lo").index
}

/// `IP_MULTICAST_IF` as the kernel reports it, read as raw bytes.
fn kernel_multicast_if(s: &McastSocket) -> Ipv4Addr {
    let raw =
        mcast::__private::sys::sockopt::getsockopt::<libc::c_uint>(s.as_fd(), libc::IPPROTO_IP, libc::IP_MULTICAST_IF)
            .expect("getsockopt IP_MULTICAST_IF");
    Ipv4Addr::from(raw.to_ne_bytes())
}

/// Asserts an `Os` error with `errno` whose text contains every one of `words`.
fn assert_os_error<T: std::fmt::Debug>(r: mcast::Result<T>, errno: i32, words: &[&str]) {
    let e = r.expect_err("the kernel must refuse this");
    assert_eq!(e.kind(), ErrorKind::Os, "{e}");
    assert_eq!(e.raw_os_error(), Some(errno), "{e}");
    let text = e.to_string();
    for w in words {
        assert!(text.contains(w), "{text:?} should name {w:?}");
    }
}

// ---- IP_MULTICAST_IF -------------------------------------------------------------------------------------

/// ip(7) IP_MULTICAST_IF: set by local address, read back as that address; INADDR_ANY reverts.
#[test]
fn ip_multicast_if_by_address() {
    needs_root!();
    Netns::new("mif").run(|| {
        let s = udp4();
        assert_eq!(s.multicast_if_v4().unwrap(), Ipv4Addr::UNSPECIFIED, "default: the route's choice");
        s.set_multicast_if_v4(LO).unwrap();
        assert_eq!(s.multicast_if_v4().unwrap(), LO);
        assert_eq!(kernel_multicast_if(&s), LO);
        s.set_multicast_if_v4(Ipv4Addr::UNSPECIFIED).unwrap();
        assert_eq!(kernel_multicast_if(&s), Ipv4Addr::UNSPECIFIED);
    });
}

/// ip(7) IP_MULTICAST_IF with an `ip_mreqn`: Linux keeps the index but reports only the address, which is
/// 0.0.0.0 when the interface was named by index alone.
#[test]
fn ip_multicast_if_by_index_reads_back_as_0_0_0_0() {
    needs_root!();
    Netns::new("mif").run(|| {
        let s = udp4();
        s.set_multicast_if_v4(LO).unwrap();
        s.set_multicast_if_v4_index(lo()).unwrap();
        assert_eq!(s.multicast_if_v4().unwrap(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(kernel_multicast_if(&s), Ipv4Addr::UNSPECIFIED);
    });
}

/// An address no interface has is refused by the kernel; the error names the option and the address.
#[test]
fn ip_multicast_if_refuses_a_foreign_address() {
    needs_root!();
    Netns::new("mif").run(|| {
        let s = udp4();
        assert_os_error(s.set_multicast_if_v4(S), libc::EADDRNOTAVAIL, &["IP_MULTICAST_IF", "192.0.2.7"]);
        assert_os_error(s.set_multicast_if_v4_index(4242), libc::EADDRNOTAVAIL, &["IP_MULTICAST_IF", "4242"]);
        // Linux answered ENODEV before 6.x moved this option out of the socket lock; now it is ENOPROTOOPT.
        let e = s.set_multicast_if_v6(4242).unwrap_err();
        assert!(matches!(e.raw_os_error(), Some(libc::ENODEV | libc::ENOPROTOOPT)), "{e}");
        assert!(e.to_string().contains("IPV6_MULTICAST_IF 4242"), "{e}");
    });
}

// ---- any-source joins ------------------------------------------------------------------------------------

/// ip(7) IP_ADD_MEMBERSHIP with `ip_mreq` (interface by address): lo becomes a member; IP_DROP_MEMBERSHIP
/// with the same values ends it.
#[test]
fn ip_add_membership_by_address_until_drop() {
    needs_root!();
    let ns = Netns::new("join");
    let s = ns.run(|| {
        let s = udp4();
        s.join_v4(G, LO).unwrap();
        s
    });
    assert_eq!(ns.igmp_users("lo", G), 1, "{:?}", ns.igmp());
    ns.run(|| s.leave_v4(G, LO).unwrap());
    assert_eq!(ns.igmp_users("lo", G), 0, "{:?}", ns.igmp());
}

/// ip(7) IP_ADD_MEMBERSHIP with `ip_mreqn` (interface by index), then IP_DROP_MEMBERSHIP the same way.
#[test]
fn ip_add_membership_by_index_until_drop() {
    needs_root!();
    let ns = Netns::new("join");
    let s = ns.run(|| {
        let s = udp4();
        s.join_v4_index(G, lo()).unwrap();
        s
    });
    assert_eq!(ns.igmp_users("lo", G), 1, "{:?}", ns.igmp());
    ns.run(|| s.leave_v4_index(G, lo()).unwrap());
    assert_eq!(ns.igmp_users("lo", G), 0, "{:?}", ns.igmp());
}

/// RFC 3678 MCAST_JOIN_GROUP / MCAST_LEAVE_GROUP (`group_req`), IPv4.
#[test]
fn mcast_join_group_v4_until_leave() {
    needs_root!();
    let ns = Netns::new("join");
    let s = ns.run(|| {
        let s = udp4();
        s.join_group(IpAddr::V4(G), lo()).unwrap();
        s
    });
    assert_eq!(ns.igmp_users("lo", G), 1, "{:?}", ns.igmp());
    ns.run(|| s.leave_group(IpAddr::V4(G), lo()).unwrap());
    assert_eq!(ns.igmp_users("lo", G), 0, "{:?}", ns.igmp());
}

/// ipv6(7) IPV6_JOIN_GROUP / IPV6_LEAVE_GROUP (`ipv6_mreq`).
#[test]
fn ipv6_join_group_until_leave() {
    needs_root!();
    let ns = Netns::new("join");
    let s = ns.run(|| {
        let s = udp6();
        s.join_v6(G6, lo()).unwrap();
        s
    });
    assert_eq!(ns.igmp6_users("lo", G6), 1, "{:?}", ns.igmp6());
    ns.run(|| s.leave_v6(G6, lo()).unwrap());
    assert_eq!(ns.igmp6_users("lo", G6), 0, "{:?}", ns.igmp6());
}

/// RFC 3678 MCAST_JOIN_GROUP / MCAST_LEAVE_GROUP, IPv6.
#[test]
fn mcast_join_group_v6_until_leave() {
    needs_root!();
    let ns = Netns::new("join");
    let s = ns.run(|| {
        let s = udp6();
        s.join_group(IpAddr::V6(G6), lo()).unwrap();
        s
    });
    assert_eq!(ns.igmp6_users("lo", G6), 1, "{:?}", ns.igmp6());
    ns.run(|| s.leave_group(IpAddr::V6(G6), lo()).unwrap());
    assert_eq!(ns.igmp6_users("lo", G6), 0, "{:?}", ns.igmp6());
}

/// A socket joins a group on an interface once: the second join is EADDRINUSE and claims nothing more.
#[test]
fn joining_twice_is_eaddrinuse() {
    needs_root!();
    let ns = Netns::new("join");
    let (s4, s6) = ns.run(|| {
        let (s4, s6) = (udp4(), udp6());
        s4.join_v4(G, LO).unwrap();
        assert_os_error(s4.join_v4(G, LO), libc::EADDRINUSE, &["IP_ADD_MEMBERSHIP", "239.1.2.3", "127.0.0.1"]);
        assert_os_error(s4.join_v4_index(G, lo()), libc::EADDRINUSE, &["IP_ADD_MEMBERSHIP", "239.1.2.3", "lo"]);
        s6.join_v6(G6, lo()).unwrap();
        assert_os_error(s6.join_v6(G6, lo()), libc::EADDRINUSE, &["IPV6_JOIN_GROUP", "ff15::1234", "lo"]);
        (s4, s6)
    });
    assert_eq!(ns.igmp_users("lo", G), 1, "one claim, not two");
    assert_eq!(ns.igmp6_users("lo", G6), 1, "one claim, not two");
    drop((s4, s6));
}

/// Leaving a group the socket never joined is EADDRNOTAVAIL, and the error names option, group and interface.
#[test]
fn leaving_a_group_never_joined_is_eaddrnotavail() {
    needs_root!();
    Netns::new("join").run(|| {
        let (s4, s6) = (udp4(), udp6());
        assert_os_error(s4.leave_v4(G, LO), libc::EADDRNOTAVAIL, &["IP_DROP_MEMBERSHIP", "239.1.2.3", "127.0.0.1"]);
        assert_os_error(s4.leave_v4_index(G, lo()), libc::EADDRNOTAVAIL, &["IP_DROP_MEMBERSHIP", "239.1.2.3", "lo"]);
        assert_os_error(
            s4.leave_group(IpAddr::V4(G), lo()),
            libc::EADDRNOTAVAIL,
            &["MCAST_LEAVE_GROUP", "239.1.2.3", "lo"],
        );
        assert_os_error(s6.leave_v6(G6, lo()), libc::EADDRNOTAVAIL, &["IPV6_LEAVE_GROUP", "ff15::1234", "lo"]);
    });
}

// ---- source filters --------------------------------------------------------------------------------------

fn includes<A: PartialEq + Copy>(filters: &[SourceFilter<A>], ifindex: u32, group: A, source: A) -> bool {
    filters.iter().any(|f| f.ifindex == ifindex && f.group == group && f.source == source && f.include == 1)
}

fn excludes<A: PartialEq + Copy>(filters: &[SourceFilter<A>], ifindex: u32, group: A, source: A) -> bool {
    filters.iter().any(|f| f.ifindex == ifindex && f.group == group && f.source == source && f.exclude == 1)
}

/// ip(7) IP_ADD_SOURCE_MEMBERSHIP (`ip_mreq_source`): the group is joined with the source in its include
/// list; IP_DROP_SOURCE_MEMBERSHIP removes both.
#[test]
fn ip_add_source_membership_until_drop() {
    needs_root!();
    let ns = Netns::new("ssm");
    let s = ns.run(|| {
        let s = udp4();
        s.join_source_v4(SSM, S, LO).unwrap();
        s
    });
    let lo = ns.ifindex("lo");
    assert!(includes(&ns.mcfilter(), lo, SSM, S), "{:?}", ns.mcfilter());
    assert_eq!(ns.igmp_users("lo", SSM), 1, "{:?}", ns.igmp());
    ns.run(|| s.leave_source_v4(SSM, S, LO).unwrap());
    assert!(!ns.mcfilter().iter().any(|f| f.group == SSM), "{:?}", ns.mcfilter());
    assert_eq!(ns.igmp_users("lo", SSM), 0, "{:?}", ns.igmp());
}

/// RFC 3678 MCAST_JOIN_SOURCE_GROUP / MCAST_LEAVE_SOURCE_GROUP (`group_source_req`), IPv4.
#[test]
fn mcast_join_source_group_v4_until_leave() {
    needs_root!();
    let ns = Netns::new("ssm");
    let lo = ns.ifindex("lo");
    let s = ns.run(|| {
        let s = udp4();
        s.join_source_group(IpAddr::V4(SSM), IpAddr::V4(S), lo).unwrap();
        s
    });
    assert!(includes(&ns.mcfilter(), lo, SSM, S), "{:?}", ns.mcfilter());
    ns.run(|| s.leave_source_group(IpAddr::V4(SSM), IpAddr::V4(S), lo).unwrap());
    assert!(!ns.mcfilter().iter().any(|f| f.group == SSM), "{:?}", ns.mcfilter());
    assert_eq!(ns.igmp_users("lo", SSM), 0, "{:?}", ns.igmp());
}

/// RFC 3678 MCAST_JOIN_SOURCE_GROUP / MCAST_LEAVE_SOURCE_GROUP, IPv6.
#[test]
fn mcast_join_source_group_v6_until_leave() {
    needs_root!();
    let ns = Netns::new("ssm");
    let lo = ns.ifindex("lo");
    let s = ns.run(|| {
        let s = udp6();
        s.join_source_group(IpAddr::V6(SSM6), IpAddr::V6(S6), lo).unwrap();
        s
    });
    assert!(includes(&ns.mcfilter6(), lo, SSM6, S6), "{:?}", ns.mcfilter6());
    assert_eq!(ns.igmp6_users("lo", SSM6), 1, "{:?}", ns.igmp6());
    ns.run(|| s.leave_source_group(IpAddr::V6(SSM6), IpAddr::V6(S6), lo).unwrap());
    assert!(!ns.mcfilter6().iter().any(|f| f.group == SSM6), "{:?}", ns.mcfilter6());
    assert_eq!(ns.igmp6_users("lo", SSM6), 0, "{:?}", ns.igmp6());
}

/// ip(7) IP_BLOCK_SOURCE / IP_UNBLOCK_SOURCE: in an any-source join the source goes into the exclude list
/// and out again, while the membership stays.
#[test]
fn ip_block_source_until_unblock() {
    needs_root!();
    let ns = Netns::new("block");
    let lo = ns.ifindex("lo");
    let s = ns.run(|| {
        let s = udp4();
        s.join_v4(G, LO).unwrap();
        s.block_source_v4(G, S, LO).unwrap();
        s
    });
    assert!(excludes(&ns.mcfilter(), lo, G, S), "{:?}", ns.mcfilter());
    ns.run(|| s.unblock_source_v4(G, S, LO).unwrap());
    assert!(!ns.mcfilter().iter().any(|f| f.group == G), "{:?}", ns.mcfilter());
    assert_eq!(ns.igmp_users("lo", G), 1, "still a member");
}

/// RFC 3678 MCAST_BLOCK_SOURCE / MCAST_UNBLOCK_SOURCE, both families.
#[test]
fn mcast_block_source_until_unblock() {
    needs_root!();
    let ns = Netns::new("block");
    let lo = ns.ifindex("lo");
    let (s4, s6) = ns.run(|| {
        let (s4, s6) = (udp4(), udp6());
        s4.join_group(IpAddr::V4(G), lo).unwrap();
        s4.block_source(IpAddr::V4(G), IpAddr::V4(S), lo).unwrap();
        s6.join_group(IpAddr::V6(G6), lo).unwrap();
        s6.block_source(IpAddr::V6(G6), IpAddr::V6(S6), lo).unwrap();
        (s4, s6)
    });
    assert!(excludes(&ns.mcfilter(), lo, G, S), "{:?}", ns.mcfilter());
    assert!(excludes(&ns.mcfilter6(), lo, G6, S6), "{:?}", ns.mcfilter6());
    ns.run(|| {
        s4.unblock_source(IpAddr::V4(G), IpAddr::V4(S), lo).unwrap();
        s6.unblock_source(IpAddr::V6(G6), IpAddr::V6(S6), lo).unwrap();
    });
    assert!(!ns.mcfilter().iter().any(|f| f.group == G), "{:?}", ns.mcfilter());
    assert!(!ns.mcfilter6().iter().any(|f| f.group == G6), "{:?}", ns.mcfilter6());
    assert_eq!((ns.igmp_users("lo", G), ns.igmp6_users("lo", G6)), (1, 1), "still members");
}

/// A source can only be blocked inside a join of its group.
#[test]
fn blocking_a_source_without_a_join_fails() {
    needs_root!();
    Netns::new("block").run(|| {
        let s = udp4();
        assert_os_error(s.block_source_v4(G, S, LO), libc::EINVAL, &["IP_BLOCK_SOURCE", "192.0.2.7", "239.1.2.3"]);
    });
}

/// Mixing families in one source request is refused before the syscall.
#[test]
fn source_and_group_must_share_a_family() {
    needs_root!();
    Netns::new("ssm").run(|| {
        let e = udp4().join_source_group(IpAddr::V4(SSM), IpAddr::V6(S6), lo()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Mismatch, "{e}");
        assert!(e.to_string().contains("MCAST_JOIN_SOURCE_GROUP"), "{e}");
    });
}

// ---- wrong groups and interfaces -------------------------------------------------------------------------

/// A unicast address is no group: every join refuses it with an error that names it and the multicast ranges.
#[test]
fn joining_a_unicast_address_is_refused() {
    needs_root!();
    Netns::new("bad").run(|| {
        let (s4, s6) = (udp4(), udp6());
        let u4 = Ipv4Addr::new(10, 1, 2, 3);
        let u6: Ipv6Addr = "fd00::1".parse().unwrap();
        let results = [
            ("IP_ADD_MEMBERSHIP", "10.1.2.3", s4.join_v4(u4, LO)),
            ("IP_ADD_MEMBERSHIP", "10.1.2.3", s4.join_v4_index(u4, lo())),
            ("IP_ADD_SOURCE_MEMBERSHIP", "10.1.2.3", s4.join_source_v4(u4, S, LO)),
            ("MCAST_JOIN_GROUP", "10.1.2.3", s4.join_group(IpAddr::V4(u4), lo())),
            ("IPV6_JOIN_GROUP", "fd00::1", s6.join_v6(u6, lo())),
            ("MCAST_JOIN_SOURCE_GROUP", "fd00::1", s6.join_source_group(IpAddr::V6(u6), IpAddr::V6(S6), lo())),
        ];
        for (cname, addr, r) in results {
            let e = r.expect_err(cname);
            assert_eq!(e.kind(), ErrorKind::NotMulticast, "{cname}: {e}");
            let text = e.to_string();
            assert!(text.contains(cname) && text.contains(addr) && text.contains("224.0.0.0/4"), "{text}");
        }
        let e = "10.1.2.3:5000".parse::<Group>().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotMulticast, "{e}");
        assert!(e.to_string().contains("10.1.2.3") && e.to_string().contains("ff00::/8"), "{e}");
    });
}

/// An interface that does not exist is `UnknownInterface`, with its name (or index, or address) in the
/// message and the interfaces that do exist.
#[test]
fn an_unknown_interface_is_named() {
    needs_root!();
    Netns::new("bad").run(|| {
        for spec in ["nosuch0", "4242", "192.0.2.1"] {
            let e = spec.parse::<IfaceSpec>().unwrap().resolve().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::UnknownInterface, "{e}");
            assert!(e.to_string().contains(spec) && e.to_string().contains("lo"), "{e}");
        }
        let g: Group = "239.1.2.3:5000".parse().unwrap();
        let iface: IfaceSpec = "nosuch0".parse().unwrap();
        let e = Receiver::builder(g).interface(iface.clone()).build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownInterface, "{e}");
        assert!(e.to_string().contains("nosuch0"), "{e}");
        let e = Sender::builder(g).interface(iface).build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownInterface, "{e}");
        assert!(e.to_string().contains("nosuch0"), "{e}");
    });
}

/// At the socket level the kernel judges the interface: an index or address no interface has is ENODEV,
/// and the error says which.
#[test]
fn joining_on_a_missing_interface_is_enodev() {
    needs_root!();
    Netns::new("bad").run(|| {
        let (s4, s6) = (udp4(), udp6());
        assert_os_error(s4.join_v4_index(G, 4242), libc::ENODEV, &["IP_ADD_MEMBERSHIP", "239.1.2.3", "4242"]);
        assert_os_error(s4.join_v4(G, S), libc::ENODEV, &["IP_ADD_MEMBERSHIP", "239.1.2.3", "192.0.2.7"]);
        assert_os_error(s6.join_v6(G6, 4242), libc::ENODEV, &["IPV6_JOIN_GROUP", "ff15::1234", "4242"]);
    });
}
