//! A forging peer: UDP datagrams with any source address and port, written whole (IP header included) to a
//! raw socket (`SOCK_RAW`, `IPPROTO_RAW`: raw(7) turns `IP_HDRINCL` on for it, and an IPv6 one takes the
//! IPv6 header likewise). What a hostile host on the link can send: source port 0, a broadcast, multicast or
//! spoofed off-link source, any payload. Needs `CAP_NET_RAW`; run it inside a test's namespace.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use mcast::{Family, McastSocket};

/// A raw socket that sends forged UDP datagrams out of one interface.
pub struct Forge {
    sock: McastSocket,
    family: Family,
    index: u32,
}

impl Forge {
    /// A forger of `family` datagrams sent out of the interface with index `index` (multicast
    /// destinations leave there; unicast ones follow the routing table). Fails the test without
    /// `CAP_NET_RAW`.
    pub fn open(family: Family, index: u32) -> Forge {
        let sock = McastSocket::raw(family, libc::IPPROTO_RAW)
            .unwrap_or_else(|e| panic!("a forging peer needs a raw socket (CAP_NET_RAW): {e}"));
        match family {
            Family::V4 => sock.set_multicast_if_v4_index(index).expect("IP_MULTICAST_IF"),
            Family::V6 => sock.set_multicast_if_v6(index).expect("IPV6_MULTICAST_IF"),
        }
        Forge { sock, family, index }
    }

    /// Sends one UDP datagram from `src` to `dst` with `ttl` (hop limit) and `payload`, as given: nothing
    /// is checked or corrected. Returns the bytes written to the wire (headers included).
    pub fn send(&self, src: SocketAddr, dst: SocketAddr, ttl: u8, payload: &[u8]) -> usize {
        let packet = match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => udp_v4(s, src.port(), d, dst.port(), ttl, payload),
            (IpAddr::V6(s), IpAddr::V6(d)) => udp_v6(s, src.port(), d, dst.port(), ttl, payload),
            _ => panic!("forge: {src} and {dst} are of different families"),
        };
        // A raw socket's destination port is 0 (for IPv6 it would name the protocol).
        let to = match dst.ip() {
            IpAddr::V4(d) => SocketAddr::new(IpAddr::V4(d), 0),
            IpAddr::V6(d) => SocketAddr::V6(SocketAddrV6::new(d, 0, 0, self.index)),
        };
        assert_eq!(Family::of(dst.ip()), self.family, "forge: a {:?} socket cannot send to {dst}", self.family);
        self.sock.send_to(&packet, to).unwrap_or_else(|e| panic!("forge: send {src} -> {dst}: {e}"))
    }
}

/// The one's complement sum of `data` as 16-bit big-endian words, added to `sum`.
fn sum16(data: &[u8], mut sum: u32) -> u32 {
    for pair in data.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn udp_header(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(8 + payload.len()).expect("a UDP datagram under 64 KiB");
    let mut u = Vec::with_capacity(8 + payload.len());
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&len.to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

/// An IPv4 header (20 bytes, no options, DF off) and a UDP datagram with its checksum.
pub fn udp_v4(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, ttl: u8, payload: &[u8]) -> Vec<u8> {
    let mut udp = udp_header(sport, dport, payload);
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&[0, libc::IPPROTO_UDP as u8]);
    pseudo.extend_from_slice(&(udp.len() as u16).to_be_bytes());
    let ck = match fold(sum16(&udp, sum16(&pseudo, 0))) {
        0 => 0xffff,
        c => c,
    };
    udp[6..8].copy_from_slice(&ck.to_be_bytes());
    let total = u16::try_from(20 + udp.len()).expect("an IPv4 datagram under 64 KiB");
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0, 0, ttl, libc::IPPROTO_UDP as u8, 0, 0]);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let ck = fold(sum16(&ip, 0));
    ip[10..12].copy_from_slice(&ck.to_be_bytes());
    ip.extend_from_slice(&udp);
    ip
}

/// An IPv6 header (no extension headers, flow label 0) and a UDP datagram with its (mandatory) checksum.
pub fn udp_v6(src: Ipv6Addr, sport: u16, dst: Ipv6Addr, dport: u16, hops: u8, payload: &[u8]) -> Vec<u8> {
    let mut udp = udp_header(sport, dport, payload);
    let len = udp.len() as u32;
    let mut pseudo = Vec::with_capacity(40);
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&len.to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, libc::IPPROTO_UDP as u8]);
    let ck = match fold(sum16(&udp, sum16(&pseudo, 0))) {
        0 => 0xffff,
        c => c,
    };
    udp[6..8].copy_from_slice(&ck.to_be_bytes());
    let mut ip = vec![0x60, 0, 0, 0];
    ip.extend_from_slice(&(len as u16).to_be_bytes());
    ip.extend_from_slice(&[libc::IPPROTO_UDP as u8, hops]);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    ip.extend_from_slice(&udp);
    ip
}
