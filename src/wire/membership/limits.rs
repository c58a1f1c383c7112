//! How much a [`MembershipTable`](super::MembershipTable) keeps at most, and how a source list is cut down to it.

use std::collections::BTreeSet;
use std::net::IpAddr;

/// The default cap on groups per interface: far more than a link's real memberships (a host joins tens, a busy
/// IPTV segment some hundreds), few enough that a full table takes at most about 9 MB (IPv6, 64 sources each).
pub const DEFAULT_MAX_GROUPS: usize = 4096;

/// The default cap on sources per group: Linux lets one socket filter 10 IPv4 sources (`igmp_max_msf`) or 64
/// IPv6 ones (`mld_max_msf`), and source-specific applications use a handful.
pub const DEFAULT_MAX_SOURCES: usize = 64;

/// How much a [`MembershipTable`](super::MembershipTable) keeps at most; see the [module docs](super#bounded-whatever-the-link-says).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MembershipLimits {
    /// Groups per interface (at least 1); a new group at a full interface evicts the idlest.
    pub groups: usize,
    /// Sources per group (at least 1); further ones are left out.
    pub sources: usize,
}

impl MembershipLimits {
    /// At most `groups` groups per interface and `sources` sources per group (each raised to at least 1).
    pub fn new(groups: usize, sources: usize) -> Self {
        MembershipLimits { groups: groups.max(1), sources: sources.max(1) }
    }
}

impl Default for MembershipLimits {
    fn default() -> Self {
        MembershipLimits::new(DEFAULT_MAX_GROUPS, DEFAULT_MAX_SOURCES)
    }
}

/// `sources` cut down to `cap`: those already `held` first, then the lowest new ones, so that a report repeated
/// keeps the same ones. Also how many were left out.
pub(super) fn capped(
    sources: BTreeSet<IpAddr>,
    held: Option<&BTreeSet<IpAddr>>,
    cap: usize,
) -> (BTreeSet<IpAddr>, usize) {
    let Some(over) = sources.len().checked_sub(cap).filter(|&n| n > 0) else { return (sources, 0) };
    let was_held = |s: &IpAddr| held.is_some_and(|h| h.contains(s));
    let kept = sources.iter().filter(|s| was_held(s)).chain(sources.iter().filter(|s| !was_held(s)));
    (kept.take(cap).copied().collect(), over)
}
