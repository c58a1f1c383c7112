//! Interop with socat, both ways, IPv4 and IPv6: the exact bytes cross in each direction.
//!
//! Topology ([`Link`]):
//!
//! ```text
//!   a: va 10.0.0.1/24 fd00:1::1/64  <-- veth -->  b: vb 10.0.0.2/24 fd00:1::2/64
//! ```
//!
//! socat joins with `ip-add-membership=GROUP:IFADDR` (IPv4) or `ipv6-join-group=[GROUP]:IFNAME` (IPv6),
//! and picks its sending interface with `ip-multicast-if=IFADDR` (IPv4) or `so-bindtodevice=IFNAME` (IPv6:
//! socat has no IPV6_MULTICAST_IF option; binding to the device routes the group out of it). Payloads
//! include a NUL, a 0xff and non-ASCII bytes, so nothing is treated as text.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::routed::peer::{wait_joined, Peer, Scratch};
use common::routed::MCAST;
use common::traffic::{Link, A4, A6, B4};
use serde_json::Value;

/// Three datagrams' worth, one per line for `mcast send` (no newline inside any of them).
const MESSAGES: [&[u8]; 3] = [b"first datagram", b"bin \x00\xff\x01\x7f end", "caf\u{e9} \u{2603}".as_bytes()];

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `mcast send` in a, three datagrams from standard input; `socat -u UDP-RECV... STDOUT` in b prints
/// exactly their bytes, one after another.
fn mcast_send_to_socat(tag: &str, g: IpAddr, port: u16, socat_addr: String, target: String) {
    let link = Link::new(tag);
    let dir = Scratch::new(tag);
    let mut socat = Peer::start(&link.b, &dir, "socat receiver", "socat", &["-u", &socat_addr, "STDOUT"]);
    wait_joined(&link.b, &mut socat, "vb", g, port);

    let input: Vec<u8> = MESSAGES.iter().flat_map(|m| m.iter().copied().chain([b'\n'])).collect();
    let args = ["send", &target, "--iface", "va", "--quiet"];
    let mut tx = Peer::start_with_input(&link.a, &dir, "mcast send", MCAST, &args, Some(&input));
    let status = tx.wait();
    assert!(status.success(), "mcast send: {status}\n{}", tx.report());

    let want: Vec<u8> = MESSAGES.concat();
    socat.wait_stdout_len(want.len());
    socat.stop("TERM");
    assert_eq!(socat.stdout(), want, "socat's output, byte for byte\n{}", socat.report());
}

#[test]
fn mcast_send_to_socat_udp4_recv_prints_the_exact_bytes() {
    needs_root!();
    let g = Ipv4Addr::new(239, 8, 8, 1);
    let socat_addr = format!("UDP4-RECV:6001,ip-add-membership={g}:{B4}");
    mcast_send_to_socat("sox4", g.into(), 6001, socat_addr, format!("{g}:6001"));
}

#[test]
fn mcast_send_to_socat_udp6_recv_prints_the_exact_bytes() {
    needs_root!();
    let g = Ipv6Addr::new(0xff15, 0, 0, 0, 0, 0, 8, 1);
    let socat_addr = format!("UDP6-RECV:6002,ipv6-join-group=[{g}]:vb");
    mcast_send_to_socat("sox6", g.into(), 6002, socat_addr, format!("[{g}]:6002"));
}

/// `socat -u STDIN UDP-DATAGRAM:...` in a, one datagram per run; `mcast recv --json` in b gets each with
/// its exact bytes, from a's address, with hop count 1, on vb.
fn socat_to_mcast_recv(tag: &str, g: IpAddr, source: IpAddr, target: String, socat_addr: String) {
    let link = Link::new(tag);
    let dir = Scratch::new(tag);
    let args = ["recv", &target, "--iface", "vb", "--count", "3", "--timeout", "30", "--json"];
    let mut rx = Peer::start(&link.b, &dir, "mcast recv", MCAST, &args);
    rx.wait_stderr("listening on port");

    for (i, m) in MESSAGES.iter().enumerate() {
        let name = format!("socat sender {i}");
        let mut tx = Peer::start_with_input(&link.a, &dir, &name, "socat", &["-u", "STDIN", &socat_addr], Some(m));
        let status = tx.wait();
        assert!(status.success(), "{name}: {status}\n{}", tx.report());
    }
    let status = rx.wait();
    assert!(status.success(), "mcast recv: {status}\n{}", rx.report());
    let lines = json_lines(&rx.stdout_text());
    let got: Vec<&Value> = lines.iter().filter(|v| v["type"] == "datagram").collect();
    assert_eq!(got.len(), MESSAGES.len(), "{}", rx.report());
    for (d, m) in got.iter().zip(MESSAGES) {
        assert_eq!(d["payload_hex"], hex(m).as_str(), "{d}");
        assert_eq!(d["len"], m.len(), "{d}");
        assert_eq!(d["source"], source.to_string().as_str(), "{d}");
        assert_eq!(d["group"], g.to_string().as_str(), "{d}");
        assert_eq!(d["iface"], "vb", "{d}");
        assert_eq!(d["ttl"], 1, "{d}");
    }
    assert_eq!(lines.last().expect("summary")["datagrams"], 3);
}

#[test]
fn socat_udp4_datagram_to_mcast_recv_gets_the_exact_bytes() {
    needs_root!();
    let g = Ipv4Addr::new(239, 8, 8, 2);
    let socat_addr = format!("UDP4-DATAGRAM:{g}:6003,ip-multicast-if={A4},ip-multicast-ttl=1");
    socat_to_mcast_recv("sor4", g.into(), A4.into(), format!("{g}:6003"), socat_addr);
}

#[test]
fn socat_udp6_datagram_to_mcast_recv_gets_the_exact_bytes() {
    needs_root!();
    let g = Ipv6Addr::new(0xff15, 0, 0, 0, 0, 0, 8, 2);
    let socat_addr = format!("UDP6-DATAGRAM:[{g}]:6004,so-bindtodevice=va");
    socat_to_mcast_recv("sor6", g.into(), A6.into(), format!("[{g}]:6004"), socat_addr);
}
