//! `mcast ping` against a hostile link: a forging peer (a raw socket writing UDP with any source address and
//! port, `common::forge`) sends the responder probes from impossible, spoofed and flooding sources, and the
//! prober answers from 100,000 forged responders. The responder must refuse each by reason, never answer a
//! stranger or amplify, keep answering honest probers, and the prober's memory must stay bounded.
mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::cli::{json, of_type, the_summary, Running};
use common::forge::Forge;
use common::{veth, Netns};
use mcast::wire::proto::{self, Kind};
use mcast::{Family, McastSocket};
use serde_json::Value;

/// How long anything that must happen may take on a busy two-core machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// Namespaces `{tag}a` (10.`net`.0.1/24 on va) and `{tag}b` (10.`net`.0.2/24 on vb), joined by a veth, with
/// reverse-path filtering off in both, so the kernel hands the server every forged source it would route.
fn linked(tag: &str, net: u8) -> (Netns, Netns) {
    let a = Netns::new(&format!("{tag}a"));
    let b = Netns::new(&format!("{tag}b"));
    veth(&a, "va", &format!("10.{net}.0.1/24"), &b, "vb", &format!("10.{net}.0.2/24"));
    for (ns, dev) in [(&a, "va"), (&b, "vb")] {
        ns.sysctl("net.ipv4.conf.all.rp_filter", "0");
        ns.sysctl(&format!("net.ipv4.conf.{dev}.rp_filter"), "0");
    }
    (a, b)
}

/// A probe of `session`, number `seq`, carrying `payload`.
fn probe(session: u32, seq: u64, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; proto::HEADER_LEN + payload.len()];
    let n = proto::encode(Kind::PingRequest, session, seq, 0x1122_3344_5566_7788, payload, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// What a responder's unicast answer to `probe` must be: the probe with its type byte changed.
fn unicast_answer(probe: &[u8]) -> Vec<u8> {
    let mut a = probe.to_vec();
    a[5] = Kind::PingReplyUnicast as u8;
    a
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// An honest prober's socket in the calling thread's namespace: bound to `local`, sending to groups out of
/// the interface with that address.
fn honest(local: &str) -> McastSocket {
    let local = sa(local);
    let s = McastSocket::udp(Family::V4).unwrap();
    s.bind(local).unwrap();
    if let IpAddr::V4(a) = local.ip() {
        s.set_multicast_if_v4(a).unwrap();
    }
    s
}

/// Waits for one datagram on `s` (failing the test after the patience).
fn answer(s: &McastSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; 65_536];
    let m = s.recv_timeout(&mut buf, PATIENCE).unwrap().expect("an answer within the patience");
    buf.truncate(m.len);
    (buf, m.source)
}

/// The responder, started in `ns` with `args` after `ping --serve GROUP --iface vb --json`, once it answers.
fn responder(ns: &Netns, group: &str, args: &[&str]) -> Running {
    let mut all = vec!["ping", "--serve", group, "--iface", "vb", "--json"];
    all.extend_from_slice(args);
    let r = Running::start_within(ns, &all, PATIENCE);
    r.wait_until("the responder answering", || r.stderr().iter().any(|l| l.contains("answering")));
    r
}

/// The responder's summary after SIGINT (or its own end).
fn summary_of(r: Running, interrupt: bool) -> (Vec<Value>, Value) {
    if interrupt {
        let _ = std::process::Command::new("kill").args(["-INT", &r.child.id().to_string()]).status();
    }
    let (status, out, err) = r.finish();
    assert!(matches!(status.code(), Some(0 | 130)), "{status} {err:?}");
    let objects = json(&out);
    let s = the_summary(&objects).clone();
    (objects, s)
}

/// Topology: a (10.91.0.1, va) <-> b (10.91.0.2, vb). The forger in a sends the responder in b probes from
/// source port 0 (to the group and to b's own address), from the subnet's broadcast address, from a
/// multicast source and from the limited broadcast address (both of which the kernel drops as martians
/// before any socket), and a datagram that is no probe; then an honest prober in a sends probe 7 with a
/// payload. The responder answers it with exactly its bytes (type changed), and its summary counts each
/// refusal by reason, exactly.
#[test]
fn the_responder_survives_impossible_sources_and_answers_the_next_probe() {
    needs_root!();
    let (a, b) = linked("pfimp", 91);
    let group = "239.91.0.1:4391";
    let server = responder(&b, group, &["--count", "1", "--timeout", "60"]);
    let va = a.ifindex("va");
    let g = sa(group);
    let forged = probe(0xbad, 1, b"forged");
    a.run(|| {
        let f = Forge::open(Family::V4, va);
        f.send(sa("10.91.0.1:0"), g, 1, &forged);
        f.send(sa("10.91.0.1:0"), sa("10.91.0.2:4391"), 64, &forged);
        f.send(sa("10.91.0.255:4000"), g, 1, &forged);
        f.send(sa("239.9.9.9:4000"), g, 1, &forged);
        f.send(sa("255.255.255.255:4000"), g, 1, &forged);
        f.send(sa("10.91.0.1:4000"), g, 1, b"not a probe at all");
    });
    server.wait_until("four refusals", || server.objects("refused").len() == 4);
    let honest_probe = probe(0x600d, 7, b"payload!");
    let (got, from) = a.run(|| {
        let s = honest("10.91.0.1:0");
        s.send_to(&honest_probe, g).unwrap();
        answer(&s)
    });
    assert_eq!(from, sa("10.91.0.2:4391"), "the unicast answer comes from the responder's port");
    assert_eq!(got, unicast_answer(&honest_probe), "the answer is the probe, type changed: same seq and bytes");

    let (objects, summary) = summary_of(server, false);
    assert_eq!(summary["answered"], 1, "{summary}");
    assert_eq!(summary["refused"], serde_json::json!({"port_zero": 2, "broadcast": 1, "foreign": 1}), "{summary}");
    assert_eq!(summary["send_failed"], 0, "{summary}");
    let probes = of_type(&objects, "probe");
    assert_eq!(probes.len(), 1);
    assert_eq!((probes[0]["seq"].as_u64(), probes[0]["session"].as_u64()), (Some(7), Some(0x600d)));
    let reasons: Vec<&str> = of_type(&objects, "refused").iter().filter_map(|r| r["reason"].as_str()).collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
}

/// Topology: a (fd00:96::1, va) <-> b (fd00:96::2, vb), link-scope group ff02::96:1. Over IPv6 the forger
/// sends probes from source port 0, from the unspecified address, from an off-link address (2001:db8::77),
/// from a multicast source (which the kernel drops before any socket) and a datagram that is no probe; the
/// honest probe that follows is answered byte for byte, and the refusals are exact.
#[test]
fn over_ipv6_the_responder_refuses_impossible_sources_and_answers_the_next_probe() {
    needs_root!();
    let a = Netns::new("pfimp6a");
    let b = Netns::new("pfimp6b");
    veth(&a, "va", "fd00:96::1/64", &b, "vb", "fd00:96::2/64");
    common::wait_ipv6(&a, "va");
    common::wait_ipv6(&b, "vb");
    let server = responder(&b, "[ff02::96:1]:4396", &["--count", "1", "--timeout", "60"]);
    let va = a.ifindex("va");
    let g = SocketAddr::V6(std::net::SocketAddrV6::new("ff02::96:1".parse().unwrap(), 4396, 0, va));
    let forged = probe(0xbad, 1, b"forged");
    a.run(|| {
        let f = Forge::open(Family::V6, va);
        f.send(sa("[fd00:96::1]:0"), g, 1, &forged);
        f.send(sa("[::]:4000"), g, 1, &forged);
        f.send(sa("[2001:db8::77]:4000"), g, 1, &forged);
        f.send(sa("[ff02::1]:4000"), g, 1, &forged);
        f.send(sa("[fd00:96::1]:4000"), g, 1, b"not a probe at all");
    });
    server.wait_until("four refusals", || server.objects("refused").len() == 4);
    let honest_probe = probe(0x600d, 3, b"v6");
    let (got, from) = a.run(|| {
        let s = McastSocket::udp(Family::V6).unwrap();
        s.set_only_v6(true).unwrap();
        s.bind(sa("[fd00:96::1]:0")).unwrap();
        s.set_multicast_if_v6(va).unwrap();
        s.send_to(&honest_probe, g).unwrap();
        answer(&s)
    });
    assert_eq!(from, sa("[fd00:96::2]:4396"));
    assert_eq!(got, unicast_answer(&honest_probe));
    let (_, summary) = summary_of(server, false);
    assert_eq!(summary["answered"], 1, "{summary}");
    let refused = serde_json::json!({"port_zero": 1, "unspecified": 1, "off_link": 1, "foreign": 1});
    assert_eq!(summary["refused"], refused, "{summary}");
}

/// Topology: as above (10.92.0.0/24), and a victim in a at 10.92.0.99, on the link. The forger sends 5
/// probes whose source is 192.0.2.77 (not on the link: no answer at all) and 3 of 100 bytes whose source is
/// the victim's address and port. The victim gets exactly 3 answers of 100 bytes: no more bytes than were
/// sent in its name.
#[test]
fn a_spoofed_source_gets_nothing_off_link_and_no_more_than_it_sent_on_link() {
    needs_root!();
    let (a, b) = linked("pfspf", 92);
    a.ip(&["addr", "add", "10.92.0.99/24", "dev", "va"]);
    let group = "239.92.0.1:4392";
    let server = responder(&b, group, &["--timeout", "60"]);
    let va = a.ifindex("va");
    let g = sa(group);
    let forged = probe(0xbad, 0, &[0x5a; 100 - proto::HEADER_LEN]);
    assert_eq!(forged.len(), 100);
    let got = a.run(|| {
        let victim = honest("10.92.0.99:5555");
        let f = Forge::open(Family::V4, va);
        for _ in 0..5 {
            f.send(sa("192.0.2.77:5555"), g, 1, &forged);
        }
        for _ in 0..3 {
            f.send(sa("10.92.0.99:5555"), g, 1, &forged);
        }
        (0..3).map(|_| answer(&victim)).collect::<Vec<_>>()
    });
    for (bytes, from) in &got {
        assert_eq!(from, &sa("10.92.0.2:4392"));
        assert_eq!(bytes, &unicast_answer(&forged), "as many bytes as the probe, never more");
    }
    server.wait_until("every datagram handled", || {
        server.objects("refused").len() == 5 && server.objects("probe").len() == 3
    });
    let (_, summary) = summary_of(server, true);
    assert_eq!(summary["answered"], 3, "{summary}");
    assert_eq!(summary["refused"], serde_json::json!({"off_link": 5}), "{summary}");
    assert_eq!(summary["send_failed"], 0, "nothing was even tried toward the off-link source: {summary}");
}

/// Topology: as above (10.95.0.0/24). With `--allow 192.0.2.0/24`, 3 probes from 192.0.2.77 (routed, not on
/// the link) are admitted; b has no route back, so each unicast answer fails (`ENETUNREACH`, counted) and the
/// responder goes on: it answers the honest probe that follows, byte for byte.
#[test]
fn an_allowed_source_without_a_route_is_counted_and_the_responder_goes_on() {
    needs_root!();
    let (a, b) = linked("pfallow", 95);
    let group = "239.95.0.1:4395";
    let server = responder(&b, group, &["--allow", "192.0.2.0/24", "--count", "4", "--timeout", "60"]);
    let va = a.ifindex("va");
    let g = sa(group);
    let forged = probe(0xbad, 0, b"routed");
    let honest_probe = probe(0x600d, 1, b"");
    let got = a.run(|| {
        let f = Forge::open(Family::V4, va);
        for _ in 0..3 {
            f.send(sa("192.0.2.77:5555"), g, 1, &forged);
        }
        let s = honest("10.95.0.1:0");
        s.send_to(&honest_probe, g).unwrap();
        answer(&s).0
    });
    assert_eq!(got, unicast_answer(&honest_probe));
    let (objects, summary) = summary_of(server, false);
    assert_eq!(summary["answered"], 4, "{summary}");
    assert_eq!(summary["send_failed"], 3, "{summary}");
    assert_eq!(summary["refused"], serde_json::json!({}), "{summary}");
    let from: Vec<(&str, u64)> = of_type(&objects, "probe")
        .iter()
        .filter_map(|p| Some((p["from"].as_str()?, p["from_port"].as_u64()?)))
        .collect();
    assert_eq!(from.len(), 4, "{from:?}");
    assert_eq!(from.iter().filter(|f| **f == ("192.0.2.77", 5555)).count(), 3, "{from:?}");
    assert_eq!(from.iter().filter(|f| f.0 == "10.95.0.1").count(), 1, "{from:?}");
}

/// Topology: as above (10.93.0.0/24, and 10.93.0.3 also on va). With `--answer-rate 5`, an honest prober at
/// 10.93.0.1 sends a burst of 50 probes; then one from 10.93.0.3 marks the end. The burst gets exactly 5
/// answers (the bucket's burst), the other 45 count as `source_rate`; the marker is answered.
#[test]
fn a_burst_beyond_the_per_source_rate_is_refused_as_source_rate() {
    needs_root!();
    let (a, b) = linked("pfrate", 93);
    a.ip(&["addr", "add", "10.93.0.3/24", "dev", "va"]);
    let group = "239.93.0.1:4393";
    let server = responder(&b, group, &["--answer-rate", "5", "--timeout", "60"]);
    let g = sa(group);
    let burst = a.run(|| {
        let s = honest("10.93.0.1:0");
        for seq in 0..50 {
            s.send_to(&probe(0xb0b, seq, b""), g).unwrap();
        }
        let m = honest("10.93.0.3:0");
        let marker = probe(0x3a4, 0, b"end");
        m.send_to(&marker, g).unwrap();
        assert_eq!(answer(&m).0, unicast_answer(&marker), "the marker is answered");
        s
    });
    server
        .wait_until("all 51 probes handled", || server.objects("probe").len() + server.objects("refused").len() == 51);
    // Every answer to the burst left before the responder printed its last line; read what came.
    let mut answers = Vec::new();
    let mut buf = [0u8; 256];
    while let Ok(Some(m)) = burst.recv_timeout(&mut buf, Duration::from_millis(500)) {
        answers.push(buf[..m.len].to_vec());
    }
    assert_eq!(answers.len(), 5, "the burst of the bucket, by unicast");
    let mut seqs: Vec<u64> = answers.iter().map(|a| proto::decode(a).unwrap().0.seq).collect();
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), 5, "five different probes answered: {seqs:?}");
    for (got, seq) in answers.iter().zip(answers.iter().map(|a| proto::decode(a).unwrap().0.seq)) {
        assert_eq!(got, &unicast_answer(&probe(0xb0b, seq, b"")), "probe {seq} echoed");
    }
    let (_, summary) = summary_of(server, true);
    assert_eq!(summary["answered"], 6, "{summary}");
    assert_eq!(summary["refused"], serde_json::json!({"source_rate": 45}), "{summary}");
}

/// Bytes queued on the UDP socket of local `port` of process `pid`'s namespace (`/proc/PID/net/udp`).
fn rx_queue(pid: u32, port: u16) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/udp")).unwrap();
    let want = format!(":{port:04X}");
    text.lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.len() > 4 && w[1].ends_with(&want))
        .map(|w| u64::from_str_radix(w[4].split(':').nth(1).unwrap_or("0"), 16).unwrap_or(0))
        .sum()
}

/// Topology: a (10.0.0.1/8, va) <-> b (10.0.0.2/8, vb). A prober in a probes every 50 ms. The forger in b
/// hears a probe (it joins the group), learns the session and the prober's port, and answers it by unicast
/// from 100,000 forged responders 10.1.0.0 and up (all on the /8, so the kernel delivers them), plus 1,000
/// answers of another session; paced by the prober's receive queue. The prober keeps at most
/// `--max-responders 1024`, forgets the rest (counted), counts the other session as foreign, and its resident
/// memory grows by less than 64 MiB.
#[test]
fn a_flood_of_forged_responders_keeps_the_probers_memory_bounded() {
    needs_root!();
    let a = Netns::new("pfflooda");
    let b = Netns::new("pffloodb");
    veth(&a, "va", "10.0.0.1/8", &b, "vb", "10.0.0.2/8");
    let group = "239.94.0.1:4394";
    let prober = Running::start_within(
        &a,
        &["ping", group, "--iface", "va", "--interval", "0.05", "--json", "-q", "--max-responders", "1024"],
        Duration::from_secs(120),
    );
    let pid = prober.child.id();
    let vb = b.ifindex("vb");
    let g = sa(group);
    // A probe, heard in b: the session, its number, and where the prober listens for unicast answers.
    let (first, to) = b.run(|| {
        let rx = mcast::Receiver::builder(g.to_string().parse().unwrap())
            .interface(mcast::IfaceSpec::Index(vb))
            .build()
            .unwrap();
        let mut buf = vec![0u8; 2048];
        let m = rx.recv_timeout(&mut buf, PATIENCE).unwrap().expect("a probe");
        (proto::decode(&buf[..m.len]).unwrap().0, m.source)
    });
    assert_eq!(first.kind, Kind::PingRequest);
    let before = rss_kib(pid);
    let answer_of = |session: u32| {
        let mut buf = vec![0u8; proto::HEADER_LEN];
        proto::encode(Kind::PingReplyUnicast, session, first.seq, first.send_time_ns, b"", &mut buf).unwrap();
        buf
    };
    let (ours, other) = (answer_of(first.session), answer_of(first.session ^ 1));
    const FORGED: u32 = 100_000;
    const FOREIGN: u32 = 1_000;
    b.run(|| {
        let f = Forge::open(Family::V4, vb);
        let start = Instant::now();
        for i in 0..FORGED + FOREIGN {
            let (src, bytes) = if i < FORGED {
                (SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a01_0000 + i)), 4000), &ours)
            } else {
                (sa("10.0.0.2:4001"), &other)
            };
            f.send(src, to, 64, bytes);
            if i % 100 == 99 {
                while rx_queue(pid, to.port()) > 0 && start.elapsed() < Duration::from_secs(120) {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
        while rx_queue(pid, to.port()) > 0 && start.elapsed() < Duration::from_secs(120) {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let after = rss_kib(pid);
    let growth = after.saturating_sub(before);
    eprintln!("prober VmRSS {before} KiB before, {after} KiB after {FORGED} forged responders (+{growth} KiB)");
    let _ = std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status();
    let (status, out, err) = prober.finish();
    assert_eq!(status.code(), Some(130), "{err:?}");
    let objects = json(&out);
    let summary = the_summary(&objects);
    let rows = of_type(&objects, "responder");
    let n = |k: &str| summary[k].as_u64().unwrap_or_else(|| panic!("{k} in {summary}"));
    // The cap holds: 1024 responders, two rows each (a channel never heard shows all lost).
    assert_eq!(rows.len(), 2 * 1024, "the cap holds");
    assert_eq!(n("rows"), 2 * 1024);
    let foreign = summary["refused"]["foreign"].as_u64().unwrap_or(0);
    // Each forged answer was either dropped by the kernel, or made a row, pushing out the idlest.
    assert_eq!(n("responders_evicted") + 1024 + foreign + n("kernel_drops"), u64::from(FORGED + FOREIGN), "{summary}");
    assert!(n("responders_evicted") >= u64::from(FORGED) - 1024 - n("kernel_drops"), "{summary}");
    if n("kernel_drops") == 0 {
        assert_eq!(foreign, u64::from(FOREIGN), "{summary}");
    }
    assert!(growth < 64 * 1024, "resident memory grew by {growth} KiB");
}

/// The prober's resident memory, from `/proc/PID/status`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    common::status_kib(pid, "VmRSS:").expect("VmRSS")
}
