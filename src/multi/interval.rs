//! [`IntervalMeter`]: what each membership of a [`MultiReceiver`](super::MultiReceiver) received in each
//! interval, for a periodic report.

use std::time::{Duration, Instant};

use super::{Counters, Member, Throughput};

/// Cuts a receiver's counters into intervals: says when the next report is due and, when it is, what each
/// member received since the last one.
#[derive(Clone, Debug)]
pub struct IntervalMeter {
    every: Duration,
    next: Instant,
    last_at: Instant,
    last: Vec<Counters>,
}

/// What one member received in one interval.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct IntervalRow {
    /// Index into the members the meter was read with.
    pub member: usize,
    /// Datagrams in the interval.
    pub datagrams: u64,
    /// Bytes in the interval.
    pub bytes: u64,
    /// The interval's rate.
    pub rate: Throughput,
}

/// One interval's report.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct IntervalReport {
    /// How long the interval was.
    pub elapsed: Duration,
    /// One row per member, in the members' order.
    pub rows: Vec<IntervalRow>,
}

impl IntervalReport {
    /// Datagrams of all members in the interval.
    pub fn datagrams(&self) -> u64 {
        self.rows.iter().fold(0u64, |n, r| n.saturating_add(r.datagrams))
    }

    /// Bytes of all members in the interval.
    pub fn bytes(&self) -> u64 {
        self.rows.iter().fold(0u64, |n, r| n.saturating_add(r.bytes))
    }

    /// Members that received anything in the interval.
    pub fn heard(&self) -> usize {
        self.rows.iter().filter(|r| r.datagrams > 0).count()
    }
}

impl IntervalMeter {
    /// A meter that reports every `every` (zero: never) from `start`, counting from the members' counters
    /// now.
    pub fn new(every: Duration, start: Instant, members: &[Member]) -> IntervalMeter {
        IntervalMeter {
            every,
            next: start.checked_add(every).unwrap_or(start),
            last_at: start,
            last: members.iter().map(|m| m.counters).collect(),
        }
    }

    /// Whether a report is due at `now`.
    pub fn due(&self, now: Instant) -> bool {
        !self.every.is_zero() && now >= self.next
    }

    /// `wait`, shortened so the wait ends when the next report is due.
    pub fn wait_limit(&self, wait: Duration, now: Instant) -> Duration {
        if self.every.is_zero() {
            return wait;
        }
        wait.min(self.next.saturating_duration_since(now))
    }

    /// The interval that ends at `now`, and the start of the next: the next report is due one period after
    /// this one was (or at `now`, when reports fell behind).
    pub fn take(&mut self, members: &[Member], now: Instant) -> IntervalReport {
        let elapsed = now.saturating_duration_since(self.last_at);
        let zero = Counters::default();
        let rows = members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let before = self.last.get(i).unwrap_or(&zero);
                IntervalRow {
                    member: i,
                    datagrams: m.counters.datagrams.saturating_sub(before.datagrams),
                    bytes: m.counters.bytes.saturating_sub(before.bytes),
                    rate: m.counters.rate_since(before, elapsed),
                }
            })
            .collect();
        self.last = members.iter().map(|m| m.counters).collect();
        self.last_at = now;
        self.next = self.next.checked_add(self.every).unwrap_or(now).max(now);
        IntervalReport { elapsed, rows }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::multi::Subscription;

    fn member(datagrams: u64, bytes: u64) -> Member {
        Member {
            subscription: Subscription::from("239.1.1.1:5000".parse::<crate::Group>().unwrap()),
            iface: None,
            socket: 0,
            counters: Counters { datagrams, bytes, ..Counters::default() },
        }
    }

    #[test]
    fn each_report_counts_what_arrived_since_the_last() {
        let t0 = Instant::now();
        let secs = |s| t0 + Duration::from_secs(s);
        let mut members = vec![member(5, 500), member(0, 0)];
        let mut meter = IntervalMeter::new(Duration::from_secs(1), t0, &members);
        assert!(!meter.due(t0));
        assert_eq!(meter.wait_limit(Duration::from_secs(5), t0), Duration::from_secs(1));
        members[0].counters = Counters { datagrams: 15, bytes: 1500, ..Counters::default() };
        assert!(meter.due(secs(2)));
        let r = meter.take(&members, secs(2));
        assert_eq!(r.elapsed, Duration::from_secs(2));
        assert_eq!((r.datagrams(), r.bytes(), r.heard()), (10, 1000, 1));
        assert_eq!(r.rows[0].rate, Throughput { datagrams_per_sec: 5.0, bits_per_sec: 4000.0 });
        assert_eq!(r.rows[1].datagrams, 0);
        // Fell behind: the next is due now, not in the past; then one period on.
        assert!(meter.due(secs(2)));
        let r = meter.take(&members, secs(2));
        assert_eq!((r.datagrams(), r.elapsed), (0, Duration::ZERO));
        assert!(!meter.due(secs(2)) && meter.due(secs(3)));
    }

    #[test]
    fn a_zero_period_never_reports_nor_shortens_a_wait() {
        let t0 = Instant::now();
        let meter = IntervalMeter::new(Duration::ZERO, t0, &[]);
        assert!(!meter.due(t0 + Duration::from_secs(100)));
        assert_eq!(meter.wait_limit(Duration::from_millis(200), t0), Duration::from_millis(200));
    }
}
