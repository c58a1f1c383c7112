//! The `ping` prober's handling of answers: any datagrams, from any claimed responders, keep the responder
//! table within its cap, and whatever is not an answer of this session to a probe already sent is counted
//! as foreign, never turned into a row.
#![no_main]

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use libfuzzer_sys::fuzz_target;
use mcast::ping::fuzz_answers;
use mcast::wire::proto::{self, Kind};
use mcast_fuzz::meta;

const SESSION: u32 = 0x5eed;

fuzz_target!(|data: &[u8]| {
    let Some(([cap, sent], rest)) = data.split_first_chunk::<2>().map(|(h, r)| (*h, r)) else { return };
    let cap = usize::from(cap % 16) + 1;
    let sent = u64::from(sent);
    // Each datagram: responder byte, then either raw bytes (odd length byte) or a well-formed answer whose
    // session and sequence the input chooses, so both paths are reached.
    let mut datagrams: Vec<(mcast::RecvMeta, Vec<u8>)> = Vec::new();
    let mut rest = rest;
    while let [who, len, tail @ ..] = rest {
        let source = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, *who)), 4000);
        let (bytes, next) = if len & 1 == 1 {
            let n = usize::from(*len).min(tail.len());
            (tail[..n].to_vec(), &tail[n..])
        } else {
            let Some((h, next)) = tail.split_first_chunk::<3>() else { break };
            let kind = if h[0] & 1 == 0 { Kind::PingReplyMulticast } else { Kind::PingReplyUnicast };
            let session = if h[0] & 2 == 0 { SESSION } else { u32::from(h[1]) };
            let seq = u64::from(h[2]);
            let mut out = [0u8; proto::HEADER_LEN];
            let n = proto::encode(kind, session, seq, 0, &[], &mut out).expect("a header fits");
            (out[..n].to_vec(), next)
        };
        datagrams.push((meta(bytes.len(), source, Some(2), Some(64), None), bytes));
        rest = next;
    }
    // What the prober must make of them, worked out here from the header alone.
    let (mut responders, mut foreign_expected) = (HashSet::new(), 0u64);
    for (m, b) in &datagrams {
        match proto::decode(b) {
            Ok((r, _)) if r.kind == Kind::PingRequest => {}
            Ok((r, _)) if matches!(r.kind, Kind::PingReplyMulticast | Kind::PingReplyUnicast)
                && r.session == SESSION
                && r.seq < sent =>
            {
                responders.insert(m.source.ip());
            }
            _ => foreign_expected += 1,
        }
    }
    let (held, evicted, foreign) = fuzz_answers(SESSION, sent, cap, datagrams.iter().map(|(m, b)| (*m, &b[..])));
    assert_eq!(foreign, foreign_expected, "foreign datagrams counted, never made rows");
    assert_eq!(held, responders.len().min(cap), "the table holds the responders heard, up to its cap");
    assert!(held as u64 + evicted >= responders.len() as u64);
});
