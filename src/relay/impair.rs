//! The impairment engine of the relay: given the datagrams in arrival order, decides deterministically (from
//! a seed) which to drop, duplicate, hold back or delay, and counts exactly what it did. No I/O here.

use std::collections::VecDeque;
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};

/// SplitMix64 (Steele, Lea, Flood 2014): a small, fast generator whose sequence is fixed by its seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform number in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A probability given as `0.1` or `10%`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Probability(pub f64);

impl FromStr for Probability {
    type Err = Error;

    fn from_str(s: &str) -> Result<Probability> {
        let bad = || {
            Error::new(ErrorKind::Parse, format!("probability '{s}': give a fraction 0..1 (0.05) or a percentage (5%)"))
        };
        let t = s.trim();
        let p = match t.strip_suffix('%') {
            Some(pct) => pct.trim().parse::<f64>().map_err(|_| bad())? / 100.0,
            None => t.parse::<f64>().map_err(|_| bad())?,
        };
        if !(0.0..=1.0).contains(&p) {
            return Err(bad());
        }
        Ok(Probability(p))
    }
}

/// What to do to the traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Impairments {
    /// Chance that a datagram is dropped.
    pub drop: Probability,
    /// Chance that a datagram is sent twice.
    pub duplicate: Probability,
    /// Chance that a datagram is held back and sent after the next one.
    pub reorder: Probability,
    /// Time every forwarded datagram waits before it is sent.
    pub delay: Duration,
}

/// Exact counts of what the engine did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counts {
    /// Datagrams fed in.
    pub received: u64,
    /// Datagrams dropped.
    pub dropped: u64,
    /// Datagrams sent twice (each adds one extra copy).
    pub duplicated: u64,
    /// Datagrams released after a newer one (a held datagram released by [`Engine::flush`] with nothing newer
    /// after it is in order, and not counted).
    pub reordered: u64,
    /// Copies handed out to be sent.
    pub sent: u64,
    /// Copies not sent because the queue was full ([`QueueLimits`]).
    pub queue_full: u64,
}

/// The most the queue of copies waiting to be sent may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueLimits {
    /// Copies (at least 1).
    pub datagrams: usize,
    /// Bytes of payload, all copies together (a copy larger than this never fits).
    pub bytes: usize,
}

/// The default queue bound in datagrams, as netem's default `limit`.
pub const DEFAULT_QUEUE_DATAGRAMS: usize = 1000;
/// The default queue bound in bytes: 16 MiB.
pub const DEFAULT_QUEUE_BYTES: usize = 16 << 20;

impl Default for QueueLimits {
    fn default() -> Self {
        QueueLimits { datagrams: DEFAULT_QUEUE_DATAGRAMS, bytes: DEFAULT_QUEUE_BYTES }
    }
}

impl<T> std::fmt::Debug for Engine<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("imp", &self.imp)
            .field("held", &self.held.is_some())
            .field("queued", &(self.queue.len(), self.queued_bytes))
            .field("limits", &self.limits)
            .field("counts", &self.counts)
            .finish()
    }
}

struct Held<T> {
    data: T,
    copies: u8,
}

/// The impairment engine: feed datagrams with [`Engine::push`], take what is due with [`Engine::pop_due`].
///
/// Given the datagrams in arrival order, it decides deterministically (from a seed) which to drop,
/// duplicate, hold back or delay, and counts exactly what it did, so a test can compare a receiver's loss,
/// duplicate and reorder counts with the truth. No I/O here: the relay feeds datagrams in and sends what
/// comes out when it is due.
///
/// For each datagram, three draws are made in this order, whatever the outcome, so the decisions for
/// datagram `n` depend only on the seed and `n`: drop? duplicate? hold back? A dropped datagram goes no
/// further. A held datagram ("reorder") is released right after the next datagram that is forwarded, so it
/// arrives after a newer one; only one is held at a time. Every forwarded copy is sent `delay` after it was
/// released.
///
/// The queue of copies waiting to be sent is bounded ([`QueueLimits`]: by default 1000 datagrams, as
/// netem's default limit, and 16 MiB): a copy that does not fit is not sent and is counted
/// ([`Counts::queue_full`]), so a long delay under a heavy stream costs bounded memory.
///
/// A datagram is any `T` that is its bytes (`AsRef<[u8]>`, for the queue's byte bound) and can be copied
/// (`Clone`, for duplicates): plain `Vec<u8>`, or a payload with what the sender needs beside it.
pub struct Engine<T = Vec<u8>> {
    imp: Impairments,
    rng: Rng,
    held: Option<Held<T>>,
    queue: VecDeque<(Instant, T)>,
    limits: QueueLimits,
    queued_bytes: usize,
    counts: Counts,
}

impl Engine {
    /// An engine of plain byte vectors applying `imp`, its decisions fixed by `seed`, its queue bounded by
    /// the default [`QueueLimits`].
    pub fn new(imp: Impairments, seed: u64) -> Engine {
        Engine::carrying(imp, seed)
    }
}

impl<T: Clone + AsRef<[u8]>> Engine<T> {
    /// [`Engine::new`] for datagrams of type `T`.
    pub fn carrying(imp: Impairments, seed: u64) -> Engine<T> {
        Engine {
            imp,
            rng: Rng::new(seed),
            held: None,
            queue: VecDeque::new(),
            limits: QueueLimits::default(),
            queued_bytes: 0,
            counts: Counts::default(),
        }
    }

    /// The same engine with its queue bounded by `limits`.
    pub fn with_limits(mut self, limits: QueueLimits) -> Engine<T> {
        self.limits = QueueLimits { datagrams: limits.datagrams.max(1), bytes: limits.bytes };
        self
    }

    /// Takes one datagram that arrived at `now`.
    pub fn push(&mut self, data: T, now: Instant) {
        self.push_with(data, now, |_| {});
    }

    /// [`push`](Self::push), calling `overflow` with each copy that did not fit in the queue (counted in
    /// [`Counts::queue_full`]); that may be the copy of a held datagram released now.
    pub fn push_with(&mut self, data: T, now: Instant, mut overflow: impl FnMut(&T)) {
        self.counts.received += 1;
        let drop = self.rng.next_f64() < self.imp.drop.0;
        let dup = self.rng.next_f64() < self.imp.duplicate.0;
        let hold = self.rng.next_f64() < self.imp.reorder.0;
        if drop {
            self.counts.dropped += 1;
            return;
        }
        let copies = if dup { 2 } else { 1 };
        if dup {
            self.counts.duplicated += 1;
        }
        if hold && self.held.is_none() {
            self.held = Some(Held { data, copies });
            return;
        }
        let due = now + self.imp.delay;
        self.enqueue(due, data, copies, &mut overflow);
        if let Some(h) = self.held.take() {
            self.counts.reordered += 1;
            self.enqueue(due, h.data, h.copies, &mut overflow);
        }
    }

    fn enqueue(&mut self, due: Instant, data: T, copies: u8, overflow: &mut dyn FnMut(&T)) {
        if copies > 1 {
            self.enqueue_one(due, data.clone(), overflow);
        }
        self.enqueue_one(due, data, overflow);
    }

    fn enqueue_one(&mut self, due: Instant, data: T, overflow: &mut dyn FnMut(&T)) {
        let len = data.as_ref().len();
        let bytes = self.queued_bytes.saturating_add(len);
        if self.queue.len() >= self.limits.datagrams || bytes > self.limits.bytes {
            self.counts.queue_full += 1;
            overflow(&data);
            return;
        }
        self.queued_bytes = bytes;
        self.queue.push_back((due, data));
    }

    /// The next datagram due at or before `now`, if any.
    pub fn pop_due(&mut self, now: Instant) -> Option<T> {
        match self.queue.front() {
            Some((due, _)) if *due <= now => {
                let (_, d) = self.queue.pop_front()?;
                self.counts.sent += 1;
                self.queued_bytes = self.queued_bytes.saturating_sub(d.as_ref().len());
                Some(d)
            }
            _ => None,
        }
    }

    /// When the next queued datagram is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.queue.front().map(|(due, _)| *due)
    }

    /// Ends the run: releases a held datagram (in order, as nothing newer follows) and makes every queued one
    /// due now; then [`Engine::pop_due`] drains them.
    pub fn flush(&mut self, now: Instant) {
        self.flush_with(now, |_| {});
    }

    /// [`flush`](Self::flush), calling `overflow` if the held datagram does not fit in the queue.
    pub fn flush_with(&mut self, now: Instant, mut overflow: impl FnMut(&T)) {
        if let Some(h) = self.held.take() {
            self.enqueue(now, h.data, h.copies, &mut overflow);
        }
        for (due, _) in self.queue.iter_mut() {
            *due = now;
        }
    }

    /// Whether anything is held or queued.
    pub fn is_idle(&self) -> bool {
        self.held.is_none() && self.queue.is_empty()
    }

    /// What was done so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Copies waiting to be sent, and their bytes.
    pub fn queued(&self) -> (usize, usize) {
        (self.queue.len(), self.queued_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(imp: Impairments, seed: u64, n: u8) -> (Vec<u8>, Counts) {
        let mut e = Engine::new(imp, seed);
        let t = Instant::now();
        let mut out = Vec::new();
        for i in 0..n {
            e.push(vec![i], t);
            while let Some(d) = e.pop_due(t + imp.delay) {
                out.push(d[0]);
            }
        }
        e.flush(t);
        while let Some(d) = e.pop_due(t) {
            out.push(d[0]);
        }
        (out, e.counts())
    }

    #[test]
    fn probabilities_parse() {
        assert_eq!("0.25".parse::<Probability>().unwrap(), Probability(0.25));
        assert_eq!("10%".parse::<Probability>().unwrap(), Probability(0.1));
        for bad in ["", "1.5", "-0.1", "abc", "200%"] {
            assert!(bad.parse::<Probability>().is_err(), "{bad}");
        }
    }

    #[test]
    fn no_impairment_is_a_pipe() {
        let (out, c) = run(Impairments::default(), 1, 50);
        assert_eq!(out, (0..50).collect::<Vec<_>>());
        assert_eq!(c, Counts { received: 50, sent: 50, ..Counts::default() });
    }

    #[test]
    fn counts_match_the_output_and_the_seed_fixes_it() {
        let imp = Impairments {
            drop: Probability(0.1),
            duplicate: Probability(0.1),
            reorder: Probability(0.1),
            delay: Duration::ZERO,
        };
        let (out, c) = run(imp, 42, 200);
        assert_eq!(run(imp, 42, 200), (out.clone(), c));
        assert_ne!(run(imp, 43, 200).0, out);
        // Recount from the output the way a receiver would.
        let mut seen = std::collections::HashSet::new();
        let (mut dups, mut reord, mut highest) = (0, 0, None);
        for &s in &out {
            if !seen.insert(s) {
                dups += 1;
            } else if highest.is_some_and(|h| s < h) {
                reord += 1;
            }
            highest = highest.max(Some(s));
        }
        assert_eq!(200 - seen.len() as u64, c.dropped);
        assert_eq!(dups, c.duplicated);
        assert_eq!(reord, c.reordered);
        assert_eq!(out.len() as u64, c.sent);
        assert!(c.dropped > 0 && c.duplicated > 0 && c.reordered > 0, "{c:?}");
    }

    #[test]
    fn delay_holds_until_due() {
        let imp = Impairments { delay: Duration::from_millis(5), ..Impairments::default() };
        let mut e = Engine::new(imp, 0);
        let t = Instant::now();
        e.push(vec![1], t);
        assert_eq!(e.pop_due(t), None);
        assert_eq!(e.next_due(), Some(t + Duration::from_millis(5)));
        assert_eq!(e.pop_due(t + Duration::from_millis(5)), Some(vec![1]));
        assert!(e.is_idle());
    }

    #[test]
    fn the_queue_is_bounded_in_datagrams() {
        let imp = Impairments { delay: Duration::from_secs(1), ..Impairments::default() };
        let mut e = Engine::new(imp, 0).with_limits(QueueLimits { datagrams: 5, bytes: 1 << 20 });
        let t = Instant::now();
        let mut refused = Vec::new();
        for i in 0..20u8 {
            e.push_with(vec![i], t, |d| refused.push(d[0]));
        }
        assert_eq!(e.queued(), (5, 5));
        assert_eq!(refused, (5..20).collect::<Vec<_>>());
        e.flush(t);
        let out: Vec<u8> = std::iter::from_fn(|| e.pop_due(t)).map(|d| d[0]).collect();
        assert_eq!(out, [0, 1, 2, 3, 4]);
        assert_eq!(e.counts(), Counts { received: 20, sent: 5, queue_full: 15, ..Counts::default() });
        // Room again once the queue drained.
        e.push(vec![99], t);
        assert_eq!(e.queued(), (1, 1));
    }

    #[test]
    fn the_queue_is_bounded_in_bytes() {
        let imp = Impairments { delay: Duration::from_secs(1), ..Impairments::default() };
        let mut e = Engine::new(imp, 0).with_limits(QueueLimits { datagrams: 100, bytes: 250 });
        let t = Instant::now();
        for _ in 0..4 {
            e.push(vec![0; 100], t);
        }
        // A copy larger than the whole bound never fits.
        e.push(vec![0; 300], t);
        assert_eq!(e.queued(), (2, 200));
        assert_eq!(e.counts().queue_full, 3);
    }

    #[test]
    fn a_duplicate_that_does_not_fit_is_counted_once() {
        let imp = Impairments { duplicate: Probability(1.0), delay: Duration::from_secs(1), ..Impairments::default() };
        let mut e = Engine::new(imp, 0).with_limits(QueueLimits { datagrams: 3, bytes: 1 << 20 });
        let t = Instant::now();
        e.push(vec![1], t);
        e.push(vec![2], t);
        let c = e.counts();
        assert_eq!((c.duplicated, c.queue_full, e.queued().0), (2, 1, 3));
    }
}
