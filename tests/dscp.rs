//! DSCP: `--dscp` marks what send, perf, ping and relay send; the byte is checked on the wire (tcpdump in the
//! receiving namespace) and in what `mcast recv` reports per datagram (`IP_RECVTOS` / `IPV6_RECVTCLASS`).
//!
//! Topology: `a` (10.68.0.1, fd00:68::1, va) <-veth-> `b` (10.68.0.2, fd00:68::2, vb).
mod common;
mod tools_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use common::{veth, Netns};
use mcast::{Family, McastSocket};
use tools_support::{run, Proc};

fn link(tag: &str) -> (Netns, Netns) {
    let a = Netns::new(&format!("{tag}a"));
    let b = Netns::new(&format!("{tag}b"));
    veth(&a, "va", "10.68.0.1/24", &b, "vb", "10.68.0.2/24");
    a.ip(&["addr", "add", "fd00:68::1/64", "dev", "va"]);
    b.ip(&["addr", "add", "fd00:68::2/64", "dev", "vb"]);
    common::wait_ipv6(&a, "va");
    common::wait_ipv6(&b, "vb");
    (a, b)
}

/// tcpdump on `iface` in `ns`, printing the IP header of the first UDP datagram to `port` (verbose: the TOS
/// byte or traffic class), once it is capturing.
fn tcpdump(ns: &Netns, iface: &str, port: u16) -> Child {
    let mut child = ns
        .command("tcpdump")
        .args(["-i", iface, "-n", "-v", "-l", "-c", "1", "udp", "and", "dst", "port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdump (apt-get install tcpdump)");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 && !line.contains("listening on") {
        line.clear();
    }
    assert!(line.contains("listening on"), "tcpdump did not start: {line}");
    child
}

fn captured(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The DSCP `mcast recv --json` reported for its one datagram.
fn received_dscp(rx: Proc) -> u64 {
    rx.finish().ok().one("datagram").int("dscp")
}

#[test]
fn the_socket_option_sets_and_reads_back_the_dscp() {
    for family in [Family::V4, Family::V6] {
        let s = McastSocket::udp(family).unwrap();
        assert_eq!(s.dscp().unwrap(), 0);
        s.set_dscp(46).unwrap();
        assert_eq!(s.dscp().unwrap(), 46);
        match family {
            Family::V4 => assert_eq!(s.tos_v4().unwrap(), 0xb8),
            Family::V6 => assert_eq!(s.tclass_v6().unwrap(), 0xb8),
        }
        let e = s.set_dscp(64).unwrap_err();
        assert_eq!(e.kind(), mcast::ErrorKind::OutOfRange);
        assert_eq!(s.dscp().unwrap(), 46, "a refused value changes nothing");
    }
}

/// `send --dscp ef` over IPv4: tcpdump sees TOS 0xb8; the receiver reports DSCP 46.
#[test]
fn send_marks_ipv4_and_the_receiver_reports_it() {
    needs_root!();
    let (a, b) = link("dscp4");
    let dump = tcpdump(&b, "vb", 5000);
    let rx = Proc::ready(&b, &["recv", "239.68.0.1:5000", "-i", "vb", "-c", "1", "-t", "30", "--json"], "listening");
    run(&a, &["send", "239.68.0.1:5000", "-i", "va", "--dscp", "ef", "hi"]).ok();
    assert_eq!(received_dscp(rx), 46);
    let wire = captured(dump);
    assert!(wire.contains("tos 0xb8"), "{wire}");
}

/// `send --dscp af41` over IPv6: tcpdump sees traffic class 0x88; the receiver reports DSCP 34. Unmarked,
/// the receiver reports 0.
#[test]
fn send_marks_ipv6_and_the_receiver_reports_it() {
    needs_root!();
    let (a, b) = link("dscp6");
    let dump = tcpdump(&b, "vb", 5001);
    let g = "[ff05::68:1]:5001";
    let rx = Proc::ready(&b, &["recv", g, "-i", "vb", "-c", "1", "-t", "30", "--json"], "listening");
    run(&a, &["send", g, "-i", "va", "--dscp", "af41", "hi"]).ok();
    assert_eq!(received_dscp(rx), 34);
    let wire = captured(dump);
    assert!(wire.contains("class 0x88"), "{wire}");
    let rx = Proc::ready(&b, &["recv", g, "-i", "vb", "-c", "1", "-t", "30", "--json"], "listening");
    run(&a, &["send", g, "-i", "va", "hi"]).ok();
    assert_eq!(received_dscp(rx), 0);
}

/// perf, ping and relay mark what they send: a plain receiver of their datagrams reports the DSCP.
#[test]
fn perf_ping_and_relay_mark_what_they_send() {
    needs_root!();
    let (a, b) = link("dscpt");
    // perf --dscp cs1: every datagram has DSCP 8.
    let rx = Proc::ready(&b, &["recv", "239.68.0.2:5002", "-i", "vb", "-c", "1", "-t", "30", "--json"], "listening");
    run(&a, &["perf", "239.68.0.2:5002", "-i", "va", "-c", "5", "--dscp", "cs1"]).ok();
    assert_eq!(received_dscp(rx), 8);
    // ping --dscp 10: the probes carry it (a responder is not needed to see them).
    let rx = Proc::ready(&b, &["recv", "239.68.0.3:5003", "-i", "vb", "-c", "1", "-t", "30", "--json"], "listening");
    let ping = run(&a, &["ping", "239.68.0.3:5003", "-i", "va", "-c", "1", "--wait", "0.2", "--dscp", "10"]);
    assert_eq!(ping.code, Some(1), "no responder, so no answer: {ping:?}");
    assert_eq!(received_dscp(rx), 10);
    // relay --dscp 12: from 239.68.0.4 (sent unmarked from a) to 239.68.0.5 on vb, heard on vb's peer va.
    let rx = Proc::ready(&a, &["recv", "239.68.0.5:5004", "-i", "va", "-c", "1", "-t", "30", "--json"], "listening");
    let relay = Proc::ready(
        &b,
        &["relay", "239.68.0.4:5004", "239.68.0.5:5004", "-i", "vb", "--out-iface", "vb", "-c", "1", "--dscp", "12"],
        " -> ",
    );
    run(&a, &["send", "239.68.0.4:5004", "-i", "va", "-T", "4", "x"]).ok();
    relay.finish().ok();
    assert_eq!(received_dscp(rx), 12);
}
