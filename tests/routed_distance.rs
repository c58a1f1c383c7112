//! The router distance across a chain of one, two and three routers: ssmping answers leave with TTL (hop
//! limit) 64, each router takes one, and both `mcast ping --ssmping` and the real `ssmping` report the number
//! of routers exactly, whichever side is mcast's.
//!
//! Topology ([`Chain`], N routers forwarding unicast by static routes, no multicast routing):
//!
//! ```text
//!   h1: v 10.90.0.1 fd00:90::1 -- r1 -- 10.91.0.0/24 -- r2 -- ... -- rN -- v 10.9N.0.2 fd00:9N::2 :h2
//! ```
//!
//! The queries and unicast answers cross the routers; the multicast answers do not (no router forwards
//! multicast here), so the prober's multicast row shows every answer lost, and no distance. For `mcast
//! discover` and the multicast `mcast ping` each router also runs `smcrouted` with (S,G) routes, so the queries
//! cross (and the multicast answers come back).
mod common;
mod tools_support;

use common::routed::peer::{Peer, Scratch};
use common::traffic::wait_until;
use common::{veth, wait_ipv6, Netns};
use tools_support::Proc;

/// Hosts h1 and h2 joined by `n` router namespaces in a row; link `k` (0..=n) is 10.(90+k).0.0/24 and
/// fd00:(90+k)::/64, its left end .1, its right end .2.
struct Chain {
    h1: Netns,
    h2: Netns,
    /// The routers, h1 side first.
    routers: Vec<Netns>,
    n: usize,
}

impl Chain {
    fn new(tag: &str, n: usize) -> Chain {
        let h1 = Netns::new(&format!("{tag}h1"));
        let h2 = Netns::new(&format!("{tag}h2"));
        let routers: Vec<Netns> = (1..=n).map(|i| Netns::new(&format!("{tag}r{i}"))).collect();
        let v4 = |k: usize, end: u8| format!("10.{}.0.{end}", 90 + k);
        let v6 = |k: usize, end: u8| format!("fd00:{}::{end}", 90 + k);
        for k in 0..=n {
            let left = if k == 0 { &h1 } else { &routers[k - 1] };
            let right = if k == n { &h2 } else { &routers[k] };
            let (lif, rif) = (
                if k == 0 { "v".to_string() } else { format!("b{k}") },
                if k == n { "v".to_string() } else { format!("a{k}") },
            );
            veth(left, &lif, &format!("{}/24", v4(k, 1)), right, &rif, &format!("{}/24", v4(k, 2)));
            left.ip(&["-6", "addr", "add", &format!("{}/64", v6(k, 1)), "dev", &lif, "nodad"]);
            right.ip(&["-6", "addr", "add", &format!("{}/64", v6(k, 2)), "dev", &rif, "nodad"]);
            wait_ipv6(left, &lif);
            wait_ipv6(right, &rif);
        }
        h1.ip(&["route", "add", "default", "via", &v4(0, 2)]);
        h1.ip(&["-6", "route", "add", "default", "via", &v6(0, 2)]);
        h2.ip(&["route", "add", "default", "via", &v4(n, 1)]);
        h2.ip(&["-6", "route", "add", "default", "via", &v6(n, 1)]);
        // Router i sits between links i-1 (its left) and i (its right).
        for (i, r) in routers.iter().enumerate().map(|(i, r)| (i + 1, r)) {
            r.sysctl("net.ipv4.ip_forward", "1");
            r.sysctl("net.ipv6.conf.all.forwarding", "1");
            for k in 0..=n {
                let (net4, net6) = (format!("10.{}.0.0/24", 90 + k), format!("fd00:{}::/64", 90 + k));
                if k + 1 < i {
                    r.ip(&["route", "add", &net4, "via", &v4(i - 1, 1)]);
                    r.ip(&["-6", "route", "add", &net6, "via", &v6(i - 1, 1)]);
                } else if k > i {
                    r.ip(&["route", "add", &net4, "via", &v4(i, 2)]);
                    r.ip(&["-6", "route", "add", &net6, "via", &v6(i, 2)]);
                }
            }
        }
        Chain { h1, h2, routers, n }
    }

    /// Starts `smcrouted` in every router with the (S,G) routes `(source, group, toward h2)`, each from the
    /// router's h1 side to its h2 side or back, and waits until each kernel has them (`/proc/net/ip_mr_cache`).
    fn route(&self, dir: &Scratch, routes: &[(&str, &str, bool)]) -> Vec<Peer> {
        let mut daemons = Vec::new();
        for (i, r) in self.routers.iter().enumerate().map(|(i, r)| (i + 1, r)) {
            let (left, right) = (format!("a{}", i - 1), format!("b{i}"));
            let mut text = format!("phyint {left} enable\nphyint {right} enable\n");
            for (source, group, east) in routes {
                let (from, to) = if *east { (&left, &right) } else { (&right, &left) };
                text.push_str(&format!("mroute from {from} source {source} group {group} to {to}\n"));
            }
            std::fs::write(dir.file(&format!("r{i}.conf")), text).expect("write smcroute.conf");
            let path = |name: &str| dir.file(&format!("r{i}.{name}")).to_str().expect("UTF-8 path").to_string();
            let args = ["-n", "-N", "-f", &path("conf"), "-u", &path("sock"), "-P", &path("pid")];
            daemons.push(Peer::start(r, dir, &format!("smcrouted r{i}"), "smcrouted", &args));
            wait_until("the (S,G) routes in the kernel", || {
                tools_support::sh(r, "cat", &["/proc/net/ip_mr_cache"]).lines().count() > routes.len()
            });
        }
        daemons
    }

    /// h2's address of the family.
    fn far(&self, v6: bool) -> String {
        if v6 {
            format!("fd00:{}::2", 90 + self.n)
        } else {
            format!("10.{}.0.2", 90 + self.n)
        }
    }
}

/// `mcast ping --ssmping` in h1 against `mcast ping --serve` in h2 across `n` routers: the unicast row has
/// every answer, arrived with TTL 64 - n, at distance n; the multicast row has every answer lost.
fn mcast_both_sides(tag: &str, n: usize, v6: bool) {
    let chain = Chain::new(tag, n);
    let (join, allow) = if v6 { ("[ff3e::4321:1234]:4321", "::/0") } else { ("232.43.211.234:4321", "0.0.0.0/0") };
    let serve = Proc::ready(
        &chain.h2,
        &["ping", "--serve", join, "--iface", "v", "--allow", allow, "--count", "4", "--timeout", "60", "--json"],
        "answering",
    );
    let far = chain.far(v6);
    let got = tools_support::run(
        &chain.h1,
        &["ping", "--ssmping", &far, "--iface", "v", "--count", "4", "--interval", "0.2", "--wait", "2", "--json"],
    )
    .ok();
    let served = serve.finish().ok();
    assert_eq!(served.one("summary").int("ssmping_answered"), 4, "{}", served.stdout);
    assert!(served.json("ssmping").iter().all(|q| q.int("ttl") == 64 - n as u64), "{}", served.stdout);
    let mut rows = got.json("responder");
    rows.sort_by_key(|r| r.str("kind"));
    assert_eq!(rows.len(), 2, "{}", got.stdout);
    let (m, u) = (&rows[0], &rows[1]);
    assert_eq!((u.str("kind").as_str(), u.int("received"), u.int("lost")), ("unicast", 4, 0), "{u:?}");
    assert_eq!((u.int("ttl"), u.int("distance")), (64 - n as u64, n as u64), "{u:?}");
    assert_eq!((m.str("kind").as_str(), m.int("sent"), m.int("received"), m.int("lost")), ("multicast", 4, 0, 4));
    assert!(m.get("distance").map_or(true, |d| d.is_null()), "{m:?}");
}

#[test]
fn ssmping_one_router_away() {
    needs_root!();
    mcast_both_sides("dist1", 1, false);
}

#[test]
fn ssmping_two_routers_away() {
    needs_root!();
    mcast_both_sides("dist2", 2, false);
}

#[test]
fn ssmping_three_routers_away() {
    needs_root!();
    mcast_both_sides("dist3", 3, false);
}

#[test]
fn ssmping_three_routers_away_over_ipv6() {
    needs_root!();
    mcast_both_sides("dist6", 3, true);
}

/// The real ssmping in h1 against `mcast ping --serve` in h2, and `mcast ping --ssmping` in h1 against the
/// real ssmpingd in h2, three routers apart: both clients say `dist=3` for every unicast answer.
#[test]
fn real_ssmping_tools_agree_on_three_routers() {
    needs_root!();
    let chain = Chain::new("distr", 3);
    let far = chain.far(false);
    let serve = Proc::ready(
        &chain.h2,
        &["ping", "--serve", "232.43.211.234:4321", "--iface", "v", "--allow", "0.0.0.0/0", "--timeout", "30"],
        "answering",
    );
    let out = chain.h1.command("ssmping").args(["-4", "-I", "v", "-c", "3", &far]).output().expect("ssmping");
    drop(serve);
    let text = String::from_utf8_lossy(&out.stdout);
    let unicast: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with("unicast from")).collect();
    assert_eq!(unicast.len(), 3, "{text}");
    assert!(unicast.iter().all(|l| l.contains(" dist=3 ")), "{text}");

    let dir = Scratch::new("distr");
    let mut d = Peer::start(&chain.h2, &dir, "ssmpingd", "ssmpingd", &[]);
    wait_until("ssmpingd listening", || tools_support::sh(&chain.h2, "cat", &["/proc/net/udp"]).contains(":10E1 "));
    let got = tools_support::run(
        &chain.h1,
        &["ping", "--ssmping", &far, "--iface", "v", "--count", "3", "--interval", "0.2", "--wait", "2", "--json"],
    )
    .ok();
    d.stop("TERM");
    let unicast = got.json("responder").into_iter().find(|r| r.str("kind") == "unicast").expect("a unicast row");
    assert_eq!((unicast.int("received"), unicast.int("distance")), (3, 3), "{unicast:?}");
}

/// `mcast discover` in h1 finds the responder in h2 across `n` routers at the first ring that reaches it (TTL
/// n + 1 or more: 2, 4, 4 for one, two and three routers), and reports the distance exactly both ways: the
/// answer arrived with 64 - n, the query with ring - n.
fn discover_across(tag: &str, n: usize, ring: u64) {
    let chain = Chain::new(tag, n);
    let dir = Scratch::new(tag);
    let group = "239.90.0.9";
    let mut daemons = chain.route(&dir, &[("10.90.0.1", group, true)]);
    let target = format!("{group}:4390");
    let responder = Proc::ready(
        &chain.h2,
        &["responder", &target, "--name", "far", "--iface", "v", "--allow", "0.0.0.0/0", "--timeout", "60"],
        "answering",
    );
    let got = tools_support::run(
        &chain.h1,
        &["discover", &target, "--iface", "v", "--max-ttl", "8", "--wait", "1", "--json"],
    )
    .ok();
    drop(responder);
    for d in &mut daemons {
        d.stop("TERM");
    }
    let found = got.json("found");
    assert_eq!(found.len(), 1, "{}", got.stdout);
    let f = &found[0];
    assert_eq!((f.str("name").as_str(), f.int("ttl")), ("far", ring), "{f:?}");
    assert_eq!((f.int("distance"), f.int("query_distance")), (n as u64, n as u64), "{f:?}");
}

#[test]
fn discover_one_router_away() {
    needs_root!();
    discover_across("disc1", 1, 2);
}

#[test]
fn discover_two_routers_away() {
    needs_root!();
    discover_across("disc2", 2, 4);
}

#[test]
fn discover_three_routers_away() {
    needs_root!();
    discover_across("disc3", 3, 4);
}

/// `mcast ping` (multicast probes, TTL 8) in h1 and `mcast ping --serve` (multicast answers, TTL 8) in h2 with
/// routes both ways across `n` routers: every answer arrives on both rows; the unicast one, sent with TTL 64,
/// gives the distance, the multicast one arrives with 8 - n and gives none (its TTL is the responder's).
fn ping_across(tag: &str, n: usize) {
    let chain = Chain::new(tag, n);
    let dir = Scratch::new(tag);
    let group = "239.90.0.10";
    let far = chain.far(false);
    let mut daemons = chain.route(&dir, &[("10.90.0.1", group, true), (&far, group, false)]);
    let target = format!("{group}:4391");
    let serve = Proc::ready(
        &chain.h2,
        &["ping", "--serve", &target, "--iface", "v", "--ttl", "8", "--allow", "0.0.0.0/0", "--count", "5"],
        "answering",
    );
    let args = ["ping", &target, "--iface", "v", "--ttl", "8", "--count", "5", "--interval", "0.2", "--wait", "2"];
    let got = tools_support::run(&chain.h1, &[&args[..], &["--json"]].concat()).ok();
    serve.finish().ok();
    for d in &mut daemons {
        d.stop("TERM");
    }
    let mut rows = got.json("responder");
    rows.sort_by_key(|r| r.str("kind"));
    assert_eq!(rows.len(), 2, "{}", got.stdout);
    let (m, u) = (&rows[0], &rows[1]);
    assert!(rows.iter().all(|r| r.str("responder") == far && r.int("received") == 5), "{}", got.stdout);
    assert_eq!((u.int("ttl"), u.int("distance")), (64 - n as u64, n as u64), "{u:?}");
    assert_eq!(m.int("ttl"), 8 - n as u64, "{m:?}");
    assert!(m.get("distance").map_or(true, |d| d.is_null()), "{m:?}");
}

#[test]
fn ping_one_router_away() {
    needs_root!();
    ping_across("ping1", 1);
}

#[test]
fn ping_three_routers_away() {
    needs_root!();
    ping_across("ping3", 3);
}
