//! [`Responder`]: answers discover queries on a group, by unicast, within the answering policy.
//!
//! The decision is [`Answerer`]'s (no socket); [`Responder`] wraps it around a [`ResilientReceiver`] that
//! rejoins after its interfaces flap, and sends the answers.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::group::Group;
use crate::guard::{AnswerPolicy, Refusal, Refusals};
use crate::iface::{IfaceSpec, Interface};
use crate::resilient::{Notice, Outage, ResilientReceiver};
use crate::sendretry::{send_with_retry, Outcome, RetryPolicy, SendStats};
use crate::socket::{Family, RecvMeta};
use crate::Receiver;

use super::{Answerer, Verdict, ANSWER_TTL, MAX_ANSWER_LEN};

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

    /// The name to answer with, 1 to [`proto::MAX_NAME`](crate::wire::proto::MAX_NAME) bytes (default: the host name).
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
        rx.socket().set_unicast_ttl(ANSWER_TTL)?;
        Ok(Responder {
            rx,
            group: self.group,
            answerer,
            events: VecDeque::new(),
            buf: vec![0u8; 65_536],
            reply: vec![0u8; MAX_ANSWER_LEN],
            sends: SendStats::default(),
            addrs: Addresses::default(),
            answered: 0,
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
    addrs: Addresses,
    answered: u64,
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
        let datagram = self.buf.get(..meta.len).unwrap_or_default();
        let now = Instant::now();
        let (addrs, family) = (&mut self.addrs, self.group.ip());
        let mut addr = None;
        let lookup = || {
            addr = addrs.get(meta.ifindex, family, now);
            addr
        };
        let (len, ring) = match self.answerer.consider(datagram, meta, lookup, now, &mut self.reply) {
            Verdict::Answer { len, ring } => (len, ring),
            Verdict::Refuse(reason) => return Ok(ResponderEvent::Refused { source: meta.source, reason }),
        };
        let answer = self.reply.get(..len).unwrap_or_default();
        let socket = self.rx.socket();
        let mut send = || socket.send_to(answer, meta.source);
        let outcome = send_with_retry(&RetryPolicy::default(), &mut self.sends, &mut std::thread::sleep, &mut send);
        let error = match outcome {
            Ok(Outcome::Sent(_)) => {
                self.answered = self.answered.saturating_add(1);
                return Ok(ResponderEvent::Answered { querier: meta.source, ring, ttl: meta.ttl, addr });
            }
            Ok(Outcome::Failed(e)) => e,
            Err(e) if own_socket_broken(&e) => return Err(e),
            Err(e) => {
                count_failure(&mut self.sends, &e);
                e
            }
        };
        Ok(ResponderEvent::SendFailed { querier: meta.source, error: format!("{error:#}") })
    }

    /// The name answered with.
    pub fn name(&self) -> &str {
        self.answerer.name()
    }

    /// Queries answered so far (answers sent).
    pub fn answered(&self) -> u64 {
        self.answered
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
            answered: self.answered,
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
    stats.last_error = Some(format!("{e:#}"));
}

/// How long an interface's address is trusted before it is looked up again.
const ADDRESS_AGE: Duration = Duration::from_secs(1);

/// The addresses of the arrival interfaces, by index, looked up at most once a second each: looking one up
/// reads every interface, too slow to do for each of 10,000 answers a second. The indices are the kernel's,
/// so the map holds at most one entry per interface that ever delivered an admitted query.
#[derive(Debug, Default)]
struct Addresses {
    known: std::collections::HashMap<u32, (Option<IpAddr>, Instant)>,
}

impl Addresses {
    /// The address to answer with for a query that arrived on `index`: by the index, so a re-created
    /// interface answers with its address now.
    fn get(&mut self, index: Option<u32>, group: IpAddr, now: Instant) -> Option<IpAddr> {
        let index = index?;
        if let Some(&(addr, at)) = self.known.get(&index) {
            if now.saturating_duration_since(at) < ADDRESS_AGE {
                return addr;
            }
        }
        let addr = Interface::by_index(index).ok().and_then(|i| address_of(&i, group));
        self.known.insert(index, (addr, now));
        addr
    }
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
