//! `perf --serve`'s per-datagram path: any datagrams, from any claimed senders with any session ids and
//! sequence numbers, keep the session table within its cap, every session seen is held or counted as
//! evicted, anything that is not perf data is counted as foreign, and no arithmetic on the network's
//! numbers panics.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use libfuzzer_sys::fuzz_target;
use mcast::perf::fuzz_intake;
use mcast_fuzz::meta;

fuzz_target!(|data: &[u8]| {
    let Some((&cap, rest)) = data.split_first() else { return };
    let cap = usize::from(cap % 16) + 1;
    // Each datagram: one byte for the sender, one for its length, then that many bytes.
    let mut datagrams = Vec::new();
    let mut rest = rest;
    while let [who, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (bytes, next) = tail.split_at(n);
        let source = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, *who)), 4000);
        datagrams.push((meta(bytes.len(), source, Some(2), Some(1), None), bytes));
        rest = next;
    }
    let count = datagrams.len() as u64;
    let (seen, evicted, held, foreign, distinct) = fuzz_intake(cap, datagrams);
    assert!(held <= cap, "{held} sessions held over a cap of {cap}");
    assert_eq!(seen, held as u64 + evicted, "every session seen is held or evicted");
    assert!(foreign + distinct <= count);
});
