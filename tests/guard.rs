//! The answering policy's on-link rule against a real routing table: only sources on a subnet directly
//! connected to the arrival interface (or this host's own addresses) are answered; a subnet's broadcast
//! address is refused as broadcast; a source behind a gateway, or with no route at all, is off link unless
//! an allowed prefix names it.

mod common;

use std::net::SocketAddr;
use std::time::Instant;

use common::{veth, Netns};
use mcast::guard::{AnswerGuard, AnswerPolicy, Refusal};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Topology: namespace A with veth va 10.61.0.1/24 (and 2001:db8:61::1/64) to namespace B; in A a route to
/// 10.62.0.0/24 via 10.61.0.2 (a router on the link) and to 2001:db8:62::/64 via 2001:db8:61::2. The guard
/// judges sources as if their queries arrived on va.
#[test]
fn on_link_is_what_the_routing_table_says() {
    needs_root!();
    let a = Netns::new("guarda");
    let b = Netns::new("guardb");
    veth(&a, "va", "10.61.0.1/24", &b, "vb", "10.61.0.2/24");
    a.ip(&["-6", "addr", "add", "2001:db8:61::1/64", "dev", "va", "nodad"]);
    a.ip(&["route", "add", "10.62.0.0/24", "via", "10.61.0.2"]);
    a.ip(&["-6", "route", "add", "2001:db8:62::/64", "via", "2001:db8:61::2"]);
    let va = a.ifindex("va");
    a.run(move || {
        let mut g = AnswerGuard::new(AnswerPolicy::default());
        let now = Instant::now();
        let mut judge = |s: &str, arrival: u32| g.admit(sa(s), Some(arrival), 100, 100, now);
        assert_eq!(judge("10.61.0.2:4000", va), Ok(()), "a neighbour on va");
        assert_eq!(judge("[2001:db8:61::2]:4000", va), Ok(()), "an IPv6 neighbour on va");
        assert_eq!(judge(&format!("[fe80::2%{va}]:4000"), va), Ok(()), "link-local on va");
        assert_eq!(judge("10.61.0.1:4000", va), Ok(()), "this host's own address");
        assert_eq!(judge("10.61.0.255:4000", va), Err(Refusal::Broadcast), "the subnet's broadcast");
        assert_eq!(judge("10.62.0.9:4000", va), Err(Refusal::OffLink), "behind the router");
        assert_eq!(judge("[2001:db8:62::9]:4000", va), Err(Refusal::OffLink), "behind the IPv6 router");
        assert_eq!(judge("192.0.2.7:4000", va), Err(Refusal::OffLink), "no route at all");
        assert_eq!(judge("10.61.0.3:4000", 1), Err(Refusal::OffLink), "on va's subnet, but arrived on lo");
        assert_eq!(g.refusals().get(Refusal::OffLink), 4);
        assert_eq!(g.refusals().get(Refusal::Broadcast), 1);

        // An allowed prefix widens the rule for routed sources, and only for them.
        let policy = AnswerPolicy { allow: vec![("10.62.0.0".parse().unwrap(), 16)], ..AnswerPolicy::default() };
        let mut g = AnswerGuard::new(policy);
        assert_eq!(g.admit(sa("10.62.0.9:4000"), Some(va), 100, 100, now), Ok(()));
        assert_eq!(g.admit(sa("192.0.2.7:4000"), Some(va), 100, 100, now), Err(Refusal::OffLink));

        // Even allowing everything, a subnet's broadcast address is no peer.
        let everything = vec![("0.0.0.0".parse().unwrap(), 0)];
        let mut g = AnswerGuard::new(AnswerPolicy { allow: everything, ..AnswerPolicy::default() });
        assert_eq!(g.admit(sa("10.61.0.255:4000"), Some(va), 100, 100, now), Err(Refusal::Broadcast));
        assert_eq!(g.admit(sa("192.0.2.7:4000"), Some(va), 100, 100, now), Ok(()));
    });
}
