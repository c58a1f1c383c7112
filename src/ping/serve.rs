//! [`Server`]: answers each probe twice, by unicast to the prober and by multicast to the group, once the
//! answering policy ([`crate::guard`]) admits it.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::link::{Endpoint, Options, BUFFER};
use crate::error::Result;
use crate::group::Group;
use crate::guard::{AnswerGuard, AnswerPolicy, Refusal, Refusals};
use crate::iface::Interface;
use crate::resilient::{Notice, Outage};
use crate::sendretry::{send_with_retry, Outcome, RetryPolicy, SendStats};
use crate::socket::{Family, McastSocket};
use crate::wire::proto::{self, Kind, Packet};

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
    /// Probes answered.
    pub answered: u64,
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
    pub fn ttl(mut self, ttl: u32) -> Self {
        self.opts.ttl = Some(ttl);
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
        let ep = Endpoint::open(self.group, &self.opts, false, |s| lean(s, ttl))?;
        Ok(Server {
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

/// Turns off the control messages a server never reads, each a copy the kernel makes on the way from a probe's
/// arrival to its unicast answer (together about 0.3 µs a probe, 4 % of a busy-polled round trip over a veth):
/// arrival stamps (a server reports no times), the drop count (`SO_MEMINFO` gives it exact), the TTL when not
/// asked for, and for IPv4 the arrival interface, since the kernel itself matches an IPv4 membership by
/// interface (IPv6 memberships match by group alone, so there the interface stays, for
/// [`crate::resilient::ResilientReceiver::accepts`]). Without it the on-link rule accepts a source directly
/// connected to any of the host's interfaces.
fn lean(s: &McastSocket, arrival_ttl: bool) -> Result<()> {
    s.set_timestamp_ns(false)?;
    s.set_rxq_overflow(false)?;
    match s.family() {
        Family::V4 => {
            s.set_pktinfo_v4(false)?;
            if !arrival_ttl {
                s.set_recv_ttl_v4(false)?;
            }
        }
        Family::V6 if !arrival_ttl => s.set_recv_hoplimit_v6(false)?,
        Family::V6 => {}
    }
    Ok(())
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
        let decoded = match self.buf.get(..meta.len) {
            Some(d) if !meta.truncated => proto::decode(d).map(|(repr, _)| repr).ok(),
            _ => None,
        };
        let Some(repr) = decoded else { return Ok(Some(self.refuse(source, Refusal::Foreign))) };
        if repr.kind != Kind::PingRequest {
            if joined {
                self.ep.rx.observe_header(&repr, Instant::now());
            }
            // Answers (this server's own multicast ones among them) are the protocol, not strangers.
            return Ok(match repr.kind {
                Kind::PingReplyMulticast | Kind::PingReplyUnicast => None,
                _ => Some(self.refuse(source, Refusal::Foreign)),
            });
        }
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
        Ok(Some(ServeEvent::Answered(Answered { source, session, seq, ttl, len, unicast_sent, multicast_sent })))
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
            sends: self.sends.clone(),
            kernel_drops: self.ep.kernel_drops(),
            outages: self.ep.rx.outages().cloned().collect(),
            refused: self.refused.clone(),
            sources_evicted: self.guard.sources_evicted(),
        }
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
            stats.last_error = Some(e.to_string());
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
