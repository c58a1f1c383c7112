//! MLD messages: the first 32 bytes are the source and destination of the pseudo-header, the rest the ICMPv6
//! message. Parsing is total, and whatever parses re-encodes to the same value.
#![no_main]

use std::net::Ipv6Addr;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use mcast::wire::{MembershipTable, MldPacket, MldRepr};

fn addr(bytes: Option<&[u8]>) -> Ipv6Addr {
    let mut octets = [0u8; 16];
    if let Some(bytes) = bytes {
        octets.copy_from_slice(bytes);
    }
    Ipv6Addr::from(octets)
}

fuzz_target!(|data: &[u8]| {
    let (src, dst) = (addr(data.get(0..16)), addr(data.get(16..32)));
    let message = data.get(32..).unwrap_or(&[]);
    let unchecked = MldPacket::new_unchecked(message);
    let _ = (unchecked.group_addr(), unchecked.sources().count(), unchecked.records().count());
    let Ok(packet) = MldPacket::new_checked(message) else { return };
    let verified = MldRepr::parse(&packet, &src, &dst);
    let Ok(repr) = MldRepr::parse_unverified(&packet) else {
        assert!(verified.is_err());
        return;
    };
    if let Ok(verified) = verified {
        assert_eq!(verified, repr);
    }
    let bytes = repr.to_bytes(&src, &dst).expect("a parsed message encodes");
    let packet = MldPacket::new_checked(&bytes[..]).expect("re-encoded lengths");
    assert_eq!(MldRepr::parse(&packet, &src, &dst).expect("re-parse"), repr);
    let mut table = MembershipTable::new();
    let _ = table.observe_mld(1, src, &repr, Instant::now());
});
