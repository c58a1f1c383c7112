//! `mcast relay` on a misconfigured or hostile network (`docs/security.md`, rule 6): relays in a loop let one
//! datagram die out, unicast to the relay's host is not laundered into the group, the group from an interface
//! the relay did not join on is refused, the delay queue is bounded, and a group relayed onto itself on the
//! same interface is refused at the start.
mod common;
mod tools_support;

use common::{veth, wait_ipv6, Netns};
use tools_support::{Finished, Proc};

/// Each datagram a `mcast recv --json` printed: (TTL, payload).
fn heard(f: &Finished) -> Vec<(u64, String)> {
    f.json("datagram").iter().map(|d| (d.int("ttl"), d.str("payload"))).collect()
}

/// A relay's summary: (received, sent, refused by reason: wrong_group, hops_exhausted, duplicate, queue_full).
fn summary(f: &Finished) -> (u64, u64, [u64; 4]) {
    let s = f.one("summary");
    let r = s.get("refused").unwrap_or_else(|| panic!("no refusals in {}", s.0));
    let n = |k: &str| r.get(k).and_then(|v| v.as_u64()).unwrap_or_else(|| panic!("no {k} in {r}"));
    (s.int("received"), s.int("sent"), [n("wrong_group"), n("hops_exhausted"), n("duplicate"), n("queue_full")])
}

fn relay(ns: &Netns, args: &[&str]) -> Proc {
    Proc::ready(ns, &[&["relay"], args, &["--json"]].concat(), "mcast relay:")
}

fn recv(ns: &Netns, args: &[&str]) -> Proc {
    Proc::ready(ns, &[&["recv"], args, &["--json"]].concat(), "listening")
}

/// Topology: one namespace, loopback. Relay A forwards G1 to G2 and relay B forwards G2 back to G1, both
/// with loop on (each hears the other). One datagram is sent to G1 with TTL 8.
///
/// With digests (the default), A refuses the copy B brings back: G1 hears it twice (the original, B's
/// copy with TTL 6), G2 once (TTL 7). With none (`--dedup 0`), only the hop budget ends the loop: the
/// copies carry TTL 8 down to 1, eight in all, and B refuses the one that arrives with TTL 1. Either way
/// both relays then hear nothing for their idle timeout and end by themselves.
#[test]
fn two_relays_in_a_loop_let_one_datagram_die_out() {
    needs_root!();
    for (dedup, g1_ttls, g2_ttls) in [("500", vec![8, 6], vec![7]), ("0", vec![8, 6, 4, 2], vec![7, 5, 3, 1])] {
        let ns = Netns::new("rloop");
        let (g1, g2) = ("239.84.0.1:6400", "239.84.0.2:6400");
        let a = relay(&ns, &[g1, g2, "--dedup", dedup, "--timeout", "4"]);
        let b = relay(&ns, &[g2, g1, "--dedup", dedup, "--timeout", "4"]);
        let rx1 = recv(&ns, &[g1, "--timeout", "8"]);
        let rx2 = recv(&ns, &[g2, "--timeout", "8"]);
        tools_support::run(&ns, &["send", g1, "--ttl", "8", "round and round"]).ok();
        let (a, b) = (a.finish().ok(), b.finish().ok());
        // The relay that refuses a datagram with no hop left says once why.
        let hint = "for its own link only (TTL 1 or less)";
        assert_eq!(b.stderr.matches(hint).count(), usize::from(dedup == "0"), "{}", b.stderr);
        let (a, b) = (summary(&a), summary(&b));
        let (h1, h2) = (heard(&rx1.finish().ok()), heard(&rx2.finish().ok()));
        assert!(h1.iter().chain(&h2).all(|(_, p)| p == "round and round"), "{h1:?} {h2:?}");
        assert_eq!(h1.iter().map(|h| h.0).collect::<Vec<_>>(), g1_ttls, "copies on G1, dedup {dedup}");
        assert_eq!(h2.iter().map(|h| h.0).collect::<Vec<_>>(), g2_ttls, "copies on G2, dedup {dedup}");
        let n = g2_ttls.len() as u64;
        if dedup == "0" {
            assert_eq!(a, (n, n, [0, 0, 0, 0]), "relay A");
            assert_eq!(b, (n, n - 1, [0, 1, 0, 0]), "relay B");
        } else {
            assert_eq!(a, (2, 1, [0, 0, 1, 0]), "relay A");
            assert_eq!(b, (1, 1, [0, 0, 0, 0]), "relay B");
        }
    }
}

/// Topology: links L (`l0` 10.85.1.1 in namespace `l` <-> `rl` 10.85.1.2 in `r`) and M (`m0` 10.85.2.1 in
/// `m` <-> `rm` 10.85.2.2 in `r`). Two relays of one group G bridge them in `r`: A from `rl` out of `rm`,
/// B from `rm` out of `rl`; with loop on, each hears the other's copies. One datagram is sent on L with
/// TTL 8: M hears A's copy (TTL 7), L hears the original and B's copy (TTL 6), and A refuses B's copy
/// as one it forwarded already. With `--dedup 0` the hop budget ends it: eight copies in all.
#[test]
fn two_relays_of_one_group_bridging_two_links_let_one_datagram_die_out() {
    needs_root!();
    for (dedup, l_ttls, m_ttls) in [("500", vec![8, 6], vec![7]), ("0", vec![8, 6, 4, 2], vec![7, 5, 3, 1])] {
        let (l, r, m) = (Netns::new("rbl"), Netns::new("rbr"), Netns::new("rbm"));
        veth(&l, "l0", "10.85.1.1/24", &r, "rl", "10.85.1.2/24");
        veth(&m, "m0", "10.85.2.1/24", &r, "rm", "10.85.2.2/24");
        let g = "239.85.0.1:6500";
        let a = relay(&r, &[g, g, "--in-iface", "rl", "--out-iface", "rm", "--dedup", dedup, "--timeout", "4"]);
        let b = relay(&r, &[g, g, "--in-iface", "rm", "--out-iface", "rl", "--dedup", dedup, "--timeout", "4"]);
        let rx_l = recv(&l, &[g, "--iface", "l0", "--timeout", "8"]);
        let rx_m = recv(&m, &[g, "--iface", "m0", "--timeout", "8"]);
        tools_support::run(&l, &["send", g, "--iface", "l0", "--ttl", "8", "bridged"]).ok();
        let (a, b) = (summary(&a.finish().ok()), summary(&b.finish().ok()));
        let (hl, hm) = (heard(&rx_l.finish().ok()), heard(&rx_m.finish().ok()));
        assert!(hl.iter().chain(&hm).all(|(_, p)| p == "bridged"), "{hl:?} {hm:?}");
        assert_eq!(hl.iter().map(|h| h.0).collect::<Vec<_>>(), l_ttls, "copies on L, dedup {dedup}");
        assert_eq!(hm.iter().map(|h| h.0).collect::<Vec<_>>(), m_ttls, "copies on M, dedup {dedup}");
        let n = m_ttls.len() as u64;
        if dedup == "0" {
            assert_eq!(a, (n, n, [0, 0, 0, 0]), "relay A");
            assert_eq!(b, (n, n - 1, [0, 1, 0, 0]), "relay B");
        } else {
            assert_eq!(a, (2, 1, [0, 0, 1, 0]), "relay A");
            assert_eq!(b, (1, 1, [0, 0, 0, 0]), "relay B");
        }
    }
}

/// Topology: `c` (c1 10.86.1.1) <-veth-> `r` (r1 10.86.1.2). The relay in `r` forwards 239.86.0.1:6600 from
/// r1 to 239.86.0.2:6601 on loopback, where a receiver listens. `c` sends one unicast datagram to
/// 10.86.1.2:6600 (the relay's port, on its host's address), then one to the group with TTL 2: only the
/// second is relayed; the first is refused as wrong_group.
#[test]
fn unicast_to_the_relays_host_is_not_relayed() {
    needs_root!();
    let (c, r) = (Netns::new("runic"), Netns::new("runir"));
    veth(&c, "c1", "10.86.1.1/24", &r, "r1", "10.86.1.2/24");
    let relay =
        relay(&r, &["239.86.0.1:6600", "239.86.0.2:6601", "--in-iface", "r1", "--count", "2", "--timeout", "30"]);
    let rx = recv(&r, &["239.86.0.2:6601", "--timeout", "6"]);
    c.run(|| {
        let s = std::net::UdpSocket::bind("10.86.1.1:0").expect("bind in c");
        s.send_to(b"unicast, not for the group", "10.86.1.2:6600").expect("send unicast");
    });
    tools_support::run(&c, &["send", "239.86.0.1:6600", "--iface", "c1", "--ttl", "2", "for the group"]).ok();
    let s = summary(&relay.finish().ok());
    assert_eq!(s, (2, 1, [1, 0, 0, 0]));
    let h = heard(&rx.finish().ok());
    assert_eq!(h, [(1, "for the group".to_string())]);
}

/// Topology: `c` (c1) <-veth-> `r` (r1, r2) <-veth-> `d` (d1), IPv6. The relay in `r` forwards
/// [ff15::86:1]:6610 from r1 only, to 239.86.0.3:6611 on loopback. Another receiver in `r` joins the group
/// on r2, so the kernel (which matches IPv6 memberships by group alone) hands the relay's socket the group
/// from r2 as well. `d` sends the group from d1, then `c` from c1 (hop limit 2 both): only `c`'s is relayed,
/// `d`'s is refused as wrong_group.
#[test]
fn the_group_from_another_interface_is_not_relayed() {
    needs_root!();
    let (c, r, d) = (Netns::new("rifc"), Netns::new("rifr"), Netns::new("rifd"));
    veth(&c, "c1", "fd86:1::1/64", &r, "r1", "fd86:1::2/64");
    veth(&d, "d1", "fd86:2::1/64", &r, "r2", "fd86:2::2/64");
    for (ns, i) in [(&c, "c1"), (&r, "r1"), (&r, "r2"), (&d, "d1")] {
        wait_ipv6(ns, i);
    }
    let g = "[ff15::86:1]:6610";
    let relay = relay(&r, &[g, "239.86.0.3:6611", "--in-iface", "r1", "--count", "2", "--timeout", "30"]);
    let other = recv(&r, &[g, "--iface", "r2", "--timeout", "6"]);
    let rx = recv(&r, &["239.86.0.3:6611", "--timeout", "6"]);
    tools_support::run(&d, &["send", g, "--iface", "d1", "--ttl", "2", "from d"]).ok();
    tools_support::run(&c, &["send", g, "--iface", "c1", "--ttl", "2", "from c"]).ok();
    let s = summary(&relay.finish().ok());
    assert_eq!(s, (2, 1, [1, 0, 0, 0]));
    assert_eq!(heard(&rx.finish().ok()), [(1, "from c".to_string())]);
    assert_eq!(heard(&other.finish().ok()), [(2, "from d".to_string())]);
}

/// Topology: one namespace, loopback. The relay delays every datagram 10 s with room for 5; a burst of 20
/// arrives, the relay stops after the 20th and sends what it queued: exactly 5 reach the receiver, the
/// other 15 are refused as queue_full.
#[test]
fn the_delay_queue_is_bounded() {
    needs_root!();
    let ns = Netns::new("rqueue");
    let relay = relay(
        &ns,
        &["239.87.0.1:6700", "239.87.0.2:6701", "--delay", "10000", "--queue", "5", "--count", "20", "--timeout", "30"],
    );
    let rx = recv(&ns, &["239.87.0.2:6701", "--timeout", "8"]);
    tools_support::run(&ns, &["send", "239.87.0.1:6700", "--ttl", "2", "--count", "20", "--size", "40", "-q"]).ok();
    assert_eq!(summary(&relay.finish().ok()), (20, 5, [0, 0, 0, 15]));
    let h = heard(&rx.finish().ok());
    assert_eq!(h.len(), 5, "{h:?}");
    // The first five, in order ("mcast #SEQ " and filler, SEQ from 1).
    for (i, (ttl, p)) in h.iter().enumerate() {
        assert_eq!(*ttl, 1);
        assert!(p.starts_with(&format!("mcast #{} ", i + 1)), "{p:?}");
    }
}

/// A group relayed onto itself on the same interface (both left to the routing table, or both named) is
/// refused before anything is joined, with exit status 2; another port is fine.
#[test]
fn a_group_relayed_onto_itself_is_refused_at_the_start() {
    needs_root!();
    let ns = Netns::new("rself");
    let g = "239.88.0.1:6800";
    for extra in [&[][..], &["--in-iface", "lo", "--out-iface", "lo"], &["--in-iface", "lo"], &["--out-iface", "lo"]] {
        let f = tools_support::run(&ns, &[&["relay", g, g], extra].concat());
        assert_eq!(f.code, Some(2), "{extra:?}: {f:?}");
        assert!(f.stderr.contains("onto itself"), "{extra:?}: {}", f.stderr);
    }
    let f = tools_support::run(&ns, &["relay", g, "239.88.0.1:6801", "--time", "0.2", "--json", "-q"]).ok();
    assert_eq!(f.one("summary").int("received"), 0);
}

/// The new options refuse values out of range with exit status 2, before anything is joined.
#[test]
fn queue_and_dedup_options_are_checked() {
    needs_root!();
    let ns = Netns::new("ropts");
    let (g1, g2) = ("239.89.0.1:6900", "239.89.0.2:6900");
    for (opt, value) in
        [("--queue", "0"), ("--queue", "x"), ("--queue-bytes", "0"), ("--dedup", "-1"), ("--dedup", "1e9")]
    {
        let f = tools_support::run(&ns, &["relay", g1, g2, opt, value]);
        assert_eq!(f.code, Some(2), "{opt} {value}: {f:?}");
        assert!(f.stderr.contains(opt), "{opt} {value}: {}", f.stderr);
    }
}

/// Topology: `a` (10.79.0.1, va) <-veth-> `r` (10.79.0.2, vr). A relay in `r` forwards 239.79.0.1 from vr to
/// 239.79.0.2 out of `r`'s loopback. From `a`, 100,000 datagrams with distinct payloads (so each is a new
/// key of the relay's copy-digest table) arrive with TTL 8. The relay refuses none of them as a copy,
/// forwards each it received with TTL 7, and its peak resident memory grows by at most 64 MiB over what it
/// had when it started.
#[test]
fn a_flood_of_distinct_datagrams_leaves_the_relay_bounded() {
    needs_root!();
    use common::cli::{json, the_summary, Running};
    use common::status_kib;
    use mcast::{Group, IfaceSpec, Sender};
    use std::time::Duration;

    const FLOOD: u32 = 100_000;
    let a = Netns::new("rflooda");
    let r = Netns::new("rfloodr");
    veth(&a, "va", "10.79.0.1/24", &r, "vr", "10.79.0.2/24");
    let args = ["relay", "239.79.0.1:6500", "239.79.0.2:6500", "--in-iface", "vr", "--out-iface", "lo"];
    let relay =
        Running::start_within(&r, &[&args[..], &["--timeout", "3", "--json"]].concat(), Duration::from_secs(120));
    relay.wait_until("relaying", || relay.stderr().iter().any(|l| l.starts_with("mcast relay:")));
    let pid = relay.child.id();
    let before = status_kib(pid, "VmRSS:").expect("the relay's VmRSS");
    a.run(|| {
        let g: Group = "239.79.0.1:6500".parse().unwrap();
        let s = Sender::builder(g).ttl(8).interface(IfaceSpec::Name("va".into())).build().unwrap();
        for i in 0..FLOOD {
            s.send(format!("datagram {i:06}").as_bytes()).unwrap();
            // A breath now and then, so the relay keeps up and its queue does not overflow.
            if i % 500 == 499 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    });
    let peak = status_kib(pid, "VmHWM:").expect("the relay's VmHWM");
    let (status, out, err) = relay.finish();
    assert!(status.success(), "{err:?}");
    let summary = the_summary(&json(&out)).clone();
    let received = summary["received"].as_u64().expect("received");
    assert!(received > u64::from(FLOOD) / 2, "the flood reached the relay: {summary}");
    assert_eq!(summary["sent"].as_u64(), Some(received), "each distinct datagram forwarded once: {summary}");
    assert_eq!(summary["refused"]["duplicate"].as_u64(), Some(0), "{summary}");
    let growth = peak.saturating_sub(before);
    eprintln!("relay: VmRSS {before} KiB at the start, peak {peak} KiB after {received} distinct datagrams");
    assert!(growth <= 64 * 1024, "resident memory grew by {growth} KiB under {FLOOD} distinct datagrams");
}
