//! `mcast perf` and iperf 2 on the wire, both ways: `mcast perf --serve` counts an iperf client's stream, and an
//! `iperf -s -u -B GROUP` server counts `mcast perf --iperf`'s. Each way runs clean (exact counts), then with
//! nftables dropping one data datagram in ten at random in the receiving namespace: the receiver's loss is
//! exactly the rule's counter (and the socket's own drops, on a loaded machine). mcast sends one datagram per
//! datagram (sendmmsg, not GSO) and receives without UDP_GRO, so nftables sees each datagram, not a train.
//!
//! Topology: `a` (10.69.0.1, va) <-veth-> `b` (10.69.0.2, vb); the sender in `a`, the receiver in `b`. The
//! nftables rule matches iperf's data datagrams only (the 32 bits at UDP payload offset 12, `id2`, are 0; the
//! final datagram has them all ones), so the run's end always arrives.
mod common;
mod tools_support;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::{veth, Netns};
use tools_support::{sh, Proc};

const SIZE: usize = 1000;

fn link(tag: &str, drop: bool) -> (Netns, Netns) {
    let a = Netns::new(&format!("{tag}a"));
    let b = Netns::new(&format!("{tag}b"));
    veth(&a, "va", "10.69.0.1/24", &b, "vb", "10.69.0.2/24");
    // iperf picks the interface of a group by the route (the server's join, the client's sends).
    a.ip(&["route", "replace", "224.0.0.0/4", "dev", "va"]);
    b.ip(&["route", "replace", "224.0.0.0/4", "dev", "vb"]);
    if drop {
        sh(&b, "nft", &["add", "table", "inet", "impair"]);
        sh(&b, "nft", &["add", "chain", "inet", "impair", "in", "{ type filter hook input priority 0; }"]);
        sh(
            &b,
            "nft",
            &[
                "add",
                "rule",
                "inet",
                "impair",
                "in",
                "udp",
                "dport",
                "5001",
                "@th,160,32",
                "0",
                "numgen",
                "random",
                "mod",
                "10",
                "0",
                "counter",
                "drop",
            ],
        );
    }
    (a, b)
}

fn dropped(b: &Netns) -> u64 {
    tools_support::nft_counter_packets(&sh(b, "nft", &["-j", "list", "ruleset"]))
}

/// UDP datagrams the kernel of `ns` dropped for want of receive buffer (/proc/net/snmp, Udp RcvbufErrors):
/// a receiver busy on a loaded machine loses these too, and counts them as lost.
fn rcvbuf_errors(ns: &Netns) -> u64 {
    let snmp = ns.proc_net("snmp");
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp: "));
    let (names, values) = (udp.next().expect("Udp names"), udp.next().expect("Udp values"));
    let at = names.split_whitespace().position(|n| n == "RcvbufErrors").expect("RcvbufErrors");
    values.split_whitespace().nth(at).and_then(|v| v.parse().ok()).expect("a count")
}

/// The datagrams an iperf client says it wrote ("Write/Err N/0" with -e).
fn iperf_writes(report: &str) -> u64 {
    let header = report.lines().position(|l| l.contains("Write/Err")).unwrap_or_else(|| panic!("{report}"));
    let line = report.lines().skip(header + 1).find(|l| l.contains(" sec ")).expect("a transfer line");
    line.split_whitespace()
        .filter_map(|w| w.split_once('/'))
        .find_map(|(n, e)| Some((n.parse::<u64>().ok()?, e.parse::<u64>().ok()?)))
        .map(|(n, e)| {
            assert_eq!(e, 0, "write errors: {line}");
            n
        })
        .unwrap_or_else(|| panic!("no Write/Err figures in {line}"))
}

/// iperf's server report "Lost/Total Datagrams": `(lost, total)`.
fn iperf_lost_total(report: &str) -> (u64, u64) {
    let line = report
        .lines()
        .rev()
        .find(|l| l.contains(" sec ") && l.contains('%') && l.contains(" ms "))
        .unwrap_or_else(|| panic!("no server report line in:\n{report}"));
    line.split_whitespace()
        .filter_map(|w| w.split_once('/'))
        .find_map(|(l, t)| Some((l.parse::<u64>().ok()?, t.parse::<u64>().ok()?)))
        .unwrap_or_else(|| panic!("no Lost/Total in {line}"))
}

/// iperf client -> mcast perf --serve: the session mcast reports is the client's run, datagram for datagram.
fn iperf_client_to_mcast_serve(drop: bool) {
    let (a, b) = link(if drop { "ipfd" } else { "ipfc" }, drop);
    let n = 500u64;
    let serve = ["perf", "--serve", "239.69.0.1:5001", "-i", "vb", "--idle", "20", "--no-gro", "--json"];
    let rx = Proc::ready(&b, &serve, "receiving");
    let amount = (n * SIZE as u64).to_string();
    let len = SIZE.to_string();
    let client = sh(
        &a,
        "iperf",
        &[
            "-c",
            "239.69.0.1",
            "-p",
            "5001",
            "-u",
            "-T",
            "1",
            "-B",
            "10.69.0.1",
            "-b",
            "2M",
            "-n",
            &amount,
            "-l",
            &len,
            "-e",
        ],
    );
    let writes = iperf_writes(&client);
    let f = rx.finish().ok();
    let s = f.one("session");
    assert_eq!(s.str("source"), "10.69.0.1", "{s:?}");
    assert_eq!(s.int("session"), 0);
    assert_eq!(s.int("expected"), writes, "the final datagram's number, negated, minus one\n{client}");
    let lost = if drop { dropped(&b) } else { 0 } + f.one("summary").int("kernel_drops");
    assert_eq!(s.int("lost"), lost, "{s:?}");
    assert_eq!(s.int("received") + lost, writes);
    assert_eq!((s.int("duplicates"), s.int("reordered")), (0, 0));
    assert!(s.get("ended").and_then(|e| e.as_bool()).unwrap_or(false), "{s:?}");
    if drop {
        assert!(lost > 0, "nothing dropped: the rule did not match iperf's data datagrams");
    }
}

/// mcast perf --iperf -> iperf -s -u -B GROUP: iperf's server counts the run (its total is the final
/// datagram's number: one more than those sent).
fn mcast_iperf_to_iperf_server(drop: bool) {
    let (a, b) = link(if drop { "ipsd" } else { "ipsc" }, drop);
    let g = Ipv4Addr::new(239, 69, 0, 2);
    let server = b
        .command("iperf")
        .args(["-s", "-u", "-B", &g.to_string(), "-p", "5001", "-t", "30"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("iperf (apt-get install iperf)");
    let deadline = Instant::now() + Duration::from_secs(20);
    while b.igmp_users("vb", g) == 0 {
        assert!(Instant::now() < deadline, "iperf -s never joined {g}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let n = 500u64;
    let sent = tools_support::run(
        &a,
        &[
            "perf",
            "239.69.0.2:5001",
            "-i",
            "va",
            "--iperf",
            "-c",
            &n.to_string(),
            "-b",
            "2kpps",
            "-l",
            "1000",
            "--path",
            "sendmmsg",
            "-J",
        ],
    )
    .ok();
    assert_eq!(sent.one("sender").int("sent"), n);
    let out = server.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    let (lost, total) = iperf_lost_total(&report);
    assert_eq!(total, n + 1, "{report}");
    let want = if drop { dropped(&b) } else { 0 } + rcvbuf_errors(&b);
    assert_eq!(lost, want, "nftables dropped {}, the socket buffer {}\n{report}", dropped(&b), rcvbuf_errors(&b));
    if drop {
        assert!(lost > 0, "nothing dropped: the rule did not match the data datagrams");
    }
}

#[test]
fn iperf_client_into_mcast_perf_serve_counts_exactly() {
    needs_root!();
    iperf_client_to_mcast_serve(false);
}

#[test]
fn iperf_client_into_mcast_perf_serve_counts_the_nftables_loss() {
    needs_root!();
    iperf_client_to_mcast_serve(true);
}

#[test]
fn mcast_perf_iperf_into_an_iperf_server_counts_exactly() {
    needs_root!();
    mcast_iperf_to_iperf_server(false);
}

#[test]
fn mcast_perf_iperf_into_an_iperf_server_counts_the_nftables_loss() {
    needs_root!();
    mcast_iperf_to_iperf_server(true);
}
