//! Link events: interfaces appearing, going up or down, losing their carrier, disappearing, and addresses
//! coming and going, as the kernel announces them on a `NETLINK_ROUTE` socket (rtnetlink(7)).
//!
//! A receiver left running for days outlives its interfaces: a cable is pulled, a VPN reconnects, a veth is
//! deleted and made again under the same name (with a new index). [`LinkWatcher`] hears of it at once, so the
//! receiver can rejoin (see [`crate::resilient`]); nothing is polled.
//!
//! The messages are parsed as untrusted bytes, the smoltcp way: [`Messages`] and [`Attrs`] walk checked views
//! (`nlmsghdr`, then `rtattr`s), every length is proven before use, and any input gives events or a
//! [`LinkEvent::Resync`] ("re-read the interfaces"), never a panic. All integers are in host byte order.
//!
//! ```no_run
//! use mcast::__private::linkwatch::{LinkEvent, LinkWatcher};
//! let mut watch = LinkWatcher::open()?;
//! for event in watch.read()? {
//!     if let LinkEvent::DelLink(link) = event {
//!         println!("interface {} (#{}) is gone", link.name.as_deref().unwrap_or("?"), link.index);
//!     }
//! }
//! # Ok::<(), mcast::Error>(())
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use crate::error::{Error, Result};
use crate::sys::netlink::{self, Read};

/// Byte ranges of the structures, from linux/netlink.h, linux/rtnetlink.h, linux/if_link.h and
/// linux/if_addr.h.
mod field {
    use std::ops::Range;
    /// `struct nlmsghdr`: length (header included), type, flags, sequence, port id.
    pub const NLMSG_LEN: Range<usize> = 0..4;
    pub const NLMSG_TYPE: Range<usize> = 4..6;
    pub const NLMSG_FLAGS: Range<usize> = 6..8;
    pub const NLMSG_SEQ: Range<usize> = 8..12;
    pub const NLMSG_HEADER_LEN: usize = 16;
    /// `struct ifinfomsg`: family, pad, device type, index (int), flags, change mask.
    pub const IFI_INDEX: Range<usize> = 4..8;
    pub const IFI_FLAGS: Range<usize> = 8..12;
    pub const IFINFOMSG_LEN: usize = 16;
    /// `struct ifaddrmsg`: family, prefix length, flags, scope, index (unsigned).
    pub const IFA_FAMILY: usize = 0;
    pub const IFA_PREFIXLEN: usize = 1;
    pub const IFA_INDEX: Range<usize> = 4..8;
    pub const IFADDRMSG_LEN: usize = 8;
    /// `struct rtattr`: length (header included), type.
    pub const RTA_LEN: Range<usize> = 0..2;
    pub const RTA_TYPE: Range<usize> = 2..4;
    pub const RTA_HEADER_LEN: usize = 4;
}

/// Message types (linux/netlink.h, linux/rtnetlink.h).
const NLMSG_OVERRUN: u16 = 4;
const RTM_NEWLINK: u16 = libc::RTM_NEWLINK;
const RTM_DELLINK: u16 = libc::RTM_DELLINK;
const RTM_NEWADDR: u16 = libc::RTM_NEWADDR;
const RTM_DELADDR: u16 = libc::RTM_DELADDR;
/// Attribute types (linux/if_link.h, linux/if_addr.h).
const IFLA_IFNAME: u16 = 3;
const IFLA_OPERSTATE: u16 = 16;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
/// `NLA_TYPE_MASK`: the attribute type without the `NLA_F_NESTED`/`NLA_F_NET_BYTEORDER` bits.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// Netlink pads every message and attribute to 4 bytes (`NLMSG_ALIGN`, `RTA_ALIGN`).
fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

fn u16_at(b: &[u8], r: std::ops::Range<usize>) -> Option<u16> {
    b.get(r).and_then(|s| s.try_into().ok()).map(u16::from_ne_bytes)
}

fn u32_at(b: &[u8], r: std::ops::Range<usize>) -> Option<u32> {
    b.get(r).and_then(|s| s.try_into().ok()).map(u32::from_ne_bytes)
}

/// Why bytes are not a well-formed netlink message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetlinkError {
    /// Fewer bytes than a header of `needed` bytes.
    Truncated {
        /// Bytes a header needs.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// A length field that is below its header's size or past the end of the buffer.
    BadLength {
        /// The length the header declares.
        declared: usize,
        /// Bytes present.
        available: usize,
    },
    /// An `ifinfomsg` with a negative interface index.
    BadIndex(i32),
}

impl fmt::Display for NetlinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            NetlinkError::Truncated { needed, available } => {
                write!(f, "netlink: {available} bytes is shorter than a {needed}-byte header")
            }
            NetlinkError::BadLength { declared, available } => {
                write!(f, "netlink: length {declared} does not fit the {available} bytes present")
            }
            NetlinkError::BadIndex(i) => write!(f, "netlink: interface index {i} is negative"),
        }
    }
}

impl std::error::Error for NetlinkError {}

/// One netlink message: its type, flags, sequence number and payload (the bytes after `nlmsghdr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// `nlmsg_type`: `RTM_NEWLINK`, `NLMSG_DONE`, ...
    pub kind: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`: 0 in announcements.
    pub seq: u32,
    /// The bytes after the header, up to the message's declared length.
    pub payload: &'a [u8],
}

/// The messages in one buffer as the kernel packs them (each padded to 4 bytes). Stops after the first
/// malformed one, which it yields as an error.
#[derive(Clone, Debug)]
pub struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Messages<'a> {
    /// The messages of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Messages { rest: buf }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = std::result::Result<Message<'a>, NetlinkError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let buf = std::mem::take(&mut self.rest);
        let available = buf.len();
        let (Some(len), Some(kind), Some(flags), Some(seq)) = (
            u32_at(buf, field::NLMSG_LEN),
            u16_at(buf, field::NLMSG_TYPE),
            u16_at(buf, field::NLMSG_FLAGS),
            u32_at(buf, field::NLMSG_SEQ),
        ) else {
            return Some(Err(NetlinkError::Truncated { needed: field::NLMSG_HEADER_LEN, available }));
        };
        let len = len as usize;
        let Some(payload) = buf.get(field::NLMSG_HEADER_LEN..len).filter(|_| len >= field::NLMSG_HEADER_LEN) else {
            return Some(Err(NetlinkError::BadLength { declared: len, available }));
        };
        self.rest = buf.get(align4(len)..).unwrap_or(&[]);
        Some(Ok(Message { kind, flags, seq, payload }))
    }
}

/// The attributes (`rtattr`) after a message's fixed part: `(type, value)` pairs, the type without its flag
/// bits. Stops after the first malformed one, which it yields as an error.
#[derive(Clone, Debug)]
pub struct Attrs<'a> {
    rest: &'a [u8],
}

impl<'a> Attrs<'a> {
    /// The attributes in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Attrs { rest: buf }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = std::result::Result<(u16, &'a [u8]), NetlinkError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let buf = std::mem::take(&mut self.rest);
        let available = buf.len();
        let (Some(len), Some(kind)) = (u16_at(buf, field::RTA_LEN), u16_at(buf, field::RTA_TYPE)) else {
            return Some(Err(NetlinkError::Truncated { needed: field::RTA_HEADER_LEN, available }));
        };
        let len = len as usize;
        let Some(value) = buf.get(field::RTA_HEADER_LEN..len).filter(|_| len >= field::RTA_HEADER_LEN) else {
            return Some(Err(NetlinkError::BadLength { declared: len, available }));
        };
        self.rest = buf.get(align4(len)..).unwrap_or(&[]);
        Some(Ok((kind & NLA_TYPE_MASK, value)))
    }
}

/// An interface as an `RTM_NEWLINK`/`RTM_DELLINK` message describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    /// The interface index: a re-created interface has a new one, even under the same name.
    pub index: u32,
    /// Its name (`IFLA_IFNAME`), when the message carried one.
    pub name: Option<String>,
    /// `IFF_*` flags.
    pub flags: u32,
    /// RFC 2863 operational state (`IFLA_OPERSTATE`: 6 up, 2 down, 5 dormant, ...), when present.
    pub operstate: Option<u8>,
}

impl LinkInfo {
    /// Parses the payload of an `RTM_NEWLINK`/`RTM_DELLINK` message: `ifinfomsg`, then attributes.
    pub fn parse(payload: &[u8]) -> std::result::Result<LinkInfo, NetlinkError> {
        let (Some(index), Some(flags), Some(attrs)) =
            (u32_at(payload, field::IFI_INDEX), u32_at(payload, field::IFI_FLAGS), payload.get(field::IFINFOMSG_LEN..))
        else {
            return Err(NetlinkError::Truncated { needed: field::IFINFOMSG_LEN, available: payload.len() });
        };
        let index = i32::from_ne_bytes(index.to_ne_bytes());
        let index = u32::try_from(index).map_err(|_| NetlinkError::BadIndex(index))?;
        let mut link = LinkInfo { index, name: None, flags, operstate: None };
        for attr in Attrs::new(attrs) {
            match attr? {
                (IFLA_IFNAME, v) => {
                    let name = v.split(|&b| b == 0).next().unwrap_or_default();
                    link.name = Some(String::from_utf8_lossy(name).into_owned());
                }
                (IFLA_OPERSTATE, v) => link.operstate = v.first().copied(),
                _ => {}
            }
        }
        Ok(link)
    }

    /// `IFF_UP`: administratively up.
    pub fn is_up(&self) -> bool {
        self.flags & libc::IFF_UP as u32 != 0
    }

    /// `IFF_RUNNING`: up with a carrier (for a veth: its peer is up too).
    pub fn is_running(&self) -> bool {
        self.flags & libc::IFF_RUNNING as u32 != 0
    }

    /// Up and running: datagrams can arrive on it.
    pub fn is_usable(&self) -> bool {
        self.is_up() && self.is_running()
    }
}

/// An address as an `RTM_NEWADDR`/`RTM_DELADDR` message describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrInfo {
    /// The interface's index.
    pub index: u32,
    /// The address: `IFA_LOCAL` for IPv4 (on a point-to-point link `IFA_ADDRESS` is the peer's), else
    /// `IFA_ADDRESS`. `None` for a family other than IPv4 and IPv6, or without either attribute.
    pub addr: Option<IpAddr>,
    /// Prefix length.
    pub prefix_len: u8,
}

impl AddrInfo {
    /// Parses the payload of an `RTM_NEWADDR`/`RTM_DELADDR` message: `ifaddrmsg`, then attributes.
    pub fn parse(payload: &[u8]) -> std::result::Result<AddrInfo, NetlinkError> {
        let (Some(&family), Some(&prefix_len), Some(index), Some(attrs)) = (
            payload.get(field::IFA_FAMILY),
            payload.get(field::IFA_PREFIXLEN),
            u32_at(payload, field::IFA_INDEX),
            payload.get(field::IFADDRMSG_LEN..),
        ) else {
            return Err(NetlinkError::Truncated { needed: field::IFADDRMSG_LEN, available: payload.len() });
        };
        let (mut local, mut address) = (None, None);
        for attr in Attrs::new(attrs) {
            let (kind, v) = attr?;
            let ip = match i32::from(family) {
                libc::AF_INET => <[u8; 4]>::try_from(v).ok().map(|a| IpAddr::V4(Ipv4Addr::from(a))),
                libc::AF_INET6 => <[u8; 16]>::try_from(v).ok().map(|a| IpAddr::V6(Ipv6Addr::from(a))),
                _ => None,
            };
            match kind {
                IFA_LOCAL => local = ip,
                IFA_ADDRESS => address = ip,
                _ => {}
            }
        }
        Ok(AddrInfo { index, addr: local.or(address), prefix_len })
    }
}

/// What the kernel announced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// An interface appeared or changed (flags, carrier, name).
    NewLink(LinkInfo),
    /// An interface was deleted.
    DelLink(LinkInfo),
    /// An address was added.
    NewAddr(AddrInfo),
    /// An address was removed.
    DelAddr(AddrInfo),
    /// Announcements were lost (the socket's buffer overflowed) or could not be read: whoever keeps state
    /// about interfaces must read it again.
    Resync,
}

/// Every event in a buffer of netlink messages, in order. Messages of other types (acknowledgements,
/// `NLMSG_DONE`, routes) are skipped; a malformed message or `NLMSG_OVERRUN` becomes [`LinkEvent::Resync`].
pub fn parse_events(buf: &[u8]) -> Vec<LinkEvent> {
    let mut events = Vec::new();
    for msg in Messages::new(buf) {
        let Ok(msg) = msg else {
            events.push(LinkEvent::Resync);
            break;
        };
        let event = match msg.kind {
            RTM_NEWLINK => LinkInfo::parse(msg.payload).map(LinkEvent::NewLink),
            RTM_DELLINK => LinkInfo::parse(msg.payload).map(LinkEvent::DelLink),
            RTM_NEWADDR => AddrInfo::parse(msg.payload).map(LinkEvent::NewAddr),
            RTM_DELADDR => AddrInfo::parse(msg.payload).map(LinkEvent::DelAddr),
            NLMSG_OVERRUN => Ok(LinkEvent::Resync),
            _ => continue,
        };
        events.push(event.unwrap_or(LinkEvent::Resync));
    }
    events
}

/// Room for one read: the kernel sends announcements in buffers of at most a page or two.
const BUFFER: usize = 32 * 1024;
/// The socket's receive buffer: room for a few thousand announcements before any is lost.
const SOCKET_BUFFER: libc::c_int = 1 << 20;
/// Reads per [`LinkWatcher::read`], so a storm of announcements cannot keep the caller from its datagrams.
const MAX_READS: usize = 256;

/// A `NETLINK_ROUTE` socket subscribed to link, IPv4 address and IPv6 address announcements.
///
/// Its descriptor is non-blocking and can sit in the caller's `poll`/`epoll` set beside the data sockets
/// ([`AsFd`]); [`LinkWatcher::read`] then takes what is queued.
#[derive(Debug)]
pub struct LinkWatcher {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl LinkWatcher {
    /// Opens the socket (`RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR`) in the calling thread's
    /// network namespace.
    pub fn open() -> Result<LinkWatcher> {
        let groups = netlink::GROUP_LINK | netlink::GROUP_IPV4_IFADDR | netlink::GROUP_IPV6_IFADDR;
        let fd = netlink::open_route(groups)
            .map_err(|e| Error::os("socket(AF_NETLINK, NETLINK_ROUTE) for link announcements", e))?;
        // A larger buffer only makes overruns rarer; without it they are still reported (Resync).
        let _ = netlink::set_recv_buffer(fd.as_fd(), SOCKET_BUFFER);
        Ok(LinkWatcher { fd, buf: vec![0; BUFFER] })
    }

    /// Everything announced since the last call, without waiting (empty when nothing is queued). An overrun
    /// (`ENOBUFS`: the kernel had to drop announcements) or a message too long for the buffer becomes
    /// [`LinkEvent::Resync`].
    pub fn read(&mut self) -> Result<Vec<LinkEvent>> {
        let mut events = Vec::new();
        for _ in 0..MAX_READS {
            match netlink::recv(self.fd.as_fd(), &mut self.buf) {
                Ok(Read::Empty) => break,
                Ok(Read::Other) => continue,
                Ok(Read::Kernel { len, truncated }) => {
                    events.extend(parse_events(self.buf.get(..len).unwrap_or_default()));
                    if truncated {
                        events.push(LinkEvent::Resync);
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => events.push(LinkEvent::Resync),
                Err(e) => return Err(Error::os("recvfrom NETLINK_ROUTE", e)),
            }
        }
        Ok(events)
    }
}

impl AsFd for LinkWatcher {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for LinkWatcher {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends one netlink message of `kind` with `body` (already padded by the caller where it matters).
    fn message(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
        let len = (field::NLMSG_HEADER_LEN + body.len()) as u32;
        out.extend_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(&0u16.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(body);
        out.resize(align4(out.len()), 0);
    }

    fn attr(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
        out.extend_from_slice(&((field::RTA_HEADER_LEN + value.len()) as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(value);
        out.resize(align4(out.len()), 0);
    }

    fn ifinfomsg(index: i32, flags: u32, name: &str) -> Vec<u8> {
        let mut b = vec![libc::AF_UNSPEC as u8, 0, 1, 0];
        b.extend_from_slice(&index.to_ne_bytes());
        b.extend_from_slice(&flags.to_ne_bytes());
        b.extend_from_slice(&u32::MAX.to_ne_bytes());
        attr(&mut b, IFLA_IFNAME, format!("{name}\0").as_bytes());
        attr(&mut b, IFLA_OPERSTATE, &[6]);
        b
    }

    fn ifaddrmsg(family: u8, index: u32, prefix: u8, local: &[u8], address: &[u8]) -> Vec<u8> {
        let mut b = vec![family, prefix, 0, 0];
        b.extend_from_slice(&index.to_ne_bytes());
        attr(&mut b, IFA_ADDRESS, address);
        attr(&mut b, IFA_LOCAL, local);
        b
    }

    const UP_RUNNING: u32 = (libc::IFF_UP | libc::IFF_RUNNING | libc::IFF_MULTICAST) as u32;

    #[test]
    fn link_and_address_announcements_deconstruct() {
        let mut buf = Vec::new();
        message(&mut buf, RTM_NEWLINK, &ifinfomsg(7, UP_RUNNING, "vb"));
        message(&mut buf, RTM_DELLINK, &ifinfomsg(7, 0, "vb"));
        message(&mut buf, RTM_NEWADDR, &ifaddrmsg(libc::AF_INET as u8, 9, 24, &[10, 0, 0, 2], &[10, 0, 0, 1]));
        let v6: [u8; 16] = "fd00:1::2".parse::<Ipv6Addr>().unwrap().octets();
        let mut only_address = vec![libc::AF_INET6 as u8, 64, 0, 0];
        only_address.extend_from_slice(&9u32.to_ne_bytes());
        attr(&mut only_address, IFA_ADDRESS, &v6);
        message(&mut buf, RTM_DELADDR, &only_address);
        message(&mut buf, libc::NLMSG_DONE as u16, &0i32.to_ne_bytes());
        let events = parse_events(&buf);
        let vb = LinkInfo { index: 7, name: Some("vb".into()), flags: UP_RUNNING, operstate: Some(6) };
        assert_eq!(
            events,
            [
                LinkEvent::NewLink(vb.clone()),
                LinkEvent::DelLink(LinkInfo { flags: 0, ..vb }),
                LinkEvent::NewAddr(AddrInfo { index: 9, addr: Some("10.0.0.2".parse().unwrap()), prefix_len: 24 }),
                LinkEvent::DelAddr(AddrInfo { index: 9, addr: Some("fd00:1::2".parse().unwrap()), prefix_len: 64 }),
            ]
        );
        let LinkEvent::NewLink(l) = &events[0] else { unreachable!() };
        assert!(l.is_usable());
    }

    #[test]
    fn flags_say_down_and_no_carrier() {
        let down = LinkInfo { index: 1, name: None, flags: libc::IFF_MULTICAST as u32, operstate: None };
        assert!(!down.is_up() && !down.is_usable());
        let no_carrier = LinkInfo { flags: (libc::IFF_UP | libc::IFF_MULTICAST) as u32, ..down };
        assert!(no_carrier.is_up() && !no_carrier.is_running() && !no_carrier.is_usable());
    }

    #[test]
    fn overruns_and_malformed_messages_ask_for_a_resync() {
        let mut buf = Vec::new();
        message(&mut buf, NLMSG_OVERRUN, &[]);
        assert_eq!(parse_events(&buf), [LinkEvent::Resync]);
        // A link message too short for its ifinfomsg, then a good one: the bad one becomes Resync only.
        let mut buf = Vec::new();
        message(&mut buf, RTM_NEWLINK, &[0; 8]);
        message(&mut buf, RTM_NEWLINK, &ifinfomsg(3, UP_RUNNING, "lo"));
        let events = parse_events(&buf);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0], LinkEvent::Resync);
        assert!(matches!(&events[1], LinkEvent::NewLink(l) if l.name.as_deref() == Some("lo")));
        // A negative index is refused.
        assert_eq!(LinkInfo::parse(&ifinfomsg(-1, 0, "x")), Err(NetlinkError::BadIndex(-1)));
    }

    #[test]
    fn lengths_are_checked_before_use() {
        let mut buf = Vec::new();
        message(&mut buf, RTM_NEWLINK, &ifinfomsg(4, UP_RUNNING, "veth0"));
        // A declared length past the end.
        let mut long = buf.clone();
        long[0..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert_eq!(
            Messages::new(&long).next(),
            Some(Err(NetlinkError::BadLength { declared: 1000, available: buf.len() }))
        );
        // A declared length below the header's.
        let mut short = buf.clone();
        short[0..4].copy_from_slice(&3u32.to_ne_bytes());
        assert_eq!(parse_events(&short), [LinkEvent::Resync]);
        // An attribute whose length runs past the message.
        let mut bad_attr = ifinfomsg(4, UP_RUNNING, "veth0");
        bad_attr[16..18].copy_from_slice(&200u16.to_ne_bytes());
        assert!(matches!(LinkInfo::parse(&bad_attr), Err(NetlinkError::BadLength { declared: 200, .. })));
    }

    /// Every prefix and every single-byte change of a valid buffer parses to events or Resync, without a
    /// panic (the kernel is trusted, but the parser does not need to be).
    #[test]
    fn any_bytes_parse_without_panic() {
        let mut buf = Vec::new();
        message(&mut buf, RTM_NEWLINK, &ifinfomsg(4, UP_RUNNING, "veth0"));
        message(&mut buf, RTM_NEWADDR, &ifaddrmsg(libc::AF_INET as u8, 4, 24, &[10, 0, 0, 2], &[10, 0, 0, 2]));
        for cut in 0..=buf.len() {
            let events = parse_events(&buf[..cut]);
            assert!(events.len() <= 2, "{cut}: {events:?}");
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..buf.len() {
            for _ in 0..16 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let mut m = buf.clone();
                m[i] = seed as u8;
                // At most one event per 16-byte header the buffer could hold, plus a Resync.
                let events = parse_events(&m);
                assert!(events.len() <= m.len() / field::NLMSG_HEADER_LEN + 1, "{events:?}");
            }
        }
    }
}
