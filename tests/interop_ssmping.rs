//! ssmping interop (draft-ietf-mboned-ssmping), both ways, IPv4 and IPv6: the Debian `ssmping` package's
//! `ssmping` and `asmping` against `mcast ping --serve`, and `mcast ping --ssmping` against its `ssmpingd`.
//!
//! Topology ([`Link`]):
//!
//! ```text
//!   a: va 10.0.0.1/24 fd00:1::1/64  <-- veth -->  b: vb 10.0.0.2/24 fd00:1::2/64
//! ```
//!
//! The clients name their interface (`-I va`): each namespace routes multicast to `lo` by default.
mod common;
mod tools_support;

use common::routed::peer::{Peer, Scratch};
use common::traffic::{wait_until, Link};
use common::Netns;
use tools_support::Proc;

/// Runs an ssmping-package client in `ns` to its end: its standard output, failing the test if it failed.
fn client(ns: &Netns, prog: &str, args: &[&str]) -> String {
    let out = ns
        .command(prog)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {prog} (Debian package ssmping): {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{prog} {args:?}: {:?}\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The count in an ssmping summary line "   N packets received, ..." under `heading` ("unicast:" or
/// "multicast:").
fn received(text: &str, heading: &str) -> u64 {
    let mut lines = text.lines().skip_while(|l| l.trim() != heading).skip(1);
    let line = lines.next().unwrap_or_else(|| panic!("no {heading} in {text}"));
    line.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no count: {line}"))
}

/// The answer lines of a client's output, as (kind, seq, dist): "  unicast from 10.0.0.2, seq=1 dist=0 time=...".
fn answers(text: &str, server: &str) -> Vec<(String, u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let field = |k: &str| w.iter().find_map(|x| x.strip_prefix(k)).and_then(|v| v.parse().ok());
            match w.as_slice() {
                [kind, "from", who, ..] if who.trim_end_matches(',') == server => {
                    Some((kind.to_string(), field("seq=")?, field("dist=")?))
                }
                _ => None,
            }
        })
        .collect()
}

/// `mcast ping --serve GROUP:4321` in b answers the real client in a: three queries, each answered by unicast
/// and to the group, at distance 0 (the answers left with TTL 64 and crossed no router); the server reports
/// each query as ssmping, from a's address.
fn real_client_against_mcast(tag: &str, family: &str, join: &str, prog: &str, args: &[&str], server: &str, from: &str) {
    let link = Link::new(tag);
    let serve = Proc::ready(
        &link.b,
        &["ping", "--serve", join, "--iface", "vb", "--count", "3", "--timeout", "60", "--json"],
        "answering",
    );
    let mut all = vec![family, "-I", "va", "-c", "3"];
    all.extend_from_slice(args);
    let out = client(&link.a, prog, &all);
    let served = serve.finish().ok();
    assert_eq!(received(&out, "unicast:"), 3, "{out}");
    assert_eq!(received(&out, "multicast:"), 3, "{out}");
    let got = answers(&out, server);
    assert_eq!(got.len(), 6, "{out}");
    for kind in ["unicast", "multicast"] {
        let seqs: Vec<u64> = got.iter().filter(|(k, _, _)| k == kind).map(|(_, s, _)| *s).collect();
        assert_eq!(seqs, [1, 2, 3], "{kind}: {out}");
    }
    assert!(got.iter().all(|(_, _, d)| *d == 0), "no router between: {out}");
    let summary = served.one("summary");
    assert_eq!((summary.int("answered"), summary.int("ssmping_answered")), (3, 3), "{}", served.stdout);
    let queries = served.json("ssmping");
    assert_eq!(queries.iter().map(|q| q.int("seq")).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(queries.iter().all(|q| q.str("from") == from && q.int("from_port") > 0), "{queries:?}");
}

#[test]
fn ssmping_v4_against_mcast_ping_serve() {
    needs_root!();
    real_client_against_mcast("ssq4", "-4", "232.43.211.234:4321", "ssmping", &["10.0.0.2"], "10.0.0.2", "10.0.0.1");
}

#[test]
fn ssmping_v6_against_mcast_ping_serve() {
    needs_root!();
    let join = "[ff3e::4321:1234]:4321";
    real_client_against_mcast("ssq6", "-6", join, "ssmping", &["fd00:1::2"], "fd00:1::2", "fd00:1::1");
}

#[test]
fn asmping_v4_against_mcast_ping_serve() {
    needs_root!();
    let args = ["239.8.7.234", "10.0.0.2"];
    real_client_against_mcast("asq4", "-4", "239.8.7.234:4321", "asmping", &args, "10.0.0.2", "10.0.0.1");
}

#[test]
fn asmping_v6_against_mcast_ping_serve() {
    needs_root!();
    let args = ["ff05::4321:1234", "fd00:1::2"];
    real_client_against_mcast("asq6", "-6", "[ff05::4321:1234]:4321", "asmping", &args, "fd00:1::2", "fd00:1::1");
}

/// A datagram of neither protocol to the server's port is refused as foreign and counted in its summary; a
/// query naming a group ssmpingd would not answer to is refused too, and nothing is sent for either.
#[test]
fn what_the_server_does_not_speak_is_counted_as_foreign() {
    needs_root!();
    let link = Link::new("ssqf");
    let serve = Proc::ready(
        &link.b,
        &["ping", "--serve", "232.43.211.234:4321", "--iface", "vb", "--timeout", "3", "--json"],
        "answering",
    );
    link.a.run(|| {
        let s = std::net::UdpSocket::bind("10.0.0.1:0").unwrap();
        s.send_to(b"GET / HTTP/1.0\r\n\r\n", "10.0.0.2:4321").unwrap();
        // A query whose group option names 239.1.2.3: not a group ssmpingd answers to.
        s.send_to(&[b'Q', 0, 4, 0, 5, 1, 239, 1, 2, 3], "10.0.0.2:4321").unwrap();
    });
    let served = serve.finish().ok();
    let summary = served.one("summary");
    assert_eq!(summary.int("answered"), 0, "{}", served.stdout);
    assert_eq!(summary.get("refused").and_then(|r| r["foreign"].as_u64()), Some(2), "{}", served.stdout);
    let refused = served.json("refused");
    assert_eq!(refused.len(), 2, "{}", served.stdout);
    assert!(refused.iter().all(|r| r.str("from") == "10.0.0.1" && r.str("reason") == "foreign"));
}

/// Starts the real ssmpingd in `ns` and waits until it listens on port 4321 (both families).
fn ssmpingd(ns: &Netns, dir: &Scratch) -> Peer {
    let d = Peer::start(ns, dir, "ssmpingd", "ssmpingd", &[]);
    wait_until("ssmpingd listening on 4321", || {
        ["/proc/net/udp", "/proc/net/udp6"].iter().all(|f| tools_support::sh(ns, "cat", &[f]).contains(":10E1 "))
    });
    d
}

/// `mcast ping --ssmping HOST [GROUP]` in a against the real ssmpingd in b: every query answered by unicast
/// and to the group, each row at distance 0, and ssmpingd saw each query from a.
fn mcast_against_ssmpingd(tag: &str, host: &str, group: Option<&str>, client: &str) {
    let link = Link::new(tag);
    let dir = Scratch::new(tag);
    let mut d = ssmpingd(&link.b, &dir);
    let mut args = vec!["ping", "--ssmping", host];
    args.extend(group);
    args.extend(["--iface", "va", "--count", "5", "--interval", "0.2", "--wait", "2", "--json"]);
    let got = tools_support::run(&link.a, &args).ok();
    d.stop("TERM");
    let mut rows: Vec<_> = got.json("responder");
    rows.sort_by_key(|r| r.str("kind"));
    assert_eq!(rows.len(), 2, "{}", got.stdout);
    for (row, kind) in rows.iter().zip(["multicast", "unicast"]) {
        assert_eq!((row.str("responder"), row.str("kind")), (host.to_string(), kind.to_string()));
        assert_eq!((row.int("sent"), row.int("received"), row.int("lost")), (5, 5, 0), "{kind}: {row:?}");
        assert_eq!((row.int("ttl"), row.int("distance")), (64, 0), "{kind}: {row:?}");
        assert!(row.num("rtt_min_ms") > 0.0);
    }
    let mut seqs: Vec<(String, u64)> = got.json("reply").iter().map(|r| (r.str("kind"), r.int("seq"))).collect();
    seqs.sort();
    let want: Vec<(String, u64)> =
        ["multicast", "unicast"].iter().flat_map(|k| (1..=5).map(move |s| (k.to_string(), s))).collect();
    assert_eq!(seqs, want);
    let heard = d.stdout_text().lines().filter(|l| l.starts_with(&format!("received request from {client}"))).count();
    assert_eq!(heard, 5, "{}", d.stdout_text());
}

#[test]
fn mcast_ping_ssmping_v4_against_ssmpingd() {
    needs_root!();
    mcast_against_ssmpingd("ssd4", "10.0.0.2", None, "10.0.0.1");
}

#[test]
fn mcast_ping_ssmping_v6_against_ssmpingd() {
    needs_root!();
    mcast_against_ssmpingd("ssd6", "fd00:1::2", None, "fd00:1::1");
}

#[test]
fn mcast_ping_asmping_v4_against_ssmpingd() {
    needs_root!();
    mcast_against_ssmpingd("asd4", "10.0.0.2", Some("239.8.7.234"), "10.0.0.1");
}

#[test]
fn mcast_ping_asmping_v6_against_ssmpingd() {
    needs_root!();
    mcast_against_ssmpingd("asd6", "fd00:1::2", Some("ff05::4321:1234"), "fd00:1::1");
}

/// mcfirst, a third party joined to the channel (b, 232.43.211.234) on port 4321 in a, hears the multicast
/// answers `mcast ping --serve` in b sends to a prober's probes there.
#[test]
fn mcfirst_hears_the_servers_answers_on_the_channel() {
    needs_root!();
    let link = Link::new("ssmf");
    let dir = Scratch::new("ssmf");
    let group = "232.43.211.234:4321";
    let serve = Proc::ready(&link.b, &["ping", "--serve", group, "--iface", "vb", "--timeout", "30"], "answering");
    let mut first = Peer::start(
        &link.a,
        &dir,
        "mcfirst",
        "mcfirst",
        &["-4", "-I", "va", "-c", "3", "10.0.0.2", "232.43.211.234", "4321"],
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let prober = tools_support::run(
        &link.a,
        &["ping", group, "--iface", "va", "--source", "10.0.0.2", "--count", "20", "--interval", "0.1", "--json", "-q"],
    )
    .ok();
    let status = first.wait();
    drop(serve);
    let out = first.stdout_text();
    assert!(status.success(), "{}", first.report());
    // The answers to probes of no payload: 28 bytes, with the server's multicast TTL (1 by default).
    let heard = out.lines().filter(|l| l.starts_with("Received 28 bytes from 10.0.0.2 after ")).count();
    assert_eq!(heard, 3, "{out}");
    assert!(out.lines().filter(|l| l.starts_with("Received ")).all(|l| l.ends_with("(ttl/hops 1)")), "{out}");
    assert!(out.contains("mcfirst joined (S,G) = (10.0.0.2,232.43.211.234)"), "{out}");
    let rows = prober.json("responder");
    assert!(rows.iter().all(|r| r.str("responder") == "10.0.0.2" && r.int("received") > 0), "{}", prober.stdout);
}
