//! `mcast responder` on a hostile link: a forging peer (a raw socket writing whole UDP datagrams) sends discover
//! queries from impossible, broadcast, multicast and spoofed off-link sources, unpadded queries and floods. The
//! responder refuses each by reason, answers nothing it should not, never stops, and still answers the next
//! honest query with the right bytes.
//!
//! Topology: `a` (va 10.94.0.1/24; 10.99.0.5/32 on lo, the spoofing victim) <-veth-> `b` (vb 10.94.0.2/24,
//! default route via 10.94.0.1). The responder runs in `b`, joined on vb; queries come from `a`. Reverse-path
//! filtering is off in `b` so that the kernel delivers the forged sources and the responder's own policy is
//! what is tested.
mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::cli::Running;
use common::forge::Forge;
use common::{veth, Netns};
use mcast::discover::{encode_query, ANSWER_TTL, QUERY_LEN};
use mcast::wire::proto::{self, Answer, Kind};
use mcast::{Family, McastSocket, RecvMeta};
use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(20);
const A: Ipv4Addr = Ipv4Addr::new(10, 94, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 94, 0, 2);
const VICTIM: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 5);

fn link(tag: &str) -> (Netns, Netns) {
    let a = Netns::new(&format!("{tag}a"));
    let b = Netns::new(&format!("{tag}b"));
    veth(&a, "va", "10.94.0.1/24", &b, "vb", "10.94.0.2/24");
    b.sysctl("net.ipv4.conf.all.rp_filter", "0");
    b.sysctl("net.ipv4.conf.vb.rp_filter", "0");
    b.ip(&["route", "add", "default", "via", "10.94.0.1"]);
    a.ip(&["addr", "add", "10.99.0.5/32", "dev", "lo"]);
    (a, b)
}

fn responder(b: &Netns, group: &str, extra: &[&str]) -> Running {
    let mut args = vec!["responder", group, "--iface", "vb", "--json"];
    args.extend_from_slice(extra);
    let r = Running::start_within(b, &args, PATIENCE);
    r.wait_until("the responder to listen", || r.stderr().iter().any(|l| l.contains("answering")));
    r
}

fn interrupt(r: &Running) {
    let pid = r.child.id().to_string();
    let status = std::process::Command::new("kill").args(["-INT", &pid]).status().expect("kill(1)");
    assert!(status.success(), "kill -INT {pid}");
}

/// The refusal lines printed so far with `reason`.
fn refused(r: &Running, reason: &str) -> Vec<Value> {
    r.objects("refused").into_iter().filter(|o| o["reason"] == reason).collect()
}

/// A querier's socket in `a`: bound to `local`, sending to the group out of va with TTL 1, arrival TTL on.
fn querier(a: &Netns, local: SocketAddr) -> McastSocket {
    a.run(move || {
        let s = McastSocket::udp(Family::V4).expect("socket");
        s.set_recv_ttl_v4(true).expect("IP_RECVTTL");
        s.bind(local).expect("bind");
        s.set_multicast_if_v4(A).expect("IP_MULTICAST_IF");
        s.set_multicast_ttl_v4(1).expect("IP_MULTICAST_TTL");
        s
    })
}

fn padded(session: u32, ring: u8) -> Vec<u8> {
    let mut q = vec![0u8; QUERY_LEN];
    let n = encode_query(session, ring, proto::now_ns(), &mut q).expect("query");
    q.truncate(n);
    q
}

/// Receives one answer (waiting up to the patience) and checks its bytes: an answer to `session` ring 1
/// from the responder's address on the group's port, named `name`, for `B`, sent with TTL 64.
fn expect_answer(s: &McastSocket, session: u32, name: &str, port: u16) -> (RecvMeta, usize) {
    let mut buf = [0u8; 2048];
    let meta = s.recv_timeout(&mut buf, PATIENCE).expect("recv").expect("an answer to the honest query");
    assert_eq!(meta.source, SocketAddr::from((B, port)));
    let (h, body) = proto::decode(&buf[..meta.len]).expect("an answer that decodes");
    assert_eq!((h.kind, h.session, h.seq), (Kind::DiscoverAnswer, session, 1));
    // The query left with TTL 1 and crossed no router: it arrived with 1, and the answer says so.
    let want = Answer { name: name.into(), addr: Some(IpAddr::V4(B)), query_ttl: Some(1) };
    assert_eq!(Answer::parse(body).expect("answer body"), want);
    assert_eq!(meta.ttl, Some(ANSWER_TTL), "answers leave with TTL 64 and cross no router here");
    (meta, meta.len)
}

#[test]
fn impossible_and_spoofed_sources_are_refused_and_the_next_honest_query_answered() {
    needs_root!();
    let (a, b) = link("rgsrc");
    let group: SocketAddr = "239.94.0.1:4000".parse().unwrap();
    let r = responder(&b, "239.94.0.1:4000", &["--name", "guarded"]);
    let va = a.ifindex("va");
    let forge = a.run(move || Forge::open(Family::V4, va));
    // The spoofing victim listens: an answer to a forged source would land here.
    let victim = querier(&a, SocketAddr::from((VICTIM, 5000)));
    let q = padded(0x5eed, 1);

    let cases: [(SocketAddr, &str); 3] = [
        (SocketAddr::from((A, 0)), "port_zero"),
        (SocketAddr::from(([10, 94, 0, 255], 5000)), "broadcast"),
        (SocketAddr::from((VICTIM, 5000)), "off_link"),
    ];
    for (src, reason) in cases {
        forge.send(src, group, 1, &q);
        r.wait_until(&format!("a {reason} refusal"), || !refused(&r, reason).is_empty());
        let line = &refused(&r, reason)[0];
        assert_eq!(
            (line["from"].as_str(), line["from_port"].as_u64()),
            (Some(src.ip().to_string().as_str()), Some(u64::from(src.port()))),
            "{line}"
        );
    }
    // A multicast source: Linux drops it on input (RFC 1122, RFC 4291) before any socket; sent anyway.
    forge.send(SocketAddr::from(([224, 0, 0, 9], 5000)), group, 1, &q);

    // The responder is still there and answers an honest, padded query with the right bytes.
    let honest = querier(&a, SocketAddr::from((A, 0)));
    honest.send_to(&padded(0xfeed, 1), group).expect("send the query");
    expect_answer(&honest, 0xfeed, "guarded", 4000);
    let mut buf = [0u8; 2048];
    assert_eq!(victim.recv_timeout(&mut buf, Duration::from_millis(300)).expect("recv"), None, "no reflection");

    interrupt(&r);
    let (_, out, _) = r.finish();
    let objects = common::cli::json(&out);
    let s = common::cli::the_summary(&objects);
    assert_eq!(s["answered"], 1, "{s}");
    assert_eq!(s["send_failed"], 0, "{s}");
    for key in ["port_zero", "broadcast", "off_link"] {
        assert_eq!(s["refused"][key], 1, "{key}: {s}");
    }
    let keys: Vec<&String> = s["refused"].as_object().expect("refused object").keys().collect();
    assert!(keys.iter().all(|k| ["port_zero", "broadcast", "off_link", "multicast"].contains(&k.as_str())), "{s}");
    assert_eq!(common::cli::of_type(&objects, "query").len(), 1, "one answered query line");
}

#[test]
fn an_unpadded_query_with_a_long_name_is_refused_as_oversized() {
    needs_root!();
    let (a, b) = link("rgbig");
    let group: SocketAddr = "239.94.0.2:4001".parse().unwrap();
    let name = "n".repeat(200);
    let r = responder(&b, "239.94.0.2:4001", &["--name", &name]);
    let s = querier(&a, SocketAddr::from((A, 0)));
    // A header-only query, as earlier versions sent: 28 bytes asking for a 234-byte answer.
    let mut q = [0u8; proto::HEADER_LEN];
    proto::encode(Kind::DiscoverQuery, 0xbeef, 1, proto::now_ns(), &[], &mut q).expect("query");
    s.send_to(&q, group).expect("send");
    r.wait_until("an oversized refusal", || !refused(&r, "oversized").is_empty());
    // Padded, the same question is answered, with no more bytes than were sent.
    s.send_to(&padded(0xbeef, 1), group).expect("send");
    let (_, len) = expect_answer(&s, 0xbeef, &name, 4001);
    assert!(len <= QUERY_LEN, "{len} bytes answered to {QUERY_LEN}");
    let mut buf = [0u8; 2048];
    assert_eq!(s.recv_timeout(&mut buf, Duration::from_millis(300)).expect("recv"), None, "one answer only");
    interrupt(&r);
    let (_, out, _) = r.finish();
    let objects = common::cli::json(&out);
    let summary = common::cli::the_summary(&objects);
    assert_eq!((summary["answered"].as_u64(), summary["refused"]["oversized"].as_u64()), (Some(1), Some(1)));
}

/// `--answer-rate 5`: a burst of 5 answers to one source, then 5 a second. 20 queries sent at once: every
/// one is either answered or refused as `source_rate`, at least the burst is answered, and no more than the
/// burst plus what the bucket earned while they were handled; the querier receives exactly the answers
/// counted. Another source has a bucket of its own.
#[test]
fn the_per_source_rate_limit_holds_exactly() {
    needs_root!();
    let (a, b) = link("rgrate");
    let group: SocketAddr = "239.94.0.3:4002".parse().unwrap();
    let r = responder(&b, "239.94.0.3:4002", &["--name", "rated", "--answer-rate", "5"]);
    let s = querier(&a, SocketAddr::from((A, 0)));
    let started = Instant::now();
    for i in 0..20u32 {
        s.send_to(&padded(0x1000 + i, 1), group).expect("send");
    }
    r.wait_until("all 20 accounted", || r.objects("query").len() + refused(&r, "source_rate").len() == 20);
    let elapsed = started.elapsed().as_secs_f64();
    let answered = r.objects("query").len();
    let earned = (elapsed * 5.0).ceil() as usize;
    assert!((5..=5 + earned).contains(&answered), "{answered} answered in {elapsed:.2} s");
    let mut buf = [0u8; 2048];
    let mut got = 0;
    while got < answered {
        let m = s.recv_timeout(&mut buf, PATIENCE).expect("recv").expect("an answer counted was received");
        assert_eq!(proto::decode(&buf[..m.len]).expect("answer").0.kind, Kind::DiscoverAnswer);
        got += 1;
    }
    assert_eq!(s.recv_timeout(&mut buf, Duration::from_millis(300)).expect("recv"), None, "no answer beyond the count");
    // A second on-link source.
    a.ip(&["addr", "add", "10.94.0.3/24", "dev", "va"]);
    let second = querier(&a, SocketAddr::from(([10, 94, 0, 3], 0)));
    second.send_to(&padded(0x3000, 1), group).expect("send");
    let m = second.recv_timeout(&mut buf, PATIENCE).expect("recv").expect("a second source has its own bucket");
    assert_eq!(m.source, SocketAddr::from((B, 4002)));
    interrupt(&r);
    let (_, out, _) = r.finish();
    let objects = common::cli::json(&out);
    let summary = common::cli::the_summary(&objects);
    let (ok, limited) = (summary["answered"].as_u64().unwrap(), summary["refused"]["source_rate"].as_u64().unwrap());
    assert_eq!(ok as usize, answered + 1, "{summary}");
    assert_eq!(ok + limited, 21, "{summary}");
}

/// IPv6: the same link, group ff02::94:1 on vb. A forged query from va's link-local address with source
/// port 0, and one from a spoofed global source that b has no route to, are refused; an honest one from
/// va is answered with hop limit 64 (no router between).
#[test]
fn ipv6_impossible_and_spoofed_sources_are_refused_and_the_honest_query_answered() {
    needs_root!();
    let (a, b) = link("rgsrc6");
    common::wait_ipv6(&a, "va");
    common::wait_ipv6(&b, "vb");
    let va = a.ifindex("va");
    let r = responder(&b, "[ff02::94:1]:4003", &["--name", "guarded6"]);
    let group = SocketAddr::V6(std::net::SocketAddrV6::new("ff02::94:1".parse().unwrap(), 4003, 0, va));
    let ll = a.run(|| mcast::Interface::by_name("va").expect("va").ipv6[0]);
    let forge = a.run(move || Forge::open(Family::V6, va));
    let q = padded(0x6666, 1);
    let cases: [(SocketAddr, &str); 2] = [
        (SocketAddr::new(IpAddr::V6(ll), 0), "port_zero"),
        (SocketAddr::new("2001:db8::5".parse().unwrap(), 5000), "off_link"),
    ];
    for (src, reason) in cases {
        forge.send(src, group, 1, &q);
        r.wait_until(&format!("a {reason} refusal"), || !refused(&r, reason).is_empty());
    }
    let honest = a.run(move || {
        let s = McastSocket::udp(Family::V6).expect("socket");
        s.set_only_v6(true).expect("IPV6_V6ONLY");
        s.set_recv_hoplimit_v6(true).expect("IPV6_RECVHOPLIMIT");
        s.bind("[::]:0".parse().unwrap()).expect("bind");
        s.set_multicast_if_v6(va).expect("IPV6_MULTICAST_IF");
        s.set_multicast_hops_v6(1).expect("IPV6_MULTICAST_HOPS");
        s
    });
    honest.send_to(&padded(0x7777, 1), group).expect("send");
    let mut buf = [0u8; 2048];
    let meta = honest.recv_timeout(&mut buf, PATIENCE).expect("recv").expect("an answer");
    let (h, body) = proto::decode(&buf[..meta.len]).expect("decodes");
    assert_eq!((h.kind, h.session, h.seq), (Kind::DiscoverAnswer, 0x7777, 1));
    let answer = Answer::parse(body).expect("body");
    assert_eq!(answer.name, "guarded6");
    assert!(matches!(answer.addr, Some(IpAddr::V6(x)) if x.segments()[0] == 0xfe80), "{answer:?}");
    assert_eq!(meta.ttl, Some(ANSWER_TTL));
    assert_eq!(meta.source.port(), 4003);
    interrupt(&r);
    let (_, out, _) = r.finish();
    let objects = common::cli::json(&out);
    let s = common::cli::the_summary(&objects);
    assert_eq!(s["answered"], 1, "{s}");
    assert_eq!((s["refused"]["port_zero"].as_u64(), s["refused"]["off_link"].as_u64()), (Some(1), Some(1)), "{s}");
}

/// The resident memory of process `pid` in KiB (`VmRSS` of /proc/PID/status).
fn rss_kib(pid: u32) -> u64 {
    common::status_kib(pid, "VmRSS:").expect("VmRSS of /proc/PID/status")
}

/// 100,000 queries, each from a different forged off-link source (10.200.0.0/16 and up, which b routes
/// through a): the responder's source table stays at its cap, forgetting the idlest and counting them, and its
/// resident memory grows by far less than the policy's 64 MiB. The flood is paced so that the socket buffer
/// does not overflow much; whatever arrives is refused as off-link.
#[test]
fn a_flood_of_forged_sources_leaves_memory_flat() {
    needs_root!();
    let (a, b) = link("rgflood");
    let group: SocketAddr = "239.94.0.4:4004".parse().unwrap();
    let r = responder(&b, "239.94.0.4:4004", &["--name", "flooded"]);
    let running = Instant::now();
    let before = rss_kib(r.child.id());
    let va = a.ifindex("va");
    let forge = a.run(move || Forge::open(Family::V4, va));
    let q = padded(0xf100d, 1);
    let started = Instant::now();
    for i in 0..100_000u32 {
        let src = Ipv4Addr::from(0x0ac8_0000 + i);
        forge.send(SocketAddr::from((src, 5000)), group, 1, &q);
        if i % 100 == 99 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let sent_in = started.elapsed();
    // An honest query after the flood is answered: the responder got through it.
    let honest = querier(&a, SocketAddr::from((A, 0)));
    honest.send_to(&padded(0xfeed, 1), group).expect("send");
    expect_answer(&honest, 0xfeed, "flooded", 4004);
    let after = rss_kib(r.child.id());
    interrupt(&r);
    let (_, out, _) = r.finish();
    let ran = running.elapsed().as_secs_f64();
    let objects = common::cli::json(&out);
    let s = common::cli::the_summary(&objects);
    let off_link = s["refused"]["off_link"].as_u64().unwrap_or(0);
    // Refusal lines: a burst of 20, then at most 10 a second, however many refusals.
    let lines = common::cli::of_type(&objects, "refused").len();
    assert!(lines >= 20 && lines as f64 <= 20.0 + 10.0 * ran.ceil(), "{lines} refusal lines in {ran:.1} s");
    let evicted = s["sources_evicted"].as_u64().expect("sources_evicted");
    eprintln!(
        "flood: sent in {sent_in:?}; {off_link} refused off-link, {evicted} sources evicted, {lines} lines; RSS {before} KiB -> {after} KiB"
    );
    assert_eq!(s["answered"], 1, "{s}");
    assert!(off_link > 4096, "the flood reached the responder: {s}");
    // Every distinct source past the cap (the flood's and the honest querier's) evicted one.
    assert_eq!(evicted, off_link + 1 - 4096, "{s}");
    assert!(after.saturating_sub(before) < 64 * 1024, "RSS {before} KiB -> {after} KiB");
}

/// With `--allow 0.0.0.0/0` the on-link rule is off, so a forged source can make the answer's send fail: one
/// that b's routing table calls unreachable. The failure is counted and reported, and the responder goes on
/// to answer the honest query. A subnet broadcast source stays refused as such, allowed prefix or not.
#[test]
fn sends_that_fail_for_the_peers_sake_are_counted_not_fatal() {
    needs_root!();
    let (a, b) = link("rgsend");
    b.ip(&["route", "add", "unreachable", "10.77.0.0/16"]);
    let group: SocketAddr = "239.94.0.5:4005".parse().unwrap();
    let r = responder(&b, "239.94.0.5:4005", &["--name", "open", "--allow", "0.0.0.0/0"]);
    let va = a.ifindex("va");
    let forge = a.run(move || Forge::open(Family::V4, va));
    let q = padded(0x5e4d, 1);
    forge.send(SocketAddr::from(([10, 94, 0, 255], 5000)), group, 1, &q);
    forge.send(SocketAddr::from(([10, 77, 0, 5], 5000)), group, 1, &q);
    r.wait_until("a refusal and a failed send", || {
        r.objects("refused").len() == 1 && r.objects("send_failed").len() == 1
    });
    let refused = r.objects("refused");
    assert_eq!(
        (refused[0]["from"].as_str(), refused[0]["from_port"].as_u64(), refused[0]["reason"].as_str()),
        (Some("10.94.0.255"), Some(5000), Some("broadcast"))
    );
    let failed = r.objects("send_failed");
    assert_eq!(
        (failed[0]["to"].as_str(), failed[0]["to_port"].as_u64()),
        (Some("10.77.0.5"), Some(5000)),
        "{failed:?}"
    );
    assert!(failed[0]["error"].as_str().unwrap_or("").contains("No route to host"), "{failed:?}");
    let honest = querier(&a, SocketAddr::from((A, 0)));
    honest.send_to(&padded(0xfeed, 1), group).expect("send");
    expect_answer(&honest, 0xfeed, "open", 4005);
    interrupt(&r);
    let (_, out, _) = r.finish();
    let objects = common::cli::json(&out);
    let s = common::cli::the_summary(&objects);
    assert_eq!((s["answered"].as_u64(), s["send_failed"].as_u64()), (Some(1), Some(1)), "{s}");
    assert_eq!(s["refused"], serde_json::json!({"broadcast": 1}), "{s}");
}
