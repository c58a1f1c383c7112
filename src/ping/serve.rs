//! [`Server`]: answers each probe twice, by unicast to the prober and by multicast to the group, once the
//! answering policy ([`crate::guard`]) admits it.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::link::{Endpoint, Options, BUFFER};
use crate::discover::ANSWER_TTL;
use crate::error::Result;
use crate::group::Group;
use crate::guard::{AnswerGuard, AnswerPolicy, Refusal, Refusals};
use crate::iface::Interface;
use crate::resilient::{Notice, Outage};
use crate::sendretry::{send_with_retry, Outcome, RetryPolicy, SendStats};
use crate::socket::RecvMeta;
use crate::wire::proto::{self, Kind, Packet, Repr};
use crate::wire::ssmping;

/// A probe answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Answered {
    /// The prober's address and port (the unicast answer went there).
    pub source: SocketAddr,
    /// The prober's session.
    pub session: u32,
    /// The probe's sequence number.
    pub seq: u64,
    /// The probe's TTL or hop limit on arrival, when asked for ([`ServerBuilder::arrival_ttl`]).
    pub ttl: Option<u8>,
    /// Bytes of the probe, and of each answer.
    pub len: usize,
    /// Whether the unicast answer left.
    pub unicast_sent: bool,
    /// Whether the multicast answer left.
    pub multicast_sent: bool,
    /// An ssmping query (`session`: its client id; `seq`: its sequence number), answered as ssmpingd does.
    pub ssmping: bool,
}

/// What one [`Server::step`] saw.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServeEvent {
    /// A probe was admitted and answered both ways.
    Answered(Answered),
    /// A datagram got no answer: an impossible or off-link source, a rate limit, or not a probe at all.
    Refused {
        /// Where it claimed to come from.
        source: SocketAddr,
        /// Why it was not answered.
        reason: Refusal,
    },
    /// The server lost an interface it joined on, or got it back (and joined again).
    Link(Notice),
}

/// What a server did, for its summary.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ServeReport {
    /// Probes answered (ssmping queries included).
    pub answered: u64,
    /// ssmping and asmping queries answered.
    pub ssmping_answered: u64,
    /// Answers sent and failed, unicast and multicast together; a unicast answer the kernel refused because
    /// of the prober's address (`EACCES`, `EPERM`, `EINVAL`, ...) is counted here as failed.
    pub sends: SendStats,
    /// Datagrams the kernel dropped on the server's socket for want of buffer space.
    pub kernel_drops: u64,
    /// The interface outages, oldest first (at most [`crate::resilient::MAX_OUTAGES`]).
    pub outages: Vec<Outage>,
    /// Datagrams not answered, by reason.
    pub refused: Refusals,
    /// Sources the answering policy forgot because its table was full.
    pub sources_evicted: u64,
}

/// Options of a [`Server`]; see [`Server::builder`].
#[derive(Clone, Debug)]
pub struct ServerBuilder {
    group: Group,
    opts: Options,
    policy: AnswerPolicy,
    count: Option<u64>,
    timeout: Option<Duration>,
    arrival_ttl: bool,
}

impl ServerBuilder {
    /// Joins on `iface` (repeatable; the first is the one multicast answers leave by). Default: the routing
    /// table's choice.
    pub fn interface(mut self, iface: Interface) -> Self {
        self.opts.ifaces.push(iface);
        self
    }

    /// A source-specific join: hears the group only from `source` (repeatable).
    pub fn source(mut self, source: IpAddr) -> Self {
        self.opts.sources.push(source);
        self
    }

    /// TTL or hop limit of the multicast answers (default: the kernel's, 1).
    pub fn ttl(mut self, ttl: u8) -> Self {
        self.opts.ttl = Some(ttl);
        self
    }

    /// The DSCP, 0..=63, of what this side sends (`IP_TOS` / `IPV6_TCLASS`).
    pub fn dscp(mut self, dscp: u8) -> Self {
        self.opts.dscp = Some(dscp);
        self
    }

    /// Spins on the non-blocking socket instead of sleeping in `poll`: lower, steadier round trips for one
    /// busy core.
    pub fn busy_poll(mut self, on: bool) -> Self {
        self.opts.busy = on;
        self
    }

    /// The answering policy: on-link rule, allowed prefixes, rates (default: [`AnswerPolicy::default`]).
    pub fn policy(mut self, policy: AnswerPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Done after answering `n` probes.
    pub fn count(mut self, n: u64) -> Self {
        self.count = Some(n);
        self
    }

    /// Done `after` this long from [`Self::build`].
    pub fn timeout(mut self, after: Duration) -> Self {
        self.timeout = Some(after);
        self
    }

    /// Whether [`Answered::ttl`] is filled in (default on). Off, the kernel copies one control message less
    /// for each probe.
    pub fn arrival_ttl(mut self, on: bool) -> Self {
        self.arrival_ttl = on;
        self
    }

    /// Joins the group and gets ready to answer.
    pub fn build(self) -> Result<Server> {
        let ttl = self.arrival_ttl;
        // A server reports no times: no arrival stamps.
        let ep = Endpoint::open(self.group, &self.opts, false, |s| s.lean_controls(false, ttl))?;
        // Unicast answers leave with a known TTL, so that a prober counts the routers between (ssmping's 64).
        let s = ep.rx.socket();
        s.set_unicast_ttl(ANSWER_TTL)?;
        Ok(Server {
            multicast_ttl: self.opts.ttl.unwrap_or(1),
            ssmping_answered: 0,
            ep,
            guard: AnswerGuard::new(self.policy),
            buf: vec![0; BUFFER],
            count: self.count,
            deadline: self.timeout.map(|t| Instant::now() + t),
            answered: 0,
            sends: SendStats::default(),
            refused: Refusals::default(),
            retry: RetryPolicy::default(),
        })
    }
}

/// Answers probes: `mcast ping --serve` as a library. Call [`Self::step`] until [`Self::is_done`] (or for as
/// long as you like), then take [`Self::report`].
pub struct Server {
    ep: Endpoint,
    guard: AnswerGuard,
    buf: Vec<u8>,
    count: Option<u64>,
    deadline: Option<Instant>,
    answered: u64,
    ssmping_answered: u64,
    /// The TTL of multicast answers to probes (ssmping's answers leave with [`ANSWER_TTL`]).
    multicast_ttl: u8,
    sends: SendStats,
    refused: Refusals,
    retry: RetryPolicy,
}

impl Server {
    /// A server for `group` (which carries the port) with default options.
    pub fn builder(group: Group) -> ServerBuilder {
        ServerBuilder {
            group,
            opts: Options::default(),
            policy: AnswerPolicy::default(),
            count: None,
            timeout: None,
            arrival_ttl: true,
        }
    }

    /// The group answered.
    pub fn group(&self) -> Group {
        self.ep.group
    }

    /// Whether the count of answers or the timeout was reached.
    pub fn is_done(&self) -> bool {
        self.count.is_some_and(|n| self.answered >= n) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Waits at most [`super::SLICE`] (or until the timeout) for one datagram and handles it: `None` when
    /// nothing arrived, or what arrived needs no report (another responder's answer).
    ///
    /// An admitted probe's unicast answer leaves first, before any bookkeeping, since its round trip is the
    /// one measured closest. Only a failure of the server's own socket is an error; a send the prober's
    /// address makes fail is counted.
    pub fn step(&mut self) -> Result<Option<ServeEvent>> {
        if let Some(n) = self.ep.notices.pop_front() {
            return Ok(Some(ServeEvent::Link(n)));
        }
        if self.is_done() {
            return Ok(None);
        }
        let Some((meta, joined)) = self.ep.recv_until(&mut self.buf, self.deadline)? else { return Ok(None) };
        let source = meta.source;
        let bytes = self.buf.get(..meta.len).unwrap_or_default();
        let repr = match sort_incoming(bytes, meta.truncated) {
            Incoming::Probe(repr) => repr,
            Incoming::SsmQuery(query) => return self.answer_ssmping(&meta, query).map(Some),
            Incoming::SsmAnswer => return Ok(None),
            Incoming::Answer(repr) => {
                // Answers (this server's own multicast ones among them) are the protocol, not strangers.
                if joined {
                    self.ep.rx.observe_header(&repr, Instant::now());
                }
                return Ok(None);
            }
            Incoming::Foreign(repr) => {
                if let (Some(repr), true) = (repr, joined) {
                    self.ep.rx.observe_header(&repr, Instant::now());
                }
                return Ok(Some(self.refuse(source, Refusal::Foreign)));
            }
        };
        let now = Instant::now();
        if let Err(why) = self.guard.admit(source, meta.ifindex, meta.len, meta.len, now) {
            return Ok(Some(self.refuse(source, why)));
        }
        // The answer is the probe with its type changed: session, sequence, send time and payload echoed.
        let data = self.buf.get_mut(..meta.len).unwrap_or_default();
        let s = self.ep.rx.socket();
        Packet::new_unchecked(&mut *data).set_kind(Kind::PingReplyUnicast);
        let unicast_sent = send_answer(&self.retry, &mut self.sends, true, &mut || s.send_to(data, source))?;
        if joined {
            self.ep.rx.observe_header(&repr, now);
        }
        let s = self.ep.rx.socket();
        let dest = self.ep.dest;
        Packet::new_unchecked(&mut *data).set_kind(Kind::PingReplyMulticast);
        let multicast_sent = send_answer(&self.retry, &mut self.sends, false, &mut || s.send_to(data, dest))?;
        if !multicast_sent {
            // The interface may have been made again under a new index: the next answer leaves by it.
            self.ep.relook();
        }
        self.answered += 1;
        let (session, seq, ttl, len) = (repr.session, repr.seq, meta.ttl, meta.len);
        let answered = Answered { source, session, seq, ttl, len, unicast_sent, multicast_sent, ssmping: false };
        Ok(Some(ServeEvent::Answered(answered)))
    }

    /// Answers an ssmping or asmping query as ssmpingd does: the query sent back with its type byte changed, by
    /// unicast to the client, and to the group the query names (or the default one) on the client's port, both
    /// with TTL [`ANSWER_TTL`]. The answer is the query's size: the server's version (asked for with option 5)
    /// and padding up to a larger size (option 7) are left out, since an answer may not be larger than its
    /// query (`docs/security.md`); ssmping then prints no server version, or warns that the size differs.
    fn answer_ssmping(&mut self, meta: &RecvMeta, query: ssmping::Repr) -> Result<ServeEvent> {
        let source = meta.source;
        let v6 = source.is_ipv6();
        let Some(group) = ssmping::answerable_group(query.group, v6) else {
            return Ok(self.refuse(source, Refusal::Foreign));
        };
        if let Err(why) = self.guard.admit(source, meta.ifindex, meta.len, meta.len, Instant::now()) {
            return Ok(self.refuse(source, why));
        }
        let data = self.buf.get_mut(..meta.len).unwrap_or_default();
        ssmping::Packet::new_unchecked(&mut *data).set_kind(ssmping::Kind::Answer);
        let s = self.ep.rx.socket();
        let unicast_sent = send_answer(&self.retry, &mut self.sends, true, &mut || s.send_to(data, source))?;
        let mut dest = SocketAddr::new(group, source.port());
        if let (SocketAddr::V6(d), SocketAddr::V6(ours)) = (&mut dest, self.ep.dest) {
            d.set_scope_id(ours.scope_id());
        }
        s.set_multicast_ttl(ANSWER_TTL)?;
        let multicast_sent = send_answer(&self.retry, &mut self.sends, false, &mut || s.send_to(data, dest));
        s.set_multicast_ttl(self.multicast_ttl)?;
        let multicast_sent = multicast_sent?;
        self.answered += 1;
        self.ssmping_answered += 1;
        Ok(ServeEvent::Answered(Answered {
            source,
            session: query.client_id.unwrap_or(0),
            seq: query.seq.map_or(0, u64::from),
            ttl: meta.ttl,
            len: meta.len,
            unicast_sent,
            multicast_sent,
            ssmping: true,
        }))
    }

    fn refuse(&mut self, source: SocketAddr, reason: Refusal) -> ServeEvent {
        self.refused.count(reason);
        ServeEvent::Refused { source, reason }
    }

    /// Probes answered so far.
    pub fn answered(&self) -> u64 {
        self.answered
    }

    /// Datagrams refused so far, by reason.
    pub fn refusals(&self) -> &Refusals {
        &self.refused
    }

    /// The summary so far.
    pub fn report(&self) -> ServeReport {
        ServeReport {
            answered: self.answered,
            ssmping_answered: self.ssmping_answered,
            sends: self.sends.clone(),
            kernel_drops: self.ep.kernel_drops(),
            outages: self.ep.rx.outages().cloned().collect(),
            refused: self.refused.clone(),
            sources_evicted: self.guard.sources_evicted(),
        }
    }
}

/// What reached the server.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Incoming {
    /// A probe, to be answered if the policy admits it.
    Probe(Repr),
    /// A responder's answer (this server's own multicast ones come back to it): no business of the server's.
    Answer(Repr),
    /// An ssmping or asmping query (draft-ietf-mboned-ssmping), whole.
    SsmQuery(ssmping::Repr),
    /// An ssmping answer (this server's own multicast ones come back to it when it is a member of their group).
    SsmAnswer,
    /// Not a probe: another kind of the protocol (its header, for the outage accounting), or nothing that
    /// decodes, or a datagram cut short.
    Foreign(Option<Repr>),
}

/// Sorts one datagram read whole into `bytes` (`truncated`: it did not fit).
fn sort_incoming(bytes: &[u8], truncated: bool) -> Incoming {
    if !truncated && matches!(bytes.first(), Some(&ssmping::QUERY | &ssmping::ANSWER)) {
        match ssmping::Packet::new_checked(bytes).and_then(|p| ssmping::Repr::parse(&p)) {
            Ok(r) if r.kind == Some(ssmping::Kind::Query) => return Incoming::SsmQuery(r),
            Ok(_) => return Incoming::SsmAnswer,
            Err(_) => {}
        }
    }
    match proto::decode(bytes) {
        Ok((repr, _)) if truncated => Incoming::Foreign(Some(repr)),
        Ok((repr, _)) => match repr.kind {
            Kind::PingRequest => Incoming::Probe(repr),
            Kind::PingReplyMulticast | Kind::PingReplyUnicast => Incoming::Answer(repr),
            _ => Incoming::Foreign(Some(repr)),
        },
        Err(_) => Incoming::Foreign(None),
    }
}

/// Sends one answer through trouble (`crate::sendretry`): a full queue is retried, a lost link counted. For a
/// unicast answer (`to_peer`), an error the destination address causes is counted too: the prober's address
/// is whatever the datagram claimed, so it must not stop the server. `false` when the answer did not leave.
fn send_answer(
    policy: &RetryPolicy,
    stats: &mut SendStats,
    to_peer: bool,
    send: &mut dyn FnMut() -> Result<usize>,
) -> Result<bool> {
    match send_with_retry(policy, stats, &mut std::thread::sleep, send) {
        Ok(Outcome::Sent(_)) => Ok(true),
        Ok(Outcome::Failed(_)) => Ok(false),
        Err(e) if to_peer && e.raw_os_error().is_some_and(peer_caused) => {
            stats.failed = stats.failed.saturating_add(1);
            let n = stats.errors.entry(e.raw_os_error().unwrap_or(0)).or_default();
            *n = n.saturating_add(1);
            stats.last_error = Some(format!("{e:#}"));
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Errors of `sendto` that the destination address causes, not the socket: an address the kernel will not
/// send to (`EINVAL`), a broadcast or prohibited one (`EACCES`, `EPERM`, the packet filter's verdict too), one
/// of a family or route that is not there.
fn peer_caused(errno: i32) -> bool {
    matches!(
        errno,
        libc::EINVAL
            | libc::EACCES
            | libc::EPERM
            | libc::EAFNOSUPPORT
            | libc::EDESTADDRREQ
            | libc::EADDRNOTAVAIL
            | libc::ENETUNREACH
            | libc::EHOSTUNREACH
            | libc::ECONNREFUSED
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::RateLimit;

    fn datagram(kind: Kind, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; proto::HEADER_LEN + payload.len()];
        let n = proto::encode(kind, 9, 4, 5, payload, &mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn only_whole_probes_are_candidates_for_an_answer() {
        let p = datagram(Kind::PingRequest, b"xyz");
        assert!(matches!(sort_incoming(&p, false), Incoming::Probe(r) if r.seq == 4 && r.session == 9));
        assert!(matches!(sort_incoming(&p, true), Incoming::Foreign(Some(_))), "cut short");
        assert!(matches!(sort_incoming(&datagram(Kind::PingReplyMulticast, b""), false), Incoming::Answer(_)));
        assert!(matches!(sort_incoming(&datagram(Kind::PingReplyUnicast, b""), false), Incoming::Answer(_)));
        assert!(matches!(sort_incoming(&datagram(Kind::PerfData, b""), false), Incoming::Foreign(Some(_))));
        assert_eq!(sort_incoming(b"GET / HTTP/1.0", false), Incoming::Foreign(None));
        assert_eq!(sort_incoming(&p[..p.len() - 1], false), Incoming::Foreign(None), "shorter than it says");
        assert_eq!(sort_incoming(&[], false), Incoming::Foreign(None));
        // ssmping, by its first byte: a whole query is one, an answer is the protocol, a broken one is foreign.
        let query = [b'Q', 0, 2, 0, 4, 0, 0, 0, 7];
        assert!(matches!(sort_incoming(&query, false), Incoming::SsmQuery(r) if r.seq == Some(7)));
        assert_eq!(sort_incoming(&[b'A', 0, 2, 0, 4, 0, 0, 0, 7], false), Incoming::SsmAnswer);
        assert_eq!(sort_incoming(&query[..8], false), Incoming::Foreign(None), "an option cut short");
        assert_eq!(sort_incoming(&query, true), Incoming::Foreign(None), "truncated");
    }

    /// What the server asks the guard for a probe: an answer of the probe's own size, so never oversized;
    /// impossible sources, then the buckets, refuse it.
    #[test]
    fn probes_pass_the_guard_one_to_one_until_a_bucket_is_empty() {
        let policy = AnswerPolicy {
            per_source: RateLimit::per_second(2),
            allow: vec![("0.0.0.0".parse().unwrap(), 0)],
            ..AnswerPolicy::default()
        };
        let mut g = AnswerGuard::new(policy);
        let now = Instant::now();
        let len = datagram(Kind::PingRequest, b"xyz").len();
        let mut admit = |src: &str| g.admit(src.parse().unwrap(), Some(2), len, len, now);
        assert_eq!(admit("10.0.0.1:0"), Err(Refusal::PortZero));
        assert_eq!(admit("224.0.0.1:9"), Err(Refusal::Multicast));
        assert_eq!(admit("255.255.255.255:9"), Err(Refusal::Broadcast));
        assert_eq!(admit("10.0.0.1:9"), Ok(()));
        assert_eq!(admit("10.0.0.1:10"), Ok(()), "the bucket is the address's, whatever the port");
        assert_eq!(admit("10.0.0.1:9"), Err(Refusal::SourceRate));
        assert_eq!(admit("10.0.0.2:9"), Ok(()));
    }

    #[test]
    fn errors_of_the_peers_address_are_counted_not_returned() {
        let mut stats = SendStats::default();
        let policy = RetryPolicy::default();
        for errno in [libc::EINVAL, libc::EACCES, libc::EPERM, libc::EHOSTUNREACH] {
            let mut send = || Err(crate::Error::os("sendto", std::io::Error::from_raw_os_error(errno)));
            assert_eq!(send_answer(&policy, &mut stats, true, &mut send).ok(), Some(false), "errno {errno}");
        }
        assert_eq!(stats.failed, 4);
        assert_eq!(stats.errors.values().sum::<u64>(), 4);
        // The same error on the multicast answer is the server's own trouble.
        let mut send = || Err(crate::Error::os("sendto", std::io::Error::from_raw_os_error(libc::EACCES)));
        assert!(send_answer(&policy, &mut stats, false, &mut send).is_err());
        let mut bad_fd = || Err(crate::Error::os("sendto", std::io::Error::from_raw_os_error(libc::EBADF)));
        assert!(send_answer(&policy, &mut stats, true, &mut bad_fd).is_err());
    }
}
