//! The discover engines through the library, no command: a `Responder` stepped on one thread, a `Search` on
//! another, each event checked.
//!
//! Topology: `a` (va 10.95.0.1/24) <-veth-> `b` (vb 10.95.0.2/24). The responder runs in `b` joined on vb;
//! the search runs in `a` out of va, up to ring 2 with every ring asked for.
mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{veth, Netns};
use mcast::discover::{Responder, ResponderEvent, Search, SearchEvent};
use mcast::Interface;

#[test]
fn a_search_finds_a_responder_at_ring_1_and_the_responder_reports_the_query() {
    needs_root!();
    let a = Netns::new("dengA");
    let b = Netns::new("dengB");
    veth(&a, "va", "10.95.0.1/24", &b, "vb", "10.95.0.2/24");
    let group: mcast::Group = "239.95.0.1:4200".parse().unwrap();
    let (ready, stop) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let (r_ready, r_stop) = (ready.clone(), stop.clone());
    let responder = b.spawn(move || {
        let vb = Interface::by_name("vb").expect("vb");
        let mut r = Responder::builder(group).name("engine").interface(vb).build().expect("responder");
        r_ready.store(true, Ordering::SeqCst);
        let mut events = Vec::new();
        while !r_stop.load(Ordering::SeqCst) {
            if let Some(e) = r.next_event(Duration::from_millis(100)).expect("responder step") {
                events.push(e);
            }
        }
        (events, r.report())
    });
    while !ready.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let (events, report, local) = a.run(move || {
        let va = Interface::by_name("va").expect("va");
        let mut s = Search::builder(group).interface(va).max_ring(2).wait(Duration::from_millis(500)).all(true);
        s = s.session(0x0e0e);
        let mut search = s.build().expect("search");
        let local = search.socket().local_addr().expect("local address");
        let mut events = Vec::new();
        loop {
            match search.step(Duration::from_millis(100)).expect("search step") {
                Some(SearchEvent::Finished) => break,
                Some(e) => events.push(e),
                None => {}
            }
        }
        (events, search.report(), local)
    });
    stop.store(true, Ordering::SeqCst);
    let (r_events, r_report) = responder.join().expect("responder thread");

    let rings: Vec<u8> =
        events.iter().filter_map(|e| if let SearchEvent::Ring { ttl } = e { Some(*ttl) } else { None }).collect();
    assert_eq!(rings, [0, 1, 2]);
    let found: Vec<_> =
        events.iter().filter_map(|e| if let SearchEvent::Found(f) = e { Some(f.clone()) } else { None }).collect();
    assert_eq!(found.len(), 1, "{events:?}");
    let f = &found[0];
    assert_eq!((f.name.as_str(), f.ring, f.distance), ("engine", 1, Some(0)));
    assert_eq!(f.addr, Some(IpAddr::V4(Ipv4Addr::new(10, 95, 0, 2))));
    assert_eq!(f.from, SocketAddr::from(([10, 95, 0, 2], 4200)));
    assert_eq!((report.found.len(), report.widest, report.sends.sent), (1, 2, 3));
    // Ring 0 stayed in a; rings 1 and 2 reached b and were answered, the second answer ignored as a repeat.
    assert_eq!(report.ignored, 1);

    let answered: Vec<_> = r_events
        .iter()
        .filter_map(|e| match e {
            ResponderEvent::Answered { querier, ring, ttl, addr } => Some((*querier, *ring, *ttl, *addr)),
            _ => None,
        })
        .collect();
    let querier = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 95, 0, 1)), local.port());
    let b_addr = Some(IpAddr::V4(Ipv4Addr::new(10, 95, 0, 2)));
    assert_eq!(answered, [(querier, 1, Some(1), b_addr), (querier, 2, Some(2), b_addr)], "{r_events:?}");
    assert_eq!((r_report.answered, r_report.refused.total(), r_report.sends.failed), (2, 0, 0));
}
