//! Statistics for the tools, pure and I/O-free: a sequence tracker (loss, duplicates, reordering), the RFC 3550
//! interarrival jitter, and round-trip times (min/avg/max/p50/p99/mdev, as ping prints them).

/// How many sequence numbers behind the highest one the tracker remembers exactly (for duplicate detection).
pub const WINDOW: u64 = 1 << 16;

/// What one arrival was, relative to those before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// The highest sequence number so far (in order, possibly after a gap).
    InOrder,
    /// New, but lower than one already seen: it was overtaken (RFC 4737's "reordered").
    Reordered,
    /// A sequence number already seen.
    Duplicate,
    /// Older than [`WINDOW`] behind the highest: cannot tell new from duplicate, so not counted as received.
    TooOld,
}

/// Tracks the sequence numbers of one stream (one sender's session), which start at 0.
///
/// Loss is what was expected minus the distinct numbers that arrived; expected is the sender's own count
/// when known (its end marker, or `--count`), else the highest number seen plus one.
#[derive(Clone, Debug)]
pub struct SeqTracker {
    seen: Vec<u64>,
    highest: Option<u64>,
    /// Distinct sequence numbers received.
    pub unique: u64,
    /// Arrivals of a number already received.
    pub duplicates: u64,
    /// New arrivals lower than the highest at the time.
    pub reordered: u64,
    /// Arrivals too far behind to classify.
    pub too_old: u64,
}

impl Default for SeqTracker {
    fn default() -> Self {
        SeqTracker::new()
    }
}

impl SeqTracker {
    /// An empty tracker.
    pub fn new() -> SeqTracker {
        SeqTracker {
            seen: vec![0; (WINDOW / 64) as usize],
            highest: None,
            unique: 0,
            duplicates: 0,
            reordered: 0,
            too_old: 0,
        }
    }

    fn bit(seq: u64) -> (usize, u64) {
        let slot = seq % WINDOW;
        ((slot / 64) as usize, 1u64 << (slot % 64))
    }

    fn test_and_set(&mut self, seq: u64) -> bool {
        let (w, m) = Self::bit(seq);
        match self.seen.get_mut(w) {
            Some(word) => {
                let was = *word & m != 0;
                *word |= m;
                was
            }
            None => false,
        }
    }

    fn clear(&mut self, seq: u64) {
        let (w, m) = Self::bit(seq);
        if let Some(word) = self.seen.get_mut(w) {
            *word &= !m;
        }
    }

    /// Records one arrival and says what it was.
    #[inline]
    pub fn record(&mut self, seq: u64) -> Order {
        // The common case, the number after the highest: its slot is the one the window slides over, so
        // setting its bit both forgets the old number there and records the new one.
        if let Some(h) = self.highest {
            if h.checked_add(1) == Some(seq) {
                let (w, m) = Self::bit(seq);
                if let Some(word) = self.seen.get_mut(w) {
                    *word |= m;
                }
                self.highest = Some(seq);
                self.unique += 1;
                return Order::InOrder;
            }
        }
        self.record_other(seq)
    }

    /// Records `n` arrivals numbered `first`, `first + 1`, ... when `first` is the number after the highest
    /// (all of them then in order), as `n` calls of [`Self::record`] would, with the bits set a word at a time;
    /// `false`, having recorded nothing, otherwise.
    #[inline]
    pub fn record_run(&mut self, first: u64, n: u64) -> bool {
        let next = self.highest.and_then(|h| h.checked_add(1));
        let Some(last) = first.checked_add(n.saturating_sub(1)) else { return false };
        if n == 0 || next != Some(first) || n > WINDOW {
            return false;
        }
        let (mut seq, mut left) = (first, n);
        while left > 0 {
            let (w, _) = Self::bit(seq);
            let at = seq % 64;
            let take = left.min(64 - at);
            let mask = if take == 64 { u64::MAX } else { ((1u64 << take) - 1) << at };
            if let Some(word) = self.seen.get_mut(w) {
                *word |= mask;
            }
            seq = seq.wrapping_add(take);
            left -= take;
        }
        self.highest = Some(last);
        self.unique += n;
        true
    }

    /// [`Self::record`] for any number but the next one.
    #[inline(never)]
    fn record_other(&mut self, seq: u64) -> Order {
        let arrival = match self.highest {
            None => {
                self.highest = Some(seq);
                self.test_and_set(seq);
                Order::InOrder
            }
            Some(h) if seq > h => {
                // Forget the slots the window slides over, so they can hold the new numbers.
                if seq - h >= WINDOW {
                    self.seen.iter_mut().for_each(|w| *w = 0);
                } else {
                    for s in h + 1..seq {
                        self.clear(s);
                    }
                    self.clear(seq);
                }
                self.highest = Some(seq);
                self.test_and_set(seq);
                Order::InOrder
            }
            Some(h) if h - seq >= WINDOW => Order::TooOld,
            Some(_) => {
                if self.test_and_set(seq) {
                    Order::Duplicate
                } else {
                    Order::Reordered
                }
            }
        };
        match arrival {
            Order::InOrder => self.unique += 1,
            Order::Reordered => {
                self.unique += 1;
                self.reordered += 1
            }
            Order::Duplicate => self.duplicates += 1,
            Order::TooOld => self.too_old += 1,
        }
        arrival
    }

    /// The highest sequence number seen.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// Expected count when the sender's own is unknown: highest + 1.
    pub fn expected_by_highest(&self) -> u64 {
        self.highest.map(|h| h.saturating_add(1)).unwrap_or(0)
    }

    /// Datagrams lost out of `expected`.
    pub fn lost(&self, expected: u64) -> u64 {
        expected.saturating_sub(self.unique)
    }
}

/// Interarrival jitter as RFC 3550 section 6.4.1 defines it: the smoothed mean deviation of the difference in
/// transit time between consecutive arrivals, `J += (|D| - J) / 16`, in nanoseconds.
///
/// Sender and receiver clocks need not agree: only differences of transit times enter, taken modulo 2^64 (so
/// exact for any difference under 292 years). Kept in integers as the RFC's appendix A.8 does, scaled by 16
/// (`16 J += |D| - round(16 J / 16)`), so that a receiver at tens of millions of datagrams a second pays a few
/// integer instructions per arrival rather than a chain of floating-point ones.
#[derive(Clone, Copy, Debug, Default)]
pub struct Jitter {
    last_transit: Option<u64>,
    /// 16 J, in nanoseconds.
    scaled: u64,
}

impl Jitter {
    /// Adds one arrival: when it was sent and when it arrived (nanoseconds, any common epoch per clock).
    #[inline]
    pub fn record(&mut self, send_ns: u64, arrival_ns: u64) {
        let transit = arrival_ns.wrapping_sub(send_ns);
        if let Some(prev) = self.last_transit {
            let d = (transit.wrapping_sub(prev) as i64).unsigned_abs();
            let s = self.scaled;
            self.scaled = (s - (s.saturating_add(8) >> 4)).saturating_add(d);
        }
        self.last_transit = Some(transit);
    }

    /// Adds `n` arrivals whose transit time equals the last one's (the rest of a train sent and received
    /// together): each a difference of 0, as `n` calls of [`Self::record`] would. Nothing before a first
    /// arrival.
    #[inline]
    pub fn record_same(&mut self, n: u64) {
        if self.last_transit.is_none() {
            return;
        }
        for _ in 0..n {
            let s = self.scaled;
            // Below 8 the step rounds to 0: the estimate stays where it is.
            if s < 8 {
                break;
            }
            self.scaled = s - ((s + 8) >> 4);
        }
    }

    /// The current estimate in nanoseconds.
    pub fn nanos(&self) -> f64 {
        self.scaled as f64 / 16.0
    }
}

/// Round-trip time samples and their summary.
#[derive(Clone, Debug, Default)]
pub struct Rtt {
    samples: Vec<u64>,
}

/// What [`Rtt::summary`] reports, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct RttSummary {
    /// Samples.
    pub count: usize,
    /// Smallest.
    pub min: u64,
    /// Mean.
    pub avg: f64,
    /// Largest.
    pub max: u64,
    /// Median (nearest rank).
    pub p50: u64,
    /// 99th percentile (nearest rank).
    pub p99: u64,
    /// Mean deviation as ping(8) prints it: the standard deviation, `sqrt(mean(x^2) - mean(x)^2)`.
    pub mdev: f64,
}

impl Rtt {
    /// No samples yet.
    pub fn new() -> Rtt {
        Rtt::default()
    }

    /// Adds one round trip.
    pub fn record(&mut self, ns: u64) {
        self.samples.push(ns);
    }

    /// The samples, in arrival order.
    pub fn samples(&self) -> &[u64] {
        &self.samples
    }

    /// The summary, or `None` without samples.
    pub fn summary(&self) -> Option<RttSummary> {
        summarize(&self.samples)
    }
}

/// Nearest-rank percentile `p` (0..=100) of sorted values; `None` if empty.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p.clamp(0.0, 100.0) / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1).min(sorted.len() - 1)).copied()
}

/// Summarizes samples (nanoseconds).
pub fn summarize(samples: &[u64]) -> Option<RttSummary> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let n = sorted.len() as f64;
    let mean = sorted.iter().map(|&x| x as f64).sum::<f64>() / n;
    let mean_sq = sorted.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>() / n;
    Some(RttSummary {
        count: sorted.len(),
        min: sorted[0],
        avg: mean,
        max: sorted[sorted.len() - 1],
        p50: percentile(&sorted, 50.0).unwrap_or(0),
        p99: percentile(&sorted, 99.0).unwrap_or(0),
        mdev: (mean_sq - mean * mean).max(0.0).sqrt(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_stream_counts_nothing_odd() {
        let mut t = SeqTracker::new();
        for s in 0..1000 {
            assert_eq!(t.record(s), Order::InOrder);
        }
        assert_eq!((t.unique, t.duplicates, t.reordered, t.lost(1000)), (1000, 0, 0, 0));
    }

    /// Mostly the next number, as a sender in order sends, with jumps, repeats, late and very old ones: every
    /// arrival is classified as a plain model (the set of numbers seen in the window) classifies it, across
    /// several turns of the window, so the in-order shortcut and the general path agree.
    #[test]
    fn every_arrival_is_classified_as_a_model_of_the_window_does() {
        use std::collections::HashSet;
        let mut t = SeqTracker::new();
        let (mut seen, mut highest) = (HashSet::new(), None::<u64>);
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = 0u64;
        for _ in 0..400_000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let seq = match rng % 100 {
                0..=89 => next,
                90..=94 => next + rng % 3000,
                95..=97 => next.saturating_sub(1 + rng % 100),
                _ => next.saturating_sub(WINDOW + rng % 10),
            };
            let want = match highest {
                Some(h) if seq <= h && h - seq >= WINDOW => Order::TooOld,
                _ if seen.contains(&seq) => Order::Duplicate,
                Some(h) if seq < h => Order::Reordered,
                _ => Order::InOrder,
            };
            if want != Order::TooOld {
                seen.insert(seq);
            }
            highest = highest.max(Some(seq));
            let h = highest.unwrap_or(0);
            if seen.len() > 2 * WINDOW as usize {
                seen.retain(|&s| h - s < WINDOW);
            }
            assert_eq!(t.record(seq), want, "seq {seq}, highest {highest:?}");
            next = next.max(seq + 1);
        }
        assert!(t.unique > 300_000 && t.duplicates > 0 && t.reordered > 0 && t.too_old > 0);
    }

    #[test]
    fn loss_duplicates_and_reordering() {
        let mut t = SeqTracker::new();
        // 0 1 3 2 2 5 (4 lost), 6 expected => lost 1 of 7.
        let kinds: Vec<_> = [0, 1, 3, 2, 2, 5, 6].iter().map(|&s| t.record(s)).collect();
        use Order::*;
        assert_eq!(kinds, [InOrder, InOrder, InOrder, Reordered, Duplicate, InOrder, InOrder]);
        assert_eq!((t.unique, t.duplicates, t.reordered), (6, 1, 1));
        assert_eq!(t.lost(7), 1);
        assert_eq!(t.expected_by_highest(), 7);
    }

    #[test]
    fn window_slides_and_forgets() {
        let mut t = SeqTracker::new();
        t.record(0);
        t.record(WINDOW + 5);
        assert_eq!(t.record(0), Order::TooOld);
        assert_eq!(t.record(WINDOW + 5), Order::Duplicate);
        assert_eq!(t.record(WINDOW + 4), Order::Reordered);
        // A slot reused after the slide reads as new, not as a duplicate of its old occupant.
        let mut u = SeqTracker::new();
        u.record(3);
        u.record(3 + WINDOW - 1);
        assert_eq!(u.record(3 + WINDOW), Order::InOrder);
        assert_eq!(u.record(u64::MAX), Order::InOrder);
        assert_eq!(u.expected_by_highest(), u64::MAX);
    }

    #[test]
    fn a_run_is_recorded_as_its_numbers_one_by_one() {
        // Runs that start and end inside words, span two, fill one whole, and cross the window's wrap.
        for (start, n) in [(0u64, 1u64), (5, 10), (60, 10), (64, 64), (100, 128), (WINDOW - 3, 7), (7, 64)] {
            let (mut run, mut one) = (SeqTracker::new(), SeqTracker::new());
            for t in [&mut run, &mut one] {
                t.record(start);
            }
            assert!(run.record_run(start + 1, n), "{start}+{n}");
            for q in start + 1..=start + n {
                assert_eq!(one.record(q), Order::InOrder);
            }
            assert_eq!((run.highest, run.unique, &run.seen), (one.highest, one.unique, &one.seen), "{start}+{n}");
            // And what follows is judged alike: a repeat inside the run, then the next one.
            assert_eq!(run.record(start + n), one.record(start + n));
            assert_eq!(run.record(start + n + 1), one.record(start + n + 1));
            assert_eq!((run.duplicates, run.unique), (one.duplicates, one.unique));
        }
        // Not the next number, nothing seen yet, an empty run, or past the window: refused, nothing recorded.
        let mut t = SeqTracker::new();
        assert!(!t.record_run(0, 5));
        t.record(3);
        for (first, n) in [(5, 2), (3, 1), (4, 0), (4, WINDOW + 1)] {
            assert!(!t.record_run(first, n));
        }
        assert_eq!((t.highest, t.unique), (Some(3), 1));
    }

    #[test]
    fn equal_transits_decay_jitter_as_one_by_one() {
        let (mut same, mut one) = (Jitter::default(), Jitter::default());
        same.record_same(5);
        assert_eq!(same.nanos(), 0.0, "nothing before a first arrival");
        for j in [&mut same, &mut one] {
            j.record(0, 100);
            j.record(1000, 1900); // D = 800
        }
        same.record_same(40);
        for i in 0..40 {
            one.record(2000 + i, 2900 + i);
        }
        assert_eq!(same.nanos(), one.nanos());
        assert!(same.nanos() > 0.0 && same.nanos() < 50.0, "{}", same.nanos());
    }

    #[test]
    fn jitter_follows_rfc3550() {
        let mut j = Jitter::default();
        j.record(0, 100);
        assert_eq!(j.nanos(), 0.0);
        j.record(1000, 1116); // transit 116 vs 100: D = 16 -> J = 1
        assert_eq!(j.nanos(), 1.0);
        j.record(2000, 2100); // D = 16 -> J = 1 + 15/16
        assert!((j.nanos() - 1.9375).abs() < 1e-9);
    }

    #[test]
    fn jitter_takes_differences_across_the_wrap_and_either_clock_ahead() {
        // The receiver's clock behind the sender's (negative transits), and a transit that wraps: only the
        // difference counts.
        let mut j = Jitter::default();
        j.record(1_000, 0);
        j.record(2_000, 1_016); // transit -1000 then -984: D = 16
        assert_eq!(j.nanos(), 1.0);
        let mut w = Jitter::default();
        w.record(u64::MAX - 10, 5); // transit 16 across the wrap
        w.record(0, 32); // transit 32: D = 16
        assert_eq!(w.nanos(), 1.0);
        // A run of equal transits decays the estimate towards 0, as the float formula does, to within the
        // integer form's rounding (under half a nanosecond).
        for i in 0..200 {
            w.record(100 + i, 132 + i);
        }
        assert!(w.nanos() < 0.5, "{}", w.nanos());
    }

    #[test]
    fn jitter_matches_the_float_formula_within_its_rounding() {
        let (mut j, mut f, mut state) = (Jitter::default(), 0f64, 0x9e37_79b9_7f4a_7c15u64);
        let mut last: Option<i64> = None;
        for i in 0..10_000u64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let arrival = i * 1_000_000 + state % 50_000;
            j.record(i * 1_000_000, arrival);
            let transit = (arrival - i * 1_000_000) as i64;
            if let Some(p) = last {
                f += ((transit - p).unsigned_abs() as f64 - f) / 16.0;
            }
            last = Some(transit);
        }
        assert!(f > 10_000.0, "{f}");
        assert!((j.nanos() - f).abs() < 1.0, "integer {} float {f}", j.nanos());
    }

    #[test]
    fn rtt_summary_like_ping() {
        assert!(summarize(&[]).is_none());
        let s = summarize(&[10, 20, 30, 40]).unwrap();
        assert_eq!((s.min, s.max, s.p50, s.p99, s.count), (10, 40, 20, 40, 4));
        assert_eq!(s.avg, 25.0);
        assert!((s.mdev - 125f64.sqrt()).abs() < 1e-9);
        let many: Vec<u64> = (1..=1000).collect();
        let s = summarize(&many).unwrap();
        assert_eq!((s.p50, s.p99), (500, 990));
    }
}
