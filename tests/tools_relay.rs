//! `mcast relay`: what it forwards arrives, across families; what it impairs, receivers count exactly as the
//! relay reports (loss = dropped, duplicates = duplicated, reordered = reordered).
mod common;
mod tools_support;

use common::{veth, veth_pair_in, Netns};
use tools_support::{Finished, Proc};

fn relay_counts(f: &Finished) -> (u64, u64, u64, u64, u64) {
    let s = f.one("summary");
    (s.int("received"), s.int("dropped"), s.int("duplicated"), s.int("reordered"), s.int("sent"))
}

/// Topology: one namespace, loopback. perf sends 4000 datagrams to 239.81.0.1 with TTL 2 (a relay forwards
/// only what has a hop left); the relay forwards them to 239.81.0.2, dropping, duplicating and holding back
/// 5 % each (seed 7) and stopping after 4000; a perf receiver on 239.81.0.2 expects 4000.
#[test]
fn perf_through_an_impairing_relay_counts_what_the_relay_did() {
    needs_root!();
    let ns = Netns::new("relayp");
    let relay = Proc::ready(
        &ns,
        &[
            "relay",
            "239.81.0.1:6001",
            "239.81.0.2:6002",
            "--drop",
            "5%",
            "--duplicate",
            "0.05",
            "--reorder",
            "5%",
            "--seed",
            "7",
            "--count",
            "4000",
            "--timeout",
            "60",
            "--json",
        ],
        "relay",
    );
    let rx = Proc::ready(
        &ns,
        &["perf", "--serve", "239.81.0.2:6002", "--count", "4000", "--timeout", "3", "--json"],
        "receiving",
    );
    tools_support::run(
        &ns,
        &["perf", "239.81.0.1:6001", "--ttl", "2", "--rate", "10kpps", "--count", "4000", "--size", "100", "--json"],
    )
    .ok();
    let (received, dropped, duplicated, reordered, sent) = relay_counts(&relay.finish().ok());
    assert_eq!(received, 4000);
    assert_eq!(sent, received - dropped + duplicated);
    assert!(dropped > 0 && duplicated > 0 && reordered > 0, "seed 7 impairs all three ways");
    let f = rx.finish().ok();
    let s = f.one("session");
    assert_eq!(s.int("expected"), 4000);
    assert_eq!(s.int("lost"), dropped);
    assert_eq!(s.int("received"), 4000 - dropped);
    assert_eq!(s.int("duplicates"), duplicated);
    assert_eq!(s.int("reordered"), reordered);
    assert_eq!(f.one("summary").int("kernel_drops"), 0);
}

/// Topology: prober `c` (10.82.1.1, c1) <-veth-> relays `r` (10.82.1.2 r1 | 10.82.2.2 r2) <-veth-> responder `s`
/// (10.82.2.1, s1). Probes to 239.82.0.1 on r1 are relayed to 239.82.0.2 out of r2, impaired (20 % each,
/// seed 3); the responder's answers to 239.82.0.2 come back through a second, faithful relay to 239.82.0.1
/// out of r1. Both relays send with loopback off, so neither hears the other. Prober and responder send
/// with TTL 2, so each datagram has a hop left for the relay, which sends it on with TTL 1. The answers to a
/// duplicated probe are the same bytes, which the second relay would take for a copy come back round a loop:
/// it keeps no digests (`--dedup 0`; no loop is possible here). The prober's multicast row counts exactly the
/// probes the first relay dropped, duplicated and reordered.
#[test]
fn ping_through_an_impairing_relay_counts_what_the_relay_did() {
    needs_root!();
    let c = Netns::new("relayc");
    let r = Netns::new("relayr");
    let s = Netns::new("relays");
    veth(&c, "c1", "10.82.1.1/24", &r, "r1", "10.82.1.2/24");
    veth(&s, "s1", "10.82.2.1/24", &r, "r2", "10.82.2.2/24");
    let (g1, g2) = ("239.82.0.1:7001", "239.82.0.2:7001");
    let forth = Proc::ready(
        &r,
        &[
            "relay",
            g1,
            g2,
            "--in-iface",
            "r1",
            "--out-iface",
            "r2",
            "--ttl",
            "1",
            "--no-loop",
            "--drop",
            "20%",
            "--duplicate",
            "20%",
            "--reorder",
            "20%",
            "--seed",
            "3",
            "--count",
            "40",
            "--timeout",
            "60",
            "--json",
        ],
        "relay",
    );
    let back = Proc::ready(
        &r,
        &[
            "relay",
            g2,
            g1,
            "--in-iface",
            "r2",
            "--out-iface",
            "r1",
            "--ttl",
            "1",
            "--no-loop",
            "--dedup",
            "0",
            "--timeout",
            "4",
            "--json",
        ],
        "relay",
    );
    let responder =
        Proc::ready(&s, &["ping", "--serve", g2, "--iface", "s1", "--ttl", "2", "--timeout", "60"], "answering");
    let prober = tools_support::run(
        &c,
        &[
            "ping",
            g1,
            "--iface",
            "c1",
            "--ttl",
            "2",
            "--count",
            "40",
            "--interval",
            "0.03",
            "--wait",
            "2",
            "--json",
            "-q",
        ],
    )
    .ok();
    drop(responder);
    let (received, dropped, duplicated, reordered, _) = relay_counts(&forth.finish().ok());
    let (_, back_dropped, _, _, back_sent) = relay_counts(&back.finish().ok());
    assert_eq!(received, 40);
    assert!(dropped > 0 && duplicated > 0 && reordered > 0, "seed 3 impairs all three ways");
    assert_eq!(back_dropped, 0);
    assert_eq!(back_sent, 40 - dropped + duplicated, "every answer came back through the second relay");
    let rows = prober.json("responder");
    let mrow = rows.iter().find(|o| o.str("kind") == "multicast").expect("a multicast row");
    assert_eq!(mrow.str("responder"), "10.82.1.2", "answers arrive from the relay");
    assert_eq!(mrow.int("sent"), 40);
    assert_eq!(mrow.int("lost"), dropped);
    assert_eq!(mrow.int("received"), 40 - dropped);
    assert_eq!(mrow.int("duplicates"), duplicated);
    assert_eq!(mrow.int("reordered"), reordered);
}

/// Topology: one namespace with loopback and a veth pair va/vb. IPv4 239.83.0.1 on loopback (sent with TTL 3)
/// is relayed to IPv6 ff02::83:1 out of va (hop limit 2, so it crosses to vb with a hop left), and that group
/// is relayed back to IPv4 239.83.0.2 on loopback (TTL 1). 500 datagrams go in; all 500 arrive at receivers
/// of both.
#[test]
fn relay_carries_ipv4_to_ipv6_and_back() {
    needs_root!();
    let ns = Netns::new("relay46");
    veth_pair_in(&ns, "va", "vb");
    let v6 = "[ff02::83:1]:6300";
    let to6 = Proc::ready(
        &ns,
        &[
            "relay",
            "239.83.0.1:6300",
            v6,
            "--out-iface",
            "va",
            "--ttl",
            "2",
            "--count",
            "500",
            "--timeout",
            "60",
            "--json",
        ],
        "relay",
    );
    let to4 = Proc::ready(
        &ns,
        &["relay", v6, "239.83.0.2:6301", "--in-iface", "vb", "--count", "500", "--timeout", "60", "--json"],
        "relay",
    );
    let rx6 = Proc::ready(
        &ns,
        &["perf", "--serve", v6, "--iface", "vb", "--count", "500", "--timeout", "30", "--json"],
        "receiving",
    );
    let rx4 = Proc::ready(
        &ns,
        &["perf", "--serve", "239.83.0.2:6301", "--count", "500", "--timeout", "30", "--json"],
        "receiving",
    );
    tools_support::run(
        &ns,
        &["perf", "239.83.0.1:6300", "--ttl", "3", "--rate", "5kpps", "--count", "500", "--size", "300", "--json"],
    )
    .ok();
    for relay in [to6, to4] {
        let (received, dropped, duplicated, reordered, sent) = relay_counts(&relay.finish().ok());
        assert_eq!((received, dropped, duplicated, reordered, sent), (500, 0, 0, 0, 500));
    }
    for rx in [rx6, rx4] {
        let f = rx.finish().ok();
        let s = f.one("session");
        assert_eq!((s.int("received"), s.int("lost"), s.int("duplicates"), s.int("reordered")), (500, 0, 0, 0));
        assert_eq!(s.int("bytes"), 500 * 300);
    }
}
