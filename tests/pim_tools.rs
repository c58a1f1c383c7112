//! The `mcast` command in a real PIM-SM domain: discover, ping, doctor and igmp watch.
//!
//! Topology ([`Domain`], `tests/common/pim.rs`): h1 -- r1 -- r2 (RP, h2 behind it) -- r3 -- bridge -- h3a, h3b.
//! r3 is the IGMPv3 querier and the PIM DR of the bridged LAN (10.3.0.1). Where a test needs multicast from a
//! host to cross the domain before the tool starts, it warms the (S,G) first: the first datagrams of a new
//! sender go the register path and can be lost, which is what the doctor's PIM note warns about.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::pim::{Domain, Tuning, H1, H3A, R3_LAN, RP};
use common::routed::peer::Peer;
use common::routed::MCAST;
use common::traffic::iface;
use mcast::wire::pim::{Bootstrap, RpEntry};
use mcast::{Family, Group, McastSocket, Receiver, Sender};
use serde_json::Value;

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

fn of_type<'a>(lines: &'a [Value], ty: &str) -> Vec<&'a Value> {
    lines.iter().filter(|v| v["type"] == ty).collect()
}

/// Sends from `from` (in `ns`, out of `ifname`, TTL 8) to `g` until a receiver joined in `to` on `to_if`
/// gets a datagram: the routers then hold the (S,G) and forward at once. Fails after 20 s.
fn warm(ns: &common::Netns, ifname: &str, from: Ipv4Addr, to: &common::Netns, to_if: &str, g: Group) {
    let (ifname, to_if) = (ifname.to_string(), to_if.to_string());
    let warm_g = Group::new(g.ip(), g.port() + 1).expect("group");
    let rx = to.run(move || Receiver::builder(warm_g).interface(iface(&to_if)).build()).expect("receiver");
    let bind = SocketAddr::new(IpAddr::V4(from), 0);
    let tx = ns.run(move || Sender::builder(warm_g).interface(iface(&ifname)).ttl(8).bind(bind).build()).expect("tx");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 64];
    loop {
        tx.send(b"warm").expect("send");
        if let Ok(Some(_)) = rx.recv_timeout(&mut buf, Duration::from_millis(50)) {
            break;
        }
        assert!(Instant::now() < deadline, "{from} -> {g}: the (S,G) never formed");
    }
    // The RP's register-stop and the last-hop router's switch to the source tree follow within moments.
    for _ in 0..10 {
        tx.send(b"warm").expect("send");
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// `mcast discover` from h1 finds a responder three routers away on the bridged LAN: rings 0, 1 and 2 stay
/// short of it, ring 4 reaches it. The responder answers a routed querier only with `--allow 0.0.0.0/0`.
#[test]
fn discover_finds_a_responder_three_routers_away() {
    needs_root!();
    let g = Group::new(IpAddr::V4(Ipv4Addr::new(239, 255, 0, 31)), 4000).expect("group");
    let mut d = Domain::new("pimdisc");
    let target = g.to_string();
    let args = ["responder", &target, "--name", "far", "--iface", "v3", "--allow", "0.0.0.0/0", "--json"];
    let mut responder = Peer::start(&d.h3a, &d.scratch, "mcast responder", MCAST, &args);
    responder.wait_stderr("answering discover queries");
    d.wait_show(3, "show ip igmp groups", "the responder's join", |t| t.contains("239.255.0.31"));
    warm(&d.h1, "v1", H1, &d.h3b, "v3", g);
    let args = ["discover", &target, "--iface", "v1", "--max-ttl", "8", "--wait", "1", "--json"];
    let mut disc = Peer::start(&d.h1, &d.scratch, "mcast discover", MCAST, &args);
    let status = disc.wait();
    let lines = json_lines(&disc.stdout_text());
    assert!(status.success(), "{}", disc.report());
    let rings: Vec<&Value> = of_type(&lines, "ring").iter().map(|r| &r["ttl"]).collect();
    assert_eq!(rings, [&Value::from(0), &Value::from(1), &Value::from(2), &Value::from(4)], "{}", disc.report());
    let found = of_type(&lines, "found");
    assert_eq!(found.len(), 1, "{}", disc.report());
    assert_eq!(found[0]["name"], "far", "{}", disc.report());
    assert_eq!(found[0]["ttl"], 4, "{}", disc.report());
    assert_eq!(found[0]["addr"], H3A.to_string().as_str(), "{}", disc.report());
    responder.stop("INT");
    let said = json_lines(&responder.stdout_text());
    let queries = of_type(&said, "query");
    assert_eq!(queries.len(), 1, "only the ring-4 query crossed: {}", responder.report());
    assert_eq!((queries[0]["ttl_sent"].as_u64(), queries[0]["ttl"].as_u64()), (Some(4), Some(1)));
}

/// `mcast ping` from h1 to a responder on the bridged LAN: both rows, multicast and unicast, each with
/// every probe answered once the tree stands.
#[test]
fn ping_across_pim_gets_both_rows() {
    needs_root!();
    let g = Group::new(IpAddr::V4(Ipv4Addr::new(239, 255, 0, 32)), 4321).expect("group");
    let mut d = Domain::new("pimping");
    let target = g.to_string();
    let serve = ["ping", "--serve", &target, "--iface", "v3", "--ttl", "8", "--allow", "0.0.0.0/0", "--timeout", "60"];
    let mut responder = Peer::start(&d.h3a, &d.scratch, "mcast ping --serve", MCAST, &serve);
    responder.wait_stderr("answering");
    d.wait_show(3, "show ip igmp groups", "the responder's join", |t| t.contains("239.255.0.32"));
    warm(&d.h1, "v1", H1, &d.h3b, "v3", g);
    warm(&d.h3a, "v3", H3A, &d.h1, "v1", g);
    let args = [
        "ping",
        &target,
        "--iface",
        "v1",
        "--ttl",
        "8",
        "--count",
        "15",
        "--interval",
        "0.1",
        "--wait",
        "2",
        "--json",
        "-q",
    ];
    let mut prober = Peer::start(&d.h1, &d.scratch, "mcast ping", MCAST, &args);
    prober.wait();
    let lines = json_lines(&prober.stdout_text());
    let rows = of_type(&lines, "responder");
    assert_eq!(rows.len(), 2, "a row per kind: {}", prober.report());
    for kind in ["multicast", "unicast"] {
        let row = rows
            .iter()
            .find(|r| r["responder"] == "10.3.0.2" && r["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} row: {}", prober.report()));
        assert_eq!(row["sent"], 15, "{}", prober.report());
        assert!(row["received"].as_u64().unwrap_or(0) >= 14, "{kind}: {}", prober.report());
    }
    let multicast = rows.iter().find(|r| r["kind"] == "multicast").expect("multicast row");
    assert_eq!(multicast["ttl"], 5, "sent with TTL 8 across three routers: {}", prober.report());
}

/// `mcast doctor` on h3b with FRR's default query interval (125 s): the querier check does not wait for
/// the next general query, it asks - r3 answers the dropped probe source with a group-and-source query -
/// and the PIM check lists r3 as the one PIM router and DR, with the note about a new sender's first
/// datagrams.
#[test]
fn doctor_hears_the_querier_it_asked_and_the_pim_dr() {
    needs_root!();
    let d = Domain::new("pimdoc");
    let args = ["doctor", "239.1.2.3:5000", "--iface", "v3", "--no-loop", "--json"];
    let mut doc = Peer::start(&d.h3b, &d.scratch, "mcast doctor", MCAST, &args);
    doc.wait();
    let report: Value =
        serde_json::from_str(doc.stdout_text().trim()).unwrap_or_else(|e| panic!("{e}: {}", doc.report()));
    let finding = |check: &str| {
        let all = report["findings"].as_array().expect("findings");
        all.iter().find(|f| f["check"] == check).cloned().unwrap_or_else(|| panic!("no {check}: {}", doc.report()))
    };
    let q = finding("querier");
    assert_eq!(q["status"], "ok", "{q}");
    let text = q["summary"].as_str().expect("summary");
    assert!(text.starts_with(&format!("IGMPv3 query from {R3_LAN} heard on v3 after")), "{text}");
    assert!(text.contains("239.255.0.2"), "the answer to the probe: {text}");
    let v = finding("igmp-version");
    assert_eq!(v["status"], "ok", "{v}");
    let p = finding("pim");
    assert_eq!(p["status"], "ok", "{p}");
    let text = p["summary"].as_str().expect("summary");
    assert!(text.starts_with("PIM router(s) on v3: 10.3.0.1 (DR priority 1, holdtime 4 s); DR 10.3.0.1"), "{text}");
    assert!(text.contains("first datagrams of a new sender can be lost"), "{text}");
    assert_eq!(report["failed"], false, "{}", doc.report());
}

/// With a bootstrap router flooding its RP set on the LAN (forged by h3a: FRR 8.4 cannot be a candidate
/// BSR), `mcast doctor` on h3b names the RP it announces, next to r3 as the PIM router.
#[test]
fn doctor_names_the_rp_that_a_bsr_announces() {
    needs_root!();
    let d = Domain::new("pimbsr");
    let bsm = Bootstrap {
        bsr: Ipv4Addr::new(10, 3, 0, 2),
        bsr_priority: 64,
        rps: vec![RpEntry { group: Ipv4Addr::new(224, 0, 0, 0), mask_len: 4, rp: RP, holdtime: 150, priority: 0 }],
    }
    .to_bytes();
    let stop = Arc::new(AtomicBool::new(false));
    let index = d.h3a.ifindex("v3");
    let flood = {
        let stop = stop.clone();
        d.h3a.spawn(move || {
            let raw = McastSocket::raw(Family::V4, libc::IPPROTO_PIM).expect("raw PIM socket (CAP_NET_RAW)");
            raw.set_multicast_if_v4_index(index).expect("IP_MULTICAST_IF");
            raw.set_multicast_ttl_v4(1).expect("IP_MULTICAST_TTL");
            let to = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 13)), 0);
            while !stop.load(Ordering::Relaxed) {
                raw.send_to(&bsm, to).expect("send the bootstrap message");
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let args = ["doctor", "239.1.2.3:5000", "--iface", "v3", "--no-loop", "--json"];
    let mut doc = Peer::start(&d.h3b, &d.scratch, "mcast doctor", MCAST, &args);
    doc.wait();
    stop.store(true, Ordering::Relaxed);
    flood.join().expect("the flood thread");
    let report: Value =
        serde_json::from_str(doc.stdout_text().trim()).unwrap_or_else(|e| panic!("{e}: {}", doc.report()));
    let all = report["findings"].as_array().expect("findings");
    let pim = all.iter().find(|f| f["check"] == "pim").unwrap_or_else(|| panic!("no pim: {}", doc.report()));
    let text = pim["summary"].as_str().expect("summary");
    assert!(text.starts_with("PIM router(s) on v3: 10.3.0.1 "), "{text}");
    assert!(text.contains("; BSR 10.3.0.2 announces RP 10.12.0.2 for 224.0.0.0/4"), "{text}");
}

/// `mcast igmp watch` on h3a hears r3's queries (every 2 s here) and h3b's join, naming the querier.
#[test]
fn igmp_watch_sees_the_querier_and_a_neighbours_join() {
    needs_root!();
    let d = Domain::with("pimwatch", Tuning { query_interval: Some(2) });
    let args = ["igmp", "watch", "--iface", "v3", "--json", "--timeout", "5"];
    let mut watch = Peer::start(&d.h3a, &d.scratch, "mcast igmp watch", MCAST, &args);
    std::thread::sleep(Duration::from_millis(500));
    let g = Group::new(IpAddr::V4(Ipv4Addr::new(239, 1, 2, 4)), 5000).expect("group");
    let _member = d.h3b.run(move || Receiver::builder(g).interface(iface("v3")).build()).expect("receiver");
    watch.wait();
    let lines = json_lines(&watch.stdout_text());
    let queries = of_type(&lines, "query");
    assert!(!queries.is_empty(), "{}", watch.report());
    for q in &queries {
        assert_eq!((q["source"].as_str(), q["version"].as_u64()), (Some("10.3.0.1"), Some(3)), "{q}");
    }
    let joins = of_type(&lines, "join");
    assert!(
        joins.iter().any(|j| j["group"] == "239.1.2.4" && j.to_string().contains("10.3.0.3")),
        "{}",
        watch.report()
    );
}
