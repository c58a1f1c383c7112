//! The routed test network itself: it comes up with the routes in the kernel, (*,G) templates turn into
//! (S,G) entries when traffic arrives, and everything is gone after a test that panics.
//!
//! Topology ([`Routed`], three subnets): h1, h2, h3 around the router, as in `tests/common/routed.rs`.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::routed::{mfc_hex, Mroute, Routed};
use common::traffic::{expect, iface, receiver};
use mcast::{Group, Sender};

/// After a panic inside a test, the daemon has exited, the four namespaces are gone and so is the scratch
/// directory with the daemon's config and socket.
#[test]
fn a_panicking_test_leaves_no_daemon_namespace_or_file() {
    needs_root!();
    let g = IpAddr::V4(Ipv4Addr::new(239, 9, 9, 1));
    let mut left: Option<(u32, Vec<String>, PathBuf)> = None;
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut net = Routed::new("teardown", 3);
        net.start_router(&[Mroute::sg(1, net.subnet(1).host_ip(g), g, &[2, 3])]);
        let routes = net.smcroute().show_routes();
        assert!(routes.contains(&format!("(10.1.0.2, {g})")), "{routes}");
        assert!(net.smcroute().socket.exists() && net.smcroute().conf.exists());
        let mut names: Vec<String> = net.subnets.iter().map(|s| s.host.name.clone()).collect();
        names.push(net.router.name.clone());
        left = Some((net.smcroute().pid(), names, net.scratch.path().to_path_buf()));
        panic!("a test fails while the network is up");
    }));
    assert!(outcome.is_err(), "the closure panicked");
    let (pid, names, dir) = left.expect("the network came up");
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "smcrouted ({pid}) still running");
    for n in names {
        assert!(!Path::new("/run/netns").join(&n).exists(), "namespace {n} left behind");
    }
    assert!(!dir.exists(), "{} left behind", dir.display());
}

/// A (*,G) route is a template: the first datagram from h1 makes smcrouted install an (S,G) entry for
/// h1 in the kernel, after which h1's datagrams reach h2 and h3 (the datagram that triggered it may or
/// may not be forwarded, so the test sends until one arrives).
#[test]
fn any_source_route_becomes_a_source_specific_entry_on_first_traffic() {
    needs_root!();
    let g = Group::new(IpAddr::V4(Ipv4Addr::new(239, 9, 9, 2)), 5000).unwrap();
    let mut net = Routed::new("starg", 3);
    net.start_router(&[Mroute::any_source(1, g.ip(), &[2, 3])]);
    let entry = format!("{} {} ", mfc_hex(Ipv4Addr::new(239, 9, 9, 2)), mfc_hex(net.subnet(1).host4));
    let entry = entry.as_str();
    assert!(!net.router.proc_net("ip_mr_cache").contains(entry), "no (S,G) entry before traffic");

    let far2 = receiver(net.host(2), g, "v2");
    let far3 = receiver(net.host(3), g, "v3");
    let tx = net.host(1).run(move || Sender::builder(g).interface(iface("v1")).ttl(2).build()).expect("sender");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 64];
    let first = loop {
        tx.send(b"until the route is learned").unwrap();
        if let Some(meta) = far2.recv_timeout(&mut buf, Duration::from_millis(200)).unwrap() {
            break meta;
        }
        assert!(Instant::now() < deadline, "no datagram forwarded by the (*,G) route\n{}", net.smcroute().log());
    };
    assert_eq!(first.source.ip(), net.subnet(1).host_ip(g.ip()));
    let cache = net.router.proc_net("ip_mr_cache");
    assert!(cache.contains(entry), "(S,G) entry installed from the template:\n{cache}");

    // From now on every datagram is forwarded to both subnets.
    tx.send(b"after the route").unwrap();
    for (rx, what) in [(&far2, "h2"), (&far3, "h3")] {
        loop {
            let got = expect(rx.socket(), what);
            if got.bytes == b"after the route" {
                assert_eq!(got.meta.ttl, Some(1), "{what}");
                break;
            }
            assert_eq!(got.bytes, b"until the route is learned", "{what}");
        }
    }
}
