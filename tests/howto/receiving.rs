//! "Receiving IPv4 Multicast Datagrams" and "Receiving IPv6 Multicast Datagrams", first half: memberships,
//! the interfaces they belong to, and how long they last. Ports and shared ports are in `delivery.rs`.

use std::net::{IpAddr, Ipv4Addr};
use std::process::Stdio;
use std::time::Instant;

use super::{Fam, Star, V4, V6};
use crate::common::traffic::{assert_silent, expect, expect_exact, iface, receiver, sender, wait_until, Link, WAIT};
use crate::common::Netns;
use crate::needs_root;
use mcast::{McastSocket, Receiver};

/// Star: a joins on va only. c sends first, then b: a's first datagram is b's, and c's never comes.
fn per_interface(f: &Fam, tag: &str) {
    let star = Star::new(tag);
    let g = f.g(7100);
    let ra = receiver(&star.a, g, "va");
    assert_eq!((f.claims(&star.a, "va", f.group), f.claims(&star.a, "vc", f.group)), (1, 0));
    sender(&star.c, g, "vd", 1, true).send(b"from c").unwrap();
    sender(&star.b, g, "vb", 1, true).send(b"from b").unwrap();
    expect_exact(ra.socket(), "a on va", b"from b", f.b, f.group, star.a.ifindex("va"));
    assert_silent(ra.socket(), "a after b's datagram");
}

/// "Each membership is associated with a single interface."
#[test]
fn a_membership_belongs_to_one_interface() {
    needs_root!();
    per_interface(&V4, "per");
}

/// (IPv6) "Each membership is associated with a single interface."
#[test]
fn ipv6_a_membership_belongs_to_one_interface() {
    needs_root!();
    per_interface(&V6, "per6");
}

/// Star: on a, X joins the group on va and Y on vc, so a accepts it on both. c sends (arriving on vc): Y gets
/// it; an IPv4 X does not (its first datagram is b's, arriving on va), but an IPv6 X does, with vc as the
/// arrival interface: Linux checks an IPv6 socket's memberships by group only, not by interface.
fn socket_membership_and_arrival_interface(f: &Fam, tag: &str) -> bool {
    let star = Star::new(tag);
    let g = f.g(7112);
    let (x, y) = (receiver(&star.a, g, "va"), receiver(&star.a, g, "vc"));
    let (va, vc) = (star.a.ifindex("va"), star.a.ifindex("vc"));
    sender(&star.c, g, "vd", 1, true).send(b"from c").unwrap();
    expect_exact(y.socket(), "Y", b"from c", f.c, f.group, vc);
    sender(&star.b, g, "vb", 1, true).send(b"from b").unwrap();
    let first = expect(x.socket(), "X");
    let took_c = first.bytes == b"from c";
    if took_c {
        assert_eq!((first.meta.source.ip(), first.meta.ifindex), (f.c, Some(vc)));
        expect_exact(x.socket(), "X", b"from b", f.b, f.group, va);
    } else {
        assert_eq!((first.bytes.as_slice(), first.meta.ifindex), (&b"from b"[..], Some(va)));
    }
    assert_silent(x.socket(), "X after b's datagram");
    took_c
}

/// IPv4 keeps "each membership is associated with a single interface" per socket too: a socket joined on va
/// gets nothing that arrives on vc, even when another socket made the host a member there.
#[test]
fn an_ipv4_socket_gets_the_group_only_from_its_interface() {
    needs_root!();
    assert!(!socket_membership_and_arrival_interface(&V4, "sif"));
}

/// Where Linux's IPv6 differs: a socket joined on va also gets the group arriving on vc once any socket made
/// the host a member there. The membership decides where the host listens, not which arrivals the socket
/// takes; use the arrival interface (`IPV6_PKTINFO`) to tell them apart.
#[test]
fn linux_gives_an_ipv6_socket_its_group_from_every_interface_the_host_joined() {
    needs_root!();
    assert!(socket_membership_and_arrival_interface(&V6, "sif6"));
}

/// Star: one socket joins on va and on vc; both are members, and it gets b's datagram on va and c's on vc.
fn two_interfaces(f: &Fam, tag: &str) {
    let star = Star::new(tag);
    let g = f.g(7101);
    let rx = star.a.run(|| Receiver::builder(g).interface(iface("va")).interface(iface("vc")).build()).unwrap();
    assert_eq!(rx.memberships().len(), 2);
    assert_eq!((f.claims(&star.a, "va", f.group), f.claims(&star.a, "vc", f.group)), (1, 1));
    sender(&star.b, g, "vb", 1, true).send(b"from b").unwrap();
    expect_exact(rx.socket(), "a", b"from b", f.b, f.group, star.a.ifindex("va"));
    sender(&star.c, g, "vd", 1, true).send(b"from c").unwrap();
    expect_exact(rx.socket(), "a", b"from c", f.c, f.group, star.a.ifindex("vc"));
}

/// "You can join the same group on more than one interface."
#[test]
fn same_group_can_be_joined_on_two_interfaces() {
    needs_root!();
    two_interfaces(&V4, "two");
}

/// (IPv6) "You can join the same group on more than one interface."
#[test]
fn ipv6_same_group_can_be_joined_on_two_interfaces() {
    needs_root!();
    two_interfaces(&V6, "two6");
}

/// "Specify the imr_interface address as INADDR_ANY to choose the default multicast interface."
///
/// Link: with the namespace's multicast route on lo, a join with INADDR_ANY lands on lo; after the route
/// moves to va, the next one lands on va.
#[test]
fn inaddr_any_joins_on_the_default_multicast_interface() {
    needs_root!();
    let link = Link::new("any");
    let (g, g2) = (Ipv4Addr::new(239, 1, 2, 3), Ipv4Addr::new(239, 1, 2, 4));
    let s1 = link.a.run(|| McastSocket::udp(mcast::Family::V4)).unwrap();
    s1.join_v4(g, Ipv4Addr::UNSPECIFIED).unwrap();
    assert_eq!((link.a.igmp_users("lo", g), link.a.igmp_users("va", g)), (1, 0), "{:?}", link.a.igmp());
    link.a.ip(&["route", "replace", "224.0.0.0/4", "dev", "va"]);
    let s2 = link.a.run(|| McastSocket::udp(mcast::Family::V4)).unwrap();
    s2.join_v4(g2, Ipv4Addr::UNSPECIFIED).unwrap();
    assert_eq!((link.a.igmp_users("lo", g2), link.a.igmp_users("va", g2)), (0, 1), "{:?}", link.a.igmp());
}

/// (IPv6) "Specify ipv6_interface to be 0 to choose the default multicast interface."
///
/// Link: a join with index 0 lands on the interface `ip -6 route get` names for the group.
#[test]
fn ipv6_index_0_joins_on_the_default_multicast_interface() {
    needs_root!();
    let link = Link::new("any6");
    let IpAddr::V6(g) = V6.group else { unreachable!() };
    let route = String::from_utf8_lossy(&link.a.ip(&["-6", "route", "get", &g.to_string()]).stdout).to_string();
    let dev = route.split_whitespace().skip_while(|w| *w != "dev").nth(1).expect("dev in the route").to_string();
    let s = link.a.run(|| McastSocket::udp(mcast::Family::V6)).unwrap();
    s.join_v6(g, 0).unwrap();
    assert_eq!(link.a.igmp6_users(&dev, g), 1, "{route}: {:?}", link.a.igmp6());
    assert_eq!(link.a.igmp6().iter().filter(|m| m.group == g).count(), 1, "one interface only");
}

/// "You can also specify one of the host's local addresses to choose a particular multicast-capable
/// interface."
///
/// Star: joins by vc's address and by va's address land on vc and va.
#[test]
fn a_local_address_chooses_the_interface() {
    needs_root!();
    let star = Star::new("addr");
    let IpAddr::V4(g) = V4.group else { unreachable!() };
    let (s1, s2) = star.a.run(|| (McastSocket::udp(mcast::Family::V4), McastSocket::udp(mcast::Family::V4)));
    let (s1, s2) = (s1.unwrap(), s2.unwrap());
    s1.join_v4(g, Ipv4Addr::new(10, 0, 2, 1)).unwrap();
    assert_eq!((star.a.igmp_users("va", g), star.a.igmp_users("vc", g)), (0, 1));
    s2.join_v4(g, Ipv4Addr::new(10, 0, 0, 1)).unwrap();
    assert_eq!((star.a.igmp_users("va", g), star.a.igmp_users("vc", g)), (1, 1));
}

/// (IPv6) "Specify an interface index for one of the host's interfaces to choose that multicast-capable
/// interface."
#[test]
fn ipv6_an_index_chooses_the_interface() {
    needs_root!();
    let star = Star::new("idx6");
    let IpAddr::V6(g) = V6.group else { unreachable!() };
    let s = star.a.run(|| McastSocket::udp(mcast::Family::V6)).unwrap();
    s.join_v6(g, star.a.ifindex("vc")).unwrap();
    assert_eq!((star.a.igmp6_users("va", g), star.a.igmp6_users("vc", g)), (0, 1));
}

/// "To drop a membership, use: [...] IP_DROP_MEMBERSHIP [...] where mreq contains the same values used to add
/// the membership."
///
/// Link: joined by va's address, a drop naming lo's address is EADDRNOTAVAIL and va stays a member; the
/// drop with va's address ends it.
#[test]
fn drop_needs_the_values_used_to_add() {
    needs_root!();
    let link = Link::new("drop");
    let (g, va) = (Ipv4Addr::new(239, 1, 2, 3), Ipv4Addr::new(10, 0, 0, 1));
    let s = link.a.run(|| McastSocket::udp(mcast::Family::V4)).unwrap();
    s.join_v4(g, va).unwrap();
    let e = s.leave_v4(g, Ipv4Addr::LOCALHOST).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EADDRNOTAVAIL), "{e}");
    assert_eq!(link.a.igmp_users("va", g), 1);
    s.leave_v4(g, va).unwrap();
    assert_eq!(link.a.igmp_users("va", g), 0);
}

/// (IPv6) "To leave a group, use: [...] where mreq contains the same values used to add the membership."
#[test]
fn ipv6_leave_needs_the_values_used_to_join() {
    needs_root!();
    let link = Link::new("drop6");
    let IpAddr::V6(g) = V6.group else { unreachable!() };
    let (va, lo) = (link.a.ifindex("va"), link.a.ifindex("lo"));
    let s = link.a.run(|| McastSocket::udp(mcast::Family::V6)).unwrap();
    s.join_v6(g, va).unwrap();
    let e = s.leave_v6(g, lo).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EADDRNOTAVAIL), "{e}");
    assert_eq!(link.a.igmp6_users("va", g), 1);
    s.leave_v6(g, va).unwrap();
    assert_eq!(link.a.igmp6_users("va", g), 0);
}

/// Link: b's receiver makes vb a member; closing it ends the membership.
fn ends_on_close(f: &Fam, tag: &str) {
    let link = Link::new(tag);
    let rx = receiver(&link.b, f.g(7102), "vb");
    assert_eq!(f.claims(&link.b, "vb", f.group), 1);
    drop(rx);
    wait_until("vb left the group", || f.claims(&link.b, "vb", f.group) == 0);
}

/// "Closing a socket [...] drops the memberships associated with that socket."
#[test]
fn memberships_end_when_socket_closes() {
    needs_root!();
    ends_on_close(&V4, "close");
}

/// (IPv6) "The socket drops associated memberships when the socket is closed"
#[test]
fn ipv6_memberships_end_when_socket_closes() {
    needs_root!();
    ends_on_close(&V6, "close6");
}

/// "[...] or killing the process that holds the socket drops the memberships associated with that socket."
///
/// One namespace: `mcast recv` joins on lo in a child process; once `/proc/net/igmp` lists it, the child is
/// killed (SIGKILL: no chance to leave), and the membership is gone.
#[test]
fn memberships_end_when_the_process_is_killed() {
    needs_root!();
    let ns = Netns::new("kill");
    let g = Ipv4Addr::new(239, 1, 2, 3);
    let mut child = ns
        .command(env!("CARGO_BIN_EXE_mcast"))
        .args(["recv", "239.1.2.3:7103", "--iface", "lo", "--quiet", "--timeout", "30"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mcast recv");
    let deadline = Instant::now() + WAIT;
    while ns.igmp_users("lo", g) == 0 {
        if Instant::now() > deadline || child.try_wait().expect("child status").is_some() {
            let _ = child.kill();
            panic!("mcast recv never joined: {:?}", ns.igmp());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().expect("kill mcast recv");
    child.wait().expect("reap mcast recv");
    assert_eq!(ns.igmp_users("lo", g), 0, "{:?}", ns.igmp());
}

/// Link: two receivers on b make two claims; after the first closes, vb is still a member and the second
/// still receives; after the second, vb is not a member.
fn claims_until_last(f: &Fam, tag: &str) {
    let link = Link::new(tag);
    let g = f.g(7104);
    let (r1, r2) = (receiver(&link.b, g, "vb"), receiver(&link.b, g, "vb"));
    assert_eq!(f.claims(&link.b, "vb", f.group), 2);
    drop(r1);
    wait_until("one claim left", || f.claims(&link.b, "vb", f.group) == 1);
    sender(&link.a, g, "va", 1, true).send(b"still a member").unwrap();
    expect_exact(r2.socket(), "the second", b"still a member", f.a, f.group, link.b.ifindex("vb"));
    drop(r2);
    wait_until("vb left the group", || f.claims(&link.b, "vb", f.group) == 0);
}

/// "More than one socket can claim a membership in a particular group, and the host remains a member of that
/// group until the last claim is dropped."
#[test]
fn several_sockets_claim_one_membership_until_last_drop() {
    needs_root!();
    claims_until_last(&V4, "claims");
}

/// (IPv6) "More than one socket can claim a membership in a particular group. The host remains a member of
/// that group until the last claim is dropped."
#[test]
fn ipv6_several_sockets_claim_one_membership_until_last_drop() {
    needs_root!();
    claims_until_last(&V6, "claims6");
}
