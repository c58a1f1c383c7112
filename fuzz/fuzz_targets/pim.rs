//! PIM hellos and Bootstrap messages: parsing is total, and whatever parses re-encodes to bytes that parse
//! to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcast::wire::pim::{Bootstrap, Hello, Packet};

fuzz_target!(|data: &[u8]| {
    let unchecked = Packet::new_unchecked(data);
    let _ = (unchecked.version(), unchecked.msg_type(), unchecked.checksum(), unchecked.options().len());
    let Ok(packet) = Packet::new_checked(data) else { return };
    if let Ok(hello) = Hello::parse_v4(&packet) {
        let bytes = hello.to_bytes();
        let again = Hello::parse_v4(&Packet::new_checked(&bytes[..]).expect("re-encoded length")).expect("re-parse");
        assert_eq!(again, hello);
    }
    if let Ok(bsm) = Bootstrap::parse_v4(&packet) {
        let bytes = bsm.to_bytes();
        let again = Bootstrap::parse_v4(&Packet::new_checked(&bytes[..]).expect("re-encoded length")).expect("re-parse");
        assert_eq!(again, bsm);
    }
});
