//! Source-specific multicast (RFC 4607): receive a group only from the senders named.
//!
//!     cargo run --example ssm_receiver -- 232.1.1.1:5000 10.0.0.1 eth0
//!
//! 232.0.0.0/8 (IPv4) and ff3x::/32 (IPv6) are the source-specific ranges: routers forward them only for
//! receivers that name their source, with an IGMPv3 or MLDv2 report.

use std::net::IpAddr;
use std::time::Duration;

use mcast::{Group, Receiver};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let group: Group = args.next().unwrap_or_else(|| "232.1.1.1:5000".into()).parse()?;
    let source: IpAddr = args.next().unwrap_or_else(|| "10.0.0.1".into()).parse()?;
    if !group.is_source_specific() {
        eprintln!("note: {group} is outside the source-specific ranges; the join filters by source all the same");
    }

    // IP_ADD_SOURCE_MEMBERSHIP (MCAST_JOIN_SOURCE_GROUP for IPv6): datagrams from any other sender are
    // dropped by the kernel. `.source()` may be given several times.
    let mut builder = Receiver::builder(group).source(source);
    if let Some(iface) = args.next() {
        builder = builder.interface(iface.as_str());
    }
    let rx = builder.build()?;

    let mut buf = [0u8; 65_535];
    loop {
        match rx.recv_timeout(&mut buf, Duration::from_secs(5))? {
            Some(meta) => println!("{} bytes from {}", meta.len, meta.source),
            None => println!("nothing from {source} to {group} in 5 s"),
        }
    }
}
