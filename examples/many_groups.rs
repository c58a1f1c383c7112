//! Receive many groups at once, with a count per group.
//!
//!     cargo run --example many_groups -- 239.1.1.1-239.1.1.50:5000 eth0
//!
//! Linux caps the groups one socket may join (net.ipv4.igmp_max_memberships, 20 by default): the receiver
//! opens another socket on the same port whenever the kernel says one is full.

use std::time::{Duration, Instant};

use mcast::multi::{parse_group_list, MultiReceiver};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let list = args.next().unwrap_or_else(|| "239.1.1.1-239.1.1.50:5000".into());
    let groups = parse_group_list(&list, None)?;

    let mut builder = MultiReceiver::builder().groups(groups);
    if let Some(iface) = args.next() {
        builder = builder.interface(iface.as_str());
    }
    let mut rx = builder.build()?;
    println!("{} memberships on {} sockets", rx.members().len(), rx.iter_fds().len());

    let mut buf = [0u8; 65_535];
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        // Waits on every socket at once; `arrival.member` says which group the datagram was for.
        if let Some(arrival) = rx.recv_timeout(&mut buf, Duration::from_secs(1))? {
            let group = arrival.member.map(|m| rx.members()[m].group().to_string());
            println!("{} bytes from {} to {}", arrival.meta.len, arrival.meta.source, group.as_deref().unwrap_or("?"));
        }
    }
    for member in rx.members() {
        println!("{}: {} datagrams", member.group(), member.counters.datagrams);
    }
    Ok(())
}
