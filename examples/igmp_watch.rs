//! Watch the IGMP reports on a link and print who joins and leaves which group.
//!
//!     sudo cargo run --example igmp_watch -- eth0
//!
//! Needs CAP_NET_RAW (a raw IPPROTO_IGMP socket); without it opening the watcher fails with an error that
//! says so and how to grant it.

use std::time::Duration;

use mcast::raw::{Family, Watcher};
use mcast::Interface;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = std::env::args().nth(1).unwrap_or_else(|| "eth0".into());
    let iface = Interface::by_name(&name)?;

    // Joins the groups reports are sent to (224.0.0.22 for IGMPv3, 224.0.0.2 for leaves) so the kernel
    // hands the raw socket a copy; `true` would also make it the multicast router, to hear v1/v2 reports.
    let mut watcher = Watcher::open(Family::V4, &[iface], false)?;
    println!("watching IGMP on {name}");
    loop {
        if let Some(step) = watcher.next(Duration::from_secs(1))? {
            // Each change to the table of memberships: joined, changed (mode, sources), left.
            for event in &step.events {
                println!("{event}");
            }
        }
        // Groups whose membership timed out without a leave.
        for event in watcher.expire(mcast::wire::MEMBERSHIP_INTERVAL) {
            println!("{event}");
        }
    }
}
