//! IPv4 headers laid out by hand from RFC 791, with and without options, parsed (`_deconstruct`) and built
//! (`_construct`), and the ways a header can be wrong.

use super::*;

/// A membership report as Linux sends it: TOS 0xc0, DF, TTL 1, IGMP, 10.0.0.1 -> 224.0.0.22, Router Alert.
static HEADER_RA: [u8; 24] = [
    0x46, 0xc0, 0x00, 0x28, // version 4, IHL 6; TOS 0xc0; total length 40
    0x00, 0x00, 0x40, 0x00, // ident 0; DF
    0x01, 0x02, 0xf9, 0xf8, // TTL 1; protocol 2; checksum
    0x0a, 0x00, 0x00, 0x01, // 10.0.0.1
    0xe0, 0x00, 0x00, 0x16, // 224.0.0.22
    0x94, 0x04, 0x00, 0x00, // Router Alert, length 4, value 0
];

fn repr_ra() -> Repr {
    Repr::igmp(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(224, 0, 0, 22), 16)
}

fn with_payload() -> Vec<u8> {
    let mut bytes = HEADER_RA.to_vec();
    bytes.extend_from_slice(&[0x5a; 16]);
    bytes
}

#[test]
fn header_with_router_alert_deconstruct() {
    let bytes = with_payload();
    let packet = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(packet.version(), 4);
    assert_eq!(packet.header_len(), 24);
    assert_eq!(packet.total_len(), 40);
    assert!(packet.dont_frag());
    assert_eq!(packet.ttl(), 1);
    assert_eq!(packet.protocol(), PROTOCOL_IGMP);
    assert!(packet.verify_checksum());
    assert_eq!(packet.expected_checksum(), 0xf9f8);
    assert_eq!(packet.options(), &[0x94, 0x04, 0x00, 0x00]);
    assert_eq!(packet.payload(), &[0x5a; 16]);
    let repr = Repr::parse(&packet).unwrap();
    assert_eq!(repr, repr_ra());
    assert_eq!(repr.router_alert(), Some(0));
}

#[test]
fn header_with_router_alert_construct() {
    let mut bytes = [0xa5u8; 40];
    repr_ra().emit(&mut Packet::new_unchecked(&mut bytes[..])).unwrap();
    assert_eq!(&bytes[..24], &HEADER_RA);
    assert_eq!(&bytes[24..], &[0xa5; 16]);
}

#[test]
fn bad_checksum_names_both_values() {
    let mut bytes = with_payload();
    bytes[11] ^= 0x01;
    let packet = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(Repr::parse(&packet), Err(Error::BadChecksum { expected: 0xf9f8, found: 0xf9f9 }));
}

#[test]
fn lengths_are_checked() {
    let bytes = with_payload();
    assert_eq!(Packet::new_checked(&bytes[..19]).unwrap_err(), Error::Truncated { need: 20, have: 19 });
    assert_eq!(Packet::new_checked(&bytes[..22]).unwrap_err(), Error::Truncated { need: 24, have: 22 });
    assert_eq!(Packet::new_checked(&bytes[..39]).unwrap_err(), Error::Truncated { need: 40, have: 39 });
    let mut short_ihl = bytes.clone();
    short_ihl[0] = 0x44;
    assert_eq!(Packet::new_checked(&short_ihl[..]).unwrap_err(), Error::BadHeaderLength(16));
    let mut short_total = bytes.clone();
    short_total[3] = 20;
    assert_eq!(Packet::new_checked(&short_total[..]).unwrap_err(), Error::BadTotalLength { total: 20, header: 24 });
    // Link-layer padding past the total length is not part of the payload.
    let mut padded = bytes.clone();
    padded.extend_from_slice(&[0; 6]);
    assert_eq!(Packet::new_checked(&padded[..]).unwrap().payload().len(), 16);
}

#[test]
fn version_and_fragments_are_refused() {
    let mut v6 = with_payload();
    v6[0] = 0x66;
    assert_eq!(Repr::parse(&Packet::new_checked(&v6[..]).unwrap()), Err(Error::BadVersion(6)));
    let mut fragment = with_payload();
    fragment[6] = 0x20; // more fragments
    Packet::new_unchecked(&mut fragment[..]).fill_checksum();
    assert_eq!(Repr::parse(&Packet::new_checked(&fragment[..]).unwrap()), Err(Error::Fragmented));
}

#[test]
fn options_nop_other_end() {
    let mut repr = repr_ra();
    repr.options = vec![
        Ipv4Option::NoOperation,
        Ipv4Option::Other { kind: 0x07, data: vec![4, 0, 0, 0, 0] }, // record route, empty
        Ipv4Option::RouterAlert(0),
    ];
    let mut bytes = vec![0u8; repr.total_len()];
    repr.emit(&mut Packet::new_unchecked(&mut bytes[..])).unwrap();
    assert_eq!(repr.header_len(), 32);
    assert_eq!(&bytes[20..32], &[1, 7, 7, 4, 0, 0, 0, 0, 0x94, 4, 0, 0]);
    assert_eq!(Repr::parse(&Packet::new_checked(&bytes[..]).unwrap()).unwrap(), repr);
}

#[test]
fn malformed_options() {
    for (options, kind) in [([0x94u8, 3, 0, 0], 0x94), ([0x07, 1, 0, 0], 0x07), ([0x07, 9, 0, 0], 0x07)] {
        let mut bytes = HEADER_RA;
        bytes[20..24].copy_from_slice(&options);
        bytes[3] = 24;
        Packet::new_unchecked(&mut bytes[..]).fill_checksum();
        let parsed = Repr::parse(&Packet::new_checked(&bytes[..]).unwrap());
        assert_eq!(parsed, Err(Error::BadOption { offset: 0, kind }));
    }
}

#[test]
fn unencodable_headers() {
    let mut repr = repr_ra();
    repr.options = vec![Ipv4Option::Other { kind: 0x44, data: vec![0; 38] }, Ipv4Option::NoOperation];
    let mut bytes = [0u8; 64];
    assert_eq!(repr.emit(&mut Packet::new_unchecked(&mut bytes[..])), Err(Error::OptionsTooLong(41)));
    repr.options = vec![Ipv4Option::Other { kind: 0, data: vec![] }];
    assert!(matches!(repr.emit(&mut Packet::new_unchecked(&mut bytes[..])), Err(Error::Unencodable(_))));
    let mut short = [0u8; 23];
    assert_eq!(
        repr_ra().emit(&mut Packet::new_unchecked(&mut short[..])),
        Err(Error::Truncated { need: 24, have: 23 })
    );
}
