//! Group records laid out by hand from RFC 3376 §4.2.4, and the ways their counts can lie.

use super::*;

static RECORD_V4: [u8; 16] = [
    0x01, 0x00, 0x00, 0x02, // MODE_IS_INCLUDE, no aux data, 2 sources
    0xe8, 0x01, 0x01, 0x01, // 232.1.1.1
    0x0a, 0x00, 0x00, 0x01, // 10.0.0.1
    0x0a, 0x00, 0x00, 0x02, // 10.0.0.2
];

fn record_v4() -> GroupRecord<Ipv4Addr> {
    GroupRecord {
        record_type: RecordType::ModeIsInclude,
        group: Ipv4Addr::new(232, 1, 1, 1),
        sources: vec![Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)],
    }
}

#[test]
fn record_deconstruct() {
    let packet = RecordPacket::<_, Ipv4Addr>::new_checked(&RECORD_V4[..]).unwrap();
    assert_eq!(packet.record_type(), RecordType::ModeIsInclude);
    assert_eq!(packet.num_sources(), 2);
    assert_eq!(packet.total_len(), 16);
    assert_eq!(packet.aux_data(), &[] as &[u8]);
    assert_eq!(GroupRecord::parse(&packet).unwrap(), record_v4());
}

#[test]
fn record_construct() {
    let mut bytes = [0xa5u8; 16];
    record_v4().emit(&mut RecordPacket::new_unchecked(&mut bytes[..])).unwrap();
    assert_eq!(bytes, RECORD_V4);
    let mut short = [0u8; 15];
    assert_eq!(
        record_v4().emit(&mut RecordPacket::new_unchecked(&mut short[..])),
        Err(Error::Truncated { need: 16, have: 15 })
    );
}

#[test]
fn aux_data_is_checked_and_skipped() {
    let mut bytes = RECORD_V4.to_vec();
    bytes[1] = 1;
    let err = RecordPacket::<_, Ipv4Addr>::new_checked(&bytes[..]).unwrap_err();
    assert_eq!(err, Error::Truncated { need: 20, have: 16 });
    bytes.extend_from_slice(&[1, 2, 3, 4]);
    let packet = RecordPacket::<_, Ipv4Addr>::new_checked(&bytes[..]).unwrap();
    assert_eq!(packet.aux_data(), &[1, 2, 3, 4]);
    assert_eq!(GroupRecord::parse(&packet).unwrap(), record_v4());
}

#[test]
fn too_many_sources() {
    let mut bytes = RECORD_V4;
    bytes[3] = 3;
    let err = RecordPacket::<_, Ipv4Addr>::new_checked(&bytes[..]).unwrap_err();
    assert_eq!(err, Error::SourceCountTooLarge { count: 3, fit: 2 });
}

#[test]
fn record_count_larger_than_the_packet() {
    let mut two = RECORD_V4.to_vec();
    two.extend_from_slice(&RECORD_V4);
    assert_eq!(check_records::<Ipv4Addr>(&two, 2), Ok(32));
    assert_eq!(parse_records::<Ipv4Addr>(&two, 2).unwrap(), vec![record_v4(), record_v4()]);
    assert_eq!(check_records::<Ipv4Addr>(&two, 3), Err(Error::RecordCountTooLarge { count: 3, fit: 2 }));
    assert_eq!(check_records::<Ipv4Addr>(&two[..20], 2), Err(Error::RecordCountTooLarge { count: 2, fit: 1 }));
    assert_eq!(check_records::<Ipv4Addr>(&two[..28], 2), Err(Error::SourceCountTooLarge { count: 2, fit: 1 }));
}

#[test]
fn record_group_must_be_multicast() {
    let mut bytes = RECORD_V4;
    bytes[4] = 10;
    let packet = RecordPacket::<_, Ipv4Addr>::new_checked(&bytes[..]).unwrap();
    assert_eq!(GroupRecord::parse(&packet), Err(Error::NotMulticast("10.1.1.1".parse().unwrap())));
}

#[test]
fn record_types_round_trip() {
    for value in 0..=u8::MAX {
        assert_eq!(u8::from(RecordType::from(value)), value);
    }
    assert_eq!(RecordType::from(4).to_string(), "CHANGE_TO_EXCLUDE_MODE");
}

#[test]
fn sources_must_fit() {
    let bytes = [10, 0, 0, 1, 10, 0, 0, 2, 10];
    assert_eq!(parse_sources::<Ipv4Addr>(&bytes, 2).unwrap().len(), 2);
    assert_eq!(parse_sources::<Ipv4Addr>(&bytes, 3), Err(Error::SourceCountTooLarge { count: 3, fit: 2 }));
}
