//! The table under forged floods: caps on groups per interface and sources per group, the idlest group evicted
//! first and counted, an evicted group coming back.

use super::*;

const IF: u32 = 2;

fn group(n: u32) -> Ipv4Addr {
    Ipv4Addr::from(0xef64_0000 + n)
}

fn host() -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, 66)
}

/// One IGMPv3 report joining (EXCLUDE {}) every group in `groups`.
fn joins(groups: impl IntoIterator<Item = u32>) -> IgmpRepr {
    let record = |n| GroupRecord { record_type: RecordType::ChangeToExclude, group: group(n), sources: vec![] };
    IgmpRepr::ReportV3(groups.into_iter().map(record).collect())
}

/// `n` sources 10.9.x.y, from `first` on.
fn sources(first: u32, n: u32) -> Vec<Ipv4Addr> {
    (first..first + n).map(|i| Ipv4Addr::from(0x0a09_0000 + i)).collect()
}

fn record(record_type: RecordType, sources: Vec<Ipv4Addr>) -> IgmpRepr {
    IgmpRepr::ReportV3(vec![GroupRecord { record_type, group: group(0), sources }])
}

fn at(t0: Instant, secs: u64) -> Instant {
    t0 + Duration::from_secs(secs)
}

fn groups_on(table: &MembershipTable, iface: u32) -> Vec<u32> {
    table
        .iter()
        .filter(|(k, _)| k.iface == iface)
        .map(|(k, _)| match k.group {
            IpAddr::V4(g) => u32::from(g) - 0xef64_0000,
            IpAddr::V6(_) => u32::MAX,
        })
        .collect()
}

#[test]
fn the_defaults_are_documented_numbers() {
    assert_eq!(MembershipLimits::default(), MembershipLimits::new(4096, 64));
    assert_eq!(MembershipTable::new().limits(), MembershipLimits::new(DEFAULT_MAX_GROUPS, DEFAULT_MAX_SOURCES));
    // A cap of zero would make every INCLUDE membership a leave: at least one of each is kept.
    assert_eq!(MembershipLimits::new(0, 0), MembershipLimits::new(1, 1));
}

#[test]
fn a_flood_of_fresh_groups_keeps_the_cap_and_counts_each_eviction() {
    let t0 = Instant::now();
    let mut table = MembershipTable::with_limits(MembershipLimits::new(100, 8));
    let mut kinds = BTreeMap::<&str, usize>::new();
    // 100,000 groups in 50 reports of 2,000 records each, one second apart.
    for (i, chunk) in (0..100_000u32).collect::<Vec<_>>().chunks(2_000).enumerate() {
        for e in table.observe_igmp(IF, host(), &joins(chunk.iter().copied()), at(t0, i as u64)) {
            *kinds.entry(e.kind()).or_default() += 1;
        }
    }
    assert_eq!(table.len(), 100);
    assert_eq!(table.evicted(), 100_000 - 100);
    assert_eq!(kinds, BTreeMap::from([("evict", 99_900), ("join", 100_000)]));
    // What is left is the last hundred reported.
    assert_eq!(groups_on(&table, IF), (99_900..100_000).collect::<Vec<_>>());
}

#[test]
fn the_idlest_group_is_evicted_not_the_most_recently_refreshed() {
    let t0 = Instant::now();
    let mut table = MembershipTable::with_limits(MembershipLimits::new(3, 8));
    table.observe_igmp(IF, host(), &joins([0, 1, 2]), at(t0, 0));
    // 0 is refreshed by the same report (no event): 1 is now the idlest, then 2.
    assert!(table.observe_igmp(IF, host(), &joins([0]), at(t0, 5)).is_empty());
    let events = table.observe_igmp(IF, host(), &joins([3]), at(t0, 6));
    let [Event::Evicted { key, entry }, Event::Joined { key: joined, .. }] = &events[..] else { panic!("{events:?}") };
    assert_eq!((key.iface, key.group), (IF, IpAddr::V4(group(1))));
    assert_eq!((entry.since, entry.last_seen), (at(t0, 0), at(t0, 0)));
    assert_eq!(joined.group, IpAddr::V4(group(3)));
    assert_eq!(events[0].to_string(), "evict 239.100.0.1 ifindex 2: IGMPv3 EXCLUDE {} reporter 10.0.0.66");
    let events = table.observe_igmp(IF, host(), &joins([4]), at(t0, 7));
    assert_eq!(
        events.iter().map(|e| (e.kind(), e.key().group)).collect::<Vec<_>>(),
        [("evict", IpAddr::V4(group(2))), ("join", IpAddr::V4(group(4)))]
    );
    assert_eq!(groups_on(&table, IF), [0, 3, 4]);
    assert_eq!(table.evicted(), 2);
}

#[test]
fn an_evicted_group_that_reports_again_comes_back() {
    let t0 = Instant::now();
    let mut table = MembershipTable::with_limits(MembershipLimits::new(2, 8));
    table.observe_igmp(IF, host(), &joins([0, 1]), at(t0, 0));
    table.observe_igmp(IF, host(), &joins([2]), at(t0, 1));
    assert!(table.get(IF, group(0).into()).is_none());
    let events = table.observe_igmp(IF, host(), &joins([0]), at(t0, 2));
    assert_eq!(
        events.iter().map(|e| (e.kind(), e.key().group)).collect::<Vec<_>>(),
        [("evict", IpAddr::V4(group(1))), ("join", IpAddr::V4(group(0)))]
    );
    // Back as a new membership: its time starts again.
    assert_eq!(table.get(IF, group(0).into()).map(|e| e.since), Some(at(t0, 2)));
    assert_eq!(table.evicted(), 2);
    // A leave frees a place: the next group evicts nothing.
    let leave = record(RecordType::ChangeToInclude, vec![]);
    assert_eq!(
        table.observe_igmp(IF, host(), &leave, at(t0, 3)).iter().map(Event::kind).collect::<Vec<_>>(),
        ["leave"]
    );
    assert_eq!(
        table.observe_igmp(IF, host(), &joins([5]), at(t0, 4)).iter().map(Event::kind).collect::<Vec<_>>(),
        ["join"]
    );
    assert_eq!(table.evicted(), 2);
}

#[test]
fn each_interface_has_its_own_cap() {
    let t0 = Instant::now();
    let mut table = MembershipTable::with_limits(MembershipLimits::new(2, 8));
    table.observe_igmp(1, host(), &joins([0, 1]), at(t0, 0));
    // A flood on interface 2 evicts nothing on interface 1.
    table.observe_igmp(2, host(), &joins(10..20), at(t0, 1));
    assert_eq!(groups_on(&table, 1), [0, 1]);
    assert_eq!(groups_on(&table, 2), [18, 19]);
    assert_eq!((table.len(), table.evicted()), (4, 8));
}

#[test]
fn expiry_takes_the_longest_silent_and_frees_places() {
    let t0 = Instant::now();
    let mut table = MembershipTable::with_limits(MembershipLimits::new(3, 8));
    table.observe_igmp(IF, host(), &joins([0, 1]), at(t0, 0));
    table.observe_igmp(IF, host(), &joins([2]), at(t0, 100));
    table.observe_igmp(IF, host(), &joins([0]), at(t0, 200));
    let expired = table.expire(at(t0, 261), MEMBERSHIP_INTERVAL);
    assert_eq!(
        expired.iter().map(|e| (e.kind(), e.key().group)).collect::<Vec<_>>(),
        [("expire", IpAddr::V4(group(1)))]
    );
    assert_eq!(groups_on(&table, IF), [0, 2]);
    // Expiry is not eviction.
    assert_eq!(table.evicted(), 0);
}

#[test]
fn a_group_keeps_at_most_the_cap_of_sources() {
    let t0 = Instant::now();
    let mut table = MembershipTable::with_limits(MembershipLimits::new(8, 4));
    let g: IpAddr = group(0).into();
    // Ten sources reported, four kept: the lowest, since none was held before.
    let events = table.observe_igmp(IF, host(), &record(RecordType::ChangeToInclude, sources(0, 10)), at(t0, 0));
    let [Event::Joined { entry, .. }] = &events[..] else { panic!("{events:?}") };
    assert_eq!(entry.sources, sources(0, 4).into_iter().map(IpAddr::from).collect());
    assert!(entry.sources_capped);
    assert_eq!(table.sources_left_out(), 6);
    assert_eq!(
        events[0].to_string(),
        format!(
            "join 239.100.0.0 ifindex 2: IGMPv3 INCLUDE {{10.9.0.0, 10.9.0.1, 10.9.0.2, 10.9.0.3, ...}} reporter {}",
            host()
        )
    );

    // The same report again changes nothing: the same four are kept.
    assert!(table.observe_igmp(IF, host(), &record(RecordType::ModeIsInclude, sources(0, 10)), at(t0, 1)).is_empty());
    assert_eq!(table.sources_left_out(), 12);

    // ALLOW of lower addresses: those held stay, the new ones are left out, the entry stays capped.
    let allow = record(RecordType::AllowNewSources, vec![Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)]);
    assert!(table.observe_igmp(IF, host(), &allow, at(t0, 2)).is_empty());
    assert_eq!(table.get(IF, g).map(|e| e.sources.len()), Some(4));
    assert_eq!(table.sources_left_out(), 14);

    // BLOCK of two held ones leaves room, but some sources are still unknown: capped stays on.
    let block = record(RecordType::BlockOldSources, sources(0, 2));
    let events = table.observe_igmp(IF, host(), &block, at(t0, 3));
    let [Event::Changed { new, .. }] = &events[..] else { panic!("{events:?}") };
    assert_eq!(new.sources, sources(2, 2).into_iter().map(IpAddr::from).collect());
    assert!(new.sources_capped);

    // A full state within the cap clears it.
    let events = table.observe_igmp(IF, host(), &record(RecordType::ModeIsInclude, sources(2, 2)), at(t0, 4));
    let [Event::Changed { old, new, .. }] = &events[..] else { panic!("{events:?}") };
    assert!(old.sources_capped && !new.sources_capped);
    assert_eq!(new.sources, old.sources);

    // An EXCLUDE list is capped the same way.
    let events = table.observe_igmp(IF, host(), &record(RecordType::ChangeToExclude, sources(100, 50)), at(t0, 5));
    let [Event::Changed { new, .. }] = &events[..] else { panic!("{events:?}") };
    assert_eq!((new.mode, new.sources.len(), new.sources_capped), (FilterMode::Exclude, 4, true));
    assert_eq!(table.sources_left_out(), 14 + 46);
}

/// Groups × sources: a flood of groups with full source lists leaves exactly cap × cap sources behind.
#[test]
fn groups_and_sources_are_bounded_together() {
    let t0 = Instant::now();
    let mut table = MembershipTable::with_limits(MembershipLimits::new(16, 8));
    for n in 0..1_000u32 {
        let record = GroupRecord { record_type: RecordType::ModeIsInclude, group: group(n), sources: sources(n, 100) };
        table.observe_igmp(IF, host(), &IgmpRepr::ReportV3(vec![record]), at(t0, u64::from(n)));
    }
    assert_eq!(table.len(), 16);
    assert_eq!(table.iter().map(|(_, e)| e.sources.len()).sum::<usize>(), 16 * 8);
    assert!(table.iter().all(|(_, e)| e.sources_capped));
    assert_eq!((table.evicted(), table.sources_left_out()), (1_000 - 16, 1_000 * 92));
}

#[test]
fn mld_floods_are_capped_too() {
    let t0 = Instant::now();
    let mut table = MembershipTable::with_limits(MembershipLimits::new(10, 2));
    let record = |n: u16| GroupRecord {
        record_type: RecordType::ChangeToExclude,
        group: Ipv6Addr::new(0xff05, 0, 0, 0, 0, 0, 0, n),
        sources: vec![
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2),
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 3),
        ],
    };
    let report = MldRepr::ReportV2((0..1_000).map(record).collect());
    let events = table.observe_mld(IF, "fe80::66".parse().unwrap(), &report, t0);
    assert_eq!(events.iter().filter(|e| e.kind() == "evict").count(), 990);
    assert_eq!((table.len(), table.evicted(), table.sources_left_out()), (10, 990, 1_000));
    let kept: Vec<IpAddr> = table.iter().map(|(k, _)| k.group).collect();
    let last: Vec<IpAddr> = (990..1_000).map(|n| IpAddr::V6(Ipv6Addr::new(0xff05, 0, 0, 0, 0, 0, 0, n))).collect();
    assert_eq!(kept, last);
}
