//! Each message type as a fixed byte array laid out by hand from the RFC, with its ICMPv6 checksum for the
//! addresses it is sent between, parsed (`_deconstruct`) and built (`_construct`).

use super::*;
use crate::wire::record::RecordType;

fn ip(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn parse(bytes: &[u8], src: &str, dst: &str) -> Result<Repr> {
    Repr::parse(&Packet::new_checked(bytes)?, &ip(src), &ip(dst))
}

fn construct(repr: &Repr, src: &str, dst: &str, expected: &[u8]) {
    assert_eq!(repr.buffer_len(), expected.len());
    let mut buf = vec![0xa5u8; expected.len() + 3];
    repr.emit(&mut Packet::new_unchecked(&mut buf[..]), &ip(src), &ip(dst)).unwrap();
    assert_eq!(&buf[..expected.len()], expected);
    assert_eq!(&buf[expected.len()..], &[0xa5; 3]);
    assert_eq!(repr.to_bytes(&ip(src), &ip(dst)).unwrap(), expected);
}

/// RFC 2710 §3: general query from fe80::1 to ff02::1, Maximum Response Delay 10000 ms.
static V1_QUERY: [u8; 24] = [
    0x82, 0x00, 0x59, 0x17, 0x27, 0x10, 0x00, 0x00, // type 130, code, checksum, delay 10000, reserved
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // group ::
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

#[test]
fn v1_query_deconstruct() {
    let packet = Packet::new_checked(&V1_QUERY[..]).unwrap();
    assert_eq!(packet.msg_type(), message_type::QUERY);
    assert_eq!(packet.max_resp_code(), 10_000);
    assert!(packet.verify_checksum(&ip("fe80::1"), &ip("ff02::1")));
    assert!(!packet.verify_checksum(&ip("fe80::2"), &ip("ff02::1")));
    let repr = Repr::parse(&packet, &ip("fe80::1"), &ip("ff02::1")).unwrap();
    assert_eq!(repr, Repr::QueryV1 { max_resp_delay: 10_000, group: Ipv6Addr::UNSPECIFIED });
    assert_eq!(repr.version(), Version::V1);
    assert_eq!(repr.max_resp_time(), Some(Duration::from_secs(10)));
}

#[test]
fn v1_query_construct() {
    let repr = Repr::QueryV1 { max_resp_delay: 10_000, group: Ipv6Addr::UNSPECIFIED };
    construct(&repr, "fe80::1", "ff02::1", &V1_QUERY);
}

/// RFC 2710 §3: report for ff15::1234 from fe80::2, sent to the group itself.
static V1_REPORT: [u8; 24] = [
    0x83, 0x00, 0x5b, 0x96, 0x00, 0x00, 0x00, 0x00, // type 131
    0xff, 0x15, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ff15::1234
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34,
];

#[test]
fn v1_report_deconstruct() {
    let packet = Packet::new_checked(&V1_REPORT[..]).unwrap();
    assert_eq!(packet.group_addr(), ip("ff15::1234"));
    let repr = Repr::parse(&packet, &ip("fe80::2"), &ip("ff15::1234")).unwrap();
    assert_eq!(repr, Repr::ReportV1 { group: ip("ff15::1234") });
}

#[test]
fn v1_report_construct() {
    construct(&Repr::ReportV1 { group: ip("ff15::1234") }, "fe80::2", "ff15::1234", &V1_REPORT);
}

/// RFC 2710 §3: done for ff15::1234 from fe80::2 to all-routers.
static V1_DONE: [u8; 24] = [
    0x84, 0x00, 0x6c, 0xdb, 0x00, 0x00, 0x00, 0x00, // type 132
    0xff, 0x15, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ff15::1234
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34,
];

#[test]
fn v1_done_deconstruct() {
    assert_eq!(parse(&V1_DONE, "fe80::2", "ff02::2").unwrap(), Repr::Done { group: ip("ff15::1234") });
}

#[test]
fn v1_done_construct() {
    construct(&Repr::Done { group: ip("ff15::1234") }, "fe80::2", "ff02::2", &V1_DONE);
}

/// RFC 3810 §5.1: general query, Maximum Response Code 10000, S 0, QRV 2, QQIC 125.
static V2_QUERY: [u8; 28] = [
    0x82, 0x00, 0x56, 0x96, 0x27, 0x10, 0x00, 0x00, // type 130, code, checksum, max resp 10000, reserved
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // group ::
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
    0x02, 0x7d, 0x00, 0x00, // S=0 QRV=2, QQIC 125, 0 sources
];

#[test]
fn v2_query_deconstruct() {
    let packet = Packet::new_checked(&V2_QUERY[..]).unwrap();
    assert_eq!(query_version(packet.len()), Some(Version::V2));
    assert_eq!(packet.qrv(), 2);
    assert_eq!(packet.qqic(), 125);
    let Repr::QueryV2(query) = Repr::parse(&packet, &ip("fe80::1"), &ip("ff02::1")).unwrap() else {
        panic!("not a v2 query")
    };
    assert_eq!(query, Query::general());
    assert_eq!(query.max_resp_time(), Duration::from_secs(10));
    assert_eq!(query.query_interval(), Duration::from_secs(125));
}

#[test]
fn v2_query_construct() {
    construct(&Repr::QueryV2(Query::general()), "fe80::1", "ff02::1", &V2_QUERY);
}

/// RFC 3810 §5.1: source-specific query for 2001:db8::1 in ff3e::8000:1, Maximum Response Code 0x8388
/// (exp 0, mant 0x388: 0x1388 << 3 = 40000 ms).
static V2_SOURCE_QUERY: [u8; 44] = [
    0x82, 0x00, 0xcc, 0xd5, 0x83, 0x88, 0x00, 0x00, // type 130, checksum, max resp code 0x8388
    0xff, 0x3e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ff3e::8000:1
    0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x01, //
    0x02, 0x7d, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, // S=0 QRV=2, QQIC 125, 1 source: 2001:db8::1
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
    0x00, 0x00, 0x00, 0x01,
];

fn source_query() -> Query {
    Query {
        max_resp_code: 0x8388,
        group: ip("ff3e::8000:1"),
        suppress: false,
        qrv: 2,
        qqic: 125,
        sources: vec![ip("2001:db8::1")],
    }
}

#[test]
fn v2_source_query_deconstruct() {
    let packet = Packet::new_checked(&V2_SOURCE_QUERY[..]).unwrap();
    assert_eq!(packet.sources().collect::<Vec<_>>(), [ip("2001:db8::1")]);
    let repr = Repr::parse(&packet, &ip("fe80::1"), &ip("ff3e::8000:1")).unwrap();
    assert_eq!(repr, Repr::QueryV2(source_query()));
    assert_eq!(repr.max_resp_time(), Some(Duration::from_secs(40)));
}

#[test]
fn v2_source_query_construct() {
    construct(&Repr::QueryV2(source_query()), "fe80::1", "ff3e::8000:1", &V2_SOURCE_QUERY);
    assert_eq!(Query::max_resp_code_for(Duration::from_secs(40)), 0x8388);
}

/// RFC 3810 §5.2: joining ff15::1234 for any source: CHANGE_TO_EXCLUDE_MODE with no sources, to ff02::16.
static V2_REPORT_JOIN: [u8; 28] = [
    0x8f, 0x00, 0x5d, 0xc2, 0x00, 0x00, 0x00, 0x01, // type 143, checksum, 1 record
    0x04, 0x00, 0x00, 0x00, 0xff, 0x15, 0x00, 0x00, // CHANGE_TO_EXCLUDE_MODE, 0 sources, ff15::1234
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
    0x00, 0x00, 0x12, 0x34,
];

fn join() -> Repr {
    Repr::ReportV2(vec![GroupRecord {
        record_type: RecordType::ChangeToExclude,
        group: ip("ff15::1234"),
        sources: vec![],
    }])
}

#[test]
fn v2_report_join_deconstruct() {
    let packet = Packet::new_checked(&V2_REPORT_JOIN[..]).unwrap();
    assert_eq!(packet.num_records(), 1);
    let repr = Repr::parse(&packet, &ip("fe80::2"), &ip("ff02::16")).unwrap();
    assert_eq!(repr, join());
    assert_eq!(repr.version(), Version::V2);
}

#[test]
fn v2_report_join_construct() {
    construct(&join(), "fe80::2", "ff02::16", &V2_REPORT_JOIN);
}

/// RFC 3810 §5.2: listening to ff3e::8000:1 from 2001:db8::1 only: MODE_IS_INCLUDE with one source.
static V2_REPORT_INCLUDE: [u8; 44] = [
    0x8f, 0x00, 0xc5, 0x00, 0x00, 0x00, 0x00, 0x01, // type 143, checksum, 1 record
    0x01, 0x00, 0x00, 0x01, 0xff, 0x3e, 0x00, 0x00, // MODE_IS_INCLUDE, 1 source, ff3e::8000:1
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
    0x80, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, // 2001:db8::1
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
    0x00, 0x00, 0x00, 0x01,
];

fn include() -> Repr {
    Repr::ReportV2(vec![GroupRecord {
        record_type: RecordType::ModeIsInclude,
        group: ip("ff3e::8000:1"),
        sources: vec![ip("2001:db8::1")],
    }])
}

#[test]
fn v2_report_include_deconstruct() {
    let packet = Packet::new_checked(&V2_REPORT_INCLUDE[..]).unwrap();
    let record = packet.records().next().unwrap().unwrap();
    assert_eq!(record.record_type(), RecordType::ModeIsInclude);
    assert_eq!(record.sources().collect::<Vec<_>>(), [ip("2001:db8::1")]);
    assert_eq!(Repr::parse(&packet, &ip("fe80::2"), &ip("ff02::16")).unwrap(), include());
}

#[test]
fn v2_report_include_construct() {
    construct(&include(), "fe80::2", "ff02::16", &V2_REPORT_INCLUDE);
}

#[test]
fn version_detection_rfc3810_8_1() {
    assert_eq!(query_version(24), Some(Version::V1));
    assert_eq!(query_version(28), Some(Version::V2));
    assert_eq!(query_version(60), Some(Version::V2));
    for len in [0, 23, 25, 26, 27] {
        assert_eq!(query_version(len), None, "length {len}");
    }
    let mut bytes = V2_QUERY;
    let ragged = &mut bytes[..26];
    Packet::new_unchecked(&mut ragged[..]).fill_checksum(&ip("fe80::1"), &ip("ff02::1"));
    assert_eq!(
        parse(ragged, "fe80::1", "ff02::1"),
        Err(Error::BadLength { what: "MLD query (24 or at least 28 bytes)", len: 26 })
    );
}

#[test]
fn bad_checksum() {
    let err = parse(&V1_DONE, "fe80::3", "ff02::2").unwrap_err();
    let Error::BadChecksum { found, expected } = err else { panic!("{err}") };
    assert_eq!(found, 0x6cdb);
    let mut fixed = V1_DONE;
    fixed[2..4].copy_from_slice(&expected.to_be_bytes());
    assert!(parse(&fixed, "fe80::3", "ff02::2").is_ok());
    // Without the addresses the checksum is not looked at.
    assert!(Repr::parse_unverified(&Packet::new_checked(&V1_DONE[..]).unwrap()).is_ok());
}

#[test]
fn other_icmpv6_types_are_named() {
    // An echo request is 8 bytes: long enough to see its type, not an MLD message.
    let mut echo = [128, 0, 0, 0, 0, 1, 0, 1];
    Packet::new_unchecked(&mut echo[..]).fill_checksum(&ip("fe80::1"), &ip("fe80::2"));
    assert_eq!(parse(&echo, "fe80::1", "fe80::2"), Err(Error::UnknownType(128)));
}

#[test]
fn short_messages() {
    assert_eq!(parse(&V1_DONE[..3], "fe80::2", "ff02::2"), Err(Error::Truncated { need: 4, have: 3 }));
    assert_eq!(parse(&V1_DONE[..20], "fe80::2", "ff02::2"), Err(Error::Truncated { need: 24, have: 20 }));
    assert_eq!(parse(&V2_REPORT_JOIN[..7], "fe80::2", "ff02::16"), Err(Error::Truncated { need: 8, have: 7 }));
}

#[test]
fn record_count_larger_than_the_packet() {
    let mut bytes = V2_REPORT_JOIN;
    bytes[7] = 2;
    assert_eq!(Packet::new_checked(&bytes[..]).unwrap_err(), Error::RecordCountTooLarge { count: 2, fit: 1 });
}

#[test]
fn source_count_larger_than_the_packet() {
    let mut bytes = V2_SOURCE_QUERY;
    bytes[27] = 2;
    assert_eq!(Packet::new_checked(&bytes[..]).unwrap_err(), Error::SourceCountTooLarge { count: 2, fit: 1 });
}

#[test]
fn groups_must_be_multicast() {
    let mut bytes = V1_REPORT;
    bytes[8] = 0x20;
    assert_eq!(
        Repr::parse_unverified(&Packet::new_checked(&bytes[..]).unwrap()),
        Err(Error::NotMulticast(ip("2015::1234").into()))
    );
}
