//! The policy every engine that answers a datagram applies before it answers (`docs/security.md`).
//!
//! A server on a shared link must assume every datagram is forged: its source address and port are whatever
//! the sender wrote. So an answer is sent only when
//!
//! 1. the source could be a real peer ([`check_source`]: not port 0, not an unspecified, multicast or
//!    broadcast address, not a loopback address arriving from outside the host), so no forged datagram can
//!    make the send fail and no answer goes to a group or a whole subnet;
//! 2. the answer is no larger than the query ([`Refusal::Oversized`]), so a server never amplifies: whoever
//!    wants a long answer pads the query;
//! 3. the source is on a subnet directly connected to the interface the query came in on, as the kernel's
//!    routing table says (or inside a prefix the operator allowed), so a spoofed off-link source, the victim
//!    of a reflection, gets nothing;
//! 4. neither that source's token bucket nor the server's total one is empty, so even an on-link spoofer
//!    gets at most a bounded rate.
//!
//! Every refusal is counted by reason ([`Refusals`]); the per-source state lives in a capped table that
//! forgets its idlest entries (`SenderTable`), so a flood of forged sources cannot grow it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::doctor::route::{self, RouteKind};
use crate::senders::SenderTable;

/// Linux gives the loopback device index 1 in every network namespace (`LOOPBACK_IFINDEX`).
pub const LOOPBACK_IFINDEX: u32 = 1;

/// Why a datagram got no answer (or was not forwarded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// The source port is 0: no socket can be answered there.
    PortZero,
    /// The source is the unspecified address (`0.0.0.0`, `::`).
    Unspecified,
    /// The source is a multicast address: an answer would go to a whole group.
    Multicast,
    /// The source is a broadcast address (`255.255.255.255` or a subnet's).
    Broadcast,
    /// A loopback source (`127.0.0.0/8`, `::1`) that arrived on an interface other than `lo`.
    LoopbackFromOutside,
    /// The source is not on a subnet directly connected to the arrival interface.
    OffLink,
    /// The answer would carry more bytes than the query did.
    Oversized,
    /// This source's token bucket is empty.
    SourceRate,
    /// The server's total token bucket is empty.
    TotalRate,
    /// The datagram was not sent to the group on the interface the engine listens to.
    WrongGroup,
    /// A copy of a datagram already forwarded (a loop of relays, or two relays on one link).
    Duplicate,
    /// The datagram arrived with no hops left to forward it with.
    HopsExhausted,
    /// A bounded queue was full.
    QueueFull,
    /// A datagram that is not of the protocol the engine speaks.
    Foreign,
}

impl Refusal {
    /// Every reason, in the order reports list them.
    pub const ALL: [Refusal; 14] = [
        Refusal::PortZero,
        Refusal::Unspecified,
        Refusal::Multicast,
        Refusal::Broadcast,
        Refusal::LoopbackFromOutside,
        Refusal::OffLink,
        Refusal::Oversized,
        Refusal::SourceRate,
        Refusal::TotalRate,
        Refusal::WrongGroup,
        Refusal::Duplicate,
        Refusal::HopsExhausted,
        Refusal::QueueFull,
        Refusal::Foreign,
    ];

    /// A short stable name, for JSON keys and summaries (`port_zero`, `off_link`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Refusal::PortZero => "port_zero",
            Refusal::Unspecified => "unspecified",
            Refusal::Multicast => "multicast",
            Refusal::Broadcast => "broadcast",
            Refusal::LoopbackFromOutside => "loopback_from_outside",
            Refusal::OffLink => "off_link",
            Refusal::Oversized => "oversized",
            Refusal::SourceRate => "source_rate",
            Refusal::TotalRate => "total_rate",
            Refusal::WrongGroup => "wrong_group",
            Refusal::Duplicate => "duplicate",
            Refusal::HopsExhausted => "hops_exhausted",
            Refusal::QueueFull => "queue_full",
            Refusal::Foreign => "foreign",
        }
    }

    fn slot(self) -> usize {
        Refusal::ALL.iter().position(|&r| r == self).unwrap_or(0)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::PortZero => "source port 0",
            Refusal::Unspecified => "unspecified source address",
            Refusal::Multicast => "multicast source address",
            Refusal::Broadcast => "broadcast source address",
            Refusal::LoopbackFromOutside => "loopback source from outside the host",
            Refusal::OffLink => "source not on a directly connected subnet",
            Refusal::Oversized => "answer larger than the query",
            Refusal::SourceRate => "per-source rate limit",
            Refusal::TotalRate => "total rate limit",
            Refusal::WrongGroup => "not sent to the group on the interface listened to",
            Refusal::Duplicate => "copy of a datagram already forwarded",
            Refusal::HopsExhausted => "no hops left",
            Refusal::QueueFull => "queue full",
            Refusal::Foreign => "not a datagram of this protocol",
        })
    }
}

/// Refusals counted by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refusals {
    counts: [u64; Refusal::ALL.len()],
}

impl Refusals {
    /// Counts one refusal.
    pub fn count(&mut self, why: Refusal) {
        let slot = why.slot();
        if let Some(c) = self.counts.get_mut(slot) {
            *c = c.saturating_add(1);
        }
    }

    /// How many datagrams were refused for `why`.
    pub fn get(&self, why: Refusal) -> u64 {
        self.counts.get(why.slot()).copied().unwrap_or(0)
    }

    /// How many were refused in all.
    pub fn total(&self) -> u64 {
        self.counts.iter().fold(0u64, |a, &c| a.saturating_add(c))
    }

    /// The reasons that occurred, with their counts, in [`Refusal::ALL`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = (Refusal, u64)> + '_ {
        Refusal::ALL.iter().zip(self.counts.iter()).filter(|(_, &c)| c > 0).map(|(&r, &c)| (r, c))
    }
}

/// Whether a datagram's source could be a real peer to answer, from the address alone: no port 0, no
/// unspecified, multicast or limited-broadcast address, and no loopback address unless it arrived on the
/// loopback interface (`arrival` is the arrival interface index, when known). An IPv4-mapped IPv6 source
/// is judged by its IPv4 address. A subnet's broadcast address needs the routing table: see [`AnswerGuard`].
pub fn check_source(source: SocketAddr, arrival: Option<u32>) -> Result<(), Refusal> {
    if source.port() == 0 {
        return Err(Refusal::PortZero);
    }
    let ip = canonical(source.ip());
    if ip.is_unspecified() {
        return Err(Refusal::Unspecified);
    }
    if ip.is_multicast() {
        return Err(Refusal::Multicast);
    }
    if ip == IpAddr::V4(Ipv4Addr::BROADCAST) {
        return Err(Refusal::Broadcast);
    }
    if ip.is_loopback() && arrival.is_some_and(|i| i != LOOPBACK_IFINDEX) {
        return Err(Refusal::LoopbackFromOutside);
    }
    Ok(())
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenBucket {
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket for `limit`.
    pub fn full(limit: RateLimit) -> TokenBucket {
        TokenBucket { tokens: limit.burst as f64, last: None }
    }

    /// Takes a token at `now` if one is there, refilling first at `limit`.
    pub fn take(&mut self, limit: RateLimit, now: Instant) -> bool {
        if let Some(last) = self.last {
            let earned = now.saturating_duration_since(last).as_secs_f64() * limit.per_second as f64;
            self.tokens = (self.tokens + earned).min(limit.burst as f64);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A rate: `per_second` on average, `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Tokens added each second.
    pub per_second: u32,
    /// The most tokens saved up (at least 1).
    pub burst: u32,
}

impl RateLimit {
    /// `per_second` answers a second with a burst of as many.
    pub fn per_second(per_second: u32) -> RateLimit {
        RateLimit { per_second, burst: per_second.max(1) }
    }
}

/// What an [`AnswerGuard`] allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerPolicy {
    /// Answers a second to one source.
    pub per_source: RateLimit,
    /// Answers a second in all.
    pub total: RateLimit,
    /// Sources remembered at once for their buckets and on-link verdicts; the idlest are forgotten past it.
    pub sources: usize,
    /// Prefixes whose sources are answered even when they are not on a directly connected subnet
    /// (`0.0.0.0/0` and `::/0` answer every routed source).
    pub allow: Vec<(IpAddr, u8)>,
}

/// The default per-source rate: 1000 answers a second, a burst of 1000.
pub const DEFAULT_PER_SOURCE: u32 = 1000;
/// The default total rate: 10,000 answers a second, a burst of 10,000.
pub const DEFAULT_TOTAL: u32 = 10_000;
/// The default number of sources remembered.
pub const DEFAULT_SOURCES: usize = 4096;

impl Default for AnswerPolicy {
    fn default() -> Self {
        AnswerPolicy {
            per_source: RateLimit::per_second(DEFAULT_PER_SOURCE),
            total: RateLimit::per_second(DEFAULT_TOTAL),
            sources: DEFAULT_SOURCES,
            allow: Vec::new(),
        }
    }
}

/// How long an on-link verdict is trusted before the routing table is asked again.
const VERDICT_AGE: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, Default)]
struct SourceState {
    bucket: Option<TokenBucket>,
    verdict: Option<(Result<(), Refusal>, Instant, u32)>,
}

/// Decides, datagram by datagram, whether a server may answer (the module's four rules), and counts why not.
#[derive(Debug)]
pub struct AnswerGuard {
    policy: AnswerPolicy,
    sources: SenderTable<IpAddr, SourceState>,
    total: TokenBucket,
    refusals: Refusals,
}

impl AnswerGuard {
    /// A guard applying `policy`.
    pub fn new(policy: AnswerPolicy) -> AnswerGuard {
        let sources = SenderTable::new(policy.sources, Duration::from_secs(600));
        let total = TokenBucket::full(policy.total);
        AnswerGuard { policy, sources, total, refusals: Refusals::default() }
    }

    /// May a query of `query_len` bytes from `source`, arrived on interface `arrival`, get an answer of
    /// `answer_len` bytes at `now`? A refusal is counted before it is returned.
    pub fn admit(
        &mut self,
        source: SocketAddr,
        arrival: Option<u32>,
        query_len: usize,
        answer_len: usize,
        now: Instant,
    ) -> Result<(), Refusal> {
        let verdict = self.judge(source, arrival, query_len, answer_len, now);
        if let Err(why) = verdict {
            self.refusals.count(why);
        }
        verdict
    }

    fn judge(
        &mut self,
        source: SocketAddr,
        arrival: Option<u32>,
        query_len: usize,
        answer_len: usize,
        now: Instant,
    ) -> Result<(), Refusal> {
        check_source(source, arrival)?;
        if answer_len > query_len {
            return Err(Refusal::Oversized);
        }
        let ip = canonical(source.ip());
        let allowed = self.policy.allow.iter().any(|&(net, len)| in_prefix(ip, net, len));
        let state = self.sources.entry(ip, now);
        let index = arrival.unwrap_or(0);
        let fresh = state.verdict.filter(|&(_, at, i)| i == index && now.saturating_duration_since(at) < VERDICT_AGE);
        let verdict = match fresh {
            Some((v, _, _)) => v,
            None => {
                let v = on_link(source, arrival);
                state.verdict = Some((v, now, index));
                v
            }
        };
        // An allowed prefix widens "on link" to routed sources; a broadcast address stays refused.
        match verdict {
            Err(Refusal::OffLink) if allowed => {}
            other => other?,
        }
        let limit = self.policy.per_source;
        if !state.bucket.get_or_insert_with(|| TokenBucket::full(limit)).take(limit, now) {
            return Err(Refusal::SourceRate);
        }
        if !self.total.take(self.policy.total, now) {
            return Err(Refusal::TotalRate);
        }
        Ok(())
    }

    /// Refusals so far, by reason.
    pub fn refusals(&self) -> &Refusals {
        &self.refusals
    }

    /// Sources forgotten because the table was full (a flood of distinct sources shows here).
    pub fn sources_evicted(&self) -> u64 {
        self.sources.evicted()
    }

    /// The policy in force.
    pub fn policy(&self) -> &AnswerPolicy {
        &self.policy
    }
}

/// Whether `source` is on a subnet directly connected to interface `arrival`, or an address of this host:
/// an IPv6 link-local source by its scope (the kernel names the arrival link), anything else by the route
/// the kernel would use to answer it (a route with no gateway out of the arrival interface; a local
/// address; a subnet broadcast address is refused as such).
fn on_link(source: SocketAddr, arrival: Option<u32>) -> Result<(), Refusal> {
    let ip = canonical(source.ip());
    if let (SocketAddr::V6(v6), IpAddr::V6(a)) = (source, ip) {
        if a.segments()[0] & 0xffc0 == 0xfe80 {
            let scope = v6.scope_id();
            return if scope == 0 || arrival.map_or(true, |i| i == scope) { Ok(()) } else { Err(Refusal::OffLink) };
        }
    }
    match route::get(ip, None) {
        Ok(r) => match r.kind {
            RouteKind::Local => Ok(()),
            RouteKind::Broadcast => Err(Refusal::Broadcast),
            RouteKind::Multicast => Err(Refusal::Multicast),
            RouteKind::Unicast if r.gateway.is_none() && (arrival.is_none() || r.oif == arrival) => Ok(()),
            _ => Err(Refusal::OffLink),
        },
        Err(_) => Err(Refusal::OffLink),
    }
}

/// Whether `ip` is inside `net/len` (families must match; a length past the address size is the whole
/// address).
pub fn in_prefix(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, canonical(net)) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let len = u32::from(len.min(32));
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let len = u32::from(len.min(128));
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Parses a prefix `ADDR/LEN` (or a bare address, the whole address); `None` when it is not one.
pub fn parse_prefix(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => l.parse::<u8>().ok().filter(|&l| l <= max)?,
        None => max,
    };
    Some((addr, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn impossible_sources_are_refused_by_reason() {
        assert_eq!(check_source(sa("10.0.0.2:0"), Some(2)), Err(Refusal::PortZero));
        assert_eq!(check_source(sa("0.0.0.0:5"), Some(2)), Err(Refusal::Unspecified));
        assert_eq!(check_source(sa("[::]:5"), Some(2)), Err(Refusal::Unspecified));
        assert_eq!(check_source(sa("239.1.1.1:5"), Some(2)), Err(Refusal::Multicast));
        assert_eq!(check_source(sa("[ff02::1]:5"), Some(2)), Err(Refusal::Multicast));
        assert_eq!(check_source(sa("255.255.255.255:5"), Some(2)), Err(Refusal::Broadcast));
        assert_eq!(check_source(sa("[::ffff:255.255.255.255]:5"), Some(2)), Err(Refusal::Broadcast));
        assert_eq!(check_source(sa("127.0.0.1:5"), Some(2)), Err(Refusal::LoopbackFromOutside));
        assert_eq!(check_source(sa("[::1]:5"), Some(3)), Err(Refusal::LoopbackFromOutside));
        assert_eq!(check_source(sa("127.0.0.1:5"), Some(LOOPBACK_IFINDEX)), Ok(()));
        assert_eq!(check_source(sa("10.0.0.2:5"), Some(2)), Ok(()));
        assert_eq!(check_source(sa("[fe80::1%2]:5"), Some(2)), Ok(()));
    }

    #[test]
    fn refusals_count_by_reason() {
        let mut r = Refusals::default();
        r.count(Refusal::PortZero);
        r.count(Refusal::PortZero);
        r.count(Refusal::Foreign);
        assert_eq!(r.get(Refusal::PortZero), 2);
        assert_eq!(r.get(Refusal::OffLink), 0);
        assert_eq!(r.total(), 3);
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![(Refusal::PortZero, 2), (Refusal::Foreign, 1)]);
        let names: std::collections::HashSet<_> = Refusal::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(names.len(), Refusal::ALL.len());
    }

    #[test]
    fn buckets_give_the_burst_then_the_rate() {
        let limit = RateLimit { per_second: 10, burst: 3 };
        let mut b = TokenBucket::full(limit);
        let t0 = Instant::now();
        assert_eq!((0..5).filter(|_| b.take(limit, t0)).count(), 3);
        // 0.25 s later: 2.5 tokens earned, 2 whole ones.
        let t1 = t0 + Duration::from_millis(250);
        assert_eq!((0..5).filter(|_| b.take(limit, t1)).count(), 2);
        // Much later: never more than the burst.
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| b.take(limit, t2)).count(), 3);
    }

    fn allow_all() -> AnswerPolicy {
        AnswerPolicy {
            allow: vec![("0.0.0.0".parse().unwrap(), 0), ("::".parse().unwrap(), 0)],
            ..AnswerPolicy::default()
        }
    }

    #[test]
    fn answers_are_never_larger_than_queries() {
        let mut g = AnswerGuard::new(allow_all());
        let now = Instant::now();
        assert_eq!(g.admit(sa("10.0.0.2:5"), Some(2), 100, 100, now), Ok(()));
        assert_eq!(g.admit(sa("10.0.0.2:5"), Some(2), 100, 101, now), Err(Refusal::Oversized));
        assert_eq!(g.refusals().get(Refusal::Oversized), 1);
    }

    #[test]
    fn per_source_and_total_limits_hold() {
        let policy = AnswerPolicy {
            per_source: RateLimit { per_second: 1, burst: 2 },
            total: RateLimit { per_second: 1, burst: 3 },
            ..allow_all()
        };
        let mut g = AnswerGuard::new(policy);
        let now = Instant::now();
        let a = sa("10.0.0.2:5");
        let b = sa("10.0.0.3:5");
        assert_eq!(g.admit(a, Some(2), 10, 10, now), Ok(()));
        assert_eq!(g.admit(a, Some(2), 10, 10, now), Ok(()));
        assert_eq!(g.admit(a, Some(2), 10, 10, now), Err(Refusal::SourceRate));
        assert_eq!(g.admit(b, Some(2), 10, 10, now), Ok(()));
        assert_eq!(g.admit(b, Some(2), 10, 10, now), Err(Refusal::TotalRate));
        assert_eq!(g.refusals().total(), 2);
    }

    #[test]
    fn a_flood_of_sources_stays_within_the_cap() {
        let policy = AnswerPolicy { sources: 64, ..allow_all() };
        let mut g = AnswerGuard::new(policy);
        let now = Instant::now();
        for i in 0..10_000u32 {
            let src = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), 9);
            let _ = g.admit(src, Some(2), 10, 10, now);
        }
        assert_eq!(g.sources.len(), 64);
        assert_eq!(g.sources_evicted(), 10_000 - 64);
    }

    #[test]
    fn link_local_sources_are_on_link_only_on_their_own_link() {
        assert_eq!(on_link(sa("[fe80::1%4]:5"), Some(4)), Ok(()));
        assert_eq!(on_link(sa("[fe80::1%4]:5"), Some(5)), Err(Refusal::OffLink));
    }

    #[test]
    fn prefixes_parse_and_match() {
        let (n, l) = parse_prefix("10.1.0.0/16").unwrap();
        assert!(in_prefix("10.1.200.3".parse().unwrap(), n, l));
        assert!(!in_prefix("10.2.0.1".parse().unwrap(), n, l));
        assert!(!in_prefix("::1".parse().unwrap(), n, l));
        let (n, l) = parse_prefix("2001:db8::/32").unwrap();
        assert!(in_prefix("2001:db8:1::9".parse().unwrap(), n, l));
        assert_eq!(parse_prefix("10.0.0.1"), Some(("10.0.0.1".parse().unwrap(), 32)));
        assert_eq!(parse_prefix("0.0.0.0/0"), Some(("0.0.0.0".parse().unwrap(), 0)));
        assert_eq!(parse_prefix("10.0.0.0/33"), None);
        assert_eq!(parse_prefix("nonsense/8"), None);
    }
}
