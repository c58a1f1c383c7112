//! "Receiving IPv4 Multicast Datagrams" and "Receiving IPv6 Multicast Datagrams", second half: which sockets
//! get a datagram the host accepted: ports, bound addresses, shared ports, raw sockets.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::{Fam, V4, V6};
use crate::common::traffic::{assert_silent, expect, expect_exact, receiver, sender, Link, QUIET};
use crate::common::Netns;
use crate::needs_root;
use mcast::McastSocket;

/// Link: on b, socket X is bound to the port but joins nothing. Before any socket joins, a's datagram is
/// refused by b's IP layer: X's first datagram is the one sent after Y joined. With `IP_MULTICAST_ALL` on
/// (Linux's default) X gets it without a membership; turned off, X gets the next one no more.
fn any_claim_lets_the_group_in(f: &Fam, tag: &str) {
    let link = Link::new(tag);
    let g = f.g(7105);
    let x = link.b.run(|| {
        let x = f.udp();
        x.set_reuse_address(true).unwrap();
        x.bind(f.any(7105)).unwrap();
        x
    });
    let tx = sender(&link.a, g, "va", 1, true);
    tx.send(b"before any join").unwrap();
    let y = receiver(&link.b, g, "vb");
    tx.send(b"after a join").unwrap();
    expect_exact(y.socket(), "Y", b"after a join", f.a, f.group, link.b.ifindex("vb"));
    let got = expect(&x, "X");
    assert_eq!((got.bytes.as_slice(), got.meta.source.ip()), (&b"after a join"[..], f.a));
    match f.family {
        mcast::Family::V4 => x.set_multicast_all_v4(false),
        mcast::Family::V6 => x.set_multicast_all_v6(false),
    }
    .unwrap();
    tx.send(b"multicast_all off").unwrap();
    expect_exact(y.socket(), "Y", b"multicast_all off", f.a, f.group, link.b.ifindex("vb"));
    assert_silent(&x, "X after IP_MULTICAST_ALL off");
}

/// "If any socket claims membership in the destination group of the datagram, the kernel IP layer accepts
/// incoming multicast packets." Linux goes further than the guide's next sentence: with `IP_MULTICAST_ALL`
/// on, its default, a socket bound to the port gets the group without a membership of its own.
#[test]
fn a_membership_of_any_socket_lets_the_group_in() {
    needs_root!();
    any_claim_lets_the_group_in(&V4, "claim");
}

/// (IPv6) "The kernel IP layer accepts incoming multicast packets if any socket has claimed a membership in
/// the destination group of the datagram." Likewise with `IPV6_MULTICAST_ALL`.
#[test]
fn ipv6_a_membership_of_any_socket_lets_the_group_in() {
    needs_root!();
    any_claim_lets_the_group_in(&V6, "claim6");
}

/// Link: P and Q join the same group on ports 7106 and 7107. A datagram to port 7106 reaches P; Q's first
/// datagram is the one sent to 7107.
fn port_decides(f: &Fam, tag: &str) {
    let link = Link::new(tag);
    let (gp, gq) = (f.g(7106), f.g(7107));
    let (p, q) = (receiver(&link.b, gp, "vb"), receiver(&link.b, gq, "vb"));
    let vb = link.b.ifindex("vb");
    sender(&link.a, gp, "va", 1, true).send(b"to 7106").unwrap();
    expect_exact(p.socket(), "P", b"to 7106", f.a, f.group, vb);
    sender(&link.a, gq, "va", 1, true).send(b"to 7107").unwrap();
    expect_exact(q.socket(), "Q", b"to 7107", f.a, f.group, vb);
    assert_silent(q.socket(), "Q after its own port's datagram");
    assert_silent(p.socket(), "P after its own port's datagram");
}

/// "A given socket's receipt of a multicast datagram depends on the socket's associated destination port and
/// memberships"
#[test]
fn the_destination_port_decides_which_socket_gets_it() {
    needs_root!();
    port_decides(&V4, "port");
}

/// (IPv6) "Delivery of a multicast datagram to a particular socket is determined by the destination port and
/// the memberships associated with the socket"
#[test]
fn ipv6_the_destination_port_decides_which_socket_gets_it() {
    needs_root!();
    port_decides(&V6, "port6");
}

/// Link: on b, W binds the wildcard address and U b's own address, both on port 7108 and joined on vb. The
/// group's datagram reaches W; U's first datagram is a unicast one sent to its address afterwards.
fn bind_wildcard(f: &Fam, tag: &str) {
    let link = Link::new(tag);
    let g = f.g(7108);
    let w = receiver(&link.b, g, "vb");
    let vb = link.b.ifindex("vb");
    let u = link.b.run(|| {
        let u = f.udp();
        u.set_reuse_address(true).unwrap();
        u.bind(SocketAddr::new(f.b, 7108)).unwrap();
        u.join_group(f.group, vb).unwrap();
        u
    });
    sender(&link.a, g, "va", 1, true).send(b"to the group").unwrap();
    expect_exact(w.socket(), "W", b"to the group", f.a, f.group, vb);
    let tx = link.a.run(|| f.udp());
    tx.send_to(b"unicast control", SocketAddr::new(f.b, 7108)).unwrap();
    let got = expect(&u, "U");
    assert_eq!((got.bytes.as_slice(), got.meta.source.ip()), (&b"unicast control"[..], f.a));
    assert_silent(&u, "U after the unicast control");
}

/// "To receive multicast datagrams sent to a particular port, bind to the local port, leaving the local
/// address unspecified, such as INADDR_ANY." A socket bound to a unicast address gets none.
#[test]
fn bind_the_port_with_the_local_address_unspecified() {
    needs_root!();
    bind_wildcard(&V4, "bind");
}

/// (IPv6) "To receive multicast datagrams sent to a particular port, bind to the local port, leaving the
/// local address unspecified"
#[test]
fn ipv6_bind_the_port_with_the_local_address_unspecified() {
    needs_root!();
    bind_wildcard(&V6, "bind6");
}

/// One namespace: two sockets without `SO_REUSEADDR` cannot bind one port (`EADDRINUSE`); two with it can.
fn reuse_needed(f: &Fam, tag: &str) {
    Netns::new(tag).run(|| {
        let (s1, s2) = (f.udp(), f.udp());
        s1.bind(f.any(7109)).unwrap();
        let e = s2.bind(f.any(7109)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EADDRINUSE), "{e}");
        assert!(e.to_string().contains("bind"), "{e}");
        let (t1, t2) = (f.udp(), f.udp());
        for t in [&t1, &t2] {
            t.set_reuse_address(true).unwrap();
            t.bind(f.any(7110)).unwrap();
        }
    });
}

/// "More than one process can bind to the same SOCK_DGRAM UDP port if the bind(3SOCKET) is preceded by:
/// setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))"
#[test]
fn binding_a_shared_port_needs_so_reuseaddr() {
    needs_root!();
    reuse_needed(&V4, "reuse");
}

/// (IPv6) "More than one process can bind to the same SOCK_DGRAM UDP port if the bind is preceded by [...]
/// SO_REUSEADDR"
#[test]
fn ipv6_binding_a_shared_port_needs_so_reuseaddr() {
    needs_root!();
    reuse_needed(&V6, "reuse6");
}

/// Every datagram that arrives at `sock` until it has been quiet for [`QUIET`].
fn drain(sock: &McastSocket) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    while let Some(meta) = sock.recv_timeout(&mut buf, QUIET).expect("recv") {
        out.push(buf[..meta.len].to_vec());
    }
    out
}

/// Link: two receivers share port 7111 on b. Three datagrams to the group reach both; ten unicast datagrams
/// to b's address reach one socket or the other, each exactly once.
fn reuse_delivery(f: &Fam, tag: &str) {
    let link = Link::new(tag);
    let g = f.g(7111);
    let (r1, r2) = (receiver(&link.b, g, "vb"), receiver(&link.b, g, "vb"));
    let tx = sender(&link.a, g, "va", 1, true);
    for i in 0..3 {
        tx.send(format!("multicast {i}").as_bytes()).unwrap();
    }
    let vb = link.b.ifindex("vb");
    for r in [&r1, &r2] {
        for i in 0..3 {
            expect_exact(r.socket(), "b", format!("multicast {i}").as_bytes(), f.a, f.group, vb);
        }
    }
    let u = link.a.run(|| f.udp());
    for i in 0..10 {
        u.send_to(format!("unicast {i}").as_bytes(), SocketAddr::new(f.b, 7111)).unwrap();
    }
    let mut seen: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for d in drain(r1.socket()).into_iter().chain(drain(r2.socket())) {
        *seen.entry(d).or_default() += 1;
    }
    let expected: BTreeMap<Vec<u8>, usize> = (0..10).map(|i| (format!("unicast {i}").into_bytes(), 1)).collect();
    assert_eq!(seen, expected, "each unicast datagram once, to one socket");
}

/// "every incoming multicast or broadcast UDP datagram destined for the shared port is delivered to all
/// sockets bound to the port. For backwards compatibility reasons, this delivery does not apply to incoming
/// unicast datagrams. Unicast datagrams are never delivered to more than one socket, regardless of how many
/// sockets are bound to the datagram's destination port."
#[test]
fn reuseaddr_delivers_multicast_to_all_but_unicast_to_one() {
    needs_root!();
    reuse_delivery(&V4, "share");
}

/// (IPv6) "all sockets that are bound to the port receive every incoming multicast UDP datagram destined to
/// the shared port. For backward compatibility reasons, this delivery does not apply to incoming unicast
/// datagrams."
#[test]
fn ipv6_reuseaddr_delivers_multicast_to_all_but_unicast_to_one() {
    needs_root!();
    reuse_delivery(&V6, "share6");
}

/// Link: on b, two raw sockets of protocol 253 (RFC 3692, experimental) join the group on vb; a raw socket on
/// a sends one datagram of that protocol: both get it. Linux turns `SO_REUSEADDR` on for every raw socket;
/// the test turns it off to show it is not what lets them share. IPv4 raw sockets read the IP header too
/// (protocol 253, destination the group), IPv6 ones only the payload.
fn raw_share(f: &Fam, tag: &str) {
    let link = Link::new(tag);
    let (vb, va) = (link.b.ifindex("vb"), link.a.ifindex("va"));
    let (r1, r2) = link.b.run(|| {
        let open = || McastSocket::raw(f.family, 253).expect("raw socket (needs CAP_NET_RAW)");
        let (r1, r2) = (open(), open());
        for r in [&r1, &r2] {
            assert!(r.reuse_address().unwrap(), "Linux's default for raw sockets");
            r.set_reuse_address(false).unwrap();
            r.join_group(f.group, vb).unwrap();
        }
        (r1, r2)
    });
    let tx = link.a.run(|| McastSocket::raw(f.family, 253)).unwrap();
    match f.group {
        IpAddr::V4(_) => tx.set_multicast_if_v4(Ipv4Addr::new(10, 0, 0, 1)).unwrap(),
        IpAddr::V6(_) => tx.set_multicast_if_v6(va).unwrap(),
    }
    tx.send_to(b"raw payload", SocketAddr::new(f.group, 0)).unwrap();
    for (name, r) in [("first", &r1), ("second", &r2)] {
        let got = expect(r, name);
        assert_eq!(got.meta.source.ip(), f.a, "{name}");
        let payload = match f.group {
            IpAddr::V4(g) => {
                let ihl = usize::from(got.bytes[0] & 0x0f) * 4;
                assert_eq!((got.bytes[9], &got.bytes[16..20]), (253, &g.octets()[..]), "{name}: IPv4 header");
                &got.bytes[ihl..]
            }
            IpAddr::V6(_) => &got.bytes[..],
        };
        assert_eq!(payload, b"raw payload", "{name}");
    }
}

/// "SOCK_RAW sockets do not require the SO_REUSEADDR option to share a single IP protocol type."
#[test]
fn raw_sockets_share_a_protocol_without_reuseaddr() {
    needs_root!();
    raw_share(&V4, "raw");
}

/// (IPv6) "SOCK_RAW sockets do not require the SO_REUSEADDR option to share a single IP protocol type."
#[test]
fn ipv6_raw_sockets_share_a_protocol_without_reuseaddr() {
    needs_root!();
    raw_share(&V6, "raw6");
}
