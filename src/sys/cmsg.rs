//! Control messages (ancillary data) read safely from a `recvmsg`/`recvmmsg` answer.
//!
//! [`walk`] goes through the bytes the kernel wrote without libc's `CMSG_NXTHDR`: each header and payload is
//! read with `read_unaligned` after its length has been checked against the type and the bytes left, so a short
//! or odd message is skipped, never misread, and it tells a [`Sink`] what each message says, so that a caller
//! keeps only what it wants, in the form it wants (the safe API's [`Ancillary`], the C ABI's
//! `struct mcast_rxinfo`).

use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Room for pktinfo (v4 or v6), TTL/hop limit, a nanosecond timestamp, the drop counter and a GRO size.
pub const CMSG_SPACE: usize = 256;

/// Room for one `UDP_SEGMENT` control message (a header and a `u16`, padded), aligned as a header: what a
/// segmented send passes, without clearing a whole [`CmsgBuf`] each time.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
pub struct SegmentCmsg(pub [u8; size_of::<libc::cmsghdr>() + 8]);

impl Default for SegmentCmsg {
    fn default() -> Self {
        SegmentCmsg([0; size_of::<libc::cmsghdr>() + 8])
    }
}

/// An aligned buffer for ancillary data.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
pub struct CmsgBuf(pub [u8; CMSG_SPACE]);

impl Default for CmsgBuf {
    fn default() -> Self {
        CmsgBuf([0; CMSG_SPACE])
    }
}

/// What the control messages of one datagram said.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ancillary {
    /// The destination address of the datagram (`IP_PKTINFO` `ipi_addr` / `IPV6_PKTINFO` `ipi6_addr`).
    pub dst: Option<IpAddr>,
    /// The interface the datagram arrived on.
    pub ifindex: Option<u32>,
    /// The TTL (`IP_TTL`) or hop limit (`IPV6_HOPLIMIT`) the datagram arrived with.
    pub ttl: Option<u8>,
    /// Kernel receive time (`SCM_TIMESTAMPNS`), seconds and nanoseconds since the Unix epoch.
    pub timestamp: Option<(i64, u32)>,
    /// The socket's cumulative count of datagrams dropped for lack of buffer space (`SO_RXQ_OVFL`).
    pub drops: Option<u32>,
    /// Segment size of a coalesced GRO datagram (`UDP_GRO`).
    pub gro_segment: Option<u16>,
    /// The TOS byte (`IP_TOS`, one byte) or traffic class (`IPV6_TCLASS`, an `int`) it arrived with.
    pub tos: Option<u8>,
}

/// `CMSG_LEN(n)`: header plus `n` bytes of payload, unpadded.
pub fn cmsg_len(n: usize) -> usize {
    // SAFETY: CMSG_LEN is a pure size computation; it is only marked unsafe in libc.
    unsafe { libc::CMSG_LEN(n as libc::c_uint) as usize }
}

/// `CMSG_SPACE(n)`: header plus `n` bytes of payload, padded for the next header.
pub fn cmsg_space(n: usize) -> usize {
    // SAFETY: CMSG_SPACE is a pure size computation; it is only marked unsafe in libc.
    unsafe { libc::CMSG_SPACE(n as libc::c_uint) as usize }
}

/// C structs made of integers (and arrays of them) only, for which every bit pattern is a valid value: what
/// [`read`] may copy out of bytes the kernel wrote.
pub trait Plain: Copy + private::Sealed {}

mod private {
    pub trait Sealed {}
}

macro_rules! plain {
    ($($t:ty),*) => {$(impl private::Sealed for $t {} impl Plain for $t {})*};
}
plain!(
    libc::c_int,
    u32,
    libc::cmsghdr,
    libc::in_pktinfo,
    libc::in6_pktinfo,
    libc::timespec,
    libc::sockaddr_in,
    libc::sockaddr_in6
);

/// The `T` at the start of `data`, or `None` when `data` is too short.
#[inline]
pub fn read<T: Plain>(data: &[u8]) -> Option<T> {
    if data.len() < size_of::<T>() {
        return None;
    }
    // SAFETY: data holds at least size_of::<T>() readable bytes; read_unaligned copes with any alignment; T is
    // Plain, so every bit pattern is a valid value.
    Some(unsafe { std::ptr::read_unaligned(data.as_ptr().cast::<T>()) })
}

/// A TTL or hop limit arrives as an `int`; values outside 0..=255 are ignored rather than wrapped.
#[inline]
fn read_ttl(data: &[u8]) -> Option<u8> {
    read::<libc::c_int>(data).and_then(|v| u8::try_from(v).ok())
}

/// What the control messages of a datagram say, message by message, as [`walk`] finds them; each method's
/// default ignores its message. Payloads too short for their type are reported as `None` where a value is
/// expected (an earlier message's value is then forgotten) and not at all for the packet info.
pub trait Sink {
    /// `IP_PKTINFO`: destination address and arrival interface.
    #[inline]
    fn pktinfo_v4(&mut self, _pi: &libc::in_pktinfo) {}
    /// `IPV6_PKTINFO`: destination address and arrival interface.
    #[inline]
    fn pktinfo_v6(&mut self, _pi: &libc::in6_pktinfo) {}
    /// `IP_TTL` or `IPV6_HOPLIMIT`.
    #[inline]
    fn ttl(&mut self, _ttl: Option<u8>) {}
    /// `SCM_TIMESTAMPNS`: seconds and nanoseconds since the Unix epoch.
    #[inline]
    fn timestamp(&mut self, _sec: i64, _nsec: u32) {}
    /// `SO_RXQ_OVFL`: the socket's running count of drops.
    #[inline]
    fn drops(&mut self, _drops: Option<u32>) {}
    /// `UDP_GRO`: the segment size of a coalesced read.
    #[inline]
    fn gro_segment(&mut self, _size: Option<u16>) {}
    /// `IP_TOS` (one byte) or `IPV6_TCLASS` (an `int`).
    #[inline]
    fn tos(&mut self, _tos: Option<u8>) {}
}

impl Sink for Ancillary {
    #[inline]
    fn pktinfo_v4(&mut self, pi: &libc::in_pktinfo) {
        self.dst = Some(IpAddr::V4(Ipv4Addr::from(pi.ipi_addr.s_addr.to_ne_bytes())));
        self.ifindex = u32::try_from(pi.ipi_ifindex).ok();
    }
    #[inline]
    fn pktinfo_v6(&mut self, pi: &libc::in6_pktinfo) {
        self.dst = Some(IpAddr::V6(Ipv6Addr::from(pi.ipi6_addr.s6_addr)));
        self.ifindex = Some(pi.ipi6_ifindex);
    }
    #[inline]
    fn ttl(&mut self, ttl: Option<u8>) {
        self.ttl = ttl;
    }
    #[inline]
    fn timestamp(&mut self, sec: i64, nsec: u32) {
        self.timestamp = Some((sec, nsec));
    }
    #[inline]
    fn drops(&mut self, drops: Option<u32>) {
        self.drops = drops;
    }
    #[inline]
    fn gro_segment(&mut self, size: Option<u16>) {
        self.gro_segment = size;
    }
    #[inline]
    fn tos(&mut self, tos: Option<u8>) {
        self.tos = tos;
    }
}

/// Interprets one control message for `sink`.
#[inline]
fn absorb(sink: &mut impl Sink, level: libc::c_int, kind: libc::c_int, data: &[u8]) {
    match (level, kind) {
        (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
            if let Some(pi) = read::<libc::in_pktinfo>(data) {
                sink.pktinfo_v4(&pi);
            }
        }
        (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
            if let Some(pi) = read::<libc::in6_pktinfo>(data) {
                sink.pktinfo_v6(&pi);
            }
        }
        (libc::IPPROTO_IP, libc::IP_TTL) | (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => sink.ttl(read_ttl(data)),
        (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS) => {
            if let Some(ts) = read::<libc::timespec>(data) {
                sink.timestamp(ts.tv_sec, ts.tv_nsec.clamp(0, 999_999_999) as u32);
            }
        }
        (libc::SOL_SOCKET, libc::SO_RXQ_OVFL) => sink.drops(read::<u32>(data)),
        // IP_RECVTOS delivers the byte alone; IPV6_RECVTCLASS an int.
        (libc::IPPROTO_IP, libc::IP_TOS) => sink.tos(data.first().copied()),
        (libc::IPPROTO_IPV6, libc::IPV6_TCLASS) => sink.tos(read_ttl(data)),
        (libc::SOL_UDP, libc::UDP_GRO) => {
            sink.gro_segment(read::<libc::c_int>(data).and_then(|v| u16::try_from(v).ok()))
        }
        _ => {}
    }
}

/// `CMSG_ALIGN(size_of::<cmsghdr>())`: where a control message's payload starts (`CMSG_DATA`), and the
/// shortest valid `cmsg_len`.
const HEADER: usize = align(size_of::<libc::cmsghdr>());

/// `CMSG_ALIGN(n)`: `n` rounded up to the alignment of `size_t`, as glibc and the kernel pad messages.
const fn align(n: usize) -> usize {
    (n + size_of::<usize>() - 1) & !(size_of::<usize>() - 1)
}

/// Walks the control messages in `control`, the bytes the kernel wrote (`msg_controllen` of them), and tells
/// `sink` what each says. A header whose length is shorter than a header or runs past the end stops the walk
/// (the kernel writes neither; a truncated message, under `MSG_CTRUNC`, has its length cut to what fits).
#[inline]
pub fn walk(control: &[u8], sink: &mut impl Sink) {
    let mut rest = control;
    while let Some(header) = read::<libc::cmsghdr>(rest) {
        let len = header.cmsg_len;
        if len < HEADER || len > rest.len() {
            break;
        }
        absorb(sink, header.cmsg_level, header.cmsg_type, &rest[HEADER..len]);
        rest = rest.get(align(len)..).unwrap_or_default();
    }
}

/// Writes one `UDP_SEGMENT` control message (`u16` segment size) into `buf`, returning the length used.
pub fn encode_udp_segment(buf: &mut SegmentCmsg, segment: u16) -> usize {
    let space = cmsg_space(size_of::<u16>());
    debug_assert!(space <= buf.0.len(), "CMSG_SPACE(2) is a header and at most 8 bytes");
    let len = cmsg_len(size_of::<u16>());
    let hdr = libc::cmsghdr { cmsg_len: len as _, cmsg_level: libc::SOL_UDP, cmsg_type: libc::UDP_SEGMENT };
    // SAFETY: the buffer is 8-byte aligned and a cmsghdr plus 8 bytes long; cmsghdr fits at its start.
    unsafe { std::ptr::write(buf.0.as_mut_ptr().cast::<libc::cmsghdr>(), hdr) };
    let off = cmsg_len(0);
    buf.0[off..off + 2].copy_from_slice(&segment.to_ne_bytes());
    space
}

/// Control messages laid out as the kernel writes them (header, payload, padding to the next header), for
/// tests of what reads them.
#[cfg(test)]
pub(crate) fn control_bytes(messages: &[(libc::c_int, libc::c_int, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(level, kind, data) in messages {
        let len = HEADER + data.len();
        out.extend_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(&level.to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(data);
        out.resize(out.len() + align(len) - len, 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_libcs() {
        assert_eq!(HEADER, cmsg_len(0));
        assert_eq!(align(HEADER + 4), cmsg_space(4));
        assert_eq!(align(HEADER + 12), cmsg_space(12));
    }

    fn pktinfo_v4(ifindex: i32, addr: [u8; 4]) -> Vec<u8> {
        let mut b = ifindex.to_ne_bytes().to_vec();
        b.extend_from_slice(&[127, 0, 0, 1]); // ipi_spec_dst
        b.extend_from_slice(&addr);
        b
    }

    #[test]
    fn a_walk_reads_every_message_and_stops_at_a_bad_header() {
        let pi = pktinfo_v4(3, [239, 1, 2, 3]);
        let ts = [7i64.to_ne_bytes(), 9i64.to_ne_bytes()].concat();
        let mut control = control_bytes(&[
            (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS, &ts),
            (libc::IPPROTO_IP, libc::IP_PKTINFO, &pi),
            (libc::IPPROTO_IP, libc::IP_TTL, &5i32.to_ne_bytes()),
            (libc::IPPROTO_IP, libc::IP_TOS, &[0xb8]),
            (libc::SOL_SOCKET, libc::SO_RXQ_OVFL, &11u32.to_ne_bytes()),
        ]);
        let mut a = Ancillary::default();
        walk(&control, &mut a);
        let want = Ancillary {
            dst: Some(IpAddr::from([239, 1, 2, 3])),
            ifindex: Some(3),
            ttl: Some(5),
            timestamp: Some((7, 9)),
            drops: Some(11),
            gro_segment: None,
            tos: Some(0xb8),
        };
        assert_eq!(a, want);
        // A header claiming more than is left stops the walk there; so does one shorter than a header, and a
        // tail too short for a header is ignored.
        let good = control.len();
        control.extend_from_slice(&control_bytes(&[(libc::IPPROTO_IP, libc::IP_TTL, &6i32.to_ne_bytes())]));
        control[good..good + 8].copy_from_slice(&64usize.to_ne_bytes());
        let mut b = Ancillary::default();
        walk(&control, &mut b);
        assert_eq!(b, want, "the overlong message is not read");
        control[good..good + 8].copy_from_slice(&8usize.to_ne_bytes());
        let mut c = Ancillary::default();
        walk(&control, &mut c);
        assert_eq!(c, want, "the short message is not read");
        let mut d = Ancillary::default();
        walk(&control[..good + 10], &mut d);
        assert_eq!(d, want);
        let mut e = Ancillary::default();
        walk(&[], &mut e);
        assert_eq!(e, Ancillary::default());
    }

    #[test]
    fn short_payloads_are_ignored() {
        let mut a = Ancillary::default();
        absorb(&mut a, libc::IPPROTO_IP, libc::IP_TTL, &[1, 0]);
        assert_eq!(a.ttl, None);
        absorb(&mut a, libc::IPPROTO_IP, libc::IP_TTL, &7i32.to_ne_bytes());
        assert_eq!(a.ttl, Some(7));
        absorb(&mut a, libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT, &300i32.to_ne_bytes());
        assert_eq!(a.ttl, None, "out of range is dropped, not wrapped");
    }

    #[test]
    fn the_tos_byte_and_traffic_class_are_read() {
        let mut a = Ancillary::default();
        absorb(&mut a, libc::IPPROTO_IP, libc::IP_TOS, &[0xb8]);
        assert_eq!(a.tos, Some(0xb8));
        absorb(&mut a, libc::IPPROTO_IPV6, libc::IPV6_TCLASS, &0x88i32.to_ne_bytes());
        assert_eq!(a.tos, Some(0x88));
        absorb(&mut a, libc::IPPROTO_IPV6, libc::IPV6_TCLASS, &[1]);
        assert_eq!(a.tos, None, "too short");
        absorb(&mut a, libc::IPPROTO_IP, libc::IP_TOS, &[]);
        assert_eq!(a.tos, None);
    }
}
