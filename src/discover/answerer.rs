//! [`Answerer`]: the responder's decision without the socket. A datagram and its metadata in; an answer
//! (written into a buffer) or a [`Refusal`] out, counted.

use std::net::IpAddr;
use std::time::Instant;

use crate::error::{Error, ErrorKind, Result};
use crate::guard::{AnswerGuard, AnswerPolicy, Refusal, Refusals};
use crate::socket::RecvMeta;
use crate::wire::proto::{self, Kind};

use super::{answer_len, encode_answer};

/// What an [`Answerer`] decided about one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Answer with the first `len` bytes of the reply buffer; the query was sent with TTL `ring`.
    Answer {
        /// The answer's length.
        len: usize,
        /// The TTL or hop limit the query says it was sent with (its sequence number).
        ring: u64,
    },
    /// No answer, for this reason (counted).
    Refuse(Refusal),
}

/// The responder's decision, datagram by datagram: decode, check it is a query, build the answer, and apply
/// the answering policy ([`AnswerGuard::admit`]). No I/O apart from the guard's routing-table look-ups.
#[derive(Debug)]
pub struct Answerer {
    name: String,
    guard: AnswerGuard,
    refused: Refusals,
    admitted: u64,
}

impl Answerer {
    /// An answerer called `name` (1 to [`proto::MAX_NAME`] bytes) applying `policy`.
    pub fn new(name: &str, policy: AnswerPolicy) -> Result<Answerer> {
        if name.is_empty() || name.len() > proto::MAX_NAME {
            let msg = format!("responder name '{name}' is {} bytes: give 1 to {}", name.len(), proto::MAX_NAME);
            return Err(Error::new(ErrorKind::OutOfRange, msg));
        }
        Ok(Answerer {
            name: name.to_string(),
            guard: AnswerGuard::new(policy),
            refused: Refusals::default(),
            admitted: 0,
        })
    }

    /// Decides about `datagram` (as received, with `meta`); `addr` gives the address of the arrival
    /// interface to answer with, and is called only for a query the policy admits. On [`Verdict::Answer`] the
    /// answer is in `reply` (at least [`super::MAX_ANSWER_LEN`] bytes).
    pub fn consider(
        &mut self,
        datagram: &[u8],
        meta: &RecvMeta,
        addr: impl FnOnce() -> Option<IpAddr>,
        now: Instant,
        reply: &mut [u8],
    ) -> Verdict {
        let verdict = self.judge(datagram, meta, addr, now, reply);
        match verdict {
            Verdict::Answer { .. } => self.admitted = self.admitted.saturating_add(1),
            Verdict::Refuse(why) => self.refused.count(why),
        }
        verdict
    }

    fn judge(
        &mut self,
        datagram: &[u8],
        meta: &RecvMeta,
        addr: impl FnOnce() -> Option<IpAddr>,
        now: Instant,
        reply: &mut [u8],
    ) -> Verdict {
        let query = match proto::decode(datagram) {
            Ok((q, _)) if q.kind == Kind::DiscoverQuery => q,
            _ => return Verdict::Refuse(Refusal::Foreign),
        };
        // The longest answer this query can get: with an address of the query's family. Judged before the
        // interface's address is looked up, so a refused datagram costs no look-up.
        let longest = answer_len(&self.name, Some(meta.source.ip()));
        if let Err(why) = self.guard.admit(meta.source, meta.ifindex, datagram.len(), longest, now) {
            return Verdict::Refuse(why);
        }
        match encode_answer(&query, &self.name, addr(), reply) {
            Ok(len) => Verdict::Answer { len, ring: query.seq },
            // Only a reply buffer shorter than MAX_ANSWER_LEN gets here: the name was checked at the start.
            Err(_) => Verdict::Refuse(Refusal::Oversized),
        }
    }

    /// The name answered with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Queries admitted so far: answers built (whether their sends then succeeded is the caller's to count).
    pub fn admitted(&self) -> u64 {
        self.admitted
    }

    /// Datagrams refused so far, by reason (datagrams that are not queries count as [`Refusal::Foreign`]).
    pub fn refused(&self) -> &Refusals {
        &self.refused
    }

    /// Sources forgotten from the guard's bounded table to make room for new ones.
    pub fn sources_evicted(&self) -> u64 {
        self.guard.sources_evicted()
    }

    /// The policy in force.
    pub fn policy(&self) -> &AnswerPolicy {
        self.guard.policy()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{encode_query, MAX_ANSWER_LEN, QUERY_LEN};
    use crate::guard::RateLimit;
    use crate::wire::proto::Answer;
    use std::net::SocketAddr;

    fn allow_all() -> AnswerPolicy {
        AnswerPolicy {
            allow: vec![("0.0.0.0".parse().unwrap(), 0), ("::".parse().unwrap(), 0)],
            ..AnswerPolicy::default()
        }
    }

    fn meta(source: &str, len: usize) -> RecvMeta {
        RecvMeta {
            len,
            full_len: len,
            truncated: false,
            source: source.parse().unwrap(),
            group: Some("239.1.2.3".parse().unwrap()),
            ifindex: Some(3),
            ttl: Some(1),
            timestamp: None,
            drops: None,
            gro_segment: None,
            tos: None,
        }
    }

    fn query(ring: u8) -> Vec<u8> {
        let mut q = vec![0u8; QUERY_LEN];
        let n = encode_query(0xabcd, ring, 42, &mut q).unwrap();
        q.truncate(n);
        q
    }

    #[test]
    fn a_padded_query_gets_the_answer_bytes() {
        let mut a = Answerer::new("printer-3", allow_all()).unwrap();
        let q = query(2);
        let mut reply = [0u8; MAX_ANSWER_LEN];
        let addr = Some("10.0.0.7".parse().unwrap());
        let v = a.consider(&q, &meta("10.0.0.2:5000", q.len()), || addr, Instant::now(), &mut reply);
        let Verdict::Answer { len, ring } = v else { panic!("{v:?}") };
        assert_eq!(ring, 2);
        let (r, body) = proto::decode(&reply[..len]).unwrap();
        assert_eq!((r.kind, r.session, r.seq, r.send_time_ns), (Kind::DiscoverAnswer, 0xabcd, 2, 42));
        assert_eq!(Answer::parse(body).unwrap(), Answer { name: "printer-3".into(), addr });
        assert_eq!(a.admitted(), 1);
        assert_eq!(a.refused().total(), 0);
    }

    #[test]
    fn an_unpadded_query_is_answered_only_when_the_answer_fits() {
        let mut a = Answerer::new(&"n".repeat(200), allow_all()).unwrap();
        let mut q = [0u8; 64];
        let n = proto::encode(Kind::DiscoverQuery, 1, 1, 0, &[0u8; 12], &mut q).unwrap();
        let mut reply = [0u8; MAX_ANSWER_LEN];
        let v = a.consider(&q[..n], &meta("10.0.0.2:5000", n), || None, Instant::now(), &mut reply);
        assert_eq!(v, Verdict::Refuse(Refusal::Oversized));
        // A short name fits a 40-byte query: at most 28 + 1 + 5 + 1 + 4 = 39 bytes (35 with no address).
        let mut short = Answerer::new("short", allow_all()).unwrap();
        let v = short.consider(&q[..n], &meta("10.0.0.2:5000", n), || None, Instant::now(), &mut reply);
        assert_eq!(v, Verdict::Answer { len: 35, ring: 1 });
        // The header-only query of earlier versions fits no answer at all.
        let n = proto::encode(Kind::DiscoverQuery, 1, 1, 0, &[], &mut q).unwrap();
        let v = short.consider(&q[..n], &meta("10.0.0.2:5000", n), || None, Instant::now(), &mut reply);
        assert_eq!(v, Verdict::Refuse(Refusal::Oversized));
        assert_eq!(short.refused().get(Refusal::Oversized), 1);
    }

    #[test]
    fn impossible_sources_and_foreign_datagrams_are_refused_by_reason() {
        let mut a = Answerer::new("x", allow_all()).unwrap();
        let q = query(1);
        let mut reply = [0u8; MAX_ANSWER_LEN];
        let now = Instant::now();
        for (src, why) in [
            ("10.0.0.2:0", Refusal::PortZero),
            ("239.1.1.1:5", Refusal::Multicast),
            ("255.255.255.255:5", Refusal::Broadcast),
            ("0.0.0.0:5", Refusal::Unspecified),
            ("127.0.0.1:5", Refusal::LoopbackFromOutside),
        ] {
            assert_eq!(a.consider(&q, &meta(src, q.len()), || None, now, &mut reply), Verdict::Refuse(why), "{src}");
        }
        let ping = {
            let mut b = [0u8; 40];
            let n = proto::encode(Kind::PingRequest, 1, 1, 0, b"hi", &mut b).unwrap();
            b[..n].to_vec()
        };
        for junk in [&b"hello"[..], &ping, &q[..20]] {
            let v = a.consider(junk, &meta("10.0.0.2:5", junk.len()), || None, now, &mut reply);
            assert_eq!(v, Verdict::Refuse(Refusal::Foreign));
        }
        assert_eq!(a.refused().total(), 8);
        assert_eq!(a.admitted(), 0);
    }

    #[test]
    fn the_rate_limit_is_exact() {
        let policy = AnswerPolicy { per_source: RateLimit { per_second: 1, burst: 5 }, ..allow_all() };
        let mut a = Answerer::new("x", policy).unwrap();
        let q = query(1);
        let mut reply = [0u8; MAX_ANSWER_LEN];
        let now = Instant::now();
        let answered = (0..20)
            .filter(|_| {
                matches!(a.consider(&q, &meta("10.0.0.2:5", q.len()), || None, now, &mut reply), Verdict::Answer { .. })
            })
            .count();
        assert_eq!(answered, 5);
        assert_eq!(a.refused().get(Refusal::SourceRate), 15);
        // Another source has its own bucket.
        let v = a.consider(&q, &meta("10.0.0.3:5", q.len()), || None, now, &mut reply);
        assert!(matches!(v, Verdict::Answer { .. }));
    }

    #[test]
    fn names_are_checked() {
        assert!(Answerer::new("", allow_all()).is_err());
        assert!(Answerer::new(&"n".repeat(256), allow_all()).is_err());
        assert!(Answerer::new(&"n".repeat(255), allow_all()).is_ok());
    }

    /// 100,000 forged sources leave at most the table's cap behind; the rest are evicted and counted.
    #[test]
    fn forged_sources_stay_within_the_table() {
        let mut a = Answerer::new("x", allow_all()).unwrap();
        let q = query(1);
        let mut reply = [0u8; MAX_ANSWER_LEN];
        let now = Instant::now();
        for i in 0..100_000u32 {
            let mut m = meta("10.0.0.2:5", q.len());
            m.source = SocketAddr::from((std::net::Ipv4Addr::from(0x0a00_0000 + i), 5000));
            let _ = a.consider(&q, &m, || None, now, &mut reply);
        }
        let cap = crate::guard::DEFAULT_SOURCES as u64;
        assert_eq!(a.sources_evicted(), 100_000 - cap);
        // The total bucket (10,000 at once) bounds the answers; each source's own bucket was full.
        assert_eq!(a.admitted(), u64::from(crate::guard::DEFAULT_TOTAL));
        assert_eq!(a.refused().get(Refusal::TotalRate), 100_000 - u64::from(crate::guard::DEFAULT_TOTAL));
    }
}
