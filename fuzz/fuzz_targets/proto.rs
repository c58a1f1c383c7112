//! The tools' datagram header and discover answers: decoding is total, whatever decodes re-encodes to the same
//! bytes, and the sequence tracker's counts add up whatever numbers arrive.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcast::wire::proto::{self, Answer, Packet};
use mcast::__private::stats::SeqTracker;

fuzz_target!(|data: &[u8]| {
    let unchecked = Packet::new_unchecked(data);
    let _ = (unchecked.magic(), unchecked.kind_byte(), unchecked.seq(), unchecked.send_time_ns(), unchecked.payload());
    if let Ok((repr, body)) = proto::decode(data) {
        let mut out = vec![0u8; data.len()];
        let n = proto::encode(repr.kind, repr.session, repr.seq, repr.send_time_ns, body, &mut out).expect("encodes");
        assert_eq!(&out[..n], data);
    }
    if let Ok(answer) = Answer::parse(data) {
        assert_eq!(answer.to_bytes().expect("a parsed answer encodes"), data);
    }
    let mut t = SeqTracker::new();
    let seqs: Vec<u64> = data.chunks(2).map(|c| c.iter().fold(0u64, |a, &b| a << 8 | u64::from(b))).collect();
    for &s in &seqs {
        t.record(s);
    }
    assert_eq!(t.unique + t.duplicates + t.too_old, seqs.len() as u64);
    assert!(t.reordered <= t.unique);
});
