//! The relay's policy (`docs/security.md`, rule 6), datagram by datagram, with no sockets: the [`Forwarder`]
//! is fed what arrived (its [`RecvMeta`] and payload) and says whether it goes on, with which hop budget.

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::impair::{Counts, Engine, Impairments, QueueLimits};
use crate::guard::{Refusal, Refusals};
use crate::senders::SenderTable;
use crate::socket::RecvMeta;

/// How long the digest of a forwarded datagram is remembered by default: 500 ms, far longer than a loop
/// of relays takes to bring a copy back, short enough that a payload legitimately repeated a second later
/// still goes through.
pub const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_millis(500);

/// Digests remembered at once by default (with the table's overhead, 7 MiB when full, 11 MiB at most
/// measured under a million distinct payloads); past it the oldest are forgotten, which shortens the window
/// only above 131,072 datagrams a second.
pub const DEFAULT_DEDUP_CAP: usize = 65_536;

/// Refusals kept for [`Forwarder::take_refused`] until collected; the counts stay exact past it.
const MAX_PENDING: usize = 1024;

/// What a [`Forwarder`] enforces.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// The FROM group: the only destination forwarded.
    pub from: IpAddr,
    /// The highest TTL or hop limit a forwarded datagram leaves with (`None`: as it arrived, minus one).
    pub max_ttl: Option<u8>,
    /// How long a forwarded payload's digest is remembered (zero: not at all).
    pub dedup_window: Duration,
    /// Digests remembered at once.
    pub dedup_cap: usize,
    /// The bound of the queue of copies waiting to be sent.
    pub queue: QueueLimits,
}

impl Policy {
    /// The default policy for datagrams sent to `from`.
    pub fn new(from: IpAddr) -> Policy {
        Policy {
            from,
            max_ttl: None,
            dedup_window: DEFAULT_DEDUP_WINDOW,
            dedup_cap: DEFAULT_DEDUP_CAP,
            queue: QueueLimits::default(),
        }
    }
}

/// A copy to send: the payload, the TTL or hop limit it leaves with, and who sent the original.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// The bytes, as they arrived.
    pub payload: Vec<u8>,
    /// The TTL or hop limit to send it with.
    pub ttl: u8,
    /// The source of the datagram it is a copy of.
    pub source: SocketAddr,
}

impl AsRef<[u8]> for Datagram {
    fn as_ref(&self) -> &[u8] {
        &self.payload
    }
}

/// What the forwarder made of one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Handed to the impairments, to leave with this TTL or hop limit (unless they drop it, or the queue is
    /// full: see [`Forwarder::counts`]).
    Accepted {
        /// The TTL or hop limit it leaves with.
        ttl: u8,
    },
    /// Not forwarded, for this reason (counted in [`Forwarder::refusals`]).
    Refused(Refusal),
    /// The relay's own copy, looped back by the kernel: ignored (counted in [`Forwarder::looped`]).
    Own,
}

/// The relay's decisions, with no sockets: fed what arrived (its [`RecvMeta`] and payload), it says whether
/// it goes on, with which hop budget.
///
/// - **Only the FROM group, only from the FROM interfaces.** The kernel's packet info names the address a
///   datagram was sent to and the interface it came in on. A unicast datagram sent to the host's own address
///   on the port, or the group arriving on an interface the relay did not join on, is refused
///   ([`Refusal::WrongGroup`]): a relay must not launder traffic into a group it was not given.
/// - **Hop budget.** A forwarded datagram leaves with the TTL or hop limit it arrived with, minus one, or the
///   policy's cap if that is lower; one that arrived with 1 or less (or whose TTL the kernel did not tell) is
///   not forwarded ([`Refusal::HopsExhausted`]). So a datagram going round a loop of relays dies out within
///   its TTL at the latest, like one going round a loop of routers.
/// - **Copies already forwarded.** A keyed 64-bit digest of each forwarded payload is remembered for a short
///   while ([`DEFAULT_DEDUP_WINDOW`], 500 ms, in a `SenderTable` of at most [`DEFAULT_DEDUP_CAP`]
///   digests, the oldest forgotten first); a payload seen again meanwhile is a copy coming back round a loop
///   of relays, or forwarded by another relay of the same group on the link, and is refused
///   ([`Refusal::Duplicate`]). The trade-off: a sender that repeats an identical payload within the window
///   (SSDP sends its announcements two or three times in a row) gets only the first through. The digest is
///   SipHash keyed at random per forwarder, so nobody can craft a payload that collides with another's.
///   A loop slower than the window (a long delay) is not seen as one; the hop budget still ends it.
/// - **Bounded queue.** What waits to be sent (delayed, or held back to reorder) is bounded in datagrams and
///   bytes ([`QueueLimits`]); a copy that does not fit is refused ([`Refusal::QueueFull`]).
///
/// The answer guard's rules ([`crate::guard::check_source`], the on-link rule, the rate limits) do not
/// apply: a relay answers nobody. What it sends goes to the TO group from the relay's own address, whatever
/// source the datagram claimed, so a forged source (port 0, a broadcast or another host's address) gains
/// nothing and is forwarded like any other; and the relay sends at most as many datagrams as arrive (twice
/// as many only when duplication is asked for).
#[derive(Debug)]
pub struct Forwarder {
    policy: Policy,
    /// Indexes of the interfaces the FROM group was joined on; `None` when the kernel chose one.
    from_ifaces: Option<Vec<u32>>,
    own: Option<SocketAddr>,
    digests: SenderTable<u64, ()>,
    keys: RandomState,
    engine: Engine<Datagram>,
    refusals: Refusals,
    pending: VecDeque<(SocketAddr, Refusal)>,
    received: u64,
    looped: u64,
}

impl Forwarder {
    /// A forwarder applying `policy`, then the impairments `imp` with decisions fixed by `seed`.
    pub fn new(policy: Policy, imp: Impairments, seed: u64) -> Forwarder {
        Forwarder {
            digests: SenderTable::new(policy.dedup_cap, policy.dedup_window),
            keys: RandomState::new(),
            engine: Engine::carrying(imp, seed).with_limits(policy.queue),
            policy,
            from_ifaces: None,
            own: None,
            refusals: Refusals::default(),
            pending: VecDeque::new(),
            received: 0,
            looped: 0,
        }
    }

    /// The address the relay sends from: what arrives from it is the relay's own copy, looped back.
    pub fn set_own_source(&mut self, own: SocketAddr) {
        self.own = Some(own);
    }

    /// The FROM interfaces, one entry per membership (`None`: a membership where the kernel chose the
    /// interface, which lets any interface through). Called again when an interface comes back under a new
    /// index.
    pub fn set_from_ifaces(&mut self, ifaces: impl IntoIterator<Item = Option<u32>>) {
        let mut list = self.from_ifaces.take().unwrap_or_default();
        list.clear();
        for i in ifaces {
            match i {
                Some(i) => list.push(i),
                None => return,
            }
        }
        if !list.is_empty() {
            self.from_ifaces = Some(list);
        }
    }

    /// Decides about one datagram that arrived at `now`: `meta` as the kernel told it, `payload` its bytes.
    pub fn offer(&mut self, meta: &RecvMeta, payload: &[u8], now: Instant) -> Verdict {
        if self.own == Some(meta.source) {
            self.looped += 1;
            return Verdict::Own;
        }
        self.received += 1;
        match self.judge(meta, payload, now) {
            Ok((ttl, digest)) => {
                if let Some(d) = digest {
                    self.digests.entry(d, now);
                }
                let copy = Datagram { payload: payload.to_vec(), ttl, source: meta.source };
                let (refusals, pending) = (&mut self.refusals, &mut self.pending);
                self.engine.push_with(copy, now, |c| note(refusals, pending, c.source, Refusal::QueueFull));
                Verdict::Accepted { ttl }
            }
            Err(why) => {
                note(&mut self.refusals, &mut self.pending, meta.source, why);
                Verdict::Refused(why)
            }
        }
    }

    /// The checks, in order: destination and interface, hop budget, copies already forwarded. On success,
    /// the TTL to leave with and the payload's digest to remember (when digests are kept).
    fn judge(&mut self, meta: &RecvMeta, payload: &[u8], now: Instant) -> Result<(u8, Option<u64>), Refusal> {
        if meta.group != Some(self.policy.from) {
            return Err(Refusal::WrongGroup);
        }
        if let Some(list) = &self.from_ifaces {
            if !meta.ifindex.is_some_and(|i| list.contains(&i)) {
                return Err(Refusal::WrongGroup);
            }
        }
        let ttl = match meta.ttl {
            Some(t) if t > 1 => t - 1,
            _ => return Err(Refusal::HopsExhausted),
        };
        let ttl = self.policy.max_ttl.map_or(ttl, |cap| ttl.min(cap));
        if self.policy.dedup_window.is_zero() {
            return Ok((ttl, None));
        }
        let digest = self.keys.hash_one(payload);
        self.digests.expire(now);
        if self.digests.get(&digest).is_some() {
            return Err(Refusal::Duplicate);
        }
        Ok((ttl, Some(digest)))
    }

    /// The next copy due at or before `now`, if any.
    pub fn pop_due(&mut self, now: Instant) -> Option<Datagram> {
        self.engine.pop_due(now)
    }

    /// When the next queued copy is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.engine.next_due()
    }

    /// Ends the run: whatever is held or queued becomes due now (see [`Engine::flush`]).
    pub fn flush(&mut self, now: Instant) {
        let (refusals, pending) = (&mut self.refusals, &mut self.pending);
        self.engine.flush_with(now, |c| note(refusals, pending, c.source, Refusal::QueueFull));
    }

    /// Whether nothing is held or queued.
    pub fn is_idle(&self) -> bool {
        self.engine.is_idle()
    }

    /// The refusals since the last call, oldest first, with the source of each datagram (at most the last
    /// 1024; [`Self::refusals`] counts them all).
    pub fn take_refused(&mut self) -> impl Iterator<Item = (SocketAddr, Refusal)> + '_ {
        self.pending.drain(..)
    }

    /// Datagrams offered, the relay's own copies aside.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The relay's own copies, looped back and ignored.
    pub fn looped(&self) -> u64 {
        self.looped
    }

    /// Refusals so far, by reason.
    pub fn refusals(&self) -> &Refusals {
        &self.refusals
    }

    /// What the impairments did to the datagrams accepted (their `received` counts only those).
    pub fn counts(&self) -> Counts {
        self.engine.counts()
    }

    /// Digests forgotten before their time because the table was full.
    pub fn digests_evicted(&self) -> u64 {
        self.digests.evicted()
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

fn note(refusals: &mut Refusals, pending: &mut VecDeque<(SocketAddr, Refusal)>, source: SocketAddr, why: Refusal) {
    refusals.count(why);
    if pending.len() >= MAX_PENDING {
        pending.pop_front();
    }
    pending.push_back((source, why));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::Probability;

    const G1: &str = "239.7.7.1";
    const IF_IN: u32 = 4;

    fn meta(group: &str, ifindex: u32, ttl: u8, len: usize) -> RecvMeta {
        RecvMeta {
            len,
            full_len: len,
            truncated: false,
            source: "10.0.0.9:4000".parse().unwrap(),
            group: Some(group.parse().unwrap()),
            ifindex: Some(ifindex),
            ttl: Some(ttl),
            timestamp: None,
            drops: None,
            gro_segment: None,
            tos: None,
        }
    }

    fn forwarder(policy: impl FnOnce(&mut Policy)) -> Forwarder {
        let mut p = Policy::new(G1.parse().unwrap());
        policy(&mut p);
        let mut f = Forwarder::new(p, Impairments::default(), 1);
        f.set_from_ifaces([Some(IF_IN)]);
        f
    }

    fn drain(f: &mut Forwarder, now: Instant) -> Vec<Datagram> {
        std::iter::from_fn(|| f.pop_due(now)).collect()
    }

    #[test]
    fn only_the_from_group_on_the_from_interface_goes_on() {
        let mut f = forwarder(|_| {});
        let t = Instant::now();
        // Unicast to the host's own address on the port.
        assert_eq!(f.offer(&meta("10.0.0.2", IF_IN, 64, 3), b"uni", t), Verdict::Refused(Refusal::WrongGroup));
        // Another group that reached the socket.
        assert_eq!(f.offer(&meta("239.7.7.2", IF_IN, 64, 3), b"oth", t), Verdict::Refused(Refusal::WrongGroup));
        // The group, on another interface.
        assert_eq!(f.offer(&meta(G1, IF_IN + 1, 64, 3), b"ifx", t), Verdict::Refused(Refusal::WrongGroup));
        // No packet info at all.
        let mut m = meta(G1, IF_IN, 64, 3);
        m.group = None;
        assert_eq!(f.offer(&m, b"nop", t), Verdict::Refused(Refusal::WrongGroup));
        assert_eq!(f.offer(&meta(G1, IF_IN, 64, 3), b"yes", t), Verdict::Accepted { ttl: 63 });
        assert_eq!(drain(&mut f, t).iter().map(|d| d.payload.as_slice()).collect::<Vec<_>>(), [b"yes"]);
        assert_eq!((f.received(), f.refusals().get(Refusal::WrongGroup)), (5, 4));
        assert_eq!(f.take_refused().count(), 4);
        assert_eq!(f.take_refused().count(), 0);
    }

    #[test]
    fn a_membership_on_the_routes_interface_lets_any_interface_through() {
        let mut f = forwarder(|_| {});
        f.set_from_ifaces([Some(IF_IN), None]);
        let t = Instant::now();
        assert_eq!(f.offer(&meta(G1, 99, 64, 1), b"a", t), Verdict::Accepted { ttl: 63 });
        assert_eq!(f.offer(&meta("10.0.0.2", 99, 64, 1), b"b", t), Verdict::Refused(Refusal::WrongGroup));
        // And back to a named interface only (after a rejoin on a new index).
        f.set_from_ifaces([Some(7)]);
        assert_eq!(f.offer(&meta(G1, IF_IN, 64, 1), b"c", t), Verdict::Refused(Refusal::WrongGroup));
        assert_eq!(f.offer(&meta(G1, 7, 64, 1), b"d", t), Verdict::Accepted { ttl: 63 });
    }

    #[test]
    fn the_hop_budget_goes_down_by_one_and_the_cap_only_lowers_it() {
        let mut f = forwarder(|p| p.max_ttl = Some(10));
        let t = Instant::now();
        assert_eq!(f.offer(&meta(G1, IF_IN, 255, 1), b"a", t), Verdict::Accepted { ttl: 10 });
        assert_eq!(f.offer(&meta(G1, IF_IN, 5, 1), b"b", t), Verdict::Accepted { ttl: 4 });
        assert_eq!(f.offer(&meta(G1, IF_IN, 2, 1), b"c", t), Verdict::Accepted { ttl: 1 });
        assert_eq!(f.offer(&meta(G1, IF_IN, 1, 1), b"d", t), Verdict::Refused(Refusal::HopsExhausted));
        assert_eq!(f.offer(&meta(G1, IF_IN, 0, 1), b"e", t), Verdict::Refused(Refusal::HopsExhausted));
        let mut m = meta(G1, IF_IN, 9, 1);
        m.ttl = None;
        assert_eq!(f.offer(&m, b"f", t), Verdict::Refused(Refusal::HopsExhausted));
        let ttls: Vec<u8> = drain(&mut f, t).iter().map(|d| d.ttl).collect();
        assert_eq!(ttls, [10, 4, 1]);
        assert_eq!(f.refusals().get(Refusal::HopsExhausted), 3);
        // No cap: as it arrived, minus one.
        let mut f = forwarder(|_| {});
        assert_eq!(f.offer(&meta(G1, IF_IN, 255, 1), b"a", t), Verdict::Accepted { ttl: 254 });
    }

    #[test]
    fn a_copy_already_forwarded_is_refused_within_the_window() {
        let mut f = forwarder(|p| p.dedup_window = Duration::from_millis(500));
        let t = Instant::now();
        assert_eq!(f.offer(&meta(G1, IF_IN, 8, 5), b"hello", t), Verdict::Accepted { ttl: 7 });
        // Back round a loop, a little later and with fewer hops left.
        let later = t + Duration::from_millis(3);
        assert_eq!(f.offer(&meta(G1, IF_IN, 6, 5), b"hello", later), Verdict::Refused(Refusal::Duplicate));
        assert_eq!(f.offer(&meta(G1, IF_IN, 8, 5), b"hellp", later), Verdict::Accepted { ttl: 7 });
        // A duplicate does not refresh the digest: the window counts from the copy forwarded.
        let edge = t + Duration::from_millis(500);
        assert_eq!(f.offer(&meta(G1, IF_IN, 8, 5), b"hello", edge), Verdict::Refused(Refusal::Duplicate));
        let after = t + Duration::from_millis(501);
        assert_eq!(f.offer(&meta(G1, IF_IN, 8, 5), b"hello", after), Verdict::Accepted { ttl: 7 });
        assert_eq!(f.refusals().get(Refusal::Duplicate), 2);
        // A copy refused for its hops is not remembered as forwarded.
        assert_eq!(f.offer(&meta(G1, IF_IN, 1, 5), b"fresh", after), Verdict::Refused(Refusal::HopsExhausted));
        assert_eq!(f.offer(&meta(G1, IF_IN, 2, 5), b"fresh", after), Verdict::Accepted { ttl: 1 });
    }

    #[test]
    fn no_window_no_digests() {
        let mut f = forwarder(|p| p.dedup_window = Duration::ZERO);
        let t = Instant::now();
        for _ in 0..3 {
            assert_eq!(f.offer(&meta(G1, IF_IN, 8, 1), b"x", t), Verdict::Accepted { ttl: 7 });
        }
        assert_eq!(f.refusals().total(), 0);
    }

    #[test]
    fn the_digest_table_stays_within_its_cap() {
        let mut f = forwarder(|p| p.dedup_cap = 100);
        let t = Instant::now();
        for i in 0..10_000u32 {
            f.offer(&meta(G1, IF_IN, 8, 4), &i.to_be_bytes(), t);
            let _ = f.pop_due(t);
        }
        assert_eq!(f.digests.len(), 100);
        assert_eq!(f.digests_evicted(), 10_000 - 100);
        // The newest are remembered.
        assert_eq!(f.offer(&meta(G1, IF_IN, 8, 4), &9_999u32.to_be_bytes(), t), Verdict::Refused(Refusal::Duplicate));
    }

    /// A loop of two relays (G1 -> G2 -> G1): without digests the copy dies when its hops run out; with
    /// them it is refused the first time it comes back.
    #[test]
    fn a_loop_of_relays_dies_out() {
        const G2: &str = "239.7.7.2";
        for (window, copies) in [(Duration::ZERO, 8), (DEFAULT_DEDUP_WINDOW, 3)] {
            let mut a = forwarder(|p| p.dedup_window = window);
            let mut b = Forwarder::new(
                Policy { dedup_window: window, ..Policy::new(G2.parse().unwrap()) },
                Impairments::default(),
                1,
            );
            let t = Instant::now();
            // The injected datagram, TTL 8, on G1.
            let mut on_the_wire = vec![(G1, 8u8)];
            let mut seen = 0;
            while let Some((group, ttl)) = on_the_wire.pop() {
                seen += 1;
                assert!(seen <= 100, "the loop does not end");
                let (relay, next) = if group == G1 { (&mut a, G2) } else { (&mut b, G1) };
                relay.offer(&meta(group, IF_IN, ttl, 4), b"loop", t);
                on_the_wire.extend(drain(relay, t).into_iter().map(|d| (next, d.ttl)));
            }
            assert_eq!(seen, copies, "window {window:?}");
            let refused = |f: &Forwarder, r| f.refusals().get(r);
            if window.is_zero() {
                assert_eq!(refused(&a, Refusal::HopsExhausted) + refused(&b, Refusal::HopsExhausted), 1);
            } else {
                assert_eq!((refused(&a, Refusal::Duplicate), refused(&b, Refusal::Duplicate)), (1, 0));
            }
        }
    }

    #[test]
    fn the_relays_own_copies_are_ignored() {
        let mut f = forwarder(|_| {});
        let own: SocketAddr = "10.0.0.9:4000".parse().unwrap();
        f.set_own_source(own);
        let t = Instant::now();
        assert_eq!(f.offer(&meta(G1, IF_IN, 8, 1), b"x", t), Verdict::Own);
        assert_eq!((f.received(), f.looped(), f.refusals().total()), (0, 1, 0));
    }

    #[test]
    fn a_full_queue_refuses_what_does_not_fit() {
        let imp = Impairments { delay: Duration::from_secs(10), ..Impairments::default() };
        let policy = Policy { queue: QueueLimits { datagrams: 5, bytes: 1 << 20 }, ..Policy::new(G1.parse().unwrap()) };
        let mut f = Forwarder::new(policy, imp, 1);
        let t = Instant::now();
        for i in 0..20u8 {
            assert_eq!(f.offer(&meta(G1, IF_IN, 8, 1), &[i], t), Verdict::Accepted { ttl: 7 });
        }
        assert_eq!(f.refusals().get(Refusal::QueueFull), 15);
        assert_eq!(f.take_refused().filter(|&(_, r)| r == Refusal::QueueFull).count(), 15);
        assert!(drain(&mut f, t).is_empty(), "nothing is due before the delay");
        f.flush(t);
        let out: Vec<u8> = drain(&mut f, t).iter().map(|d| d.payload[0]).collect();
        assert_eq!(out, [0, 1, 2, 3, 4]);
        let c = f.counts();
        assert_eq!((c.received, c.sent, c.queue_full), (20, 5, 15));
    }

    #[test]
    fn impairments_apply_after_the_policy() {
        let imp = Impairments { drop: Probability(1.0), ..Impairments::default() };
        let mut f = Forwarder::new(Policy::new(G1.parse().unwrap()), imp, 1);
        let t = Instant::now();
        assert_eq!(f.offer(&meta(G1, IF_IN, 8, 1), b"x", t), Verdict::Accepted { ttl: 7 });
        assert_eq!(f.offer(&meta(G1, IF_IN, 1, 1), b"y", t), Verdict::Refused(Refusal::HopsExhausted));
        assert!(drain(&mut f, t).is_empty());
        assert_eq!((f.counts().received, f.counts().dropped), (1, 1));
    }
}
