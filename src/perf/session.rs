//! What a perf receiver keeps per sender: one [`Session`] per sender address and session id, in a
//! [`SessionTable`] bounded by a cap, and the figures it reports for each.
//!
//! The table is the receiver's hot path: every datagram looks its session up. The session of the last
//! datagram is remembered, so a run of datagrams from one sender (a flat-out sender's whole run, a GRO
//! read's segments) costs one comparison each; any other goes through the bounded [`SenderTable`], which
//! orders sessions by last use, so the one idle the longest is the one forgotten when the table is full.
//! Sessions live in slots of an array that an evicted session's successor reuses.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::senders::SenderTable;
use crate::socket::RecvMeta;
use crate::stats::{Jitter, Order, SeqTracker};
use crate::wire::proto;

use super::per_second;

/// A sender's run: the address it sends from and the session id its header carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionKey {
    /// The sender's address and port.
    pub source: SocketAddr,
    /// The session id in its datagrams' header.
    pub session: u32,
}

/// One session's figures at the end of a run (or when it was forgotten).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SessionReport {
    /// The sender's address and port.
    pub source: SocketAddr,
    /// The session id.
    pub session: u32,
    /// Distinct datagrams received.
    pub received: u64,
    /// Datagrams expected: the count in the sender's end marker, else the count the receiver was told to
    /// expect (when this was its only session), else the highest sequence number seen plus one.
    pub expected: u64,
    /// `expected - received`, or 0.
    pub lost: u64,
    /// Arrivals of a number already received.
    pub duplicates: u64,
    /// New arrivals lower than the highest at the time (RFC 4737).
    pub reordered: u64,
    /// Arrivals too far behind the highest to classify.
    pub too_old: u64,
    /// Bytes of the distinct datagrams received (UDP payload).
    pub bytes: u64,
    /// From the first distinct datagram's arrival to the last's.
    pub seconds: f64,
    /// RFC 3550 interarrival jitter, nanoseconds.
    pub jitter_ns: f64,
    /// Whether the sender's end marker arrived.
    pub ended: bool,
}

impl SessionReport {
    /// Lost as a percentage of expected.
    pub fn loss_pct(&self) -> f64 {
        if self.expected == 0 {
            0.0
        } else {
            self.lost as f64 * 100.0 / self.expected as f64
        }
    }

    /// Distinct datagrams a second over [`Self::seconds`].
    pub fn pps(&self) -> f64 {
        per_second(self.received, self.seconds)
    }

    /// Bits of payload a second over [`Self::seconds`].
    pub fn bps(&self) -> f64 {
        per_second(self.bytes, self.seconds) * 8.0
    }
}

/// One session's figures over one interval.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SessionInterval {
    /// The sender's address and port.
    pub source: SocketAddr,
    /// The session id.
    pub session: u32,
    /// Distinct datagrams received in the interval.
    pub received: u64,
    /// Datagrams newly counted lost in the interval (against the highest number seen).
    pub lost: u64,
    /// Bytes of those datagrams.
    pub bytes: u64,
    /// Datagrams a second over the interval.
    pub pps: f64,
    /// Bits a second over the interval.
    pub bps: f64,
    /// RFC 3550 jitter now, nanoseconds.
    pub jitter_ns: f64,
}

/// One sender's run, as this receiver sees it.
#[derive(Debug)]
pub(crate) struct Session {
    key: SessionKey,
    /// Its place in the order sessions were first seen (reports list them in that order).
    ordinal: u64,
    seqs: SeqTracker,
    jitter: Jitter,
    bytes: u64,
    first_ns: u64,
    last_ns: u64,
    /// The count the sender's end marker announced.
    announced: Option<u64>,
    ended_at: Option<Instant>,
    /// Distinct datagrams, bytes and losses at the last interval report.
    mark: (u64, u64, u64),
}

impl Session {
    fn new(key: SessionKey, ordinal: u64) -> Session {
        Session {
            key,
            ordinal,
            seqs: SeqTracker::new(),
            jitter: Jitter::default(),
            bytes: 0,
            first_ns: 0,
            last_ns: 0,
            announced: None,
            ended_at: None,
            mark: (0, 0, 0),
        }
    }

    /// Accounts a data datagram of `len` bytes numbered `seq`, sent at `send_ns` and arrived at `now_ns`;
    /// true when it was new (not a duplicate, not too old).
    #[inline]
    pub(crate) fn data(&mut self, seq: u64, send_ns: u64, len: usize, now_ns: u64) -> bool {
        match self.seqs.record(seq) {
            Order::InOrder | Order::Reordered => {
                self.bytes = self.bytes.saturating_add(len as u64);
                if self.first_ns == 0 {
                    self.first_ns = now_ns;
                }
                self.last_ns = now_ns;
                self.jitter.record(send_ns, now_ns);
                true
            }
            Order::Duplicate | Order::TooOld => false,
        }
    }

    /// Accounts `n` data datagrams numbered from `first`, all sent at `send_ns` and received at `now_ns` (a
    /// train's run), as `n` calls of [`Self::data`] would, when they follow the highest number seen; `false`,
    /// having counted nothing, otherwise (the caller then takes them one by one).
    #[inline]
    pub(crate) fn data_run(&mut self, first: u64, n: u64, send_ns: u64, len: usize, now_ns: u64) -> bool {
        if !self.seqs.record_run(first, n) {
            return false;
        }
        self.bytes = self.bytes.saturating_add((len as u64).saturating_mul(n));
        if self.first_ns == 0 {
            self.first_ns = now_ns;
        }
        self.last_ns = now_ns;
        self.jitter.record(send_ns, now_ns);
        self.jitter.record_same(n - 1);
        true
    }

    /// Accounts the sender's end marker, which announces how many it sent.
    pub(crate) fn end(&mut self, count: u64, now: Instant) {
        self.announced = Some(count);
        self.ended_at.get_or_insert(now);
    }

    fn expected(&self, count: Option<u64>, alone: bool) -> u64 {
        match self.announced {
            Some(n) => n,
            None => self.seqs.expected_by_highest().max(if alone { count.unwrap_or(0) } else { 0 }),
        }
    }

    /// Whether the sender has ended and every datagram it announced is in, or `grace` has passed since its
    /// end marker.
    fn done(&self, now: Instant, grace: Duration) -> bool {
        self.announced.is_some_and(|n| self.seqs.unique >= n)
            || self.ended_at.and_then(|e| e.checked_add(grace)).is_some_and(|e| now >= e)
    }

    fn report(&self, count: Option<u64>, alone: bool) -> SessionReport {
        let expected = self.expected(count, alone);
        SessionReport {
            source: self.key.source,
            session: self.key.session,
            received: self.seqs.unique,
            expected,
            lost: self.seqs.lost(expected),
            duplicates: self.seqs.duplicates,
            reordered: self.seqs.reordered,
            too_old: self.seqs.too_old,
            bytes: self.bytes,
            seconds: self.last_ns.saturating_sub(self.first_ns) as f64 / 1e9,
            jitter_ns: self.jitter.nanos(),
            ended: self.announced.is_some(),
        }
    }

    /// The figures since the last call (over an interval of `seconds`), and a new mark.
    fn interval(&mut self, seconds: f64) -> SessionInterval {
        let (u0, b0, l0) = self.mark;
        let lost = self.seqs.lost(self.seqs.expected_by_highest());
        let (received, bytes) = (self.seqs.unique.saturating_sub(u0), self.bytes.saturating_sub(b0));
        self.mark = (self.seqs.unique, self.bytes, lost);
        SessionInterval {
            source: self.key.source,
            session: self.key.session,
            received,
            lost: lost.saturating_sub(l0),
            bytes,
            pps: per_second(received, seconds),
            bps: per_second(bytes, seconds) * 8.0,
            jitter_ns: self.jitter.nanos(),
        }
    }
}

/// Where [`SessionTable::place`] put a session that was not the last one used.
#[derive(Debug)]
pub(crate) struct Placed {
    /// Its slot.
    pub slot: usize,
    /// It is new.
    pub started: bool,
    /// The session forgotten to make room for it, with its figures.
    pub evicted: Option<SessionReport>,
}

/// The sessions a receiver keeps: at most `cap`, the idlest forgotten to make room (module docs).
#[derive(Debug)]
pub(crate) struct SessionTable {
    slots: Vec<Session>,
    index: SenderTable<SessionKey, Option<usize>>,
    /// The session of the last datagram, and its slot.
    hot: Option<(SessionKey, usize)>,
    seen: u64,
}

impl SessionTable {
    /// An empty table of at most `cap` sessions (at least 1).
    pub(crate) fn new(cap: usize) -> SessionTable {
        // Sessions are forgotten only to make room, never for age: a report lists every one still held.
        SessionTable { slots: Vec::new(), index: SenderTable::new(cap, Duration::MAX), hot: None, seen: 0 }
    }

    /// The slot of `key` if it is the session of the last datagram: the hot path, one comparison.
    #[inline]
    pub(crate) fn hot(&self, key: &SessionKey) -> Option<usize> {
        match self.hot {
            Some((k, slot)) if k == *key => Some(slot),
            _ => None,
        }
    }

    /// The slot of `key`'s session, made if new at `now` (forgetting the idlest when the table is full).
    pub(crate) fn place(&mut self, key: SessionKey, now: Instant) -> Placed {
        let (slot, evicted) = self.index.entry_evicting(key, now);
        let mut placed = Placed { slot: 0, started: false, evicted: None };
        match *slot {
            Some(s) => placed.slot = s,
            None => {
                self.seen = self.seen.saturating_add(1);
                let fresh = Session::new(key, self.seen);
                let reuse = evicted.and_then(|(_, s)| s).filter(|&s| s < self.slots.len());
                placed.slot = match reuse {
                    Some(s) => {
                        let old = std::mem::replace(&mut self.slots[s], fresh);
                        placed.evicted = Some(old.report(None, false));
                        s
                    }
                    None => {
                        self.slots.push(fresh);
                        self.slots.len() - 1
                    }
                };
                *slot = Some(placed.slot);
                placed.started = true;
            }
        }
        self.hot = Some((key, placed.slot));
        placed
    }

    /// The session in `slot`.
    #[inline]
    pub(crate) fn get_mut(&mut self, slot: usize) -> Option<&mut Session> {
        self.slots.get_mut(slot)
    }

    /// Sessions seen since the start, the forgotten included.
    pub(crate) fn seen(&self) -> u64 {
        self.seen
    }

    /// Sessions forgotten to make room.
    pub(crate) fn evicted(&self) -> u64 {
        self.index.evicted()
    }

    /// Sessions held now.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The most sessions held at once.
    pub(crate) fn cap(&self) -> usize {
        self.index.cap()
    }

    /// Whether the run is over by the senders' own account: some session brought data, and every one that
    /// did has ended (every datagram in, or `grace` passed since its end marker). A session that brought
    /// only an end marker does not count, so a lone forged marker cannot end a run.
    pub(crate) fn all_done(&self, now: Instant, grace: Duration) -> bool {
        let mut with_data = self.slots.iter().filter(|s| s.seqs.unique > 0).peekable();
        with_data.peek().is_some() && with_data.all(|s| s.done(now, grace))
    }

    /// Each session's figures for the interval just ended (`seconds` long): the `limit` that received the
    /// most in it, in the order first seen, and how many more there were.
    pub(crate) fn interval(&mut self, seconds: f64, limit: usize) -> (Vec<SessionInterval>, usize) {
        let mut all: Vec<(u64, SessionInterval)> =
            self.slots.iter_mut().map(|s| (s.ordinal, s.interval(seconds))).collect();
        let omitted = bound(&mut all, limit, |(_, i)| i.received);
        (all.into_iter().map(|(_, i)| i).collect(), omitted)
    }

    /// Each session's final figures: the `limit` that received the most, in the order first seen, and how
    /// many more there were. `count` is the total the receiver was told to expect.
    pub(crate) fn reports(&self, count: Option<u64>, limit: usize) -> (Vec<SessionReport>, usize) {
        let alone = self.seen == 1;
        let mut all: Vec<(u64, SessionReport)> =
            self.slots.iter().map(|s| (s.ordinal, s.report(count, alone))).collect();
        let omitted = bound(&mut all, limit, |(_, r)| r.received);
        (all.into_iter().map(|(_, r)| r).collect(), omitted)
    }
}

/// Keeps the `limit` items of `all` with the largest `weight` (ties: the first seen), in the order first
/// seen (the `u64` beside each); returns how many were dropped.
fn bound<T>(all: &mut Vec<(u64, T)>, limit: usize, weight: impl Fn(&(u64, T)) -> u64) -> usize {
    let omitted = all.len().saturating_sub(limit);
    if omitted > 0 {
        all.sort_by(|a, b| weight(b).cmp(&weight(a)).then(a.0.cmp(&b.0)));
        all.truncate(limit);
    }
    all.sort_by_key(|(ordinal, _)| *ordinal);
    omitted
}

/// A read's kernel stamp (`SO_TIMESTAMPNS`) in nanoseconds since the epoch, converted once per read: every
/// datagram of a GRO read carries its read's stamp, and converting it for each would be per-datagram work.
#[derive(Debug, Default)]
pub(crate) struct StampNs {
    last: Option<(SystemTime, u64)>,
}

impl StampNs {
    /// When the datagram of `meta` arrived: its kernel stamp, else now; reusing the last conversion while
    /// the stamp is the same.
    #[inline]
    pub(crate) fn of(&mut self, meta: &RecvMeta) -> u64 {
        let Some(t) = meta.timestamp else { return proto::now_ns() };
        match self.last {
            Some((s, ns)) if s == t => ns,
            _ => {
                let ns = epoch_ns(t);
                self.last = Some((t, ns));
                ns
            }
        }
    }
}

/// `t` in nanoseconds since the Unix epoch (0 before it; saturating far after it).
fn epoch_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(port: u16, session: u32) -> SessionKey {
        SessionKey { source: SocketAddr::from(([192, 0, 2, 1], port)), session }
    }

    #[test]
    fn a_full_table_forgets_the_idlest_and_hands_back_its_figures() {
        let t0 = Instant::now();
        let mut t = SessionTable::new(2);
        let a = t.place(key(1, 1), t0);
        assert!(a.started && a.evicted.is_none());
        t.get_mut(a.slot).unwrap().data(0, 0, 100, 1);
        let b = t.place(key(2, 2), t0);
        assert_eq!((b.slot, b.started), (1, true));
        // a is used again, so b is now the idlest; a third session takes b's slot.
        let again = t.place(key(1, 1), t0);
        assert_eq!((again.slot, again.started), (0, false));
        let c = t.place(key(3, 3), t0);
        assert_eq!((c.slot, c.started), (1, true));
        let gone = c.evicted.expect("b was forgotten");
        assert_eq!((gone.source, gone.session, gone.received), (key(2, 2).source, 2, 0));
        assert_eq!((t.seen(), t.evicted(), t.len()), (3, 1, 2));
        assert_eq!(t.hot(&key(3, 3)), Some(1));
        assert_eq!(t.hot(&key(1, 1)), None);
    }

    #[test]
    fn reports_are_bounded_to_the_busiest_in_the_order_first_seen() {
        let t0 = Instant::now();
        let mut t = SessionTable::new(10);
        for (i, n) in [3u64, 1, 5, 0, 4].into_iter().enumerate() {
            let slot = t.place(key(i as u16, i as u32), t0).slot;
            for seq in 0..n {
                t.get_mut(slot).unwrap().data(seq, 0, 10, 1 + seq);
            }
        }
        let (shown, omitted) = t.reports(None, 3);
        assert_eq!(omitted, 2);
        assert_eq!(shown.iter().map(|r| (r.session, r.received)).collect::<Vec<_>>(), [(0, 3), (2, 5), (4, 4)]);
        let (all, none) = t.reports(None, 64);
        assert_eq!((all.len(), none), (5, 0));
        assert_eq!(all.iter().map(|r| r.session).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
        let (iv, omitted) = t.interval(1.0, 2);
        assert_eq!(
            (iv.iter().map(|i| (i.session, i.received)).collect::<Vec<_>>(), omitted),
            (vec![(2, 5), (4, 4)], 3)
        );
        // The marks moved on: nothing new in the next interval.
        assert!(t.interval(1.0, 64).0.iter().all(|i| i.received == 0));
    }

    #[test]
    fn sequence_numbers_from_the_network_never_overflow() {
        let mut s = Session::new(key(1, 1), 1);
        for seq in [u64::MAX, 0, u64::MAX - 1, u64::MAX, 1 << 63] {
            s.data(seq, u64::MAX, usize::MAX, 5);
        }
        s.end(u64::MAX, Instant::now());
        let r = s.report(Some(u64::MAX), true);
        assert_eq!((r.received, r.duplicates, r.too_old), (2, 1, 2));
        assert_eq!(r.expected, u64::MAX);
        assert_eq!(r.lost, u64::MAX - 2);
        assert_eq!(r.bytes, u64::MAX, "saturates");
        assert!(!s.done(Instant::now(), Duration::MAX), "a grace past the clock's end never comes");
    }

    #[test]
    fn a_run_ends_when_every_session_with_data_has() {
        let t0 = Instant::now();
        let grace = Duration::from_secs(1);
        let mut t = SessionTable::new(4);
        assert!(!t.all_done(t0, grace), "nothing heard yet");
        // A lone end marker (forged, or a sender that sent nothing) does not end the run.
        let marker = t.place(key(9, 9), t0).slot;
        t.get_mut(marker).unwrap().end(0, t0);
        assert!(!t.all_done(t0, grace));
        let a = t.place(key(1, 1), t0).slot;
        t.get_mut(a).unwrap().data(0, 0, 10, 1);
        assert!(!t.all_done(t0, grace));
        t.get_mut(a).unwrap().end(2, t0);
        assert!(!t.all_done(t0, grace), "one datagram still out");
        assert!(t.all_done(t0 + grace, grace), "the grace has passed");
        t.get_mut(a).unwrap().data(1, 0, 10, 2);
        assert!(t.all_done(t0, grace), "all in");
    }

    #[test]
    fn a_reads_stamp_is_converted_once() {
        let t1 = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        let t2 = t1 + Duration::from_nanos(1);
        let mut meta = RecvMeta::sample(100, 100, Some(100));
        let mut stamps = StampNs::default();
        let mut at = |t: Option<SystemTime>| {
            meta.timestamp = t;
            stamps.of(&meta)
        };
        assert_eq!(at(Some(t1)), 1_700_000_000_123_456_789);
        assert_eq!(at(Some(t1)), 1_700_000_000_123_456_789);
        assert_eq!(at(Some(t2)), 1_700_000_000_123_456_790);
        assert_eq!(at(Some(t1)), 1_700_000_000_123_456_789);
        assert_eq!(at(Some(UNIX_EPOCH - Duration::from_secs(1))), 0);
        // Without a kernel stamp, the clock now.
        let before = proto::now_ns();
        let now = at(None);
        assert!(now >= before && now <= proto::now_ns(), "{before} {now}");
        assert_eq!(stamps.last.map(|(_, ns)| ns), Some(0));
    }
}
