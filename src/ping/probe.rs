//! [`Prober`]: probes a group at an interval and measures, per responder, the multicast and the unicast round
//! trip.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::link::{Endpoint, Options, BUFFER};
use super::own::{self, LocalMembers};
use super::table::{self, Channel, Responders, RowReport, Sorted};
use crate::error::{Error, ErrorKind, Result};
use crate::group::Group;
use crate::guard::{Refusal, Refusals};
use crate::iface::Interface;
use crate::resilient::{Notice, Outage};
use crate::sendretry::{send_with_retry, Outcome, RetryPolicy, SendStats};
use crate::socket::RecvMeta;
use crate::stats::Order;
use crate::wire::proto::{self, Kind};

/// An answer to one of the prober's probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reply {
    /// Who answered.
    pub responder: IpAddr,
    /// Which answer.
    pub channel: Channel,
    /// The probe answered.
    pub seq: u64,
    /// TTL or hop limit on arrival.
    pub ttl: Option<u8>,
    /// Round trip: the kernel's arrival stamp minus the probe's send time, in nanoseconds.
    pub rtt_ns: u64,
    /// In order, reordered or a duplicate (`None` only when the table had no room for it).
    pub arrival: Option<Order>,
}

/// What one [`Prober::step`] did or saw.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeEvent {
    /// Probe `seq` was sent (`left`: false when it could not leave, the link being gone).
    Sent {
        /// Its sequence number.
        seq: u64,
        /// Whether it left.
        left: bool,
    },
    /// An answer arrived.
    Reply(Reply),
    /// A datagram that is no answer to this prober: another session, not a reply, not the protocol.
    Refused {
        /// Where it claimed to come from.
        source: SocketAddr,
        /// Why it was set aside ([`Refusal::Foreign`]).
        reason: Refusal,
    },
    /// The prober lost an interface it joined on, or got it back (and joined again).
    Link(Notice),
}

/// What a prober measured, for its summary.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ProbeReport {
    /// Probes sent (those that could not leave included).
    pub sent: u64,
    /// Probes that left and that failed, and why.
    pub sends: SendStats,
    /// Datagrams the kernel dropped on the prober's sockets for want of buffer space (the prober's own probes,
    /// which its filter drops and the kernel counts among its drops, taken out).
    pub kernel_drops: u64,
    /// The interface outages, oldest first.
    pub outages: Vec<Outage>,
    /// One row per responder and channel, by address then channel (multicast first).
    pub rows: Vec<RowReport>,
    /// Responders forgotten because the table was full (a flood of forged answers shows here).
    pub responders_evicted: u64,
    /// Datagrams set aside, by reason.
    pub refused: Refusals,
}

/// Options of a [`Prober`]; see [`Prober::builder`].
#[derive(Clone, Debug)]
pub struct ProberBuilder {
    group: Group,
    opts: Options,
    count: Option<u64>,
    interval: Duration,
    wait: Duration,
    size: usize,
    max_responders: usize,
    session: Option<u32>,
}

impl ProberBuilder {
    /// Joins on and sends from `iface` (repeatable: joins on each, sends from the first).
    pub fn interface(mut self, iface: Interface) -> Self {
        self.opts.ifaces.push(iface);
        self
    }

    /// A source-specific join: hears multicast answers only from `source` (repeatable).
    pub fn source(mut self, source: IpAddr) -> Self {
        self.opts.sources.push(source);
        self
    }

    /// TTL or hop limit of the probes (default: the kernel's, 1).
    pub fn ttl(mut self, ttl: u8) -> Self {
        self.opts.ttl = Some(ttl);
        self
    }

    /// The DSCP, 0..=63, of what this side sends (`IP_TOS` / `IPV6_TCLASS`).
    pub fn dscp(mut self, dscp: u8) -> Self {
        self.opts.dscp = Some(dscp);
        self
    }

    /// Spins on non-blocking sockets instead of sleeping in `poll`.
    pub fn busy_poll(mut self, on: bool) -> Self {
        self.opts.busy = on;
        self
    }

    /// Sends `n` probes, then waits [`Self::wait`] for the last answers (default: probes until dropped).
    pub fn count(mut self, n: u64) -> Self {
        self.count = Some(n);
        self
    }

    /// Time between probes (default 1 s; at least 1 ms).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// How long to wait for answers after the last probe (default 1 s).
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Payload bytes in each probe, echoed back (default 0; at most [`proto::MAX_PAYLOAD`]).
    pub fn size(mut self, size: usize) -> Self {
        self.size = size;
        self
    }

    /// Responders remembered at once (default [`table::DEFAULT_MAX_RESPONDERS`]); past it the idlest is
    /// forgotten and counted.
    pub fn max_responders(mut self, n: usize) -> Self {
        self.max_responders = n;
        self
    }

    /// The session id the probes carry (default: chosen at random).
    pub fn session(mut self, session: u32) -> Self {
        self.session = Some(session);
        self
    }

    /// Joins the group, opens the sending socket and drops the prober's own probes on the joined socket.
    pub fn build(self) -> Result<Prober> {
        if self.interval < Duration::from_millis(1) {
            return Err(Error::new(ErrorKind::OutOfRange, "the probe interval is at least 0.001 seconds"));
        }
        if self.size > proto::MAX_PAYLOAD {
            return Err(Error::new(
                ErrorKind::OutOfRange,
                format!("a probe carries at most {} bytes", proto::MAX_PAYLOAD),
            ));
        }
        let session = self.session.unwrap_or_else(random_session);
        // Stamps and TTL read from each answer; its own probes dropped before they are queued.
        let ep = Endpoint::open(self.group, &self.opts, true, |s| {
            s.lean_controls(true, true)?;
            own::drop_own_probes(s, session)
        })?;
        let now = Instant::now();
        let mut members = LocalMembers::new(self.group.ip(), &self.opts.ifaces, !self.opts.sources.is_empty());
        if let Some(m) = &mut members {
            m.follow(ep.sending(), Instant::now());
        }
        Ok(Prober {
            members,
            looped: 0,
            ep,
            session,
            payload: vec![0; self.size],
            probe: vec![0; proto::HEADER_LEN + self.size],
            buf: vec![0; BUFFER],
            table: Responders::new(self.max_responders),
            sent: 0,
            sends: SendStats::default(),
            refused: Refusals::default(),
            count: self.count,
            interval: self.interval,
            wait: self.wait,
            next_send: now,
            last_send: now,
        })
    }
}

/// A session id that differs between runs and between processes started at the same moment.
fn random_session() -> u32 {
    let mut rng = crate::relay::Rng::new(proto::now_ns() ^ (u64::from(std::process::id()) << 32));
    rng.next_u64() as u32
}

/// Probes a group: `mcast ping` as a library. Call [`Self::step`] until [`Self::is_done`], then take
/// [`Self::report`].
pub struct Prober {
    ep: Endpoint,
    /// The loop of the probes back to this host (`None`: a source-specific join, which gets no copy).
    members: Option<LocalMembers>,
    /// Probes that left with the loop on: the filter dropped each copy, and the kernel counted it as a drop.
    looped: u64,
    session: u32,
    payload: Vec<u8>,
    probe: Vec<u8>,
    buf: Vec<u8>,
    table: Responders,
    sent: u64,
    sends: SendStats,
    refused: Refusals,
    count: Option<u64>,
    interval: Duration,
    wait: Duration,
    next_send: Instant,
    last_send: Instant,
}

impl Prober {
    /// A prober of `group` (which carries the port) with default options.
    pub fn builder(group: Group) -> ProberBuilder {
        ProberBuilder {
            group,
            opts: Options::default(),
            count: None,
            interval: Duration::from_secs(1),
            wait: Duration::from_secs(1),
            size: 0,
            max_responders: table::DEFAULT_MAX_RESPONDERS,
            session: None,
        }
    }

    /// The group probed.
    pub fn group(&self) -> Group {
        self.ep.group
    }

    /// The session id the probes carry.
    pub fn session(&self) -> u32 {
        self.session
    }

    /// Bytes of each probe, header included.
    pub fn probe_len(&self) -> usize {
        self.probe.len()
    }

    /// Probes sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Responders in the table now.
    pub fn responders(&self) -> usize {
        self.table.len()
    }

    fn more(&self) -> bool {
        self.count.map_or(true, |n| self.sent < n)
    }

    /// Whether every probe was sent and the wait after the last one is over.
    pub fn is_done(&self) -> bool {
        !self.more() && Instant::now() >= self.last_send + self.wait
    }

    /// Sends the next probe when it is due, else waits at most [`super::SLICE`] (or until the next probe is due)
    /// for one datagram and handles it: `None` when nothing arrived or what arrived needs no report (a probe).
    pub fn step(&mut self) -> Result<Option<ProbeEvent>> {
        if let Some(n) = self.ep.notices.pop_front() {
            return Ok(Some(ProbeEvent::Link(n)));
        }
        let now = Instant::now();
        let more = self.more();
        if more && now >= self.next_send {
            return self.send_probe(now).map(Some);
        }
        let deadline = if more { self.next_send } else { self.last_send + self.wait };
        if !more && now >= deadline {
            return Ok(None);
        }
        let got = self.ep.recv_until(&mut self.buf, Some(deadline))?;
        Ok(got.and_then(|(meta, joined)| self.receive(&meta, joined)))
    }

    /// Sends the next probe. One that cannot leave (the link is gone) is counted, and its number goes
    /// unanswered; the interface is looked up again, in case it was made again under a new index.
    fn send_probe(&mut self, now: Instant) -> Result<ProbeEvent> {
        let seq = self.sent;
        let len = proto::encode(Kind::PingRequest, self.session, seq, proto::now_ns(), &self.payload, &mut self.probe)
            .map_err(|e| Error::new(ErrorKind::OutOfRange, e.to_string()))?;
        let (s, dest) = (self.ep.sending(), self.ep.dest);
        let looped = self.members.as_ref().is_some_and(LocalMembers::looped);
        let probe = self.probe.get(..len).unwrap_or_default();
        let outcome = send_with_retry(&RetryPolicy::default(), &mut self.sends, &mut std::thread::sleep, &mut || {
            s.send_to(probe, dest)
        })?;
        // After the probe left, not before: a look at /proc costs tens of microseconds.
        if let Some(m) = &mut self.members {
            m.follow(s, Instant::now());
        }
        let left = matches!(outcome, Outcome::Sent(_));
        if left {
            self.looped += u64::from(looped);
        } else {
            self.ep.relook();
        }
        self.sent += 1;
        self.last_send = now;
        self.next_send += self.interval;
        Ok(ProbeEvent::Sent { seq, left })
    }

    /// Handles one datagram read into the buffer.
    fn receive(&mut self, meta: &RecvMeta, joined: bool) -> Option<ProbeEvent> {
        let repr = self.buf.get(..meta.len).and_then(|b| proto::decode(b).ok()).map(|(r, _)| r);
        // One reading of the clock serves the bookkeeping of this datagram.
        let now = Instant::now();
        if let (Some(r), true) = (&repr, joined) {
            // Numbered answers to the group tell an outage's missed datagrams.
            self.ep.rx.observe_header(r, now);
        }
        let (repr, channel) = match table::sort_header(repr, meta.truncated, self.session, self.sent) {
            Sorted::Answer(repr, channel) => (repr, channel),
            Sorted::Probe => return None,
            Sorted::Foreign => {
                self.refused.count(Refusal::Foreign);
                return Some(ProbeEvent::Refused { source: meta.source, reason: Refusal::Foreign });
            }
        };
        let rtt_ns = arrival_ns(meta).saturating_sub(repr.send_time_ns);
        let from = meta.source.ip();
        let arrival = self.table.record(from, channel, repr.seq, rtt_ns, meta.ttl, now);
        let (seq, ttl) = (repr.seq, meta.ttl);
        Some(ProbeEvent::Reply(Reply { responder: from, channel, seq, ttl, rtt_ns, arrival }))
    }

    /// The summary so far.
    pub fn report(&self) -> ProbeReport {
        ProbeReport {
            sent: self.sent,
            sends: self.sends.clone(),
            kernel_drops: self.ep.kernel_drops().saturating_sub(self.looped),
            outages: self.ep.rx.outages().cloned().collect(),
            rows: self.table.rows(self.sent),
            responders_evicted: self.table.evicted(),
            refused: self.refused.clone(),
        }
    }
}

/// When a datagram arrived, in nanoseconds since the Unix epoch: the kernel's stamp (`SO_TIMESTAMPNS`), else now.
pub(crate) fn arrival_ns(meta: &RecvMeta) -> u64 {
    meta.timestamp
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or_else(proto::now_ns)
}
