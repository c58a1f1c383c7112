//! TTL and hop-limit scoping across a multicast router.
//!
//! Topology ([`Routed`], two subnets):
//!
//! ```text
//!   h1: v1 10.1.0.2 fd00:1::2  ---  r1 [router: smcrouted] r2  ---  v2 10.2.0.2 fd00:2::2 :h2
//! ```
//!
//! h1 sends out of v1. The "near" receiver is on the router itself, joined on r1: it sees what reaches
//! the first hop, with the TTL it was sent with. The "far" receiver is h2, joined on v2: it sees only
//! what the router forwarded, with the TTL the router left. The router has (S,G) routes from h1 to
//! subnet 2 for every group used here, the link-local ones included, so that only the kernel's rules
//! (TTL above the threshold of 1, never link-local groups) decide what crosses.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use common::routed::{mfc6, mfc_hex, Mroute, Routed};
use common::traffic::{assert_silent, expect_exact, iface, receiver, Got};
use mcast::{Group, McastSocket, Receiver, Sender};

/// A routable IPv4 group.
const G4: Ipv4Addr = Ipv4Addr::new(239, 1, 1, 1);
/// An IPv4 group in 224.0.0.0/24, which routers never forward.
const LL4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 200);
/// A routable (site-scoped) IPv6 group.
const G6: Ipv6Addr = Ipv6Addr::new(0xff15, 0, 0, 0, 0, 0, 1, 1);
/// An IPv6 link-scoped group (ff02::/16).
const LL6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x200);

const PORT: u16 = 5000;

fn group(ip: impl Into<IpAddr>) -> Group {
    Group::new(ip.into(), PORT).expect("a multicast group")
}

/// Two subnets; the router forwards h1's datagrams to `groups` onto subnet 2.
fn network(tag: &str, groups: &[IpAddr]) -> Routed {
    let mut net = Routed::new(tag, 2);
    let routes: Vec<Mroute> = groups.iter().map(|g| Mroute::sg(1, net.subnet(1).host_ip(*g), *g, &[2])).collect();
    net.start_router(&routes);
    net
}

/// A sender in h1 out of v1, bound to h1's address of the group's family (so the source is the one the
/// (S,G) route names, also for a link-scoped IPv6 group), with the given TTL and no loopback.
fn h1_sender(net: &Routed, g: Group, ttl: u8) -> Sender {
    let bind = SocketAddr::new(net.subnet(1).host_ip(g.ip()), 0);
    net.host(1)
        .run(move || Sender::builder(g).interface(iface("v1")).ttl(ttl).multicast_loop(false).bind(bind).build())
        .expect("sender in h1")
}

fn set_ttl(tx: &Sender, ttl: u8) {
    let s: &McastSocket = tx.socket();
    match tx.group().ip() {
        IpAddr::V4(_) => s.set_multicast_ttl_v4(ttl).expect("IP_MULTICAST_TTL"),
        IpAddr::V6(_) => s.set_multicast_hops_v6(ttl).expect("IPV6_MULTICAST_HOPS"),
    }
}

/// Expects `payload` from h1 to `g`, on interface `ifname` of `ns`, with this TTL / hop limit.
fn expect_hop(net: &Routed, rx: &Receiver, ns: &common::Netns, ifname: &str, g: Group, payload: &[u8], ttl: u8) -> Got {
    let src = net.subnet(1).host_ip(g.ip());
    let what = format!("{} on {ifname}", String::from_utf8_lossy(payload));
    let got = expect_exact(rx.socket(), &what, payload, src, g.ip(), ns.ifindex(ifname));
    assert_eq!(got.meta.ttl, Some(ttl), "{what}: TTL / hop limit on arrival");
    got
}

/// TTL 1 reaches the router's interface and goes no further; TTL 2 sent right after crosses. The far
/// receiver's first datagram is the TTL 2 one: had the TTL 1 one crossed, it would have come first.
fn ttl_1_stays_on_its_subnet(tag: &str, g: IpAddr) {
    let net = network(tag, &[g]);
    let g = group(g);
    let near = receiver(&net.router, g, "r1");
    let far = receiver(net.host(2), g, "v2");
    let tx = h1_sender(&net, g, 1);
    tx.send(b"ttl 1 must stay").unwrap();
    set_ttl(&tx, 2);
    tx.send(b"ttl 2 crosses").unwrap();

    expect_hop(&net, &near, &net.router, "r1", g, b"ttl 1 must stay", 1);
    expect_hop(&net, &near, &net.router, "r1", g, b"ttl 2 crosses", 2);
    expect_hop(&net, &far, net.host(2), "v2", g, b"ttl 2 crosses", 1);
    assert_silent(far.socket(), "far receiver after the TTL 2 datagram");
    assert_silent(near.socket(), "near receiver after both");
}

#[test]
fn ipv4_ttl_1_stays_on_its_subnet() {
    needs_root!();
    ttl_1_stays_on_its_subnet("ttl1v4", G4.into());
}

#[test]
fn ipv6_hop_limit_1_stays_on_its_subnet() {
    needs_root!();
    ttl_1_stays_on_its_subnet("ttl1v6", G6.into());
}

/// The router decrements the TTL by one: sent 2, 5 and 255, the far receiver reports 1, 4 and 254, while
/// the router's own receiver sees them as sent.
fn router_decrements_the_ttl(tag: &str, g: IpAddr) {
    let net = network(tag, &[g]);
    let g = group(g);
    let near = receiver(&net.router, g, "r1");
    let far = receiver(net.host(2), g, "v2");
    let tx = h1_sender(&net, g, 2);
    for ttl in [2u8, 5, 255] {
        set_ttl(&tx, ttl);
        let payload = format!("sent with TTL {ttl}");
        tx.send(payload.as_bytes()).unwrap();
        expect_hop(&net, &near, &net.router, "r1", g, payload.as_bytes(), ttl);
        expect_hop(&net, &far, net.host(2), "v2", g, payload.as_bytes(), ttl - 1);
    }
    assert_silent(far.socket(), "far receiver after three datagrams");
}

#[test]
fn ipv4_router_decrements_the_ttl() {
    needs_root!();
    router_decrements_the_ttl("decv4", G4.into());
}

#[test]
fn ipv6_router_decrements_the_hop_limit() {
    needs_root!();
    router_decrements_the_ttl("decv6", G6.into());
}

/// One line of /proc/net/ip_mr_cache or ip6_mr_cache for (`source`, `group`): its packet counter, the
/// datagrams the router matched against the route (forwarded or not). `None` if the route is absent.
fn mfc_packets(net: &Routed, source: IpAddr, group: IpAddr) -> Option<u64> {
    let (table, g, s) = match (group, source) {
        (IpAddr::V4(g), IpAddr::V4(s)) => (net.router.proc_net("ip_mr_cache"), mfc_hex(g), mfc_hex(s)),
        (IpAddr::V6(g), IpAddr::V6(s)) => (net.router.proc_net("ip6_mr_cache"), mfc6(g), mfc6(s)),
        _ => panic!("{source} and {group} differ in family"),
    };
    table.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        (f.next() == Some(&g) && f.next() == Some(&s)).then(|| f.nth(1).and_then(|p| p.parse().ok()))?
    })
}

/// A link-local group sent with TTL 255 reaches the router's interface but is not forwarded, although
/// the router has a route for it; a routable group sent right after on the same path is. The kernel
/// does not even look the link-local datagram up in its forwarding cache: that route's counter stays 0.
fn link_local_is_never_forwarded(tag: &str, link_local: IpAddr, routable: IpAddr) {
    let net = network(tag, &[link_local, routable]);
    let (ll, ok) = (group(link_local), group(routable));
    let src = net.subnet(1).host_ip(routable);
    assert_eq!(mfc_packets(&net, src, link_local), Some(0), "the router has a route for {link_local}");

    // The router's own receivers take one socket per group. With one socket for both, Linux's UDP early
    // demultiplexing would hand the routable datagram the route cached on that socket by the link-local
    // one, which delivers locally and never reaches the multicast forwarding code.
    let near_ll = receiver(&net.router, ll, "r1");
    let near_ok = receiver(&net.router, ok, "r1");
    let far = net.host(2).run(move || Receiver::builder(ll).group(ok).interface(iface("v2")).build()).expect("far");
    let tx_ll = h1_sender(&net, ll, 255);
    let tx_ok = h1_sender(&net, ok, 255);
    tx_ll.send(b"link-local, TTL 255").unwrap();
    tx_ok.send(b"routable, TTL 255").unwrap();

    expect_hop(&net, &near_ll, &net.router, "r1", ll, b"link-local, TTL 255", 255);
    expect_hop(&net, &near_ok, &net.router, "r1", ok, b"routable, TTL 255", 255);
    expect_hop(&net, &far, net.host(2), "v2", ok, b"routable, TTL 255", 254);
    assert_silent(far.socket(), "far receiver: the link-local group");
    assert_eq!(mfc_packets(&net, src, routable), Some(1), "the routable datagram went through the MFC");
    assert_eq!(mfc_packets(&net, src, link_local), Some(0), "the link-local datagram never did");
}

#[test]
fn ipv4_link_local_groups_are_never_forwarded() {
    needs_root!();
    link_local_is_never_forwarded("llv4", LL4.into(), G4.into());
}

#[test]
fn ipv6_link_scoped_groups_are_never_forwarded() {
    needs_root!();
    link_local_is_never_forwarded("llv6", LL6.into(), G6.into());
}
