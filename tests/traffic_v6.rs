//! IPv6 multicast across a link: what arrives, with which metadata, and what must not arrive.
//!
//! Topology, unless a test says otherwise ([`Link`]):
//!
//! ```text
//!   namespace a: va fd00:1::1/64 + fd00:1::11/64 (deprecated)  <-- veth -->  namespace b: vb fd00:1::2/64
//! ```
//!
//! Global-scope groups (`ff1e::/16`, SSM `ff3e::/96`) so that the global addresses are the sources. Senders
//! sit in `a` and send out of `va`; receivers join on `vb` (or on `va` for the sender's own host). Every
//! "nothing arrives" check comes after a control datagram on the same socket proved the path works.

mod common;

use std::net::{IpAddr, Ipv6Addr};

use common::traffic::{
    assert_silent, expect_exact, iface, receiver, recv_batches, sender, sender_from, Got, Link, A6, A6_ALT, WAIT,
};
use mcast::{Group, Receiver};

const G: Ipv6Addr = Ipv6Addr::new(0xff1e, 0, 0, 0, 0, 0, 0, 0x1234);

fn group(ip: Ipv6Addr, port: u16) -> Group {
    Group::new(IpAddr::V6(ip), port).expect("a multicast group")
}

fn v6(ip: Ipv6Addr) -> IpAddr {
    IpAddr::V6(ip)
}

/// a --va--> b: three datagrams arrive on vb, each with its exact bytes, the sender's address and port, the
/// group (`IPV6_PKTINFO`) and vb's index; a fourth never comes.
#[test]
fn datagrams_cross_the_link_with_bytes_source_group_and_interface() {
    let link = Link::new("v6x");
    let g = group(G, 6000);
    let rx = receiver(&link.b, g, "vb");
    let tx = sender(&link.a, g, "va", 1, true);
    let vb = link.b.ifindex("vb");
    for i in 0..3 {
        tx.send(format!("datagram {i}").as_bytes()).unwrap();
    }
    let port = tx.socket().local_addr().expect("sender's address").port();
    for i in 0..3 {
        let got = expect_exact(rx.socket(), "b on vb", format!("datagram {i}").as_bytes(), v6(A6), v6(G), vb);
        assert_eq!(got.meta.source.port(), port, "the sender's port");
    }
    assert_silent(rx.socket(), "b after three datagrams");
}

/// `IPV6_RECVHOPLIMIT`: the receiver sees the hop limit the sender set, 1, 7 and 255, unchanged across one link.
#[test]
fn receiver_sees_the_senders_hop_limit() {
    let link = Link::new("v6hl");
    let g = group(G, 6001);
    let rx = receiver(&link.b, g, "vb");
    let vb = link.b.ifindex("vb");
    for hops in [1u32, 7, 255] {
        let tx = sender(&link.a, g, "va", hops, true);
        assert_eq!(tx.socket().multicast_hops_v6().unwrap(), hops as i32);
        tx.send(format!("hops {hops}").as_bytes()).unwrap();
        let got = expect_exact(rx.socket(), "b", format!("hops {hops}").as_bytes(), v6(A6), v6(G), vb);
        assert_eq!(got.meta.ttl, Some(hops as u8), "hop limit on arrival");
    }
}

/// Loop off: the peer gets the datagram, a member on the sender's own host (joined on va) does not. The
/// control is a loop-on sender whose datagram must be the first that member sees.
#[test]
fn loop_off_the_senders_host_gets_nothing_the_peer_does() {
    let link = Link::new("v6lo");
    let g = group(G, 6002);
    let (ra, rb) = (receiver(&link.a, g, "va"), receiver(&link.b, g, "vb"));
    sender(&link.a, g, "va", 1, false).send(b"loop off").unwrap();
    expect_exact(rb.socket(), "peer", b"loop off", v6(A6), v6(G), link.b.ifindex("vb"));
    sender(&link.a, g, "va", 1, true).send(b"control").unwrap();
    expect_exact(ra.socket(), "sender's host", b"control", v6(A6), v6(G), link.a.ifindex("va"));
    assert_silent(ra.socket(), "sender's host after the control");
}

/// Loop on: the peer and the member on the sender's own host both get it.
#[test]
fn loop_on_both_hosts_get_it() {
    let link = Link::new("v6ll");
    let g = group(G, 6003);
    let (ra, rb) = (receiver(&link.a, g, "va"), receiver(&link.b, g, "vb"));
    sender(&link.a, g, "va", 1, true).send(b"loop on").unwrap();
    expect_exact(rb.socket(), "peer", b"loop on", v6(A6), v6(G), link.b.ifindex("vb"));
    expect_exact(ra.socket(), "sender's host", b"loop on", v6(A6), v6(G), link.a.ifindex("va"));
}

/// Two receivers on one port (`SO_REUSEADDR`, the builder's default) both get every datagram, in order.
#[test]
fn two_reuseaddr_sockets_both_get_every_datagram() {
    let link = Link::new("v6ru");
    let g = group(G, 6004);
    let (r1, r2) = (receiver(&link.b, g, "vb"), receiver(&link.b, g, "vb"));
    let tx = sender(&link.a, g, "va", 1, true);
    for i in 0..5 {
        tx.send(format!("to both {i}").as_bytes()).unwrap();
    }
    let vb = link.b.ifindex("vb");
    for r in [&r1, &r2] {
        for i in 0..5 {
            expect_exact(r.socket(), "b", format!("to both {i}").as_bytes(), v6(A6), v6(G), vb);
        }
        assert_silent(r.socket(), "b after five");
    }
}

const GA: Ipv6Addr = Ipv6Addr::new(0xff1e, 0, 0, 0, 0, 0, 0, 0xa);
const GB: Ipv6Addr = Ipv6Addr::new(0xff1e, 0, 0, 0, 0, 0, 0, 0xb);
const GC: Ipv6Addr = Ipv6Addr::new(0xff1e, 0, 0, 0, 0, 0, 0, 0xc);

/// Port P, socket SA joined to group A, another socket SB on the host joined to B. A datagram to B:P reaches
/// SB but not SA: the builder turned `IPV6_MULTICAST_ALL` off. SA's first datagram is the control to A:P.
#[test]
fn a_socket_joined_to_a_gets_nothing_sent_to_b_on_its_port() {
    let link = Link::new("v6ab");
    let (a, b) = (group(GA, 6005), group(GB, 6005));
    let (sa, sb) = (receiver(&link.b, a, "vb"), receiver(&link.b, b, "vb"));
    assert!(!sa.socket().multicast_all_v6().unwrap());
    let vb = link.b.ifindex("vb");
    sender(&link.a, b, "va", 1, true).send(b"to B").unwrap();
    expect_exact(sb.socket(), "SB", b"to B", v6(A6), v6(GB), vb);
    sender(&link.a, a, "va", 1, true).send(b"to A").unwrap();
    expect_exact(sa.socket(), "SA", b"to A", v6(A6), v6(GA), vb);
    assert_silent(sa.socket(), "SA after A's datagram");
}

/// The same with Linux's default kept (`.multicast_all(true)`): SA gets B's datagram too.
#[test]
fn with_multicast_all_on_a_socket_gets_groups_it_never_joined() {
    let link = Link::new("v6all");
    let (a, b) = (group(GA, 6006), group(GB, 6006));
    let sa = link.b.run(|| Receiver::builder(a).interface(iface("vb")).multicast_all(true).build()).unwrap();
    let sb = receiver(&link.b, b, "vb");
    assert!(sa.socket().multicast_all_v6().unwrap());
    let vb = link.b.ifindex("vb");
    sender(&link.a, b, "va", 1, true).send(b"to B").unwrap();
    expect_exact(sb.socket(), "SB", b"to B", v6(A6), v6(GB), vb);
    expect_exact(sa.socket(), "SA, never joined to B", b"to B", v6(A6), v6(GB), vb);
}

/// After SA leaves A, a datagram to A:P reaches another member of A on the host but not SA; SA's next
/// datagram is the control sent to C, which it still joins.
#[test]
fn after_leave_nothing_from_the_group_arrives() {
    let link = Link::new("v6lv");
    let (a, c) = (group(GA, 6007), group(GC, 6007));
    let mut sa = link.b.run(|| Receiver::builder(a).group(c).interface(iface("vb")).build()).unwrap();
    let keeper = receiver(&link.b, a, "vb");
    let vb = link.b.ifindex("vb");
    link.b.run(|| sa.leave(&a, None)).unwrap();
    assert_eq!(sa.memberships().len(), 1, "only C is left");
    sender(&link.a, a, "va", 1, true).send(b"to A").unwrap();
    expect_exact(keeper.socket(), "another member of A", b"to A", v6(A6), v6(GA), vb);
    sender(&link.a, c, "va", 1, true).send(b"to C").unwrap();
    expect_exact(sa.socket(), "SA", b"to C", v6(A6), v6(GC), vb);
    assert_silent(sa.socket(), "SA after C's datagram");
}

/// A 1000-byte datagram read into a 100-byte buffer: the first 100 bytes, `len` 100, `full_len` 1000,
/// `truncated`.
#[test]
fn a_datagram_larger_than_the_buffer_is_reported_truncated() {
    let link = Link::new("v6tr");
    let g = group(G, 6008);
    let rx = receiver(&link.b, g, "vb");
    let payload: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    sender(&link.a, g, "va", 1, true).send(&payload).unwrap();
    let mut small = [0u8; 100];
    let meta = rx.recv_timeout(&mut small, WAIT).unwrap().expect("the big datagram");
    assert_eq!((meta.len, meta.full_len, meta.truncated), (100, 1000, true));
    assert_eq!(&small[..], &payload[..100]);
    assert_eq!((meta.source.ip(), meta.group), (v6(A6), Some(v6(G))));
}

/// `sendmmsg` of 50 datagrams and `recvmmsg` on the other side: all 50 arrive, in order, each with its bytes
/// and metadata; nothing more.
#[test]
fn batch_of_50_arrives_complete_and_in_order() {
    let link = Link::new("v6mm");
    let g = group(G, 6009);
    let rx = link.b.run(|| Receiver::builder(g).interface(iface("vb")).recv_buffer(1 << 20).build()).unwrap();
    let tx = sender(&link.a, g, "va", 3, true);
    let payloads: Vec<Vec<u8>> = (0..50).map(|i| format!("batch {i:02} {}", "x".repeat(i)).into_bytes()).collect();
    let bufs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    let mut sent = 0;
    while sent < bufs.len() {
        sent += tx.send_batch(&bufs[sent..]).unwrap();
    }
    let got = recv_batches(rx.socket(), 50);
    let vb = link.b.ifindex("vb");
    for (i, Got { meta, bytes }) in got.iter().enumerate() {
        assert_eq!(bytes, &payloads[i], "datagram {i}");
        assert_eq!((meta.len, meta.truncated), (payloads[i].len(), false), "datagram {i}");
        assert_eq!(meta.source.ip(), v6(A6), "datagram {i}");
        assert_eq!((meta.group, meta.ifindex, meta.ttl), (Some(v6(G)), Some(vb), Some(3)), "datagram {i}");
    }
    assert_silent(rx.socket(), "b after 50");
}

/// UDP GSO over IPv6: 15 x 1000 + 123 bytes with `UDP_SEGMENT` 1000 arrive as 16 datagrams of the right sizes.
#[test]
fn gso_send_of_16_segments_arrives_as_16_datagrams() {
    let link = Link::new("v6gso");
    let g = group(G, 6010);
    let rx = link.b.run(|| Receiver::builder(g).interface(iface("vb")).recv_buffer(1 << 20).build()).unwrap();
    let tx = sender(&link.a, g, "va", 1, true);
    let buf: Vec<u8> = (0..15 * 1000 + 123).map(|i: usize| (i / 1000) as u8 ^ (i % 256) as u8).collect();
    assert_eq!(tx.socket().send_segments(&buf, g.socket_addr(), 1000).unwrap(), buf.len());
    let vb = link.b.ifindex("vb");
    for (i, chunk) in buf.chunks(1000).enumerate() {
        expect_exact(rx.socket(), &format!("segment {i}"), chunk, v6(A6), v6(G), vb);
    }
    assert_silent(rx.socket(), "b after 16 segments");
}

const SSM: Ipv6Addr = Ipv6Addr::new(0xff3e, 0, 0, 0, 0, 0, 0, 0x4321);

/// SSM (`MCAST_JOIN_SOURCE_GROUP`): a receiver joined to (fd00:1::1, ff3e::4321) gets fd00:1::1's datagram
/// and not the one fd00:1::11 sent first.
#[test]
fn ssm_receiver_gets_its_source_only() {
    let link = Link::new("v6ssm");
    let g = group(SSM, 6011);
    let rx = link.b.run(|| Receiver::builder(g).source(v6(A6)).interface(iface("vb")).build()).unwrap();
    sender_from(&link.a, g, "va", v6(A6_ALT)).send(b"from S2").unwrap();
    sender_from(&link.a, g, "va", v6(A6)).send(b"from S1").unwrap();
    expect_exact(rx.socket(), "SSM receiver", b"from S1", v6(A6), v6(SSM), link.b.ifindex("vb"));
    assert_silent(rx.socket(), "SSM receiver after S1");
}

/// `MCAST_BLOCK_SOURCE` in an any-source join: fd00:1::11's datagram is dropped, fd00:1::1's arrives; after
/// `MCAST_UNBLOCK_SOURCE` fd00:1::11 gets through again.
#[test]
fn a_blocked_source_is_dropped_and_others_pass() {
    let link = Link::new("v6blk");
    let g = group(G, 6012);
    let rx = receiver(&link.b, g, "vb");
    let vb = link.b.ifindex("vb");
    rx.socket().block_source(v6(G), v6(A6_ALT), vb).unwrap();
    sender_from(&link.a, g, "va", v6(A6_ALT)).send(b"from S2").unwrap();
    sender_from(&link.a, g, "va", v6(A6)).send(b"from S1").unwrap();
    expect_exact(rx.socket(), "receiver", b"from S1", v6(A6), v6(G), vb);
    assert_silent(rx.socket(), "receiver after S1");
    rx.socket().unblock_source(v6(G), v6(A6_ALT), vb).unwrap();
    sender_from(&link.a, g, "va", v6(A6_ALT)).send(b"from S2 again").unwrap();
    expect_exact(rx.socket(), "receiver", b"from S2 again", v6(A6_ALT), v6(G), vb);
}
