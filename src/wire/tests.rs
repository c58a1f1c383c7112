//! Messages exactly as the Linux kernel sent them on a veth link between two namespaces (hosts 10.99.0.1 and
//! 10.99.0.2 joining and leaving groups), parsed, rebuilt byte for byte, and fed to the membership table.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use super::*;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// 10.99.0.1 joins 239.1.2.3: IPv4 header with TOS 0xc0, DF, TTL 1, Router Alert; an IGMPv3 report with one
/// CHANGE_TO_EXCLUDE_MODE record and no sources, to 224.0.0.22.
const LINUX_V3_JOIN: &str = "46c00028000040000102f9950a630001e0000016940400002200e8f90000000104000000ef010203";
/// 10.99.0.1 leaves 239.1.2.3: CHANGE_TO_INCLUDE_MODE with no sources.
const LINUX_V3_LEAVE: &str = "46c00028000040000102f9950a630001e0000016940400002200e9f90000000103000000ef010203";
/// 10.99.0.2's own report for the all-routers and all-v3-routers groups it joined: two records.
const LINUX_V3_TWO_RECORDS: &str =
    "46c00030000040000102f98c0a630002e000001694040000220015e40000000204000000e000000204000000e0000016";

#[test]
fn linux_igmpv3_join_deconstruct() {
    let (ip, igmp) = parse_igmp_datagram(&unhex(LINUX_V3_JOIN)).unwrap();
    assert_eq!((ip.src, ip.dst), (Ipv4Addr::new(10, 99, 0, 1), igmp::ALL_V3_ROUTERS));
    assert_eq!((ip.ttl, ip.tos, ip.dont_frag, ip.router_alert()), (1, 0xc0, true, Some(0)));
    let IgmpRepr::ReportV3(records) = &igmp else { panic!("{igmp:?}") };
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].record_type, RecordType::ChangeToExclude);
    assert_eq!(records[0].group, Ipv4Addr::new(239, 1, 2, 3));
    assert!(records[0].sources.is_empty());
}

#[test]
fn linux_igmpv3_join_construct() {
    let join = IgmpRepr::ReportV3(vec![GroupRecord {
        record_type: RecordType::ChangeToExclude,
        group: Ipv4Addr::new(239, 1, 2, 3),
        sources: vec![],
    }]);
    let bytes = igmp_datagram(Ipv4Addr::new(10, 99, 0, 1), igmp::ALL_V3_ROUTERS, &join).unwrap();
    assert_eq!(bytes, unhex(LINUX_V3_JOIN));
}

#[test]
fn linux_igmpv3_two_records() {
    let (ip, igmp) = parse_igmp_datagram(&unhex(LINUX_V3_TWO_RECORDS)).unwrap();
    assert_eq!(ip.src, Ipv4Addr::new(10, 99, 0, 2));
    let IgmpRepr::ReportV3(records) = &igmp else { panic!("{igmp:?}") };
    let groups: Vec<_> = records.iter().map(|r| (r.record_type, r.group)).collect();
    assert_eq!(
        groups,
        [(RecordType::ChangeToExclude, igmp::ALL_ROUTERS), (RecordType::ChangeToExclude, igmp::ALL_V3_ROUTERS)]
    );
    assert_eq!(igmp_datagram(ip.src, ip.dst, &igmp).unwrap(), unhex(LINUX_V3_TWO_RECORDS));
}

#[test]
fn linux_igmpv3_join_and_leave_in_the_table() {
    let mut table = MembershipTable::new();
    let now = Instant::now();
    for (hex, kind) in [(LINUX_V3_JOIN, "join"), (LINUX_V3_JOIN, ""), (LINUX_V3_LEAVE, "leave")] {
        let (ip, igmp) = parse_igmp_datagram(&unhex(hex)).unwrap();
        let events = table.observe_igmp(3, ip.src, &igmp, now);
        assert_eq!(events.iter().map(Event::kind).collect::<String>(), kind);
        if let [Event::Joined { key, entry }] = &events[..] {
            assert_eq!(*key, Key { iface: 3, group: IpAddr::V4(Ipv4Addr::new(239, 1, 2, 3)) });
            assert_eq!((entry.protocol, entry.mode), (Protocol::Igmp(IgmpVersion::V3), FilterMode::Exclude));
        }
    }
    assert!(table.is_empty());
}

/// fe80::3cdd:3ff:feed:7af8 starts listening to ff15::1234: an MLDv2 report to ff02::16 (the ICMPv6 part, as a
/// raw socket receives it).
const LINUX_MLDV2_JOIN: &str = "8f00a3010000000104000000ff150000000000000000000000001234";
/// And stops: CHANGE_TO_INCLUDE_MODE with no sources.
const LINUX_MLDV2_LEAVE: &str = "8f00a4010000000103000000ff150000000000000000000000001234";
/// A report sent before the interface had a link-local address: source ::, two records.
const LINUX_MLDV2_UNSPECIFIED_SOURCE: &str = "8f006b5c0000000204000000ff020000000000000000000000000002\
                                              04000000ff020000000000000000000000000016";

fn linux_host() -> Ipv6Addr {
    "fe80::3cdd:3ff:feed:7af8".parse().unwrap()
}

#[test]
fn linux_mldv2_join_deconstruct() {
    let bytes = unhex(LINUX_MLDV2_JOIN);
    let packet = MldPacket::new_checked(&bytes[..]).unwrap();
    let repr = MldRepr::parse(&packet, &linux_host(), &mld::ALL_MLDV2_ROUTERS).unwrap();
    let MldRepr::ReportV2(records) = &repr else { panic!("{repr:?}") };
    assert_eq!(records[0].record_type, RecordType::ChangeToExclude);
    assert_eq!(records[0].group, "ff15::1234".parse::<Ipv6Addr>().unwrap());
    // The checksum binds the message to its addresses.
    assert!(matches!(
        MldRepr::parse(&packet, &Ipv6Addr::UNSPECIFIED, &mld::ALL_MLDV2_ROUTERS),
        Err(Error::BadChecksum { found: 0xa301, .. })
    ));
}

#[test]
fn linux_mldv2_join_construct() {
    let bytes = unhex(LINUX_MLDV2_JOIN);
    let repr = MldRepr::parse(&MldPacket::new_checked(&bytes[..]).unwrap(), &linux_host(), &mld::ALL_MLDV2_ROUTERS);
    assert_eq!(repr.unwrap().to_bytes(&linux_host(), &mld::ALL_MLDV2_ROUTERS).unwrap(), bytes);
}

#[test]
fn linux_mldv2_from_the_unspecified_address() {
    let bytes = unhex(LINUX_MLDV2_UNSPECIFIED_SOURCE);
    let packet = MldPacket::new_checked(&bytes[..]).unwrap();
    let repr = MldRepr::parse(&packet, &Ipv6Addr::UNSPECIFIED, &mld::ALL_MLDV2_ROUTERS).unwrap();
    let MldRepr::ReportV2(records) = &repr else { panic!("{repr:?}") };
    assert_eq!(records.iter().map(|r| r.group).collect::<Vec<_>>(), [mld::ALL_ROUTERS, mld::ALL_MLDV2_ROUTERS]);
}

#[test]
fn linux_mldv2_join_and_leave_in_the_table() {
    let mut table = MembershipTable::new();
    let now = Instant::now();
    for (hex, kind) in [(LINUX_MLDV2_JOIN, "join"), (LINUX_MLDV2_LEAVE, "leave")] {
        let bytes = unhex(hex);
        let packet = MldPacket::new_checked(&bytes[..]).unwrap();
        let repr = MldRepr::parse(&packet, &linux_host(), &mld::ALL_MLDV2_ROUTERS).unwrap();
        let events = table.observe_mld(4, linux_host(), &repr, now);
        assert_eq!(events.iter().map(Event::kind).collect::<String>(), kind);
    }
    assert!(table.is_empty());
}
