//! /proc/net/igmp, igmp6, mcfilter and mcfilter6 text: parsing is total, and nothing parsed names interface 0.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcast::procnet;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let v4 = procnet::parse_igmp(&text);
    assert!(v4.iter().all(|i| i.ifindex != 0 && i.groups.iter().all(|m| m.group.is_ipv4())));
    let v6 = procnet::parse_igmp6(&text);
    assert!(v6.iter().all(|m| m.ifindex != 0 && m.group.is_ipv6()));
    let f4 = procnet::parse_mcfilter(&text);
    let f6 = procnet::parse_mcfilter6(&text);
    assert!(f4.iter().chain(&f6).all(|f| f.ifindex != 0));
});
