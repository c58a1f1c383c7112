//! [`Responder`]: answers discover queries on a group, by unicast, within the answering policy.
//!
//! [`Answerer`] is the decision without the socket: a datagram and its metadata in, an answer (written into a
//! buffer) or a [`Refusal`] out. [`Responder`] wraps it around a [`ResilientReceiver`] that rejoins after its
//! interfaces flap, and sends the answers.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};
use crate::group::Group;
use crate::guard::{AnswerGuard, AnswerPolicy, Refusal, Refusals};
use crate::iface::{IfaceSpec, Interface};
use crate::resilient::{Notice, Outage, ResilientReceiver};
use crate::sendretry::{send_with_retry, Outcome, RetryPolicy, SendStats};
use crate::socket::{Family, RecvMeta};
use crate::wire::proto::{self, Kind};
use crate::Receiver;

use super::{answer_len, encode_answer, ANSWER_TTL, MAX_ANSWER_LEN};

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
    answered: u64,
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
            answered: 0,
        })
    }

    /// Decides about `datagram` (as received, with `meta`), answering with `addr` as the address of the
    /// arrival interface; on [`Verdict::Answer`] the answer is in `reply` (at least [`MAX_ANSWER_LEN`] bytes).
    pub fn consider(
        &mut self,
        datagram: &[u8],
        meta: &RecvMeta,
        addr: Option<IpAddr>,
        now: Instant,
        reply: &mut [u8],
    ) -> Verdict {
        let verdict = self.judge(datagram, meta, addr, now, reply);
        match verdict {
            Verdict::Answer { .. } => self.answered = self.answered.saturating_add(1),
            Verdict::Refuse(why) => self.refused.count(why),
        }
        verdict
    }

    fn judge(
        &mut self,
        datagram: &[u8],
        meta: &RecvMeta,
        addr: Option<IpAddr>,
        now: Instant,
        reply: &mut [u8],
    ) -> Verdict {
        let query = match proto::decode(datagram) {
            Ok((q, _)) if q.kind == Kind::DiscoverQuery => q,
            _ => return Verdict::Refuse(Refusal::Foreign),
        };
        let len = answer_len(&self.name, addr);
        if let Err(why) = self.guard.admit(meta.source, meta.ifindex, datagram.len(), len, now) {
            return Verdict::Refuse(why);
        }
        match encode_answer(&query, &self.name, addr, reply) {
            Ok(len) => Verdict::Answer { len, ring: query.seq },
            // Only a reply buffer shorter than MAX_ANSWER_LEN gets here: the name was checked at the start.
            Err(_) => Verdict::Refuse(Refusal::Oversized),
        }
    }

    /// The name answered with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Queries answered so far.
    pub fn answered(&self) -> u64 {
        self.answered
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

/// Options of a [`Responder`].
#[derive(Clone, Debug)]
pub struct ResponderBuilder {
    group: Group,
    interfaces: Vec<Interface>,
    name: String,
    policy: AnswerPolicy,
}

impl ResponderBuilder {
    /// Joins on this interface (repeat for several; none: the routing table's choice).
    pub fn interface(mut self, iface: Interface) -> Self {
        self.interfaces.push(iface);
        self
    }

    /// The name to answer with, 1 to [`proto::MAX_NAME`] bytes (default: the host name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The answering policy (default: [`AnswerPolicy::default`], on-link sources only).
    pub fn policy(mut self, policy: AnswerPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Joins the group and sets the answers' TTL or hop limit to [`ANSWER_TTL`].
    pub fn build(self) -> Result<Responder> {
        let answerer = Answerer::new(&self.name, self.policy)?;
        let mut b = Receiver::builder(self.group);
        for i in &self.interfaces {
            b = b.interface(IfaceSpec::Index(i.index));
        }
        let rx = ResilientReceiver::new(b.build()?)?;
        match Family::of(self.group.ip()) {
            Family::V4 => rx.socket().set_unicast_ttl_v4(i32::from(ANSWER_TTL))?,
            Family::V6 => rx.socket().set_unicast_hops_v6(i32::from(ANSWER_TTL))?,
        }
        Ok(Responder {
            rx,
            group: self.group,
            answerer,
            events: VecDeque::new(),
            buf: vec![0u8; 65_536],
            reply: vec![0u8; MAX_ANSWER_LEN],
            sends: SendStats::default(),
        })
    }
}

/// What a [`Responder`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponderEvent {
    /// A query was answered.
    Answered {
        /// Who asked (and got the answer).
        querier: SocketAddr,
        /// The TTL or hop limit the query says it was sent with: the searcher's ring.
        ring: u64,
        /// The TTL or hop limit the query arrived with.
        ttl: Option<u8>,
        /// The address answered with: the arrival interface's.
        addr: Option<IpAddr>,
    },
    /// A datagram got no answer.
    Refused {
        /// Its claimed source.
        source: SocketAddr,
        /// Why.
        reason: Refusal,
    },
    /// An answer could not be sent (counted in [`ResponderReport::sends`]); the responder goes on.
    SendFailed {
        /// Where it was going.
        querier: SocketAddr,
        /// The error.
        error: String,
    },
    /// Something happened to an interface the responder joined on.
    Notice(Notice),
}

/// A responder's account of its run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponderReport {
    /// The name it answered with.
    pub name: String,
    /// Queries answered.
    pub answered: u64,
    /// Datagrams refused, by reason.
    pub refused: Refusals,
    /// Sources forgotten from the bounded source table.
    pub sources_evicted: u64,
    /// Answers sent, and sends that failed and why.
    pub sends: SendStats,
    /// Interface outages (the last [`crate::resilient::MAX_OUTAGES`]).
    pub outages: Vec<Outage>,
}

/// Answers discover queries on a group; see the [module docs](super).
#[derive(Debug)]
pub struct Responder {
    rx: ResilientReceiver,
    group: Group,
    answerer: Answerer,
    events: VecDeque<ResponderEvent>,
    buf: Vec<u8>,
    reply: Vec<u8>,
    sends: SendStats,
}

impl Responder {
    /// A responder for `group` (which carries the port), to configure and [`build`](ResponderBuilder::build).
    pub fn builder(group: Group) -> ResponderBuilder {
        let name =
            std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default();
        ResponderBuilder { group, interfaces: Vec::new(), name, policy: AnswerPolicy::default() }
    }

    /// The next event, waiting at most `timeout` for a datagram. `None` when nothing happened, which may be
    /// early (a signal, link announcements handled), so callers loop. Only a failure of the responder's own
    /// socket is an error; nothing a datagram says is.
    pub fn next_event(&mut self, timeout: Duration) -> Result<Option<ResponderEvent>> {
        if let Some(e) = self.events.pop_front() {
            return Ok(Some(e));
        }
        let got = self.rx.recv_timeout(&mut self.buf, timeout)?;
        self.events.extend(self.rx.take_notices().into_iter().map(ResponderEvent::Notice));
        if let Some(meta) = got {
            let event = self.handle(&meta)?;
            self.events.push_back(event);
        }
        Ok(self.events.pop_front())
    }

    fn handle(&mut self, meta: &RecvMeta) -> Result<ResponderEvent> {
        // By the index the query came in on, so a re-created interface answers with its address now.
        let addr = meta.ifindex.and_then(|i| Interface::by_index(i).ok()).and_then(|i| address_of(&i, self.group.ip()));
        let datagram = self.buf.get(..meta.len).unwrap_or_default();
        let (len, ring) = match self.answerer.consider(datagram, meta, addr, Instant::now(), &mut self.reply) {
            Verdict::Answer { len, ring } => (len, ring),
            Verdict::Refuse(reason) => return Ok(ResponderEvent::Refused { source: meta.source, reason }),
        };
        let answer = self.reply.get(..len).unwrap_or_default();
        let socket = self.rx.socket();
        let mut send = || socket.send_to(answer, meta.source);
        let outcome = send_with_retry(&RetryPolicy::default(), &mut self.sends, &mut std::thread::sleep, &mut send);
        let error = match outcome {
            Ok(Outcome::Sent(_)) => {
                return Ok(ResponderEvent::Answered { querier: meta.source, ring, ttl: meta.ttl, addr });
            }
            Ok(Outcome::Failed(e)) => e,
            Err(e) if own_socket_broken(&e) => return Err(e),
            Err(e) => {
                count_failure(&mut self.sends, &e);
                e
            }
        };
        Ok(ResponderEvent::SendFailed { querier: meta.source, error: error.to_string() })
    }

    /// The name answered with.
    pub fn name(&self) -> &str {
        self.answerer.name()
    }

    /// The group answered on.
    pub fn group(&self) -> Group {
        self.group
    }

    /// The receiver underneath (its socket, memberships and outages).
    pub fn receiver(&self) -> &ResilientReceiver {
        &self.rx
    }

    /// The account so far.
    pub fn report(&self) -> ResponderReport {
        ResponderReport {
            name: self.answerer.name().to_string(),
            answered: self.answerer.answered(),
            refused: self.answerer.refused().clone(),
            sources_evicted: self.answerer.sources_evicted(),
            sends: self.sends.clone(),
            outages: self.rx.outages().cloned().collect(),
        }
    }
}

/// Whether a send error means the responder's own socket is unusable (which ends it), rather than trouble
/// with one peer's address (`EACCES` for a broadcast, `EINVAL` for port 0, `EPERM` from a firewall ...).
fn own_socket_broken(e: &Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EBADF | libc::ENOTSOCK | libc::EFAULT | libc::ENOMEM) | None)
}

/// Counts a send that `send_with_retry` deemed fatal but that only one peer's address caused.
fn count_failure(stats: &mut SendStats, e: &Error) {
    stats.failed = stats.failed.saturating_add(1);
    let n = stats.errors.entry(e.raw_os_error().unwrap_or(0)).or_default();
    *n = n.saturating_add(1);
    if stats.streak == 0 {
        stats.failing_since = Some(std::time::SystemTime::now());
    }
    stats.streak = stats.streak.saturating_add(1);
    stats.last_error = Some(e.to_string());
}

/// The interface's address in the group's family: IPv4's first, or for IPv6 a global address before a
/// link-local one.
fn address_of(i: &Interface, group: IpAddr) -> Option<IpAddr> {
    match Family::of(group) {
        Family::V4 => i.first_ipv4().map(IpAddr::V4),
        Family::V6 => {
            let global = i.ipv6.iter().find(|a| a.segments()[0] & 0xffc0 != 0xfe80);
            global.or(i.ipv6.first()).copied().map(IpAddr::V6)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{encode_query, QUERY_LEN};
    use crate::guard::RateLimit;
    use crate::wire::proto::Answer;

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
        let v = a.consider(&q, &meta("10.0.0.2:5000", q.len()), addr, Instant::now(), &mut reply);
        let Verdict::Answer { len, ring } = v else { panic!("{v:?}") };
        assert_eq!(ring, 2);
        let (r, body) = proto::decode(&reply[..len]).unwrap();
        assert_eq!((r.kind, r.session, r.seq, r.send_time_ns), (Kind::DiscoverAnswer, 0xabcd, 2, 42));
        assert_eq!(Answer::parse(body).unwrap(), Answer { name: "printer-3".into(), addr });
        assert_eq!(a.answered(), 1);
        assert_eq!(a.refused().total(), 0);
    }

    #[test]
    fn an_unpadded_query_is_answered_only_when_the_answer_fits() {
        let mut a = Answerer::new(&"n".repeat(200), allow_all()).unwrap();
        let mut q = [0u8; 64];
        let n = proto::encode(Kind::DiscoverQuery, 1, 1, 0, &[0u8; 8], &mut q).unwrap();
        let mut reply = [0u8; MAX_ANSWER_LEN];
        let v = a.consider(&q[..n], &meta("10.0.0.2:5000", n), None, Instant::now(), &mut reply);
        assert_eq!(v, Verdict::Refuse(Refusal::Oversized));
        // A short name fits a 36-byte query with no address: 28 + 1 + 5 + 1 = 35 bytes.
        let mut short = Answerer::new("short", allow_all()).unwrap();
        let v = short.consider(&q[..n], &meta("10.0.0.2:5000", n), None, Instant::now(), &mut reply);
        assert_eq!(v, Verdict::Answer { len: 35, ring: 1 });
        // The header-only query of earlier versions fits no answer at all.
        let n = proto::encode(Kind::DiscoverQuery, 1, 1, 0, &[], &mut q).unwrap();
        let v = short.consider(&q[..n], &meta("10.0.0.2:5000", n), None, Instant::now(), &mut reply);
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
            assert_eq!(a.consider(&q, &meta(src, q.len()), None, now, &mut reply), Verdict::Refuse(why), "{src}");
        }
        let ping = {
            let mut b = [0u8; 40];
            let n = proto::encode(Kind::PingRequest, 1, 1, 0, b"hi", &mut b).unwrap();
            b[..n].to_vec()
        };
        for junk in [&b"hello"[..], &ping, &q[..20]] {
            let v = a.consider(junk, &meta("10.0.0.2:5", junk.len()), None, now, &mut reply);
            assert_eq!(v, Verdict::Refuse(Refusal::Foreign));
        }
        assert_eq!(a.refused().total(), 8);
        assert_eq!(a.answered(), 0);
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
                matches!(a.consider(&q, &meta("10.0.0.2:5", q.len()), None, now, &mut reply), Verdict::Answer { .. })
            })
            .count();
        assert_eq!(answered, 5);
        assert_eq!(a.refused().get(Refusal::SourceRate), 15);
        // Another source has its own bucket.
        let v = a.consider(&q, &meta("10.0.0.3:5", q.len()), None, now, &mut reply);
        assert!(matches!(v, Verdict::Answer { .. }));
    }

    #[test]
    fn names_are_checked() {
        assert!(Answerer::new("", allow_all()).is_err());
        assert!(Answerer::new(&"n".repeat(256), allow_all()).is_err());
        assert!(Answerer::new(&"n".repeat(255), allow_all()).is_ok());
    }
}
