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

use common::cases::{self, Fam};
use common::traffic::{assert_silent, expect_exact, receiver, sender, sender_from, Link, A6, A6_ALT, WAIT};
use mcast::{Group, McastSocket};

const G: Ipv6Addr = Ipv6Addr::new(0xff1e, 0, 0, 0, 0, 0, 0, 0x1234);

fn group(ip: Ipv6Addr, port: u16) -> Group {
    Group::new(IpAddr::V6(ip), port).expect("a multicast group")
}

fn v6(ip: Ipv6Addr) -> IpAddr {
    IpAddr::V6(ip)
}

/// This family's side of the tests in [`cases`].
const FAM: Fam = Fam {
    a: IpAddr::V6(A6),
    a_alt: IpAddr::V6(A6_ALT),
    g: IpAddr::V6(G),
    ga: IpAddr::V6(GA),
    gb: IpAddr::V6(GB),
    gc: IpAddr::V6(GC),
    ssm: IpAddr::V6(SSM),
    multicast_all: McastSocket::multicast_all_v6,
};

/// a --va--> b: three datagrams arrive on vb, each with its exact bytes, the sender's address and port, the
/// group (`IPV6_PKTINFO`) and vb's index; a fourth never comes.
#[test]
fn datagrams_cross_the_link_with_bytes_source_group_and_interface() {
    needs_root!();
    cases::datagrams_cross_the_link(&FAM, "v6x", 6000);
}

/// `IPV6_RECVHOPLIMIT`: the receiver sees the hop limit the sender set, 1, 7 and 255, unchanged across one link.
#[test]
fn receiver_sees_the_senders_hop_limit() {
    needs_root!();
    let link = Link::new("v6hl");
    let g = group(G, 6001);
    let rx = receiver(&link.b, g, "vb");
    let vb = link.b.ifindex("vb");
    for hops in [1u8, 7, 255] {
        let tx = sender(&link.a, g, "va", hops, true);
        assert_eq!(tx.socket().multicast_hops_v6().unwrap(), hops);
        tx.send(format!("hops {hops}").as_bytes()).unwrap();
        let got = expect_exact(rx.socket(), "b", format!("hops {hops}").as_bytes(), v6(A6), v6(G), vb);
        assert_eq!(got.meta.ttl, Some(hops), "hop limit on arrival");
    }
}

/// Loop off: the peer gets the datagram, a member on the sender's own host (joined on va) does not. The
/// control is a loop-on sender whose datagram must be the first that member sees.
#[test]
fn loop_off_the_senders_host_gets_nothing_the_peer_does() {
    needs_root!();
    cases::loop_off(&FAM, "v6lo", 6002);
}

/// Loop on: the peer and the member on the sender's own host both get it.
#[test]
fn loop_on_both_hosts_get_it() {
    needs_root!();
    cases::loop_on(&FAM, "v6ll", 6003);
}

/// Two receivers on one port (`SO_REUSEADDR`, the builder's default) both get every datagram, in order.
#[test]
fn two_reuseaddr_sockets_both_get_every_datagram() {
    needs_root!();
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
    needs_root!();
    cases::joined_to_a_gets_nothing_sent_to_b(&FAM, "v6ab", 6005);
}

/// The same with Linux's default kept (`.multicast_all(true)`): SA gets B's datagram too.
#[test]
fn with_multicast_all_on_a_socket_gets_groups_it_never_joined() {
    needs_root!();
    cases::multicast_all_gets_groups_never_joined(&FAM, "v6all", 6006);
}

/// After SA leaves A, a datagram to A:P reaches another member of A on the host but not SA; SA's next
/// datagram is the control sent to C, which it still joins.
#[test]
fn after_leave_nothing_from_the_group_arrives() {
    needs_root!();
    cases::after_leave_nothing_arrives(&FAM, "v6lv", 6007);
}

/// A 1000-byte datagram read into a 100-byte buffer: the first 100 bytes, `len` 100, `full_len` 1000,
/// `truncated`.
#[test]
fn a_datagram_larger_than_the_buffer_is_reported_truncated() {
    needs_root!();
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
    needs_root!();
    cases::batch_of_50(&FAM, "v6mm", 6009);
}

/// UDP GSO over IPv6: 15 x 1000 + 123 bytes with `UDP_SEGMENT` 1000 arrive as 16 datagrams of the right sizes.
#[test]
fn gso_send_of_16_segments_arrives_as_16_datagrams() {
    needs_root!();
    cases::gso_16_segments(&FAM, "v6gso", 6010);
}

const SSM: Ipv6Addr = Ipv6Addr::new(0xff3e, 0, 0, 0, 0, 0, 0, 0x4321);

/// SSM (`MCAST_JOIN_SOURCE_GROUP`): a receiver joined to (fd00:1::1, ff3e::4321) gets fd00:1::1's datagram
/// and not the one fd00:1::11 sent first.
#[test]
fn ssm_receiver_gets_its_source_only() {
    needs_root!();
    cases::ssm_source_only(&FAM, "v6ssm", 6011);
}

/// `MCAST_BLOCK_SOURCE` in an any-source join: fd00:1::11's datagram is dropped, fd00:1::1's arrives; after
/// `MCAST_UNBLOCK_SOURCE` fd00:1::11 gets through again.
#[test]
fn a_blocked_source_is_dropped_and_others_pass() {
    needs_root!();
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
