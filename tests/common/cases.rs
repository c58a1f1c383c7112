//! The traffic tests that read the same for IPv4 and IPv6, written once over a [`Fam`]. `traffic_v4.rs` and
//! `traffic_v6.rs` each call them from a `#[test]` of their own, with their addresses, a namespace tag and a
//! port; the topology is [`Link`]'s, and the tests that differ by family stay in those files.

use std::net::IpAddr;

use mcast::{Group, McastSocket, Receiver};

use super::traffic::{assert_silent, expect_exact, iface, receiver, recv_batches, sender, sender_from, Got, Link};

/// One address family as the shared tests see it: host A's two addresses on `va`, the groups, and the option
/// getter that differs by family.
pub struct Fam {
    /// Host A's address, the kernel's choice of source on `va`.
    pub a: IpAddr,
    /// Host A's second address, a source only for a socket bound to it.
    pub a_alt: IpAddr,
    /// The group of the single-group tests.
    pub g: IpAddr,
    /// Groups A, B and C of the tests with several groups on one port.
    pub ga: IpAddr,
    /// Group B.
    pub gb: IpAddr,
    /// Group C.
    pub gc: IpAddr,
    /// A source-specific group.
    pub ssm: IpAddr,
    /// `IP_MULTICAST_ALL` or `IPV6_MULTICAST_ALL`, read back.
    pub multicast_all: fn(&McastSocket) -> mcast::Result<bool>,
}

fn group(ip: IpAddr, port: u16) -> Group {
    Group::new(ip, port).expect("a multicast group")
}

/// a --va--> b: three datagrams arrive on vb with their bytes, the sender's address and port, the group and
/// vb's index; a fourth never comes.
pub fn datagrams_cross_the_link(f: &Fam, tag: &str, port: u16) {
    let link = Link::new(tag);
    let g = group(f.g, port);
    let rx = receiver(&link.b, g, "vb");
    let tx = sender(&link.a, g, "va", 1, true);
    let vb = link.b.ifindex("vb");
    for i in 0..3 {
        tx.send(format!("datagram {i}").as_bytes()).unwrap();
    }
    let port = tx.socket().local_addr().expect("sender's address").port();
    for i in 0..3 {
        let got = expect_exact(rx.socket(), "b on vb", format!("datagram {i}").as_bytes(), f.a, f.g, vb);
        assert_eq!(got.meta.source.port(), port, "the sender's port");
    }
    assert_silent(rx.socket(), "b after three datagrams");
}

/// Loop off: the peer gets the datagram, a member on the sender's own host does not; the control is a
/// loop-on sender whose datagram must be the first that member sees.
pub fn loop_off(f: &Fam, tag: &str, port: u16) {
    let link = Link::new(tag);
    let g = group(f.g, port);
    let (ra, rb) = (receiver(&link.a, g, "va"), receiver(&link.b, g, "vb"));
    sender(&link.a, g, "va", 1, false).send(b"loop off").unwrap();
    expect_exact(rb.socket(), "peer", b"loop off", f.a, f.g, link.b.ifindex("vb"));
    sender(&link.a, g, "va", 1, true).send(b"control").unwrap();
    expect_exact(ra.socket(), "sender's host", b"control", f.a, f.g, link.a.ifindex("va"));
    assert_silent(ra.socket(), "sender's host after the control");
}

/// Loop on: the peer and the member on the sender's own host both get it.
pub fn loop_on(f: &Fam, tag: &str, port: u16) {
    let link = Link::new(tag);
    let g = group(f.g, port);
    let (ra, rb) = (receiver(&link.a, g, "va"), receiver(&link.b, g, "vb"));
    sender(&link.a, g, "va", 1, true).send(b"loop on").unwrap();
    expect_exact(rb.socket(), "peer", b"loop on", f.a, f.g, link.b.ifindex("vb"));
    expect_exact(ra.socket(), "sender's host", b"loop on", f.a, f.g, link.a.ifindex("va"));
}

/// SA joined to A and SB to B on one port: B's datagram reaches SB, not SA, whose first datagram is A's.
pub fn joined_to_a_gets_nothing_sent_to_b(f: &Fam, tag: &str, port: u16) {
    let link = Link::new(tag);
    let (a, b) = (group(f.ga, port), group(f.gb, port));
    let (sa, sb) = (receiver(&link.b, a, "vb"), receiver(&link.b, b, "vb"));
    assert!(!(f.multicast_all)(sa.socket()).unwrap());
    let vb = link.b.ifindex("vb");
    sender(&link.a, b, "va", 1, true).send(b"to B").unwrap();
    expect_exact(sb.socket(), "SB", b"to B", f.a, f.gb, vb);
    sender(&link.a, a, "va", 1, true).send(b"to A").unwrap();
    expect_exact(sa.socket(), "SA", b"to A", f.a, f.ga, vb);
    assert_silent(sa.socket(), "SA after A's datagram");
}

/// The same with `.multicast_all(true)`: SA gets B's datagram too.
pub fn multicast_all_gets_groups_never_joined(f: &Fam, tag: &str, port: u16) {
    let link = Link::new(tag);
    let (a, b) = (group(f.ga, port), group(f.gb, port));
    let sa = link.b.run(|| Receiver::builder(a).interface(iface("vb")).multicast_all(true).build()).unwrap();
    let sb = receiver(&link.b, b, "vb");
    assert!((f.multicast_all)(sa.socket()).unwrap());
    let vb = link.b.ifindex("vb");
    sender(&link.a, b, "va", 1, true).send(b"to B").unwrap();
    expect_exact(sb.socket(), "SB", b"to B", f.a, f.gb, vb);
    expect_exact(sa.socket(), "SA, never joined to B", b"to B", f.a, f.gb, vb);
}

/// After SA leaves A, A's datagram reaches another member of A but not SA, whose next datagram is C's.
pub fn after_leave_nothing_arrives(f: &Fam, tag: &str, port: u16) {
    let link = Link::new(tag);
    let (a, c) = (group(f.ga, port), group(f.gc, port));
    let mut sa = link.b.run(|| Receiver::builder(a).group(c).interface(iface("vb")).build()).unwrap();
    let keeper = receiver(&link.b, a, "vb");
    let vb = link.b.ifindex("vb");
    link.b.run(|| sa.leave(&a, None)).unwrap();
    assert_eq!(sa.memberships().len(), 1, "only C is left");
    sender(&link.a, a, "va", 1, true).send(b"to A").unwrap();
    expect_exact(keeper.socket(), "another member of A", b"to A", f.a, f.ga, vb);
    sender(&link.a, c, "va", 1, true).send(b"to C").unwrap();
    expect_exact(sa.socket(), "SA", b"to C", f.a, f.gc, vb);
    assert_silent(sa.socket(), "SA after C's datagram");
}

/// `sendmmsg` of 50 datagrams, `recvmmsg` on the other side: all 50, in order, with bytes and metadata.
pub fn batch_of_50(f: &Fam, tag: &str, port: u16) {
    let link = Link::new(tag);
    let g = group(f.g, port);
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
        assert_eq!(meta.source.ip(), f.a, "datagram {i}");
        assert_eq!((meta.group, meta.ifindex, meta.ttl), (Some(f.g), Some(vb), Some(3)), "datagram {i}");
    }
    assert_silent(rx.socket(), "b after 50");
}

/// UDP GSO: 15 x 1000 + 123 bytes with `UDP_SEGMENT` 1000 arrive as 16 datagrams, each its slice.
pub fn gso_16_segments(f: &Fam, tag: &str, port: u16) {
    let link = Link::new(tag);
    let g = group(f.g, port);
    let rx = link.b.run(|| Receiver::builder(g).interface(iface("vb")).recv_buffer(1 << 20).build()).unwrap();
    let tx = sender(&link.a, g, "va", 1, true);
    let buf: Vec<u8> = (0..15 * 1000 + 123).map(|i: usize| (i / 1000) as u8 ^ (i % 256) as u8).collect();
    assert_eq!(tx.socket().send_segments(&buf, g.socket_addr(), 1000).unwrap(), buf.len());
    let vb = link.b.ifindex("vb");
    for (i, chunk) in buf.chunks(1000).enumerate() {
        expect_exact(rx.socket(), &format!("segment {i}"), chunk, f.a, f.g, vb);
    }
    assert_silent(rx.socket(), "b after 16 segments");
}

/// SSM: a receiver joined to (A, ssm) gets A's datagram and not the one A's second address sent first.
pub fn ssm_source_only(f: &Fam, tag: &str, port: u16) {
    let link = Link::new(tag);
    let g = group(f.ssm, port);
    let rx = link.b.run(|| Receiver::builder(g).source(f.a).interface(iface("vb")).build()).unwrap();
    sender_from(&link.a, g, "va", f.a_alt).send(b"from S2").unwrap();
    sender_from(&link.a, g, "va", f.a).send(b"from S1").unwrap();
    expect_exact(rx.socket(), "SSM receiver", b"from S1", f.a, f.ssm, link.b.ifindex("vb"));
    assert_silent(rx.socket(), "SSM receiver after S1");
}
