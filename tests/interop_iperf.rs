//! Interop with iperf2, the tool most people already test multicast with.
//!
//! Topology ([`Link`]):
//!
//! ```text
//!   a: va 10.0.0.1/24  <-- veth -->  b: vb 10.0.0.2/24
//! ```
//!
//! iperf2's UDP datagrams start with a 32-bit sequence number (big-endian) and a timestamp. A client sends
//! numbers 1, 2, ... N, then, for a multicast group, exactly one final datagram numbered -(N+1) (it
//! cannot wait for a server's acknowledgement, as it does for unicast) and reports N writes
//! ("Write/Err N/0" with -e). Its multicast interface is chosen by binding the source address (-B):
//! Linux sends a multicast datagram from a bound source out of the interface that has that address.

mod common;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use common::routed::peer::{wait_joined, Peer, Scratch};
use common::routed::MCAST;
use common::traffic::{Link, A4};
use serde_json::Value;

const SIZE: usize = 300;

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

/// The number of datagrams an iperf2 client reports it wrote, from `-e` output: "... Write/Err N/0 ...".
fn iperf_writes(report: &str) -> u64 {
    let header =
        report.lines().position(|l| l.contains("Write/Err")).unwrap_or_else(|| panic!("no Write/Err: {report}"));
    let line = report.lines().skip(header + 1).find(|l| l.contains(" sec ")).expect("a transfer line");
    let (writes, errors) = line
        .split_whitespace()
        .filter_map(|w| w.split_once('/'))
        .find_map(|(n, e)| Some((n.parse::<u64>().ok()?, e.parse::<u64>().ok()?)))
        .unwrap_or_else(|| panic!("no WRITES/ERRORS in {line}"));
    assert_eq!(errors, 0, "iperf write errors: {line}");
    writes
}

/// `iperf -c GROUP -u -T 1` in a sends 200 datagrams of 300 bytes at 400 kbit/s (slow enough for a debug
/// receiver on a loaded machine to keep up with its default buffer); `mcast recv --json` in b gets each of
/// them exactly once (sequence numbers 1..=200, every one 300 bytes from 10.0.0.1 with TTL 1) and the
/// single final datagram, -201, and nothing else: as many as iperf reports it wrote, plus one.
#[test]
fn iperf2_client_to_mcast_recv_counts_exactly_what_iperf_sent() {
    needs_root!();
    let link = Link::new("ipc");
    let dir = Scratch::new("ipc");
    let g = Ipv4Addr::new(239, 7, 7, 1);
    let n = 200u64;
    let target = format!("{g}:5001");
    let args = ["recv", &target, "--iface", "vb", "--json", "--timeout", "60"];
    let mut rx = Peer::start(&link.b, &dir, "mcast recv", MCAST, &args);
    rx.wait_stderr("listening on port");

    let amount = (n * SIZE as u64).to_string();
    let (len, bind) = (SIZE.to_string(), A4.to_string());
    let group = g.to_string();
    let args =
        ["-c", &group, "-p", "5001", "-u", "-T", "1", "-B", &bind, "-b", "400K", "-n", &amount, "-l", &len, "-e"];
    let mut client = Peer::start(&link.a, &dir, "iperf client", "iperf", &args);
    let status = client.wait();
    assert!(status.success(), "iperf client: {status}\n{}", client.report());
    let writes = iperf_writes(&client.stdout_text());
    assert_eq!(writes, n, "iperf wrote -n / -l datagrams\n{}", client.report());

    // Every datagram is a line; wait for all of them (and the final one), then stop the receiver.
    let want = writes as usize + 1;
    rx.wait_for(&format!("{want} datagrams"), |out, _| out.matches("\"type\":\"datagram\"").count() >= want);
    rx.stop("INT");
    let lines = json_lines(&rx.stdout_text());
    let mut data = BTreeSet::new();
    let mut fins = Vec::new();
    for d in lines.iter().filter(|v| v["type"] == "datagram") {
        assert_eq!(d["len"], SIZE, "{d}");
        assert_eq!(d["source"], A4.to_string().as_str(), "{d}");
        assert_eq!(d["group"], group.as_str(), "{d}");
        assert_eq!(d["iface"], "vb", "{d}");
        assert_eq!(d["ttl"], 1, "{d}");
        let hex = d["payload_hex"].as_str().expect("payload_hex");
        let seq = u32::from_str_radix(hex.get(..8).expect("a sequence number"), 16).expect("hex") as i32;
        if seq > 0 {
            assert!(data.insert(seq as u64), "datagram {seq} twice");
        } else {
            fins.push(seq);
        }
    }
    assert_eq!(data, (1..=writes).collect::<BTreeSet<u64>>(), "iperf's numbers 1..={writes}, each once");
    assert_eq!(fins, [-(writes as i32 + 1)], "one final datagram, numbered -(N+1)");
    let summary = lines.last().expect("summary");
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["datagrams"], want, "{summary}");
    assert_eq!(summary["bytes"], want * SIZE, "{summary}");
    assert_eq!(summary["drops"], 0, "{summary}");
}

/// Datagrams in iperf2's format, written as lines for `mcast send` (one datagram per line): numbers
/// 1..=n, then the final -(n+1), each `SIZE` bytes: sequence, seconds, microseconds, the upper half of
/// the 64-bit sequence, then zeros (no client header: flags 0). A number is kept below 10 so that no byte
/// is a newline.
fn iperf_datagrams(n: i32) -> Vec<u8> {
    assert!(n < 10);
    let mut out = Vec::new();
    for seq in (1..=n).chain([-(n + 1)]) {
        let mut d = Vec::with_capacity(SIZE + 1);
        d.extend(seq.to_be_bytes());
        d.extend(1_700_000_000u32.to_be_bytes());
        d.extend((seq.unsigned_abs() * 1000).to_be_bytes());
        d.extend(if seq < 0 { u32::MAX } else { 0 }.to_be_bytes());
        d.resize(SIZE, 0);
        assert!(!d.contains(&b'\n'));
        out.extend(d);
        out.push(b'\n');
    }
    out
}

/// `mcast send` in a sends nine numbered datagrams and the final one; `iperf -s -u -B GROUP%vb` in b
/// reports them all: from 10.0.0.1 to the group, 3000 bytes, 10 datagrams, none lost or out of order.
#[test]
fn mcast_send_to_iperf2_server_is_counted_by_iperf() {
    needs_root!();
    let link = Link::new("ips");
    let dir = Scratch::new("ips");
    let g = Ipv4Addr::new(239, 7, 7, 2);
    let bind = format!("{g}%vb");
    let args = ["-s", "-u", "-B", &bind, "-p", "5002", "-y", "C"];
    let mut server = Peer::start(&link.b, &dir, "iperf server", "iperf", &args);
    wait_joined(&link.b, &mut server, "vb", IpAddr::V4(g), 5002);

    let target = format!("{g}:5002");
    let input = iperf_datagrams(9);
    let args = ["send", &target, "--iface", "va", "--quiet"];
    let mut tx = Peer::start_with_input(&link.a, &dir, "mcast send", MCAST, &args, Some(&input));
    let status = tx.wait();
    assert!(status.success(), "mcast send: {status}\n{}", tx.report());
    assert!(tx.stdout_text().contains("sent 10 datagrams (3000 bytes)"), "{}", tx.report());

    // The final datagram ends iperf's session: it prints one CSV report line.
    server.wait_for("a CSV report", |out, _| out.lines().any(|l| l.split(',').count() >= 14));
    server.stop("INT");
    let out = server.stdout_text();
    let line = out.lines().find(|l| l.split(',').count() >= 14).expect("a CSV line");
    // timestamp, source, source port, destination, port, id, interval, bytes, bits/s, jitter, lost,
    // total, percent lost, out of order.
    let f: Vec<&str> = line.split(',').collect();
    assert_eq!(f[1], A4.to_string(), "source: {line}");
    assert_eq!((f[3], f[4]), (g.to_string().as_str(), "5002"), "destination: {line}");
    assert_eq!(f[7], "3000", "bytes: {line}");
    assert_eq!((f[10], f[11]), ("0", "10"), "lost/total: {line}");
    assert_eq!(f[13], "0", "out of order: {line}");
}
