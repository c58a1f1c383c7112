//! rtnetlink replies to RTM_GETROUTE: parsing is total.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcast::__private::route::parse_reply;

fuzz_target!(|data: &[u8]| {
    let _ = parse_reply(data, 1);
});
