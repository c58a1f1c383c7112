//! Link announcements (`RTM_NEWLINK`, `RTM_DELLINK`, `RTM_NEWADDR`, `RTM_DELADDR`) as a `NETLINK_ROUTE`
//! socket delivers them: parsing is total, yields at most one event per message header plus a resync, and
//! every message and attribute view stays inside the buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcast::__private::linkwatch::{parse_events, AddrInfo, Attrs, LinkInfo, Messages};

fuzz_target!(|data: &[u8]| {
    let events = parse_events(data);
    assert!(events.len() <= data.len() / 16 + 1);
    let mut covered = 0usize;
    for msg in Messages::new(data) {
        let Ok(msg) = msg else { break };
        covered += 16 + msg.payload.len();
        assert!(covered <= data.len());
        let _ = LinkInfo::parse(msg.payload);
        let _ = AddrInfo::parse(msg.payload);
        for attr in Attrs::new(msg.payload) {
            let Ok((_, value)) = attr else { break };
            assert!(value.len() <= msg.payload.len());
        }
    }
});
