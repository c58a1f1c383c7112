//! Multicast across a real PIM-SM domain: three FRR routers, a static RP, IGMPv3 host LANs.
//!
//! Topology ([`Domain`], `tests/common/pim.rs`): h1 -- r1 -- r2 (RP, h2 behind it) -- r3 -- bridge -- h3a, h3b.
//! The routers build their trees from the hosts' IGMP reports alone: no route is configured by the test.
//! The first datagrams to a new (S,G) travel the register path and may be lost or, while the tree
//! switches, arrive twice, so each test primes the path until a datagram arrives at every receiver,
//! keeps it warm a little, and then checks exactly what arrives.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::{Duration, Instant};

use common::pim::{Domain, H1};
use common::routed::pcap::Capture;
use common::traffic::{assert_silent, expect_exact, iface, QUIET};
use mcast::{Group, Receiver, Sender};

const PORT: u16 = 5000;

fn group(a: Ipv4Addr) -> Group {
    Group::new(IpAddr::V4(a), PORT).expect("a multicast group")
}

fn join(ns: &common::Netns, g: Group, ifname: &str, source: Option<Ipv4Addr>) -> Receiver {
    let ifname = ifname.to_string();
    ns.run(move || {
        let b = Receiver::builder(g).interface(iface(&ifname));
        match source {
            Some(s) => b.source(IpAddr::V4(s)).build(),
            None => b.build(),
        }
    })
    .expect("receiver")
}

fn h1_sender(d: &Domain, g: Group, ttl: u8) -> Sender {
    let bind = std::net::SocketAddr::new(IpAddr::V4(H1), 0);
    d.h1.run(move || Sender::builder(g).interface(iface("v1")).ttl(ttl).bind(bind).build()).expect("sender")
}

/// Sends "prime" every 50 ms until each receiver has had one (within 20 s), then 20 more to let the
/// register and tree switch settle, and drains everything.
fn prime(d: &Domain, tx: &Sender, rxs: &[&Receiver]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = vec![false; rxs.len()];
    let mut buf = [0u8; 256];
    while got.contains(&false) {
        tx.send(b"prime").expect("send");
        std::thread::sleep(Duration::from_millis(50));
        for (i, rx) in rxs.iter().enumerate() {
            while let Ok(Some(_)) = rx.recv_timeout(&mut buf, Duration::from_millis(1)) {
                got[i] = true;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the path never delivered to receivers {got:?}\nr1 mroute:\n{}\nr2 mroute:\n{}\nr3 mroute:\n{}",
            d.router(1).vtysh("show ip mroute"),
            d.router(2).vtysh("show ip mroute"),
            d.router(3).vtysh("show ip mroute")
        );
    }
    for _ in 0..20 {
        tx.send(b"prime").expect("send");
        std::thread::sleep(Duration::from_millis(25));
    }
    std::thread::sleep(Duration::from_millis(200));
    for rx in rxs {
        while let Ok(Some(_)) = rx.recv_timeout(&mut buf, Duration::from_millis(20)) {}
    }
}

/// After a panic inside a test, the six daemons have exited, the eight namespaces are gone and so is the
/// scratch directory with the configs and sockets.
#[test]
fn a_panicking_test_leaves_no_daemon_namespace_or_file() {
    needs_root!();
    let mut left = None;
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let d = Domain::new("pimdown");
        let rp = d.router(2).vtysh("show ip pim rp-info");
        assert!(rp.contains("10.12.0.2"), "{rp}");
        let pids: Vec<u32> = d.frr.iter().flat_map(|f| [f.pids().0, f.pids().1]).collect();
        let mut names: Vec<String> = d.routers.iter().map(|r| r.name.clone()).collect();
        names.extend([&d.h1, &d.h2, &d.h3a, &d.h3b, &d.sw].map(|n| n.name.clone()));
        left = Some((pids, names, d.scratch.path().to_path_buf()));
        panic!("a test fails while the domain is up");
    }));
    assert!(outcome.is_err(), "the closure panicked");
    let (pids, names, dir) = left.expect("the domain came up");
    assert_eq!((pids.len(), names.len()), (6, 8));
    for pid in pids {
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "FRR daemon {pid} still running");
    }
    for n in names {
        assert!(!Path::new("/run/netns").join(&n).exists(), "namespace {n} left behind");
    }
    assert!(!dir.exists(), "{} left behind", dir.display());
}

/// Any-source: h2 (two routers away) and both bridged receivers (three routers away) get h1's datagrams,
/// each exactly once, byte for byte, from h1, with the TTL cut by one per router: sent at 8, 6 on h2's
/// LAN and 5 on the bridged one. The snooping bridge has learned both receivers' ports.
#[test]
fn any_source_crosses_three_routers_with_the_ttl_cut_per_router() {
    needs_root!();
    let g = group(Ipv4Addr::new(239, 1, 1, 1));
    let mut d = Domain::new("pimasm");
    let h2 = join(&d.h2, g, "v2", None);
    let a = join(&d.h3a, g, "v3", None);
    let b = join(&d.h3b, g, "v3", None);
    d.wait_show(3, "show ip igmp groups", "h3's join heard", |t| t.contains("239.1.1.1"));
    let tx = h1_sender(&d, g, 8);
    prime(&d, &tx, &[&h2, &a, &b]);
    let mroute = d.wait_show(3, "show ip mroute", "(S,G) on r3", |t| {
        t.lines().any(|l| l.contains("10.1.0.2") && l.contains("239.1.1.1") && l.contains("r3h"))
    });
    let mdb = d.mdb();
    assert!(mdb.contains("pa") && mdb.contains("pb") && mdb.contains("239.1.1.1"), "bridge mdb:\n{mdb}");

    let payloads: Vec<Vec<u8>> = (0..5).map(|i| format!("across PIM #{i}").into_bytes()).collect();
    for p in &payloads {
        tx.send(p).expect("send");
    }
    for (rx, ns, ifname, ttl, what) in
        [(&h2, &d.h2, "v2", 6, "h2"), (&a, &d.h3a, "v3", 5, "h3a"), (&b, &d.h3b, "v3", 5, "h3b")]
    {
        let index = ns.ifindex(ifname);
        for p in &payloads {
            let got = expect_exact(rx.socket(), what, p, IpAddr::V4(H1), g.ip(), index);
            assert_eq!(got.meta.ttl, Some(ttl), "{what}: arrival TTL\n{mroute}");
        }
        assert_silent(rx.socket(), what);
    }
}

/// TTL scoping: sent at TTL 3, a datagram reaches h2 (arriving with 1, after r1 and r2) but never the
/// bridged LAN, where r3 would have to send it on with TTL 0. The same path carries TTL 4 there.
#[test]
fn a_datagram_with_too_small_a_ttl_does_not_cross_the_last_router() {
    needs_root!();
    let g = group(Ipv4Addr::new(239, 1, 1, 2));
    let mut d = Domain::new("pimttl");
    let h2 = join(&d.h2, g, "v2", None);
    let a = join(&d.h3a, g, "v3", None);
    d.wait_show(3, "show ip igmp groups", "h3a's join heard", |t| t.contains("239.1.1.2"));
    let wide = h1_sender(&d, g, 4);
    prime(&d, &wide, &[&h2, &a]);
    let narrow = h1_sender(&d, g, 3);
    let (i2, i3) = (d.h2.ifindex("v2"), d.h3a.ifindex("v3"));
    narrow.send(b"ttl 3").expect("send");
    let got = expect_exact(h2.socket(), "h2", b"ttl 3", IpAddr::V4(H1), g.ip(), i2);
    assert_eq!(got.meta.ttl, Some(1), "h2: arrival TTL");
    assert_silent(a.socket(), "h3a with TTL 3");
    wide.send(b"ttl 4").expect("send");
    let got = expect_exact(a.socket(), "h3a", b"ttl 4", IpAddr::V4(H1), g.ip(), i3);
    assert_eq!(got.meta.ttl, Some(1), "h3a: arrival TTL");
}

/// Source-specific: h3a joins (h1, 232.1.1.1) with IGMPv3; r3, the last-hop router, holds the (S,G) from
/// the report alone (no RP is involved), and h1's datagrams arrive.
#[test]
fn a_source_specific_join_becomes_sg_state_on_the_last_hop_router() {
    needs_root!();
    let g = group(Ipv4Addr::new(232, 1, 1, 1));
    let mut d = Domain::new("pimssm");
    let a = join(&d.h3a, g, "v3", Some(H1));
    let state = d.wait_show(3, "show ip pim state", "(S,G) for h1 on r3", |t| {
        t.lines().any(|l| l.contains("10.1.0.2") && l.contains("232.1.1.1"))
    });
    let tx = h1_sender(&d, g, 8);
    prime(&d, &tx, &[&a]);
    tx.send(b"ssm across PIM").expect("send");
    let got = expect_exact(a.socket(), "h3a", b"ssm across PIM", IpAddr::V4(H1), g.ip(), d.h3a.ifindex("v3"));
    assert_eq!(got.meta.ttl, Some(5), "arrival TTL\n{state}");
    let groups = d.router(3).vtysh("show ip igmp sources");
    assert!(groups.contains("232.1.1.1") && groups.contains("10.1.0.2"), "IGMPv3 sources on r3:\n{groups}");
    assert!(!d.router(2).vtysh("show ip pim rp-info").contains("232."), "SSM has no RP");
}

/// Prune after leave: while h3a is joined its LAN gets the traffic; after it leaves (IGMPv3 TO_IN {}),
/// r3 queries, hears no one and prunes the LAN. A capture where r3's LAN enters the bridge (`p0`) saw the
/// datagrams before the leave and sees none of the ten sent after it, while h2 (the control) gets all ten.
#[test]
fn traffic_stops_reaching_the_lan_after_the_receiver_leaves() {
    needs_root!();
    let g = group(Ipv4Addr::new(239, 1, 1, 3));
    let mut d = Domain::new("pimprune");
    let mut a = join(&d.h3a, g, "v3", None);
    let h2 = join(&d.h2, g, "v2", None);
    d.wait_show(3, "show ip igmp groups", "h3a's join heard", |t| t.contains("239.1.1.3"));
    let capture = Capture::start(&d.sw, &d.scratch, "p0");
    let tx = h1_sender(&d, g, 8);
    prime(&d, &tx, &[&a, &h2]);
    a.leave(&g, None).expect("leave");
    d.wait_show(3, "show ip igmp groups", "h3a's leave heard", |t| !t.contains("239.1.1.3"));
    d.wait_show(3, "show ip mroute", "r3h pruned", |t| {
        !t.lines().any(|l| l.contains("239.1.1.3") && l.contains("r3h"))
    });
    let i2 = d.h2.ifindex("v2");
    for n in 0..10 {
        let p = format!("after the leave #{n}");
        tx.send(p.as_bytes()).expect("send");
        expect_exact(h2.socket(), "h2 (control)", p.as_bytes(), IpAddr::V4(H1), g.ip(), i2);
    }
    std::thread::sleep(QUIET);
    let frames = capture.frames();
    let carrying = |needle: &[u8]| frames.iter().filter(|f| f.windows(needle.len()).any(|w| w == needle)).count();
    assert!(carrying(b"prime") > 0, "the capture saw the traffic before the leave");
    assert_eq!(carrying(b"after the leave"), 0, "datagrams reached h3a's LAN after the prune");
}
