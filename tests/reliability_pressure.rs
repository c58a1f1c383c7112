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
    needs_root!();
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
    needs_root!();
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

/// Topology: a (va 10.0.0.1) <-> b (vb 10.0.0.2), va shaped by a token bucket (tc tbf, 400 kbit/s) so its
/// queue drains slowly; the sender's socket is non-blocking with a small forced send buffer, so a burst
/// meets `EAGAIN`. With room to retry, every datagram is sent and arrives; with almost none, those given
/// up are counted as failed with `EAGAIN`, and every one that was counted sent arrives: none is lost
/// silently.
#[test]
fn a_full_send_queue_is_retried_then_counted() {
    needs_root!();
    use mcast::__private::sendretry::{Outcome, ResilientSender, RetryPolicy};

    let a = Netns::new("prqa");
    let b = Netns::new("prqb");
    common::veth(&a, "va", "10.0.0.1/24", &b, "vb", "10.0.0.2/24");
    let tc = a
        .command("tc")
        .args(["qdisc", "add", "dev", "va", "root", "tbf", "rate", "400kbit", "burst", "2000", "limit", "30000"])
        .output()
        .expect("tc");
    assert!(tc.status.success(), "tc: {}", String::from_utf8_lossy(&tc.stderr));
    let g: Group = "239.9.9.3:5903".parse().unwrap();
    let vb = IfaceSpec::Name("vb".into());
    let rx = b.run(move || Receiver::builder(g).interface(vb).recv_buffer(4 << 20).build().unwrap());
    let count = |rx: &Receiver| {
        let mut buf = [0u8; 2048];
        let mut n = 0u64;
        while let Some(m) = rx.recv_timeout(&mut buf, Duration::from_secs(3)).unwrap() {
            assert_eq!((m.len, m.source.ip()), (1000, "10.0.0.1".parse::<std::net::IpAddr>().unwrap()));
            n += 1;
        }
        n
    };
    let burst = |policy: RetryPolicy| {
        a.run(move || {
            let s = Sender::builder(g).interface(IfaceSpec::Name("va".into())).ttl(1).build().unwrap();
            s.socket().set_nonblocking(true).unwrap();
            s.socket().request_send_buffer(4096).unwrap();
            let mut tx = ResilientSender::new(s).with_policy(policy);
            for _ in 0..60 {
                match tx.send(&[1u8; 1000]).expect("no fatal error") {
                    Outcome::Sent(n) => assert_eq!(n, 1000),
                    Outcome::Failed(e) => assert_eq!(e.raw_os_error(), Some(libc::EAGAIN)),
                }
            }
            tx.stats().clone()
        })
    };
    let patient =
        RetryPolicy { retries: 40, first_pause: Duration::from_millis(1), max_pause: Duration::from_millis(50) };
    let stats = burst(patient);
    assert!(stats.retries > 0, "the queue was never full: {stats:?}");
    assert_eq!((stats.sent, stats.failed), (60, 0), "{stats:?}");
    assert_eq!(count(&rx), 60);

    let hasty =
        RetryPolicy { retries: 1, first_pause: Duration::from_micros(100), max_pause: Duration::from_micros(100) };
    let stats = burst(hasty);
    assert!(stats.failed > 0 && stats.errors.get(&libc::EAGAIN) == Some(&stats.failed), "{stats:?}");
    assert_eq!(stats.sent + stats.failed, 60);
    assert_eq!(count(&rx), stats.sent, "every datagram counted as sent arrived");
}
