//! Batched receiving that keeps its per-datagram arrays between calls: a later, smaller batch reports only
//! what its own datagrams said (source, length, truncation, GRO segment size), never what an earlier batch
//! left in the same entries, also after the arrays moved in memory.
mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsFd;
use std::time::Duration;

use common::Netns;
use mcast::__private::sys::mmsg::{recv_batch, RecvScratch};
use mcast::__private::sys::socket::{wait_readable, Received};
use mcast::gso::BatchReceiver;
use mcast::{Group, McastSocket, Receiver, Sender};

/// What a test expects of one read (or one datagram of a split read).
#[derive(Debug, PartialEq)]
struct Seen {
    from: SocketAddr,
    bytes: Vec<u8>,
    full_len: usize,
    truncated: bool,
    gro_segment: Option<u16>,
}

fn seen(from: SocketAddr, bytes: Vec<u8>, full_len: usize, gro_segment: Option<u16>) -> Seen {
    Seen { truncated: full_len > bytes.len(), from, bytes, full_len, gro_segment }
}

/// `n` bytes of `fill`.
fn fill(byte: u8, n: usize) -> Vec<u8> {
    vec![byte; n]
}

/// Where a sender's datagrams come from on loopback: 127.0.0.1 and the port its first send bound.
fn source(s: &Sender) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::LOCALHOST.into(), s.socket().local_addr().unwrap().port())
}

/// Sender `a`'s first batch, three reads for a receiver with `UDP_GRO` and 300-byte buffers: four 100-byte
/// segments in one send (bytes 1, 2, 3, 4; coalesced, 400 bytes cut to 300), a 1000-byte datagram of 0xaa (cut
/// to 300) and a 50-byte datagram of 0xbb.
fn send_first_batch(a: &Sender, g: Group) {
    let mut train = Vec::new();
    for i in 1..=4u8 {
        train.extend([i; 100]);
    }
    a.socket().send_segments(&train, g.socket_addr(), 100).unwrap();
    a.socket().send_to(&[0xaa; 1000], g.socket_addr()).unwrap();
    a.socket().send_to(&[0xbb; 50], g.socket_addr()).unwrap();
}

/// Reads with the sys layer until `want` reads arrived (over as many calls as it takes), checking each call's
/// group and returning the reads in order.
fn read_sys(sock: &McastSocket, scratch: &mut RecvScratch, g: Group, want: usize) -> Vec<Seen> {
    let mut bufs = vec![vec![0u8; 300]; 3];
    let mut out = Vec::new();
    while out.len() < want {
        assert!(wait_readable(sock.as_fd(), Some(Duration::from_secs(5))).unwrap(), "timed out: {out:?}");
        let got: Vec<Received> = recv_batch(sock.as_fd(), &mut bufs, scratch, libc::MSG_DONTWAIT).unwrap().to_vec();
        for (r, buf) in got.iter().zip(&bufs) {
            assert_eq!(r.ancillary.dst, Some(g.ip()), "destination group");
            assert!(!r.control_truncated, "control messages fit");
            out.push(Seen {
                from: r.source.expect("an IPv4 source"),
                bytes: buf[..r.len].to_vec(),
                full_len: r.full_len,
                truncated: r.truncated,
                gro_segment: r.ancillary.gro_segment,
            });
        }
    }
    assert_eq!(out.len(), want, "no more reads than sent");
    out
}

/// Topology: one namespace, loopback, group 239.63.0.1. A receiver with UDP_GRO reads with one scratch: three
/// reads from sender A (a truncated coalesced one, a truncated plain one, a short one), an empty read, then
/// one 20-byte datagram from sender B, which lands in the entry the coalesced read used: B's source, 20
/// bytes, no truncation and no GRO size. Then a coalesced pair from A lands there again, with its GRO size (the
/// control buffer was offered whole again), and after the scratch moves to the heap another pair and a
/// datagram from B.
#[test]
fn a_reused_scratch_reports_only_the_current_batch() {
    needs_root!();
    let ns = Netns::new("bscr");
    ns.run(|| {
        let g: Group = "239.63.0.1:6300".parse().unwrap();
        let rx = Receiver::builder(g).build().unwrap();
        rx.socket().set_udp_gro(true).unwrap();
        let a = Sender::builder(g).build().unwrap();
        let b = Sender::builder(g).build().unwrap();
        let mut scratch = RecvScratch::new();

        send_first_batch(&a, g);
        let (src_a, first) = (source(&a), read_sys(rx.socket(), &mut scratch, g, 3));
        let coalesced = seen(src_a, [fill(1, 100), fill(2, 100), fill(3, 100)].concat(), 400, Some(100));
        assert_eq!(first, [coalesced, seen(src_a, fill(0xaa, 300), 1000, None), seen(src_a, fill(0xbb, 50), 50, None)]);

        // An empty queue under MSG_DONTWAIT is EAGAIN, and the scratch goes on serving.
        let mut bufs = vec![vec![0u8; 300]; 3];
        let empty = recv_batch(rx.socket().as_fd(), &mut bufs, &mut scratch, libc::MSG_DONTWAIT).unwrap_err();
        assert_eq!(empty.raw_os_error(), Some(libc::EAGAIN));

        b.socket().send_to(&[0xcc; 20], g.socket_addr()).unwrap();
        let src_b = source(&b);
        assert_ne!(src_a, src_b);
        assert_eq!(read_sys(rx.socket(), &mut scratch, g, 1), [seen(src_b, fill(0xcc, 20), 20, None)]);

        // After B's plain read, whose few control messages the kernel measured into entry 0, a coalesced
        // pair needs room for one more (UDP_GRO): the entry must offer its whole control buffer again.
        let pair = |x: u8, y: u8| seen(src_a, [fill(x, 100), fill(y, 100)].concat(), 200, Some(100));
        a.socket().send_segments(&[fill(5, 100), fill(6, 100)].concat(), g.socket_addr(), 100).unwrap();
        assert_eq!(read_sys(rx.socket(), &mut scratch, g, 1), [pair(5, 6)]);

        let mut moved = Box::new(scratch);
        a.socket().send_segments(&[fill(7, 100), fill(8, 100)].concat(), g.socket_addr(), 100).unwrap();
        b.socket().send_to(&[0xdd; 30], g.socket_addr()).unwrap();
        assert_eq!(read_sys(rx.socket(), &mut moved, g, 2), [pair(7, 8), seen(src_b, fill(0xdd, 30), 30, None)]);
    });
}

/// Topology: as above, group 239.63.0.2, through BatchReceiver (three 300-byte buffers), which splits
/// coalesced reads: A's first batch arrives as five datagrams (100, 100, 100 of 200 bytes, 300 of 1000, 50),
/// then B's single datagram comes with B's source, its own length, no truncation and no GRO size, and a
/// coalesced pair from A after it is split again.
#[test]
fn a_batch_receiver_hands_over_each_datagram_of_a_smaller_batch_afresh() {
    needs_root!();
    let ns = Netns::new("bscr2");
    ns.run(|| {
        let g: Group = "239.63.0.2:6301".parse().unwrap();
        let rx = Receiver::builder(g).build().unwrap();
        rx.socket().set_udp_gro(true).unwrap();
        let a = Sender::builder(g).build().unwrap();
        let b = Sender::builder(g).build().unwrap();
        let mut batch = BatchReceiver::new(3, 300);
        let mut take = |want: usize| {
            let mut got = Vec::new();
            while got.len() < want {
                let n = batch
                    .recv(rx.socket(), Some(Duration::from_secs(5)), |d, m| {
                        assert_eq!((m.len, m.group), (d.len(), Some(g.ip())));
                        let s = Seen {
                            from: m.source,
                            bytes: d.to_vec(),
                            full_len: m.full_len,
                            truncated: m.truncated,
                            gro_segment: m.gro_segment,
                        };
                        got.push(s);
                    })
                    .unwrap();
                assert!(n > 0, "timed out: {got:?}");
            }
            assert_eq!(got.len(), want, "no more datagrams than sent");
            got
        };

        send_first_batch(&a, g);
        let src_a = source(&a);
        let want = [
            seen(src_a, fill(1, 100), 100, Some(100)),
            seen(src_a, fill(2, 100), 100, Some(100)),
            seen(src_a, fill(3, 100), 200, Some(100)),
            seen(src_a, fill(0xaa, 300), 1000, None),
            seen(src_a, fill(0xbb, 50), 50, None),
        ];
        assert_eq!(take(5), want);

        b.socket().send_to(&[0xcc; 20], g.socket_addr()).unwrap();
        assert_eq!(take(1), [seen(source(&b), fill(0xcc, 20), 20, None)]);

        a.socket().send_segments(&[fill(5, 100), fill(6, 100)].concat(), g.socket_addr(), 100).unwrap();
        assert_eq!(take(2), [seen(src_a, fill(5, 100), 100, Some(100)), seen(src_a, fill(6, 100), 100, Some(100))]);
    });
}
