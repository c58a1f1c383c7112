//! The doctor's rule readers: JSON, `nft -j list ruleset` and `iptables-save` text are read without panicking, and
//! judging the multicast traffic kinds against whatever was read ends (jumps between chains included).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcast::__private::firewall::{packets, parse_iptables_save, parse_nft_json, Ruleset};
use mcast::__private::json::Json;
use mcast::Group;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = Json::parse(&text);
    let mut rules = Ruleset::default();
    rules.chains.extend(parse_nft_json(&text).unwrap_or_default());
    rules.chains.extend(parse_iptables_save(&text, false));
    rules.chains.extend(parse_iptables_save(&text, true));
    for g in ["239.1.2.3:5000", "[ff15::1]:5000"] {
        let group: Group = g.parse().expect("a valid group");
        for p in packets(&group, None) {
            let _ = rules.judge(&p);
        }
    }
});
