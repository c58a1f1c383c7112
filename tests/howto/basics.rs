//! The guide's opening: which sockets multicast, which addresses are groups, and how the options are passed.
//!
//! Topology: one namespace from `Netns::new` (`lo` with 127.0.0.1 and ::1), or [`Link`] where a test says so.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener};
use std::os::fd::{AsFd, OwnedFd};

use crate::common::traffic::Link;
use crate::common::Netns;
use crate::needs_root;
use mcast::__private::sys::mreq::IpMreq;
use mcast::__private::sys::sockopt;
use mcast::{ErrorKind, Family, Group, Interface, McastSocket, Scope};

const LO: Ipv4Addr = Ipv4Addr::LOCALHOST;
const G: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 3);

/// `setsockopt(IP_ADD_MEMBERSHIP)` straight to the kernel, past the library's checks.
fn kernel_join(fd: std::os::fd::BorrowedFd<'_>, group: Ipv4Addr) -> std::io::Result<()> {
    let req = IpMreq { imr_multiaddr: group.into(), imr_interface: LO.into() };
    sockopt::setsockopt(fd, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &req)
}

/// "IP multicasting is supported only on AF_INET6 and AF_INET sockets of type SOCK_DGRAM and SOCK_RAW."
///
/// Both families, both types join; the kernel refuses a membership on a TCP socket (`EPROTO`), and mcast
/// will neither open nor adopt one.
#[test]
fn multicast_is_supported_only_on_dgram_and_raw_sockets() {
    needs_root!();
    Netns::new("kinds").run(|| {
        let lo = Interface::by_name("lo").unwrap().index;
        let g6: Ipv6Addr = "ff15::1234".parse().unwrap();
        for (ty, protocol) in [(libc::SOCK_DGRAM, 0), (libc::SOCK_RAW, 253)] {
            McastSocket::open(Family::V4, ty, protocol).unwrap().join_v4(G, LO).unwrap();
            McastSocket::open(Family::V6, ty, protocol).unwrap().join_v6(g6, lo).unwrap();
        }
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let e = kernel_join(tcp.as_fd(), G).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPROTO), "{e}");
        let e = McastSocket::open(Family::V4, libc::SOCK_STREAM, 0).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Mismatch, "{e}");
        assert!(e.to_string().contains("SOCK_DGRAM and SOCK_RAW"), "{e}");
        let e = McastSocket::try_from(OwnedFd::from(tcp)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Mismatch, "{e}");
    });
}

/// "Every IP datagram whose destination address starts with "1110" is an IP Multicast datagram."
/// (224.0.0.0 - 239.255.255.255.)
///
/// The kernel accepts a join to both ends of the range and refuses the neighbours with `EINVAL`; mcast's
/// `Group` draws the same line for every first octet.
#[test]
fn class_d_224_to_239_is_the_multicast_range() {
    needs_root!();
    Netns::new("classd").run(|| {
        let s = McastSocket::udp(Family::V4).unwrap();
        for g in [Ipv4Addr::new(224, 0, 0, 0), Ipv4Addr::new(239, 255, 255, 255)] {
            kernel_join(s.as_fd(), g).unwrap_or_else(|e| panic!("join {g}: {e}"));
        }
        for not in [Ipv4Addr::new(223, 255, 255, 255), Ipv4Addr::new(240, 0, 0, 0)] {
            let e = kernel_join(s.as_fd(), not).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "join {not}: {e}");
        }
        for first in 0..=255u8 {
            let ip = IpAddr::V4(Ipv4Addr::new(first, 1, 2, 3));
            assert_eq!(Group::new(ip, 0).is_ok(), first >> 4 == 0b1110, "{ip}");
        }
    });
}

/// "224.0.0.1 is the all-hosts group. [...] every multicast capable host must join that group at start-up on
/// all it's multicast capable interfaces." IPv6's all-nodes group ff02::1 likewise.
///
/// Topology: [`Link`]. Before any socket exists, each interface of both hosts is already a member.
#[test]
fn all_hosts_group_is_joined_on_every_multicast_interface() {
    needs_root!();
    let link = Link::new("allh");
    let all_hosts = Ipv4Addr::new(224, 0, 0, 1);
    let all_nodes: Ipv6Addr = "ff02::1".parse().unwrap();
    for (ns, dev) in [(&link.a, "lo"), (&link.a, "va"), (&link.b, "lo"), (&link.b, "vb")] {
        assert!(ns.igmp_users(dev, all_hosts) >= 1, "{dev}: {:?}", ns.igmp());
        assert!(ns.igmp6_users(dev, all_nodes) >= 1, "{dev}: {:?}", ns.igmp6());
    }
    let g = Group::parse_address("224.0.0.1").unwrap();
    assert!(g.well_known().is_some_and(|name| name.contains("all")), "{:?}", g.well_known());
}

/// "range 224.0.0.0 through 224.0.0.255 is reserved for local purposes [...] Similarly, the range 239.0.0.0
/// to 239.255.255.255 has been reserved for "administrative scoping"."
///
/// mcast's classification says the same (the forwarding itself needs routers and is not checked here).
#[test]
fn local_and_administratively_scoped_blocks_are_classified() {
    let g = |s: &str| Group::parse_address(s).unwrap();
    for local in ["224.0.0.0", "224.0.0.1", "224.0.0.255"] {
        assert!(g(local).is_never_forwarded(), "{local}");
        assert_eq!(g(local).scope(), Scope::LinkLocal, "{local}");
    }
    assert!(!g("224.0.1.0").is_never_forwarded());
    for admin in ["239.0.0.0", "239.1.2.3", "239.255.255.255"] {
        assert!(
            matches!(g(admin).scope(), Scope::AdminLocal | Scope::SiteLocal | Scope::OrganizationLocal),
            "{admin}: {:?}",
            g(admin).scope()
        );
    }
    assert_eq!(g("238.1.2.3").scope(), Scope::Global);
}

/// "The IPv6 multicast addresses, unlike their IPv4 counterparts, contain explicit scope information that is
/// encoded in the first part of the address": ffX1 node-local, ffX2 link-local, ffX5 site-local, ffX8
/// organization-local, ffXe global, whatever the flags X.
#[test]
fn ipv6_scope_is_encoded_in_the_address() {
    for flags in ["0", "1", "3"] {
        for (nibble, scope) in [
            ("1", Scope::InterfaceLocal),
            ("2", Scope::LinkLocal),
            ("5", Scope::SiteLocal),
            ("8", Scope::OrganizationLocal),
            ("e", Scope::Global),
        ] {
            let g = Group::parse_address(&format!("ff{flags}{nibble}::1234")).unwrap();
            assert_eq!(g.scope(), scope, "{}", g.ip());
        }
    }
    let e = Group::parse_address("fe80::1").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotMulticast, "ff00::/8 only: {e}");
}

/// The guide's table: `IP_MULTICAST_LOOP`, `IP_MULTICAST_TTL` and `IP_MULTICAST_IF` work with getsockopt();
/// `IP_ADD_MEMBERSHIP` and `IP_DROP_MEMBERSHIP` do not (Linux: `ENOPROTOOPT`).
#[test]
fn memberships_are_set_only_the_other_options_read_back() {
    needs_root!();
    Netns::new("table").run(|| {
        let s = McastSocket::udp(Family::V4).unwrap();
        let mut buf = [0u8; 16];
        for name in [libc::IP_MULTICAST_LOOP, libc::IP_MULTICAST_TTL, libc::IP_MULTICAST_IF] {
            let n = sockopt::getsockopt_bytes(s.as_fd(), libc::IPPROTO_IP, name, &mut buf).unwrap();
            assert!(n > 0, "option {name}");
        }
        for name in [libc::IP_ADD_MEMBERSHIP, libc::IP_DROP_MEMBERSHIP] {
            let e = sockopt::getsockopt_bytes(s.as_fd(), libc::IPPROTO_IP, name, &mut buf).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ENOPROTOOPT), "option {name}: {e}");
        }
    });
}

/// "Note that in getsockopt() it is a value-result rather than a value: the kernel writes the value of
/// optname in the buffer pointed by optval and informs us of that value's size via optlen."
///
/// `IP_MULTICAST_TTL` answers 4 bytes into an `int`, and 1 byte into a `u_char` (Linux's courtesy to code
/// like the guide's); `IP_MULTICAST_IF` answers the 4 bytes of an `in_addr` however large the buffer.
#[test]
fn getsockopt_reports_the_size_it_wrote() {
    needs_root!();
    Netns::new("optlen").run(|| {
        let s = McastSocket::udp(Family::V4).unwrap();
        s.set_multicast_ttl_v4(7).unwrap();
        s.set_multicast_if_v4(LO).unwrap();
        let (mut int, mut byte, mut big) = ([0u8; 4], [0u8; 1], [0xffu8; 16]);
        let fd = s.as_fd();
        assert_eq!(sockopt::getsockopt_bytes(fd, libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, &mut int).unwrap(), 4);
        assert_eq!(i32::from_ne_bytes(int), 7);
        assert_eq!(sockopt::getsockopt_bytes(fd, libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, &mut byte).unwrap(), 1);
        assert_eq!(byte[0], 7);
        assert_eq!(sockopt::getsockopt_bytes(fd, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &mut big).unwrap(), 4);
        assert_eq!(big[..4], [127, 0, 0, 1], "the address, in network byte order");
    });
}

/// "u_char ttl; setsockopt(sock, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl))" and "u_char loop; ...":
/// Linux takes the one-byte values of the guide's snippets as well as an `int`.
#[test]
fn a_u_char_ttl_and_loop_as_in_the_guide_are_accepted() {
    needs_root!();
    Netns::new("uchar").run(|| {
        let s = McastSocket::udp(Family::V4).unwrap();
        sockopt::setsockopt(s.as_fd(), libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, &9u8).unwrap();
        assert_eq!(s.multicast_ttl_v4().unwrap(), 9);
        sockopt::setsockopt(s.as_fd(), libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, &0u8).unwrap();
        assert!(!s.multicast_loop_v4().unwrap());
    });
}
