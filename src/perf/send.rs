//! [`PerfSender`]: sends numbered datagrams at a paced rate or flat out, many per system call.

use std::time::{Duration, Instant};

use crate::endpoint::Sender;
use crate::error::{Error, ErrorKind, Result};
use crate::group::Group;
use crate::gso::{BatchSender, SendPath, MAX_UDP_PAYLOAD};
use crate::iface::{IfaceSpec, Interface};
use crate::pace::{Pacer, Rate};
use crate::sendretry::{send_with_retry, InterfaceFollower, Outcome, RetryPolicy, SendStats};
use crate::socket::McastSocket;
use crate::wire::iperf2;
use crate::wire::proto::{self, Kind};

use super::{per_second, Step};

/// The send buffer asked for: a paced burst or a GSO train leaves without blocking.
const SEND_BUFFER: u32 = 4 << 20;
/// Copies of the end marker, since it may be lost like any other datagram, and the pause between them.
const MARKERS: usize = 3;
const MARKER_GAP: Duration = Duration::from_millis(20);

/// What a [`PerfSender`] reports as it runs.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SendEvent {
    /// An interval ended.
    Interval(SendInterval),
}

/// What went in one interval.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SendInterval {
    /// Its start, from the start of the run.
    pub from: Duration,
    /// Its end, from the start of the run.
    pub to: Duration,
    /// Datagrams sent in it (the failed included: their numbers were used).
    pub sent: u64,
    /// Datagrams a second.
    pub pps: f64,
    /// Bits of payload a second.
    pub bps: f64,
}

/// What a [`PerfSender`] did over its whole run.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SendReport {
    /// The session id its datagrams carried.
    pub session: u32,
    /// The group sent to.
    pub group: Group,
    /// Datagrams that went.
    pub sent: u64,
    /// Datagrams whose send failed (their numbers are skipped; receivers count them lost).
    pub failed: u64,
    /// UDP payload of each datagram.
    pub size: usize,
    /// `sent * size`.
    pub bytes: u64,
    /// From the start to the last data datagram.
    pub seconds: f64,
    /// The path datagrams went by at the end.
    pub path: SendPath,
    /// Why the sender left the path it was asked for, if it did.
    pub fallback: Option<String>,
    /// Retries and failures of every send, by `errno`.
    pub failures: SendStats,
}

impl SendReport {
    /// Datagrams a second.
    pub fn pps(&self) -> f64 {
        per_second(self.sent, self.seconds)
    }

    /// Bits of payload a second.
    pub fn bps(&self) -> f64 {
        per_second(self.bytes, self.seconds) * 8.0
    }
}

/// Options of a [`PerfSender`]; [`PerfSender::builder`] makes one.
#[derive(Clone, Debug)]
pub struct PerfSenderBuilder {
    group: Group,
    iface: Option<Interface>,
    rate: Rate,
    count: Option<u64>,
    time: Option<Duration>,
    size: usize,
    ttl: Option<u8>,
    dscp: Option<u8>,
    iperf: bool,
    multicast_loop: Option<bool>,
    path: SendPath,
    interval: Option<Duration>,
    session: Option<u32>,
}

impl PerfSenderBuilder {
    /// Sends from `iface` (followed by name if it is deleted and made again).
    pub fn interface(mut self, iface: Interface) -> Self {
        self.iface = Some(iface);
        self
    }

    /// How fast (default 1 Mbit/s of payload, as iperf).
    pub fn rate(mut self, rate: Rate) -> Self {
        self.rate = rate;
        self
    }

    /// Sends `n` datagrams (with [`Self::time`], whichever ends first).
    pub fn count(mut self, n: u64) -> Self {
        self.count = Some(n);
        self
    }

    /// Sends for `t` (default 10 s when no count is given).
    pub fn time(mut self, t: Duration) -> Self {
        self.time = Some(t);
        self
    }

    /// UDP payload of each datagram, [`proto::HEADER_LEN`]`..=65507` bytes (default 1400).
    pub fn size(mut self, bytes: usize) -> Self {
        self.size = bytes;
        self
    }

    /// TTL or hop limit of the test traffic (default: the kernel's, 1).
    pub fn ttl(mut self, ttl: u8) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// The DSCP, 0..=63, of every datagram (`IP_TOS` / `IPV6_TCLASS`).
    pub fn dscp(mut self, dscp: u8) -> Self {
        self.dscp = Some(dscp);
        self
    }

    /// Sends iperf 2's datagrams ([`crate::wire::iperf2`]) instead of the tool's own, so an `iperf -s -u`
    /// server counts them: numbered from 1, the run ended by one datagram of the next number negated.
    pub fn iperf(mut self, on: bool) -> Self {
        self.iperf = on;
        self
    }

    /// Whether this host's own members get copies (`IP_MULTICAST_LOOP`).
    pub fn multicast_loop(mut self, on: bool) -> Self {
        self.multicast_loop = Some(on);
        self
    }

    /// The fastest path to use: [`SendPath::Segments`] (the default) falls back to the others as the kernel
    /// and route require.
    pub fn path(mut self, path: SendPath) -> Self {
        self.path = path;
        self
    }

    /// Reports every `every` ([`SendEvent::Interval`]); `None` (the default) for no interval reports.
    pub fn interval(mut self, every: Option<Duration>) -> Self {
        self.interval = every.filter(|d| !d.is_zero());
        self
    }

    /// The session id the datagrams carry (default: a fresh one per run).
    pub fn session(mut self, id: u32) -> Self {
        self.session = Some(id);
        self
    }

    /// A sending socket as the options ask (interface, TTL, loopback), with a deep send buffer.
    pub fn socket(&self) -> Result<Sender> {
        let mut b = Sender::builder(self.group);
        if let Some(t) = self.ttl {
            b = b.ttl(t);
        }
        if let Some(d) = self.dscp {
            b = b.dscp(d);
        }
        if let Some(on) = self.multicast_loop {
            b = b.multicast_loop(on);
        }
        if let Some(i) = &self.iface {
            b = b.interface(IfaceSpec::Index(i.index));
        }
        let sender = b.build()?;
        let sock = sender.socket();
        // Best effort: a shallower queue only blocks sooner.
        if sock.set_send_buffer_size_force(SEND_BUFFER).is_err() {
            let _ = sock.set_send_buffer_size(SEND_BUFFER);
        }
        Ok(sender)
    }

    /// Starts a run on `sender` (made by [`Self::socket`], or any sender to the group). The clock starts now.
    pub fn start<'a>(&self, sender: &'a Sender) -> Result<PerfSender<'a>> {
        let size = self.size;
        let least = if self.iperf { iperf2::HEADER_LEN } else { proto::HEADER_LEN };
        if !(least..=MAX_UDP_PAYLOAD).contains(&size) {
            return Err(Error::new(
                ErrorKind::OutOfRange,
                format!("perf datagram size {size} is out of range {least}..={MAX_UDP_PAYLOAD}"),
            ));
        }
        let sock = sender.socket();
        let session = self.session.unwrap_or_else(fresh_session);
        let tx = BatchSender::new(sock, self.group.socket_addr(), self.path);
        let per_call = tx.max_per_call(size);
        let slots = per_call.max(crate::sys::mmsg::MAX_BATCH);
        // Every slot carries the header once; a batch rewrites only the sequence numbers and send times.
        let mut buf = vec![0u8; slots * size];
        if !self.iperf {
            let filler = vec![0u8; size - proto::HEADER_LEN];
            for slot in buf.chunks_mut(size) {
                proto::encode(Kind::PerfData, session, 0, 0, &filler, slot).map_err(wire_error)?;
            }
        }
        let (start, wall_at_start) = (Instant::now(), proto::now_ns());
        let time = if self.count.is_none() { Some(self.time.unwrap_or(Duration::from_secs(10))) } else { self.time };
        Ok(PerfSender {
            tx,
            sock,
            group: self.group,
            buf,
            size,
            session,
            start,
            wall_at_start,
            end: time.and_then(|t| start.checked_add(t)),
            count: self.count,
            iperf: self.iperf,
            pacer: Pacer::new(self.rate.packets_per_sec(size), per_call as u64, start),
            seq: 0,
            failures: SendStats::default(),
            failed: 0,
            follower: InterfaceFollower::new(self.iface.as_ref(), self.group),
            interval: self.interval,
            next_report: self.interval.and_then(|i| start.checked_add(i)),
            last_reported: (start, 0),
        })
    }
}

/// Sends numbered datagrams; see the [module docs](super).
#[derive(Debug)]
pub struct PerfSender<'a> {
    tx: BatchSender<'a>,
    sock: &'a McastSocket,
    group: Group,
    /// Slots of `size` bytes, each a whole datagram.
    buf: Vec<u8>,
    size: usize,
    session: u32,
    start: Instant,
    /// The wall clock at `start` (ns since the epoch): a batch's send time is this plus the monotonic time
    /// since, so each batch reads the clock once.
    wall_at_start: u64,
    end: Option<Instant>,
    count: Option<u64>,
    iperf: bool,
    pacer: Pacer,
    /// The next sequence number.
    seq: u64,
    failures: SendStats,
    failed: u64,
    follower: InterfaceFollower,
    interval: Option<Duration>,
    next_report: Option<Instant>,
    last_reported: (Instant, u64),
}

impl<'a> PerfSender<'a> {
    /// Options for a sender to `group`.
    pub fn builder(group: Group) -> PerfSenderBuilder {
        PerfSenderBuilder {
            group,
            iface: None,
            rate: Rate::Bits(1e6),
            count: None,
            time: None,
            size: 1400,
            ttl: None,
            dscp: None,
            iperf: false,
            multicast_loop: None,
            path: SendPath::Segments,
            interval: None,
            session: None,
        }
    }

    /// The session id the datagrams carry.
    pub fn session(&self) -> u32 {
        self.session
    }

    /// One round: an interval report if one is due, else one batch of what the pace allows (or a wait
    /// until the next is due), else [`Step::Done`] at the count or the time. Sends that fail because the
    /// link is gone are counted and their numbers skipped; the interface is looked up again by name, since
    /// a re-created one has a new index. Only an error no retry can help is returned.
    pub fn step(&mut self) -> Result<Step<SendEvent>> {
        let now = Instant::now();
        if self.end.is_some_and(|e| now >= e) || self.count.is_some_and(|c| self.seq >= c) {
            return Ok(Step::Done);
        }
        if let Some(t) = self.next_report.filter(|t| now >= *t) {
            let (from, n) = self.last_reported;
            self.last_reported = (now, self.seq);
            self.next_report = self.interval.and_then(|i| t.checked_add(i));
            return Ok(Step::Event(SendEvent::Interval(self.interval_figures(from, now, n))));
        }
        let per_call = self.tx.max_per_call(self.size);
        let room = self.count.map_or(u64::MAX, |c| c.saturating_sub(self.seq));
        let k = self.pacer.due(now).min(room).min(per_call as u64) as usize;
        if k == 0 {
            self.pacer.wait_until(self.end);
            return Ok(Step::Busy);
        }
        let t = self.wall_at_start.wrapping_add(now.saturating_duration_since(self.start).as_nanos() as u64);
        let batch = self.buf.get_mut(..k * self.size).unwrap_or_default();
        if self.iperf {
            let mut seq = self.seq;
            for slot in batch.chunks_exact_mut(self.size) {
                iperf2::encode(seq as i64 + 1, t, slot).map_err(wire_error)?;
                seq = seq.wrapping_add(1);
            }
        } else {
            proto::stamp_batch(batch, self.size, self.seq, t);
        }
        let (tx, batch, size) = (&mut self.tx, self.buf.get(..k * self.size).unwrap_or(&[]), self.size);
        let n =
            match send_with_retry(&RetryPolicy::default(), &mut self.failures, &mut std::thread::sleep, &mut || {
                tx.send(batch, size)
            })? {
                Outcome::Sent(n) => n,
                Outcome::Failed(_) => {
                    self.failed += k as u64;
                    self.follower.after_failure(self.sock, &mut self.group.socket_addr());
                    k
                }
            };
        self.seq += n as u64;
        self.pacer.sent(n as u64);
        Ok(Step::Busy)
    }

    fn interval_figures(&self, from: Instant, to: Instant, sent_before: u64) -> SendInterval {
        let seconds = to.saturating_duration_since(from).as_secs_f64().max(1e-9);
        let sent = self.seq - sent_before;
        SendInterval {
            from: from.saturating_duration_since(self.start),
            to: to.saturating_duration_since(self.start),
            sent,
            pps: per_second(sent, seconds),
            bps: per_second(sent.saturating_mul(self.size as u64), seconds) * 8.0,
        }
    }

    /// Ends the run: sends the end marker (three copies, 20 ms apart), which tells receivers how many
    /// numbers were used, and returns the run's figures.
    pub fn finish(mut self) -> Result<SendReport> {
        let seconds = self.start.elapsed().as_secs_f64().max(1e-9);
        let marker = if self.iperf {
            // As iperf's multicast client: one datagram of full size, the next number negated.
            let mut fin = vec![0u8; self.size];
            iperf2::encode(-(self.seq as i64 + 1), proto::now_ns(), &mut fin).map_err(wire_error)?;
            fin
        } else {
            let mut marker = vec![0u8; proto::HEADER_LEN];
            proto::encode(Kind::PerfEnd, self.session, self.seq, proto::now_ns(), &[], &mut marker)
                .map_err(wire_error)?;
            marker
        };
        let (sock, dest) = (self.sock, self.group.socket_addr());
        let markers = if self.iperf { 1 } else { MARKERS };
        for i in 0..markers {
            if i > 0 {
                std::thread::sleep(MARKER_GAP);
            }
            send_with_retry(&RetryPolicy::default(), &mut self.failures, &mut std::thread::sleep, &mut || {
                sock.send_to(&marker, dest)
            })?;
        }
        let sent = self.seq - self.failed;
        Ok(SendReport {
            session: self.session,
            group: self.group,
            sent,
            failed: self.failed,
            size: self.size,
            bytes: sent.saturating_mul(self.size as u64),
            seconds,
            path: self.tx.path(),
            fallback: self.tx.fallback_reason().map(str::to_string),
            failures: self.failures,
        })
    }
}

fn wire_error(e: crate::wire::Error) -> Error {
    Error::new(ErrorKind::OutOfRange, e.to_string())
}

/// A session id that differs between runs and between processes started at the same moment.
fn fresh_session() -> u32 {
    let mut rng = crate::relay::Rng::new(proto::now_ns() ^ (u64::from(std::process::id()) << 32));
    rng.next_u64() as u32
}
