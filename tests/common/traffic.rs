//! Topologies and receive checks shared by the traffic tests.
//!
//! A negative check ("nothing arrives") is only meaningful after a positive one on the same socket: tests
//! first prove the path delivers, then [`assert_silent`] waits [`QUIET`] for anything more.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use mcast::{Group, IfaceSpec, McastSocket, Receiver, RecvMeta, Sender};

use super::{veth, wait_ipv6, Netns};

/// How long a test waits for a datagram that must come: long, since a loaded 2-core machine can stall.
pub const WAIT: Duration = Duration::from_secs(5);

/// How long a test waits for a datagram that must not come, after a control datagram proved the path.
pub const QUIET: Duration = Duration::from_millis(300);

/// Host A's address on the link.
pub const A4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// Host A's second address on the link (a second source for source filters).
pub const A4_ALT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 11);
/// Host B's address on the link.
pub const B4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// Host A's IPv6 address on the link.
pub const A6: Ipv6Addr = Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 1);
/// Host A's second IPv6 address on the link.
pub const A6_ALT: Ipv6Addr = Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 0x11);
/// Host B's IPv6 address on the link.
pub const B6: Ipv6Addr = Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 2);

/// Two hosts on one Ethernet link, each its own namespace:
///
/// ```text
///   a: va 10.0.0.1/24 10.0.0.11/24 fd00:1::1/64 fd00:1::11/64  <-- veth -->  b: vb 10.0.0.2/24 fd00:1::2/64
///
/// The second addresses of `va` are sources a socket binds to on purpose: 10.0.0.11 is secondary and
/// fd00:1::11 deprecated, so the kernel's own choice of source is always 10.0.0.1 or fd00:1::1.
/// ```
///
/// Both keep the multicast route on `lo` that [`Netns::new`] adds, so a socket names its interface.
pub struct Link {
    /// The first host (the sender in most tests).
    pub a: Netns,
    /// The second host.
    pub b: Netns,
}

impl Link {
    /// Builds the link; fails the test if it cannot.
    pub fn new(tag: &str) -> Link {
        let a = Netns::new(&format!("{tag}a"));
        let b = Netns::new(&format!("{tag}b"));
        veth(&a, "va", "10.0.0.1/24", &b, "vb", "10.0.0.2/24");
        a.add_addr("va", "10.0.0.11/24");
        a.add_addr("va", "fd00:1::1/64");
        // Deprecated, so source selection (RFC 6724 rule 3) picks fd00:1::1 unless a socket binds this one.
        a.ip(&["-6", "addr", "add", "fd00:1::11/64", "dev", "va", "nodad", "preferred_lft", "0"]);
        b.add_addr("vb", "fd00:1::2/64");
        wait_ipv6(&a, "va");
        wait_ipv6(&b, "vb");
        Link { a, b }
    }
}

impl Netns {
    /// Adds an address to an interface (`ip addr add CIDR dev IFNAME`), IPv6 ones without duplicate address
    /// detection so they are usable at once.
    pub fn add_addr(&self, ifname: &str, cidr: &str) {
        if cidr.contains(':') {
            self.ip(&["-6", "addr", "add", cidr, "dev", ifname, "nodad"]);
        } else {
            self.ip(&["addr", "add", cidr, "dev", ifname]);
        }
    }
}

/// One datagram that arrived: what the library reported and the bytes.
#[derive(Debug)]
pub struct Got {
    /// The metadata (`recvmsg` and its control messages).
    pub meta: RecvMeta,
    /// The payload, `meta.len` bytes.
    pub bytes: Vec<u8>,
}

/// Receives one datagram that must arrive within [`WAIT`]; `what` names it in the failure.
pub fn expect(sock: &McastSocket, what: &str) -> Got {
    let mut buf = vec![0u8; 65536];
    match sock.recv_timeout(&mut buf, WAIT) {
        Ok(Some(meta)) => Got { bytes: buf[..meta.len].to_vec(), meta },
        Ok(None) => panic!("{what}: nothing arrived within {WAIT:?}"),
        Err(e) => panic!("{what}: {e}"),
    }
}

/// Asserts that nothing (more) arrives within [`QUIET`].
pub fn assert_silent(sock: &McastSocket, what: &str) {
    let mut buf = vec![0u8; 65536];
    match sock.recv_timeout(&mut buf, QUIET) {
        Ok(None) => {}
        Ok(Some(meta)) => {
            panic!("{what}: unexpected datagram {:?} {meta:?}", String::from_utf8_lossy(&buf[..meta.len]))
        }
        Err(e) => panic!("{what}: {e}"),
    }
}

/// Asserts that one datagram arrives and is exactly `payload`, from `source` (port not checked), to `group`,
/// on interface `ifindex`; returns it for further checks.
pub fn expect_exact(
    sock: &McastSocket,
    what: &str,
    payload: &[u8],
    source: IpAddr,
    group: IpAddr,
    ifindex: u32,
) -> Got {
    let got = expect(sock, what);
    assert_eq!(got.bytes, payload, "{what}: payload");
    assert_eq!(got.meta.len, payload.len(), "{what}: len");
    assert!(!got.meta.truncated, "{what}: truncated");
    assert_eq!(got.meta.source.ip(), source, "{what}: source");
    assert_eq!(got.meta.group, Some(group), "{what}: group (pktinfo)");
    assert_eq!(got.meta.ifindex, Some(ifindex), "{what}: arrival interface");
    got
}

/// An interface by name.
pub fn iface(name: &str) -> IfaceSpec {
    IfaceSpec::Name(name.into())
}

/// A sender in `ns` out of `ifname` (`IP_MULTICAST_IF`/`IPV6_MULTICAST_IF`) with this TTL or hop limit and
/// loop setting.
pub fn sender(ns: &Netns, g: Group, ifname: &str, ttl: u8, multicast_loop: bool) -> Sender {
    let ifname = ifname.to_string();
    ns.run(move || Sender::builder(g).interface(iface(&ifname)).ttl(ttl).multicast_loop(multicast_loop).build())
        .expect("sender")
}

/// A sender in `ns` out of `ifname`, TTL or hop limit 1, bound to `source` (one of the interface's addresses).
pub fn sender_from(ns: &Netns, g: Group, ifname: &str, source: IpAddr) -> Sender {
    let (ifname, bind) = (ifname.to_string(), SocketAddr::new(source, 0));
    ns.run(move || Sender::builder(g).interface(iface(&ifname)).ttl(1).bind(bind).build()).expect("bound sender")
}

/// A receiver in `ns` for `g` joined on `ifname`, with the library's defaults.
pub fn receiver(ns: &Netns, g: Group, ifname: &str) -> Receiver {
    let ifname = ifname.to_string();
    ns.run(move || Receiver::builder(g).interface(iface(&ifname)).build()).expect("receiver")
}

/// Receives exactly `n` datagrams with `recvmmsg` batches, waiting at most [`WAIT`] in all; leaves the socket
/// blocking again.
pub fn recv_batches(sock: &McastSocket, n: usize) -> Vec<Got> {
    sock.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + WAIT;
    let mut out = Vec::new();
    let mut storage = vec![vec![0u8; 2048]; 64];
    let mut metas = Vec::new();
    while out.len() < n {
        let mut bufs: Vec<&mut [u8]> = storage.iter_mut().map(|b| b.as_mut_slice()).collect();
        match sock.recv_batch(&mut bufs, &mut metas) {
            Ok(k) => {
                out.extend(metas[..k].iter().zip(&storage).map(|(m, b)| Got { meta: *m, bytes: b[..m.len].to_vec() }))
            }
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                assert!(Instant::now() < deadline, "only {} of {n} datagrams arrived", out.len());
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("recv_batch: {e}"),
        }
    }
    sock.set_nonblocking(false).unwrap();
    out
}

/// Waits up to [`WAIT`] for `done` to hold, failing the test with `what` if it never does.
///
/// For what follows a `close`: while another thread of the test process forks a helper (`ip`), the child
/// holds a copy of every descriptor until it execs, so the socket's release - and the end of its memberships
/// - can lag the `close` by a moment.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: still not so after {WAIT:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
