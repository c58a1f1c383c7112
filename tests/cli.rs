//! The `mcast` command end to end. Every test runs the binary inside network namespaces it creates
//! (`ip netns exec`), so nothing reaches this host's interfaces; traffic tests check the bytes, source,
//! group, interface and count that arrived, from `--json` output.
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv6Addr};
use std::process::{Child, ChildStdout, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::cli::{of_type, sandboxed, spawn};
use common::root::Sandbox;
use common::traffic::{expect, Link, A4};
use common::{veth_pair_in, Netns};
use mcast::{Group, IfaceSpec, Receiver, Sender};
use serde_json::Value;

/// How long a child may take before the test gives up on it (generous: a loaded 2-core machine).
const PATIENCE: Duration = Duration::from_secs(20);

/// Runs `mcast ARGS` in `ns` to completion, with `stdin` as its standard input.
fn run_with_input(ns: &Netns, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = spawn(ns, args, Stdio::piped());
    child.stdin.take().expect("stdin").write_all(stdin).expect("write stdin");
    child.wait_with_output().expect("wait for mcast")
}

fn run(ns: &Netns, args: &[&str]) -> Output {
    run_with_input(ns, args, b"")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

fn json_lines(stdout: &[u8]) -> Vec<Value> {
    text(stdout).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

/// A `mcast recv` running in the background, already joined (it said "listening" on standard error).
struct Listening {
    child: Child,
    stdout: Option<ChildStdout>,
    stderr: mpsc::Receiver<String>,
}

impl Listening {
    fn start(ns: &Netns, args: &[&str]) -> Listening {
        let mut child = spawn(ns, args, Stdio::null());
        let err = child.stderr.take().expect("stderr");
        let (tx, stderr) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdout = child.stdout.take();
        let mut l = Listening { child, stdout, stderr };
        match l.stderr.recv_timeout(PATIENCE) {
            Ok(line) if line.starts_with("mcast recv: listening on port") => l,
            Ok(line) => {
                let _ = l.child.kill();
                panic!("mcast recv said {line:?} instead of listening")
            }
            Err(_) => {
                let _ = l.child.kill();
                panic!("mcast recv did not start listening within {PATIENCE:?}")
            }
        }
    }

    /// Waits for the exit (killing it after [`PATIENCE`]); returns the status, stdout and later stderr lines.
    fn finish(mut self) -> (ExitStatus, String, Vec<String>) {
        let status = wait_exit(&mut self.child);
        let mut out = String::new();
        if let Some(mut s) = self.stdout.take() {
            s.read_to_string(&mut out).expect("read stdout");
        }
        let err: Vec<String> = self.stderr.iter().collect();
        (status, out, err)
    }
}

fn wait_exit(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("mcast did not exit within {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The IPv6 link-local address of `ifname` in `ns`: the source of link-scoped multicast sent from it.
fn link_local(ns: &Netns, ifname: &str) -> Ipv6Addr {
    let ifname = ifname.to_string();
    ns.run(move || mcast::Interface::by_name(&ifname).expect("interface"))
        .ipv6
        .into_iter()
        .find(|a| a.segments()[0] == 0xfe80)
        .expect("a link-local address")
}

/// What every datagram of a run must say about its path.
struct Path<'a> {
    source: &'a str,
    group: &'a str,
    port: u64,
    iface: &'a str,
    ttl: u64,
}

/// Checks one received datagram object against what was sent.
fn check_datagram(d: &Value, seq: u64, payload: &str, p: &Path) {
    assert_eq!(d["seq"], seq, "{d}");
    assert_eq!(d["payload"], payload, "{d}");
    assert_eq!(d["payload_hex"], payload.bytes().map(|b| format!("{b:02x}")).collect::<String>(), "{d}");
    assert_eq!(d["len"], payload.len() as u64, "{d}");
    assert_eq!(d["captured"], payload.len() as u64, "{d}");
    assert_eq!(d["truncated"], false, "{d}");
    assert_eq!(d["source"], p.source, "{d}");
    assert_eq!(d["group"], p.group, "{d}");
    assert_eq!(d["port"], p.port, "{d}");
    assert_eq!(d["iface"], p.iface, "{d}");
    assert_eq!(d["ttl"], p.ttl, "{d}");
}

/// Topology: a (va 10.0.0.1) <-> b (vb 10.0.0.2). `mcast recv` in b, `mcast send` in a with three of five
/// stdin lines (`--count 3`) at TTL 7.
#[test]
fn send_and_recv_over_a_veth_ipv4() {
    needs_root!();
    let link = Link::new("cli4");
    let rx = Listening::start(
        &link.b,
        &["recv", "239.1.2.3:5100", "--count", "3", "--json", "--iface", "vb", "--timeout", "20"],
    );
    let sent = run_with_input(
        &link.a,
        &["send", "239.1.2.3:5100", "--iface", "va", "--ttl", "7", "--count", "3", "--json"],
        b"alpha\nbeta\r\ngamma\ndelta\nepsilon\n",
    );
    assert!(sent.status.success(), "send: {}", text(&sent.stderr));
    assert_eq!(text(&sent.stderr), "");
    let s = json_lines(&sent.stdout);
    assert_eq!(of_type(&s, "sent").len(), 3, "{s:?}");
    let summary = of_type(&s, "summary");
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0]["datagrams"], 3);
    assert_eq!(summary[0]["bytes"], 14);
    assert_eq!(summary[0]["ttl"], 7);
    assert_eq!(summary[0]["iface"], "va");

    let (status, out, err) = rx.finish();
    assert!(status.success(), "recv: {status} {err:?}");
    assert!(err.is_empty(), "{err:?}");
    let r = json_lines(out.as_bytes());
    let dgrams = of_type(&r, "datagram");
    assert_eq!(dgrams.len(), 3, "{out}");
    let source = A4.to_string();
    let path = Path { source: &source, group: "239.1.2.3", port: 5100, iface: "vb", ttl: 7 };
    for (i, payload) in ["alpha", "beta", "gamma"].iter().enumerate() {
        check_datagram(dgrams[i], i as u64 + 1, payload, &path);
    }
    let sum = of_type(&r, "summary");
    assert_eq!(sum.len(), 1, "{out}");
    assert_eq!(sum[0]["datagrams"], 3);
    assert_eq!(sum[0]["bytes"], 14);
    assert_eq!(sum[0]["end"], "count");
    assert_eq!(sum[0]["sources"].as_array().map(Vec::len), Some(1));
    assert_eq!(sum[0]["sources"][0]["address"], A4.to_string());
    assert_eq!(sum[0]["sources"][0]["datagrams"], 3);
}

/// Topology: a (va) <-> b (vb), link-local group ff02::4242. `mcast send` repeats one message four times at
/// hop limit 5 (`--hops`); `mcast recv --count 4` in b sees each, from va's link-local address.
#[test]
fn send_and_recv_over_a_veth_ipv6() {
    needs_root!();
    let link = Link::new("cli6");
    let source = link_local(&link.a, "va");
    let rx = Listening::start(
        &link.b,
        &["recv", "[ff02::4242]:5200", "--count", "4", "--json", "--iface", "vb", "--timeout", "20"],
    );
    let sent = run(
        &link.a,
        &[
            "send",
            "[ff02::4242]:5200",
            "--iface",
            "va",
            "--hops",
            "5",
            "--count",
            "4",
            "--interval",
            "0.01",
            "hello",
            "v6",
        ],
    );
    assert!(sent.status.success(), "send: {}", text(&sent.stderr));
    let lines: Vec<String> = text(&sent.stdout).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert_eq!(lines[0], "#1 8 bytes to [ff02::4242]:5200: \"hello v6\"");
    assert_eq!(lines[4], "sent 4 datagrams (32 bytes) to [ff02::4242]:5200 via va: hop limit 5, loop on");

    let (status, out, err) = rx.finish();
    assert!(status.success(), "recv: {status} {err:?}");
    let r = json_lines(out.as_bytes());
    let dgrams = of_type(&r, "datagram");
    assert_eq!(dgrams.len(), 4, "{out}");
    let src = source.to_string();
    let path = Path { source: &src, group: "ff02::4242", port: 5200, iface: "vb", ttl: 5 };
    for (i, d) in dgrams.iter().enumerate() {
        check_datagram(d, i as u64 + 1, "hello v6", &path);
    }
    let sum = of_type(&r, "summary");
    assert_eq!(sum[0]["datagrams"], 4);
    assert_eq!(sum[0]["bytes"], 32);
    assert_eq!(sum[0]["sources"][0]["address"], source.to_string());
}

/// Topology: one namespace, lo. `mcast recv` in text mode prints a line per datagram with the payload
/// escaped, then the summary; the sender is this test, through the library.
#[test]
fn recv_prints_an_escaped_line_and_a_summary() {
    needs_root!();
    let ns = Netns::new("clitext");
    let rx = Listening::start(&ns, &["recv", "239.1.2.3:5600", "--iface", "lo", "--count", "1", "--timeout", "20"]);
    ns.run(|| {
        let g: Group = "239.1.2.3:5600".parse().unwrap();
        let tx = Sender::builder(g).ttl(0).interface(IfaceSpec::Name("lo".into())).build().unwrap();
        tx.send(b"hi\x1b[0m\n").unwrap();
    });
    let (status, out, err) = rx.finish();
    assert!(status.success(), "{status} {err:?}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].contains(" 127.0.0.1:"), "{out}");
    assert!(lines[0].contains(" -> 239.1.2.3 on lo  ttl 0  7 bytes  \"hi\\x1b[0m\\n\""), "{out}");
    assert!(lines[1].starts_with("--- 239.1.2.3:5600: 1 datagram, 7 bytes from 1 source in "), "{out}");
    assert!(lines[2].trim_start().starts_with("127.0.0.1:") && lines[2].ends_with("1 datagram, 7 bytes"), "{out}");
}

/// Topology: one namespace, lo. `mcast send --size` generates numbered payloads of exactly that size; the
/// receiver is this test, through the library.
#[test]
fn send_generates_payloads_of_the_given_size() {
    needs_root!();
    let ns = Netns::new("clisize");
    let g: Group = "239.1.2.3:5500".parse().unwrap();
    let rx = ns.run(|| Receiver::builder(g).interface(IfaceSpec::Name("lo".into())).build().unwrap());
    let sent =
        run(&ns, &["send", "239.1.2.3:5500", "--iface", "lo", "--ttl", "0", "--size", "1000", "--count", "2", "-q"]);
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    assert_eq!(text(&sent.stdout), "sent 2 datagrams (2000 bytes) to 239.1.2.3:5500 via lo: TTL 0, loop on\n");
    for seq in 1..=2 {
        let got = expect(rx.socket(), "generated payload");
        assert_eq!(got.bytes.len(), 1000);
        let head = format!("mcast #{seq} abc");
        assert!(got.bytes.starts_with(head.as_bytes()), "{:?}", String::from_utf8_lossy(&got.bytes[..20]));
        assert_eq!(got.meta.source.ip(), IpAddr::from([127, 0, 0, 1]));
        assert_eq!(got.meta.group, Some(g.ip()));
    }
}

/// `--timeout` is an overall deadline: with fewer than `--count` datagrams the summary is printed and the
/// exit status is 1, with one line saying so.
#[test]
fn recv_times_out_with_status_1() {
    needs_root!();
    let ns = Netns::new("clitimeout");
    let out = run(&ns, &["recv", "239.1.2.3:5400", "--iface", "lo", "--count", "2", "--timeout", "0.5", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].starts_with("mcast recv: listening on port 5400, joined 239.1.2.3 on lo"), "{err}");
    assert!(lines[1].starts_with("mcast recv: timed out after ") && lines[1].ends_with("0 of 2 datagrams arrived"));
    let r = json_lines(&out.stdout);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["type"], "summary");
    assert_eq!(r[0]["datagrams"], 0);
    assert_eq!(r[0]["end"], "timeout");
}

/// Bad input: exit 2, nothing on stdout, exactly one line on stderr that names the problem.
#[test]
fn bad_input_exits_2_with_one_line() {
    let Some(sandbox) = Sandbox::new() else { return };
    // 256 ranges of 65536 groups: 16 million, refused before any is made (it used to abort for want of memory).
    let huge: Vec<String> = (0..256).map(|i| format!("239.{i}.0.0-239.{i}.255.255:5000")).collect();
    let huge = huge.join(",");
    let cases: &[(&[&str], &str)] = &[
        (
            &["recv", "239.1.1.50-239.1.1.1:5000"],
            "mcast recv: '239.1.1.50-239.1.1.1:5000' is not a group list: reversed range: it ends at 239.1.1.1",
        ),
        (
            &["recv", "239.0.0.0-239.255.255.255:5000"],
            "mcast recv: '239.0.0.0-239.255.255.255:5000': range larger than 65536 groups",
        ),
        (&["recv", &huge], "mcast recv: the group list holds 16777216 groups; a list may hold at most 65536 groups"),
        (&["recv", "239.1.0.0-239.1.255.255:5000", "239.2.0.0:5000"], "mcast recv: more than 65536 groups in all"),
        (&["doctor", &huge], "mcast doctor: the group list holds 16777216 groups; a list may hold at most 65536"),
        (
            &["perf", "239.1.2.3:5001", "--rate", "0"],
            "mcast perf: --rate 0: rate '0': a rate of 0 would send nothing; to send as fast as possible, give max",
        ),
        (
            &["perf", "239.1.2.3:5001", "--rate", "99999999999999999999999G"],
            "mcast perf: --rate 99999999999999999999999G: rate '99999999999999999999999G': more than 1e12 bit/s",
        ),
        (&["send", "239.1.2.3:5000", "--iface", "nosuch0", "x"], "mcast send: unknown interface 'nosuch0'"),
        (&["recv", "239.1.2.3:5000", "--iface", "nosuch0"], "mcast recv: unknown interface 'nosuch0'"),
        (&["send", "10.0.0.1:5000", "x"], "mcast send: 10.0.0.1 is not a multicast address"),
        (&["recv", "10.0.0.1:5000"], "mcast recv: 10.0.0.1 is not a multicast address"),
        (&["send", "239.1.2.3:5000", "--ttl", "256", "x"], "mcast send: --ttl 256: out of range 0..=255"),
        (&["send", "239.1.2.3:5000", "--hops=256", "x"], "mcast send: --hops 256: out of range 0..=255"),
        // Every tool's TTL is range-checked as a number before it becomes a u8: 300 is named, never wrapped.
        (&["send", "239.1.2.3:5000", "--ttl", "300", "x"], "mcast send: --ttl 300: out of range 0..=255"),
        (&["perf", "239.1.2.3:5001", "--ttl", "300"], "mcast perf: --ttl 300: out of range 0..=255"),
        (&["ping", "239.1.2.3:5002", "--ttl", "300"], "mcast ping: --ttl 300: out of range 0..=255"),
        (&["doctor", "239.1.2.3:5003", "--ttl", "300"], "mcast doctor: --ttl 300: out of range 0..=255"),
        (&["send", "239.1.2.3", "x"], "mcast send: '239.1.2.3' has no port"),
        (&["send", "239.1.2.3:99999", "x"], "mcast send: '239.1.2.3:99999' is not a group"),
        (&["recv", "239.1.2.3:port"], "mcast recv: '239.1.2.3:port' is not a group"),
        (&["recv", "[ff02::1:5000"], "mcast recv: '[ff02::1:5000' is not a group"),
        (&["send", "239.1.2.3:5000", "--bogus", "x"], "mcast send: unknown option --bogus"),
        (&["recv", "239.1.2.3:5000", "--count"], "mcast recv: --count: missing value"),
        (&["recv", "239.1.2.3:5000", "--count", "many"], "mcast recv: --count many: not a whole number"),
        (
            &["recv", "[ff02::1]:5000"],
            "mcast recv: [ff02::1]:5000 is link-local-scoped: name the interface, or write the group as \
             ff02::1%IFACE, or give --iface IFACE",
        ),
        (
            &["send", "ff02::1:5000", "x"],
            "mcast send: 'ff02::1:5000' has no port: write [ff02::1:5000]:PORT, or [ff02::1]:5000 if 5000 is the port",
        ),
        (&["recv", "239.1.2.3:5000", "--source", "ff02::1"], "mcast recv: source ff02::1 is not of the group's"),
        (
            &["recv", "232.1.1.1:5000", "--source", "239.1.1.1"],
            "mcast recv: IP_ADD_SOURCE_MEMBERSHIP: source 239.1.1.1 is a multicast address; a source must be a \
             unicast address",
        ),
        (
            &["recv", "232.1.1.1-232.1.1.2:5000", "--source", "255.255.255.255"],
            "mcast recv: MCAST_JOIN_SOURCE_GROUP: source 255.255.255.255 is the broadcast address",
        ),
        (
            &["perf", "--serve", "232.1.1.1:5001", "--source", "0.0.0.0"],
            "mcast perf: IP_ADD_SOURCE_MEMBERSHIP: source 0.0.0.0 is the unspecified address",
        ),
        (
            &["send", "[ff02::1%99999]:5000", "x"],
            "mcast send: '[ff02::1%99999]:5000': no interface with index 99999 for the zone",
        ),
        (&["recv", "[ff02::1%99999]:5000"], "mcast recv: '[ff02::1%99999]:5000': no interface with index 99999"),
        (&["send", "[ff02::1%nosuch]:5000", "x"], "mcast send: '[ff02::1%nosuch]:5000': no interface named 'nosuch'"),
        (&["send"], "mcast send: missing GROUP:PORT"),
        (&["info", "not-an-address"], "mcast info: 'not-an-address' is not an IP address"),
        (&["ifaces", "extra"], "mcast ifaces: unexpected argument 'extra'"),
        (&["frobnicate"], "mcast: unknown command 'frobnicate'"),
        (&[], "mcast: missing command"),
    ];
    for (args, expected) in cases {
        let out = sandboxed(&sandbox, args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err:?}");
        assert!(err.starts_with(expected), "{args:?}: {err:?} should start with {expected:?}");
        assert_eq!(text(&out.stdout), "", "{args:?}");
    }
}

/// `--help` (and `-h`, and `mcast help CMD`) on every subcommand: exit 0, the usage line, every option, and
/// the C socket options the flags map to.
#[test]
fn every_subcommand_has_help() {
    let Some(sandbox) = Sandbox::new() else { return };
    let cases: &[(&str, &[&str])] = &[
        (
            "send",
            &[
                "--ttl",
                "--hops",
                "--loop",
                "--no-loop",
                "--iface",
                "--count",
                "--interval",
                "--size",
                "--quiet",
                "--json",
                "IP_MULTICAST_TTL",
                "IPV6_MULTICAST_HOPS",
                "IP_MULTICAST_LOOP",
                "IP_MULTICAST_IF",
                "Examples:",
            ],
        ),
        (
            "recv",
            &[
                "--iface",
                "--source",
                "--count",
                "--timeout",
                "--json",
                "IP_ADD_MEMBERSHIP",
                "IP_MULTICAST_ALL",
                "Examples:",
            ],
        ),
        ("ifaces", &["--json", "SIOCGIFFLAGS", "SIOCGIFCONF", "Examples:"]),
        ("info", &["--json", "Exit status: 0", "Examples:"]),
        ("demo", &["IP_MULTICAST_TTL", "IPV6_MULTICAST_HOPS", "IP_MULTICAST_LOOP", "Examples:"]),
    ];
    for (cmd, words) in cases {
        let long = sandboxed(&sandbox, &[cmd, "--help"]);
        assert!(long.status.success(), "{cmd} --help");
        let help = text(&long.stdout);
        assert!(help.contains(&format!("Usage: mcast {cmd}")), "{cmd}: {help}");
        for w in *words {
            assert!(help.contains(w), "{cmd} --help does not mention {w}");
        }
        assert_eq!(text(&sandboxed(&sandbox, &[cmd, "-h"]).stdout), help, "{cmd} -h");
        assert_eq!(text(&sandboxed(&sandbox, &["help", cmd]).stdout), help, "help {cmd}");
        // Help wins over anything else on the line.
        let bogus = sandboxed(&sandbox, &[cmd, "--bogus", "--ttl", "999", "--help"]);
        assert!(bogus.status.success(), "{cmd}: {}", text(&bogus.stderr));
        assert_eq!(text(&bogus.stdout), help, "{cmd} --bogus --help");
    }
    let top = sandboxed(&sandbox, &["--help"]);
    assert!(top.status.success());
    for (cmd, _) in cases {
        assert!(text(&top.stdout).contains(&format!("  {cmd} ")), "mcast --help lists {cmd}");
    }
    let version = sandboxed(&sandbox, &["--version"]);
    assert_eq!(text(&version.stdout), format!("mcast {}\n", env!("CARGO_PKG_VERSION")));
}

/// Topology: a fresh namespace with lo and a veth pair (so IPv6 has a multicast interface). The demo
/// exchanges a datagram over IPv4 and IPv6, shows loop off, and exits 0 without a word on stderr.
#[test]
fn demo_runs_both_exchanges_in_a_namespace() {
    needs_root!();
    let ns = Netns::new("clidemo");
    veth_pair_in(&ns, "va", "vb");
    let out = run(&ns, &["demo"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    assert!(stdout.contains("IPv4: group 239.255.0.1:5007 on lo (127.0.0.1)"), "{stdout}");
    assert!(stdout.contains("IP_MULTICAST_TTL 0 "), "{stdout}");
    assert!(stdout.contains("IP_MULTICAST_ALL 0 "), "{stdout}");
    assert!(stdout.contains("IPV6_MULTICAST_HOPS 0 "), "{stdout}");
    let received: Vec<&str> = stdout.lines().filter(|l| l.starts_with("  received  ")).collect();
    assert_eq!(received.len(), 2, "{stdout}");
    assert!(received[0].contains("from 127.0.0.1:") && received[0].ends_with("to 239.255.0.1 on lo, TTL 0"));
    assert!(received[1].contains("to ff01::114 on v") && received[1].ends_with(", hop limit 0"), "{stdout}");
    assert!(stdout.contains("IPV6_MULTICAST_LOOP 0\n            sent again: nothing arrived"), "{stdout}");
    assert!(stdout.contains("done: both exchanges arrived"), "{stdout}");
}

/// Topology: one namespace, lo. `mcast recv | head -1`: the reader goes away after one line; the receiver
/// must end on the next write, quietly (no panic, no error line), with status 0.
#[test]
fn recv_into_a_closed_pipe_exits_quietly() {
    needs_root!();
    let ns = Netns::new("clipipe");
    let mut rx = Listening::start(&ns, &["recv", "239.1.2.3:5300", "--iface", "lo"]);
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let stop = stop.clone();
        ns.spawn(move || {
            let g: Group = "239.1.2.3:5300".parse().unwrap();
            let tx = Sender::builder(g).ttl(0).interface(IfaceSpec::Name("lo".into())).build().unwrap();
            while !stop.load(Ordering::SeqCst) {
                tx.send(b"tick").unwrap();
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let mut first = String::new();
    BufReader::new(rx.stdout.take().expect("stdout")).read_line(&mut first).expect("one line");
    // The BufReader, and with it the pipe's read end, is dropped here: like `head -1` exiting.
    let (status, _, err) = rx.finish();
    stop.store(true, Ordering::SeqCst);
    ticker.join().expect("ticker");
    assert!(first.contains("-> 239.1.2.3 on lo") && first.contains("\"tick\""), "{first}");
    assert!(status.success(), "{status} {err:?}");
    assert!(err.is_empty(), "stderr after the pipe closed: {err:?}");
}

/// Topology: one namespace with lo and a veth pair. `ifaces --json` lists exactly those, with their index,
/// flags and addresses.
#[test]
fn ifaces_lists_lo_and_the_veth() {
    needs_root!();
    let ns = Netns::new("cliifaces");
    veth_pair_in(&ns, "va", "vb");
    let out = run(&ns, &["ifaces", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list = json_lines(&out.stdout);
    let names: Vec<&str> = list.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    let find = |n: &str| list.iter().find(|i| i["name"] == n).unwrap_or_else(|| panic!("{n} not listed"));
    let flags = |i: &Value| -> Vec<String> {
        i["flags"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect()
    };

    let lo = find("lo");
    assert_eq!(lo["index"], ns.ifindex("lo"));
    assert_eq!(lo["up"], true, "{lo}");
    assert_eq!(lo["loopback"], true, "{lo}");
    assert_eq!(lo["multicast"], true, "{lo}");
    for f in ["UP", "LOOPBACK", "MULTICAST"] {
        assert!(flags(lo).iter().any(|x| x == f), "lo lacks {f}: {lo}");
    }
    assert_eq!(lo["ipv4"], serde_json::json!(["127.0.0.1"]));
    assert!(lo["ipv6"].as_array().unwrap().iter().any(|a| a == "::1"), "{lo}");

    for name in ["va", "vb"] {
        let v = find(name);
        assert_eq!(v["index"], ns.ifindex(name), "{v}");
        assert_eq!(v["up"], true, "{v}");
        assert_eq!(v["multicast"], true, "{v}");
        assert_eq!(v["loopback"], false, "{v}");
        assert_eq!(v["mtu"], 1500, "{v}");
        assert!(flags(v).iter().any(|x| x == "MULTICAST") && !flags(v).iter().any(|x| x == "LOOPBACK"), "{v}");
        assert_eq!(v["ipv4"], serde_json::json!([]), "{v}");
        let fe80 = link_local(&ns, name).to_string();
        assert!(v["ipv6"].as_array().unwrap().iter().any(|a| *a == fe80), "{v}");
    }

    let table = text(&run(&ns, &["ifaces"]).stdout);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 4, "{table}");
    assert!(rows[0].starts_with("INDEX  NAME"), "{table}");
    assert!(rows.iter().any(|r| r.split_whitespace().nth(1) == Some("va") && r.contains(" yes ")), "{table}");
}

/// `info` on well-known, scoped, IPv6 and unicast addresses: the key facts, as JSON and as text.
#[test]
fn info_explains_addresses() {
    let Some(sandbox) = Sandbox::new() else { return };
    let info = |addr: &str| -> (Option<i32>, Value) {
        let out = sandboxed(&sandbox, &["info", addr, "--json"]);
        (out.status.code(), serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{addr}: {e}")))
    };

    let (code, mdns) = info("224.0.0.251");
    assert_eq!(code, Some(0));
    assert_eq!(mdns["family"], "ipv4");
    assert_eq!(mdns["multicast"], true);
    assert_eq!(mdns["well_known"], "mDNS");
    assert_eq!(mdns["scope"], "link-local");
    assert_eq!(mdns["never_forwarded"], true);
    assert_eq!(mdns["block"], "Local Network Control Block (224.0.0.0/24)");
    assert_eq!(mdns["mac"], "01:00:5e:00:00:fb");
    assert_eq!(mdns["ttl"], 1);

    let (code, admin) = info("239.1.2.3");
    assert_eq!(code, Some(0));
    assert_eq!(admin["block"], "Administratively Scoped Block (239.0.0.0/8)");
    assert_eq!(admin["scope"], "admin-local");
    assert_eq!(admin["never_forwarded"], false);
    assert_eq!(admin["source_specific"], false);
    assert_eq!(admin["well_known"], Value::Null);
    assert_eq!(admin["mac"], "01:00:5e:01:02:03");
    let shared = admin["mac_shared_with"].as_array().unwrap();
    assert_eq!(shared.len(), 31);
    assert!(shared.iter().any(|a| a == "224.1.2.3") && shared.iter().any(|a| a == "238.129.2.3"));
    assert!(!shared.iter().any(|a| a == "239.1.2.3"));

    let (code, v6) = info("ff02::fb");
    assert_eq!(code, Some(0));
    assert_eq!(v6["family"], "ipv6");
    assert_eq!(v6["well_known"], "mDNS");
    assert_eq!(v6["scope"], "link-local");
    assert_eq!(v6["never_forwarded"], true);
    assert_eq!(v6["mac"], "33:33:00:00:00:fb");
    assert_eq!(v6["flags"]["transient"], false);
    assert_eq!(v6["block"], Value::Null);

    let (code, uni) = info("10.0.0.1");
    assert_eq!(code, Some(1));
    assert_eq!(uni["multicast"], false);
    assert!(uni["kind"].as_str().unwrap().contains("RFC 1918"), "{uni}");
    assert!(uni["multicast_ranges"].as_str().unwrap().contains("224.0.0.0/4"), "{uni}");

    let t = sandboxed(&sandbox, &["info", "10.0.0.1"]);
    assert_eq!(t.status.code(), Some(1));
    assert_eq!(text(&t.stderr), "");
    assert!(text(&t.stdout).starts_with("10.0.0.1 is not a multicast address"), "{}", text(&t.stdout));
    let t = text(&sandboxed(&sandbox, &["info", "[ff02::fb%lo]:5353"]).stdout);
    assert!(t.contains("well-known       mDNS") && t.contains("ethernet mac     33:33:00:00:00:fb"), "{t}");
}
