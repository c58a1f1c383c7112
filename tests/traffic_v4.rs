//! IPv4 multicast across a link: what arrives, with which metadata, and what must not arrive.
//!
//! Topology, unless a test says otherwise ([`Link`]):
//!
//! ```text
//!   namespace a: va 10.0.0.1/24 + 10.0.0.11/24  <-- veth -->  namespace b: vb 10.0.0.2/24
//! ```
//!
//! Senders sit in `a` and send out of `va`; receivers join on `vb` (or on `va` for the sender's own host).
//! Every "nothing arrives" check comes after a control datagram on the same socket proved the path works.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::traffic::{
    assert_silent, expect_exact, iface, receiver, recv_batches, sender, sender_from, Got, Link, A4, A4_ALT, B4, WAIT,
};
use mcast::{Group, McastSocket, Receiver};

const G: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 3);

fn group(ip: Ipv4Addr, port: u16) -> Group {
    Group::new(IpAddr::V4(ip), port).expect("a multicast group")
}

fn v4(ip: Ipv4Addr) -> IpAddr {
    IpAddr::V4(ip)
}

/// a --va--> b: three datagrams arrive on vb, each with its exact bytes, the sender's address and port, the
/// group (pktinfo) and vb's index; a fourth never comes.
#[test]
fn datagrams_cross_the_link_with_bytes_source_group_and_interface() {
    let link = Link::new("v4x");
    let g = group(G, 5000);
    let rx = receiver(&link.b, g, "vb");
    let tx = sender(&link.a, g, "va", 1, true);
    let vb = link.b.ifindex("vb");
    for i in 0..3 {
        tx.send(format!("datagram {i}").as_bytes()).unwrap();
    }
    let port = tx.socket().local_addr().expect("sender's address").port();
    for i in 0..3 {
        let got = expect_exact(rx.socket(), "b on vb", format!("datagram {i}").as_bytes(), v4(A4), v4(G), vb);
        assert_eq!(got.meta.source.port(), port, "the sender's port");
    }
    assert_silent(rx.socket(), "b after three datagrams");
}

/// `IP_RECVTTL`: the receiver sees the TTL the sender set, 1, 7 and 255, unchanged across one link.
#[test]
fn receiver_sees_the_senders_ttl() {
    let link = Link::new("v4ttl");
    let g = group(G, 5001);
    let rx = receiver(&link.b, g, "vb");
    for ttl in [1u32, 7, 255] {
        let tx = sender(&link.a, g, "va", ttl, true);
        tx.send(format!("ttl {ttl}").as_bytes()).unwrap();
        let got = expect_exact(rx.socket(), "b", format!("ttl {ttl}").as_bytes(), v4(A4), v4(G), link.b.ifindex("vb"));
        assert_eq!(got.meta.ttl, Some(ttl as u8), "TTL on arrival");
    }
}

/// `IP_MULTICAST_IF` by index (`ip_mreqn`) reads back as 0.0.0.0 but does choose the interface.
#[test]
fn multicast_if_by_index_chooses_the_interface() {
    let link = Link::new("v4idx");
    let g = group(G, 5002);
    let rx = receiver(&link.b, g, "vb");
    let va = link.a.ifindex("va");
    let tx = link.a.run(|| {
        let s = McastSocket::udp(mcast::Family::V4).unwrap();
        s.set_multicast_if_v4_index(va).unwrap();
        s
    });
    assert_eq!(tx.multicast_if_v4().unwrap(), Ipv4Addr::UNSPECIFIED);
    tx.send_to(b"by index", g.socket_addr()).unwrap();
    expect_exact(rx.socket(), "b", b"by index", v4(A4), v4(G), link.b.ifindex("vb"));
}

/// Loop off: the peer gets the datagram, a member on the sender's own host (joined on va) does not. The
/// control is a loop-on sender whose datagram must be the first that member sees.
#[test]
fn loop_off_the_senders_host_gets_nothing_the_peer_does() {
    let link = Link::new("v4lo");
    let g = group(G, 5003);
    let (ra, rb) = (receiver(&link.a, g, "va"), receiver(&link.b, g, "vb"));
    let quiet = sender(&link.a, g, "va", 1, false);
    quiet.send(b"loop off").unwrap();
    expect_exact(rb.socket(), "peer", b"loop off", v4(A4), v4(G), link.b.ifindex("vb"));
    sender(&link.a, g, "va", 1, true).send(b"control").unwrap();
    expect_exact(ra.socket(), "sender's host", b"control", v4(A4), v4(G), link.a.ifindex("va"));
    assert_silent(ra.socket(), "sender's host after the control");
}

/// Loop on: the peer and the member on the sender's own host both get it.
#[test]
fn loop_on_both_hosts_get_it() {
    let link = Link::new("v4ll");
    let g = group(G, 5004);
    let (ra, rb) = (receiver(&link.a, g, "va"), receiver(&link.b, g, "vb"));
    sender(&link.a, g, "va", 1, true).send(b"loop on").unwrap();
    expect_exact(rb.socket(), "peer", b"loop on", v4(A4), v4(G), link.b.ifindex("vb"));
    expect_exact(ra.socket(), "sender's host", b"loop on", v4(A4), v4(G), link.a.ifindex("va"));
}

/// Two receivers on one port (`SO_REUSEADDR`, the builder's default) both get every datagram, in order.
#[test]
fn two_reuseaddr_sockets_both_get_every_datagram() {
    let link = Link::new("v4ru");
    let g = group(G, 5005);
    let (r1, r2) = (receiver(&link.b, g, "vb"), receiver(&link.b, g, "vb"));
    assert!(r1.socket().reuse_address().unwrap() && r2.socket().reuse_address().unwrap());
    let tx = sender(&link.a, g, "va", 1, true);
    for i in 0..5 {
        tx.send(format!("to both {i}").as_bytes()).unwrap();
    }
    let vb = link.b.ifindex("vb");
    for r in [&r1, &r2] {
        for i in 0..5 {
            expect_exact(r.socket(), "b", format!("to both {i}").as_bytes(), v4(A4), v4(G), vb);
        }
        assert_silent(r.socket(), "b after five");
    }
}

const GA: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 10);
const GB: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 11);
const GC: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 12);

/// Port P, socket SA joined to group A, another socket SB on the host joined to B. A datagram to B:P reaches
/// SB (the host accepts it) but not SA: the builder turned `IP_MULTICAST_ALL` off. SA's first datagram is
/// the control sent to A:P afterwards.
#[test]
fn a_socket_joined_to_a_gets_nothing_sent_to_b_on_its_port() {
    let link = Link::new("v4ab");
    let (a, b) = (group(GA, 5006), group(GB, 5006));
    let (sa, sb) = (receiver(&link.b, a, "vb"), receiver(&link.b, b, "vb"));
    assert!(!sa.socket().multicast_all_v4().unwrap());
    let vb = link.b.ifindex("vb");
    sender(&link.a, b, "va", 1, true).send(b"to B").unwrap();
    expect_exact(sb.socket(), "SB", b"to B", v4(A4), v4(GB), vb);
    sender(&link.a, a, "va", 1, true).send(b"to A").unwrap();
    expect_exact(sa.socket(), "SA", b"to A", v4(A4), v4(GA), vb);
    assert_silent(sa.socket(), "SA after A's datagram");
}

/// The same, with Linux's default kept (`.multicast_all(true)`): SA now gets B's datagram too, which is why
/// receivers turn it off.
#[test]
fn with_multicast_all_on_a_socket_gets_groups_it_never_joined() {
    let link = Link::new("v4all");
    let (a, b) = (group(GA, 5007), group(GB, 5007));
    let sa = link.b.run(|| Receiver::builder(a).interface(iface("vb")).multicast_all(true).build()).unwrap();
    let sb = receiver(&link.b, b, "vb");
    assert!(sa.socket().multicast_all_v4().unwrap());
    let vb = link.b.ifindex("vb");
    sender(&link.a, b, "va", 1, true).send(b"to B").unwrap();
    expect_exact(sb.socket(), "SB", b"to B", v4(A4), v4(GB), vb);
    expect_exact(sa.socket(), "SA, never joined to B", b"to B", v4(A4), v4(GB), vb);
}

/// After SA leaves A, a datagram to A:P reaches another member of A on the host but not SA; SA's next
/// datagram is the control sent to C, which it still joins.
#[test]
fn after_leave_nothing_from_the_group_arrives() {
    let link = Link::new("v4lv");
    let (a, c) = (group(GA, 5008), group(GC, 5008));
    let mut sa = link.b.run(|| Receiver::builder(a).group(c).interface(iface("vb")).build()).unwrap();
    let keeper = receiver(&link.b, a, "vb");
    let vb = link.b.ifindex("vb");
    link.b.run(|| sa.leave(&a, None)).unwrap();
    assert_eq!(sa.memberships().len(), 1, "only C is left");
    sender(&link.a, a, "va", 1, true).send(b"to A").unwrap();
    expect_exact(keeper.socket(), "another member of A", b"to A", v4(A4), v4(GA), vb);
    sender(&link.a, c, "va", 1, true).send(b"to C").unwrap();
    expect_exact(sa.socket(), "SA", b"to C", v4(A4), v4(GC), vb);
    assert_silent(sa.socket(), "SA after C's datagram");
}

/// A 1000-byte datagram read into a 100-byte buffer: the first 100 bytes, `len` 100, `full_len` 1000,
/// `truncated`. Never a silent cut.
#[test]
fn a_datagram_larger_than_the_buffer_is_reported_truncated() {
    let link = Link::new("v4tr");
    let g = group(G, 5009);
    let rx = receiver(&link.b, g, "vb");
    let payload: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    sender(&link.a, g, "va", 1, true).send(&payload).unwrap();
    let mut small = [0u8; 100];
    let meta = rx.recv_timeout(&mut small, WAIT).unwrap().expect("the big datagram");
    assert_eq!((meta.len, meta.full_len, meta.truncated), (100, 1000, true));
    assert_eq!(&small[..], &payload[..100]);
    assert_eq!(meta.source.ip(), v4(A4));
    assert_eq!(meta.group, Some(v4(G)));
}

/// `sendmmsg` of 50 datagrams and `recvmmsg` on the other side: all 50 arrive, in order, each with its bytes
/// and metadata; nothing more.
#[test]
fn batch_of_50_arrives_complete_and_in_order() {
    let link = Link::new("v4mm");
    let g = group(G, 5010);
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
        assert_eq!(meta.source.ip(), v4(A4), "datagram {i}");
        assert_eq!((meta.group, meta.ifindex, meta.ttl), (Some(v4(G)), Some(vb), Some(3)), "datagram {i}");
    }
    assert_silent(rx.socket(), "b after 50");
}

/// UDP GSO: one `sendmsg` of 15 x 1000 + 123 bytes with `UDP_SEGMENT` 1000 arrives as 16 datagrams of
/// 1000 (x15) and 123 bytes, each with its slice of the buffer.
#[test]
fn gso_send_of_16_segments_arrives_as_16_datagrams() {
    let link = Link::new("v4gso");
    let g = group(G, 5011);
    let rx = link.b.run(|| Receiver::builder(g).interface(iface("vb")).recv_buffer(1 << 20).build()).unwrap();
    let tx = sender(&link.a, g, "va", 1, true);
    let buf: Vec<u8> = (0..15 * 1000 + 123).map(|i: usize| (i / 1000) as u8 ^ (i % 256) as u8).collect();
    assert_eq!(tx.socket().send_segments(&buf, g.socket_addr(), 1000).unwrap(), buf.len());
    let vb = link.b.ifindex("vb");
    for (i, chunk) in buf.chunks(1000).enumerate() {
        expect_exact(rx.socket(), &format!("segment {i}"), chunk, v4(A4), v4(G), vb);
    }
    assert_silent(rx.socket(), "b after 16 segments");
}

const SSM: Ipv4Addr = Ipv4Addr::new(232, 1, 1, 1);

/// SSM: a receiver joined to (10.0.0.1, 232.1.1.1) gets 10.0.0.1's datagram and not the one 10.0.0.11 sent
/// first (two sender sockets on va, each bound to one of its addresses).
#[test]
fn ssm_receiver_gets_its_source_only() {
    let link = Link::new("v4ssm");
    let g = group(SSM, 5012);
    let rx = link.b.run(|| Receiver::builder(g).source(v4(A4)).interface(iface("vb")).build()).unwrap();
    sender_from(&link.a, g, "va", v4(A4_ALT)).send(b"from S2").unwrap();
    sender_from(&link.a, g, "va", v4(A4)).send(b"from S1").unwrap();
    expect_exact(rx.socket(), "SSM receiver", b"from S1", v4(A4), v4(SSM), link.b.ifindex("vb"));
    assert_silent(rx.socket(), "SSM receiver after S1");
}

/// `IP_BLOCK_SOURCE` in an any-source join: 10.0.0.11's datagram is dropped, 10.0.0.1's arrives.
#[test]
fn a_blocked_source_is_dropped_and_others_pass() {
    let link = Link::new("v4blk");
    let g = group(G, 5013);
    let rx = receiver(&link.b, g, "vb");
    rx.socket().block_source_v4(G, A4_ALT, B4).unwrap();
    sender_from(&link.a, g, "va", v4(A4_ALT)).send(b"from S2").unwrap();
    sender_from(&link.a, g, "va", v4(A4)).send(b"from S1").unwrap();
    expect_exact(rx.socket(), "receiver", b"from S1", v4(A4), v4(G), link.b.ifindex("vb"));
    assert_silent(rx.socket(), "receiver after S1");
    rx.socket().unblock_source_v4(G, A4_ALT, B4).unwrap();
    sender_from(&link.a, g, "va", v4(A4_ALT)).send(b"from S2 again").unwrap();
    expect_exact(rx.socket(), "receiver", b"from S2 again", v4(A4_ALT), v4(G), link.b.ifindex("vb"));
}
