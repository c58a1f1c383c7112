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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use super::record::{GroupRecord, RecordType, WireAddr};
use super::{IgmpRepr, IgmpVersion, MldRepr, MldVersion};

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

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Igmp(v) => v.fmt(f),
            Protocol::Mld(v) => v.fmt(f),
        }
    }
}

/// Which sources a membership receives from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FilterMode {
    /// Only from the listed sources.
    Include,
    /// From all but the listed sources (with none listed: from everyone, a plain join).
    Exclude,
}

impl fmt::Display for FilterMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FilterMode::Include => "INCLUDE",
            FilterMode::Exclude => "EXCLUDE",
        })
    }
}

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
    /// The sources the filter mode applies to.
    pub sources: BTreeSet<IpAddr>,
    /// When the group was first heard of (since it was last absent).
    pub since: Instant,
    /// When a report for it was last heard.
    pub last_seen: Instant,
}

impl Entry {
    /// Whether the state (protocol, mode, sources) is the same, whoever reported it and whenever.
    fn same_state(&self, other: &Entry) -> bool {
        self.protocol == other.protocol && self.mode == other.mode && self.sources == other.sources
    }
}

/// Sources as `{a, b}`.
struct Sources<'a>(&'a BTreeSet<IpAddr>);

impl fmt::Display for Sources<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, source) in self.0.iter().enumerate() {
            write!(f, "{}{source}", if i == 0 { "" } else { ", " })?;
        }
        f.write_str("}")
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} reporter {}", self.protocol, self.mode, Sources(&self.sources), self.reporter)
    }
}

/// A change in the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A group that was absent is now listened to.
    Joined {
        /// Interface and group.
        key: Key,
        /// The new state.
        entry: Entry,
    },
    /// A group's version, filter mode or sources changed.
    Changed {
        /// Interface and group.
        key: Key,
        /// The state before.
        old: Entry,
        /// The state now.
        new: Entry,
    },
    /// A host said it left (Leave, Done, or a record leaving INCLUDE with no sources).
    Left {
        /// Interface and group.
        key: Key,
        /// The host that left.
        by: IpAddr,
        /// The state before.
        entry: Entry,
    },
    /// No report for the group within the timeout given to [`MembershipTable::expire`].
    Expired {
        /// Interface and group.
        key: Key,
        /// The last state.
        entry: Entry,
    },
}

impl Event {
    /// Interface and group of the event.
    pub fn key(&self) -> Key {
        match self {
            Event::Joined { key, .. }
            | Event::Changed { key, .. }
            | Event::Left { key, .. }
            | Event::Expired { key, .. } => *key,
        }
    }

    /// A one-word name: `join`, `change`, `leave`, `expire`.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Joined { .. } => "join",
            Event::Changed { .. } => "change",
            Event::Left { .. } => "leave",
            Event::Expired { .. } => "expire",
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.key();
        write!(f, "{} {} ifindex {}: ", self.kind(), key.group, key.iface)?;
        match self {
            Event::Joined { entry, .. } | Event::Expired { entry, .. } => entry.fmt(f),
            Event::Changed { old, new, .. } => {
                write!(f, "{new} (was {} {} {})", old.protocol, old.mode, Sources(&old.sources))
            }
            Event::Left { by, .. } => write!(f, "by {by}"),
        }
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

/// Memberships per interface and group; see the [module docs](self) for how messages change it.
#[derive(Clone, Debug, Default)]
pub struct MembershipTable {
    entries: BTreeMap<Key, Entry>,
}

fn set_of<A: WireAddr>(sources: &[A]) -> BTreeSet<IpAddr> {
    sources.iter().map(|&s| s.into()).collect()
}

fn any_source() -> Change {
    Change::Set(FilterMode::Exclude, BTreeSet::new())
}

impl MembershipTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds an IGMP message heard on `iface` from `reporter` at `now`; returns what changed.
    pub fn observe_igmp(&mut self, iface: u32, reporter: Ipv4Addr, message: &IgmpRepr, now: Instant) -> Vec<Event> {
        let reporter = IpAddr::V4(reporter);
        let mut events = Vec::new();
        let mut apply = |group: Ipv4Addr, version, change| {
            let key = Key { iface, group: group.into() };
            events.extend(self.apply(key, reporter, Protocol::Igmp(version), change, now));
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
            events.extend(self.apply(key, reporter, Protocol::Mld(version), change, now));
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

    /// Removes the groups not reported for longer than `timeout` before `now` (see [`MEMBERSHIP_INTERVAL`]).
    pub fn expire(&mut self, now: Instant, timeout: Duration) -> Vec<Event> {
        let stale: Vec<Key> = self
            .entries
            .iter()
            .filter(|(_, entry)| now.saturating_duration_since(entry.last_seen) > timeout)
            .map(|(key, _)| *key)
            .collect();
        stale
            .into_iter()
            .filter_map(|key| self.entries.remove(&key).map(|entry| Event::Expired { key, entry }))
            .collect()
    }

    /// The entry for `group` on `iface`.
    pub fn get(&self, iface: u32, group: IpAddr) -> Option<&Entry> {
        self.entries.get(&Key { iface, group })
    }

    /// All entries, ordered by interface and group.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Entry)> {
        self.entries.iter()
    }

    /// The number of (interface, group) entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn apply(&mut self, key: Key, reporter: IpAddr, protocol: Protocol, change: Change, now: Instant) -> Option<Event> {
        let old = self.entries.get(&key);
        let (mode, sources) = match (change, old) {
            (Change::Leave, _) => (FilterMode::Include, BTreeSet::new()),
            (Change::Set(mode, sources), _) => (mode, sources),
            (Change::Allow(new), None) => (FilterMode::Include, new),
            (Change::Allow(new), Some(old)) => match old.mode {
                FilterMode::Include => (FilterMode::Include, old.sources.union(&new).copied().collect()),
                FilterMode::Exclude => (FilterMode::Exclude, old.sources.difference(&new).copied().collect()),
            },
            (Change::Block(_), None) => return None,
            (Change::Block(gone), Some(old)) => match old.mode {
                FilterMode::Include => (FilterMode::Include, old.sources.difference(&gone).copied().collect()),
                FilterMode::Exclude => (FilterMode::Exclude, old.sources.union(&gone).copied().collect()),
            },
        };
        // INCLUDE with no sources is no membership at all.
        if mode == FilterMode::Include && sources.is_empty() {
            return self.entries.remove(&key).map(|entry| Event::Left { key, by: reporter, entry });
        }
        let since = old.map_or(now, |old| old.since);
        let new = Entry { reporter, protocol, mode, sources, since, last_seen: now };
        match self.entries.insert(key, new.clone()) {
            None => Some(Event::Joined { key, entry: new }),
            Some(old) if !old.same_state(&new) => Some(Event::Changed { key, old, new }),
            Some(_) => None,
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
mod tests;
