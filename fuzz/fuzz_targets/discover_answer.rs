//! The responder's input handler: any datagram, from any claimed source, with any arrival TTL and
//! interface, gets an answer or a counted refusal, and an answer is never larger than the datagram that
//! caused it.
#![no_main]

use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mcast::discover::{Answerer, Verdict, MAX_ANSWER_LEN};
use mcast_fuzz::meta;
use mcast::guard::AnswerPolicy;

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<20>() else { return };
    let policy = AnswerPolicy { allow: vec![("::".parse().unwrap(), 0)], ..AnswerPolicy::default() };
    let name = "r".repeat(usize::from(head[0]) % 256).replace('\0', "");
    let Ok(mut answerer) = Answerer::new(if name.is_empty() { "x" } else { &name }, policy) else { return };
    let start = Instant::now();
    let mut reply = vec![0u8; MAX_ANSWER_LEN];
    // Several datagrams from one input, split where a byte says, with sources the input chooses: link-local
    // IPv6 ones, so the policy's verdict needs no routing table.
    for (i, datagram) in rest.split(|&b| b == head[1]).enumerate().take(64) {
        let mut octets = [0u8; 16];
        octets[..2].copy_from_slice(&[0xfe, 0x80]);
        octets[8..].copy_from_slice(&head[2..10]);
        octets[15] ^= i as u8;
        let port = u16::from_be_bytes([head[10], head[11]]);
        let source = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(octets), port, 0, u32::from(head[12])));
        let meta = meta(datagram.len(), source, Some(u32::from(head[12])), Some(head[13]), None);
        let now = start + Duration::from_millis(u64::from(head[14]) * i as u64);
        let before = answerer.admitted() + answerer.refused().total();
        match answerer.consider(datagram, &meta, || Some(IpAddr::V6(Ipv6Addr::LOCALHOST)), now, &mut reply) {
            Verdict::Answer { len, .. } => assert!(len <= datagram.len(), "an answer larger than its query"),
            Verdict::Refuse(_) => {}
        }
        assert_eq!(answerer.admitted() + answerer.refused().total(), before + 1);
    }
});
