//! Receive datagrams sent to a group and print where each came from.
//!
//!     cargo run --example receiver -- 239.1.2.3:5000 eth0
//!
//! The interface is optional: without it the kernel joins on the interface its routing table picks.

use mcast::{Group, Receiver};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let group: Group = args.next().unwrap_or_else(|| "239.1.2.3:5000".into()).parse()?;

    // Binds the wildcard address on the group's port, joins, and turns IP_MULTICAST_ALL off so that only
    // this group's datagrams arrive (Linux otherwise delivers every group joined anywhere on the host).
    let mut builder = Receiver::builder(group);
    if let Some(iface) = args.next() {
        builder = builder.interface(iface.as_str());
    }
    let rx = builder.build()?;
    println!("joined {group}: {:?}", rx.memberships());

    let mut buf = [0u8; 65_535];
    loop {
        // One datagram, with what the kernel said about it: source, group, interface, TTL, truncation.
        let meta = rx.recv(&mut buf)?;
        let text = String::from_utf8_lossy(&buf[..meta.len]);
        println!("{} bytes from {} (ttl {:?}, interface {:?}): {text}", meta.len, meta.source, meta.ttl, meta.ifindex);
    }
}
