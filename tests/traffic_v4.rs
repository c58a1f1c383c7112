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

use common::cases::{self, Fam};
use common::traffic::{assert_silent, expect_exact, receiver, sender, sender_from, Link, A4, A4_ALT, B4, WAIT};
use mcast::{Group, McastSocket};

const G: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 3);

fn group(ip: Ipv4Addr, port: u16) -> Group {
    Group::new(IpAddr::V4(ip), port).expect("a multicast group")
}

fn v4(ip: Ipv4Addr) -> IpAddr {
    IpAddr::V4(ip)
}

/// This family's side of the tests in [`cases`].
const FAM: Fam = Fam {
    a: IpAddr::V4(A4),
    a_alt: IpAddr::V4(A4_ALT),
    g: IpAddr::V4(G),
    ga: IpAddr::V4(GA),
    gb: IpAddr::V4(GB),
    gc: IpAddr::V4(GC),
    ssm: IpAddr::V4(SSM),
    multicast_all: McastSocket::multicast_all_v4,
};

/// a --va--> b: three datagrams arrive on vb, each with its exact bytes, the sender's address and port, the
/// group (pktinfo) and vb's index; a fourth never comes.
#[test]
fn datagrams_cross_the_link_with_bytes_source_group_and_interface() {
    needs_root!();
    cases::datagrams_cross_the_link(&FAM, "v4x", 5000);
}

/// `IP_RECVTTL`: the receiver sees the TTL the sender set, 1, 7 and 255, unchanged across one link.
#[test]
fn receiver_sees_the_senders_ttl() {
    needs_root!();
    let link = Link::new("v4ttl");
    let g = group(G, 5001);
    let rx = receiver(&link.b, g, "vb");
    for ttl in [1u8, 7, 255] {
        let tx = sender(&link.a, g, "va", ttl, true);
        tx.send(format!("ttl {ttl}").as_bytes()).unwrap();
        let got = expect_exact(rx.socket(), "b", format!("ttl {ttl}").as_bytes(), v4(A4), v4(G), link.b.ifindex("vb"));
        assert_eq!(got.meta.ttl, Some(ttl), "TTL on arrival");
    }
}

/// `IP_MULTICAST_IF` by index (`ip_mreqn`) reads back as 0.0.0.0 but does choose the interface.
#[test]
fn multicast_if_by_index_chooses_the_interface() {
    needs_root!();
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
    needs_root!();
    cases::loop_off(&FAM, "v4lo", 5003);
}

/// Loop on: the peer and the member on the sender's own host both get it.
#[test]
fn loop_on_both_hosts_get_it() {
    needs_root!();
    cases::loop_on(&FAM, "v4ll", 5004);
}

/// Two receivers on one port (`SO_REUSEADDR`, the builder's default) both get every datagram, in order.
#[test]
fn two_reuseaddr_sockets_both_get_every_datagram() {
    needs_root!();
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
    needs_root!();
    cases::joined_to_a_gets_nothing_sent_to_b(&FAM, "v4ab", 5006);
}

/// The same, with Linux's default kept (`.multicast_all(true)`): SA now gets B's datagram too, which is why
/// receivers turn it off.
#[test]
fn with_multicast_all_on_a_socket_gets_groups_it_never_joined() {
    needs_root!();
    cases::multicast_all_gets_groups_never_joined(&FAM, "v4all", 5007);
}

/// After SA leaves A, a datagram to A:P reaches another member of A on the host but not SA; SA's next
/// datagram is the control sent to C, which it still joins.
#[test]
fn after_leave_nothing_from_the_group_arrives() {
    needs_root!();
    cases::after_leave_nothing_arrives(&FAM, "v4lv", 5008);
}

/// A 1000-byte datagram read into a 100-byte buffer: the first 100 bytes, `len` 100, `full_len` 1000,
/// `truncated`. Never a silent cut.
#[test]
fn a_datagram_larger_than_the_buffer_is_reported_truncated() {
    needs_root!();
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
    needs_root!();
    cases::batch_of_50(&FAM, "v4mm", 5010);
}

/// UDP GSO: one `sendmsg` of 15 x 1000 + 123 bytes with `UDP_SEGMENT` 1000 arrives as 16 datagrams of
/// 1000 (x15) and 123 bytes, each with its slice of the buffer.
#[test]
fn gso_send_of_16_segments_arrives_as_16_datagrams() {
    needs_root!();
    cases::gso_16_segments(&FAM, "v4gso", 5011);
}

const SSM: Ipv4Addr = Ipv4Addr::new(232, 1, 1, 1);

/// SSM: a receiver joined to (10.0.0.1, 232.1.1.1) gets 10.0.0.1's datagram and not the one 10.0.0.11 sent
/// first (two sender sockets on va, each bound to one of its addresses).
#[test]
fn ssm_receiver_gets_its_source_only() {
    needs_root!();
    cases::ssm_source_only(&FAM, "v4ssm", 5012);
}

/// `IP_BLOCK_SOURCE` in an any-source join: 10.0.0.11's datagram is dropped, 10.0.0.1's arrives.
#[test]
fn a_blocked_source_is_dropped_and_others_pass() {
    needs_root!();
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

/// `MCAST_MSFILTER` (RFC 3678 5.2), the full-state filter: include only 10.0.0.11, then exclude it; each
/// state lets exactly one of the two senders through, and reads back as set.
#[test]
fn the_full_state_source_filter_lets_through_what_it_says() {
    needs_root!();
    use mcast::FilterMode;
    let link = Link::new("v4msf");
    let g = group(G, 5014);
    let rx = receiver(&link.b, g, "vb");
    let vb = link.b.ifindex("vb");
    let any = rx.socket().source_filter(v4(G), vb, 4).unwrap();
    assert_eq!((any.mode, any.total), (FilterMode::Exclude, 0), "an any-source join is an empty exclude");

    rx.socket().set_source_filter(v4(G), vb, FilterMode::Include, &[v4(A4_ALT)]).unwrap();
    sender_from(&link.a, g, "va", v4(A4)).send(b"not listed").unwrap();
    sender_from(&link.a, g, "va", v4(A4_ALT)).send(b"listed").unwrap();
    expect_exact(rx.socket(), "receiver", b"listed", v4(A4_ALT), v4(G), vb);
    assert_silent(rx.socket(), "receiver, include");
    let f = rx.socket().source_filter(v4(G), vb, 4).unwrap();
    assert_eq!((f.mode, f.total, f.sources), (FilterMode::Include, 1, vec![v4(A4_ALT)]));

    rx.socket().set_source_filter(v4(G), vb, FilterMode::Exclude, &[v4(A4_ALT)]).unwrap();
    sender_from(&link.a, g, "va", v4(A4_ALT)).send(b"excluded").unwrap();
    sender_from(&link.a, g, "va", v4(A4)).send(b"let through").unwrap();
    expect_exact(rx.socket(), "receiver", b"let through", v4(A4), v4(G), vb);
    assert_silent(rx.socket(), "receiver, exclude");
    let f = rx.socket().source_filter(v4(G), vb, 0).unwrap();
    assert_eq!((f.mode, f.total, f.sources.len()), (FilterMode::Exclude, 1, 0), "room 0 reads the count only");
}
