//! A table of group memberships learned from the reports and leaves heard on a link: what a querier (or a
//! watcher standing beside it) knows about who listens to what, per interface and group.
//!
//! Pure state: the caller receives and parses messages and passes the time in, so the table is tested and
//! reasoned about without sockets or clocks. Each message yields the [`Event`]s it caused: one per change of a
//! group's state, none for a report that only confirms what the table knew.
//!
//! Every entry holds the state the *last reporter* described, as a host sees its own membership:
//!
//! - an IGMPv1/v2 or MLDv1 report is an any-source join: EXCLUDE with no sources;
//! - MODE_IS_INCLUDE / CHANGE_TO_INCLUDE_MODE (A) set INCLUDE(A); with A empty the host has left;
//! - MODE_IS_EXCLUDE / CHANGE_TO_EXCLUDE_MODE (A) set EXCLUDE(A);
//! - ALLOW_NEW_SOURCES (A) adds A to an INCLUDE list or removes it from an EXCLUDE list;
//! - BLOCK_OLD_SOURCES (A) removes A from an INCLUDE list (emptying it is leaving) or adds it to an EXCLUDE list;
//! - an IGMPv2 Leave, an MLDv1 Done remove the group;
//! - records of unknown type are ignored (RFC 3376 §4.2.12, RFC 3810 §5.2.12), and so are queries.
//!
//! A router merges the states of all hosts (RFC 3376 §6.4) and asks, with a group-specific query, whether anyone
//! is left when one host leaves. This table instead reports the leave as heard: if another member remains, it
//! answers the router's query and its report joins the group again, which is the sequence a watcher should show.
//! A change of reporter alone is recorded but is no event (with several members, reporters take turns).
//! IGMPv1 hosts never say they leave: [`MembershipTable::expire`] drops groups not heard of for a while.
//!
//! # Bounded, whatever the link says
//!
//! Anyone on the link with a raw socket can forge reports, and one IGMPv3 or MLDv2 report may name thousands of
//! fresh groups, each with hundreds of sources. So every part of the table keyed by what the network chooses is
//! capped ([`MembershipLimits`]): at most [`DEFAULT_MAX_GROUPS`] groups per interface, kept in a
//! `SenderTable` (`O(1)` lookup); when a new group arrives at a full interface, the group refreshed least
//! recently is forgotten, with an [`Event::Evicted`], and counted ([`MembershipTable::evicted`]). An evicted
//! group that is reported again simply joins again. Each group keeps at most [`DEFAULT_MAX_SOURCES`] sources:
//! those it held first, then the lowest addresses; the entry says when some were left out
//! ([`Entry::sources_capped`]). The reporter is one address per entry, and the interfaces are this host's, so
//! the whole table is bounded by interfaces × groups × sources.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use super::record::{GroupRecord, RecordType, WireAddr};
use super::{IgmpRepr, IgmpVersion, MldRepr, MldVersion};
use crate::senders::SenderTable;

mod event;
mod limits;

pub use event::Event;
use limits::capped;
pub use limits::{MembershipLimits, DEFAULT_MAX_GROUPS, DEFAULT_MAX_SOURCES};

/// How long a group stays without a report before it expires, with the protocols' defaults: robustness 2 ×
/// query interval 125 s + query response interval 10 s (RFC 3376 §8.4 Group Membership Interval, RFC 3810 §9.4
/// Multicast Address Listening Interval).
pub const MEMBERSHIP_INTERVAL: Duration = Duration::from_secs(260);

/// The protocol and version a membership was learned from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// IGMP, IPv4.
    Igmp(IgmpVersion),
    /// MLD, IPv6.
    Mld(MldVersion),
}

impl Protocol {
    /// The version number: 1, 2 or 3.
    pub fn number(self) -> u8 {
        match self {
            Protocol::Igmp(IgmpVersion::V1) | Protocol::Mld(MldVersion::V1) => 1,
            Protocol::Igmp(IgmpVersion::V2) | Protocol::Mld(MldVersion::V2) => 2,
            Protocol::Igmp(IgmpVersion::V3) => 3,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Igmp(v) => v.fmt(f),
            Protocol::Mld(v) => v.fmt(f),
        }
    }
}

/// Which sources a membership receives from: the same mode as a socket's source filter.
pub use crate::filter::FilterMode;

/// Where a membership is: the interface it was heard on (its index) and the group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// Interface index the report arrived on (from `IP_PKTINFO` / `IPV6_PKTINFO`).
    pub iface: u32,
    /// The group.
    pub group: IpAddr,
}

/// What the table knows of one group on one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The host whose report was heard last.
    pub reporter: IpAddr,
    /// The protocol version of that report.
    pub protocol: Protocol,
    /// The filter mode.
    pub mode: FilterMode,
    /// The sources the filter mode applies to (at most [`MembershipLimits::sources`] of them).
    pub sources: BTreeSet<IpAddr>,
    /// Whether the reporter named more sources than the table keeps per group, so that `sources` holds only
    /// some of them.
    pub sources_capped: bool,
    /// When the group was first heard of (since it was last absent).
    pub since: Instant,
    /// When a report for it was last heard.
    pub last_seen: Instant,
}

impl Entry {
    /// Whether the state (protocol, mode, sources) is the same, whoever reported it and whenever.
    fn same_state(&self, other: &Entry) -> bool {
        self.protocol == other.protocol
            && self.mode == other.mode
            && self.sources == other.sources
            && self.sources_capped == other.sources_capped
    }
}

/// Sources as `{a, b}`, or `{a, b, ...}` when some were left out.
struct Sources<'a>(pub(super) &'a BTreeSet<IpAddr>, pub(super) bool);

impl fmt::Display for Sources<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, source) in self.0.iter().enumerate() {
            write!(f, "{}{source}", if i == 0 { "" } else { ", " })?;
        }
        f.write_str(match (self.1, self.0.is_empty()) {
            (false, _) => "}",
            (true, true) => "...}",
            (true, false) => ", ...}",
        })
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} reporter {}",
            self.protocol,
            self.mode,
            Sources(&self.sources, self.sources_capped),
            self.reporter
        )
    }
}

/// What one message or record does to a group.
enum Change {
    /// Set this state.
    Set(FilterMode, BTreeSet<IpAddr>),
    /// ALLOW_NEW_SOURCES.
    Allow(BTreeSet<IpAddr>),
    /// BLOCK_OLD_SOURCES.
    Block(BTreeSet<IpAddr>),
    /// Leave, Done.
    Leave,
}

/// Memberships per interface and group; see the [module docs](self) for how messages change it and how it
/// stays bounded.
#[derive(Clone, Debug)]
pub struct MembershipTable {
    /// Per interface index, its groups, capped and in order of last refresh.
    interfaces: BTreeMap<u32, SenderTable<IpAddr, Entry>>,
    limits: MembershipLimits,
    evicted: u64,
    sources_left_out: u64,
}

impl Default for MembershipTable {
    fn default() -> Self {
        MembershipTable::with_limits(MembershipLimits::default())
    }
}

fn set_of<A: WireAddr>(sources: &[A]) -> BTreeSet<IpAddr> {
    sources.iter().map(|&s| s.into()).collect()
}

fn any_source() -> Change {
    Change::Set(FilterMode::Exclude, BTreeSet::new())
}

impl MembershipTable {
    /// An empty table with the default limits ([`DEFAULT_MAX_GROUPS`], [`DEFAULT_MAX_SOURCES`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty table that keeps at most what `limits` say.
    pub fn with_limits(limits: MembershipLimits) -> Self {
        let limits = MembershipLimits::new(limits.groups, limits.sources);
        MembershipTable { interfaces: BTreeMap::new(), limits, evicted: 0, sources_left_out: 0 }
    }

    /// How much the table keeps at most.
    pub fn limits(&self) -> MembershipLimits {
        self.limits
    }

    /// Groups forgotten so far to make room for new ones ([`Event::Evicted`]).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Sources reported but not kept so far, because their group's list was full, summed over every message.
    pub fn sources_left_out(&self) -> u64 {
        self.sources_left_out
    }

    /// Feeds an IGMP message heard on `iface` from `reporter` at `now`; returns what changed.
    pub fn observe_igmp(&mut self, iface: u32, reporter: Ipv4Addr, message: &IgmpRepr, now: Instant) -> Vec<Event> {
        let reporter = IpAddr::V4(reporter);
        let mut events = Vec::new();
        let mut apply = |group: Ipv4Addr, version, change| {
            let key = Key { iface, group: group.into() };
            self.apply(key, reporter, Protocol::Igmp(version), change, now, &mut events);
        };
        match message {
            IgmpRepr::ReportV1 { group } => apply(*group, IgmpVersion::V1, any_source()),
            IgmpRepr::ReportV2 { group } => apply(*group, IgmpVersion::V2, any_source()),
            IgmpRepr::Leave { group } => apply(*group, IgmpVersion::V2, Change::Leave),
            IgmpRepr::ReportV3(records) => {
                for (group, change) in records.iter().filter_map(record_change) {
                    apply(group, IgmpVersion::V3, change);
                }
            }
            IgmpRepr::QueryV1 | IgmpRepr::QueryV2 { .. } | IgmpRepr::QueryV3(_) => {}
        }
        events
    }

    /// Feeds an MLD message heard on `iface` from `reporter` at `now`; returns what changed.
    pub fn observe_mld(&mut self, iface: u32, reporter: Ipv6Addr, message: &MldRepr, now: Instant) -> Vec<Event> {
        let reporter = IpAddr::V6(reporter);
        let mut events = Vec::new();
        let mut apply = |group: Ipv6Addr, version, change| {
            let key = Key { iface, group: group.into() };
            self.apply(key, reporter, Protocol::Mld(version), change, now, &mut events);
        };
        match message {
            MldRepr::ReportV1 { group } => apply(*group, MldVersion::V1, any_source()),
            MldRepr::Done { group } => apply(*group, MldVersion::V1, Change::Leave),
            MldRepr::ReportV2(records) => {
                for (group, change) in records.iter().filter_map(record_change) {
                    apply(group, MldVersion::V2, change);
                }
            }
            MldRepr::QueryV1 { .. } | MldRepr::QueryV2(_) => {}
        }
        events
    }

    /// Removes the groups not reported for longer than `timeout` before `now` (see [`MEMBERSHIP_INTERVAL`]),
    /// per interface the longest silent first. Times are expected not to go backwards between calls.
    pub fn expire(&mut self, now: Instant, timeout: Duration) -> Vec<Event> {
        let mut events = Vec::new();
        for (&iface, groups) in self.interfaces.iter_mut() {
            let stale = groups.take_idle(now, timeout);
            events.extend(stale.into_iter().map(|(group, entry)| Event::Expired { key: Key { iface, group }, entry }));
        }
        self.interfaces.retain(|_, groups| !groups.is_empty());
        events
    }

    /// The entry for `group` on `iface`.
    pub fn get(&self, iface: u32, group: IpAddr) -> Option<&Entry> {
        self.interfaces.get(&iface)?.get(&group)
    }

    /// All entries, ordered by interface and group.
    pub fn iter(&self) -> impl Iterator<Item = (Key, &Entry)> {
        self.interfaces.iter().flat_map(|(&iface, groups)| {
            let mut sorted: Vec<(Key, &Entry)> =
                groups.iter().map(|(&group, entry)| (Key { iface, group }, entry)).collect();
            sorted.sort_unstable_by_key(|(key, _)| *key);
            sorted
        })
    }

    /// The number of (interface, group) entries.
    pub fn len(&self) -> usize {
        self.interfaces.values().map(SenderTable::len).sum()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.interfaces.values().all(SenderTable::is_empty)
    }

    fn apply(
        &mut self,
        key: Key,
        reporter: IpAddr,
        protocol: Protocol,
        change: Change,
        now: Instant,
        events: &mut Vec<Event>,
    ) {
        let limits = self.limits;
        let groups = self.interfaces.entry(key.iface).or_insert_with(|| SenderTable::new(limits.groups, Duration::MAX));
        let old = groups.get(&key.group);
        // Set replaces the sources, so it keeps no old cap; Allow and Block keep the sources left out before.
        let was_capped = old.is_some_and(|old| old.sources_capped);
        let (mode, sources, incremental) = match (change, old) {
            (Change::Leave, _) => (FilterMode::Include, BTreeSet::new(), false),
            (Change::Set(mode, sources), _) => (mode, sources, false),
            (Change::Allow(new), None) => (FilterMode::Include, new, false),
            (Change::Allow(new), Some(old)) => match old.mode {
                FilterMode::Include => (FilterMode::Include, old.sources.union(&new).copied().collect(), true),
                FilterMode::Exclude => (FilterMode::Exclude, old.sources.difference(&new).copied().collect(), true),
            },
            (Change::Block(_), None) => (FilterMode::Include, BTreeSet::new(), false),
            (Change::Block(gone), Some(old)) => match old.mode {
                FilterMode::Include => (FilterMode::Include, old.sources.difference(&gone).copied().collect(), true),
                FilterMode::Exclude => (FilterMode::Exclude, old.sources.union(&gone).copied().collect(), true),
            },
        };
        // INCLUDE with no sources is no membership at all.
        if mode == FilterMode::Include && sources.is_empty() {
            let gone = groups.remove(&key.group);
            if groups.is_empty() {
                self.interfaces.remove(&key.iface);
            }
            events.extend(gone.map(|entry| Event::Left { key, by: reporter, entry }));
            return;
        }
        let (sources, left_out) = capped(sources, old.map(|old| &old.sources), limits.sources);
        self.sources_left_out += left_out as u64;
        let sources_capped = left_out > 0 || (incremental && was_capped);
        let since = old.map_or(now, |old| old.since);
        let new = Entry { reporter, protocol, mode, sources, sources_capped, since, last_seen: now };
        let inserted = groups.insert(key.group, new.clone(), now);
        if let Some((group, entry)) = inserted.evicted {
            self.evicted += 1;
            events.push(Event::Evicted { key: Key { iface: key.iface, group }, entry });
        }
        match inserted.old {
            None => events.push(Event::Joined { key, entry: new }),
            Some(old) if !old.same_state(&new) => events.push(Event::Changed { key, old, new }),
            Some(_) => {}
        }
    }
}

fn record_change<A: WireAddr>(record: &GroupRecord<A>) -> Option<(A, Change)> {
    let sources = set_of(&record.sources);
    let change = match record.record_type {
        RecordType::ModeIsInclude | RecordType::ChangeToInclude => Change::Set(FilterMode::Include, sources),
        RecordType::ModeIsExclude | RecordType::ChangeToExclude => Change::Set(FilterMode::Exclude, sources),
        RecordType::AllowNewSources => Change::Allow(sources),
        RecordType::BlockOldSources => Change::Block(sources),
        RecordType::Unknown(_) => return None,
    };
    Some((record.group, change))
}

#[cfg(test)]
mod limit_tests;
#[cfg(test)]
mod tests;
