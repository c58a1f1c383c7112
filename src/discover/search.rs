//! [`Search`]: the expanding-ring search, ring by ring, as events.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, UNIX_EPOCH};

use crate::endpoint::Sender;
use crate::error::Result;
use crate::group::Group;
use crate::iface::{IfaceSpec, Interface};
use crate::sendretry::{send_with_retry, RetryPolicy, SendStats};
use crate::socket::{Family, McastSocket, RecvMeta};
use crate::wire::proto::{self, Answer, Kind};

use super::{distance, encode_query, rings, QUERY_LEN};

/// Responders remembered by one search; answers from further ones are counted in
/// [`SearchReport::ignored`] (an answer's source is whatever its sender wrote).
pub const MAX_FOUND: usize = 4096;

/// A responder that answered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Found {
    /// Its name.
    pub name: String,
    /// The address it answers for (that of its interface the query arrived on), if it said.
    pub addr: Option<IpAddr>,
    /// Where the answer came from.
    pub from: SocketAddr,
    /// The ring (the query's TTL or hop limit) at which it first answered.
    pub ring: u8,
    /// Routers between it and this host, from the answer's arrival TTL ([`super::distance`]).
    pub distance: Option<u8>,
    /// Routers the query crossed on its way: the ring minus the TTL the responder says the query arrived with
    /// (`None` when it did not say). It differs from [`Self::distance`] when the two ways are not the same path.
    pub query_distance: Option<u8>,
    /// From sending the query to the answer's arrival.
    pub rtt: Duration,
}

/// What a [`Search`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SearchEvent {
    /// A query went out with this TTL or hop limit (or failed to: see [`SearchReport::sends`]).
    Ring {
        /// The ring.
        ttl: u8,
    },
    /// A responder answered for the first time.
    Found(Found),
    /// The search is over: the widest ring was listened to, or a ring brought answers and not every ring
    /// was asked for. Every later step says so again.
    Finished,
}

/// The account of a search.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SearchReport {
    /// The responders, in the order they answered.
    pub found: Vec<Found>,
    /// The widest ring queried.
    pub widest: u8,
    /// Queries sent and failed.
    pub sends: SendStats,
    /// Answers ignored: for another session, a ring never sent, a second answer, undecodable, or past
    /// [`MAX_FOUND`].
    pub ignored: u64,
}

/// Options of a [`Search`].
#[derive(Clone, Debug)]
pub struct SearchBuilder {
    group: Group,
    interface: Option<Interface>,
    max_ring: u8,
    wait: Duration,
    all: bool,
    session: Option<u32>,
}

impl SearchBuilder {
    /// Sends the queries out of this interface (default: the routing table's choice).
    pub fn interface(mut self, iface: Interface) -> Self {
        self.interface = Some(iface);
        self
    }

    /// The widest ring (default 32).
    pub fn max_ring(mut self, ttl: u8) -> Self {
        self.max_ring = ttl;
        self
    }

    /// How long to listen after each ring's query (default 0.5 s; at least 1 ms).
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait.max(Duration::from_millis(1));
        self
    }

    /// Keep widening after a ring brought answers (default: stop there).
    pub fn all(mut self, all: bool) -> Self {
        self.all = all;
        self
    }

    /// The session id the queries carry (default: a random one).
    pub fn session(mut self, session: u32) -> Self {
        self.session = Some(session);
        self
    }

    /// Opens the querying socket: an ephemeral port, arrival TTL and timestamps on, sending out of the
    /// interface.
    pub fn build(self) -> Result<Search> {
        let family = Family::of(self.group.ip());
        let mut b = Sender::builder(self.group);
        if let Some(i) = &self.interface {
            b = b.interface(IfaceSpec::Index(i.index));
        }
        let sock = b.build()?.into_socket();
        match family {
            Family::V4 => sock.set_recv_ttl_v4(true)?,
            Family::V6 => {
                sock.set_only_v6(true)?;
                sock.set_recv_hoplimit_v6(true)?;
            }
        }
        sock.set_timestamp_ns(true)?;
        sock.bind(SocketAddr::new(family.unspecified(), 0))?;
        let session = self.session.unwrap_or_else(random_session);
        Ok(Search {
            sock,
            group: self.group,
            index: self.interface.as_ref().map_or(self.group.scope_id(), |i| i.index),
            rings: rings(self.max_ring),
            next: 0,
            wait: self.wait,
            all: self.all,
            session,
            listening: None,
            found: BTreeMap::new(),
            order: Vec::new(),
            widest: 0,
            sends: SendStats::default(),
            ignored: 0,
            finished: false,
            buf: vec![0u8; 2048],
        })
    }
}

/// The ring being listened to: until when, and how many responders it brought.
#[derive(Clone, Copy, Debug)]
struct Listening {
    until: Instant,
    found: usize,
}

/// An expanding-ring search; see the [module docs](super).
#[derive(Debug)]
pub struct Search {
    sock: McastSocket,
    group: Group,
    index: u32,
    rings: Vec<u8>,
    next: usize,
    wait: Duration,
    all: bool,
    session: u32,
    listening: Option<Listening>,
    found: BTreeMap<SocketAddr, usize>,
    order: Vec<Found>,
    widest: u8,
    sends: SendStats,
    ignored: u64,
    finished: bool,
    buf: Vec<u8>,
}

impl Search {
    /// A search on `group` (which carries the port), to configure and [`build`](SearchBuilder::build).
    pub fn builder(group: Group) -> SearchBuilder {
        SearchBuilder {
            group,
            interface: None,
            max_ring: 32,
            wait: Duration::from_millis(500),
            all: false,
            session: None,
        }
    }

    /// The next event, waiting at most `max_wait` for an answer; `None` when nothing came in that time.
    pub fn step(&mut self, max_wait: Duration) -> Result<Option<SearchEvent>> {
        if self.finished {
            return Ok(Some(SearchEvent::Finished));
        }
        let Some(l) = self.listening else {
            let Some(&ring) = self.rings.get(self.next) else {
                self.finished = true;
                return Ok(Some(SearchEvent::Finished));
            };
            self.next += 1;
            self.send_ring(ring)?;
            self.listening = Some(Listening { until: Instant::now() + self.wait, found: 0 });
            return Ok(Some(SearchEvent::Ring { ttl: ring }));
        };
        let Some(left) = l.until.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else {
            self.listening = None;
            if l.found > 0 && !self.all {
                self.finished = true;
                return Ok(Some(SearchEvent::Finished));
            }
            return Ok(None);
        };
        let Some(meta) = self.sock.recv_timeout(&mut self.buf, left.min(max_wait))? else { return Ok(None) };
        Ok(self.take(&meta).map(SearchEvent::Found))
    }

    /// Runs the search to its end and returns the report.
    pub fn run(mut self) -> Result<SearchReport> {
        while self.step(Duration::from_secs(1))? != Some(SearchEvent::Finished) {}
        Ok(self.report())
    }

    fn send_ring(&mut self, ring: u8) -> Result<()> {
        self.widest = ring;
        self.sock.set_multicast_ttl(ring)?;
        let mut query = [0u8; QUERY_LEN];
        let len = encode_query(self.session, ring, proto::now_ns(), &mut query)?;
        let query = query.get(..len).unwrap_or_default();
        let host_only = if ring == 0 { Some(HostOnly::enter(&self.sock, self.group, self.index)?) } else { None };
        // A query that cannot leave (the link is gone) is counted; the next ring tries again.
        let (sock, dest) = (&self.sock, self.group.socket_addr());
        let sent = send_with_retry(&RetryPolicy::default(), &mut self.sends, &mut std::thread::sleep, &mut || {
            sock.send_to(query, dest)
        });
        drop(host_only);
        sent.map(|_| ())
    }

    /// Accounts one datagram: a first answer of this session to a ring sent is a [`Found`].
    fn take(&mut self, meta: &RecvMeta) -> Option<Found> {
        let found = self.parse(meta);
        if found.is_none() {
            self.ignored = self.ignored.saturating_add(1);
        }
        let f = found?;
        self.found.insert(f.from, self.order.len());
        self.order.push(f.clone());
        if let Some(l) = &mut self.listening {
            l.found += 1;
        }
        Some(f)
    }

    fn parse(&self, meta: &RecvMeta) -> Option<Found> {
        let (a, body) = proto::decode(self.buf.get(..meta.len)?).ok()?;
        let asked = self.rings.get(..self.next).unwrap_or_default();
        let ring = u8::try_from(a.seq).ok().filter(|r| asked.contains(r))?;
        if a.kind != Kind::DiscoverAnswer || a.session != self.session || self.found.contains_key(&meta.source) {
            return None;
        }
        if self.found.len() >= MAX_FOUND {
            return None;
        }
        let answer = Answer::parse(body).ok()?;
        let arrival = meta
            .timestamp
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or_else(proto::now_ns, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        Some(Found {
            name: answer.name,
            addr: answer.addr,
            from: meta.source,
            ring,
            distance: distance(meta.ttl),
            query_distance: answer.query_ttl.and_then(|t| ring.checked_sub(t)),
            rtt: Duration::from_nanos(arrival.saturating_sub(a.send_time_ns)),
        })
    }

    /// The session id the queries carry.
    pub fn session(&self) -> u32 {
        self.session
    }

    /// The querying socket.
    pub fn socket(&self) -> &McastSocket {
        &self.sock
    }

    /// The account so far.
    pub fn report(&self) -> SearchReport {
        SearchReport {
            found: self.order.clone(),
            widest: self.widest,
            sends: self.sends.clone(),
            ignored: self.ignored,
        }
    }
}

/// A session id that differs between runs and between processes started at the same moment.
fn random_session() -> u32 {
    let seed = proto::now_ns() ^ (u64::from(std::process::id()) << 32);
    crate::relay::Rng::new(seed).next_u64() as u32
}

/// Keeps a TTL-0 query on this host. Linux drops a TTL-0 (hop-limit-0) multicast datagram only on its multicast
/// output path, which it takes when this host is a member of the group on the outgoing interface and loop is on;
/// otherwise it transmits the datagram with TTL 0 and every neighbour on the link receives it. So while ring 0 is
/// sent, the querying socket itself holds a membership (on its own ephemeral port, it receives none of the
/// group's datagrams) with loop on; both are undone when this value is dropped.
struct HostOnly<'a> {
    sock: &'a McastSocket,
    group: IpAddr,
    index: u32,
    loop_was: bool,
}

impl<'a> HostOnly<'a> {
    fn enter(sock: &'a McastSocket, group: Group, index: u32) -> Result<Self> {
        let loop_was = match group.ip() {
            IpAddr::V4(g) => {
                let was = sock.multicast_loop_v4()?;
                sock.set_multicast_loop_v4(true)?;
                sock.join_v4_index(g, index)?;
                was
            }
            IpAddr::V6(g) => {
                let was = sock.multicast_loop_v6()?;
                sock.set_multicast_loop_v6(true)?;
                sock.join_v6(g, index)?;
                was
            }
        };
        Ok(HostOnly { sock, group: group.ip(), index, loop_was })
    }
}

impl Drop for HostOnly<'_> {
    fn drop(&mut self) {
        // Best effort: the socket is closed at the end anyway, which ends the membership.
        let _ = match self.group {
            IpAddr::V4(g) => {
                self.sock.leave_v4_index(g, self.index).and(self.sock.set_multicast_loop_v4(self.loop_was))
            }
            IpAddr::V6(g) => self.sock.leave_v6(g, self.index).and(self.sock.set_multicast_loop_v6(self.loop_was)),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::encode_answer;

    fn meta(source: &str, len: usize, ttl: u8) -> RecvMeta {
        RecvMeta {
            len,
            full_len: len,
            truncated: false,
            source: source.parse().unwrap(),
            group: None,
            ifindex: Some(2),
            ttl: Some(ttl),
            timestamp: None,
            drops: None,
            gro_segment: None,
            tos: None,
        }
    }

    /// Puts an answer (session, ring, name) into the search's buffer, as if received; returns its length.
    fn answer(s: &mut Search, session: u32, ring: u64, name: &str) -> usize {
        let q = proto::Repr { kind: Kind::DiscoverQuery, session, seq: ring, send_time_ns: 1, payload_len: 0 };
        encode_answer(&q, name, Some("10.0.0.9".parse().unwrap()), Some(1), &mut s.buf).unwrap()
    }

    /// No traffic: the socket is only opened, and answers are placed in its buffer by hand.
    #[test]
    fn answers_are_taken_once_per_source_for_this_session_and_the_rings_sent() {
        let mut s = Search::builder("239.1.2.3:4000".parse().unwrap()).session(77).max_ring(8).build().unwrap();
        s.next = 2; // rings 0 and 1 were sent
        let n = answer(&mut s, 77, 1, "far");
        let f = s.take(&meta("10.0.0.9:4000", n, 62)).expect("found");
        assert_eq!((f.name.as_str(), f.ring, f.distance, f.query_distance), ("far", 1, Some(2), Some(0)));
        assert_eq!(f.addr, Some("10.0.0.9".parse().unwrap()));
        assert_eq!(f.from, "10.0.0.9:4000".parse().unwrap());
        // The same source again, another session, a ring never sent: ignored.
        let n = answer(&mut s, 77, 0, "far");
        assert!(s.take(&meta("10.0.0.9:4000", n, 64)).is_none());
        let n = answer(&mut s, 78, 1, "other");
        assert!(s.take(&meta("10.0.0.8:4000", n, 64)).is_none());
        let n = answer(&mut s, 77, 4, "other");
        assert!(s.take(&meta("10.0.0.8:4000", n, 64)).is_none());
        // An answer that arrives with more than 64 hops left was not sent with 64: no distance.
        let n = answer(&mut s, 77, 0, "near");
        let f = s.take(&meta("10.0.0.8:4000", n, 255)).expect("found");
        assert_eq!((f.ring, f.distance), (0, None));
        let r = s.report();
        assert_eq!((r.found.len(), r.ignored), (2, 3));
    }
}
