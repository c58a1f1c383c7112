//! IPv4 headers with options, and whole IGMP datagrams as a raw IGMP socket receives them. Parsing is total, and
//! whatever parses re-encodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcast::wire::{self, Ipv4Packet, Ipv4Repr};

fuzz_target!(|data: &[u8]| {
    let unchecked = Ipv4Packet::new_unchecked(data);
    let _ = (unchecked.payload().len(), unchecked.option_iter().count(), unchecked.verify_checksum());
    if let Ok(packet) = Ipv4Packet::new_checked(data) {
        if let Ok(repr) = Ipv4Repr::parse(&packet) {
            let mut bytes = vec![0u8; repr.total_len()];
            repr.emit(&mut Ipv4Packet::new_unchecked(&mut bytes[..])).expect("a parsed header encodes");
            let again = Ipv4Packet::new_checked(&bytes[..]).expect("re-encoded lengths");
            assert_eq!(Ipv4Repr::parse(&again).expect("re-parse"), repr);
        }
    }
    if let Ok((ip, igmp)) = wire::parse_igmp_datagram(data) {
        let bytes = wire::igmp_datagram(ip.src, ip.dst, &igmp).expect("a parsed datagram encodes");
        assert_eq!(wire::parse_igmp_datagram(&bytes).expect("re-parse").1, igmp);
    }
});
