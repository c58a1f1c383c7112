//! Source-specific multicast and source blocking, with two real sources on different subnets.
//!
//! Topology ([`Routed`], three subnets):
//!
//! ```text
//!   h1 (S1): v1 10.1.0.2 fd00:1::2  ---  r1 \
//!                                          router (smcrouted)  r2  ---  v2 10.2.0.2 fd00:2::2 :h2 (receivers)
//!   h3 (S2): v3 10.3.0.2 fd00:3::2  ---  r3 /
//! ```
//!
//! The router forwards both sources' datagrams to the group onto subnet 2, whatever h2 joined (static
//! routes, no IGMP/MLD snooping): every datagram reaches v2, and only h2's source filters decide which
//! socket gets it. Each test has a control receiver that proves the other source's datagrams did arrive.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use common::routed::{Mroute, Routed};
use common::traffic::{assert_silent, expect_exact, iface};
use mcast::{Group, Receiver, Sender};

const PORT: u16 = 5000;

/// An IPv4 source-specific group (232.0.0.0/8).
const SSM4: Ipv4Addr = Ipv4Addr::new(232, 1, 1, 1);
/// An IPv6 source-specific group (ff3e::/96, global scope).
const SSM6: Ipv6Addr = Ipv6Addr::new(0xff3e, 0, 0, 0, 0, 0, 0x8000, 1);
/// Any-source groups for the blocking tests.
const ASM4: Ipv4Addr = Ipv4Addr::new(239, 2, 2, 2);
const ASM6: Ipv6Addr = Ipv6Addr::new(0xff15, 0, 0, 0, 0, 0, 2, 2);

fn group(ip: impl Into<IpAddr>) -> Group {
    Group::new(ip.into(), PORT).expect("a multicast group")
}

/// Three subnets; the router forwards `g` from S1 (h1) and from S2 (h3) onto subnet 2.
fn network(tag: &str, g: IpAddr) -> Routed {
    let mut net = Routed::new(tag, 3);
    let (s1, s2) = (net.subnet(1).host_ip(g), net.subnet(3).host_ip(g));
    net.start_router(&[Mroute::sg(1, s1, g, &[2]), Mroute::sg(3, s2, g, &[2])]);
    net
}

/// A sender on subnet `i`'s host, TTL 2 (one router), bound to the host's address.
fn source(net: &Routed, i: usize, g: Group) -> Sender {
    let s = net.subnet(i);
    let (ifname, bind) = (s.host_if.clone(), SocketAddr::new(s.host_ip(g.ip()), 0));
    s.host.run(move || Sender::builder(g).interface(iface(&ifname)).ttl(2).bind(bind).build()).expect("sender")
}

/// A receiver in h2 joined on v2 to `g`, from `from` only when given.
fn h2_receiver(net: &Routed, g: Group, from: Option<IpAddr>) -> Receiver {
    net.host(2)
        .run(move || {
            let b = Receiver::builder(g).interface(iface("v2"));
            match from {
                Some(s) => b.source(s).build(),
                None => b.build(),
            }
        })
        .expect("receiver in h2")
}

/// One receiver joined (S1, G), another (S2, G). Each source sends three datagrams, S2 first each time;
/// each receiver gets exactly its source's three, in order, and nothing else.
fn ssm_receives_only_its_source(tag: &str, g: IpAddr) {
    let net = network(tag, g);
    let g = group(g);
    let (s1, s2) = (net.subnet(1).host_ip(g.ip()), net.subnet(3).host_ip(g.ip()));
    let only_s1 = h2_receiver(&net, g, Some(s1));
    let only_s2 = h2_receiver(&net, g, Some(s2));
    let v2 = net.host(2).ifindex("v2");

    // The kernel's record of the joins: one socket includes S1, one includes S2, none excludes.
    let filters: Vec<(IpAddr, u32, u32)> = match g.ip() {
        IpAddr::V4(gv4) => net
            .host(2)
            .mcfilter()
            .into_iter()
            .filter(|f| f.group == gv4 && f.ifindex == v2)
            .map(|f| (IpAddr::V4(f.source), f.include, f.exclude))
            .collect(),
        IpAddr::V6(gv6) => net
            .host(2)
            .mcfilter6()
            .into_iter()
            .filter(|f| f.group == gv6 && f.ifindex == v2)
            .map(|f| (IpAddr::V6(f.source), f.include, f.exclude))
            .collect(),
    };
    let mut filters = filters;
    filters.sort();
    let mut want = vec![(s1, 1, 0), (s2, 1, 0)];
    want.sort();
    assert_eq!(filters, want, "source filters on v2 for {g}");

    let (tx1, tx2) = (source(&net, 1, g), source(&net, 3, g));
    for n in 1..=3 {
        tx2.send(format!("S2 #{n}").as_bytes()).unwrap();
        tx1.send(format!("S1 #{n}").as_bytes()).unwrap();
    }
    for n in 1..=3 {
        let s1_payload = format!("S1 #{n}");
        let got = expect_exact(only_s1.socket(), "(S1, G) receiver", s1_payload.as_bytes(), s1, g.ip(), v2);
        assert_eq!(got.meta.ttl, Some(1), "forwarded once");
        let s2_payload = format!("S2 #{n}");
        expect_exact(only_s2.socket(), "(S2, G) receiver", s2_payload.as_bytes(), s2, g.ip(), v2);
    }
    assert_silent(only_s1.socket(), "(S1, G) receiver: nothing from S2");
    assert_silent(only_s2.socket(), "(S2, G) receiver: nothing from S1");
}

#[test]
fn ipv4_source_specific_join_receives_only_its_source() {
    needs_root!();
    ssm_receives_only_its_source("ssm4", SSM4.into());
}

#[test]
fn ipv6_source_specific_join_receives_only_its_source() {
    needs_root!();
    ssm_receives_only_its_source("ssm6", SSM6.into());
}

/// An any-source join gets both sources; after blocking S2 (IP_BLOCK_SOURCE / MCAST_BLOCK_SOURCE) only
/// S1's arrive, while a control receiver still gets S2's; after unblocking, S2's arrive again.
fn blocked_source_is_dropped(tag: &str, g: IpAddr) {
    let net = network(tag, g);
    let g = group(g);
    let (s1, s2) = (net.subnet(1).host_ip(g.ip()), net.subnet(3).host_ip(g.ip()));
    let rx = h2_receiver(&net, g, None);
    let control = h2_receiver(&net, g, None);
    let v2 = net.host(2).ifindex("v2");
    let (tx1, tx2) = (source(&net, 1, g), source(&net, 3, g));
    let both = |phase: &str, rx_gets_s2: bool| {
        let (p2, p1) = (format!("S2 {phase}"), format!("S1 {phase}"));
        tx2.send(p2.as_bytes()).unwrap();
        // S2's reaches the control before S1 is sent, so a leak past the block would come first.
        expect_exact(control.socket(), "control", p2.as_bytes(), s2, g.ip(), v2);
        tx1.send(p1.as_bytes()).unwrap();
        expect_exact(control.socket(), "control", p1.as_bytes(), s1, g.ip(), v2);
        if rx_gets_s2 {
            expect_exact(rx.socket(), &format!("receiver, {phase}"), p2.as_bytes(), s2, g.ip(), v2);
        }
        expect_exact(rx.socket(), &format!("receiver, {phase}"), p1.as_bytes(), s1, g.ip(), v2);
    };
    let block = |on: bool| {
        let s = rx.socket();
        let r = match (g.ip(), s2) {
            (IpAddr::V4(gv4), IpAddr::V4(src)) => {
                let v2_addr = net.subnet(2).host4;
                if on {
                    s.block_source_v4(gv4, src, v2_addr)
                } else {
                    s.unblock_source_v4(gv4, src, v2_addr)
                }
            }
            (gip, src) => {
                if on {
                    s.block_source(gip, src, v2)
                } else {
                    s.unblock_source(gip, src, v2)
                }
            }
        };
        r.unwrap_or_else(|e| panic!("{} {s2} in {g}: {e}", if on { "block" } else { "unblock" }));
    };

    both("before the block", true);
    block(true);
    both("while blocked", false);
    assert_silent(rx.socket(), "receiver while S2 is blocked");
    block(false);
    both("after the unblock", true);
    assert_silent(rx.socket(), "receiver at the end");
    assert_silent(control.socket(), "control at the end");
}

#[test]
fn ipv4_blocked_source_is_dropped_from_an_any_source_join() {
    needs_root!();
    blocked_source_is_dropped("blk4", ASM4.into());
}

#[test]
fn ipv6_blocked_source_is_dropped_from_an_any_source_join() {
    needs_root!();
    blocked_source_is_dropped("blk6", ASM6.into());
}
