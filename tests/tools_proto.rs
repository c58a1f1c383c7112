//! Properties of the tools' wire header, over many generated cases (the generator is the relay's seeded
//! SplitMix64, so every run checks the same cases and a failure names its seed):
//! encode then decode gives back what went in; any bytes decode to a value or an error, never a panic; a
//! value decoded from arbitrary bytes encodes back to those same bytes.

use mcast::relay::Rng;
use mcast::wire::proto::{self, Answer, Kind, Packet, Repr, HEADER_LEN};
use mcast::wire::Error;

const CASES: u64 = 20_000;

fn bytes(rng: &mut Rng, max: usize) -> Vec<u8> {
    let n = (rng.next_u64() % (max as u64 + 1)) as usize;
    (0..n).map(|_| rng.next_u64() as u8).collect()
}

#[test]
fn encode_then_decode_round_trips() {
    let mut rng = Rng::new(0x5eed);
    for case in 0..CASES {
        let kind = Kind::ALL[(rng.next_u64() % Kind::ALL.len() as u64) as usize];
        let (session, seq, time) = (rng.next_u64() as u32, rng.next_u64(), rng.next_u64());
        let payload = bytes(&mut rng, 300);
        let mut buf = vec![0u8; HEADER_LEN + 300 + (rng.next_u64() % 8) as usize];
        let len = proto::encode(kind, session, seq, time, &payload, &mut buf).unwrap();
        assert_eq!(len, HEADER_LEN + payload.len(), "case {case}");
        let (repr, body) = proto::decode(&buf[..len]).unwrap_or_else(|e| panic!("case {case}: {e}"));
        assert_eq!(
            repr,
            Repr { kind, session, seq, send_time_ns: time, payload_len: payload.len() as u16 },
            "case {case}"
        );
        assert_eq!(body, &payload[..], "case {case}");
        assert_eq!(repr.buffer_len(), len);
        // emit() through a Packet writes the same header encode() did.
        let mut again = vec![0u8; len];
        repr.emit(&mut Packet::new_unchecked(&mut again[..]));
        again[HEADER_LEN..].copy_from_slice(&payload);
        assert_eq!(again, &buf[..len], "case {case}");
    }
}

#[test]
fn any_bytes_decode_to_a_value_or_an_error_and_values_re_encode_exactly() {
    let mut rng = Rng::new(0xdec0de);
    let mut decoded = 0;
    for case in 0..CASES {
        // Half the cases start from a valid datagram with a few bytes changed, so decoding gets past the
        // magic often; the rest are noise.
        let mut b = if case % 2 == 0 {
            let p = bytes(&mut rng, 64);
            let mut v = vec![0u8; HEADER_LEN + p.len()];
            proto::encode(Kind::PerfData, 1, case, 2, &p, &mut v).unwrap();
            v
        } else {
            bytes(&mut rng, 100)
        };
        for _ in 0..(rng.next_u64() % 3) {
            if !b.is_empty() {
                let i = (rng.next_u64() % b.len() as u64) as usize;
                b[i] = rng.next_u64() as u8;
            }
        }
        if rng.next_u64() % 4 == 0 {
            b.truncate((rng.next_u64() % (b.len() as u64 + 1)) as usize);
        }
        match proto::decode(&b) {
            Ok((r, body)) => {
                decoded += 1;
                let mut out = vec![0u8; b.len()];
                let n = proto::encode(r.kind, r.session, r.seq, r.send_time_ns, body, &mut out).unwrap();
                assert_eq!(&out[..n], &b[..], "case {case}: a decoded datagram re-encodes to its own bytes");
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                if b.len() < HEADER_LEN {
                    assert_eq!(e, Error::Truncated { need: HEADER_LEN, have: b.len() }, "case {case}");
                }
            }
        }
        // The unchecked view never panics either, whatever the length.
        let p = Packet::new_unchecked(&b[..]);
        let _ = (p.magic(), p.version(), p.kind_byte(), p.session(), p.seq(), p.send_time_ns(), p.payload());
        let _ = Answer::parse(&b);
    }
    assert!(decoded > CASES / 10, "the mutated cases exercise the success path too ({decoded})");
}

#[test]
fn answers_round_trip() {
    let mut rng = Rng::new(42);
    for case in 0..2_000 {
        let name: String = (0..rng.next_u64() % 40).map(|_| char::from(b'a' + (rng.next_u64() % 26) as u8)).collect();
        let addr = match rng.next_u64() % 3 {
            0 => None,
            1 => Some(std::net::IpAddr::from((rng.next_u64() as u32).to_be_bytes())),
            _ => Some(std::net::IpAddr::from(((rng.next_u64() as u128) << 64 | rng.next_u64() as u128).to_be_bytes())),
        };
        let query_ttl = (rng.next_u64() % 2 == 0).then(|| rng.next_u64() as u8);
        let a = Answer { name, addr, query_ttl };
        assert_eq!(Answer::parse(&a.to_bytes().unwrap()).unwrap(), a, "case {case}");
    }
}
