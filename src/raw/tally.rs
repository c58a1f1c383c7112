//! [`WatchTally`]: what a watcher has heard, counted for a summary.

use super::Step;
use crate::wire::Event;

/// Messages heard and what they did, counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WatchTally {
    /// Messages heard, this host's own included.
    pub messages: u64,
    /// Changes of the table (joins, changes, leaves, expiries, evictions) and leaves of groups it did not know.
    pub changes: u64,
    /// Groups that joined the table.
    pub joins: u64,
    /// Queries heard.
    pub queries: u64,
    /// Messages that do not parse.
    pub malformed: u64,
    /// This host's own reports of the groups the watcher joined, left out of the table.
    pub own: u64,
}

impl WatchTally {
    /// Counts one message and what it did.
    pub fn step(&mut self, step: &Step) {
        self.messages = self.messages.saturating_add(1);
        if step.own {
            self.own = self.own.saturating_add(1);
            return;
        }
        match &step.heard.message {
            Err(_) => self.malformed = self.malformed.saturating_add(1),
            Ok(m) if m.is_query() => self.queries = self.queries.saturating_add(1),
            Ok(_) => {}
        }
        self.events(&step.events);
        self.changes = self.changes.saturating_add(step.unknown_leaves.len() as u64);
    }

    /// Counts changes of the table, from a message or from time passing ([`super::Watcher::expire`]).
    pub fn events(&mut self, events: &[Event]) {
        for e in events {
            self.changes = self.changes.saturating_add(1);
            self.joins = self.joins.saturating_add(u64::from(matches!(e, Event::Joined { .. })));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::{Heard, Message};
    use crate::wire::{Entry, FilterMode, IgmpRepr, IgmpVersion, Ipv4Repr, Key, Protocol};
    use std::net::Ipv4Addr;
    use std::time::Instant;

    fn step(message: Result<Message, crate::wire::Error>, events: Vec<Event>, own: bool) -> Step {
        let heard = Heard {
            source: "10.0.0.1".parse().unwrap(),
            destination: None,
            ifindex: Some(7),
            ttl: Some(1),
            bytes: vec![],
            message,
        };
        Step { heard, events, unknown_leaves: vec!["239.9.9.9".parse().unwrap()], own }
    }

    fn igmp(igmp: IgmpRepr) -> Result<Message, crate::wire::Error> {
        let ip = Ipv4Repr::igmp(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(224, 0, 0, 1), 8);
        Ok(Message::Igmp { ip, igmp })
    }

    #[test]
    fn steps_are_counted_by_what_they_did() {
        let now = Instant::now();
        let entry = Entry {
            reporter: "10.0.0.1".parse().unwrap(),
            protocol: Protocol::Igmp(IgmpVersion::V3),
            mode: FilterMode::Exclude,
            sources: Default::default(),
            sources_capped: false,
            since: now,
            last_seen: now,
        };
        let key = Key { iface: 7, group: "239.1.1.1".parse().unwrap() };
        let joined = Event::Joined { key, entry: entry.clone() };
        let left = Event::Left { key, by: "10.0.0.1".parse().unwrap(), entry };
        let mut t = WatchTally::default();
        t.step(&step(igmp(IgmpRepr::ReportV2 { group: Ipv4Addr::new(239, 1, 1, 1) }), vec![joined.clone()], false));
        t.step(&step(igmp(IgmpRepr::QueryV2 { max_resp_time: 100, group: Ipv4Addr::UNSPECIFIED }), vec![], false));
        t.step(&step(Err(crate::wire::Error::Truncated { need: 8, have: 4 }), vec![], false));
        t.step(&step(igmp(IgmpRepr::ReportV2 { group: Ipv4Addr::new(224, 0, 0, 22) }), vec![joined], true));
        t.events(&[left]);
        let want = WatchTally { messages: 4, changes: 5, joins: 1, queries: 1, malformed: 1, own: 1 };
        assert_eq!(t, want, "three unknown leaves, a join and a leave; the own step counts nothing else");
    }
}
