//! The raw IGMP and MLD sockets of the library: the options they set, the headers they send (checked by a raw
//! socket on the other end of a veth link), and the error without CAP_NET_RAW.
mod common;
mod raw_support;

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use common::traffic::Link;
use common::Netns;
use mcast::__private::sys::sockopt::getsockopt_bytes;
use mcast::raw::{Heard, IgmpSocket, Message, MldSocket};
use mcast::wire::{self, IgmpRepr, MldRepr};
use raw_support::{link_local, mcast, A4, BIN};

/// What `IgmpSocket::open` sets, read back from the kernel; `IP_OPTIONS` with the Router Alert and without.
#[test]
fn igmp_socket_options() {
    needs_root!();
    let ns = Netns::new("ros4");
    ns.run(|| {
        let s = IgmpSocket::open().expect("raw IGMP socket");
        assert!(s.socket().header_included_v4().unwrap(), "IP_HDRINCL");
        assert!(s.socket().pktinfo_v4().unwrap(), "IP_PKTINFO");
        assert!(!s.socket().multicast_loop_v4().unwrap(), "IP_MULTICAST_LOOP");
        assert_eq!(s.socket().multicast_ttl_v4().unwrap(), 1);
        let mut buf = [0u8; 40];
        s.set_router_alert_option(true).unwrap();
        let n = getsockopt_bytes(s.socket().as_fd(), libc::IPPROTO_IP, libc::IP_OPTIONS, &mut buf).unwrap();
        assert_eq!(&buf[..n], &[0x94, 4, 0, 0]);
        s.set_router_alert_option(false).unwrap();
        let n = getsockopt_bytes(s.socket().as_fd(), libc::IPPROTO_IP, libc::IP_OPTIONS, &mut buf).unwrap();
        assert_eq!(n, 0);
        s.join(Ipv4Addr::new(224, 0, 0, 22), 1).expect("join on lo");
        let e = s.join(Ipv4Addr::new(10, 0, 0, 1), 1).expect_err("a unicast group");
        assert_eq!(e.kind(), mcast::ErrorKind::NotMulticast);
    });
}

/// What `MldSocket::open` sets: the ICMPv6 filter passes MLD only, hop limit 1, loop off, the hop-by-hop Router
/// Alert; the kernel's checksum switches off and on at SOL_RAW.
#[test]
fn mld_socket_options() {
    needs_root!();
    let ns = Netns::new("ros6");
    ns.run(|| {
        let s = MldSocket::open().expect("raw ICMPv6 socket");
        let filter = s.filter().unwrap();
        assert_eq!(filter, MldSocket::mld_filter());
        for ty in 0..=255u8 {
            assert_eq!(filter.passes(ty), [130, 131, 132, 143].contains(&ty), "type {ty}");
        }
        assert_eq!(s.socket().multicast_hops_v6().unwrap(), 1);
        assert!(!s.socket().multicast_loop_v6().unwrap());
        assert!(s.socket().recv_pktinfo_v6().unwrap() && s.socket().recv_hoplimit_v6().unwrap());
        let mut buf = [0u8; 64];
        let n = getsockopt_bytes(s.socket().as_fd(), libc::IPPROTO_IPV6, libc::IPV6_HOPOPTS, &mut buf).unwrap();
        assert_eq!(n, 8, "{:?}", &buf[..n]);
        assert_eq!(&buf[2..8], &[5, 2, 0, 0, 1, 0], "Router Alert, value 0 (MLD), then PadN");
        s.set_router_alert(false).unwrap();
        let n = getsockopt_bytes(s.socket().as_fd(), libc::IPPROTO_IPV6, libc::IPV6_HOPOPTS, &mut buf).unwrap();
        assert_eq!(n, 0);
        assert!(s.kernel_checksum().unwrap());
        s.set_kernel_checksum(false).unwrap();
        assert!(!s.kernel_checksum().unwrap());
        s.set_kernel_checksum(true).unwrap();
        assert!(s.kernel_checksum().unwrap());
        // RFC 3542 keeps IPV6_CHECKSUM at level IPPROTO_IPV6 away from ICMPv6 sockets; the library goes by SOL_RAW.
        let e = s.socket().set_checksum_offset_v6(-1).expect_err("IPPROTO_IPV6 IPV6_CHECKSUM on ICMPv6");
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    });
}

/// The first query `socket` hears within a few seconds.
fn first_query(recv: impl Fn(&mut [u8], Duration) -> mcast::Result<Option<Heard>>) -> Heard {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = vec![0u8; 65535];
    while Instant::now() < deadline {
        if let Some(h) = recv(&mut buf, Duration::from_millis(500)).expect("recv") {
            if matches!(&h.message, Ok(m) if m.is_query()) {
                return h;
            }
        }
    }
    panic!("no query arrived");
}

/// An IGMPv2 query sent from a (IP_HDRINCL), heard by a raw IGMP socket in b: TTL 1, TOS 0xc0, DF, Router Alert
/// 0, source 10.0.0.1, to 224.0.0.1 (which every host has joined), on vb; the message as sent.
#[test]
fn igmp_goes_out_with_ttl_1_and_router_alert() {
    needs_root!();
    let link = Link::new("roi");
    let receiver = link.b.run(|| IgmpSocket::open().expect("receiver"));
    let query = IgmpRepr::QueryV2 { max_resp_time: 50, group: Ipv4Addr::UNSPECIFIED };
    let va = link.a.ifindex("va");
    let q = query.clone();
    let sent = link.a.run(move || IgmpSocket::open().unwrap().send(&q, wire::igmp::ALL_SYSTEMS, va).unwrap());
    assert_eq!(sent, 24 + 8, "a 24-byte header with Router Alert and the 8-byte query");
    let h = first_query(|buf, t| receiver.recv(buf, t));
    assert_eq!(h.source, IpAddr::V4(A4));
    assert_eq!(h.destination, Some(IpAddr::V4(wire::igmp::ALL_SYSTEMS)));
    assert_eq!(h.ifindex, Some(link.b.ifindex("vb")));
    assert_eq!(h.ttl, Some(1));
    match h.message {
        Ok(Message::Igmp { ip, igmp }) => {
            assert_eq!(igmp, query);
            assert_eq!(ip.router_alert(), Some(0));
            assert_eq!(ip.tos, 0xc0);
            assert!(ip.dont_frag);
            assert_eq!(ip.src, A4);
        }
        other => panic!("{other:?}"),
    }
}

/// An MLDv2 query sent from a, heard in b by an MLD socket that checks checksums itself: hop limit 1, from va's
/// link-local address, to ff02::1, on vb, the checksum a's kernel filled in right.
#[test]
fn mld_goes_out_with_hop_limit_1_and_a_right_checksum() {
    needs_root!();
    let link = Link::new("rom");
    let receiver = link.b.run(|| {
        let s = MldSocket::open().expect("receiver");
        s.set_kernel_checksum(false).unwrap();
        s
    });
    let query = mcast::raw::mld_query(2, "::".parse().unwrap(), Duration::from_secs(2)).unwrap();
    let va = link.a.ifindex("va");
    let q = query.clone();
    link.a.run(move || MldSocket::open().unwrap().send(&q, wire::mld::ALL_NODES, va).unwrap());
    let h = first_query(|buf, t| receiver.recv(buf, t));
    assert_eq!(h.source, IpAddr::V6(link_local(&link.a, "va")));
    assert_eq!(h.destination, Some(IpAddr::V6(wire::mld::ALL_NODES)));
    assert_eq!(h.ifindex, Some(link.b.ifindex("vb")));
    assert_eq!(h.ttl, Some(1));
    assert_eq!(h.message, Ok(Message::Mld(query)));
    assert!(matches!(h.message, Ok(Message::Mld(MldRepr::QueryV2(_)))));
}

fn assert_no_cap_net_raw(out: &std::process::Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    assert!(err.contains("raw sockets need CAP_NET_RAW, which this process lacks"), "{what}: {err}");
    assert!(err.contains("setcap cap_net_raw+ep"), "{what}: {err}");
    assert!(err.contains("Operation not permitted"), "{what}: {err}");
    assert!(out.stdout.is_empty(), "{what}: {}", String::from_utf8_lossy(&out.stdout));
}

/// Without CAP_NET_RAW (dropped with setpriv, then with capsh), each command fails at once with exit 1 and
/// the error that says what is missing and how to grant it.
#[test]
fn without_cap_net_raw_the_error_says_so() {
    needs_root!();
    let ns = Netns::new("rocap");
    for args in [
        &["igmp", "watch", "--iface", "lo", "--timeout", "1"][..],
        &["igmp", "query", "--iface", "lo"][..],
        &["mld", "watch", "--iface", "lo", "--timeout", "1"][..],
        &["mld", "query", "--iface", "lo"][..],
    ] {
        let out = ns
            .command("setpriv")
            .args(["--inh-caps=-all", "--bounding-set=-net_raw", BIN])
            .args(args)
            .output()
            .expect("run setpriv");
        assert_no_cap_net_raw(&out, &format!("setpriv {args:?}"));
    }
    let out = ns
        .command("capsh")
        .args(["--drop=cap_net_raw", "--", "-c", &format!("exec {BIN} mld watch --iface lo --timeout 1")])
        .output()
        .expect("run capsh");
    assert_no_cap_net_raw(&out, "capsh mld watch");
    // The same command with the capability runs (and ends at its timeout with 0).
    let out = mcast(&ns, &["igmp", "watch", "--iface", "lo", "--timeout", "1"]).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}
