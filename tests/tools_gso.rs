//! Segmented sending (UDP_SEGMENT) and its fallback, and batched receiving that splits UDP_GRO reads: every
//! datagram arrives as its own, with its own bytes, whichever path carried it.
mod common;

use std::time::Duration;

use common::{veth, Netns};
use mcast::gso::{BatchReceiver, BatchSender, SendPath};
use mcast::{Group, IfaceSpec, Receiver, Sender};

/// `n` datagrams of `size` bytes laid end to end; datagram `i` is filled with byte `i` (the last one `size - 3`
/// bytes long, to check the short last segment).
fn train(n: usize, size: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..n {
        let len = if i + 1 == n { size - 3 } else { size };
        v.extend(std::iter::repeat(i as u8).take(len));
    }
    v
}

fn check_arrivals(got: &[Vec<u8>], n: usize, size: usize) {
    assert_eq!(got.len(), n, "datagram count");
    for (i, d) in got.iter().enumerate() {
        let len = if i + 1 == n { size - 3 } else { size };
        assert_eq!(d.len(), len, "datagram {i} length");
        assert!(d.iter().all(|&b| b == i as u8), "datagram {i} bytes");
    }
}

/// Topology: one namespace, loopback, group 239.61.0.1. 40 datagrams of 100 bytes in one segmented send; a
/// plain receiver gets 40 datagrams in order, and a batch receiver with UDP_GRO gets the same 40 back.
#[test]
fn segmented_send_arrives_as_separate_datagrams() {
    needs_root!();
    let ns = Netns::new("gso");
    ns.run(|| {
        let g: Group = "239.61.0.1:6100".parse().unwrap();
        let plain = Receiver::builder(g).build().unwrap();
        let gro = Receiver::builder(g).build().unwrap();
        gro.socket().set_udp_gro(true).unwrap();
        let tx = Sender::builder(g).build().unwrap();
        let mut s = BatchSender::new(tx.socket(), g.socket_addr(), SendPath::Segments);
        assert_eq!(s.path(), SendPath::Segments, "this kernel has UDP_SEGMENT");
        assert_eq!(s.max_per_call(100), 64);
        let buf = train(40, 100);
        assert_eq!(s.send(&buf, 100).unwrap(), 40);
        assert_eq!(s.path(), SendPath::Segments, "loopback takes segments: {:?}", s.fallback_reason());

        let mut got = Vec::new();
        let mut b = [0u8; 2000];
        while let Some(m) = plain.recv_timeout(&mut b, Duration::from_secs(2)).unwrap() {
            assert_eq!(m.group, Some(g.ip()));
            got.push(b[..m.len].to_vec());
            if got.len() == 40 {
                break;
            }
        }
        check_arrivals(&got, 40, 100);

        let mut batch = BatchReceiver::new(8, 65_536);
        let mut got = Vec::new();
        while got.len() < 40 {
            let n = batch
                .recv(gro.socket(), Some(Duration::from_secs(2)), |d, m| {
                    assert_eq!(m.len, d.len());
                    got.push(d.to_vec());
                })
                .unwrap();
            assert!(n > 0, "timed out with {} of 40", got.len());
        }
        check_arrivals(&got, 40, 100);
    });
}

/// Topology: `a` (10.62.0.1, va, MTU 1500) <-veth-> `b` (10.62.0.2, vb). Segments of 2000 bytes do not fit the
/// MTU and are never IP-fragmented, so the kernel refuses the segmented send; the sender falls back to
/// sendmmsg (whose datagrams are fragmented and reassembled) and every datagram still arrives.
#[test]
fn a_refused_segmented_send_falls_back_to_sendmmsg() {
    needs_root!();
    let a = Netns::new("gsofa");
    let b = Netns::new("gsofb");
    veth(&a, "va", "10.62.0.1/24", &b, "vb", "10.62.0.2/24");
    let g: Group = "239.62.0.1:6200".parse().unwrap();
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let rx = b.spawn(move || {
        let r = Receiver::builder(g).interface(IfaceSpec::Name("vb".into())).build().unwrap();
        ready_tx.send(()).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4000];
        while let Some(m) = r.recv_timeout(&mut buf, Duration::from_secs(5)).unwrap() {
            got.push(buf[..m.len].to_vec());
            if got.len() == 5 {
                break;
            }
        }
        got
    });
    ready.recv_timeout(Duration::from_secs(20)).expect("receiver joined");
    let (path, reason) = a.run(move || {
        let tx = Sender::builder(g).ttl(1).interface(IfaceSpec::Name("va".into())).build().unwrap();
        let mut s = BatchSender::new(tx.socket(), g.socket_addr(), SendPath::Segments);
        assert_eq!(s.send(&train(5, 2000), 2000).unwrap(), 5);
        (s.path(), s.fallback_reason().map(str::to_string))
    });
    assert_eq!(path, SendPath::Batch);
    assert!(reason.is_some_and(|r| r.contains("UDP_SEGMENT")), "the reason names the refused call");
    check_arrivals(&rx.join().unwrap(), 5, 2000);
}

#[test]
fn sizes_out_of_range_are_refused() {
    needs_root!();
    let ns = Netns::new("gsosz");
    ns.run(|| {
        let g: Group = "239.63.0.1:6300".parse().unwrap();
        let tx = Sender::builder(g).build().unwrap();
        let mut s = BatchSender::new(tx.socket(), g.socket_addr(), SendPath::Single);
        assert!(s.send(b"abc", 0).is_err());
        assert!(s.send(b"abc", 70_000).is_err());
        assert_eq!(s.send(b"", 10).unwrap(), 0);
    });
}
