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
    needs_root!();
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
    needs_root!();
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
/// One responder in `b` on vb, one in `a` itself on va (it hears the probes by loopback): four rows, every
/// answer of both heard, the one in `a` answering from the prober's own link-local address.
#[test]
fn two_ipv6_responders_each_get_their_own_rows() {
    needs_root!();
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
    assert!(responders.contains(link_local(&a, "va").as_str()), "{responders:?}");
    for (who, kind, row) in &rows {
        assert!(who.starts_with("fe80::") || who.starts_with("fd00:73::"), "{who}");
        assert_eq!(row.int("sent"), 10, "{who} {kind}");
        assert_eq!((row.int("received"), row.int("lost"), row.int("duplicates")), (10, 0, 0), "{who} {kind}");
        assert!(row.num("rtt_min_ms") > 0.0);
    }
    assert_eq!(prober.one("summary").int("kernel_drops"), 0, "the prober's own probes are not drops");
}

/// The IPv6 link-local address of `dev` in `ns`.
fn link_local(ns: &Netns, dev: &str) -> String {
    let out = tools_support::sh(ns, "ip", &["-6", "-o", "addr", "show", "dev", dev, "scope", "link"]);
    let word = out.split_whitespace().find(|w| w.starts_with("fe80:")).unwrap_or_else(|| panic!("no fe80:: in {out}"));
    word.split('/').next().unwrap().to_string()
}

/// Source filters in `ns` (`/proc/net/mcfilter`): one line per (interface, group, source).
fn mcfilter(ns: &Netns) -> Vec<String> {
    tools_support::sh(ns, "cat", &["/proc/net/mcfilter"]).lines().skip(1).map(str::to_string).collect()
}

/// The drop counts of the UDP sockets bound to `port` in `ns` (`/proc/net/udp`, last column).
fn udp_drops(ns: &Netns, port: u16) -> Vec<u64> {
    let local = format!(":{port:04X}");
    tools_support::sh(ns, "cat", &["/proc/net/udp"])
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.get(1).is_some_and(|a| a.ends_with(&local)))
        .filter_map(|w| w.last().and_then(|d| d.parse().ok()))
        .collect()
}

/// Topology: namespace `a` (10.74.0.1, va) <-veth-> `b` (10.74.0.2, vb). The prober in `a`, a member of the
/// group it probes, keeps a plain membership (no source excluded: `/proc/net/mcfilter` stays empty, so a PIM
/// router forwards the group). Alone in `a`, it has the kernel loop nothing back (no drop on its joined
/// socket); with another member of the group in `a` (`mcast recv`), the loop is on and its socket filter drops
/// each of its own looped-back probes, which the kernel counts as a drop on that socket and the prober takes
/// out of its own count. Every probe is answered both ways either way.
#[test]
fn the_prober_drops_its_own_probes_and_hears_every_answer() {
    needs_root!();
    let (a, b) = linked("pingb", 74);
    let group = "239.74.0.1:4324";
    let responder =
        Proc::ready(&b, &["ping", "--serve", group, "--iface", "vb", "--count", "80", "--timeout", "90"], "answering");
    let probe = || {
        Proc::start(
            &a,
            &["ping", group, "--iface", "va", "--count", "40", "--interval", "0.05", "--wait", "2", "--json"],
        )
    };
    // The socket's drops while it runs, until `enough` of them (or the prober ends), and the source filters.
    let watch = |enough: u64| {
        let start = std::time::Instant::now();
        let (mut seen, mut filters) = (Vec::new(), Vec::new());
        while start.elapsed() < std::time::Duration::from_secs(30) {
            let now = udp_drops(&a, 4324);
            if now.is_empty() && !seen.is_empty() {
                break; // the prober is gone
            }
            filters.extend(mcfilter(&a));
            seen.extend(now);
            if seen.iter().any(|&d| d >= enough) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        (seen, filters)
    };
    let alone = probe();
    let (seen_alone, filters_alone) = watch(u64::MAX);
    let alone = alone.finish().ok();
    assert!(!seen_alone.is_empty() && seen_alone.iter().all(|&d| d == 0), "alone, nothing looped: {seen_alone:?}");

    let member = Proc::ready(&a, &["recv", group, "--iface", "va", "--timeout", "60"], "listening");
    let shared = probe();
    let (seen_shared, filters_shared) = watch(20);
    let shared = shared.finish().ok();
    drop(member);
    responder.finish().ok();
    assert!(seen_shared.iter().any(|&d| d >= 20), "own probes dropped by the filter: {seen_shared:?}");
    assert!(filters_alone.is_empty() && filters_shared.is_empty(), "no source filter: {filters_shared:?}");
    for prober in [&alone, &shared] {
        assert!(prober.json("reply").iter().all(|r| r.str("responder") == "10.74.0.2"));
        assert!(prober.json("refused").is_empty(), "{}", prober.stdout);
        let rows = rows(prober);
        assert_eq!(rows.len(), 2, "{}", prober.stdout);
        for (who, _, row) in &rows {
            assert_eq!(who, "10.74.0.2");
            let counts = (row.int("sent"), row.int("received"), row.int("lost"), row.int("duplicates"));
            assert_eq!(counts, (40, 40, 0, 0));
        }
        assert_eq!(prober.one("summary").int("kernel_drops"), 0, "the prober's own probes are not drops");
    }
}

/// Topology: as above, with a second responder in `a` itself on va. It answers from the prober's own address;
/// the prober hears both of its answers to every probe, as it does the responder's in `b`.
#[test]
fn a_responder_on_the_probers_host_is_heard_both_ways() {
    needs_root!();
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
        assert_eq!((row.int("sent"), row.int("received"), row.int("lost")), (30, 30, 0), "{who} {kind}");
    }
    let mut near: Vec<u64> = prober
        .json("reply")
        .iter()
        .filter(|r| r.str("responder") == "10.75.0.1" && r.str("kind") == "multicast")
        .map(|r| r.int("seq"))
        .collect();
    near.sort();
    assert_eq!(near, (0..30).collect::<Vec<_>>());
}

/// Topology: namespace `b` with two links, vb1 (10.76.1.2) to `a1` and vb2 (10.76.2.2) to `a2`. The responder in
/// `b` joins on vb1 only: it answers the prober in `a1` (and its line per probe gives the probe's TTL, 1 on
/// arrival), and never the prober in `a2`, whose probes reach vb2, an interface it did not join on, though
/// another socket in `b` (a responder on another port) joined the group there, so that vb2 takes the group in.
/// (The responder asks for no arrival interface with IPv4: the kernel matches its membership by interface.)
#[test]
fn a_responder_answers_only_on_the_interface_it_joined() {
    needs_root!();
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
