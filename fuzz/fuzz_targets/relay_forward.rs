//! The relay's input handler: any sequence of datagrams, with any destination, interface, TTL and payload,
//! is forwarded or refused for a counted reason; nothing leaves with more hops than it came with, less one;
//! the queue never holds more than its bounds; and a payload forwarded once is refused as a copy within the
//! window, so a loop of relays cannot keep it alive.
#![no_main]

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mcast::guard::Refusal;
use mcast::relay::{Forwarder, Impairments, Policy, Verdict};
use mcast_fuzz::meta;

const FROM: Ipv4Addr = Ipv4Addr::new(239, 1, 1, 1);

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<4>() else { return };
    let mut policy = Policy::new(IpAddr::V4(FROM));
    policy.max_ttl = (head[0] > 0).then_some(head[0]);
    policy.queue.datagrams = usize::from(head[1] % 8) + 1;
    policy.queue.bytes = usize::from(head[2]) * 16 + 1;
    let imp = Impairments { delay: Duration::from_millis(u64::from(head[3] % 4)), ..Impairments::default() };
    let mut fwd = Forwarder::new(policy.clone(), imp, 7);
    fwd.set_from_ifaces([Some(2)]);
    let start = Instant::now();
    let mut forwarded: HashSet<Vec<u8>> = HashSet::new();
    for (i, chunk) in rest.chunks(24).enumerate() {
        let Some((h, payload)) = chunk.split_first_chunk::<4>() else { break };
        let group = if h[0] & 1 == 0 { IpAddr::V4(FROM) } else { IpAddr::V4(Ipv4Addr::new(239, 1, 1, h[1])) };
        let ifindex = Some(u32::from(h[0] >> 6));
        let source = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, h[2])), 4000);
        let ttl = (h[0] & 2 == 0).then_some(h[3]);
        let now = start + Duration::from_micros(i as u64 * 10);
        let m = meta(payload.len(), source, ifindex, ttl, Some(group));
        match fwd.offer(&m, payload, now) {
            Verdict::Accepted { ttl: out } => {
                let came = ttl.expect("a datagram without a TTL is not forwarded");
                assert!(out < came, "left with {out} hops after arriving with {came}");
                assert!(policy.max_ttl.map_or(true, |cap| out <= cap));
                assert!(forwarded.insert(payload.to_vec()), "a copy within the window was forwarded");
            }
            Verdict::Refused(Refusal::Duplicate) => assert!(forwarded.contains(payload)),
            Verdict::Refused(_) | Verdict::Own => {}
        }
        while fwd.pop_due(now).is_some() {}
    }
    fwd.flush(start + Duration::from_secs(1));
    assert!(fwd.refusals().total() <= fwd.received());
});
