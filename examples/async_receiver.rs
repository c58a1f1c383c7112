//! Receive a group with tokio and print where each datagram came from.
//!
//!     cargo run --features tokio --example async_receiver -- 239.1.2.3:5000 eth0
//!
//! The interface is optional. The receiver is a blocking `Receiver` handed to the runtime: the same joins and
//! the same metadata for each datagram, but `recv` waits without holding a thread. It stops after 30 seconds
//! without a datagram.

use std::time::Duration;

use mcast::tokio::AsyncReceiver;
use mcast::{Group, Receiver};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The same as #[tokio::main(flavor = "current_thread")], without tokio's macros.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(receive())
}

async fn receive() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let group: Group = args.next().unwrap_or_else(|| "239.1.2.3:5000".into()).parse()?;
    let mut builder = Receiver::builder(group);
    if let Some(iface) = args.next() {
        builder = builder.interface(iface.as_str());
    }
    // Built (bound, joined) as usual, then registered with the runtime.
    let rx = AsyncReceiver::new(builder.build()?)?;
    println!("joined {group}: {:?}", rx.memberships());

    let mut buf = [0u8; 65_535];
    while let Ok(meta) = tokio::time::timeout(Duration::from_secs(30), rx.recv(&mut buf)).await {
        // The blocking receiver's metadata: source, group, interface, TTL, truncation.
        let meta = meta?;
        let text = String::from_utf8_lossy(&buf[..meta.len]);
        println!(
            "{} bytes from {} to {:?} (ttl {:?}, interface {:?}{}): {text}",
            meta.len,
            meta.source,
            meta.group,
            meta.ttl,
            meta.ifindex,
            if meta.truncated { ", truncated" } else { "" }
        );
    }
    println!("no datagram for 30 s");
    Ok(())
}
