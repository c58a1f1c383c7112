//! [`Answers`]: what a query drew, each answer once, in a set of bounded size.
//!
//! Who answers is the network's choice: a forged flood of reports, each naming a fresh group or reporter, would
//! grow an unbounded set for as long as a querier listens (docs/security.md, rule 2). The set keeps at most its
//! cap; past it, answers are counted, not kept.

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::{Heard, Reported};
use crate::wire::RecordType;

/// The default cap: answers kept from one query. A link with more members than this answers a general query
/// with more; the rest are counted in [`Answers::left_out`].
pub const MAX_ANSWERS: usize = 4096;

/// One answer to a query: who reported which group on which interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub struct Answer {
    /// The interface it arrived on (0 when unknown).
    pub ifindex: u32,
    /// The group reported.
    pub group: IpAddr,
    /// The host that reported it.
    pub reporter: IpAddr,
}

/// The answers heard so far, each once, in order of interface, group and reporter; at most a cap of them.
#[derive(Clone, Debug)]
pub struct Answers {
    set: BTreeSet<Answer>,
    cap: usize,
    left_out: u64,
}

impl Default for Answers {
    fn default() -> Self {
        Answers::new(MAX_ANSWERS)
    }
}

impl Answers {
    /// An empty set that keeps at most `cap` answers (at least 1).
    pub fn new(cap: usize) -> Answers {
        Answers { set: BTreeSet::new(), cap: cap.max(1), left_out: 0 }
    }

    /// Whether a reported group answers a query: a v1/v2 report or a current-state record (`MODE_IS_INCLUDE`,
    /// `MODE_IS_EXCLUDE`). State-change records (`CHANGE_TO_*`, `ALLOW`, `BLOCK`) are a host's news, sent unasked.
    pub fn is_answer(r: &Reported) -> bool {
        matches!(r.record, None | Some(RecordType::ModeIsInclude | RecordType::ModeIsExclude))
    }

    /// The new answers in one message heard, each with the record that gave it. Left out: records that do not
    /// answer ([`Answers::is_answer`]), this host's own reports (`is_own(reporter, group)`, as
    /// [`super::Watcher::is_own`] says), answers already heard, and, once the set is full, every other one
    /// (counted in [`Answers::left_out`]).
    pub fn observe(&mut self, heard: &Heard, is_own: impl Fn(IpAddr, IpAddr) -> bool) -> Vec<(Answer, Reported)> {
        let Ok(message) = &heard.message else { return vec![] };
        let mut new = Vec::new();
        for r in Reported::of(message).into_iter().filter(Answers::is_answer) {
            let answer = Answer { ifindex: heard.ifindex.unwrap_or(0), group: r.group, reporter: heard.source };
            if is_own(heard.source, r.group) || self.set.contains(&answer) {
                continue;
            }
            if self.set.len() >= self.cap {
                self.left_out = self.left_out.saturating_add(1);
                continue;
            }
            self.set.insert(answer);
            new.push((answer, r));
        }
        new
    }

    /// The answers kept, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Answer> {
        self.set.iter()
    }

    /// Answers kept.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether none was kept (and so none heard: a full set is never empty).
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// The most answers kept.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Answers heard once the set was full, and so neither kept nor reported: a repeat of one of them counts
    /// again, since the set cannot tell it from a new one.
    pub fn left_out(&self) -> u64 {
        self.left_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::Message;
    use crate::wire::{GroupRecord, IgmpRepr, Ipv4Repr};
    use std::net::Ipv4Addr;

    fn heard(from: [u8; 4], igmp: IgmpRepr) -> Heard {
        let source = Ipv4Addr::from(from);
        Heard {
            source: source.into(),
            destination: None,
            ifindex: Some(7),
            ttl: Some(1),
            bytes: vec![],
            message: Ok(Message::Igmp { ip: Ipv4Repr::igmp(source, Ipv4Addr::new(224, 0, 0, 22), 8), igmp }),
        }
    }

    fn v2(from: [u8; 4], group: [u8; 4]) -> Heard {
        heard(from, IgmpRepr::ReportV2 { group: group.into() })
    }

    fn v3(from: [u8; 4], records: Vec<(RecordType, [u8; 4])>) -> Heard {
        let records = records
            .into_iter()
            .map(|(record_type, g)| GroupRecord { record_type, group: g.into(), sources: vec![] })
            .collect();
        heard(from, IgmpRepr::ReportV3(records))
    }

    #[test]
    fn current_state_records_and_plain_reports_answer_once_each() {
        let mut a = Answers::default();
        let not_own = |_: IpAddr, _: IpAddr| false;
        let got = a.observe(
            &v3(
                [10, 0, 0, 1],
                vec![(RecordType::ModeIsExclude, [239, 1, 1, 1]), (RecordType::ChangeToExclude, [239, 1, 1, 2])],
            ),
            not_own,
        );
        assert_eq!(got.len(), 1, "a state change is not an answer");
        assert_eq!(
            got[0].0,
            Answer { ifindex: 7, group: "239.1.1.1".parse().unwrap(), reporter: "10.0.0.1".parse().unwrap() }
        );
        assert_eq!(got[0].1.record, Some(RecordType::ModeIsExclude));
        assert!(a.observe(&v2([10, 0, 0, 1], [239, 1, 1, 1]), not_own).is_empty(), "heard already");
        assert_eq!(a.observe(&v2([10, 0, 0, 2], [239, 1, 1, 1]), not_own).len(), 1, "another reporter");
        let own = |s: IpAddr, _: IpAddr| s == "10.0.0.3".parse::<IpAddr>().unwrap();
        assert!(a.observe(&v2([10, 0, 0, 3], [239, 1, 1, 1]), own).is_empty(), "this host's own");
        assert_eq!((a.len(), a.left_out()), (2, 0));
        let bad = Heard {
            message: Err(crate::wire::Error::Truncated { need: 8, have: 4 }),
            ..v2([10, 0, 0, 4], [239, 1, 1, 1])
        };
        assert!(a.observe(&bad, not_own).is_empty());
    }

    /// A forged flood of 100,000 reports, each a new group: the set stays at its cap, and the rest are counted.
    #[test]
    fn a_flood_of_forged_answers_stays_bounded() {
        let mut a = Answers::new(1000);
        for i in 0..100_000u32 {
            let [_, b, c, d] = i.to_be_bytes();
            a.observe(&v2([10, 0, 0, 9], [239, b, c, d]), |_, _| false);
        }
        assert_eq!(a.len(), 1000);
        assert_eq!(a.left_out(), 99_000);
        assert_eq!(a.iter().next().map(|x| x.group), Some("239.0.0.0".parse().unwrap()), "the first ones are kept");
        assert_eq!(Answers::new(0).cap(), 1);
    }
}
