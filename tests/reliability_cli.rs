//! The `mcast` command under trouble: interfaces that flap under a running `mcast recv` and `mcast send`,
//! SIGINT and SIGTERM mid-run, a closed pipe, a receive buffer too small for a burst, thousands of senders.
//!
//! Every test runs the binary in namespaces it creates (`ip netns exec`, which execs `mcast` itself, so
//! the child's pid is the command's and signals reach it directly). Output is read from `--json`.
mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use common::cli::{json, of_type, the_summary, Running, MCAST};
use common::{veth, wait_ipv6, Netns};
use mcast::wire::proto::{self, Kind};
use mcast::{Family, Group, IfaceSpec, McastSocket, Sender};
use serde_json::Value;

/// How long a child or a condition may take before the test gives up: generous, on a loaded 2-core machine.
const PATIENCE: Duration = Duration::from_secs(20);

impl Running {
    fn start(ns: &Netns, args: &[&str]) -> Running {
        Running::start_within(ns, args, PATIENCE)
    }

    /// A `mcast recv` that has said it is listening.
    fn recv(ns: &Netns, args: &[&str]) -> Running {
        let r = Running::start(ns, args);
        r.wait_until("mcast recv listening", || {
            r.stderr.lock().unwrap().iter().any(|l| l.starts_with("mcast recv: listening on "))
        });
        r
    }

    /// Sends `signal` (`INT`, `TERM`, `STOP`, `CONT`) to this child, by its pid, with kill(1).
    fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args([&format!("-{signal}"), &pid]).status().expect("kill(1)");
        assert!(status.success(), "kill -{signal} {pid}: {status}");
    }
}

/// The bytes of a datagram line's payload.
fn payload(d: &Value) -> Vec<u8> {
    let hex = d["payload_hex"].as_str().expect("payload_hex");
    (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex")).collect()
}

/// Two namespaces joined by a veth pair: `a` (`va` 10.0.0.1/24) and `b` (`vb` 10.0.0.2/24).
fn pair(tag: &str) -> (Netns, Netns) {
    let (a, b) = (Netns::new(&format!("{tag}a")), Netns::new(&format!("{tag}b")));
    relink(&a, &b);
    (a, b)
}

fn relink(a: &Netns, b: &Netns) {
    veth(a, "va", "10.0.0.1/24", b, "vb", "10.0.0.2/24");
    wait_ipv6(a, "va");
    wait_ipv6(b, "vb");
}

/// A thread in `ns` sending PerfData datagrams numbered from 0 to `group` out of `iface` every `gap`, until
/// stopped; returns how many it sent successfully.
fn numbered_stream(ns: &Netns, group: Group, iface: &str, gap: Duration, stop: Arc<AtomicBool>) -> JoinHandle<u64> {
    let iface = iface.to_string();
    ns.spawn(move || {
        let tx = Sender::builder(group).interface(IfaceSpec::Name(iface)).ttl(1).build().expect("sender");
        let mut buf = [0u8; 64];
        let (mut seq, mut sent) = (0u64, 0u64);
        while !stop.load(Ordering::SeqCst) {
            let n = proto::encode(Kind::PerfData, 0x5eed, seq, proto::now_ns(), b"cli", &mut buf).unwrap();
            sent += u64::from(tx.send(&buf[..n]).is_ok());
            seq += 1;
            std::thread::sleep(gap);
        }
        sent
    })
}

/// Topology: a (va) <-> b (vb). `mcast recv --iface vb` runs in b while `mcast send` in a sends 150
/// datagrams, 20 ms apart; va is deleted (taking vb with it) and the pair made again. The receiver must
/// hear the sender again without a restart and name the outage; the sender must report its failed sends,
/// carry on, and end with status 1 after its summary.
#[test]
fn recv_and_send_across_a_veth_deleted_and_made_again() {
    needs_root!();
    let (a, b) = pair("rcdel");
    let old_index = b.ifindex("vb");
    let rx = Running::recv(&b, &["recv", "239.8.8.1:5801", "--iface", "vb", "--json"]);
    let tx = Running::start(
        &a,
        &["send", "239.8.8.1:5801", "--iface", "va", "--count", "150", "--interval", "0.02", "--size", "40", "--json"],
    );
    rx.wait_until("datagrams before the flap", || rx.objects("datagram").len() >= 10);
    a.ip(&["link", "del", "va"]);
    tx.wait_until("failed sends", || !tx.objects("failed").is_empty());
    relink(&a, &b);
    let new_index = b.ifindex("vb");
    let heard_before = rx.objects("datagram").len();
    rx.wait_until("datagrams after the veth was made again", || rx.objects("datagram").len() >= heard_before + 10);

    let (status, out, err) = tx.finish();
    assert_eq!(status.code(), Some(1), "some sends failed: {err:?}");
    let sent = json(&out);
    let summary = the_summary(&sent);
    let (ok, failed) = (of_type(&sent, "sent"), of_type(&sent, "failed"));
    assert_eq!(ok.len() + failed.len(), 150, "a line per datagram");
    assert_eq!(summary["datagrams"], ok.len() as u64);
    assert_eq!(summary["send_failed"], failed.len() as u64);
    assert!(!failed.is_empty() && ok.len() > 20, "{summary}");
    for f in &failed {
        let errno = f["errno"].as_i64().expect("errno") as i32;
        assert!([libc::ENODEV, libc::ENETUNREACH, libc::EADDRNOTAVAIL].contains(&errno), "{f}");
    }
    // It carried on: datagrams were sent after the failures.
    let last_failed = failed.iter().map(|f| f["seq"].as_u64().unwrap()).max().unwrap();
    assert!(ok.iter().any(|s| s["seq"].as_u64().unwrap() > last_failed), "nothing sent after the failures");
    let errors = summary["errors"].as_array().expect("errors");
    assert_eq!(errors.iter().map(|e| e["count"].as_u64().unwrap()).sum::<u64>(), failed.len() as u64);
    assert!(err.iter().any(|l| l.starts_with("mcast send: sends failing (")), "{err:?}");
    assert!(err.iter().any(|l| l.starts_with("mcast send: sending again after ")), "{err:?}");
    assert_eq!(
        err.last().map(String::as_str),
        Some(format!("mcast send: {} of 150 datagrams could not be sent", failed.len()).as_str())
    );

    rx.signal("INT");
    let (status, out, err) = rx.finish();
    assert_eq!(status.code(), Some(130), "{err:?}");
    let got = json(&out);
    let summary = the_summary(&got);
    let dgrams = of_type(&got, "datagram");
    assert_eq!(summary["datagrams"], dgrams.len() as u64);
    assert_eq!(summary["end"], "interrupted");
    // Every datagram that arrived is one the sender reported sent ("mcast #SEQ ..." payloads).
    let sent_seqs: Vec<u64> = ok.iter().map(|s| s["seq"].as_u64().unwrap()).collect();
    for d in &dgrams {
        let text = String::from_utf8(payload(d)).unwrap();
        let seq: u64 = text.strip_prefix("mcast #").and_then(|t| t.split(' ').next()).unwrap().parse().unwrap();
        assert!(sent_seqs.contains(&seq), "{seq} arrived but was not sent");
        assert_eq!((d["source"].as_str(), d["iface"].as_str()), (Some("10.0.0.1"), Some("vb")), "{d}");
    }
    let outages = summary["outages"].as_array().expect("outages");
    assert_eq!(outages.len(), 1, "{summary}");
    let o = &outages[0];
    assert_eq!((o["iface"].as_str(), o["cause"].as_str()), (Some("vb"), Some("deleted")), "{o}");
    assert_eq!((o["old_index"].as_u64(), o["new_index"].as_u64()), (Some(old_index.into()), Some(new_index.into())));
    assert!(o["duration"].as_f64().is_some_and(|d| d > 0.0 && d < PATIENCE.as_secs_f64()), "{o}");
    assert!(o["missed"].is_null(), "mcast send does not number its datagrams: {o}");
    // va's deletion takes vb down first, then deletes it: the receiver says both.
    assert!(err.iter().any(|l| l == "mcast recv: vb: deleted; waiting for it to come back"), "{err:?}");
    assert!(err.iter().any(|l| l.starts_with(&format!("mcast recv: vb: back as index {new_index} (was {old_index})"))));
}

/// Topology: a (va) <-> b (vb). A numbered stream (the tools' header) from a, `mcast recv --iface vb` in
/// b; vb is set down and up. The summary's outage gives the datagrams missed, which must be the gap in the
/// sequence numbers of the datagrams printed; SIGTERM ends the receiver with status 143.
#[test]
fn recv_across_link_down_and_up_counts_the_datagrams_missed() {
    needs_root!();
    let (a, b) = pair("rcdown");
    let group: Group = "239.8.8.2:5802".parse().unwrap();
    let index = b.ifindex("vb");
    let rx = Running::recv(&b, &["recv", "239.8.8.2:5802", "--iface", "vb", "--json"]);
    let stop = Arc::new(AtomicBool::new(false));
    let stream = numbered_stream(&a, group, "va", Duration::from_millis(10), stop.clone());
    rx.wait_until("datagrams before the flap", || rx.objects("datagram").len() >= 20);
    b.ip(&["link", "set", "vb", "down"]);
    std::thread::sleep(Duration::from_millis(300));
    b.ip(&["link", "set", "vb", "up"]);
    let heard = rx.objects("datagram").len();
    rx.wait_until("datagrams after vb came up", || rx.objects("datagram").len() >= heard + 20);
    stop.store(true, Ordering::SeqCst);
    stream.join().expect("stream");
    rx.signal("TERM");
    let (status, out, err) = rx.finish();
    assert_eq!(status.code(), Some(143), "{err:?}");
    let got = json(&out);
    let seqs: Vec<u64> = of_type(&got, "datagram").iter().map(|d| proto::decode(&payload(d)).unwrap().0.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let gaps: Vec<u64> = seqs.windows(2).map(|w| w[1] - w[0] - 1).filter(|g| *g > 0).collect();
    assert_eq!(gaps.len(), 1, "one gap: {seqs:?}");
    let summary = the_summary(&got);
    let o = &summary["outages"].as_array().expect("outages")[0];
    assert_eq!((o["iface"].as_str(), o["cause"].as_str()), (Some("vb"), Some("link down")), "{o}");
    assert_eq!((o["old_index"].as_u64(), o["new_index"].as_u64()), (Some(index.into()), Some(index.into())));
    assert_eq!(o["missed"].as_u64(), Some(gaps[0]), "{o}");
    assert!(err.iter().any(|l| l.starts_with("mcast recv: vb: back, membership held, after ")), "{err:?}");
}

/// A ticker on lo in `ns`: 239.8.8.x datagrams every 20 ms until stopped.
fn ticker(ns: &Netns, group: Group, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    ns.spawn(move || {
        let tx = Sender::builder(group).ttl(0).interface(IfaceSpec::Name("lo".into())).build().unwrap();
        while !stop.load(Ordering::SeqCst) {
            tx.send(b"tick").unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

/// Topology: one namespace, lo. `mcast recv --json | head -1`, literally, in a shell with pipefail: one
/// whole JSON line, status 0, and nothing on standard error but the "listening" note.
#[test]
fn recv_piped_into_head_ends_quietly() {
    needs_root!();
    let ns = Netns::new("rchead");
    let group: Group = "239.8.8.3:5803".parse().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let tick = ticker(&ns, group, stop.clone());
    for extra in [&["--json"][..], &[][..]] {
        let script = format!("set -o pipefail; {MCAST} recv 239.8.8.3:5803 --iface lo {} | head -1", extra.join(" "));
        let out = ns.command("bash").args(["-c", &script]).output().expect("bash");
        let (stdout, stderr) = (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap());
        assert!(out.status.success(), "{:?}: {} {stderr}", extra, out.status);
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        assert!(stdout.ends_with('\n'));
        if extra.is_empty() {
            assert!(stdout.contains("-> 239.8.8.3 on lo") && stdout.contains("\"tick\""), "{stdout}");
        } else {
            let d: Value = serde_json::from_str(stdout.trim_end()).expect("a whole JSON line");
            assert_eq!((d["type"].as_str(), d["payload"].as_str()), (Some("datagram"), Some("tick")), "{d}");
        }
        let noise: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("mcast recv: listening on port")).collect();
        assert!(noise.is_empty(), "standard error: {stderr}");
    }
    stop.store(true, Ordering::SeqCst);
    tick.join().expect("ticker");
}

/// Topology: one namespace, lo. 25 datagrams from `mcast send`; SIGINT to `mcast recv --json` once it has
/// printed them: status 130, and a summary that counts exactly what was sent. The same in text mode with
/// SIGTERM: status 143.
#[test]
fn sigint_and_sigterm_mid_run_print_a_summary_that_matches_what_was_sent() {
    needs_root!();
    let ns = Netns::new("rcsig");
    for (signal, code, json_mode) in [("INT", 130, true), ("TERM", 143, false)] {
        let mut args = vec!["recv", "239.8.8.4:5804", "--iface", "lo"];
        if json_mode {
            args.push("--json");
        }
        let rx = Running::recv(&ns, &args);
        let sent = ns
            .command(MCAST)
            .args(["send", "239.8.8.4:5804", "--iface", "lo", "--ttl", "0", "--count", "25", "--quiet", "msg-25"])
            .output()
            .expect("send");
        assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
        rx.wait_until("25 datagrams printed", || rx.stdout().len() == 25);
        rx.signal(signal);
        let (status, out, err) = rx.finish();
        assert_eq!(status.code(), Some(code), "{err:?}");
        if json_mode {
            let got = json(&out);
            let s = the_summary(&got);
            assert_eq!((s["datagrams"].as_u64(), s["bytes"].as_u64()), (Some(25), Some(25 * 6)), "{s}");
            assert_eq!((s["end"].as_str(), s["drops"].as_u64()), (Some("interrupted"), Some(0)), "{s}");
            assert_eq!(s["sources"][0]["datagrams"], 25, "{s}");
        } else {
            assert_eq!(out.len(), 27, "25 datagrams, the summary and its one source: {out:?}");
            assert!(out[..25].iter().all(|l| l.ends_with("6 bytes  \"msg-25\"")), "{out:?}");
            assert!(out[25].starts_with("--- 239.8.8.4:5804: 25 datagrams, 150 bytes from 1 source in "), "{out:?}");
            assert!(out[26].trim_start().starts_with("127.0.0.1:") && out[26].ends_with("25 datagrams, 150 bytes"));
        }
    }
}

/// Topology: one namespace, lo. `mcast send --count 100000 --interval 0.005` stopped by SIGTERM: status
/// 143, a summary saying it was interrupted, and its count is exactly what a receiver got.
#[test]
fn sigterm_to_a_sender_ends_with_a_summary_of_what_went() {
    needs_root!();
    let ns = Netns::new("rcsigtx");
    let rx = ns.run(|| {
        let r = mcast::Receiver::builder("239.8.8.5:5805".parse().unwrap())
            .interface(IfaceSpec::Name("lo".into()))
            .build()
            .unwrap();
        r.into_socket()
    });
    let tx = Running::start(
        &ns,
        &[
            "send",
            "239.8.8.5:5805",
            "--iface",
            "lo",
            "--ttl",
            "0",
            "--count",
            "100000",
            "--interval",
            "0.005",
            "--json",
            "x",
        ],
    );
    tx.wait_until("some sent", || tx.objects("sent").len() >= 20);
    tx.signal("TERM");
    let (status, out, err) = tx.finish();
    assert_eq!(status.code(), Some(143), "{err:?}");
    let lines = json(&out);
    let s = the_summary(&lines);
    assert_eq!(s["interrupted"], true);
    let n = s["datagrams"].as_u64().unwrap();
    assert_eq!(n, of_type(&lines, "sent").len() as u64);
    assert!((20..100_000).contains(&n), "{s}");
    let mut buf = [0u8; 16];
    let mut got = 0;
    while let Some(m) = rx.recv_timeout(&mut buf, Duration::from_millis(500)).unwrap() {
        assert_eq!(&buf[..m.len], b"x");
        got += 1;
    }
    assert_eq!(got, n, "the receiver got exactly what the sender counted");
}

/// Topology: one namespace, lo. `mcast recv --rcvbuf 4096` (forced: the kernel keeps 8192) is stopped
/// (SIGSTOP) while 400 datagrams of 1000 bytes arrive, then continued: it reads what was queued, and at
/// SIGINT its summary's kernel drops are exactly the shortfall, 400 less the datagrams it printed.
#[test]
fn a_tiny_forced_buffer_reports_drops_equal_to_the_shortfall() {
    needs_root!();
    const N: u64 = 400;
    let ns = Netns::new("rcdrop");
    let rx = Running::recv(&ns, &["recv", "239.8.8.6:5806", "--iface", "lo", "--rcvbuf", "4096", "--json"]);
    rx.signal("STOP");
    ns.run(|| {
        let g: Group = "239.8.8.6:5806".parse().unwrap();
        let tx = Sender::builder(g).ttl(0).interface(IfaceSpec::Name("lo".into())).build().unwrap();
        let payload = [b'd'; 1000];
        for _ in 0..N {
            assert_eq!(tx.send(&payload).unwrap(), 1000);
        }
    });
    rx.signal("CONT");
    // Let it read the queue: the count of lines stops growing.
    let mut last = usize::MAX;
    rx.wait_until("the queue read", || {
        std::thread::sleep(Duration::from_millis(300));
        let n = rx.objects("datagram").len();
        std::mem::replace(&mut last, n) == n && n > 0
    });
    rx.signal("INT");
    let (status, out, err) = rx.finish();
    assert_eq!(status.code(), Some(130), "{err:?}");
    let got = json(&out);
    let s = the_summary(&got);
    let received = of_type(&got, "datagram").len() as u64;
    assert_eq!(s["datagrams"].as_u64(), Some(received));
    assert_eq!(s["rcvbuf"].as_u64(), Some(8192), "SO_RCVBUFFORCE 4096, doubled: {s}");
    let drops = s["drops"].as_u64().expect("drops");
    assert!(drops > 0 && received > 0, "{s}");
    assert_eq!(received + drops, N, "received {received} + dropped {drops} must be all {N} sent");
}

/// A --rcvbuf or --sndbuf past what the kernel grants even with the FORCE option is reported as clamped.
#[test]
fn buffer_sizes_the_kernel_clamps_are_reported() {
    needs_root!();
    let ns = Netns::new("rcclamp");
    let out = ns
        .command(MCAST)
        .args(["recv", "239.8.8.7:5807", "--iface", "lo", "--rcvbuf", "2147483647", "--timeout", "0.1", "--json"])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "nothing arrived: {err}");
    assert!(err.contains("mcast recv: SO_RCVBUFFORCE 2147483647: reads back 2147483646, clamped: "), "{err}");
    let s: Value = serde_json::from_str(String::from_utf8(out.stdout).unwrap().trim_end()).unwrap();
    assert_eq!(s["rcvbuf"], 2147483646u64);
    let out = ns
        .command(MCAST)
        .args(["send", "239.8.8.7:5807", "--iface", "lo", "--ttl", "0", "--sndbuf", "2147483647", "--quiet", "x"])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{err}");
    assert!(err.contains("mcast send: SO_SNDBUFFORCE 2147483647: reads back 2147483646, clamped: "), "{err}");
}

/// Topology: one namespace, lo. 5000 senders, each on its own port, one datagram each: the receiver counts
/// all 5000 but lists at most its cap of 4096 sources, and says how many it dropped from the list.
#[test]
fn thousands_of_senders_leave_a_bounded_table() {
    needs_root!();
    const SENDERS: u16 = 5000;
    let ns = Netns::new("rcmany");
    let rx = Running::recv(&ns, &["recv", "239.8.8.8:5808", "--iface", "lo", "--rcvbuf", "16777216"]);
    let (done_tx, done_rx) = mpsc::channel();
    ns.run(move || {
        let to = SocketAddr::from((Ipv4Addr::new(239, 8, 8, 8), 5808));
        for port in 0..SENDERS {
            let s = McastSocket::udp(Family::V4).unwrap();
            s.set_multicast_ttl_v4(0).unwrap();
            s.set_multicast_if_v4(Ipv4Addr::LOCALHOST).unwrap();
            s.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 20_000 + port))).unwrap();
            s.send_to(b"hi", to).unwrap();
        }
        done_tx.send(()).unwrap();
    });
    done_rx.recv().unwrap();
    rx.wait_until("every datagram printed", || rx.stdout().len() == usize::from(SENDERS));
    rx.signal("INT");
    let (status, out, err) = rx.finish();
    assert_eq!(status.code(), Some(130), "{err:?}");
    let out = &out[usize::from(SENDERS)..];
    assert!(
        out[0]
            .starts_with(&format!("--- 239.8.8.8:5808: {SENDERS} datagrams, {} bytes from 4096 sources", 2 * SENDERS)),
        "{}",
        out[0]
    );
    let listed = out.iter().filter(|l| l.trim_start().starts_with("127.0.0.1:")).count();
    assert_eq!(listed, 4096);
    let dropped = out.iter().find(|l| l.contains("more sources dropped from this list")).expect("the dropped note");
    assert!(dropped.contains("(904 more sources dropped from this list: at most 4096 kept"), "{dropped}");
    // The most recent senders are the ones kept.
    assert!(out.iter().any(|l| l.trim_start().starts_with(&format!("127.0.0.1:{} ", 20_000 + SENDERS - 1))));
    assert!(!out.iter().any(|l| l.trim_start().starts_with("127.0.0.1:20000 ")));
}

/// Topology: a (va) <-> b (vb). `mcast recv` with two groups (its multi-group mode) joined on vb, a
/// numbered stream to each from a; va deleted and the pair made again. Both groups are heard again, the
/// summary names the outage, and its missed count is the sum of the two streams' gaps.
#[test]
fn multi_group_recv_across_a_veth_deleted_and_made_again() {
    needs_root!();
    let (a, b) = pair("rcmulti");
    let rx =
        Running::recv(&b, &["recv", "239.8.9.1:5809,239.8.9.2:5809", "--iface", "vb", "--interval", "0", "--json"]);
    let stop = Arc::new(AtomicBool::new(false));
    let streams: Vec<JoinHandle<u64>> = ["239.8.9.1:5809", "239.8.9.2:5809"]
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let (g, stop) = (g.parse::<Group>().unwrap(), stop.clone());
            // Each stream its own session, so the receiver tells their numbers apart.
            a.spawn(move || {
                let mut tx = mcast::__private::sendretry::ResilientSender::new(
                    Sender::builder(g).interface(IfaceSpec::Name("va".into())).ttl(1).build().unwrap(),
                );
                let (mut buf, mut seq) = ([0u8; 64], 0u64);
                while !stop.load(Ordering::SeqCst) {
                    let n =
                        proto::encode(Kind::PerfData, 100 + i as u32, seq, proto::now_ns(), b"m", &mut buf).unwrap();
                    tx.send(&buf[..n]).expect("no fatal error");
                    seq += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                tx.stats().failed
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    a.ip(&["link", "del", "va"]);
    std::thread::sleep(Duration::from_millis(300));
    relink(&a, &b);
    rx.wait_until("rejoined", || rx.stderr().iter().any(|l| l.starts_with("mcast recv: vb: back as index")));
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    let failed: Vec<u64> = streams.into_iter().map(|s| s.join().expect("stream")).collect();
    assert!(failed.iter().all(|f| *f > 0), "each sender failed while va was gone: {failed:?}");
    std::thread::sleep(Duration::from_millis(200));
    rx.signal("INT");
    let (status, out, err) = rx.finish();
    assert_eq!(status.code(), Some(130), "{err:?}");
    let summary = the_summary(&json(&out)).clone();
    let groups = summary["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 2);
    assert!(groups.iter().all(|g| g["datagrams"].as_u64().unwrap() > 50), "{summary}");
    let o = &summary["outages"].as_array().expect("outages")[0];
    assert_eq!((o["iface"].as_str(), o["cause"].as_str()), (Some("vb"), Some("deleted")), "{o}");
    assert!(o["missed"].as_u64().is_some_and(|m| m > 0), "{o}");
}

/// Topology: a (va) <-> b (vb). `mcast perf` sends 100 datagrams/s for 4 s from a while `mcast perf
/// --serve` receives in b; va is deleted and the pair made again a second in. The sender counts its failed
/// sends and carries on to the end; the receiver follows vb and hears the rest. Its expected count is every
/// number the sender used, and what it lost is at least what failed to leave.
#[test]
fn perf_sender_and_receiver_across_a_veth_deleted_and_made_again() {
    needs_root!();
    let (a, b) = pair("rcperf");
    let rx = Running::start(&b, &["perf", "--serve", "239.8.9.9:5810", "--iface", "vb", "--interval", "0", "--json"]);
    rx.wait_until("perf receiving", || rx.stderr().iter().any(|l| l.starts_with("mcast perf: receiving")));
    let tx = Running::start(
        &a,
        &["perf", "239.8.9.9:5810", "--iface", "va", "--rate", "100", "--time", "4", "--size", "100", "--json"],
    );
    std::thread::sleep(Duration::from_secs(1));
    a.ip(&["link", "del", "va"]);
    std::thread::sleep(Duration::from_millis(300));
    relink(&a, &b);
    let (status, out, err) = tx.finish();
    assert!(status.success(), "{err:?}");
    let sent = json(&out);
    let s = of_type(&sent, "sender");
    let (ok, failed) = (s[0]["sent"].as_u64().unwrap(), s[0]["send_failed"].as_u64().unwrap());
    assert!(failed > 0 && ok > 200, "{}", s[0]);
    let (status, out, err) = rx.finish();
    assert!(status.success(), "{err:?}");
    assert!(err.iter().any(|l| l.starts_with("mcast perf: vb: back as index")), "{err:?}");
    let got = json(&out);
    let session = of_type(&got, "session")[0].clone();
    assert_eq!(session["expected"].as_u64(), Some(ok + failed), "{session}");
    let (received, lost) = (session["received"].as_u64().unwrap(), session["lost"].as_u64().unwrap());
    assert_eq!(received + lost, ok + failed, "{session}");
    assert!(lost >= failed && received > 200, "{session}");
}
