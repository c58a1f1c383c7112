//! "Sending IPv4 Multicast Datagrams" and "Sending IPv6 Multicast Datagrams": TTL and hop limit, the outgoing
//! interface, and loopback.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{pair, Fam, Star, V4, V6};
use crate::common::traffic::{assert_silent, expect, expect_exact, iface, receiver, sender, Link, QUIET};
use crate::common::Netns;
use crate::needs_root;
use mcast::{Family, Group, Interface, McastSocket, Receiver, Sender};

/// A sender in `ns` with nothing set but its interface: the kernel's defaults for TTL, hop limit and loop.
fn plain_sender(ns: &Netns, g: Group, ifname: &str) -> Sender {
    let ifname = ifname.to_string();
    ns.run(move || Sender::builder(g).interface(iface(&ifname)).build()).expect("sender")
}

/// Link: a fresh socket reports 1, and its datagram arrives at b with 1.
fn one_hop_by_default(f: &Fam, tag: &str) {
    let link = Link::new(tag);
    let g = f.g(7000);
    let rb = receiver(&link.b, g, "vb");
    let tx = plain_sender(&link.a, g, "va");
    assert_eq!(f.hops_of(tx.socket()), 1);
    tx.send(b"default").unwrap();
    let got = expect_exact(rb.socket(), "b", b"default", f.a, f.group, link.b.ifindex("vb"));
    assert_eq!(got.meta.ttl, Some(1));
}

/// "By default, IP multicast datagrams are sent with a time-to-live (TTL) of 1."
#[test]
fn default_ttl_is_1() {
    needs_root!();
    one_hop_by_default(&V4, "dttl");
}

/// (IPv6) "By default, IP multicast datagrams are sent with a hop limit of one"
#[test]
fn default_hops_is_1() {
    needs_root!();
    one_hop_by_default(&V6, "dhops");
}

/// "The socket option IP_MULTICAST_TTL allows the TTL for subsequent multicast datagrams to be set to any
/// value from 0 to 255." The kernel refuses 256 too; mcast's setter takes a `u8`, so 256 does not compile.
#[test]
fn ttl_can_be_any_value_from_0_to_255() {
    needs_root!();
    Netns::new("ttlr").run(|| {
        let s = McastSocket::udp(Family::V4).unwrap();
        for ttl in 0..=255u8 {
            s.set_multicast_ttl_v4(ttl).unwrap();
            assert_eq!(s.multicast_ttl_v4().unwrap(), ttl);
        }
        let e = raw_int(&s, libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, 256).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
    });
}

/// (IPv6) "The socket option IPV6_MULTICAST_HOPS allows the hop limit for subsequent multicast datagrams to be
/// set to any value from 0 to 255." Linux also takes -1 (ipv6(7): the route's default), which reads back 1;
/// mcast spells it `None`.
#[test]
fn hops_can_be_any_value_from_0_to_255() {
    needs_root!();
    Netns::new("hopr").run(|| {
        let s = McastSocket::udp(Family::V6).unwrap();
        for hops in 0..=255u8 {
            s.set_multicast_hops_v6(hops).unwrap();
            assert_eq!(s.multicast_hops_v6().unwrap(), hops);
        }
        s.set_multicast_hops_v6(None).unwrap();
        assert_eq!(s.multicast_hops_v6().unwrap(), 1);
        let e = raw_int(&s, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, 256).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
    });
}

/// `setsockopt` with an `int`, past the library's range checks.
fn raw_int(s: &McastSocket, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> std::io::Result<()> {
    mcast::__private::sys::sockopt::setsockopt(std::os::fd::AsFd::as_fd(s), level, name, &v)
}

/// Link: a has a member of the group on va (its own copy needs loop on for IPv6), b has one on vb. a's
/// datagram sent with 0 stays on a: b's first datagram is the control sent after it with 1.
fn zero_stays_on_a_member_host(f: &Fam, tag: &str) {
    let link = Link::new(tag);
    let g = f.g(7001);
    let (_ra, rb) = (receiver(&link.a, g, "va"), receiver(&link.b, g, "vb"));
    sender(&link.a, g, "va", 0, true).send(b"zero").unwrap();
    sender(&link.a, g, "va", 1, true).send(b"control").unwrap();
    expect_exact(rb.socket(), "b", b"control", f.a, f.group, link.b.ifindex("vb"));
    assert_silent(rb.socket(), "b after the control");
}

/// Link: a sends with 0 while no socket on a is a member of the group on va (or, for IPv6, with loop off):
/// Linux puts the datagram on the link, and b's member gets it with 0.
fn zero_leaves_a_host_that_is_not_a_member(f: &Fam, tag: &str, member_at_home: bool) {
    let link = Link::new(tag);
    let g = f.g(7001);
    let rb = receiver(&link.b, g, "vb");
    let _ra = member_at_home.then(|| receiver(&link.a, g, "va"));
    sender(&link.a, g, "va", 0, !member_at_home).send(b"zero").unwrap();
    let got = expect_exact(rb.socket(), "b", b"zero", f.a, f.group, link.b.ifindex("vb"));
    assert_eq!(got.meta.ttl, Some(0));
}

/// "Multicast datagrams with a TTL of 0 are not transmitted on any subnet". Linux keeps that promise when
/// the sending host is itself a member of the group on the outgoing interface (the datagram then takes the
/// multicast output path, which loops a copy back and drops TTL 0).
#[test]
fn ttl_0_is_not_transmitted_when_the_host_is_a_member() {
    needs_root!();
    zero_stays_on_a_member_host(&V4, "ttl0m");
}

/// Where Linux breaks the guide's promise: with no member on the sending host's outgoing interface the route
/// uses the plain output path, which has no TTL-0 check, and the datagram goes out with TTL 0.
#[test]
fn linux_transmits_ttl_0_when_the_host_is_not_a_member() {
    needs_root!();
    zero_leaves_a_host_that_is_not_a_member(&V4, "ttl0x", false);
}

/// (IPv6) "You cannot transmit multicast datagrams with a hop limit of zero on any subnet": true on Linux when
/// the sending host is a member on the outgoing interface and loop is on.
#[test]
fn hops_0_is_not_transmitted_when_the_host_is_a_member() {
    needs_root!();
    zero_stays_on_a_member_host(&V6, "hop0m");
}

/// (IPv6) Where Linux breaks it: hop limit 0 is dropped only after the loop copy is made, so with no member on
/// the sending host the datagram goes out with hop limit 0 ...
#[test]
fn linux_transmits_hops_0_when_the_host_is_not_a_member() {
    needs_root!();
    zero_leaves_a_host_that_is_not_a_member(&V6, "hop0x", false);
}

/// (IPv6) ... and likewise when the host is a member but loop is off.
#[test]
fn linux_transmits_hops_0_when_loop_is_off() {
    needs_root!();
    zero_leaves_a_host_that_is_not_a_member(&V6, "hop0l", true);
}

/// Link: a member on a's own `va` gets a datagram sent with 0 when loop is on (and sees 0 on arrival); with
/// loop off its first datagram is the control sent after it with loop on.
fn zero_is_delivered_locally(f: &Fam, tag: &str, multicast_loop: bool) {
    let link = Link::new(tag);
    let g = f.g(7002);
    let ra = receiver(&link.a, g, "va");
    let va = link.a.ifindex("va");
    sender(&link.a, g, "va", 0, multicast_loop).send(b"zero").unwrap();
    if multicast_loop {
        let got = expect_exact(ra.socket(), "a", b"zero", f.a, f.group, va);
        assert_eq!(got.meta.ttl, Some(0));
    } else {
        sender(&link.a, g, "va", 0, true).send(b"control").unwrap();
        expect_exact(ra.socket(), "a", b"control", f.a, f.group, va);
        assert_silent(ra.socket(), "a after the control");
    }
}

/// "[Multicast datagrams with a TTL of 0] can be delivered locally if the sending host belongs to the
/// destination group and if multicast loopback has not been disabled on the sending socket."
#[test]
fn ttl_0_is_delivered_locally_when_loop_is_on() {
    needs_root!();
    zero_is_delivered_locally(&V4, "ttl0on", true);
}

/// The other half: "if multicast loopback has not been disabled" - with loop off, not even locally.
#[test]
fn ttl_0_is_not_delivered_locally_when_loop_is_off() {
    needs_root!();
    zero_is_delivered_locally(&V4, "ttl0off", false);
}

/// (IPv6) "but you can deliver the datagrams locally if: The sending host belongs to the destination group;
/// Multicast loopback on the sending socket is enabled"
#[test]
fn hops_0_is_delivered_locally_when_loop_is_on() {
    needs_root!();
    zero_is_delivered_locally(&V6, "hop0on", true);
}

/// (IPv6) The other half: with loop off, a hop limit of 0 reaches nobody.
#[test]
fn hops_0_is_not_delivered_locally_when_loop_is_off() {
    needs_root!();
    zero_is_delivered_locally(&V6, "hop0off", false);
}

/// Star: a sends out of va; b gets it, c does not (c's first datagram is the control a sends out of vc).
fn one_interface_per_transmission(f: &Fam, tag: &str) {
    let star = Star::new(tag);
    let g = f.g(7003);
    let (rb, rc) = (receiver(&star.b, g, "vb"), receiver(&star.c, g, "vd"));
    sender(&star.a, g, "va", 1, true).send(b"out of va").unwrap();
    expect_exact(rb.socket(), "b", b"out of va", f.a, f.group, star.b.ifindex("vb"));
    sender(&star.a, g, "vc", 1, true).send(b"control").unwrap();
    expect_exact(rc.socket(), "c", b"control", f.ac, f.group, star.c.ifindex("vd"));
    assert_silent(rc.socket(), "c after the control");
}

/// "Each multicast transmission is sent from a single network interface, even if the host has more than one
/// multicast-capable interface."
#[test]
fn each_datagram_leaves_by_one_interface() {
    needs_root!();
    one_interface_per_transmission(&V4, "one");
}

/// (IPv6) "Each multicast transmission is sent from a single network interface, even if the host has more
/// than one multicast-capable interface."
#[test]
fn ipv6_each_datagram_leaves_by_one_interface() {
    needs_root!();
    one_interface_per_transmission(&V6, "one6");
}

/// "Revert to the default interface by specifying the address INADDR_ANY."
///
/// Star, with a's multicast route moved to vc: a socket set to va's address reaches b; set back to
/// 0.0.0.0 (read back as such) it follows the route to c, and b gets nothing more.
#[test]
fn multicast_if_inaddr_any_reverts_to_the_default_interface() {
    needs_root!();
    let star = Star::new("mif");
    star.a.ip(&["route", "replace", "224.0.0.0/4", "dev", "vc"]);
    let g = V4.g(7004);
    let (rb, rc) = (receiver(&star.b, g, "vb"), receiver(&star.c, g, "vd"));
    let tx = star.a.run(|| McastSocket::udp(Family::V4)).unwrap();
    tx.set_multicast_if_v4(Ipv4Addr::new(10, 0, 0, 1)).unwrap();
    tx.send_to(b"out of va", g.socket_addr()).unwrap();
    expect_exact(rb.socket(), "b", b"out of va", V4.a, V4.group, star.b.ifindex("vb"));
    tx.set_multicast_if_v4(Ipv4Addr::UNSPECIFIED).unwrap();
    assert_eq!(tx.multicast_if_v4().unwrap(), Ipv4Addr::UNSPECIFIED);
    tx.send_to(b"by route", g.socket_addr()).unwrap();
    expect_exact(rc.socket(), "c", b"by route", V4.ac, V4.group, star.c.ifindex("vd"));
    assert_silent(rb.socket(), "b after the route's datagram");
}

/// (IPv6) "Revert to the default interface by specifying the value 0."
///
/// Star: whichever of va and vc the route picks for the group (`ip -6 route get`), the socket first names
/// the other; that datagram goes there. Set to 0 (read back as such), the next follows the route.
#[test]
fn ipv6_multicast_if_0_reverts_to_the_default_interface() {
    needs_root!();
    let star = Star::new("mif6");
    let g = V6.g(7005);
    let route = String::from_utf8_lossy(&star.a.ip(&["-6", "route", "get", "ff1e::1234"]).stdout).to_string();
    let (rb, rc) = (receiver(&star.b, g, "vb"), receiver(&star.c, g, "vd"));
    let b_side = (&rb, "va", V6.a, star.b.ifindex("vb"));
    let c_side = (&rc, "vc", V6.ac, star.c.ifindex("vd"));
    let (routed, other) = if route.contains("dev va") { (b_side, c_side) } else { (c_side, b_side) };
    assert!(route.contains(&format!("dev {}", routed.1)), "{route}");
    let tx = star.a.run(|| McastSocket::udp(Family::V6)).unwrap();
    tx.set_multicast_if_v6(star.a.ifindex(other.1)).unwrap();
    tx.send_to(b"chosen", g.socket_addr()).unwrap();
    expect_exact(other.0.socket(), "the chosen side", b"chosen", other.2, V6.group, other.3);
    tx.set_multicast_if_v6(0).unwrap();
    assert_eq!(tx.multicast_if_v6().unwrap(), 0);
    tx.send_to(b"by route", g.socket_addr()).unwrap();
    expect_exact(routed.0.socket(), "the route's side", b"by route", routed.2, V6.group, routed.3);
    assert_silent(other.0.socket(), "the chosen side after the route's datagram");
}

/// "The local IP address of an interface is obtained with the SIOCGIFCONF ioctl. To determine if an interface
/// supports multicasting, fetch the interface flags with the SIOCGIFFLAGS ioctl and test if the IFF_MULTICAST
/// flag is set."
///
/// Link: mcast's `Interface` (SIOCGIFCONF, SIOCGIFFLAGS) lists va's two IPv4 addresses and its MULTICAST
/// flag, and sees the flag go when `ip link set va multicast off` clears it.
#[test]
fn interface_addresses_and_multicast_flag_come_from_the_ioctls() {
    needs_root!();
    let link = Link::new("ioctl");
    let va = link.a.run(|| Interface::by_name("va")).unwrap();
    assert_eq!(va.ipv4, [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 11)]);
    assert!(va.is_multicast() && va.is_up(), "{:?}", va.flag_names());
    let by_addr = link.a.run(|| Interface::by_addr(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 11)))).unwrap();
    assert_eq!(by_addr.index, va.index);
    link.a.ip(&["link", "set", "va", "multicast", "off"]);
    let va = link.a.run(|| Interface::by_name("va")).unwrap();
    assert!(!va.is_multicast(), "{:?}", va.flag_names());
}

/// Link: a fresh socket reports loop on, and a member on the sender's own va gets its datagram, as does b.
fn loop_on_by_default(f: &Fam, tag: &str) {
    let link = Link::new(tag);
    let g = f.g(7006);
    let (ra, rb) = (receiver(&link.a, g, "va"), receiver(&link.b, g, "vb"));
    let tx = plain_sender(&link.a, g, "va");
    assert!(f.loop_of(tx.socket()));
    tx.send(b"looped").unwrap();
    expect_exact(ra.socket(), "a", b"looped", f.a, f.group, link.a.ifindex("va"));
    expect_exact(rb.socket(), "b", b"looped", f.a, f.group, link.b.ifindex("vb"));
}

/// "If a multicast datagram is sent to a group to which the sending host itself belongs, a copy of the
/// datagram is, by default, looped back by the IP layer for local delivery."
#[test]
fn default_loop_is_on() {
    needs_root!();
    loop_on_by_default(&V4, "dloop");
}

/// (IPv6) "If a multicast datagram is sent to a group to which the sending host itself belongs, a copy of the
/// datagram is, by default, looped back by the IP layer for local delivery."
#[test]
fn ipv6_default_loop_is_on() {
    needs_root!();
    loop_on_by_default(&V6, "dloop6");
}

/// Link: loop 0, send; loop 1, send: the local member's first datagram is the second.
fn loop_switch(f: &Fam, tag: &str) {
    let link = Link::new(tag);
    let g = f.g(7007);
    let ra = receiver(&link.a, g, "va");
    let tx = plain_sender(&link.a, g, "va");
    f.set_loop(tx.socket(), false);
    tx.send(b"loop 0").unwrap();
    f.set_loop(tx.socket(), true);
    tx.send(b"loop 1").unwrap();
    expect_exact(ra.socket(), "a", b"loop 1", f.a, f.group, link.a.ifindex("va"));
    assert_silent(ra.socket(), "a after loop 1");
}

/// "where loop is 0 to disable loopback and 1 to enable loopback."
#[test]
fn loop_0_disables_and_1_enables_the_local_copy() {
    needs_root!();
    loop_switch(&V4, "loop");
}

/// (IPv6) "where loop is zero to disable loopback and one to enable loopback."
#[test]
fn ipv6_loop_0_disables_and_1_enables_the_local_copy() {
    needs_root!();
    loop_switch(&V6, "loop6");
}

/// va's own address of `g`'s family: 10.0.1.1, or its IPv6 link-local address.
fn va_source(h: &Netns, g: Group) -> IpAddr {
    let va = h.run(|| Interface::by_name("va")).unwrap();
    match g.ip() {
        IpAddr::V4(_) => IpAddr::V4(va.first_ipv4().expect("10.0.1.1 on va")),
        IpAddr::V6(_) => IpAddr::V6(va.ipv6.into_iter().find(|a| a.segments()[0] == 0xfe80).expect("fe80 on va")),
    }
}

/// Pair: h sends out of va with loop off; its member on vb gets the datagram from the link. No loop copy
/// reaches its member on va: that member sees the control sent afterwards with loop on arrive on va, and
/// never "loop off" on va. (An IPv6 socket joined on va also takes the group from vb, where the host is a
/// member too; the arrival interface tells the copies apart.)
fn another_interface(g: Group, tag: &str) {
    let h = pair(tag);
    let source = va_source(&h, g);
    let (va, vb) = (h.ifindex("va"), h.ifindex("vb"));
    let (on_va, on_vb) = (receiver(&h, g, "va"), receiver(&h, g, "vb"));
    sender(&h, g, "va", 2, false).send(b"loop off").unwrap();
    let got = expect_exact(on_vb.socket(), "h on vb", b"loop off", source, g.ip(), vb);
    assert_eq!(got.meta.ttl, Some(2));
    sender(&h, g, "va", 2, true).send(b"control").unwrap();
    let mut arrivals = Vec::new();
    let mut buf = [0u8; 64];
    while let Some(meta) = on_va.recv_timeout(&mut buf, QUIET).unwrap() {
        assert_eq!(meta.source.ip(), source);
        arrivals.push((String::from_utf8_lossy(&buf[..meta.len]).to_string(), meta.ifindex));
    }
    assert!(arrivals.contains(&("control".to_string(), Some(va))), "loop copy of the control: {arrivals:?}");
    assert!(!arrivals.contains(&("loop off".to_string(), Some(va))), "no loop copy with loop off: {arrivals:?}");
}

/// "If the sending host belongs to the destination group on another interface, a multicast datagram sent with
/// an initial TTL greater than 1 can be delivered to the sending host on the other interface. The loopback
/// control option has no effect on such delivery."
#[test]
fn loop_off_does_not_stop_delivery_on_another_interface() {
    needs_root!();
    another_interface(V4.g(7008), "other");
}

/// (IPv6) "If the sending host belongs to the destination group on another interface, a multicast datagram
/// sent with an initial hop limit greater than 1 can be delivered to the sending host on the other
/// interface. The loopback control option has no effect on such delivery." (A link-local group, so va's
/// link-local address is the source.)
#[test]
fn ipv6_loop_off_does_not_stop_delivery_on_another_interface() {
    needs_root!();
    another_interface("[ff12::1234]:7009".parse().unwrap(), "other6");
}

/// "ffX1::0/16 Node-local scope, restricted to the same node"
///
/// Link: a sends to ff11::1234 out of va with hop limit 5; a's own member gets it, b's does not. b's member
/// also joins a global group on the same port, and its first datagram is the control sent there.
#[test]
fn node_local_scope_stays_on_the_node() {
    needs_root!();
    let link = Link::new("node");
    let node: Group = "[ff11::1234]:7010".parse().unwrap();
    let global = V6.g(7010);
    let ra = receiver(&link.a, node, "va");
    let rb = link.b.run(|| Receiver::builder(node).group(global).interface(iface("vb")).build()).unwrap();
    let va = link.a.run(|| Interface::by_name("va")).unwrap();
    let link_local = va.ipv6.iter().copied().find(|a: &Ipv6Addr| a.segments()[0] == 0xfe80).expect("fe80 on va");
    sender(&link.a, node, "va", 5, true).send(b"node-local").unwrap();
    let got = expect(ra.socket(), "a");
    assert_eq!(got.bytes, b"node-local");
    assert!([IpAddr::V6(link_local), V6.a].contains(&got.meta.source.ip()), "a source of va: {:?}", got.meta.source);
    assert_eq!((got.meta.group, got.meta.ifindex), (Some(node.ip()), Some(va.index)));
    sender(&link.a, global, "va", 1, true).send(b"control").unwrap();
    expect_exact(rb.socket(), "b", b"control", V6.a, V6.group, link.b.ifindex("vb"));
    assert_silent(rb.socket(), "b after the control");
}
