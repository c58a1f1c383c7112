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

use std::collections::HashMap;
use std::hash::Hash;
use std::mem;
use std::time::{Duration, Instant};

/// The default cap: senders remembered at once.
pub const DEFAULT_CAP: usize = 4096;

/// The default age: a sender silent for this long is forgotten.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);

/// No neighbour in the order of use.
const NIL: usize = usize::MAX;

#[derive(Clone, Debug)]
struct Node<K, V> {
    key: K,
    value: V,
    last_seen: Instant,
    /// The entry used just before this one (towards the longest idle), or `NIL`.
    prev: usize,
    /// The entry used just after it (towards the latest), or `NIL`.
    next: usize,
}

/// A map from sender (an address, or an address and session) to `V`, capped and aged.
///
/// Every operation on one sender is `O(1)`: a hash lookup and a few links. The entries are kept in a list by
/// order of use, the longest idle at its head, so that forgetting it takes no search. Times passed in are
/// expected not to go backwards (`Instant::now()`): the ages are read in order of use.
#[derive(Clone, Debug)]
pub struct SenderTable<K, V> {
    index: HashMap<K, usize>,
    /// The entries, densely packed (a removal moves the last one into the hole).
    nodes: Vec<Node<K, V>>,
    /// The longest idle entry, and the one used last (`NIL` when empty).
    head: usize,
    tail: usize,
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
        let (i, evicted) = match self.index.get(&key) {
            Some(&i) => {
                self.touch(i, now);
                (i, None)
            }
            None => self.add(key, V::default(), now),
        };
        (&mut self.nodes[i].value, evicted)
    }
}

impl<K: Clone + Eq + Hash, V> SenderTable<K, V> {
    /// A table of at most `cap` senders (at least 1), each forgotten after `max_age` of silence.
    pub fn new(cap: usize, max_age: Duration) -> Self {
        SenderTable {
            index: HashMap::new(),
            nodes: Vec::new(),
            head: NIL,
            tail: NIL,
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
        match self.index.get(&key) {
            Some(&i) => {
                self.touch(i, now);
                Inserted { old: Some(mem::replace(&mut self.nodes[i].value, value)), evicted: None }
            }
            None => Inserted { old: None, evicted: self.add(key, value, now).1 },
        }
    }

    /// Forgets `key`; returns its state if it was remembered. Not counted as evicted or expired: the caller
    /// chose it.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let i = *self.index.get(key)?;
        Some(self.take(i).1)
    }

    /// Forgets the entries silent for longer than `idle` at `now`, the longest idle first, and returns them
    /// (counted in [`SenderTable::expired`]).
    pub fn take_idle(&mut self, now: Instant, idle: Duration) -> Vec<(K, V)> {
        let mut taken = Vec::new();
        while self.head != NIL && now.saturating_duration_since(self.nodes[self.head].last_seen) > idle {
            taken.push(self.take(self.head));
        }
        self.expired += taken.len() as u64;
        taken
    }

    /// A new entry, the latest used; when the table is full it takes the place of the longest idle, which
    /// is returned. Returns the new entry's position.
    fn add(&mut self, key: K, value: V, now: Instant) -> (usize, Option<(K, V)>) {
        if self.nodes.len() >= self.cap && self.head != NIL {
            let i = self.head;
            self.unlink(i);
            let node = &mut self.nodes[i];
            let old_key = mem::replace(&mut node.key, key.clone());
            let old_value = mem::replace(&mut node.value, value);
            node.last_seen = now;
            self.index.remove(&old_key);
            self.index.insert(key, i);
            self.push_back(i);
            self.evicted += 1;
            return (i, Some((old_key, old_value)));
        }
        let i = self.nodes.len();
        self.nodes.push(Node { key: key.clone(), value, last_seen: now, prev: NIL, next: NIL });
        self.index.insert(key, i);
        self.push_back(i);
        (i, None)
    }

    /// Entry `i` was used at `now`: it becomes the latest used. The one used last (a sender heard over and
    /// over, the common case) is already there.
    fn touch(&mut self, i: usize, now: Instant) {
        let node = &mut self.nodes[i];
        node.last_seen = node.last_seen.max(now);
        if self.tail != i {
            self.unlink(i);
            self.push_back(i);
        }
    }

    /// Takes entry `i` out of the table; the last entry moves into its place.
    fn take(&mut self, i: usize) -> (K, V) {
        self.unlink(i);
        let node = self.nodes.swap_remove(i);
        self.index.remove(&node.key);
        if i < self.nodes.len() {
            // The entry that was last in the vector now lives at `i`: its neighbours and the index follow.
            let (prev, next) = (self.nodes[i].prev, self.nodes[i].next);
            self.link(prev, i);
            self.link(i, next);
            if let Some(slot) = self.index.get_mut(&self.nodes[i].key) {
                *slot = i;
            }
        }
        (node.key, node.value)
    }

    /// Takes entry `i` out of the order of use (it stays in the vector).
    fn unlink(&mut self, i: usize) {
        let (prev, next) = (self.nodes[i].prev, self.nodes[i].next);
        self.link(prev, next);
        self.nodes[i].prev = NIL;
        self.nodes[i].next = NIL;
    }

    /// Puts entry `i`, unlinked, at the end of the order of use.
    fn push_back(&mut self, i: usize) {
        self.link(self.tail, i);
        self.link(i, NIL);
    }

    /// Makes `b` follow `a` in the order of use; `NIL` for `a` makes `b` the head, for `b` makes `a` the tail.
    fn link(&mut self, a: usize, b: usize) {
        match a {
            NIL => self.head = b,
            a => self.nodes[a].next = b,
        }
        match b {
            NIL => self.tail = a,
            b => self.nodes[b].prev = a,
        }
    }
}

impl<K: Eq + Hash, V> SenderTable<K, V> {
    /// The state of `key`, if remembered.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.index.get(key).map(|&i| &self.nodes[i].value)
    }

    /// Every remembered sender and its state, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.nodes.iter().map(|n| (&n.key, &n.value))
    }

    /// Senders remembered now.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
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

    /// The keys from the longest idle to the latest used, with the links checked both ways (tests).
    #[cfg(test)]
    fn order(&self) -> Vec<&K> {
        let (mut out, mut i, mut prev) = (Vec::new(), self.head, NIL);
        while i != NIL {
            assert_eq!(self.nodes[i].prev, prev, "a broken back link");
            assert_eq!(self.index.get(&self.nodes[i].key), Some(&i), "the index points elsewhere");
            out.push(&self.nodes[i].key);
            (prev, i) = (i, self.nodes[i].next);
        }
        assert_eq!((self.tail, out.len(), self.index.len()), (prev, self.nodes.len(), self.nodes.len()));
        out
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
        assert_eq!(t.order(), [&3, &4]);
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
        assert_eq!(t.order().len(), 1000);
        assert_eq!((t.order()[0], t.order()[999]), (&999_000, &999_999), "oldest first");
        assert_eq!(t.evicted(), 999_000);
        assert!(t.get(&999_999).is_some() && t.get(&998_999).is_none());
    }

    /// Removals from anywhere in the order (head, middle, tail, the last in the vector or not) keep the
    /// links, the index and the order right; each step checked against a plain list kept beside it.
    #[test]
    fn removals_anywhere_keep_the_order() {
        let t0 = Instant::now();
        let mut t: SenderTable<u32, u32> = SenderTable::new(8, Duration::MAX);
        let mut model: Vec<u32> = Vec::new();
        // A fixed pseudo-random walk of uses and removals over 12 keys, so that the table is often full.
        let mut x = 12345u32;
        for step in 0..5000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let key = (x >> 16) % 12;
            if (x >> 8) % 4 == 0 {
                assert_eq!(t.remove(&key).is_some(), model.contains(&key), "step {step}");
                model.retain(|&k| k != key);
            } else {
                let (v, gone) = t.entry_evicting(key, t0);
                *v = step;
                let known = model.contains(&key);
                model.retain(|&k| k != key);
                let expect_gone = (!known && model.len() == 8).then(|| model.remove(0));
                assert_eq!(gone.map(|(k, _)| k), expect_gone, "step {step}");
                model.push(key);
                assert_eq!(t.get(&key), Some(&step));
            }
            assert_eq!(t.order().into_iter().copied().collect::<Vec<_>>(), model, "step {step}");
        }
    }
}
