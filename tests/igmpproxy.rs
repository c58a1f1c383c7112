//! A host behind `igmpproxy`, the IGMPv2 querier of its LAN: traffic gets through for a plain join, the host
//! drops to IGMPv2, and `mcast groups` and `mcast doctor` say so, in agreement with each other.
//!
//! Topology ([`Proxied`], `tests/common/igmpproxy.rs`): h1 (v1 10.1.0.2) -- [igmpproxy] -- hd (v4 10.4.0.2).

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::igmpproxy::Proxied;
use common::routed::peer::Peer;
use common::routed::MCAST;
use common::traffic::{expect_exact, iface};
use mcast::{Group, Receiver, Sender};
use serde_json::Value;

const H1: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);

fn run_json(p: &Proxied, name: &str, args: &[&str]) -> (bool, String, Peer) {
    let mut peer = Peer::start(&p.hd, &p.scratch, name, MCAST, args);
    let ok = peer.wait().success();
    (ok, peer.stdout_text(), peer)
}

/// A plain join on hd is reported in IGMPv2 and proxied upstream: h1's datagrams (TTL 2) arrive with TTL 1.
#[test]
fn a_plain_join_behind_the_proxy_gets_the_traffic() {
    needs_root!();
    let p = Proxied::new("pxtraffic");
    let g = Group::new(IpAddr::V4(Ipv4Addr::new(239, 4, 4, 4)), 5000).expect("group");
    let rx = p.hd.run(move || Receiver::builder(g).interface(iface("v4")).build()).expect("receiver");
    let bind = SocketAddr::new(IpAddr::V4(H1), 0);
    let tx = p.h1.run(move || Sender::builder(g).interface(iface("v1")).ttl(2).bind(bind).build()).expect("sender");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 64];
    loop {
        tx.send(b"until proxied").expect("send");
        if let Ok(Some(_)) = rx.recv_timeout(&mut buf, Duration::from_millis(100)) {
            break;
        }
        assert!(Instant::now() < deadline, "nothing proxied\n{}", p.proxy.report());
    }
    while let Ok(Some(_)) = rx.recv_timeout(&mut buf, Duration::from_millis(50)) {}
    tx.send(b"through igmpproxy").expect("send");
    let got = expect_exact(rx.socket(), "hd", b"through igmpproxy", IpAddr::V4(H1), g.ip(), p.hd.ifindex("v4"));
    assert_eq!(got.meta.ttl, Some(1));
}

/// `mcast groups` shows v4 in IGMPv2 (not forced: the querier did it).
#[test]
fn groups_shows_the_host_in_igmpv2_mode() {
    needs_root!();
    let p = Proxied::new("pxgroups");
    let (ok, out, peer) = run_json(&p, "mcast groups", &["groups", "--iface", "v4", "-4", "--json"]);
    assert!(ok, "{}", peer.report());
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(
        (v["name"].as_str(), v["protocol"].as_str(), v["version"].as_u64()),
        (Some("v4"), Some("IGMPv2"), Some(2))
    );
    assert_eq!(v["forced"], Value::Null, "{v}");
}

/// `mcast doctor` for a source-specific join fails the version check (an IGMPv2 querier was heard, so the
/// source cannot be signalled), and its querier check agrees that an IGMPv2 querier is there, whether or not
/// the proxy happened to query during the check's window. For an any-source group the version is a warning.
#[test]
fn doctor_agrees_with_itself_about_the_igmpv2_querier() {
    needs_root!();
    let p = Proxied::new("pxdoctor");
    for (group, source, version_status) in
        [("232.1.1.1:5000", Some("10.1.0.2"), "fail"), ("239.4.4.5:5000", None, "warn")]
    {
        let mut args = vec!["doctor", group, "--iface", "v4", "--no-loop", "--json"];
        if let Some(s) = source {
            args.extend(["--source", s]);
        }
        let (_, out, peer) = run_json(&p, "mcast doctor", &args);
        let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {}", peer.report()));
        let findings = v["findings"].as_array().expect("findings");
        let of = |check: &str| findings.iter().find(|f| f["check"] == check).cloned().expect(check);
        let version = of("igmp-version");
        assert_eq!(version["status"], version_status, "{version}");
        assert!(version["summary"].as_str().unwrap_or("").contains("an IGMPv2 querier was heard on v4"), "{version}");
        let querier = of("querier");
        assert_eq!(querier["status"], "ok", "{querier}");
        let text = querier["summary"].as_str().unwrap_or("");
        assert!(
            text.starts_with("IGMPv2 query from 10.4.0.1") || text.contains("an IGMPv2 querier is there"),
            "{querier}"
        );
        assert!(!out.contains("no IGMP query heard"), "{out}");
        let pim = of("pim");
        assert!(pim["summary"].as_str().unwrap_or("").starts_with("no PIM hello heard on v4"), "{pim}");
    }
}
