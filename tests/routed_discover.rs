//! `mcast discover` across a router: the expanding-ring search finds a responder one router away at ring
//! TTL 2, and not at TTL 0 or 1.
//!
//! Topology ([`Routed`], two subnets):
//!
//! ```text
//!   h1 (mcast discover): v1 10.1.0.2 fd00:1::2  ---  r1 [router]  r2  ---  v2 10.2.0.2 fd00:2::2 :h2 (responder)
//! ```
//!
//! The router forwards h1's queries to the group onto subnet 2 ((S,G) route); the responder answers by
//! unicast, which the router forwards back along the hosts' default routes. The querier is not on the
//! responder's subnet, so the responder answers it only with `--allow 0.0.0.0/0 --allow ::/0` (without, it
//! refuses the query as `off_link`); its answers leave with TTL 64 and arrive with 63: one router away.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::routed::peer::Peer;
use common::routed::{Mroute, Routed, MCAST};
use serde_json::Value;

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

fn of_type<'a>(lines: &'a [Value], ty: &str) -> Vec<&'a Value> {
    lines.iter().filter(|v| v["type"] == ty).collect()
}

/// Runs `mcast discover GROUP --iface v1 --max-ttl MAX --json` in h1 and returns its exit success and
/// JSON lines.
fn discover(net: &Routed, target: &str, max: u32) -> (bool, Vec<Value>, String) {
    let max = max.to_string();
    let args = ["discover", target, "--iface", "v1", "--max-ttl", &max, "--wait", "1", "--json"];
    let mut d = Peer::start(net.host(1), &net.scratch, &format!("mcast discover --max-ttl {max}"), MCAST, &args);
    let status = d.wait();
    (status.success(), json_lines(&d.stdout_text()), d.report())
}

fn ring_search(tag: &str, g: IpAddr) {
    let port = 4000;
    let mut net = Routed::new(tag, 2);
    let querier = net.subnet(1).host_ip(g);
    let far = net.subnet(2).host_ip(g);
    net.start_router(&[Mroute::sg(1, querier, g, &[2])]);
    let target = mcast::Group::new(g, port).expect("group").to_string();

    let args = [
        "responder",
        &target,
        "--name",
        "far-host",
        "--iface",
        "v2",
        "--allow",
        "0.0.0.0/0",
        "--allow",
        "::/0",
        "--json",
    ];
    let mut responder = Peer::start(net.host(2), &net.scratch, "mcast responder", MCAST, &args);
    responder.wait_stderr("answering discover queries");

    // Rings 0 and 1 stay on h1's subnet: nobody answers, exit status 1.
    let (ok, lines, report) = discover(&net, &target, 1);
    assert!(!ok, "discover up to TTL 1 must find nothing\n{report}");
    let rings: Vec<&Value> = of_type(&lines, "ring").iter().map(|r| &r["ttl"]).collect();
    assert_eq!(rings, [&Value::from(0), &Value::from(1)], "{report}");
    assert!(of_type(&lines, "found").is_empty(), "{report}");
    assert_eq!(of_type(&lines, "summary")[0]["found"], 0, "{report}");
    assert!(!responder.stdout_text().contains("\"query\""), "no query reached the responder:\n{}", responder.report());

    // Ring 2 crosses the router: found there, and the search stops at that ring.
    let (ok, lines, report) = discover(&net, &target, 8);
    assert!(ok, "discover up to TTL 8\n{report}");
    let rings: Vec<&Value> = of_type(&lines, "ring").iter().map(|r| &r["ttl"]).collect();
    assert_eq!(rings, [&Value::from(0), &Value::from(1), &Value::from(2)], "{report}");
    let found = of_type(&lines, "found");
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0]["name"], "far-host", "{report}");
    assert_eq!(found[0]["ttl"], 2, "{report}");
    assert_eq!(found[0]["distance"], 1, "one router between: {report}");
    assert_eq!(found[0]["query_distance"], 1, "the query arrived with TTL 1, the ring less one: {report}");
    assert_eq!(found[0]["addr"], far.to_string().as_str(), "{report}");
    let from: IpAddr = found[0]["from"].as_str().expect("from").parse().expect("an address");
    assert_eq!(from, far, "{report}");

    // The responder saw exactly one query: sent with TTL 2, arrived with 1 after the router.
    responder.stop("INT");
    let said = json_lines(&responder.stdout_text());
    let queries = of_type(&said, "query");
    assert_eq!(queries.len(), 1, "{}", responder.report());
    assert_eq!(queries[0]["ttl_sent"], 2, "{}", responder.report());
    assert_eq!(queries[0]["ttl"], 1, "{}", responder.report());
    let from: IpAddr = queries[0]["from"].as_str().expect("from").parse().expect("an address");
    assert_eq!(from, querier, "{}", responder.report());
    assert_eq!(of_type(&said, "summary")[0]["answered"], 1, "{}", responder.report());
    assert_eq!(of_type(&said, "summary")[0]["refused"], serde_json::json!({}), "{}", responder.report());
}

/// Without `--allow`, the same routed query is refused as off-link, and counted so.
fn off_link_refused(tag: &str, g: IpAddr) {
    let port = 4000;
    let mut net = Routed::new(tag, 2);
    let querier = net.subnet(1).host_ip(g);
    net.start_router(&[Mroute::sg(1, querier, g, &[2])]);
    let target = mcast::Group::new(g, port).expect("group").to_string();
    let args = ["responder", &target, "--name", "far-host", "--iface", "v2", "--json"];
    let mut responder = Peer::start(net.host(2), &net.scratch, "mcast responder", MCAST, &args);
    responder.wait_stderr("answering discover queries");
    let (ok, lines, report) = discover(&net, &target, 2);
    assert!(!ok, "an off-link querier gets no answer\n{report}");
    assert!(of_type(&lines, "found").is_empty(), "{report}");
    responder.stop("INT");
    let said = json_lines(&responder.stdout_text());
    let refused = of_type(&said, "refused");
    assert_eq!(refused.len(), 1, "the ring-2 query, refused: {}", responder.report());
    assert_eq!(refused[0]["reason"], "off_link", "{}", responder.report());
    let from: IpAddr = refused[0]["from"].as_str().expect("from").parse().expect("an address");
    assert_eq!(from, querier, "{}", responder.report());
    let summary = of_type(&said, "summary")[0];
    assert_eq!((summary["answered"].as_u64(), summary["refused"]["off_link"].as_u64()), (Some(0), Some(1)));
}

#[test]
fn ipv4_discover_finds_a_responder_behind_the_router_at_ttl_2_not_1() {
    needs_root!();
    ring_search("disc4", Ipv4Addr::new(239, 255, 0, 9).into());
}

#[test]
fn ipv4_responder_refuses_a_routed_querier_without_allow() {
    needs_root!();
    off_link_refused("dsoff4", Ipv4Addr::new(239, 255, 0, 10).into());
}

#[test]
fn ipv6_responder_refuses_a_routed_querier_without_allow() {
    needs_root!();
    off_link_refused("dsoff6", Ipv6Addr::new(0xff15, 0, 0, 0, 0, 0, 0, 10).into());
}

#[test]
fn ipv6_discover_finds_a_responder_behind_the_router_at_hop_limit_2_not_1() {
    needs_root!();
    ring_search("disc6", Ipv6Addr::new(0xff15, 0, 0, 0, 0, 0, 0, 9).into());
}
