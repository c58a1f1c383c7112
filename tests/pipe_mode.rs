//! Pipe mode: `mcast send --raw` sends standard input as it is, `mcast recv --raw` writes the payloads as they
//! are; binary data crosses a veth byte for byte.
//!
//! Topology: `a` (10.67.0.1, va) <-veth-> `b` (10.67.0.2, vb).
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};

use common::{veth, Netns};

const BIN: &str = env!("CARGO_BIN_EXE_mcast");

/// Every byte value, in an order that is not a simple count, `len` bytes.
fn binary(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// `mcast recv --raw` in `ns`, once it says it is listening.
fn receiver(ns: &Netns, args: &[&str]) -> Child {
    let mut child = ns
        .command(BIN)
        .arg("recv")
        .args(args)
        .arg("--raw")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mcast recv");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    assert!(first.contains("listening"), "{first}");
    // Keep draining standard error (the summary) so the receiver never blocks on it.
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut err, &mut std::io::sink());
    });
    child
}

/// Runs `mcast send ARGS --raw` in `ns` with `input` on standard input.
fn send(ns: &Netns, args: &[&str], input: &[u8]) -> String {
    let mut child = ns
        .command(BIN)
        .arg("send")
        .args(args)
        .args(["--raw", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mcast send");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn received(mut child: Child) -> Vec<u8> {
    let mut bytes = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut bytes).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "mcast recv --raw: {status:?}");
    bytes
}

/// 40 KiB of binary data in datagrams of 1000 bytes (the last one 960): 41 datagrams, the same bytes out.
#[test]
fn binary_data_crosses_in_datagrams_of_the_given_size() {
    needs_root!();
    let a = Netns::new("pipea");
    let b = Netns::new("pipeb");
    veth(&a, "va", "10.67.0.1/24", &b, "vb", "10.67.0.2/24");
    let data = binary(40 * 1024);
    let rx = receiver(&b, &["239.67.0.1:5000", "-i", "vb", "-c", "41", "-t", "60"]);
    let summary = send(&a, &["239.67.0.1:5000", "-i", "va", "--size", "1000", "--interval", "0.002"], &data);
    assert!(summary.contains("41 datagrams"), "{summary}");
    let got = received(rx);
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the bytes differ");
}

/// Without --size, one datagram per read of standard input: 100000 bytes from a pipe arrive whole, in
/// order, in datagrams of at most 65507 bytes.
#[test]
fn binary_data_crosses_one_datagram_per_read() {
    needs_root!();
    let a = Netns::new("pipec");
    let b = Netns::new("piped");
    veth(&a, "va", "10.67.1.1/24", &b, "vb", "10.67.1.2/24");
    let data = binary(100_000);
    let rx = receiver(&b, &["239.67.0.2:5000", "-i", "vb", "-t", "5", "--rcvbuf", "4M"]);
    send(&a, &["239.67.0.2:5000", "-i", "va"], &data);
    let got = received(rx);
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the bytes differ");
}
