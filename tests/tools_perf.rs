//! `mcast perf` between namespaces: at a paced rate well below capacity every datagram arrives, at every
//! receiver; with nftables dropping one in ten at random, the receiver's loss is what nftables dropped.
mod common;
mod tools_support;

use common::cli::{json, the_summary, Running};
use common::{veth, Netns};
use tools_support::{sh, Finished, Proc};

fn session(f: &Finished) -> tools_support::Obj {
    f.one("session")
}

/// Topology: `a` (10.74.0.1, va) <-veth-> `b` (10.74.0.2, vb). Two receivers in `b`, both joined on vb; the
/// sender in `a` sends 20000 datagrams of 1000 bytes at 20000/s (160 Mbit/s, a fraction of what a veth
/// carries). Each receiver reports all 20000, none lost, duplicated or reordered, no kernel drops.
#[test]
fn paced_perf_below_capacity_loses_nothing_at_every_receiver() {
    needs_root!();
    let a = Netns::new("perfa");
    let b = Netns::new("perfb");
    veth(&a, "va", "10.74.0.1/24", &b, "vb", "10.74.0.2/24");
    let group = "239.74.0.1:5001";
    let serve = ["perf", "--serve", group, "--iface", "vb", "--count", "20000", "--timeout", "30", "--json"];
    let rx1 = Proc::ready(&b, &serve, "receiving");
    let rx2 = Proc::ready(&b, &serve, "receiving");
    let sent = tools_support::run(
        &a,
        &[
            "perf", group, "--iface", "va", "--ttl", "1", "--rate", "20kpps", "--count", "20000", "--size", "1000",
            "--json",
        ],
    )
    .ok();
    let s = sent.one("sender");
    assert_eq!(s.int("sent"), 20000);
    assert_eq!(s.int("bytes"), 20_000_000);
    for rx in [rx1, rx2] {
        let f = rx.finish().ok();
        let sess = session(&f);
        assert_eq!(sess.int("session"), s.int("session"));
        assert_eq!(sess.str("source"), "10.74.0.1", "{sess:?}");
        assert_eq!((sess.int("received"), sess.int("expected")), (20000, 20000));
        assert_eq!((sess.int("lost"), sess.int("duplicates"), sess.int("reordered")), (0, 0, 0));
        assert_eq!(sess.int("bytes"), 20_000_000);
        let sum = f.one("summary");
        assert_eq!(sum.int("received"), 20000);
        assert_eq!(sum.int("kernel_drops"), 0);
    }
}

/// Topology: `a` (fd00:75::1, va) <-veth-> `b` (fd00:75::2, vb), group ff05::75:1 (site scope). 5000 datagrams
/// at 10000/s, sent with UDP GSO where the kernel takes it; the receiver gets every one.
#[test]
fn paced_perf_over_ipv6_counts_every_datagram() {
    needs_root!();
    let a = Netns::new("perf6a");
    let b = Netns::new("perf6b");
    veth(&a, "va", "fd00:75::1/64", &b, "vb", "fd00:75::2/64");
    common::wait_ipv6(&a, "va");
    common::wait_ipv6(&b, "vb");
    let group = "[ff05::75:1]:5002";
    let rx = Proc::ready(&b, &["perf", "--serve", group, "--iface", "vb", "--timeout", "30", "--json"], "receiving");
    let sent = tools_support::run(
        &a,
        &["perf", group, "--iface", "va", "--rate", "10kpps", "--count", "5000", "--size", "200", "--json", "-q"],
    )
    .ok();
    assert_eq!(sent.one("sender").int("sent"), 5000);
    let f = rx.finish().ok();
    let sess = session(&f);
    // This receiver was given no count: it learnt the total from the sender's end marker.
    assert_eq!(sess.get("ended"), Some(&serde_json::Value::Bool(true)));
    assert_eq!((sess.int("received"), sess.int("expected"), sess.int("lost")), (5000, 5000, 0));
    assert_eq!((sess.int("duplicates"), sess.int("reordered")), (0, 0));
}

/// Topology: `a` (10.76.0.1, va) <-veth-> `b` (10.76.0.2, vb); in `b` an nftables input rule drops one in ten
/// data datagrams at random (`numgen random mod 10 0`, matched on the data's UDP length so the end markers
/// pass) and counts what it drops. 10000 datagrams, sent one per datagram (sendmmsg) and received without
/// UDP_GRO, so that nftables sees each one rather than a coalesced train. The receiver's loss must equal the rule's counter exactly, and lie within 10 % +- 3 %
/// (the binomial standard deviation is 0.3 %: this bound is ten of them).
#[test]
fn perf_with_nftables_random_drop_reports_that_loss() {
    needs_root!();
    let a = Netns::new("perfna");
    let b = Netns::new("perfnb");
    veth(&a, "va", "10.76.0.1/24", &b, "vb", "10.76.0.2/24");
    sh(&b, "nft", &["add", "table", "inet", "impair"]);
    sh(&b, "nft", &["add", "chain", "inet", "impair", "in", "{ type filter hook input priority 0; }"]);
    // UDP length 208 = 8 bytes of UDP header + 200 bytes of datagram.
    sh(
        &b,
        "nft",
        &[
            "add", "rule", "inet", "impair", "in", "udp", "dport", "5003", "udp", "length", "208", "numgen", "random",
            "mod", "10", "0", "counter", "drop",
        ],
    );
    let group = "239.76.0.1:5003";
    let rx = Proc::ready(
        &b,
        &["perf", "--serve", group, "--iface", "vb", "--count", "10000", "--timeout", "3", "--no-gro", "--json"],
        "receiving",
    );
    let sent = tools_support::run(
        &a,
        &[
            "perf", group, "--iface", "va", "--rate", "10kpps", "--count", "10000", "--size", "200", "--path",
            "sendmmsg", "--json", "-q",
        ],
    )
    .ok();
    assert_eq!(sent.one("sender").int("sent"), 10000);
    assert_eq!(sent.one("sender").str("path"), "sendmmsg");
    let f = rx.finish().ok();
    let sess = session(&f);
    let ruleset = sh(&b, "nft", &["-j", "list", "ruleset"]);
    let dropped = tools_support::nft_counter_packets(&ruleset);
    assert_eq!(sess.int("expected"), 10000);
    let socket_drops = f.one("summary").int("kernel_drops");
    let links = sh(&b, "ip", &["-s", "link", "show", "vb"]) + &sh(&a, "ip", &["-s", "link", "show", "va"]);
    assert_eq!(
        sess.int("lost"),
        dropped,
        "receiver's loss vs the nftables counter; socket drops {socket_drops}; links:\n{links}\nsoftnet:\n{}",
        std::fs::read_to_string("/proc/net/softnet_stat").unwrap_or_default()
    );
    assert_eq!(sess.int("received") + dropped, 10000);
    let pct = sess.num("loss_pct");
    assert!((7.0..=13.0).contains(&pct), "loss {pct} % is outside 10 % +- 3 %");
    assert_eq!((sess.int("duplicates"), sess.int("reordered")), (0, 0));
    assert_eq!(f.one("summary").int("kernel_drops"), 0);
}

/// Topology: `a` (10.77.0.1, va) <-veth-> `b` (10.77.0.2, vb). The receiver sleeps in the kernel between
/// datagrams (a blocking read with a timeout): one that has heard nothing stops at SIGINT with exit status
/// 130 and a summary of nothing; another, left waiting a while, wakes for a run of 300 datagrams from `a`,
/// counts all of them from `a`'s address, and ends by itself at the run's end marker.
#[test]
fn a_waiting_perf_receiver_stops_at_sigint_and_wakes_for_datagrams() {
    needs_root!();
    let a = Netns::new("perfwa");
    let b = Netns::new("perfwb");
    veth(&a, "va", "10.77.0.1/24", &b, "vb", "10.77.0.2/24");
    let patience = std::time::Duration::from_secs(20);
    let idle = Running::start_within(&b, &["perf", "--serve", "239.77.0.1:5004", "--iface", "vb", "--json"], patience);
    idle.wait_until("the receiver to listen", || idle.stderr().iter().any(|l| l.contains("receiving")));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = idle.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().expect("kill(1)").success());
    let (status, out, err) = idle.finish();
    assert_eq!(status.code(), Some(130), "{err:?}");
    let summary = the_summary(&json(&out)).clone();
    assert_eq!((summary["received"].as_u64(), summary["sessions"].as_u64()), (Some(0), Some(0)), "{summary}");

    let group = "239.77.0.2:5005";
    let rx = Proc::ready(&b, &["perf", "--serve", group, "--iface", "vb", "--json"], "receiving");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let sent =
        tools_support::run(&a, &["perf", group, "--iface", "va", "--rate", "3kpps", "--count", "300", "--json", "-q"])
            .ok();
    let f = rx.finish().ok();
    let sess = session(&f);
    assert_eq!(sess.int("session"), sent.one("sender").int("session"));
    assert_eq!(sess.str("source"), "10.77.0.1", "{sess:?}");
    assert_eq!((sess.int("received"), sess.int("expected"), sess.int("lost")), (300, 300, 0), "{sess:?}");
    assert_eq!(f.one("summary").int("received"), 300);
}
