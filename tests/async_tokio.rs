//! The async sender and receivers (`mcast::tokio`): the same datagrams and metadata as the blocking ones,
//! delivered by readiness.
//!
//! Topology ([`Link`]): two namespaces joined by a veth pair,
//!
//! ```text
//!   a: va 10.0.0.1/24 fd00:1::1/64  <-- veth -->  b: vb 10.0.0.2/24 fd00:1::2/64
//! ```
//!
//! Senders are made in `a` (a socket stays in the namespace it was made in) and receivers in `b`, on a thread
//! that entered `b` and runs a current-thread tokio runtime there; both are driven from that runtime. Each
//! test's first receive is already waiting when the first datagram is sent, so it is woken by readiness.
#![cfg(feature = "tokio")]

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::time::Duration;

use common::traffic::{Link, A4, A6, QUIET, WAIT};
use mcast::multi::MultiReceiver;
use mcast::tokio::{AsyncMultiReceiver, AsyncReceiver, AsyncSender};
use mcast::{Group, Receiver, RecvMeta, Sender};
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use tokio::task::JoinHandle;

/// The TTL (hop limit) every sender here sets; one veth link does not change it.
const TTL: u8 = 7;

fn group(ip: impl Into<IpAddr>, port: u16) -> Group {
    Group::new(ip.into(), port).expect("a multicast group")
}

/// A runtime on the calling thread, so that everything it runs stays in that thread's namespace.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build().expect("a tokio runtime")
}

/// A sender made in `a`, out of `va`, bound to `source` (port chosen by the kernel) with TTL [`TTL`].
fn sender_in_a(link: &Link, g: Group, source: IpAddr) -> Sender {
    link.a.run(move || {
        Sender::builder(g).interface("va").ttl(TTL).bind(SocketAddr::new(source, 0)).build().expect("sender in a")
    })
}

fn nonblocking(fd: &impl AsFd) -> bool {
    let flags = fcntl(fd.as_fd(), FcntlArg::F_GETFL).expect("F_GETFL");
    OFlag::from_bits_truncate(flags).contains(OFlag::O_NONBLOCK)
}

/// Starts a task that waits for `f`, and proves it waits: with one thread, it runs until it blocks while this
/// task sleeps, and it cannot finish before anything is sent.
async fn waiting<T: Send + 'static>(f: impl std::future::Future<Output = T> + Send + 'static) -> JoinHandle<T> {
    let task = tokio::spawn(f);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!task.is_finished(), "the receive finished before anything was sent");
    task
}

/// Awaits `f`, failing the test if it takes longer than [`WAIT`].
async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f).await.unwrap_or_else(|_| panic!("{what}: nothing within {WAIT:?}"))
}

/// Asserts one datagram's metadata: `len` bytes from `from` to group `g`, on interface `ifindex`, TTL [`TTL`].
fn assert_meta(meta: &RecvMeta, len: usize, from: SocketAddr, g: Group, ifindex: u32) {
    assert_eq!((meta.len, meta.full_len, meta.truncated), (len, len, false), "size");
    assert_eq!(meta.source, from, "sender address and port");
    assert_eq!(meta.group, Some(g.ip()), "group");
    assert_eq!(meta.ifindex, Some(ifindex), "arrival interface");
    assert_eq!(meta.ttl, Some(TTL), "TTL on arrival");
}

/// a sends to `g` from `source`, b receives on vb: the first datagram wakes a receive that was already
/// waiting, two more come in one `sendmmsg` and are read with `recvmmsg`, each with its bytes and metadata; a
/// fourth never comes. Then both go back to blocking and a last datagram crosses the blocking way.
fn three_datagrams_cross_the_link(link: &Link, g: Group, source: IpAddr) {
    let tx = sender_in_a(link, g, source);
    let from = tx.socket().local_addr().unwrap();
    assert_eq!(from.ip(), source);
    let vb = link.b.ifindex("vb");
    link.b.run(move || {
        runtime().block_on(async move {
            let rx = AsyncReceiver::new(Receiver::builder(g).interface("vb").build().expect("receiver in b")).unwrap();
            assert!(nonblocking(&rx) && rx.as_raw_fd() == rx.get_ref().socket().as_raw_fd());
            assert_eq!(rx.memberships().len(), 1);
            let rx = Arc::new(rx);
            let tx = AsyncSender::new(tx).unwrap();
            assert_eq!(tx.group(), g);

            let first = waiting({
                let rx = rx.clone();
                async move {
                    let mut buf = vec![0u8; 2048];
                    let meta = rx.recv(&mut buf).await.expect("recv");
                    (meta, buf)
                }
            })
            .await;
            assert_eq!(tx.send(b"async 1").await.unwrap(), 7);
            let (meta, buf) = within("the waiting receive", first).await.unwrap();
            assert_eq!(&buf[..meta.len], b"async 1");
            assert_meta(&meta, 7, from, g, vb);

            assert_eq!(tx.send_batch(&[&b"async 22"[..], &b"async 333"[..]]).await.unwrap(), 2);
            let (mut b0, mut b1, mut b2) = ([0u8; 2048], [0u8; 2048], [0u8; 2048]);
            let mut got: Vec<(Vec<u8>, RecvMeta)> = Vec::new();
            while got.len() < 2 {
                let mut bufs: [&mut [u8]; 3] = [&mut b0, &mut b1, &mut b2];
                let mut metas = Vec::new();
                let n = within("the batch", rx.recv_batch(&mut bufs, &mut metas)).await.unwrap();
                got.extend((0..n).map(|i| (bufs[i][..metas[i].len].to_vec(), metas[i])));
            }
            assert_eq!(got.len(), 2, "exactly the two sent");
            for ((bytes, meta), want) in got.iter().zip([&b"async 22"[..], b"async 333"]) {
                assert_eq!(bytes, want);
                assert_meta(meta, want.len(), from, g, vb);
            }
            let mut buf = [0u8; 2048];
            assert!(tokio::time::timeout(QUIET, rx.recv(&mut buf)).await.is_err(), "a fourth datagram");
            assert_eq!(rx.get_ref().foreign(), 0);

            // Back to the blocking types: the sockets block again, and still work.
            let rx = Arc::try_unwrap(rx).expect("the only reference").into_inner().unwrap();
            let tx = Sender::try_from(tx).unwrap();
            assert!(!nonblocking(&rx) && !nonblocking(&tx));
            tx.send(b"blocking").unwrap();
            let meta = rx.recv_timeout(&mut buf, WAIT).unwrap().expect("the blocking datagram");
            assert_eq!(&buf[..meta.len], b"blocking");
            assert_meta(&meta, 8, from, g, vb);
            // The blocking receiver's non-blocking step, on its blocking socket: nothing queued, no wait.
            assert!(rx.try_recv(&mut buf).unwrap().is_none());
        })
    });
}

#[test]
fn ipv4_datagrams_arrive_with_bytes_sender_group_interface_and_ttl() {
    needs_root!();
    let link = Link::new("tk4");
    three_datagrams_cross_the_link(&link, group(Ipv4Addr::new(239, 1, 7, 1), 7000), IpAddr::V4(A4));
}

#[test]
fn ipv6_datagrams_arrive_with_bytes_sender_group_interface_and_hop_limit() {
    needs_root!();
    let link = Link::new("tk6");
    let g = group(Ipv6Addr::new(0xff1e, 0, 0, 0, 0, 0, 0, 0x7001), 7001);
    three_datagrams_cross_the_link(&link, g, IpAddr::V6(A6));
}

/// A 1000-byte datagram read into a 100-byte buffer: its first 100 bytes, `len` 100, `full_len` 1000,
/// `truncated`; the next datagram arrives whole.
#[test]
fn a_datagram_larger_than_the_buffer_is_reported_truncated() {
    needs_root!();
    let link = Link::new("tktr");
    let g = group(Ipv4Addr::new(239, 1, 7, 2), 7002);
    let tx = sender_in_a(&link, g, IpAddr::V4(A4));
    let from = tx.socket().local_addr().unwrap();
    link.b.run(move || {
        runtime().block_on(async move {
            let rx = AsyncReceiver::new(Receiver::builder(g).interface("vb").build().unwrap()).unwrap();
            let tx = AsyncSender::new(tx).unwrap();
            let payload: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
            tx.send(&payload).await.unwrap();
            tx.send(b"whole").await.unwrap();
            let mut small = [0u8; 100];
            let meta = within("the big datagram", rx.recv(&mut small)).await.unwrap();
            assert_eq!((meta.len, meta.full_len, meta.truncated), (100, 1000, true));
            assert_eq!(&small[..], &payload[..100]);
            assert_eq!((meta.source, meta.group), (from, Some(g.ip())));
            let meta = within("the next datagram", rx.recv(&mut small)).await.unwrap();
            assert_eq!((meta.len, meta.full_len, meta.truncated), (5, 5, false));
            assert_eq!(&small[..5], b"whole");
        })
    });
}

/// Four IPv4 and four IPv6 groups on one port, two memberships per socket, so four sockets behind one `epoll`
/// descriptor. A receive waits before anything is sent and is woken by a datagram to the last socket's group;
/// then five datagrams to each group arrive, each counted for its own group, read from the socket that holds
/// it, from the right sender, with its own payload; nothing more comes, and every group's counters are exact.
#[test]
fn many_groups_over_several_sockets_each_counted_exactly() {
    needs_root!();
    const ROUNDS: u64 = 5;
    let link = Link::new("tkmg");
    let v4: Vec<Group> = (1..=4).map(|i| group(Ipv4Addr::new(239, 1, 7, 10 + i), 7003)).collect();
    let v6: Vec<Group> = (1..=4).map(|i| group(Ipv6Addr::new(0xff1e, 0, 0, 0, 0, 0, 0x7003, i), 7003)).collect();
    let tx4 = sender_in_a(&link, v4[0], IpAddr::V4(A4));
    let tx6 = sender_in_a(&link, v6[0], IpAddr::V6(A6));
    let from4 = tx4.socket().local_addr().unwrap();
    let from6 = tx6.socket().local_addr().unwrap();
    let vb = link.b.ifindex("vb");
    link.b.run(move || {
        runtime().block_on(async move {
            let all: Vec<Group> = v4.iter().chain(&v6).copied().collect();
            let blocking =
                MultiReceiver::builder().groups(all.clone()).interface("vb").per_socket(2).build().expect("receiver");
            let epoll_and_sockets = blocking.iter_fds().count();
            let rx = AsyncMultiReceiver::new(blocking).unwrap();
            assert_eq!((epoll_and_sockets, rx.iter_fds().count(), rx.members().len()), (4, 4, 8));
            assert!(rx.iter_fds().all(|fd| fd.as_raw_fd() != rx.as_raw_fd()), "waits on its epoll descriptor");
            let (tx4, tx6) = (AsyncSender::new(tx4).unwrap(), AsyncSender::new(tx6).unwrap());

            // The first datagram goes to the last group, held by the last socket: only the epoll descriptor's
            // readiness can wake the receive waiting for it.
            let last = *all.last().unwrap();
            let first = waiting(async move {
                let mut rx = rx;
                let mut buf = vec![0u8; 2048];
                let arrival = rx.recv(&mut buf).await.expect("recv");
                (rx, arrival, buf)
            })
            .await;
            let payload = |g: &Group, n: u64| format!("{g} #{n}").into_bytes();
            assert_eq!(tx6.send_to(&payload(&last, 0), last.socket_addr()).await.unwrap(), payload(&last, 0).len());
            let (mut rx, arrival, mut buf) = within("the waiting receive", first).await.unwrap();
            assert_eq!(arrival.socket, 3, "read from the last socket");
            let mut arrivals = vec![(arrival, buf[..arrival.meta.len].to_vec())];
            let mut bytes = std::collections::HashMap::from([(last, payload(&last, 0).len() as u64)]);
            for n in 1..=ROUNDS {
                for g in &all {
                    let tx = if g.is_ipv6() { &tx6 } else { &tx4 };
                    let p = payload(g, n);
                    assert_eq!(tx.send_to(&p, g.socket_addr()).await.unwrap(), p.len());
                    *bytes.entry(*g).or_insert(0u64) += p.len() as u64;
                }
            }
            while arrivals.len() < 1 + all.len() * ROUNDS as usize {
                let a = within("the next datagram", rx.recv(&mut buf)).await.unwrap();
                arrivals.push((a, buf[..a.meta.len].to_vec()));
            }
            for (a, bytes) in &arrivals {
                let m = &rx.members()[a.member.unwrap_or_else(|| panic!("a stray datagram: {:?}", a.meta))];
                let g = m.group();
                assert_eq!(a.meta.group, Some(g.ip()), "counted for the group it was sent to");
                assert_eq!(a.socket, m.socket, "read from the socket that holds the membership");
                let text = String::from_utf8_lossy(bytes);
                assert!(text.starts_with(&format!("{g} #")), "payload {text:?} for {g}");
                assert_meta(&a.meta, bytes.len(), if g.is_ipv6() { from6 } else { from4 }, g, vb);
            }
            assert!(tokio::time::timeout(QUIET, rx.recv(&mut buf)).await.is_err(), "an extra datagram");
            let rx: MultiReceiver = rx.into();
            assert_eq!(rx.strays(), 0);
            for m in rx.members() {
                let want = if m.group() == last { ROUNDS + 1 } else { ROUNDS };
                assert_eq!(m.counters.datagrams, want, "datagrams for {}", m.group());
                assert_eq!(m.counters.bytes, bytes[&m.group()], "bytes for {}", m.group());
                assert_eq!(m.counters.truncated, 0);
            }
        })
    });
}

/// What an event loop and `tokio::spawn` need of each async type: its descriptor, and to move between and be
/// shared by threads.
#[test]
fn async_types_hand_out_descriptors_and_are_send_and_sync() {
    fn takes<T: AsFd + AsRawFd + Send + Sync>() {}
    takes::<AsyncSender>();
    takes::<AsyncReceiver>();
    takes::<AsyncMultiReceiver>();
}
