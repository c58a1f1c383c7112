//! Asks the kernel which route a destination takes, as `ip route get` does: one `RTM_GETROUTE` request over
//! rtnetlink (rtnetlink(7)), answered with the route's type, outgoing interface and preferred source.
//!
//! Messages are built and read here as plain bytes in host byte order (netlink's order); the reply goes
//! through checked reads, so a short or odd reply gives an error, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use nix::sys::socket::{self, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType};

use crate::error::{Error, ErrorKind, Result};

const NLMSG_HDRLEN: usize = 16;
const RTMSG_LEN: usize = 12;
const NLMSG_ERROR: u16 = 2;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const NLM_F_REQUEST: u16 = 1;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PREFSRC: u16 = 7;
const RTA_TABLE: u16 = 15;

/// What kind of route the kernel chose (`rtm_type`, `RTN_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteKind {
    /// `RTN_UNICAST`: through a gateway or directly on a link.
    Unicast,
    /// `RTN_LOCAL`: an address of this host.
    Local,
    /// `RTN_BROADCAST`.
    Broadcast,
    /// `RTN_MULTICAST`: a multicast route (`ip route get 239.1.2.3` says "multicast").
    Multicast,
    /// `RTN_BLACKHOLE`, `RTN_UNREACHABLE`, `RTN_PROHIBIT`: the route exists to refuse.
    Refused,
    /// Any other type.
    Other(u8),
}

/// The kernel's answer for one destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Route type.
    pub kind: RouteKind,
    /// Outgoing interface index.
    pub oif: Option<u32>,
    /// The source address the kernel would use.
    pub prefsrc: Option<IpAddr>,
    /// Next hop, when it is not on-link.
    pub gateway: Option<IpAddr>,
    /// Routing table.
    pub table: Option<u32>,
}

/// Builds the `RTM_GETROUTE` request for `dst`, optionally constrained to interface `oif`.
pub fn request(dst: IpAddr, oif: Option<u32>, seq: u32) -> Vec<u8> {
    let (family, addr): (u8, Vec<u8>) = match dst {
        IpAddr::V4(a) => (libc::AF_INET as u8, a.octets().to_vec()),
        IpAddr::V6(a) => (libc::AF_INET6 as u8, a.octets().to_vec()),
    };
    let mut body = vec![family, (addr.len() * 8) as u8, 0, 0, 0, 0, 0, 0];
    body.extend_from_slice(&0u32.to_ne_bytes()); // rtm_flags
    push_attr(&mut body, RTA_DST, &addr);
    if let Some(i) = oif {
        push_attr(&mut body, RTA_OIF, &i.to_ne_bytes());
    }
    let mut msg = Vec::with_capacity(NLMSG_HDRLEN + body.len());
    msg.extend_from_slice(&((NLMSG_HDRLEN + body.len()) as u32).to_ne_bytes());
    msg.extend_from_slice(&RTM_GETROUTE.to_ne_bytes());
    msg.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&body);
    msg
}

fn push_attr(buf: &mut Vec<u8>, ty: u16, data: &[u8]) {
    buf.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(data);
    while buf.len() % 4 != 0 {
        buf.push(0);
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

fn addr(data: &[u8]) -> Option<IpAddr> {
    match data.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(data).ok()?))),
        16 => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(data).ok()?))),
        _ => None,
    }
}

/// Reads a reply: the route, or the `errno` the kernel answered with (`ENETUNREACH` when there is none).
/// `None` when the bytes hold no complete message for `seq`.
pub fn parse_reply(buf: &[u8], seq: u32) -> Option<std::result::Result<Route, i32>> {
    let mut at = 0usize;
    while at + NLMSG_HDRLEN <= buf.len() {
        let len = u32_at(buf, at)? as usize;
        if len < NLMSG_HDRLEN || at.checked_add(len)? > buf.len() {
            return None;
        }
        let msg = buf.get(at..at + len)?;
        let ty = u16_at(msg, 4)?;
        let mseq = u32_at(msg, 8)?;
        if mseq == seq {
            match ty {
                NLMSG_ERROR => {
                    let code = u32_at(msg, NLMSG_HDRLEN)? as i32;
                    return Some(Err(code.checked_neg().unwrap_or(libc::EINVAL)));
                }
                RTM_NEWROUTE => return parse_route(msg.get(NLMSG_HDRLEN..)?).map(Ok),
                _ => {}
            }
        }
        at += (len + 3) & !3;
    }
    None
}

fn parse_route(body: &[u8]) -> Option<Route> {
    let ty = *body.get(7)?;
    let kind = match ty {
        1 => RouteKind::Unicast,
        2 => RouteKind::Local,
        3 => RouteKind::Broadcast,
        5 => RouteKind::Multicast,
        6..=8 => RouteKind::Refused,
        t => RouteKind::Other(t),
    };
    let mut r = Route { kind, oif: None, prefsrc: None, gateway: None, table: Some(u32::from(*body.get(4)?)) };
    let mut at = RTMSG_LEN;
    while at + 4 <= body.len() {
        let len = usize::from(u16_at(body, at)?);
        let ty = u16_at(body, at + 2)?;
        if len < 4 || at + len > body.len() {
            break;
        }
        let data = body.get(at + 4..at + len)?;
        match ty {
            RTA_OIF => r.oif = u32_at(data, 0),
            RTA_PREFSRC => r.prefsrc = addr(data),
            RTA_GATEWAY => r.gateway = addr(data),
            RTA_TABLE => r.table = u32_at(data, 0),
            _ => {}
        }
        at += (len + 3) & !3;
    }
    Some(r)
}

/// Asks the kernel (of the calling thread's network namespace) for the route to `dst`, optionally through
/// interface `oif`. An error carries the kernel's `errno` (`ENETUNREACH`: no route).
pub fn get(dst: IpAddr, oif: Option<u32>) -> Result<Route> {
    let ctx = || format!("RTM_GETROUTE {dst}");
    let fd = socket::socket(AddressFamily::Netlink, SockType::Raw, SockFlag::SOCK_CLOEXEC, SockProtocol::NetlinkRoute)
        .map_err(|e| Error::os("socket(AF_NETLINK, NETLINK_ROUTE)", e.into()))?;
    let seq = std::process::id() ^ 0x6d63_6173;
    let req = request(dst, oif, seq);
    socket::sendto(fd.as_raw_fd(), &req, &NetlinkAddr::new(0, 0), MsgFlags::empty())
        .map_err(|e| Error::os(ctx(), e.into()))?;
    let mut buf = vec![0u8; 8192];
    for _ in 0..8 {
        let ready = crate::sys::socket::wait_readable(fd.as_fd(), Some(Duration::from_secs(2)))
            .map_err(|e| Error::os(ctx(), e))?;
        if !ready {
            break;
        }
        let n = socket::recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()).map_err(|e| Error::os(ctx(), e.into()))?;
        match parse_reply(buf.get(..n).unwrap_or_default(), seq) {
            Some(Ok(r)) => return Ok(r),
            Some(Err(errno)) => return Err(Error::os(ctx(), std::io::Error::from_raw_os_error(errno))),
            None => continue,
        }
    }
    Err(Error::new(ErrorKind::Os, format!("{}: no answer from the kernel", ctx())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_request_like_ip_route_get() {
        let m = request("239.1.2.3".parse().unwrap(), Some(7), 42);
        assert_eq!(m.len(), 16 + 12 + 8 + 8);
        assert_eq!(u32_at(&m, 0), Some(m.len() as u32));
        assert_eq!((u16_at(&m, 4), u16_at(&m, 6), u32_at(&m, 8)), (Some(RTM_GETROUTE), Some(NLM_F_REQUEST), Some(42)));
        assert_eq!((m[16], m[17]), (libc::AF_INET as u8, 32));
        assert_eq!((u16_at(&m, 28), u16_at(&m, 30), &m[32..36]), (Some(8), Some(RTA_DST), &[239, 1, 2, 3][..]));
        assert_eq!((u16_at(&m, 36), u16_at(&m, 38)), (Some(8), Some(RTA_OIF)));
        assert_eq!(u32_at(&m, 40), Some(7));
        assert_eq!(request("ff15::1".parse().unwrap(), None, 1).len(), 16 + 12 + 20);
    }

    fn reply(seq: u32, ty: u16, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&ty.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn reads_routes_and_errors() {
        let mut body = vec![libc::AF_INET as u8, 32, 0, 0, 255, 2, 0, 5, 0, 0, 0, 0];
        push_attr(&mut body, RTA_OIF, &3u32.to_ne_bytes());
        push_attr(&mut body, RTA_PREFSRC, &[127, 0, 0, 1]);
        let r = parse_reply(&reply(9, RTM_NEWROUTE, &body), 9).unwrap().unwrap();
        assert_eq!(r.kind, RouteKind::Multicast);
        assert_eq!(r.oif, Some(3));
        assert_eq!(r.prefsrc, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(r.table, Some(255));
        let err = reply(9, NLMSG_ERROR, &(-libc::ENETUNREACH).to_ne_bytes());
        assert_eq!(parse_reply(&err, 9), Some(Err(libc::ENETUNREACH)));
        assert_eq!(parse_reply(&err, 10), None, "another request's answer");
    }

    #[test]
    fn odd_replies_are_none_not_panics() {
        let good = reply(1, RTM_NEWROUTE, &[2, 32, 0, 0, 254, 0, 0, 1, 0, 0, 0, 0, 200, 0, 4, 0]);
        for cut in 0..good.len() {
            let _ = parse_reply(&good[..cut], 1);
        }
        assert_eq!(parse_reply(&[0xff; 64], 1), None);
        assert_eq!(parse_reply(&reply(1, RTM_NEWROUTE, &[1, 2]), 1), None);
        let r = parse_reply(&good, 1).unwrap().unwrap();
        assert_eq!((r.kind, r.oif), (RouteKind::Unicast, None), "a bad attribute length ends the attributes");
    }
}
