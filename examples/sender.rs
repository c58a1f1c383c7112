//! Send a few datagrams to a group.
//!
//!     cargo run --example sender -- 239.1.2.3:5000 eth0
//!
//! Run the `receiver` example first, on this host or another one on the link.

use std::time::Duration;

use mcast::{Group, Sender};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let group: Group = args.next().unwrap_or_else(|| "239.1.2.3:5000".into()).parse()?;

    // TTL 1 keeps the datagrams on the local link; loopback lets a receiver on this host hear them too.
    let mut builder = Sender::builder(group).ttl(1).multicast_loop(true);
    if let Some(iface) = args.next() {
        builder = builder.interface(iface.as_str());
    }
    let tx = builder.build()?;

    for n in 1..=5 {
        let sent = tx.send(format!("hello {n}").as_bytes())?;
        println!("sent {sent} bytes to {group}");
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(())
}
