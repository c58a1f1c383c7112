//! IGMP messages: parsing is total, whatever parses re-encodes to the same value, and the membership table takes
//! whatever parses.
#![no_main]

use std::net::Ipv4Addr;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use mcast::wire::{igmp, IgmpPacket, IgmpRepr, MembershipTable};

fuzz_target!(|data: &[u8]| {
    let unchecked = IgmpPacket::new_unchecked(data);
    let _ = (unchecked.group_addr(), unchecked.sources().count(), unchecked.records().count());
    let Ok(packet) = IgmpPacket::new_checked(data) else { return };
    if packet.msg_type() == igmp::message_type::V3_REPORT {
        // A checked report's records iterate without error.
        assert!(packet.records().all(|record| record.is_ok()));
    }
    let Ok(repr) = IgmpRepr::parse(&packet) else { return };
    let bytes = repr.to_bytes().expect("a parsed message encodes");
    let again = IgmpRepr::parse(&IgmpPacket::new_checked(&bytes[..]).expect("re-encoded lengths")).expect("re-parse");
    assert_eq!(again, repr);
    let mut table = MembershipTable::new();
    let _ = table.observe_igmp(1, Ipv4Addr::new(10, 0, 0, 2), &repr, Instant::now());
});
