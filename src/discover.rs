//! The expanding-ring search of the Multicast HOWTO and the responder that answers it, as engines: the
//! library does the work and returns typed events; `mcast discover` and `mcast responder` only print them.
//!
//! A [`Search`] sends a discover query ([`proto::Kind::DiscoverQuery`]) to a group with TTL (hop limit) 0,
//! then 1, 2, 4 ... up to a widest ring ([`rings`]), and listens a while after each for answers. A
//! [`Responder`] answers each query by unicast with its name and the address of the interface the query came
//! in on ([`proto::Answer`]), echoing the query's TTL so the searcher learns the ring that reached it.
//!
//! Both follow the hostile-network policy of `docs/security.md`:
//!
//! - the responder passes every query through [`crate::guard::AnswerGuard`] (a possible source, an answer no
//!   larger than the query, an on-link or allowed source, token buckets), counts every refusal by reason,
//!   and treats a send that fails because of the peer's address as a counted failure, never a fatal one;
//! - since an answer may not be larger than its query, the searcher pads every query to [`QUERY_LEN`], the
//!   longest answer a responder can give; an unpadded query is answered only when the answer fits in it;
//! - the responder sends its answers with a known TTL or hop limit, [`ANSWER_TTL`], so the searcher tells
//!   how many routers away a responder is from the TTL the answer arrived with ([`distance`]).
//!
//! ```no_run
//! use mcast::discover::{Search, SearchEvent};
//! use std::time::Duration;
//! let mut search = Search::builder("239.255.0.9:4000".parse()?).max_ring(8).build()?;
//! loop {
//!     match search.step(Duration::from_millis(200))? {
//!         Some(SearchEvent::Found(f)) => println!("{} at ring {}", f.name, f.ring),
//!         Some(SearchEvent::Finished) => break,
//!         _ => {}
//!     }
//! }
//! # Ok::<(), mcast::Error>(())
//! ```

mod answerer;
mod responder;
mod search;

use crate::wire::proto::{self, Answer, Kind, Repr};

pub use answerer::{Answerer, Verdict};
pub use responder::{Responder, ResponderBuilder, ResponderEvent, ResponderReport};
pub use search::{Found, Search, SearchBuilder, SearchEvent, SearchReport, MAX_FOUND};

/// The TTL (IPv4) or hop limit (IPv6) a responder sends its unicast answers with (`IP_TTL`,
/// `IPV6_UNICAST_HOPS`), so a searcher can count the routers between them. It is also Linux's default.
pub const ANSWER_TTL: u8 = 64;

/// The longest answer body: name length, the longest name, family, an IPv6 address.
pub const MAX_ANSWER_BODY: usize = 1 + proto::MAX_NAME + 1 + 16 + 1;

/// The longest answer a responder can send, header included (302 bytes).
pub const MAX_ANSWER_LEN: usize = proto::HEADER_LEN + MAX_ANSWER_BODY;

/// The length of a padded query: as long as the longest answer, so every answer fits the no-amplification
/// rule. The padding is zeros, and responders ignore it.
pub const QUERY_LEN: usize = MAX_ANSWER_LEN;

/// The rings: 0, 1, 2, 4, 8 ... while at most `max`, then `max` itself.
pub fn rings(max: u8) -> Vec<u8> {
    let mut v = vec![0u8];
    let mut t: u16 = 1;
    while t <= u16::from(max) {
        v.push(t as u8);
        t *= 2;
    }
    if v.last() != Some(&max) {
        v.push(max);
    }
    v
}

/// How many routers an answer crossed: [`ANSWER_TTL`] minus the TTL or hop limit it arrived with. `None` when
/// the arrival TTL is unknown or above [`ANSWER_TTL`] (a responder that did not send with it).
pub fn distance(arrival_ttl: Option<u8>) -> Option<u8> {
    arrival_ttl.and_then(|t| ANSWER_TTL.checked_sub(t))
}

/// Writes a padded discover query (session, the ring's TTL, the send time) into `out`; returns its length,
/// [`QUERY_LEN`]. `out` must hold that many bytes.
pub fn encode_query(session: u32, ring: u8, send_time_ns: u64, out: &mut [u8]) -> crate::Result<usize> {
    let pad = [0u8; MAX_ANSWER_BODY];
    Ok(proto::encode(Kind::DiscoverQuery, session, u64::from(ring), send_time_ns, &pad, out)?)
}

/// Writes the answer to `query` (its session, sequence and send time echoed) with `name`, `addr` and the TTL
/// the query arrived with into `out`; returns its length. Fails when the name is longer than
/// [`proto::MAX_NAME`] or `out` is too small.
pub fn encode_answer(
    query: &Repr,
    name: &str,
    addr: Option<std::net::IpAddr>,
    query_ttl: Option<u8>,
    out: &mut [u8],
) -> crate::Result<usize> {
    let body = Answer { name: name.to_string(), addr, query_ttl }.to_bytes()?;
    Ok(proto::encode(Kind::DiscoverAnswer, query.session, query.seq, query.send_time_ns, &body, out)?)
}

/// The length of the answer a responder named `name` gives with `addr` and a query's TTL, header included.
pub fn answer_len(name: &str, addr: Option<std::net::IpAddr>) -> usize {
    let family = match addr {
        None => 0,
        Some(std::net::IpAddr::V4(_)) => 4,
        Some(std::net::IpAddr::V6(_)) => 16,
    };
    proto::HEADER_LEN + 1 + name.len() + 1 + family + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_double_up_to_the_maximum() {
        assert_eq!(rings(0), [0]);
        assert_eq!(rings(1), [0, 1]);
        assert_eq!(rings(8), [0, 1, 2, 4, 8]);
        assert_eq!(rings(10), [0, 1, 2, 4, 8, 10]);
        assert_eq!(rings(255), [0, 1, 2, 4, 8, 16, 32, 64, 128, 255]);
    }

    #[test]
    fn queries_are_padded_to_the_longest_answer() {
        let mut q = [0xffu8; 400];
        let n = encode_query(7, 4, 99, &mut q).unwrap();
        assert_eq!((n, QUERY_LEN, MAX_ANSWER_LEN), (302, 302, 302));
        let (r, pad) = proto::decode(&q[..n]).unwrap();
        assert_eq!((r.kind, r.session, r.seq, r.send_time_ns), (Kind::DiscoverQuery, 7, 4, 99));
        assert!(pad.iter().all(|&b| b == 0) && pad.len() == MAX_ANSWER_BODY);
        // The longest answer there is fits exactly.
        let longest = "n".repeat(proto::MAX_NAME);
        let mut a = [0u8; 400];
        let len = encode_answer(&r, &longest, Some("fe80::1".parse().unwrap()), Some(1), &mut a).unwrap();
        assert_eq!(len, QUERY_LEN);
        assert_eq!(answer_len(&longest, Some("fe80::1".parse().unwrap())), len);
        assert_eq!(answer_len("x", Some("10.0.0.1".parse().unwrap())), 28 + 1 + 1 + 1 + 4 + 1);
    }

    #[test]
    fn distance_counts_routers_from_the_answer_ttl() {
        assert_eq!(distance(Some(64)), Some(0));
        assert_eq!(distance(Some(63)), Some(1));
        assert_eq!(distance(Some(1)), Some(63));
        assert_eq!(distance(Some(0)), Some(64));
        assert_eq!(distance(Some(65)), None, "not sent with 64");
        assert_eq!(distance(Some(255)), None);
        assert_eq!(distance(None), None);
    }
}
