//! `mcast ping` between namespaces: every probe answered twice (multicast and unicast) with a positive round
//! trip, several responders each with their own rows, and a responder that stops answering shows as loss.
mod common;
mod tools_support;

use common::{veth, Netns};
use tools_support::{Obj, Proc};

/// Rows of the prober's JSON summary, keyed by responder address and kind.
fn rows(f: &tools_support::Finished) -> Vec<(String, String, Obj)> {
    let mut v: Vec<_> = f.json("responder").into_iter().map(|o| (o.str("responder"), o.str("kind"), o)).collect();
    v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    v
}

/// Topology: namespace `a` (10.71.0.1, va) <-veth-> namespace `b` (10.71.0.2, vb). The responder in `b` joins
/// on vb; the prober in `a` sends 20 probes out of va with TTL 1.
#[test]
fn ping_across_a_veth_answers_every_probe_both_ways() {
    let a = Netns::new("pinga");
    let b = Netns::new("pingb");
    veth(&a, "va", "10.71.0.1/24", &b, "vb", "10.71.0.2/24");
    let group = "239.71.0.1:4321";
    let responder = Proc::ready(
        &b,
        &["ping", "--serve", group, "--iface", "vb", "--count", "20", "--timeout", "60", "--json"],
        "answering",
    );
    let prober = tools_support::run(
        &a,
        &["ping", group, "--iface", "va", "--ttl", "1", "--count", "20", "--interval", "0.02", "--wait", "2", "--json"],
    )
    .ok();
    let served = responder.finish().ok();

    assert_eq!(served.one("summary").int("answered"), 20);
    let probes = served.json("probe");
    assert_eq!(probes.len(), 20);
    for (i, p) in probes.iter().enumerate() {
        assert_eq!(p.int("seq"), i as u64);
        assert!(p.str("from").starts_with("10.71.0.1:"), "{p:?}");
    }

    let rows = rows(&prober);
    let kinds: Vec<(&str, &str)> = rows.iter().map(|(r, k, _)| (r.as_str(), k.as_str())).collect();
    assert_eq!(kinds, [("10.71.0.2", "multicast"), ("10.71.0.2", "unicast")]);
    for (_, kind, row) in &rows {
        assert_eq!(row.int("sent"), 20, "{kind}");
        assert_eq!(row.int("received"), 20, "{kind}");
        assert_eq!(row.int("lost"), 0, "{kind}");
        assert_eq!(row.num("loss_pct"), 0.0, "{kind}");
        assert_eq!((row.int("duplicates"), row.int("reordered")), (0, 0), "{kind}");
        assert!(row.num("rtt_min_ms") > 0.0, "{kind}: {row:?}");
        assert!(row.num("rtt_min_ms") <= row.num("rtt_p50_ms") && row.num("rtt_p50_ms") <= row.num("rtt_max_ms"));
        assert!(row.num("rtt_max_ms") < 5_000.0, "a round trip on a veth is far below the test's bounds: {row:?}");
    }
    // Every probe's answers, each kind seen once per sequence number.
    let replies = prober.json("reply");
    assert_eq!(replies.len(), 40);
    for kind in ["multicast", "unicast"] {
        let mut seqs: Vec<u64> = replies.iter().filter(|r| r.str("kind") == kind).map(|r| r.int("seq")).collect();
        seqs.sort();
        assert_eq!(seqs, (0..20).collect::<Vec<_>>(), "{kind}");
    }
    // Multicast answers crossed the veth with TTL 1 and arrive with 1 left.
    assert!(replies.iter().filter(|r| r.str("kind") == "multicast").all(|r| r.int("ttl") == 1));
}

/// Topology: as above. The responder answers 5 probes and exits; the prober sends 15: 10 are lost on each row.
#[test]
fn a_responder_that_stops_answering_shows_as_loss() {
    let a = Netns::new("pingla");
    let b = Netns::new("pinglb");
    veth(&a, "va", "10.72.0.1/24", &b, "vb", "10.72.0.2/24");
    let group = "239.72.0.1:4322";
    let responder =
        Proc::ready(&b, &["ping", "--serve", group, "--iface", "vb", "--count", "5", "--json"], "answering");
    let prober = tools_support::run(
        &a,
        &["ping", group, "--iface", "va", "--count", "15", "--interval", "0.05", "--wait", "1", "--json", "-q"],
    )
    .ok();
    assert_eq!(responder.finish().ok().one("summary").int("answered"), 5);
    let rows = rows(&prober);
    assert_eq!(rows.len(), 2);
    for (who, kind, row) in &rows {
        assert_eq!(who, "10.72.0.2");
        assert_eq!((row.int("sent"), row.int("received"), row.int("lost")), (15, 5, 10), "{kind}");
        assert!((row.num("loss_pct") - 66.666_667).abs() < 0.001, "{row:?}");
    }
}

/// Topology: namespace `a` (fd00:73::1, va) <-veth-> `b` (fd00:73::2, vb), IPv6 link-scope group ff02::73:1.
/// One responder in `b` on vb, one in `a` itself on va (it hears the probes by loopback): four rows.
#[test]
fn two_ipv6_responders_each_get_their_own_rows() {
    let a = Netns::new("ping6a");
    let b = Netns::new("ping6b");
    veth(&a, "va", "fd00:73::1/64", &b, "vb", "fd00:73::2/64");
    common::wait_ipv6(&a, "va");
    common::wait_ipv6(&b, "vb");
    let group = "[ff02::73:1]:4323";
    let far =
        Proc::ready(&b, &["ping", "--serve", group, "--iface", "vb", "--count", "10", "--timeout", "60"], "answering");
    let near =
        Proc::ready(&a, &["ping", "--serve", group, "--iface", "va", "--count", "10", "--timeout", "60"], "answering");
    let prober = tools_support::run(
        &a,
        &["ping", group, "--iface", "va", "--count", "10", "--interval", "0.02", "--wait", "2", "--json", "-q"],
    )
    .ok();
    far.finish().ok();
    near.finish().ok();
    let rows = rows(&prober);
    assert_eq!(rows.len(), 4, "{}", prober.stdout);
    let responders: std::collections::BTreeSet<&str> = rows.iter().map(|(r, _, _)| r.as_str()).collect();
    assert_eq!(responders.len(), 2, "two responders: {responders:?}");
    for (who, kind, row) in &rows {
        assert!(who.starts_with("fe80::") || who.starts_with("fd00:73::"), "{who}");
        assert_eq!((row.int("received"), row.int("lost"), row.int("duplicates")), (10, 0, 0), "{who} {kind}");
        assert!(row.num("rtt_min_ms") > 0.0);
    }
}
