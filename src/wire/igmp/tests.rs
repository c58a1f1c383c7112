//! Each message type as a fixed byte array laid out by hand from the RFC, with its checksum, parsed
//! (`_deconstruct`) and built (`_construct`).

use super::*;
use crate::wire::record::RecordType;

fn g(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

fn parse(bytes: &[u8]) -> Result<Repr> {
    Repr::parse(&Packet::new_checked(bytes)?)
}

fn construct(repr: &Repr, expected: &[u8]) {
    assert_eq!(repr.buffer_len(), expected.len());
    // Emitting into a dirty, longer buffer writes exactly the message and leaves the rest alone.
    let mut buf = vec![0xa5u8; expected.len() + 3];
    repr.emit(&mut Packet::new_unchecked(&mut buf[..])).unwrap();
    assert_eq!(&buf[..expected.len()], expected);
    assert_eq!(&buf[expected.len()..], &[0xa5; 3]);
    assert_eq!(repr.to_bytes().unwrap(), expected);
}

/// RFC 1112: version 1, type 1 (query), unused byte, checksum, group zero.
static V1_QUERY: [u8; 8] = [0x11, 0x00, 0xee, 0xff, 0x00, 0x00, 0x00, 0x00];

#[test]
fn v1_query_deconstruct() {
    let packet = Packet::new_checked(&V1_QUERY[..]).unwrap();
    assert_eq!(packet.msg_type(), message_type::MEMBERSHIP_QUERY);
    assert_eq!(packet.max_resp_code(), 0);
    assert_eq!(packet.checksum(), 0xeeff);
    assert!(packet.verify_checksum());
    let repr = Repr::parse(&packet).unwrap();
    assert_eq!(repr, Repr::QueryV1);
    assert_eq!(repr.version(), Version::V1);
    assert_eq!(repr.max_resp_time(), Some(Duration::from_secs(10)));
}

#[test]
fn v1_query_construct() {
    construct(&Repr::QueryV1, &V1_QUERY);
}

/// RFC 1112: version 1, type 2 (report) for 239.1.2.3.
static V1_REPORT: [u8; 8] = [0x12, 0x00, 0xfc, 0xfa, 0xef, 0x01, 0x02, 0x03];

#[test]
fn v1_report_deconstruct() {
    let packet = Packet::new_checked(&V1_REPORT[..]).unwrap();
    assert_eq!(packet.msg_type(), message_type::V1_REPORT);
    assert_eq!(packet.group_addr(), g(239, 1, 2, 3));
    assert_eq!(Repr::parse(&packet).unwrap(), Repr::ReportV1 { group: g(239, 1, 2, 3) });
}

#[test]
fn v1_report_construct() {
    construct(&Repr::ReportV1 { group: g(239, 1, 2, 3) }, &V1_REPORT);
}

/// RFC 2236: general query, Max Resp Time 100 (10 s), as sent to 224.0.0.1.
static V2_QUERY: [u8; 8] = [0x11, 0x64, 0xee, 0x9b, 0x00, 0x00, 0x00, 0x00];

#[test]
fn v2_query_deconstruct() {
    let packet = Packet::new_checked(&V2_QUERY[..]).unwrap();
    assert_eq!(packet.max_resp_code(), 100);
    assert_eq!(query_version(packet.len(), packet.max_resp_code()), Some(Version::V2));
    let repr = Repr::parse(&packet).unwrap();
    assert_eq!(repr, Repr::QueryV2 { max_resp_time: 100, group: Ipv4Addr::UNSPECIFIED });
    assert_eq!(repr.max_resp_time(), Some(Duration::from_secs(10)));
    assert!(repr.is_query());
}

#[test]
fn v2_query_construct() {
    construct(&Repr::QueryV2 { max_resp_time: 100, group: Ipv4Addr::UNSPECIFIED }, &V2_QUERY);
}

/// RFC 2236: group-specific query for 239.1.2.3, Max Resp Time 10 (1 s, the last member query interval).
static V2_GROUP_QUERY: [u8; 8] = [0x11, 0x0a, 0xfd, 0xf0, 0xef, 0x01, 0x02, 0x03];

#[test]
fn v2_group_query_deconstruct() {
    assert_eq!(parse(&V2_GROUP_QUERY).unwrap(), Repr::QueryV2 { max_resp_time: 10, group: g(239, 1, 2, 3) });
}

#[test]
fn v2_group_query_construct() {
    construct(&Repr::QueryV2 { max_resp_time: 10, group: g(239, 1, 2, 3) }, &V2_GROUP_QUERY);
}

/// RFC 2236: Version 2 Membership Report for 239.1.2.3.
static V2_REPORT: [u8; 8] = [0x16, 0x00, 0xf8, 0xfa, 0xef, 0x01, 0x02, 0x03];

#[test]
fn v2_report_deconstruct() {
    let repr = parse(&V2_REPORT).unwrap();
    assert_eq!(repr, Repr::ReportV2 { group: g(239, 1, 2, 3) });
    assert_eq!(repr.version(), Version::V2);
    assert!(!repr.is_query());
}

#[test]
fn v2_report_construct() {
    construct(&Repr::ReportV2 { group: g(239, 1, 2, 3) }, &V2_REPORT);
}

/// RFC 2236: Leave Group for 239.1.2.3.
static V2_LEAVE: [u8; 8] = [0x17, 0x00, 0xf7, 0xfa, 0xef, 0x01, 0x02, 0x03];

#[test]
fn v2_leave_deconstruct() {
    assert_eq!(parse(&V2_LEAVE).unwrap(), Repr::Leave { group: g(239, 1, 2, 3) });
}

#[test]
fn v2_leave_construct() {
    construct(&Repr::Leave { group: g(239, 1, 2, 3) }, &V2_LEAVE);
}

/// RFC 3376 §4.1: general query, Max Resp Code 100, S 0, QRV 2, QQIC 125, no sources.
static V3_QUERY: [u8; 12] = [0x11, 0x64, 0xec, 0x1e, 0x00, 0x00, 0x00, 0x00, 0x02, 0x7d, 0x00, 0x00];

#[test]
fn v3_query_deconstruct() {
    let packet = Packet::new_checked(&V3_QUERY[..]).unwrap();
    assert_eq!(query_version(packet.len(), packet.max_resp_code()), Some(Version::V3));
    assert!(!packet.s_flag());
    assert_eq!(packet.qrv(), 2);
    assert_eq!(packet.qqic(), 125);
    assert_eq!(packet.num_sources(), 0);
    let Repr::QueryV3(query) = Repr::parse(&packet).unwrap() else { panic!("not a v3 query") };
    assert_eq!(query, Query::general());
    assert_eq!(query.max_resp_time(), Duration::from_secs(10));
    assert_eq!(query.query_interval(), Duration::from_secs(125));
}

#[test]
fn v3_query_construct() {
    construct(&Repr::QueryV3(Query::general()), &V3_QUERY);
}

/// RFC 3376 §4.1: group-and-source-specific query for (10.0.0.1, 10.0.0.2) in 232.1.1.1, Max Resp Code 0x8a
/// (exp 0, mant 0xa: 0x1a << 3 = 208, 20.8 s), S 1, QRV 2, QQIC 125.
static V3_SOURCE_QUERY: [u8; 20] = [
    0x11, 0x8a, 0xe6, 0xf0, // type, max resp code, checksum
    0xe8, 0x01, 0x01, 0x01, // 232.1.1.1
    0x0a, 0x7d, 0x00, 0x02, // S=1 QRV=2, QQIC 125, 2 sources
    0x0a, 0x00, 0x00, 0x01, // 10.0.0.1
    0x0a, 0x00, 0x00, 0x02, // 10.0.0.2
];

fn v3_source_query() -> Query {
    Query {
        max_resp_code: 0x8a,
        group: g(232, 1, 1, 1),
        suppress: true,
        qrv: 2,
        qqic: 125,
        sources: vec![g(10, 0, 0, 1), g(10, 0, 0, 2)],
    }
}

#[test]
fn v3_source_query_deconstruct() {
    let packet = Packet::new_checked(&V3_SOURCE_QUERY[..]).unwrap();
    assert!(packet.s_flag());
    assert_eq!(packet.sources().collect::<Vec<_>>(), [g(10, 0, 0, 1), g(10, 0, 0, 2)]);
    let repr = Repr::parse(&packet).unwrap();
    assert_eq!(repr, Repr::QueryV3(v3_source_query()));
    assert_eq!(repr.max_resp_time(), Some(Duration::from_millis(20_800)));
}

#[test]
fn v3_source_query_construct() {
    construct(&Repr::QueryV3(v3_source_query()), &V3_SOURCE_QUERY);
    assert_eq!(Query::max_resp_code_for(Duration::from_millis(20_800)), 0x8a);
    assert_eq!(Query::qqic_for(Duration::from_secs(125)), 125);
}

/// RFC 3376 §4.2: a host joining 239.1.2.3 for any source: one CHANGE_TO_EXCLUDE_MODE record, no sources.
static V3_REPORT_JOIN: [u8; 16] = [
    0x22, 0x00, 0xe8, 0xf9, // type, reserved, checksum
    0x00, 0x00, 0x00, 0x01, // reserved, 1 record
    0x04, 0x00, 0x00, 0x00, // CHANGE_TO_EXCLUDE_MODE, no aux data, 0 sources
    0xef, 0x01, 0x02, 0x03, // 239.1.2.3
];

fn join() -> Repr {
    Repr::ReportV3(vec![GroupRecord {
        record_type: RecordType::ChangeToExclude,
        group: g(239, 1, 2, 3),
        sources: vec![],
    }])
}

#[test]
fn v3_report_join_deconstruct() {
    let packet = Packet::new_checked(&V3_REPORT_JOIN[..]).unwrap();
    assert_eq!(packet.msg_type(), message_type::V3_REPORT);
    assert_eq!(packet.num_records(), 1);
    let record = packet.records().next().unwrap().unwrap();
    assert_eq!(record.record_type(), RecordType::ChangeToExclude);
    assert_eq!(record.group(), g(239, 1, 2, 3));
    let repr = Repr::parse(&packet).unwrap();
    assert_eq!(repr, join());
    assert_eq!(repr.version(), Version::V3);
}

#[test]
fn v3_report_join_construct() {
    construct(&join(), &V3_REPORT_JOIN);
}

/// RFC 3376 §4.2: source changes in 232.1.1.1: ALLOW_NEW_SOURCES(10.0.0.1), BLOCK_OLD_SOURCES(10.0.0.2).
static V3_REPORT_SOURCES: [u8; 32] = [
    0x22, 0x00, 0xec, 0xf2, 0x00, 0x00, 0x00, 0x02, // header, 2 records
    0x05, 0x00, 0x00, 0x01, 0xe8, 0x01, 0x01, 0x01, 0x0a, 0x00, 0x00, 0x01, // ALLOW 232.1.1.1 {10.0.0.1}
    0x06, 0x00, 0x00, 0x01, 0xe8, 0x01, 0x01, 0x01, 0x0a, 0x00, 0x00, 0x02, // BLOCK 232.1.1.1 {10.0.0.2}
];

fn source_changes() -> Repr {
    Repr::ReportV3(vec![
        GroupRecord { record_type: RecordType::AllowNewSources, group: g(232, 1, 1, 1), sources: vec![g(10, 0, 0, 1)] },
        GroupRecord { record_type: RecordType::BlockOldSources, group: g(232, 1, 1, 1), sources: vec![g(10, 0, 0, 2)] },
    ])
}

#[test]
fn v3_report_sources_deconstruct() {
    let packet = Packet::new_checked(&V3_REPORT_SOURCES[..]).unwrap();
    assert_eq!(packet.records().count(), 2);
    assert_eq!(Repr::parse(&packet).unwrap(), source_changes());
}

#[test]
fn v3_report_sources_construct() {
    construct(&source_changes(), &V3_REPORT_SOURCES);
}

#[test]
fn version_detection_rfc3376_7_1() {
    assert_eq!(query_version(8, 0), Some(Version::V1));
    assert_eq!(query_version(8, 1), Some(Version::V2));
    assert_eq!(query_version(12, 0), Some(Version::V3));
    assert_eq!(query_version(40, 100), Some(Version::V3));
    for len in [0, 7, 9, 10, 11] {
        assert_eq!(query_version(len, 100), None, "length {len}");
    }
    // A 10-byte query is ignored: parse says why.
    let mut ten = [0x11, 0x64, 0, 0, 0, 0, 0, 0, 0, 0];
    Packet::new_unchecked(&mut ten[..]).fill_checksum();
    assert_eq!(parse(&ten), Err(Error::BadLength { what: "IGMP query (8 or at least 12 bytes)", len: 10 }));
}

#[test]
fn bad_checksum() {
    let mut bytes = V2_REPORT;
    bytes[3] = 0xfb;
    assert_eq!(parse(&bytes), Err(Error::BadChecksum { expected: 0xf8fa, found: 0xf8fb }));
}

#[test]
fn short_messages() {
    assert_eq!(parse(&V2_REPORT[..7]), Err(Error::Truncated { need: 8, have: 7 }));
    assert_eq!(parse(&[]), Err(Error::Truncated { need: 8, have: 0 }));
}

#[test]
fn unknown_type() {
    // 0x13 is DVMRP, which shares IGMP's protocol number but is not a membership message.
    let mut bytes = [0x13, 0, 0, 0, 0, 0, 0, 0];
    Packet::new_unchecked(&mut bytes[..]).fill_checksum();
    assert_eq!(parse(&bytes), Err(Error::UnknownType(0x13)));
}

#[test]
fn groups_must_be_multicast() {
    let mut bytes = [0x16, 0, 0, 0, 10, 1, 2, 3];
    Packet::new_unchecked(&mut bytes[..]).fill_checksum();
    assert_eq!(parse(&bytes), Err(Error::NotMulticast(g(10, 1, 2, 3).into())));
    let mut query = [0x11, 0x64, 0, 0, 10, 1, 2, 3];
    Packet::new_unchecked(&mut query[..]).fill_checksum();
    assert_eq!(parse(&query), Err(Error::NotMulticast(g(10, 1, 2, 3).into())));
}

#[test]
fn v3_record_count_larger_than_the_packet() {
    let mut bytes = V3_REPORT_JOIN;
    bytes[7] = 5;
    Packet::new_unchecked(&mut bytes[..]).fill_checksum();
    assert_eq!(parse(&bytes), Err(Error::RecordCountTooLarge { count: 5, fit: 1 }));
}

#[test]
fn v3_query_source_count_larger_than_the_packet() {
    let mut bytes = V3_SOURCE_QUERY;
    bytes[11] = 3;
    assert_eq!(parse(&bytes), Err(Error::SourceCountTooLarge { count: 3, fit: 2 }));
}

#[test]
fn unencodable_queries() {
    let mut query = Query::general();
    query.qrv = 8;
    assert_eq!(Repr::QueryV3(query).to_bytes(), Err(Error::Unencodable("a QRV above 7")));
    let mut short = [0u8; 11];
    let err = Repr::QueryV3(Query::general()).emit(&mut Packet::new_unchecked(&mut short[..]));
    assert_eq!(err, Err(Error::Truncated { need: 12, have: 11 }));
}

#[test]
fn trailing_bytes_after_a_v3_query_are_ignored() {
    // RFC 3376 §4.1.10: extra bytes past the sources are not an error (the checksum covers them).
    let mut bytes = V3_QUERY.to_vec();
    bytes.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    Packet::new_unchecked(&mut bytes[..]).fill_checksum();
    assert_eq!(parse(&bytes).unwrap(), Repr::QueryV3(Query::general()));
}

#[test]
fn unchecked_views_are_checked_again() {
    // A view made without new_checked still cannot yield a shortened query.
    let mut bytes = V3_SOURCE_QUERY;
    bytes[11] = 3;
    Packet::new_unchecked(&mut bytes[..]).fill_checksum();
    let unchecked = Packet::new_unchecked(&bytes[..]);
    assert_eq!(unchecked.sources().count(), 2);
    assert_eq!(Repr::parse(&unchecked), Err(Error::SourceCountTooLarge { count: 3, fit: 2 }));
    assert_eq!(Repr::parse(&Packet::new_unchecked(&V2_REPORT[..5])), Err(Error::Truncated { need: 8, have: 5 }));
}
