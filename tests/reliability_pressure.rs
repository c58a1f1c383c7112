//! Kernel pressure and threads through the library: a receive buffer too small for a burst reports drops
//! equal to the shortfall, exactly, through both counters (`SO_MEMINFO` now, and `SO_RXQ_OVFL` on the next
//! datagram); one sender shared by several threads and a receiver on another lose nothing.
//!
//! Topology of every test: one namespace, IPv4 on `lo` (TTL 0, so nothing leaves the host even in it).
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::Netns;
use mcast::{Group, IfaceSpec, Receiver, Sender};

fn lo() -> IfaceSpec {
    IfaceSpec::Name("lo".into())
}

/// 300 datagrams of 1000 bytes while the receiver does not read, into a forced 4096-byte buffer (8192 as
/// the kernel books it): what is queued is read, and the drop counters account for every other one.
#[test]
fn a_burst_into_a_tiny_buffer_drops_exactly_the_shortfall() {
    const N: u64 = 300;
    let ns = Netns::new("prdrop");
    ns.run(|| {
        let g: Group = "239.9.9.1:5901".parse().unwrap();
        let rx = Receiver::builder(g).interface(lo()).recv_buffer(4096).build().unwrap();
        assert_eq!(rx.socket().recv_buffer_size().unwrap(), 8192, "SO_RCVBUFFORCE 4096, doubled");
        let tx = Sender::builder(g).interface(lo()).ttl(0).build().unwrap();
        let payload = [7u8; 1000];
        for _ in 0..N {
            assert_eq!(tx.send(&payload).unwrap(), 1000);
        }
        let mut buf = [0u8; 2048];
        let mut received = 0u64;
        while let Some(m) = rx.recv_timeout(&mut buf, Duration::from_millis(300)).unwrap() {
            assert_eq!((m.len, &buf[..m.len]), (1000, &payload[..]));
            assert_eq!(m.group, Some(g.ip()));
            received += 1;
        }
        let drops = u64::from(rx.socket().kernel_drops().unwrap());
        assert!(received > 0 && drops > 0, "received {received}, dropped {drops}");
        assert_eq!(received + drops, N, "received {received} + dropped {drops}");
        // The next datagram queued carries the socket's drop count so far (SO_RXQ_OVFL).
        tx.send(b"marker").unwrap();
        let m = rx.recv_timeout(&mut buf, Duration::from_secs(5)).unwrap().expect("the marker");
        assert_eq!(&buf[..m.len], b"marker");
        assert_eq!(m.drops.map(u64::from), Some(drops));
    });
}

/// Four threads send 250 datagrams each through one shared `Sender` (`&Sender` across threads: it is
/// `Sync`); a receiver moved to a fifth thread (`Send`) gets all 1000, each exactly once.
#[test]
fn one_sender_shared_by_threads_and_a_receiver_on_another() {
    const THREADS: u8 = 4;
    const EACH: u16 = 250;
    let ns = Netns::new("prthreads");
    ns.run(|| {
        let g: Group = "239.9.9.2:5902".parse().unwrap();
        let rx = Receiver::builder(g).interface(lo()).recv_buffer(8 << 20).build().unwrap();
        let tx = Arc::new(Sender::builder(g).interface(lo()).ttl(0).build().unwrap());
        let reader = std::thread::spawn(move || {
            let mut seen = vec![[false; EACH as usize]; THREADS as usize];
            let mut buf = [0u8; 16];
            let mut n = 0u32;
            while let Some(m) = rx.recv_timeout(&mut buf, Duration::from_secs(5)).unwrap() {
                assert_eq!(m.len, 3);
                let (t, i) = (usize::from(buf[0]), usize::from(u16::from_be_bytes([buf[1], buf[2]])));
                let slot = seen.get_mut(t).and_then(|s| s.get_mut(i)).expect("a datagram that was sent");
                assert!(!std::mem::replace(slot, true), "thread {t}'s datagram {i} twice");
                n += 1;
                if n == u32::from(THREADS) * u32::from(EACH) {
                    break;
                }
            }
            (n, rx.socket().kernel_drops().unwrap())
        });
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let tx = &tx;
                s.spawn(move || {
                    for i in 0..EACH {
                        let [hi, lo] = i.to_be_bytes();
                        assert_eq!(tx.send(&[t, hi, lo]).unwrap(), 3);
                    }
                });
            }
        });
        let (n, drops) = reader.join().unwrap();
        assert_eq!((n, drops), (u32::from(THREADS) * u32::from(EACH), 0));
    });
}
