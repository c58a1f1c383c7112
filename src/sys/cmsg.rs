//! Control messages (ancillary data) read safely from a `recvmsg`/`recvmmsg` answer.
//!
//! The buffer is 8-byte aligned so that `cmsghdr` reads are aligned; each payload is read with
//! `read_unaligned` after its length has been checked against the type, so a short or odd message is
//! skipped, never misread.

use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Room for pktinfo (v4 or v6), TTL/hop limit, a nanosecond timestamp, the drop counter and a GRO size.
pub const CMSG_SPACE: usize = 256;

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

#[inline]
fn read<T: Copy>(data: &[u8]) -> Option<T> {
    if data.len() < size_of::<T>() {
        return None;
    }
    // SAFETY: data holds at least size_of::<T>() readable bytes; read_unaligned copes with any alignment;
    // T is only instantiated below with integer-only C structs, for which every bit pattern is valid.
    Some(unsafe { std::ptr::read_unaligned(data.as_ptr().cast::<T>()) })
}

/// A TTL or hop limit arrives as an `int`; values outside 0..=255 are ignored rather than wrapped.
#[inline]
fn read_ttl(data: &[u8]) -> Option<u8> {
    read::<libc::c_int>(data).and_then(|v| u8::try_from(v).ok())
}

impl Ancillary {
    /// Interprets one control message.
    #[inline]
    fn absorb(&mut self, level: libc::c_int, kind: libc::c_int, data: &[u8]) {
        match (level, kind) {
            (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                if let Some(pi) = read::<libc::in_pktinfo>(data) {
                    self.dst = Some(IpAddr::V4(Ipv4Addr::from(pi.ipi_addr.s_addr.to_ne_bytes())));
                    self.ifindex = u32::try_from(pi.ipi_ifindex).ok();
                }
            }
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                if let Some(pi) = read::<libc::in6_pktinfo>(data) {
                    self.dst = Some(IpAddr::V6(Ipv6Addr::from(pi.ipi6_addr.s6_addr)));
                    self.ifindex = Some(pi.ipi6_ifindex);
                }
            }
            (libc::IPPROTO_IP, libc::IP_TTL) => self.ttl = read_ttl(data),
            (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => self.ttl = read_ttl(data),
            (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS) => {
                if let Some(ts) = read::<libc::timespec>(data) {
                    self.timestamp = Some((ts.tv_sec, ts.tv_nsec.clamp(0, 999_999_999) as u32));
                }
            }
            (libc::SOL_SOCKET, libc::SO_RXQ_OVFL) => self.drops = read::<u32>(data),
            // IP_RECVTOS delivers the byte alone; IPV6_RECVTCLASS an int.
            (libc::IPPROTO_IP, libc::IP_TOS) => self.tos = data.first().copied(),
            (libc::IPPROTO_IPV6, libc::IPV6_TCLASS) => self.tos = read_ttl(data),
            (libc::SOL_UDP, libc::UDP_GRO) => {
                self.gro_segment = read::<libc::c_int>(data).and_then(|v| u16::try_from(v).ok())
            }
            _ => {}
        }
    }
}

/// Walks the control messages a `msghdr` points at and collects what they say.
///
/// # Safety
/// `msg.msg_control` must point to `msg.msg_controllen` readable bytes written by the kernel (or be null
/// with length 0), 8-byte aligned, and stay valid for the call.
#[inline]
pub unsafe fn parse(msg: &libc::msghdr) -> Ancillary {
    let mut out = Ancillary::default();
    // SAFETY: the caller guarantees msg describes a valid control buffer; CMSG_FIRSTHDR returns null or a
    // header pointer inside it.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(msg) };
    while !cmsg.is_null() {
        // SAFETY: CMSG_FIRSTHDR/CMSG_NXTHDR only return headers that lie wholly inside the buffer.
        let hdr = unsafe { std::ptr::read_unaligned(cmsg) };
        let header_len = cmsg_len(0);
        let data_len = (hdr.cmsg_len as usize).saturating_sub(header_len);
        // SAFETY: CMSG_DATA points just past the header; the kernel wrote cmsg_len bytes from the header
        // start, and CMSG_NXTHDR already checked that cmsg_len fits the buffer.
        let data = unsafe { std::slice::from_raw_parts(libc::CMSG_DATA(cmsg), data_len) };
        out.absorb(hdr.cmsg_level, hdr.cmsg_type, data);
        // SAFETY: msg and cmsg are valid as above.
        cmsg = unsafe { libc::CMSG_NXTHDR(msg, cmsg) };
    }
    out
}

/// Writes one `UDP_SEGMENT` control message (`u16` segment size) into `buf`, returning the length used.
pub fn encode_udp_segment(buf: &mut CmsgBuf, segment: u16) -> usize {
    let space = cmsg_space(size_of::<u16>());
    let len = cmsg_len(size_of::<u16>());
    let hdr = libc::cmsghdr { cmsg_len: len as _, cmsg_level: libc::SOL_UDP, cmsg_type: libc::UDP_SEGMENT };
    // SAFETY: the buffer is 8-byte aligned and at least `space` long; cmsghdr fits at its start.
    unsafe { std::ptr::write(buf.0.as_mut_ptr().cast::<libc::cmsghdr>(), hdr) };
    let off = cmsg_len(0);
    buf.0[off..off + 2].copy_from_slice(&segment.to_ne_bytes());
    space
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_payloads_are_ignored() {
        let mut a = Ancillary::default();
        a.absorb(libc::IPPROTO_IP, libc::IP_TTL, &[1, 0]);
        assert_eq!(a.ttl, None);
        a.absorb(libc::IPPROTO_IP, libc::IP_TTL, &7i32.to_ne_bytes());
        assert_eq!(a.ttl, Some(7));
        a.absorb(libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT, &300i32.to_ne_bytes());
        assert_eq!(a.ttl, None, "out of range is dropped, not wrapped");
    }

    #[test]
    fn the_tos_byte_and_traffic_class_are_read() {
        let mut a = Ancillary::default();
        a.absorb(libc::IPPROTO_IP, libc::IP_TOS, &[0xb8]);
        assert_eq!(a.tos, Some(0xb8));
        a.absorb(libc::IPPROTO_IPV6, libc::IPV6_TCLASS, &0x88i32.to_ne_bytes());
        assert_eq!(a.tos, Some(0x88));
        a.absorb(libc::IPPROTO_IPV6, libc::IPV6_TCLASS, &[1]);
        assert_eq!(a.tos, None, "too short");
        a.absorb(libc::IPPROTO_IP, libc::IP_TOS, &[]);
        assert_eq!(a.tos, None);
    }
}
