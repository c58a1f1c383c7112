//! The table fed the message sequences hosts send, checking the events and the state after each.

use super::*;
use crate::wire::igmp;

const IF: u32 = 2;

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn ips(list: &[&str]) -> BTreeSet<IpAddr> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

fn record(record_type: RecordType, group: &str, sources: &[&str]) -> GroupRecord<Ipv4Addr> {
    GroupRecord { record_type, group: v4(group), sources: sources.iter().map(|s| v4(s)).collect() }
}

fn report_v3(records: Vec<GroupRecord<Ipv4Addr>>) -> IgmpRepr {
    IgmpRepr::ReportV3(records)
}

struct Clock(Instant);

impl Clock {
    fn at(&self, secs: u64) -> Instant {
        self.0 + Duration::from_secs(secs)
    }
}

#[test]
fn v2_join_refresh_leave() {
    let t = Clock(Instant::now());
    let mut table = MembershipTable::new();
    let group = v4("239.1.2.3");
    let events = table.observe_igmp(IF, v4("10.0.0.2"), &IgmpRepr::ReportV2 { group }, t.at(0));
    assert_eq!(events.len(), 1);
    let Event::Joined { key, entry } = &events[0] else { panic!("{events:?}") };
    assert_eq!(*key, Key { iface: IF, group: group.into() });
    assert_eq!(entry.reporter, IpAddr::from(v4("10.0.0.2")));
    assert_eq!(entry.protocol, Protocol::Igmp(IgmpVersion::V2));
    assert_eq!((entry.mode, entry.sources.len()), (FilterMode::Exclude, 0));
    assert_eq!(events[0].to_string(), "join 239.1.2.3 ifindex 2: IGMPv2 EXCLUDE {} reporter 10.0.0.2");

    // The periodic report confirms: no event, last seen moves, the join time stays.
    assert!(table.observe_igmp(IF, v4("10.0.0.2"), &IgmpRepr::ReportV2 { group }, t.at(125)).is_empty());
    let entry = table.get(IF, group.into()).unwrap();
    assert_eq!((entry.since, entry.last_seen), (t.at(0), t.at(125)));

    // Another member answering is recorded as the reporter, without an event.
    assert!(table.observe_igmp(IF, v4("10.0.0.3"), &IgmpRepr::ReportV2 { group }, t.at(130)).is_empty());
    assert_eq!(table.get(IF, group.into()).unwrap().reporter, IpAddr::from(v4("10.0.0.3")));

    let events = table.observe_igmp(IF, v4("10.0.0.3"), &IgmpRepr::Leave { group }, t.at(140));
    assert!(matches!(&events[..], [Event::Left { by, .. }] if *by == IpAddr::from(v4("10.0.0.3"))));
    assert!(table.is_empty());
    // A leave for a group not in the table changes nothing.
    assert!(table.observe_igmp(IF, v4("10.0.0.3"), &IgmpRepr::Leave { group }, t.at(141)).is_empty());
}

#[test]
fn interfaces_are_separate() {
    let t = Clock(Instant::now());
    let mut table = MembershipTable::new();
    let group = v4("239.1.2.3");
    assert_eq!(table.observe_igmp(1, v4("10.0.0.2"), &IgmpRepr::ReportV1 { group }, t.at(0)).len(), 1);
    assert_eq!(table.observe_igmp(2, v4("10.0.1.2"), &IgmpRepr::ReportV2 { group }, t.at(0)).len(), 1);
    assert_eq!(table.len(), 2);
    assert_eq!(table.observe_igmp(1, v4("10.0.0.2"), &IgmpRepr::Leave { group }, t.at(1)).len(), 1);
    assert_eq!(table.iter().map(|(k, _)| k.iface).collect::<Vec<_>>(), [2]);
}

#[test]
fn version_change_is_an_event() {
    let t = Clock(Instant::now());
    let mut table = MembershipTable::new();
    let group = v4("239.1.2.3");
    table.observe_igmp(IF, v4("10.0.0.2"), &IgmpRepr::ReportV2 { group }, t.at(0));
    let join_v3 = report_v3(vec![record(RecordType::ModeIsExclude, "239.1.2.3", &[])]);
    let events = table.observe_igmp(IF, v4("10.0.0.2"), &join_v3, t.at(10));
    let [Event::Changed { old, new, .. }] = &events[..] else { panic!("{events:?}") };
    assert_eq!(old.protocol, Protocol::Igmp(IgmpVersion::V2));
    assert_eq!(new.protocol, Protocol::Igmp(IgmpVersion::V3));
    assert_eq!(new.since, t.at(0));
}

#[test]
fn v3_source_filters() {
    let t = Clock(Instant::now());
    let mut table = MembershipTable::new();
    let host = v4("10.0.0.2");
    let key: IpAddr = v4("232.1.1.1").into();

    // Join (S1, G) in INCLUDE mode.
    let events = table.observe_igmp(
        IF,
        host,
        &report_v3(vec![record(RecordType::ChangeToInclude, "232.1.1.1", &["10.9.0.1"])]),
        t.at(0),
    );
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind(), "join");
    assert_eq!(table.get(IF, key).unwrap().sources, ips(&["10.9.0.1"]));

    // ALLOW and BLOCK in one report: two changes.
    let report = report_v3(vec![
        record(RecordType::AllowNewSources, "232.1.1.1", &["10.9.0.2", "10.9.0.3"]),
        record(RecordType::BlockOldSources, "232.1.1.1", &["10.9.0.1"]),
    ]);
    let events = table.observe_igmp(IF, host, &report, t.at(1));
    assert_eq!(events.iter().map(Event::kind).collect::<Vec<_>>(), ["change", "change"]);
    let entry = table.get(IF, key).unwrap();
    assert_eq!((entry.mode, &entry.sources), (FilterMode::Include, &ips(&["10.9.0.2", "10.9.0.3"])));

    // The current-state record repeats what is known: nothing to say.
    let same = report_v3(vec![record(RecordType::ModeIsInclude, "232.1.1.1", &["10.9.0.3", "10.9.0.2"])]);
    assert!(table.observe_igmp(IF, host, &same, t.at(2)).is_empty());

    // Switch to EXCLUDE {10.9.0.3}, then BLOCK adds to and ALLOW removes from the exclude list.
    table.observe_igmp(
        IF,
        host,
        &report_v3(vec![record(RecordType::ChangeToExclude, "232.1.1.1", &["10.9.0.3"])]),
        t.at(3),
    );
    table.observe_igmp(
        IF,
        host,
        &report_v3(vec![record(RecordType::BlockOldSources, "232.1.1.1", &["10.9.0.4"])]),
        t.at(4),
    );
    assert_eq!(table.get(IF, key).unwrap().sources, ips(&["10.9.0.3", "10.9.0.4"]));
    table.observe_igmp(
        IF,
        host,
        &report_v3(vec![record(RecordType::AllowNewSources, "232.1.1.1", &["10.9.0.3"])]),
        t.at(5),
    );
    let entry = table.get(IF, key).unwrap();
    assert_eq!((entry.mode, &entry.sources), (FilterMode::Exclude, &ips(&["10.9.0.4"])));

    // TO_IN({}) is the v3 leave.
    let events =
        table.observe_igmp(IF, host, &report_v3(vec![record(RecordType::ChangeToInclude, "232.1.1.1", &[])]), t.at(6));
    assert_eq!(events.iter().map(Event::kind).collect::<Vec<_>>(), ["leave"]);
    assert!(table.is_empty());
}

#[test]
fn blocking_the_last_included_source_leaves() {
    let t = Clock(Instant::now());
    let mut table = MembershipTable::new();
    let host = v4("10.0.0.2");
    table.observe_igmp(
        IF,
        host,
        &report_v3(vec![record(RecordType::ModeIsInclude, "232.1.1.1", &["10.9.0.1"])]),
        t.at(0),
    );
    let events = table.observe_igmp(
        IF,
        host,
        &report_v3(vec![record(RecordType::BlockOldSources, "232.1.1.1", &["10.9.0.1"])]),
        t.at(1),
    );
    assert_eq!(events.iter().map(Event::kind).collect::<Vec<_>>(), ["leave"]);
    // BLOCK for a group the table does not know, ALLOW of nothing: no state, no event.
    let nothing = report_v3(vec![
        record(RecordType::BlockOldSources, "232.1.1.1", &["10.9.0.1"]),
        record(RecordType::AllowNewSources, "232.1.1.2", &[]),
        record(RecordType::Unknown(9), "232.1.1.3", &[]),
    ]);
    assert!(table.observe_igmp(IF, host, &nothing, t.at(2)).is_empty());
    assert!(table.is_empty());
}

#[test]
fn queries_change_nothing() {
    let t = Clock(Instant::now());
    let mut table = MembershipTable::new();
    for query in [IgmpRepr::QueryV1, IgmpRepr::QueryV3(igmp::Query::general())] {
        assert!(table.observe_igmp(IF, v4("10.0.0.1"), &query, t.at(0)).is_empty());
    }
    assert!(table
        .observe_mld(IF, v6("fe80::1"), &MldRepr::QueryV2(crate::wire::mld::Query::general()), t.at(0))
        .is_empty());
    assert!(table.is_empty());
}

#[test]
fn v1_memberships_expire() {
    let t = Clock(Instant::now());
    let mut table = MembershipTable::new();
    table.observe_igmp(IF, v4("10.0.0.2"), &IgmpRepr::ReportV1 { group: v4("239.1.1.1") }, t.at(0));
    table.observe_igmp(IF, v4("10.0.0.2"), &IgmpRepr::ReportV1 { group: v4("239.1.1.2") }, t.at(100));
    assert!(table.expire(t.at(260), MEMBERSHIP_INTERVAL).is_empty());
    let events = table.expire(t.at(261), MEMBERSHIP_INTERVAL);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind(), "expire");
    assert_eq!(events[0].key().group, IpAddr::from(v4("239.1.1.1")));
    assert_eq!(table.len(), 1);
    // A clock that seems to run backwards expires nothing.
    assert!(table.expire(t.at(0), MEMBERSHIP_INTERVAL).is_empty());
}

#[test]
fn mld_join_and_done() {
    let t = Clock(Instant::now());
    let mut table = MembershipTable::new();
    let group = v6("ff15::1234");
    let events = table.observe_mld(IF, v6("fe80::2"), &MldRepr::ReportV1 { group }, t.at(0));
    let [Event::Joined { entry, .. }] = &events[..] else { panic!("{events:?}") };
    assert_eq!(entry.protocol, Protocol::Mld(MldVersion::V1));
    let v2 = MldRepr::ReportV2(vec![GroupRecord {
        record_type: RecordType::ModeIsExclude,
        group,
        sources: vec![v6("2001:db8::1")],
    }]);
    let events = table.observe_mld(IF, v6("fe80::2"), &v2, t.at(1));
    let [Event::Changed { new, .. }] = &events[..] else { panic!("{events:?}") };
    assert_eq!((new.protocol, new.mode), (Protocol::Mld(MldVersion::V2), FilterMode::Exclude));
    assert_eq!(new.sources, ips(&["2001:db8::1"]));
    assert_eq!(
        events[0].to_string(),
        "change ff15::1234 ifindex 2: MLDv2 EXCLUDE {2001:db8::1} reporter fe80::2 (was MLDv1 EXCLUDE {})"
    );
    let events = table.observe_mld(IF, v6("fe80::2"), &MldRepr::Done { group }, t.at(2));
    assert_eq!(events.iter().map(Event::kind).collect::<Vec<_>>(), ["leave"]);
    assert!(table.is_empty());
}
