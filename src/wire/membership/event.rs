//! [`Event`]: what one message did to a [`MembershipTable`](super::MembershipTable).

use std::fmt;
use std::net::IpAddr;

use super::{Entry, Key, Sources};

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
    /// No report for the group within the timeout given to [`MembershipTable::expire`](super::MembershipTable::expire).
    Expired {
        /// Interface and group.
        key: Key,
        /// The last state.
        entry: Entry,
    },
    /// Forgotten to make room for a new group on a full interface ([`MembershipLimits::groups`](super::MembershipLimits::groups)): the group
    /// refreshed least recently.
    Evicted {
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
            | Event::Expired { key, .. }
            | Event::Evicted { key, .. } => *key,
        }
    }

    /// A one-word name: `join`, `change`, `leave`, `expire`, `evict`.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Joined { .. } => "join",
            Event::Changed { .. } => "change",
            Event::Left { .. } => "leave",
            Event::Expired { .. } => "expire",
            Event::Evicted { .. } => "evict",
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.key();
        write!(f, "{} {} ifindex {}: ", self.kind(), key.group, key.iface)?;
        match self {
            Event::Joined { entry, .. } | Event::Expired { entry, .. } | Event::Evicted { entry, .. } => entry.fmt(f),
            Event::Changed { old, new, .. } => {
                write!(f, "{new} (was {} {} {})", old.protocol, old.mode, Sources(&old.sources, old.sources_capped))
            }
            Event::Left { by, .. } => write!(f, "by {by}"),
        }
    }
}
