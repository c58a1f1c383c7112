//! A host with several interfaces: a join on one interface gets that interface's traffic only, the arrival
//! interface is reported right, and `--iface` by name, index or address picks the same interface.
//!
//! Topology ([`Routed`] with no router daemon: the middle namespace "m" is a host on both links and
//! forwards no multicast):
//!
//! ```text
//!   h1: v1 10.1.0.2 fd00:1::2  ---  r1 10.1.0.1 fd00:1::1  [m]  r2 10.2.0.1 fd00:2::1  ---  v2 10.2.0.2 fd00:2::2 :h2
//! ```
//!
//! h1 and h2 send the same group and port on their own link with TTL 1; m's receivers join on r1, r2 or
//! both. Datagrams from h2 are sent first, so one that leaked onto an r1-only socket would arrive first.
//! IPv4 and IPv6 differ here, and the IPv6 test pins down how (see there).

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use common::routed::peer::Peer;
use common::routed::{Routed, MCAST};
use common::traffic::{assert_silent, expect_exact, iface, receiver};
use mcast::{Group, IfaceSpec, Interface, Receiver, Sender};
use serde_json::Value;

const PORT: u16 = 5000;
const G4: Ipv4Addr = Ipv4Addr::new(239, 4, 4, 4);
const G6: Ipv6Addr = Ipv6Addr::new(0xff15, 0, 0, 0, 0, 0, 4, 4);

fn group(ip: impl Into<IpAddr>) -> Group {
    Group::new(ip.into(), PORT).expect("a multicast group")
}

/// A sender on subnet `i`'s host out of its link, TTL 1.
fn host_sender(net: &Routed, i: usize, g: Group) -> Sender {
    let s = net.subnet(i);
    let (ifname, bind) = (s.host_if.clone(), SocketAddr::new(s.host_ip(g.ip()), 0));
    s.host.run(move || Sender::builder(g).interface(iface(&ifname)).ttl(1).bind(bind).build()).expect("sender")
}

/// IPv4: m joined on r1 gets h1's datagrams only, m joined on r2 gets h2's only, each with its
/// interface's index; a socket joined on both gets both, each with the interface it came in on. Linux
/// matches an IPv4 datagram against a socket's memberships by group and interface (`ip_mc_sf_allow`).
#[test]
fn ipv4_join_on_one_interface_gets_only_its_traffic() {
    needs_root!();
    let net = Routed::new("if4", 2);
    let g = group(G4);
    let (r1, r2) = (net.router.ifindex("r1"), net.router.ifindex("r2"));
    let (h1, h2) = (net.subnet(1).host_ip(g.ip()), net.subnet(2).host_ip(g.ip()));
    let on_r1 = receiver(&net.router, g, "r1");
    let on_r2 = receiver(&net.router, g, "r2");
    let on_both =
        net.router.run(move || Receiver::builder(g).interface(iface("r1")).interface(iface("r2")).build()).unwrap();
    let (tx1, tx2) = (host_sender(&net, 1, g), host_sender(&net, 2, g));
    for n in 1..=2 {
        let (p1, p2) = (format!("h1 #{n}"), format!("h2 #{n}"));
        tx2.send(p2.as_bytes()).unwrap();
        expect_exact(on_r2.socket(), "joined on r2", p2.as_bytes(), h2, g.ip(), r2);
        tx1.send(p1.as_bytes()).unwrap();
        expect_exact(on_r1.socket(), "joined on r1", p1.as_bytes(), h1, g.ip(), r1);
        expect_exact(on_both.socket(), "joined on both", p2.as_bytes(), h2, g.ip(), r2);
        expect_exact(on_both.socket(), "joined on both", p1.as_bytes(), h1, g.ip(), r1);
    }
    assert_silent(on_r1.socket(), "joined on r1: nothing from h2");
    assert_silent(on_r2.socket(), "joined on r2: nothing from h1");
    assert_silent(on_both.socket(), "joined on both: nothing more");
}

/// IPv6: a socket joined on r1 gets h1's datagrams and not h2's, as long as m is not a member on r2 (the
/// interface drops a group it has not joined). Once another socket joins on r2, Linux hands the r1-only
/// socket h2's datagrams too: an IPv6 datagram accepted by any interface is matched against a socket's
/// memberships by group alone (`inet6_mc_check`), unlike IPv4. The arrival interface in IPV6_PKTINFO
/// stays right (r2), so an application that cares checks it, or binds the socket to the device.
#[test]
fn ipv6_join_on_one_interface_and_the_arrival_interface() {
    needs_root!();
    let net = Routed::new("if6", 2);
    let g = group(G6);
    let (r1, r2) = (net.router.ifindex("r1"), net.router.ifindex("r2"));
    let (h1, h2) = (net.subnet(1).host_ip(g.ip()), net.subnet(2).host_ip(g.ip()));
    let on_r1 = receiver(&net.router, g, "r1");
    let (tx1, tx2) = (host_sender(&net, 1, g), host_sender(&net, 2, g));

    // r2 is not a member: h2's datagram stops at the interface; h1's, sent after it, comes first.
    tx2.send(b"h2, r2 not joined").unwrap();
    tx1.send(b"h1 #1").unwrap();
    expect_exact(on_r1.socket(), "joined on r1", b"h1 #1", h1, g.ip(), r1);
    assert_silent(on_r1.socket(), "joined on r1 while r2 is not a member");

    // Another socket makes r2 a member: both sockets now get h2's datagram, each told it came in on r2.
    let on_r2 = receiver(&net.router, g, "r2");
    tx2.send(b"h2, r2 joined").unwrap();
    expect_exact(on_r2.socket(), "joined on r2", b"h2, r2 joined", h2, g.ip(), r2);
    expect_exact(on_r1.socket(), "joined on r1, group matched alone", b"h2, r2 joined", h2, g.ip(), r2);
    tx1.send(b"h1 #2").unwrap();
    expect_exact(on_r1.socket(), "joined on r1", b"h1 #2", h1, g.ip(), r1);
    expect_exact(on_r2.socket(), "joined on r2, group matched alone", b"h1 #2", h1, g.ip(), r1);
    assert_silent(on_r1.socket(), "joined on r1 at the end");
    assert_silent(on_r2.socket(), "joined on r2 at the end");
}

/// The three spellings of r1 that `--iface` takes: name, index, each of its addresses.
fn r1_spellings(net: &Routed) -> Vec<String> {
    let s = net.subnet(1);
    vec!["r1".to_string(), net.router.ifindex("r1").to_string(), s.router4.to_string(), s.router6.to_string()]
}

#[test]
fn iface_by_name_index_and_address_resolve_to_one_interface() {
    needs_root!();
    let net = Routed::new("spec", 2);
    let specs: Vec<IfaceSpec> = r1_spellings(&net).iter().map(|s| s.parse().expect("an interface spec")).collect();
    assert!(matches!(specs[0], IfaceSpec::Name(_)) && matches!(specs[1], IfaceSpec::Index(_)));
    assert!(matches!(specs[2], IfaceSpec::Addr(IpAddr::V4(_))) && matches!(specs[3], IfaceSpec::Addr(IpAddr::V6(_))));
    let found: Vec<Interface> =
        net.router.run(move || specs.iter().map(|s| s.resolve().expect("resolves in m")).collect());
    assert_eq!(found[0].name, "r1");
    assert_eq!(found[0].index, net.router.ifindex("r1"));
    for f in &found[1..] {
        assert_eq!(f, &found[0], "every spelling names r1");
    }
    // And not r2 by accident: r2's address names r2.
    let r2 = net.subnet(2).router4;
    let other = net.router.run(move || IfaceSpec::Addr(r2.into()).resolve().expect("r2"));
    assert_eq!(other.name, "r2");
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

/// `mcast recv --iface SPEC --count 1` in m, for each spelling of r1 and both families: while h2 sends on
/// r2's link first, the one datagram it prints is h1's, with r1's name and index.
#[test]
fn recv_iface_by_name_index_and_address_hears_only_that_link() {
    needs_root!();
    let net = Routed::new("recvspec", 2);
    let r1 = net.router.ifindex("r1");
    for g in [group(G4), group(G6)] {
        let tx1 = host_sender(&net, 1, g);
        let tx2 = host_sender(&net, 2, g);
        let h1 = net.subnet(1).host_ip(g.ip());
        for spec in r1_spellings(&net) {
            let name = format!("mcast recv {g} --iface {spec}");
            let target = g.to_string();
            let args = ["recv", &target, "--iface", &spec, "--count", "1", "--timeout", "10", "--json"];
            let mut rx = Peer::start(&net.router, &net.scratch, &name, MCAST, &args);
            rx.wait_stderr("listening on port");
            tx2.send(b"from h2, on r2's link").unwrap();
            let payload = format!("from h1 for --iface {spec}");
            tx1.send(payload.as_bytes()).unwrap();
            let status = rx.wait();
            assert!(status.success(), "{name}: {status}\n{}", rx.report());
            let lines = json_lines(&rx.stdout_text());
            let datagrams: Vec<&Value> = lines.iter().filter(|v| v["type"] == "datagram").collect();
            assert_eq!(datagrams.len(), 1, "{name}: {lines:?}");
            let d = datagrams[0];
            assert_eq!(d["payload"], payload.as_str(), "{name}");
            assert_eq!(d["source"], h1.to_string().as_str(), "{name}");
            assert_eq!(d["group"], g.ip().to_string().as_str(), "{name}");
            assert_eq!(d["iface"], "r1", "{name}");
            assert_eq!(d["ifindex"], u64::from(r1), "{name}");
            assert_eq!(d["ttl"], 1, "{name}");
            let summary = lines.last().expect("a summary");
            assert_eq!((&summary["type"], &summary["datagrams"]), (&Value::from("summary"), &Value::from(1)));
        }
    }
}

/// `mcast send --iface SPEC` from m, for each spelling of r1 and both families: h1 gets the datagram with
/// r1's address as its source; h2's first datagram is the control sent next with `--iface r2`.
#[test]
fn send_iface_by_name_index_and_address_leaves_by_that_link() {
    needs_root!();
    let net = Routed::new("sendspec", 2);
    let (v1, v2) = (net.host(1).ifindex("v1"), net.host(2).ifindex("v2"));
    for g in [group(G4), group(G6)] {
        let on_h1 = receiver(net.host(1), g, "v1");
        let on_h2 = receiver(net.host(2), g, "v2");
        let (m1, m2) = (net.subnet(1).router_ip(g.ip()), net.subnet(2).router_ip(g.ip()));
        let send = |spec: &str, payload: &str| {
            let target = g.to_string();
            let name = format!("mcast send {g} --iface {spec}");
            let mut tx =
                Peer::start(&net.router, &net.scratch, &name, MCAST, &["send", &target, "--iface", spec, payload]);
            let status = tx.wait();
            assert!(status.success(), "{name}: {status}\n{}", tx.report());
        };
        for spec in r1_spellings(&net) {
            let payload = format!("via --iface {spec}");
            send(&spec, &payload);
            expect_exact(on_h1.socket(), &payload, payload.as_bytes(), m1, g.ip(), v1);
            send("r2", "control via r2");
            expect_exact(on_h2.socket(), "control", b"control via r2", m2, g.ip(), v2);
        }
        assert_silent(on_h1.socket(), "h1 after the sends");
        assert_silent(on_h2.socket(), "h2 after the controls");
    }
}
