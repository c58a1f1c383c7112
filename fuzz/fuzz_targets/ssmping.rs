//! ssmping messages: the checked view and the parser are total, whatever parses re-emits to bytes that parse
//! to the same meaning, and a server's group choice never names a group outside what ssmpingd answers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcast::wire::ssmping::{self, Packet, Repr};

fuzz_target!(|data: &[u8]| {
    let unchecked = Packet::new_unchecked(data);
    let _ = (unchecked.kind(), unchecked.options().count(), unchecked.check_len());
    if let Ok(repr) = Packet::new_checked(data).and_then(|p| Repr::parse(&p)) {
        let mut out = vec![0u8; repr.buffer_len()];
        let n = repr.emit(&mut out).expect("a parsed message emits");
        assert_eq!(n, out.len());
        let again = Repr::parse(&Packet::new_checked(&out[..]).expect("emitted bytes check")).expect("and parse");
        assert_eq!(again, repr);
        for v6 in [false, true] {
            if let Some(g) = ssmping::answerable_group(repr.group, v6) {
                assert!(g.is_multicast() && g.is_ipv6() == v6, "{g}");
            }
        }
    }
});
