//! `perf --serve`'s per-datagram path: any datagrams, from any claimed senders with any session ids and
//! sequence numbers, keep the session table within its cap, every session seen is held or counted as
//! evicted, anything that is not perf data is counted as foreign, and no arithmetic on the network's
//! numbers panics. Consecutive datagrams of one sender with a common length arrive as one `UDP_GRO` read
//! (a train, its last part possibly shorter), as the kernel coalesces them, so the train path is fuzzed too.
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
    let mut reads: Vec<(mcast::RecvMeta, Vec<u8>, bool)> = Vec::new();
    for (m, bytes) in datagrams {
        match reads.last_mut() {
            Some((r, buf, open))
                if *open
                    && r.source == m.source
                    && !bytes.is_empty()
                    && bytes.len() <= buf.len().min(usize::from(r.gro_segment.unwrap_or(u16::MAX))) =>
            {
                let seg = r.gro_segment.map_or(buf.len(), usize::from);
                buf.extend_from_slice(bytes);
                r.gro_segment = Some(seg as u16);
                (r.len, r.full_len) = (buf.len(), buf.len());
                *open = bytes.len() == seg && buf.len() < 64 * seg;
            }
            _ => reads.push((m, bytes.to_vec(), !bytes.is_empty())),
        }
    }
    let (seen, evicted, held, foreign, distinct) = fuzz_intake(cap, reads.iter().map(|(m, b, _)| (*m, &b[..])));
    assert!(held <= cap, "{held} sessions held over a cap of {cap}");
    assert_eq!(seen, held as u64 + evicted, "every session seen is held or evicted");
    assert!(foreign + distinct <= count);
});
