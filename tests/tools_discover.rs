//! `mcast discover` and `mcast responder`: the expanding-ring search finds a responder on this host at TTL 0
//! and one across a link at TTL 1, each with its name and address.
mod common;
mod tools_support;

use common::{veth, veth_pair_in, Netns};
use tools_support::{Obj, Proc};

fn found(f: &tools_support::Finished) -> Vec<Obj> {
    let mut v = f.json("found");
    v.sort_by_key(|o| o.int("ttl"));
    v
}

/// Topology: `a` (10.91.0.1, va) <-veth-> `b` (10.91.0.2, vb). Responder "near" in `a` joined on va,
/// responder "far" in `b` joined on vb; discover in `a` sends out of va.
#[test]
fn discover_finds_this_host_at_ttl_0_and_the_neighbour_at_ttl_1() {
    needs_root!();
    let a = Netns::new("disca");
    let b = Netns::new("discb");
    veth(&a, "va", "10.91.0.1/24", &b, "vb", "10.91.0.2/24");
    let group = "239.91.0.1:4000";
    let near = Proc::ready(
        &a,
        &["responder", group, "--name", "near", "--iface", "va", "--timeout", "60", "--json"],
        "answering",
    );
    let far = Proc::ready(
        &b,
        &["responder", group, "--name", "far", "--iface", "vb", "--timeout", "60", "--json"],
        "answering",
    );

    // Without --all the search stops at the first ring that answered: TTL 0, this host only.
    let first =
        tools_support::run(&a, &["discover", group, "--iface", "va", "--max-ttl", "8", "--wait", "1", "--json"]).ok();
    let f = found(&first);
    assert_eq!(f.len(), 1, "{}", first.stdout);
    assert_eq!((f[0].str("name"), f[0].str("addr"), f[0].int("ttl")), ("near".into(), "10.91.0.1".into(), 0));
    assert_eq!(first.one("summary").int("max_ttl"), 0);
    assert_eq!(first.json("ring").len(), 1);

    // With --all it widens to 8; the neighbour is first found at TTL 1.
    let all = tools_support::run(
        &a,
        &["discover", group, "--iface", "va", "--max-ttl", "8", "--wait", "1", "--all", "--json"],
    )
    .ok();
    let f = found(&all);
    assert_eq!(f.len(), 2, "{}", all.stdout);
    assert_eq!((f[0].str("name"), f[0].str("addr"), f[0].int("ttl")), ("near".into(), "10.91.0.1".into(), 0));
    assert_eq!((f[1].str("name"), f[1].str("addr"), f[1].int("ttl")), ("far".into(), "10.91.0.2".into(), 1));
    assert_eq!(f[1].str("from"), "10.91.0.2");
    let rings: Vec<u64> = all.json("ring").iter().map(|r| r.int("ttl")).collect();
    assert_eq!(rings, [0, 1, 2, 4, 8]);
    assert_eq!(all.one("summary").int("found"), 2);

    drop(near);
    drop(far);
    // With nobody answering, discover says so and exits 1.
    let none =
        tools_support::run(&a, &["discover", group, "--iface", "va", "--max-ttl", "1", "--wait", "0.3", "--json"]);
    assert_eq!(none.code, Some(1), "{none:?}");
    assert_eq!(none.one("summary").int("found"), 0);
    assert!(none.stderr.contains("no responder answered"), "{}", none.stderr);
}

/// Topology: one namespace with a veth pair va/vb; IPv6 group ff02::91:1. A responder joined on va hears
/// hop limit 0 (looped back on va); one joined on vb needs hop limit 1 to cross.
#[test]
fn discover_over_ipv6_rings_by_hop_limit() {
    needs_root!();
    let ns = Netns::new("disc6");
    veth_pair_in(&ns, "va", "vb");
    let group = "[ff02::91:1]:4001";
    let _near =
        Proc::ready(&ns, &["responder", group, "--name", "near6", "--iface", "va", "--timeout", "60"], "answering");
    let _far =
        Proc::ready(&ns, &["responder", group, "--name", "far6", "--iface", "vb", "--timeout", "60"], "answering");
    let all = tools_support::run(
        &ns,
        &["discover", group, "--iface", "va", "--max-ttl", "2", "--wait", "1", "--all", "--json"],
    )
    .ok();
    let f = found(&all);
    assert_eq!(f.len(), 2, "{}", all.stdout);
    assert_eq!((f[0].str("name"), f[0].int("ttl")), ("near6".into(), 0));
    assert_eq!((f[1].str("name"), f[1].int("ttl")), ("far6".into(), 1));
    for o in &f {
        assert!(o.str("addr").starts_with("fe80::"), "link-local address of the interface: {o:?}");
    }
}

/// Topology: `a` (10.93.0.1, va) <-veth-> `b` (10.93.0.2, vb); the only responder is in `b`, and nothing in `a`
/// is a member of the group. Linux would transmit a TTL-0 datagram from a host that is not a member, so ring 0
/// must still reach nobody across the link: the responder sees no query until ring 1.
#[test]
fn ring_0_stays_on_this_host_when_no_member_is_here() {
    needs_root!();
    let a = Netns::new("disc0a");
    let b = Netns::new("disc0b");
    veth(&a, "va", "10.93.0.1/24", &b, "vb", "10.93.0.2/24");
    let group = "239.93.0.1:4000";
    let far = Proc::ready(
        &b,
        &["responder", group, "--name", "far", "--iface", "vb", "--timeout", "60", "--json"],
        "answering",
    );
    let zero = tools_support::run(&a, &["discover", group, "--iface", "va", "--max-ttl", "0", "--wait", "1", "--json"]);
    assert_eq!(zero.code, Some(1), "ring 0 must not find the neighbour: {zero:?}");
    assert_eq!(zero.one("summary").int("found"), 0);
    let one =
        tools_support::run(&a, &["discover", group, "--iface", "va", "--max-ttl", "1", "--wait", "1", "--json"]).ok();
    let f = found(&one);
    assert_eq!(f.len(), 1, "{}", one.stdout);
    assert_eq!((f[0].str("name"), f[0].str("addr"), f[0].int("ttl")), ("far".into(), "10.93.0.2".into(), 1));
    drop(far);
}
