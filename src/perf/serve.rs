//! [`PerfServer`]: receives perf datagrams in batches and accounts each sender's run.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::IPERF_SESSION;
use crate::endpoint::Receiver;
use crate::error::Result;
use crate::group::Group;
use crate::gso::{split_read, BatchReceiver};
use crate::guard::{Refusal, Refusals};
use crate::iface::{IfaceSpec, Interface};
use crate::resilient::{Notice, ResilientReceiver};
use crate::socket::RecvMeta;
use crate::wire::iperf2;
use crate::wire::proto::{self, Kind, Packet};

use super::session::{SessionTable, StampNs};
use super::{SessionInterval, SessionKey, SessionReport, Step, DEFAULT_MAX_SESSIONS, DEFAULT_REPORT_SESSIONS};

/// How long a receiver keeps listening after an end marker for datagrams still on their way.
const END_GRACE: Duration = Duration::from_secs(1);
/// How often the receiver handles link announcements and rejoins between batches.
const SERVICE_EVERY: Duration = Duration::from_millis(10);
/// The longest one step waits for datagrams.
const RECV_WAIT: Duration = Duration::from_millis(50);
/// The default receive buffer: a limit, not an allocation.
const DEFAULT_BUFFER: u32 = 64 << 20;

/// What a [`PerfServer`] reports as it runs.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServeEvent {
    /// A sender's run was heard for the first time.
    SessionStart(SessionKey),
    /// An interval ended: each session's figures over it.
    Interval(IntervalReport),
    /// A session was forgotten to make room for a new one (the table was full); these are its figures.
    Evicted(SessionReport),
    /// A datagram was refused (only [`Refusal::Foreign`]: not a perf datagram).
    Refused {
        /// Where it came from.
        source: SocketAddr,
        /// Why.
        reason: Refusal,
    },
    /// An interface the receiver joined on went away, came back, or could not be joined again.
    Link(Notice),
}

/// Every session's figures over one interval.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct IntervalReport {
    /// When the interval ended, from the first datagram.
    pub at: Duration,
    /// How long it was.
    pub length: Duration,
    /// The sessions that received the most in it (at most the report limit), in the order first seen.
    pub sessions: Vec<SessionInterval>,
    /// Sessions left out of `sessions`.
    pub omitted: usize,
}

/// What a [`PerfServer`] saw over its whole run.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServeReport {
    /// The group received.
    pub group: Group,
    /// The sessions that received the most (at most the report limit), in the order first seen.
    pub sessions: Vec<SessionReport>,
    /// Sessions held but left out of `sessions`.
    pub sessions_omitted: usize,
    /// Sessions held at the end.
    pub sessions_held: usize,
    /// Distinct sessions seen since the start, the evicted included.
    pub sessions_seen: u64,
    /// Sessions forgotten to make room for new ones.
    pub evicted: u64,
    /// The most sessions held at once.
    pub max_sessions: usize,
    /// Distinct data datagrams received, over every session (evicted ones included).
    pub received: u64,
    /// Datagrams the kernel dropped for want of buffer space (`SO_RXQ_OVFL`, `SO_MEMINFO`).
    pub kernel_drops: u32,
    /// Whether `UDP_GRO` was on.
    pub gro: bool,
    /// Reads that came coalesced by `UDP_GRO`.
    pub gro_reads: u64,
    /// Datagrams refused, by reason.
    pub refusals: Refusals,
}

/// Options of a [`PerfServer`]; [`PerfServer::builder`] makes one.
#[derive(Clone, Debug)]
pub struct PerfServerBuilder {
    group: Group,
    ifaces: Vec<Interface>,
    sources: Vec<IpAddr>,
    count: Option<u64>,
    time: Option<Duration>,
    timeout: Option<Duration>,
    buffer: u32,
    gro: bool,
    interval: Option<Duration>,
    max_sessions: usize,
    report_sessions: usize,
}

impl PerfServerBuilder {
    /// Joins on `iface` (repeatable; none: the routing table's choice).
    pub fn interface(mut self, iface: Interface) -> Self {
        self.ifaces.push(iface);
        self
    }

    /// Joins source-specifically, for datagrams from `source` only (repeatable).
    pub fn source(mut self, source: IpAddr) -> Self {
        self.sources.push(source);
        self
    }

    /// Stops once `n` distinct datagrams have arrived; also the count a lone session without an end marker
    /// is expected to have sent.
    pub fn count(mut self, n: u64) -> Self {
        self.count = Some(n);
        self
    }

    /// Stops this long after the first datagram.
    pub fn time(mut self, t: Duration) -> Self {
        self.time = Some(t);
        self
    }

    /// Stops after this long with nothing arriving (before the first datagram too).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// The receive buffer, bytes (`SO_RCVBUFFORCE`, else `SO_RCVBUF`); default 64 MiB.
    pub fn recv_buffer(mut self, bytes: u32) -> Self {
        self.buffer = bytes;
        self
    }

    /// Lets the kernel coalesce datagrams (`UDP_GRO`), split again here; default on.
    pub fn gro(mut self, on: bool) -> Self {
        self.gro = on;
        self
    }

    /// Reports every `every` ([`ServeEvent::Interval`]); `None` (the default) for no interval reports.
    pub fn interval(mut self, every: Option<Duration>) -> Self {
        self.interval = every.filter(|d| !d.is_zero());
        self
    }

    /// Keeps at most `n` sessions (1..=[`super::MAX_SESSIONS_LIMIT`]; default
    /// [`DEFAULT_MAX_SESSIONS`]); the idlest is forgotten to make room.
    pub fn max_sessions(mut self, n: usize) -> Self {
        self.max_sessions = n.clamp(1, super::MAX_SESSIONS_LIMIT);
        self
    }

    /// Lists at most `n` sessions in each report (default [`DEFAULT_REPORT_SESSIONS`]); the rest are counted.
    pub fn report_sessions(mut self, n: usize) -> Self {
        self.report_sessions = n;
        self
    }

    /// Joins the group and gets ready to receive.
    pub fn build(self) -> Result<PerfServer> {
        let mut b = Receiver::builder(self.group).recv_buffer(self.buffer);
        for i in &self.ifaces {
            b = b.interface(IfaceSpec::Index(i.index));
        }
        for s in &self.sources {
            b = b.source(*s);
        }
        // Rejoins after an interface flaps or is made again, saying so as Link events.
        let rx = ResilientReceiver::new(b.build()?)?;
        let gro = self.gro && rx.socket().set_udp_gro(true).is_ok();
        // Only the arrival stamps (jitter) and the GRO segment size are read; the kernel's drop count comes
        // exact from SO_MEMINFO at the end.
        rx.socket().lean_controls(true, false)?;
        // Reads sleep in the kernel, at most RECV_WAIT: one system call each time the receiver has caught up.
        rx.socket().set_nonblocking(false)?;
        rx.socket().set_read_timeout(RECV_WAIT)?;
        let start = Instant::now();
        Ok(PerfServer {
            rx,
            batch: BatchReceiver::new(if gro { GRO_BATCH } else { crate::sys::mmsg::MAX_BATCH }, 65_536),
            intake: Intake::new(self.max_sessions, start),
            gro,
            start,
            now: start,
            first: None,
            last_arrival: None,
            next_report: None,
            next_service: start,
            done: false,
            opts: self,
        })
    }
}

/// What the receiver does with each datagram: the per-datagram path, kept apart from the socket so it can
/// be fed crafted datagrams.
#[derive(Debug)]
struct Intake {
    table: SessionTable,
    refusals: Refusals,
    kernel_drops: u32,
    gro_reads: u64,
    total: u64,
    /// A data datagram arrived since the caller last looked (it reads the clock once per batch, not once
    /// per datagram).
    arrived: bool,
    stamps: StampNs,
    /// The clock after the last batch: new sessions are dated by it.
    now: Instant,
    events: VecDeque<ServeEvent>,
}

/// Reads per `recvmmsg` when `UDP_GRO` is on. Each read can carry 64 KiB; 64 of them (4 MiB) would push the
/// first reads' headers out of the cache before the loop reaches them, a miss per datagram, while 8 (512 KiB)
/// stay in it and still amortise the system call over hundreds of datagrams.
const GRO_BATCH: usize = 8;

/// The header bytes before the sequence number: magic, version, type, payload length and session. Two
/// datagrams of one read alike in them are the same session's, of the same type and length.
const TRAIN_HEAD: usize = proto::SESSION_AT + 4;

impl Intake {
    fn new(max_sessions: usize, now: Instant) -> Intake {
        Intake {
            table: SessionTable::new(max_sessions),
            refusals: Refusals::default(),
            kernel_drops: 0,
            gro_reads: 0,
            total: 0,
            arrived: false,
            stamps: StampNs::default(),
            now,
            events: VecDeque::new(),
        }
    }

    /// Accounts one read: a `UDP_GRO` train (up to 64 datagrams) or a single datagram. The first datagram
    /// of a train goes through [`Self::take`]; when it was an mcast data datagram, the run of segments after it
    /// whose first [`TRAIN_HEAD`] bytes equal its own (so each would decode as the same session's data
    /// datagram of the same length) is accounted straight into that session, reading only their sequence
    /// numbers and send times. Anything else in the read (another session, an end marker, a short last
    /// segment, foreign bytes) and everything after it goes datagram by datagram, so the figures are those
    /// of [`Self::take`] on each datagram in turn.
    #[inline]
    fn take_read(&mut self, buf: &[u8], meta: &RecvMeta) {
        let seg = meta.gro_segment.map_or(0, usize::from);
        if seg < proto::HEADER_LEN || buf.len() <= seg || meta.truncated {
            split_read(buf, meta, &mut |d, m| {
                self.take(d, m);
            });
            return;
        }
        let (first, rest) = buf.split_at(seg);
        let head = first.get(..TRAIN_HEAD).unwrap_or(&[]);
        let (mut walked, mut counted) = (0usize, 0u64);
        if let Some(slot) = self.take(first, meta) {
            let now_ns = self.stamps.of(meta);
            if let Some(s) = self.table.get_mut(slot) {
                let mut run = rest.chunks_exact(seg).take_while(|d| d.get(..TRAIN_HEAD) == Some(head)).peekable();
                // Runs of consecutive numbers with one send time (a sender's batch) go in at once.
                while let Some(d) = run.next() {
                    let p = Packet::new_unchecked(d);
                    let (first, sent) = (p.seq(), p.send_time_ns());
                    let mut n = 1u64;
                    while run
                        .next_if(|q| {
                            let q = Packet::new_unchecked(*q);
                            q.seq() == first.wrapping_add(n) && q.send_time_ns() == sent
                        })
                        .is_some()
                    {
                        n += 1;
                    }
                    if s.data_run(first, n, sent, seg, now_ns) {
                        counted += n;
                    } else {
                        for k in 0..n {
                            counted += u64::from(s.data(first.wrapping_add(k), sent, seg, now_ns));
                        }
                    }
                    walked += n as usize;
                }
            }
        }
        self.total += counted;
        self.gro_reads += walked as u64;
        self.arrived |= walked > 0;
        let left = rest.get(walked * seg..).unwrap_or(&[]);
        if !left.is_empty() {
            let m = RecvMeta { len: left.len(), full_len: left.len(), ..*meta };
            split_read(left, &m, &mut |d, m| {
                self.take(d, m);
            });
        }
    }

    /// Accounts one datagram of `data` bytes as `meta` describes it. Returns the slot of the session an mcast
    /// data datagram went to (`None` for anything else).
    #[inline]
    fn take(&mut self, data: &[u8], meta: &RecvMeta) -> Option<usize> {
        let Ok((repr, _)) = proto::decode(data) else {
            self.take_iperf(data, meta);
            return None;
        };
        if let Some(d) = meta.drops {
            self.kernel_drops = self.kernel_drops.max(d);
        }
        if meta.gro_segment.is_some() {
            self.gro_reads += 1;
        }
        if !matches!(repr.kind, Kind::PerfData | Kind::PerfEnd) {
            self.refuse(meta.source);
            return None;
        }
        let key = SessionKey { source: meta.source, session: repr.session };
        let slot = match self.table.hot(&key) {
            Some(slot) => slot,
            None => self.place(key),
        };
        let s = self.table.get_mut(slot)?;
        if repr.kind == Kind::PerfEnd {
            s.end(repr.seq, Instant::now());
            return None;
        }
        let now_ns = self.stamps.of(meta);
        self.arrived = true;
        if s.data(repr.seq, repr.send_time_ns, data.len(), now_ns) {
            self.total += 1;
        }
        Some(slot)
    }

    /// A datagram without the mcast header: an iperf 2 client's ([`iperf2`]), accounted as a session of
    /// id [`IPERF_SESSION`] from its source, or foreign. Off the path of the tool's own datagrams.
    #[cold]
    fn take_iperf(&mut self, data: &[u8], meta: &RecvMeta) {
        // A datagram that claims the mcast header but does not decode is foreign, whatever it looks like.
        if data.starts_with(&proto::MAGIC) {
            return self.refuse(meta.source);
        }
        let Some(d) = iperf2::decode(data) else { return self.refuse(meta.source) };
        if let Some(n) = meta.drops {
            self.kernel_drops = self.kernel_drops.max(n);
        }
        let key = SessionKey { source: meta.source, session: IPERF_SESSION };
        let slot = match self.table.hot(&key) {
            Some(slot) => slot,
            None => self.place(key),
        };
        let Some(s) = self.table.get_mut(slot) else { return };
        match d {
            iperf2::Datagram::End { count } => s.end(count, Instant::now()),
            iperf2::Datagram::Data { seq, send_time_ns } => {
                let now_ns = self.stamps.of(meta);
                self.arrived = true;
                if s.data(seq, send_time_ns, data.len(), now_ns) {
                    self.total += 1;
                }
            }
        }
    }

    /// The slot of a session other than the last datagram's, reporting a new one and the one it pushed out.
    #[cold]
    fn place(&mut self, key: SessionKey) -> usize {
        let placed = self.table.place(key, self.now);
        if let Some(gone) = placed.evicted {
            self.events.push_back(ServeEvent::Evicted(gone));
        }
        if placed.started {
            self.events.push_back(ServeEvent::SessionStart(key));
        }
        placed.slot
    }

    #[cold]
    fn refuse(&mut self, source: SocketAddr) {
        self.refusals.count(Refusal::Foreign);
        self.events.push_back(ServeEvent::Refused { source, reason: Refusal::Foreign });
    }
}

/// The receiver's read path fed `reads` (metadata, bytes: a datagram, or a `UDP_GRO` train when the
/// metadata has a segment size) with no socket, for the fuzz target `perf_intake`: sessions seen, evicted and
/// held, datagrams refused as foreign, distinct data datagrams.
#[cfg(fuzzing)]
pub fn fuzz_intake<'a>(
    max_sessions: usize,
    reads: impl IntoIterator<Item = (RecvMeta, &'a [u8])>,
) -> (u64, u64, usize, u64, u64) {
    let mut intake = Intake::new(max_sessions, Instant::now());
    for (meta, data) in reads {
        intake.take_read(data, &meta);
        intake.events.clear();
    }
    let t = &intake.table;
    (t.seen(), t.evicted(), t.len(), intake.refusals.get(Refusal::Foreign), intake.total)
}

/// Receives perf datagrams and accounts each sender's run; see the [module docs](super).
#[derive(Debug)]
pub struct PerfServer {
    rx: ResilientReceiver,
    batch: BatchReceiver,
    intake: Intake,
    gro: bool,
    start: Instant,
    /// The clock after the last batch: the batch is dated by it, and so is the next round of checks.
    now: Instant,
    first: Option<Instant>,
    last_arrival: Option<Instant>,
    next_report: Option<Instant>,
    next_service: Instant,
    done: bool,
    opts: PerfServerBuilder,
}

impl PerfServer {
    /// Options for a receiver of `group`, to [`build`](PerfServerBuilder::build).
    pub fn builder(group: Group) -> PerfServerBuilder {
        PerfServerBuilder {
            group,
            ifaces: Vec::new(),
            sources: Vec::new(),
            count: None,
            time: None,
            timeout: None,
            buffer: DEFAULT_BUFFER,
            gro: true,
            interval: None,
            max_sessions: DEFAULT_MAX_SESSIONS,
            report_sessions: DEFAULT_REPORT_SESSIONS,
        }
    }

    /// Whether `UDP_GRO` is on (asked for, and the kernel took it).
    pub fn gro(&self) -> bool {
        self.gro
    }

    /// One round: an event already due, else the run's end, else one batch received (waiting at most
    /// 50 ms). Stops by itself at the count, the time or the timeout, or once every sender that brought
    /// data has ended; the caller may stop earlier and [`finish`](Self::finish) all the same.
    pub fn step(&mut self) -> Result<Step<ServeEvent>> {
        if let Some(e) = self.intake.events.pop_front() {
            return Ok(Step::Event(e));
        }
        if self.done || self.over() {
            self.done = true;
            return Ok(Step::Done);
        }
        let now = self.now;
        if let Some(t) = self.next_report.filter(|t| now >= *t) {
            let report = self.interval_report(now);
            self.intake.events.push_back(ServeEvent::Interval(report));
            self.next_report = self.opts.interval.and_then(|i| t.checked_add(i));
        }
        // Link announcements and due rejoins are looked at every few milliseconds rather than once per batch:
        // each look is a netlink read, which a flat-out receiver would otherwise make tens of thousands of
        // times a second for nothing.
        if now >= self.next_service {
            self.rx.service();
            self.intake.events.extend(self.rx.take_notices().into_iter().map(ServeEvent::Link));
            self.next_service = now + SERVICE_EVERY;
        }
        let (batch, rx, intake) = (&mut self.batch, &self.rx, &mut self.intake);
        batch.recv_reads_blocking(rx.socket(), |buf, meta| intake.take_read(buf, meta))?;
        let now = Instant::now();
        (self.now, self.intake.now) = (now, now);
        if std::mem::take(&mut self.intake.arrived) {
            self.last_arrival = Some(now);
            if self.first.is_none() && self.intake.total > 0 {
                self.first = Some(now);
                self.next_report = self.opts.interval.and_then(|i| now.checked_add(i));
            }
        }
        Ok(self.intake.events.pop_front().map_or(Step::Busy, Step::Event))
    }

    /// Whether the run is over by the count, the time, the timeout, or the senders' end markers.
    fn over(&self) -> bool {
        let (now, o) = (self.now, &self.opts);
        let after = |from: Instant, d: Duration| from.checked_add(d).is_some_and(|t| now >= t);
        o.count.is_some_and(|c| self.intake.total >= c)
            || o.time.zip(self.first).is_some_and(|(t, f)| after(f, t))
            || o.timeout.is_some_and(|t| after(self.last_arrival.unwrap_or(self.start), t))
            || self.intake.table.all_done(now, END_GRACE)
    }

    fn interval_report(&mut self, now: Instant) -> IntervalReport {
        let length = self.opts.interval.unwrap_or(Duration::from_secs(1));
        let (sessions, omitted) = self.intake.table.interval(length.as_secs_f64(), self.opts.report_sessions);
        let at = now.saturating_duration_since(self.first.unwrap_or(self.start));
        IntervalReport { at, length, sessions, omitted }
    }

    /// The run's figures. Call it once [`step`](Self::step) says [`Step::Done`], or to stop early.
    pub fn finish(self) -> ServeReport {
        let t = &self.intake.table;
        let (sessions, sessions_omitted) = t.reports(self.opts.count, self.opts.report_sessions);
        // SO_MEMINFO counts every drop up to now; the last datagram's SO_RXQ_OVFL misses those after it.
        let kernel_drops = self.intake.kernel_drops.max(self.rx.socket().kernel_drops().unwrap_or(0));
        ServeReport {
            group: self.opts.group,
            sessions,
            sessions_omitted,
            sessions_held: t.len(),
            sessions_seen: t.seen(),
            evicted: t.evicted(),
            max_sessions: t.cap(),
            received: self.intake.total,
            kernel_drops,
            gro: self.gro,
            gro_reads: self.intake.gro_reads,
            refusals: self.intake.refusals.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram(kind: Kind, session: u32, seq: u64) -> Vec<u8> {
        let mut buf = vec![0u8; proto::HEADER_LEN + 4];
        let n = proto::encode(kind, session, seq, 1_000 + seq, b"data", &mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    fn from(port: u16) -> RecvMeta {
        RecvMeta { source: SocketAddr::from(([192, 0, 2, 1], port)), ..RecvMeta::sample(32, 32, None) }
    }

    fn starts(intake: &mut Intake) -> usize {
        intake.events.drain(..).filter(|e| matches!(e, ServeEvent::SessionStart(_))).count()
    }

    /// Everything an intake has counted, as text, to compare two intakes fed the same datagrams.
    fn figures(i: &mut Intake) -> String {
        let events: Vec<String> = i.events.drain(..).map(|e| format!("{e:?}")).collect();
        let (reports, omitted) = i.table.reports(None, 64);
        format!(
            "total {} gro {} drops {} refused {} seen {} evicted {} held {} arrived {} events {events:?} \
             reports {reports:?} omitted {omitted}",
            i.total,
            i.gro_reads,
            i.kernel_drops,
            i.refusals.total(),
            i.table.seen(),
            i.table.evicted(),
            i.table.len(),
            i.arrived,
        )
    }

    /// A `UDP_GRO` read of `parts` laid end to end, cut at the first part's length, from port 5000.
    fn train(parts: &[Vec<u8>]) -> (Vec<u8>, RecvMeta) {
        let buf: Vec<u8> = parts.concat();
        let seg = parts[0].len() as u16;
        let meta = RecvMeta { len: buf.len(), full_len: buf.len(), ..from(5000) };
        (buf, RecvMeta { gro_segment: Some(seg), timestamp: Some(std::time::UNIX_EPOCH), ..meta })
    }

    /// The train path counts exactly what the datagram-by-datagram path does, whatever the train holds.
    #[test]
    fn a_train_is_counted_as_its_datagrams_one_by_one() {
        let data = |session, seq| datagram(Kind::PerfData, session, seq);
        let mut short = data(7, 9);
        short.truncate(proto::HEADER_LEN + 2);
        let mut longer = vec![0u8; proto::HEADER_LEN + 9];
        proto::encode(Kind::PerfData, 7, 4, 5, b"123456789", &mut longer).unwrap();
        let mut forged_len = data(7, 3);
        forged_len[7] = 3; // declares 3 payload bytes, carries 4
        let trains: Vec<Vec<Vec<u8>>> = vec![
            (0..64).map(|q| data(7, q)).collect(),
            vec![data(7, 0), data(7, 1), data(8, 2), data(7, 3), data(7, 4)],
            vec![data(7, 0), data(7, 1), datagram(Kind::PerfEnd, 7, 2), data(7, 3)],
            vec![data(7, 0), data(7, 2), data(7, 2), data(7, 1), data(7, 900), data(7, 3)],
            vec![data(7, 0), data(7, 1), short.clone()],
            vec![short.clone(), data(7, 1), data(7, 2)],
            vec![datagram(Kind::PingRequest, 7, 0), data(7, 1), data(7, 2)],
            vec![datagram(Kind::PerfEnd, 7, 3), datagram(Kind::PerfEnd, 7, 3), data(7, 2)],
            vec![data(7, 0), forged_len, data(7, 1)],
            vec![b"x".repeat(32), b"x".repeat(32)],
            vec![data(7, 0), longer],
        ];
        // A sender's batches: consecutive numbers with one send time each, as mcast perf sends them, with
        // gaps, repeats, a second batch in the same read, and numbers behind what the session has seen.
        let batch = |seqs: &[u64], time: u64| -> Vec<Vec<u8>> {
            seqs.iter()
                .map(|&q| {
                    let mut b = vec![0u8; proto::HEADER_LEN + 4];
                    proto::encode(Kind::PerfData, 7, q, time, b"data", &mut b).unwrap();
                    b
                })
                .collect()
        };
        let mut trains = trains;
        trains.push(batch(&(0..64).collect::<Vec<_>>(), 5_000));
        trains.push(batch(&[0, 1, 2, 4, 5, 6], 5_000));
        trains.push(batch(&[0, 1, 1, 2, 3], 5_000));
        trains.push([batch(&[0, 1, 2], 5_000), batch(&[3, 4, 5], 9_000), batch(&[6], 9_000)].concat());
        trains.push([batch(&[0, 1, 2], 5_000), vec![datagram(Kind::PerfEnd, 7, 3)], batch(&[3, 4], 5_000)].concat());
        for parts in &trains {
            for cap in [1, 16] {
                let (buf, meta) = train(parts);
                let (mut whole, mut one_by_one) = (Intake::new(cap, Instant::now()), Intake::new(cap, Instant::now()));
                // A session already running, so that a train can also push it out.
                for i in [&mut whole, &mut one_by_one] {
                    i.take(&data(99, 0), &from(6000));
                }
                whole.take_read(&buf, &meta);
                split_read(&buf, &meta, &mut |d, m| {
                    one_by_one.take(d, m);
                });
                assert_eq!(figures(&mut whole), figures(&mut one_by_one), "train {parts:?} cap {cap}");
                // Again, the train's own session heard before: its numbers now continue a run, repeat it, or
                // fall behind it.
                for ahead in [2u64, 40] {
                    let (mut whole, mut one_by_one) =
                        (Intake::new(cap, Instant::now()), Intake::new(cap, Instant::now()));
                    // Dated by a fixed stamp: an intake without one reads the clock, which would differ between the two.
                    let before = RecvMeta { timestamp: Some(std::time::UNIX_EPOCH), ..from(5000) };
                    for i in [&mut whole, &mut one_by_one] {
                        for q in 0..ahead {
                            i.take(&data(7, q), &before);
                        }
                    }
                    whole.take_read(&buf, &meta);
                    split_read(&buf, &meta, &mut |d, m| {
                        one_by_one.take(d, m);
                    });
                    assert_eq!(
                        figures(&mut whole),
                        figures(&mut one_by_one),
                        "train {parts:?} cap {cap} ahead {ahead}"
                    );
                }
            }
        }
        // And the common case really takes the train path: 64 in order, one session, nothing lost.
        let (buf, meta) = train(&trains[0]);
        let mut i = Intake::new(16, Instant::now());
        i.take_read(&buf, &meta);
        let (r, _) = i.table.reports(None, 8);
        assert_eq!((i.total, i.gro_reads, r[0].received, r[0].lost, r[0].bytes), (64, 64, 64, 0, 64 * 32));
    }

    #[test]
    fn one_senders_run_is_counted_exactly() {
        let mut i = Intake::new(16, Instant::now());
        for seq in [0, 1, 3, 2, 2, 5] {
            i.take(&datagram(Kind::PerfData, 7, seq), &from(5000));
        }
        i.take(&datagram(Kind::PerfEnd, 7, 7), &from(5000));
        assert_eq!(starts(&mut i), 1);
        assert_eq!(i.total, 5);
        assert_eq!(i.kernel_drops, 4, "the sample read's SO_RXQ_OVFL");
        let (r, omitted) = i.table.reports(None, 64);
        assert_eq!(omitted, 0);
        let r = &r[0];
        assert_eq!((r.session, r.received, r.expected, r.lost), (7, 5, 7, 2));
        assert_eq!((r.duplicates, r.reordered, r.bytes, r.ended), (1, 1, 5 * 32, true));
    }

    #[test]
    fn the_same_session_id_from_two_addresses_is_two_sessions() {
        let mut i = Intake::new(16, Instant::now());
        for port in [5000, 5001, 5000, 5001] {
            i.take(&datagram(Kind::PerfData, 7, 0), &from(port));
        }
        assert_eq!(starts(&mut i), 2);
        assert_eq!((i.table.seen(), i.total), (2, 2));
    }

    #[test]
    fn datagrams_of_other_kinds_or_no_kind_are_foreign() {
        let mut i = Intake::new(16, Instant::now());
        i.take(b"hello", &from(5000));
        i.take(&datagram(Kind::PingRequest, 1, 0), &from(5000));
        let mut bad_version = datagram(Kind::PerfData, 1, 0);
        bad_version[4] = 9;
        i.take(&bad_version, &from(5000));
        assert_eq!(i.refusals.get(Refusal::Foreign), 3);
        assert_eq!(i.refusals.total(), 3);
        assert_eq!((i.table.seen(), i.total), (0, 0));
        let refused = i.events.iter().filter(|e| matches!(e, ServeEvent::Refused { reason: Refusal::Foreign, .. }));
        assert_eq!(refused.count(), 3);
    }

    #[test]
    fn an_iperf_stream_is_a_session_of_its_source() {
        let mut i = Intake::new(16, Instant::now());
        let mut buf = [0u8; 100];
        for n in [1i64, 2, 4, 3] {
            iperf2::encode(n, 1_000 + n as u64, &mut buf).unwrap();
            i.take(&buf, &from(6000));
        }
        iperf2::encode(-5, 2_000, &mut buf).unwrap();
        i.take(&buf, &from(6000));
        assert_eq!((i.table.seen(), i.total, i.refusals.total()), (1, 4, 0));
        let (reports, _) = i.table.reports(None, 8);
        let r = &reports[0];
        assert_eq!((r.session, r.received, r.expected, r.lost, r.reordered), (IPERF_SESSION, 4, 4, 0, 1));
    }

    /// A flood of forged session ids: the table holds its cap, evicts exactly the rest (their figures come
    /// back as events), and an honest sender heard throughout keeps its exact count.
    #[test]
    fn forged_sessions_are_evicted_and_an_honest_one_survives() {
        const CAP: usize = 100;
        const FORGED: u32 = 20_000;
        let mut i = Intake::new(CAP, Instant::now());
        let mut honest = 0u64;
        for id in 0..FORGED {
            i.take(&datagram(Kind::PerfData, 1_000_000 + id, 0), &from(6000));
            if id % 10 == 0 {
                i.take(&datagram(Kind::PerfData, 42, honest), &from(5000));
                honest += 1;
            }
            let evicted = i.events.drain(..).filter(|e| matches!(e, ServeEvent::Evicted(_))).count();
            assert!(evicted <= 2);
        }
        i.take(&datagram(Kind::PerfEnd, 42, honest), &from(5000));
        let seen = u64::from(FORGED) + 1;
        assert_eq!(i.table.seen(), seen);
        assert_eq!(i.table.evicted(), seen - CAP as u64);
        assert_eq!(i.table.len(), CAP);
        assert_eq!(i.total, u64::from(FORGED) + honest);
        let (shown, omitted) = i.table.reports(None, 10);
        assert_eq!((shown.len(), omitted), (10, CAP - 10));
        let h = shown.iter().find(|r| r.session == 42).expect("the honest session is listed");
        assert_eq!((h.received, h.expected, h.lost, h.ended), (honest, honest, 0, true));
    }

    /// A GRO read of 64 datagrams handed to the receiver's read path, as the socket hands it.
    #[inline(never)]
    fn feed_read(i: &mut Intake, read: &[u8], meta: &RecvMeta) {
        i.take_read(read, meta);
    }

    /// The receiver's per-datagram work alone, for instruction counts: 1,000,000 datagrams of 64 bytes from one
    /// sender in order, in reads of 64. `valgrind --tool=callgrind --toggle-collect='*feed_read*'` on
    /// `cargo test --release --lib -- --ignored intake_per_datagram` counts `take` and nothing else.
    #[test]
    #[ignore]
    fn intake_per_datagram() {
        const N: u64 = 1 << 20;
        let mut i = Intake::new(16, Instant::now());
        let mut read = vec![0u8; 64 * 64];
        for slot in read.chunks_exact_mut(64) {
            proto::encode(Kind::PerfData, 7, 0, 0, &[0u8; 64 - proto::HEADER_LEN], slot).unwrap();
        }
        let meta = RecvMeta { timestamp: Some(std::time::SystemTime::now()), ..from(5000) };
        let meta = RecvMeta { len: 64 * 64, full_len: 64 * 64, truncated: false, gro_segment: Some(64), ..meta };
        for base in (0..N).step_by(64) {
            for (k, slot) in read.chunks_exact_mut(64).enumerate() {
                proto::Packet::new_unchecked(slot).set_seq_and_send_time(base + k as u64, base.to_be_bytes());
            }
            feed_read(&mut i, &read, &meta);
        }
        assert_eq!(i.total, N);
        let (r, _) = i.table.reports(None, 1);
        assert_eq!((r[0].received, r[0].lost, r[0].duplicates), (N, 0, 0));
    }
}
