//! [`SenderTable`]: per-sender state that stays bounded however long a receiver runs and however many
//! senders it hears.
//!
//! A receiver left running for days may hear thousands of distinct senders (every restart of a sender is a
//! new port, every `perf` run a new session). The table keeps at most `cap` of them: when it is full the one
//! idle the longest is forgotten, and any idle for longer than `max_age` is forgotten as well. Totals kept
//! elsewhere stay exact; only the per-sender breakdown loses its oldest rows, and the table counts how many
//! it forgot so a summary can say so.
//!
//! The same bound serves any state keyed by what the network chooses: the membership table of `raw::Watcher`
//! keeps its groups per interface in one, so forged reports naming fresh groups cannot grow it without end.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// The default cap: senders remembered at once.
pub const DEFAULT_CAP: usize = 4096;

/// The default age: a sender silent for this long is forgotten.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);

#[derive(Clone, Debug)]
struct Entry<V> {
    value: V,
    last_seen: Instant,
    stamp: u64,
}

/// A map from sender (an address, or an address and session) to `V`, capped and aged.
///
/// Every operation is `O(log n)`: entries are ordered by last use, so the longest idle is always first. Times
/// passed in are expected not to go backwards (`Instant::now()`): the ages are read in order of use.
#[derive(Clone, Debug)]
pub struct SenderTable<K, V> {
    entries: HashMap<K, Entry<V>>,
    by_use: BTreeMap<u64, K>,
    clock: u64,
    cap: usize,
    max_age: Duration,
    evicted: u64,
    expired: u64,
}

/// What [`SenderTable::insert`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inserted<K, V> {
    /// The value the key had before, if it was remembered.
    pub old: Option<V>,
    /// The entry forgotten to make room for a new key, when the table was full.
    pub evicted: Option<(K, V)>,
}

impl<K: Clone + Eq + Hash, V> Default for SenderTable<K, V> {
    fn default() -> Self {
        SenderTable::new(DEFAULT_CAP, DEFAULT_MAX_AGE)
    }
}

impl<K: Clone + Eq + Hash, V: Default> SenderTable<K, V> {
    /// The state of `key`, seen at `now`: created (as `V::default()`) if new, which may forget the sender
    /// idle the longest when the table is full. Senders idle past the age limit are forgotten first.
    pub fn entry(&mut self, key: K, now: Instant) -> &mut V {
        self.entry_evicting(key, now).0
    }

    /// Like [`entry`](Self::entry), and also hands back the sender forgotten to make room for `key`, if one
    /// was: a caller that keeps more about each sender elsewhere (a slot in its own array) can settle that
    /// sender's account and reuse its slot.
    pub fn entry_evicting(&mut self, key: K, now: Instant) -> (&mut V, Option<(K, V)>) {
        self.expire(now);
        // The sender used last (one heard over and over, the common case) stays last: its place in the order
        // of use is kept, without taking it out and putting it back.
        let last = self.by_use.last_key_value().filter(|(_, k)| **k == key).map(|(&s, _)| s);
        let (stamp, evicted) = match last {
            Some(s) => (s, None),
            None => {
                let evicted = self.make_room(&key);
                (self.stamp(&key), evicted)
            }
        };
        let e = self.entries.entry(key).or_insert_with(|| Entry { value: V::default(), last_seen: now, stamp });
        e.stamp = stamp;
        e.last_seen = e.last_seen.max(now);
        (&mut e.value, evicted)
    }
}

impl<K: Clone + Eq + Hash, V> SenderTable<K, V> {
    /// A table of at most `cap` senders (at least 1), each forgotten after `max_age` of silence.
    pub fn new(cap: usize, max_age: Duration) -> Self {
        SenderTable {
            entries: HashMap::new(),
            by_use: BTreeMap::new(),
            clock: 0,
            cap: cap.max(1),
            max_age,
            evicted: 0,
            expired: 0,
        }
    }

    /// Forgets every sender silent for longer than the age limit at `now`; returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        self.take_idle(now, self.max_age).len()
    }

    /// Sets the state of `key`, seen at `now`. A new key in a full table first forgets the entry idle the
    /// longest, which is returned (and counted in [`SenderTable::evicted`]); entries idle past the age limit
    /// are forgotten before that.
    pub fn insert(&mut self, key: K, value: V, now: Instant) -> Inserted<K, V> {
        self.expire(now);
        let evicted = self.make_room(&key);
        let stamp = self.stamp(&key);
        let last_seen = self.entries.get(&key).map_or(now, |e| e.last_seen.max(now));
        let old = self.entries.insert(key, Entry { value, last_seen, stamp }).map(|e| e.value);
        Inserted { old, evicted }
    }

    /// Forgets `key`; returns its state if it was remembered. Not counted as evicted or expired: the caller
    /// chose it.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let e = self.entries.remove(key)?;
        self.by_use.remove(&e.stamp);
        Some(e.value)
    }

    /// Forgets the entries silent for longer than `idle` at `now`, the longest idle first, and returns them
    /// (counted in [`SenderTable::expired`]).
    pub fn take_idle(&mut self, now: Instant, idle: Duration) -> Vec<(K, V)> {
        let mut taken = Vec::new();
        while let Some((&stamp, key)) = self.by_use.first_key_value() {
            let silent = self.entries.get(key).map_or(Duration::MAX, |e| now.saturating_duration_since(e.last_seen));
            if silent <= idle {
                break;
            }
            let Some(key) = self.by_use.remove(&stamp) else { break };
            if let Some(e) = self.entries.remove(&key) {
                taken.push((key, e.value));
            }
        }
        self.expired += taken.len() as u64;
        taken
    }

    /// When `key` is new and the table full, forgets the entry idle the longest and returns it.
    fn make_room(&mut self, key: &K) -> Option<(K, V)> {
        if self.entries.contains_key(key) || self.entries.len() < self.cap {
            return None;
        }
        let (_, oldest) = self.by_use.pop_first()?;
        let e = self.entries.remove(&oldest)?;
        self.evicted += 1;
        Some((oldest, e.value))
    }

    /// A new use stamp for `key`, moving it to the end of the order of use.
    fn stamp(&mut self, key: &K) -> u64 {
        if let Some(e) = self.entries.get(key) {
            self.by_use.remove(&e.stamp);
        }
        self.clock += 1;
        self.by_use.insert(self.clock, key.clone());
        self.clock
    }
}

impl<K: Eq + Hash, V> SenderTable<K, V> {
    /// The state of `key`, if remembered.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key).map(|e| &e.value)
    }

    /// Every remembered sender and its state, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, e)| (k, &e.value))
    }

    /// Senders remembered now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The most senders remembered at once.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// How long a silent sender is remembered.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// Senders forgotten to make room for new ones.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Senders forgotten for being silent too long.
    pub fn expired(&self) -> u64 {
        self.expired
    }

    /// Senders forgotten, for either reason.
    pub fn forgotten(&self) -> u64 {
        self.evicted + self.expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_table_forgets_the_longest_idle() {
        let t0 = Instant::now();
        let mut t: SenderTable<u32, u64> = SenderTable::new(3, Duration::from_secs(60));
        for k in 0..3 {
            *t.entry(k, t0) += 1;
        }
        // Touch 0 again, so 1 is now the longest idle.
        *t.entry(0, t0) += 1;
        *t.entry(9, t0) += 1;
        assert_eq!(t.len(), 3);
        assert_eq!(t.get(&1), None);
        assert_eq!((t.get(&0), t.get(&2), t.get(&9)), (Some(&2), Some(&1), Some(&1)));
        assert_eq!((t.evicted(), t.expired(), t.forgotten()), (1, 0, 1));
        // The next newcomer hands back the one it pushed out (2, now the longest idle) with its state.
        let (v, gone) = t.entry_evicting(7, t0);
        *v += 5;
        assert_eq!(gone, Some((2, 1)));
        assert_eq!(t.entry_evicting(7, t0).1, None, "a known sender pushes nobody out");
        assert_eq!(t.get(&7), Some(&5));
    }

    #[test]
    fn the_sender_used_last_keeps_its_place_and_its_age() {
        let t0 = Instant::now();
        let mut t: SenderTable<u32, u64> = SenderTable::new(2, Duration::from_secs(5));
        *t.entry(1, t0) += 1;
        // 2 heard over and over: it stays the last used, its last time moves on, its state adds up.
        for s in 1..=4 {
            *t.entry(2, t0 + Duration::from_secs(s)) += 1;
        }
        assert_eq!((t.get(&1), t.get(&2)), (Some(&1), Some(&4)));
        // 1 is the longest idle: a newcomer pushes it out, not 2.
        assert_eq!(t.entry_evicting(3, t0 + Duration::from_secs(4)).1, Some((1, 1)));
        // At 9 s, 2 (last heard at 4 s) is not past the age limit, 3 (at 4 s) neither; at 10 s both are.
        assert_eq!(t.expire(t0 + Duration::from_secs(9)), 0);
        assert_eq!(t.expire(t0 + Duration::from_secs(10)), 2);
        assert!(t.is_empty());
    }

    #[test]
    fn silent_senders_age_out() {
        let t0 = Instant::now();
        let mut t: SenderTable<&str, u8> = SenderTable::new(10, Duration::from_secs(5));
        t.entry("old", t0);
        t.entry("new", t0 + Duration::from_secs(4));
        assert_eq!(t.expire(t0 + Duration::from_secs(5)), 0, "exactly the age is still remembered");
        assert_eq!(t.expire(t0 + Duration::from_secs(6)), 1);
        assert_eq!(t.iter().map(|(k, _)| *k).collect::<Vec<_>>(), ["new"]);
        // A new entry expires the stale ones first.
        t.entry("later", t0 + Duration::from_secs(20));
        assert_eq!(t.iter().map(|(k, _)| *k).collect::<Vec<_>>(), ["later"]);
        assert_eq!(t.expired(), 2);
    }

    #[test]
    fn insert_returns_what_it_replaced_and_what_it_evicted() {
        let t0 = Instant::now();
        let mut t: SenderTable<u32, &str> = SenderTable::new(2, Duration::MAX);
        assert_eq!(t.insert(1, "one", t0), Inserted { old: None, evicted: None });
        assert_eq!(t.insert(2, "two", t0), Inserted { old: None, evicted: None });
        // Replacing refreshes 1, so 2 is the longest idle.
        assert_eq!(t.insert(1, "uno", t0), Inserted { old: Some("one"), evicted: None });
        assert_eq!(t.insert(3, "three", t0), Inserted { old: None, evicted: Some((2, "two")) });
        assert_eq!((t.len(), t.evicted()), (2, 1));
        // Removing is the caller's choice: neither evicted nor expired, and it frees a place.
        assert_eq!(t.remove(&1), Some("uno"));
        assert_eq!(t.remove(&1), None);
        assert_eq!(t.insert(4, "four", t0), Inserted { old: None, evicted: None });
        assert_eq!((t.len(), t.evicted(), t.expired()), (2, 1, 0));
        assert_eq!(t.by_use.len(), 2);
    }

    #[test]
    fn take_idle_returns_the_silent_longest_first() {
        let t0 = Instant::now();
        let secs = |s| t0 + Duration::from_secs(s);
        let mut t: SenderTable<char, u8> = SenderTable::new(10, Duration::MAX);
        t.insert('a', 1, secs(0));
        t.insert('b', 2, secs(1));
        t.insert('c', 3, secs(2));
        t.insert('a', 4, secs(3));
        assert_eq!(t.take_idle(secs(13), Duration::from_secs(10)), [('b', 2), ('c', 3)]);
        assert_eq!(t.take_idle(secs(13), Duration::from_secs(10)), []);
        assert_eq!((t.len(), t.expired(), t.evicted()), (1, 2, 0));
        // The age limit of the table is not this one: MAX never ages anything out by itself.
        t.insert('d', 5, secs(1_000_000));
        assert_eq!(t.len(), 2);
    }

    /// Memory stays flat: a million distinct senders leave at most `cap` entries behind.
    #[test]
    fn stays_bounded_under_many_senders() {
        let t0 = Instant::now();
        let mut t: SenderTable<u64, u64> = SenderTable::new(1000, Duration::from_secs(3600));
        for k in 0..1_000_000u64 {
            *t.entry(k, t0 + Duration::from_micros(k)) += 1;
        }
        assert_eq!(t.len(), 1000);
        assert_eq!(t.by_use.len(), 1000);
        assert_eq!(t.evicted(), 999_000);
        assert!(t.get(&999_999).is_some() && t.get(&998_999).is_none());
    }
}
