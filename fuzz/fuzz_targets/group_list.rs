//! Group lists and ranges (`239.1.1.1-239.1.1.50:5000,[ff15::1]:5000`): parsing is total, every group it yields is
//! multicast, and no list yields more than the cap (counted before anything is made).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcast::multi::{parse_group_list, MAX_GROUPS, MAX_RANGE};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(groups) = parse_group_list(text, Some(5000)) {
        let items = text.split(',').count() as u64;
        assert!(groups.len() as u64 <= (items * MAX_RANGE).min(MAX_GROUPS));
        assert!(groups.iter().all(|g| g.ip().is_multicast() && g.port() != 0));
    }
});
