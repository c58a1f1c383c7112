//! What a receive loop counts, and when it stops: [`StopRule`] (a count, an overall deadline, an interruption)
//! and [`RecvTally`] (datagrams, bytes, truncations, kernel drops, and a bounded count per source).
//!
//! Pure and I/O-free, so a loop's decisions can be tested without a socket:
//!
//! ```
//! use mcast::__private::tally::{End, Next, StopRule};
//! use std::time::{Duration, Instant};
//! let start = Instant::now();
//! let rule = StopRule::new(start, Some(3), Some(Duration::from_secs(5)), Duration::from_millis(500));
//! assert_eq!(rule.next(0, false, start), Next::Wait(Duration::from_millis(500)));
//! assert_eq!(rule.next(3, false, start), Next::Stop(End::Count));
//! assert_eq!(rule.next(1, false, start + Duration::from_secs(5)), Next::Stop(End::Timeout));
//! ```

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::senders::SenderTable;
use crate::socket::RecvMeta;

/// Why a receive loop stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The count asked for arrived.
    Count,
    /// The overall deadline passed.
    Timeout,
    /// A signal (SIGINT, SIGTERM) asked it to stop.
    Interrupted,
}

impl End {
    /// `count`, `timeout` or `interrupted`.
    pub fn name(self) -> &'static str {
        match self {
            End::Count => "count",
            End::Timeout => "timeout",
            End::Interrupted => "interrupted",
        }
    }
}

/// What a loop does next: wait at most this long for the next item, or stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Wait for at most this long (never longer than the rule's slice, nor past its deadline).
    Wait(Duration),
    /// Stop, for this reason.
    Stop(End),
}

/// When a loop stops: after `count` items, at `timeout` after its start (an overall deadline, not an idle
/// timer), or when interrupted; checked in that order. Each wait is at most `slice`, which bounds how late an
/// interruption that lands just before a wait is noticed.
#[derive(Clone, Copy, Debug)]
pub struct StopRule {
    count: Option<u64>,
    deadline: Option<Instant>,
    slice: Duration,
}

impl StopRule {
    /// A rule for a loop started at `start`.
    pub fn new(start: Instant, count: Option<u64>, timeout: Option<Duration>, slice: Duration) -> StopRule {
        StopRule { count, deadline: timeout.and_then(|t| start.checked_add(t)), slice }
    }

    /// The count asked for, if any.
    pub fn count(&self) -> Option<u64> {
        self.count
    }

    /// Whether `done` items reach the count asked for.
    pub fn counted(&self, done: u64) -> bool {
        self.count.is_some_and(|c| done >= c)
    }

    /// What to do after `done` items, at `now`, `interrupted` or not.
    pub fn next(&self, done: u64, interrupted: bool, now: Instant) -> Next {
        if self.counted(done) {
            return Next::Stop(End::Count);
        }
        if interrupted {
            return Next::Stop(End::Interrupted);
        }
        match self.deadline {
            Some(d) => match d.checked_duration_since(now) {
                Some(left) if !left.is_zero() => Next::Wait(left.min(self.slice)),
                _ => Next::Stop(End::Timeout),
            },
            None => Next::Wait(self.slice),
        }
    }

    /// How a loop that stopped for `end` after `done` items fell short, if it did: the deadline passed before
    /// the count arrived, or with nothing at all when no count was asked for.
    pub fn shortfall(&self, end: End, done: u64) -> Option<Shortfall> {
        match (end, self.count) {
            (End::Timeout, Some(wanted)) if done < wanted => Some(Shortfall::Fewer { wanted }),
            (End::Timeout, None) if done == 0 => Some(Shortfall::Nothing),
            _ => None,
        }
    }
}

/// How a loop fell short of what was asked ([`StopRule::shortfall`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shortfall {
    /// Fewer than `wanted` items arrived before the deadline.
    Fewer {
        /// The count asked for.
        wanted: u64,
    },
    /// No count was asked for, and nothing arrived before the deadline.
    Nothing,
}

/// Datagrams and bytes from one source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceCount {
    /// Datagrams.
    pub datagrams: u64,
    /// Bytes (each datagram's full size, even when truncated).
    pub bytes: u64,
}

/// What has arrived at one receiver so far. The totals are exact; the per-source counts are kept in a
/// `SenderTable` (at most `crate::senders::DEFAULT_CAP` sources, each forgotten after
/// `crate::senders::DEFAULT_MAX_AGE` of silence), since the sources are whatever the network sends.
#[derive(Clone, Debug, Default)]
pub struct RecvTally {
    /// Datagrams.
    pub datagrams: u64,
    /// Bytes, each datagram's full size.
    pub bytes: u64,
    /// Datagrams that did not fit the buffer.
    pub truncated: u64,
    /// The kernel's count of datagrams dropped for want of buffer space (`SO_RXQ_OVFL`, `SO_MEMINFO`).
    pub drops: u32,
    sources: SenderTable<SocketAddr, SourceCount>,
}

impl RecvTally {
    /// A tally whose per-source table keeps at most `cap` sources, each for `max_age` of silence.
    pub fn with_sources(cap: usize, max_age: Duration) -> RecvTally {
        RecvTally { sources: SenderTable::new(cap, max_age), ..RecvTally::default() }
    }

    /// Counts one datagram, arrived at `now`.
    pub fn add(&mut self, meta: &RecvMeta, now: Instant) {
        let len = meta.full_len as u64;
        self.datagrams = self.datagrams.saturating_add(1);
        self.bytes = self.bytes.saturating_add(len);
        self.truncated = self.truncated.saturating_add(u64::from(meta.truncated));
        if let Some(d) = meta.drops {
            self.drops = d;
        }
        let e = self.sources.entry(meta.source, now);
        e.datagrams = e.datagrams.saturating_add(1);
        e.bytes = e.bytes.saturating_add(len);
    }

    /// Takes the kernel's own drop count at the end: `SO_MEMINFO` counts every drop up to now, where the last
    /// datagram's `SO_RXQ_OVFL` misses those after it.
    pub fn settle_drops(&mut self, kernel: u32) {
        self.drops = self.drops.max(kernel);
    }

    /// The per-source table (its cap, age limit and the count of sources it forgot).
    pub fn sources(&self) -> &SenderTable<SocketAddr, SourceCount> {
        &self.sources
    }

    /// The sources remembered, in address order.
    pub fn sorted_sources(&self) -> Vec<(SocketAddr, SourceCount)> {
        let mut v: Vec<_> = self.sources.iter().map(|(a, c)| (*a, *c)).collect();
        v.sort_unstable_by_key(|(a, _)| *a);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLICE: Duration = Duration::from_millis(500);

    #[test]
    fn the_count_comes_first_then_the_signal_then_the_deadline() {
        let t0 = Instant::now();
        let rule = StopRule::new(t0, Some(2), Some(Duration::from_secs(1)), SLICE);
        let late = t0 + Duration::from_secs(2);
        assert_eq!(rule.next(2, true, late), Next::Stop(End::Count));
        assert_eq!(rule.next(1, true, late), Next::Stop(End::Interrupted));
        assert_eq!(rule.next(1, false, late), Next::Stop(End::Timeout));
        assert_eq!(rule.next(1, false, t0 + Duration::from_millis(800)), Next::Wait(Duration::from_millis(200)));
        let forever = StopRule::new(t0, None, None, SLICE);
        assert_eq!(forever.next(u64::MAX, false, late), Next::Wait(SLICE));
        assert!(!forever.counted(u64::MAX));
    }

    #[test]
    fn a_shortfall_is_a_timeout_before_the_count_or_with_nothing() {
        let t0 = Instant::now();
        let counted = StopRule::new(t0, Some(3), None, SLICE);
        assert_eq!(counted.shortfall(End::Timeout, 2), Some(Shortfall::Fewer { wanted: 3 }));
        assert_eq!(counted.shortfall(End::Timeout, 3), None);
        assert_eq!(counted.shortfall(End::Interrupted, 0), None);
        let any = StopRule::new(t0, None, None, SLICE);
        assert_eq!(any.shortfall(End::Timeout, 0), Some(Shortfall::Nothing));
        assert_eq!(any.shortfall(End::Timeout, 1), None);
        assert_eq!(End::Interrupted.name(), "interrupted");
    }

    fn meta(source: &str, full_len: usize, truncated: bool, drops: Option<u32>) -> RecvMeta {
        RecvMeta {
            len: full_len.min(100),
            full_len,
            truncated,
            source: source.parse().unwrap(),
            group: None,
            ifindex: None,
            ttl: None,
            timestamp: None,
            drops,
            gro_segment: None,
            tos: None,
        }
    }

    #[test]
    fn totals_are_exact_and_sources_are_sorted() {
        let t0 = Instant::now();
        let mut t = RecvTally::default();
        t.add(&meta("10.0.0.2:9", 10, false, None), t0);
        t.add(&meta("10.0.0.1:9", 200, true, Some(4)), t0);
        t.add(&meta("10.0.0.2:9", 5, false, None), t0);
        assert_eq!((t.datagrams, t.bytes, t.truncated, t.drops), (3, 215, 1, 4));
        t.settle_drops(2);
        assert_eq!(t.drops, 4);
        t.settle_drops(9);
        assert_eq!(t.drops, 9);
        let s = t.sorted_sources();
        assert_eq!(s[0], ("10.0.0.1:9".parse().unwrap(), SourceCount { datagrams: 1, bytes: 200 }));
        assert_eq!(s[1], ("10.0.0.2:9".parse().unwrap(), SourceCount { datagrams: 2, bytes: 15 }));
    }

    #[test]
    fn sources_stay_bounded_while_the_totals_count_all() {
        let t0 = Instant::now();
        let mut t = RecvTally::with_sources(8, Duration::from_secs(600));
        for port in 1..=10_000u16 {
            t.add(&meta(&format!("10.0.0.1:{port}"), 1, false, None), t0);
        }
        assert_eq!((t.datagrams, t.bytes), (10_000, 10_000));
        assert_eq!(t.sources().len(), 8);
        assert_eq!(t.sources().forgotten(), 9_992);
    }
}
