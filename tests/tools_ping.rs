//! `mcast ping` between namespaces: every probe answered twice (multicast and unicast) with a positive round
//! trip, several responders each with their own rows, and a responder that stops answering shows as loss.
mod common;
mod tools_support;

use common::{veth, Netns};
use tools_support::{Obj, Proc};

/// Namespaces `{tag}a` (10.`net`.0.1 on va) and `{tag}b` (10.`net`.0.2 on vb), joined by a veth.
fn linked(tag: &str, net: u8) -> (Netns, Netns) {
    let a = Netns::new(&format!("{tag}a"));
    let b = Netns::new(&format!("{tag}b"));
    veth(&a, "va", &format!("10.{net}.0.1/24"), &b, "vb", &format!("10.{net}.0.2/24"));
    (a, b)
}

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
    let (a, b) = linked("ping", 71);
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
        assert_eq!(p.str("from"), "10.71.0.1", "{p:?}");
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
    let (a, b) = linked("pingl", 72);
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
/// One responder in `b` on vb, one in `a` itself on va (it hears the probes by loopback): four rows. The one in
/// `a` answers from the prober's own link-local address, which the prober blocks until that responder's first
/// unicast answer: its multicast row counts from the next probe on, and loses none of those.
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
    let own = link_local(&a, "va");
    for (who, kind, row) in &rows {
        assert!(who.starts_with("fe80::") || who.starts_with("fd00:73::"), "{who}");
        let from = if who == &own && kind == "multicast" { row.int("from_seq") } else { 0 };
        assert_eq!(row.int("from_seq"), from, "{who} {kind}: {row:?}");
        if who == &own && kind == "multicast" {
            assert!((1..10).contains(&from), "counted from the probe after the first unicast answer: {row:?}");
        }
        assert_eq!(row.int("sent"), 10 - from, "{who} {kind}");
        assert_eq!((row.int("received"), row.int("lost"), row.int("duplicates")), (10 - from, 0, 0), "{who} {kind}");
        assert!(row.num("rtt_min_ms") > 0.0);
    }
}

/// The IPv6 link-local address of `dev` in `ns`.
fn link_local(ns: &Netns, dev: &str) -> String {
    let out = tools_support::sh(ns, "ip", &["-6", "-o", "addr", "show", "dev", dev, "scope", "link"]);
    let word = out.split_whitespace().find(|w| w.starts_with("fe80:")).unwrap_or_else(|| panic!("no fe80:: in {out}"));
    word.split('/').next().unwrap().to_string()
}

/// Source filters in `ns` (`/proc/net/mcfilter`): (device, group, source, exclude count) per line, addresses
/// as the kernel prints them (host order, hex).
fn mcfilter(ns: &Netns) -> Vec<(String, u32, u32, u64)> {
    let text = tools_support::sh(ns, "cat", &["/proc/net/mcfilter"]);
    let hex = |w: &str| u32::from_str_radix(w.trim_start_matches("0x"), 16).unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.len() == 6)
        .map(|w| (w[1].to_string(), hex(w[2]), hex(w[3]), w[5].parse().unwrap()))
        .collect()
}

/// Topology: namespace `a` (10.74.0.1, va) <-veth-> `b` (10.74.0.2, vb). The prober in `a`, a member of the
/// group it probes, blocks its own address as a source on va while it runs (so its probes are not looped back
/// to it), and every probe is still answered both ways by the responder in `b`.
#[test]
fn the_prober_blocks_its_own_probes_and_hears_every_answer() {
    let (a, b) = linked("pingb", 74);
    let group = "239.74.0.1:4324";
    let responder =
        Proc::ready(&b, &["ping", "--serve", group, "--iface", "vb", "--count", "40", "--timeout", "60"], "answering");
    let prober = Proc::start(
        &a,
        &["ping", group, "--iface", "va", "--count", "40", "--interval", "0.05", "--wait", "2", "--json", "-q"],
    );
    let wanted = ("va".to_string(), u32::from_be_bytes([239, 74, 0, 1]), u32::from_be_bytes([10, 74, 0, 1]), 1);
    let start = std::time::Instant::now();
    let mut seen = Vec::new();
    while start.elapsed() < std::time::Duration::from_secs(30) {
        seen = mcfilter(&a);
        if seen.contains(&wanted) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let prober = prober.finish().ok();
    responder.finish().ok();
    assert!(seen.contains(&wanted), "the prober's own address excluded on va: {seen:?}");
    assert!(mcfilter(&a).is_empty(), "the filter goes with the prober");
    let rows = rows(&prober);
    assert_eq!(rows.len(), 2, "{}", prober.stdout);
    for (who, kind, row) in &rows {
        assert_eq!(who, "10.74.0.2");
        assert_eq!(row.int("from_seq"), 0, "{kind}");
        assert_eq!((row.int("sent"), row.int("received"), row.int("lost"), row.int("duplicates")), (40, 40, 0, 0));
    }
}

/// Topology: as above, with a second responder in `a` itself on va. It answers from the prober's own address,
/// which the prober blocks: its first unicast answer lifts the block (the filter is gone while the prober still
/// runs), and its multicast row counts from the next probe on, losing none. The responder in `b` is unaffected.
#[test]
fn a_responder_on_the_probers_host_lifts_the_block() {
    let (a, b) = linked("pingn", 75);
    let group = "239.75.0.1:4325";
    let args = |iface| ["ping", "--serve", group, "--iface", iface, "--count", "30", "--timeout", "60"];
    let far = Proc::ready(&b, &args("vb"), "answering");
    let near = Proc::ready(&a, &args("va"), "answering");
    let prober = tools_support::run(
        &a,
        &["ping", group, "--iface", "va", "--count", "30", "--interval", "0.02", "--wait", "2", "--json"],
    )
    .ok();
    far.finish().ok();
    near.finish().ok();
    let rows = rows(&prober);
    let kinds: Vec<(&str, &str)> = rows.iter().map(|(r, k, _)| (r.as_str(), k.as_str())).collect();
    assert_eq!(
        kinds,
        [("10.75.0.1", "multicast"), ("10.75.0.1", "unicast"), ("10.75.0.2", "multicast"), ("10.75.0.2", "unicast")]
    );
    for (who, kind, row) in &rows {
        let from = row.int("from_seq");
        if (who.as_str(), kind.as_str()) == ("10.75.0.1", "multicast") {
            assert!((1..30).contains(&from), "{row:?}");
        } else {
            assert_eq!(from, 0, "{who} {kind}");
        }
        assert_eq!((row.int("sent"), row.int("received"), row.int("lost")), (30 - from, 30 - from, 0), "{who} {kind}");
    }
    // Every multicast answer of the near responder from the first counted probe on, each once.
    let replies = prober.json("reply");
    let from = rows[0].2.int("from_seq");
    let mut near: Vec<u64> = replies
        .iter()
        .filter(|r| r.str("responder") == "10.75.0.1" && r.str("kind") == "multicast")
        .map(|r| r.int("seq"))
        .filter(|&s| s >= from)
        .collect();
    near.sort();
    assert_eq!(near, (from..30).collect::<Vec<_>>());
    assert!(mcfilter(&a).is_empty());
}

/// Topology: namespace `b` with two links, vb1 (10.76.1.2) to `a1` and vb2 (10.76.2.2) to `a2`. The responder in
/// `b` joins on vb1 only: it answers the prober in `a1` (and its line per probe gives the probe's TTL, 1 on
/// arrival), and never the prober in `a2`, whose probes reach vb2, an interface it did not join on, though
/// another socket in `b` (a responder on another port) joined the group there, so that vb2 takes the group in.
/// (The responder asks for no arrival interface with IPv4: the kernel matches its membership by interface.)
#[test]
fn a_responder_answers_only_on_the_interface_it_joined() {
    let a1 = Netns::new("pingi1");
    let a2 = Netns::new("pingi2");
    let b = Netns::new("pingib");
    veth(&a1, "va", "10.76.1.1/24", &b, "vb1", "10.76.1.2/24");
    veth(&a2, "va", "10.76.2.1/24", &b, "vb2", "10.76.2.2/24");
    let group = "239.76.0.1:4326";
    let responder = Proc::ready(
        &b,
        &["ping", "--serve", group, "--iface", "vb1", "--count", "5", "--timeout", "60", "--json"],
        "answering",
    );
    let other =
        Proc::ready(&b, &["ping", "--serve", "239.76.0.1:4327", "--iface", "vb2", "--timeout", "60"], "answering");
    let probe = |ns: &Netns| {
        tools_support::run(
            ns,
            &[
                "ping",
                group,
                "--iface",
                "va",
                "--ttl",
                "1",
                "--count",
                "5",
                "--interval",
                "0.05",
                "--wait",
                "1",
                "--json",
            ],
        )
    };
    let far = probe(&a2);
    let near = probe(&a1).ok();
    let served = responder.finish().ok();
    drop(other);
    let probes = served.json("probe");
    assert_eq!(probes.len(), 5, "{}", served.stdout);
    for p in &probes {
        assert_eq!(p.str("from"), "10.76.1.1", "{p:?}");
        assert_eq!(p.int("ttl"), 1, "{p:?}");
    }
    assert_eq!(far.code, Some(1), "no answer through vb2: {}\n{}", far.stdout, far.stderr);
    assert!(far.json("reply").is_empty() && far.json("responder").is_empty(), "{}", far.stdout);
    let rows = rows(&near);
    assert_eq!(rows.len(), 2, "{}", near.stdout);
    for (who, kind, row) in &rows {
        assert_eq!(who, "10.76.1.2");
        assert_eq!((row.int("sent"), row.int("received"), row.int("lost")), (5, 5, 0), "{kind}");
    }
}
