//! [`McastSocket`]: an owned `SOCK_DGRAM` or `SOCK_RAW` socket with every multicast option and datagram I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, ErrorKind, Result};
use crate::group::MULTICAST_RANGES;
use crate::sys::mreq::{GroupReq, GroupSourceReq, InAddr, IpMreq, IpMreqSource, IpMreqn, Ipv6Mreq};
use crate::sys::{self, sockopt};

/// Address family of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `AF_INET`.
    V4,
    /// `AF_INET6`.
    V6,
}

impl Family {
    /// The family of an address.
    pub fn of(ip: IpAddr) -> Family {
        if ip.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }

    /// The `AF_*` constant.
    pub fn as_raw(self) -> libc::c_int {
        match self {
            Family::V4 => libc::AF_INET,
            Family::V6 => libc::AF_INET6,
        }
    }

    /// The wildcard address of this family.
    pub fn unspecified(self) -> IpAddr {
        match self {
            Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }
}

/// What one received datagram was: its size, sender, destination group, arrival interface and TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecvMeta {
    /// Bytes placed in the buffer.
    pub len: usize,
    /// The datagram's real size; larger than `len` when it was truncated.
    pub full_len: usize,
    /// The datagram did not fit the buffer (`MSG_TRUNC`): `full_len - len` bytes were lost.
    pub truncated: bool,
    /// The sender's address and port.
    pub source: SocketAddr,
    /// The destination address: the group it was sent to (`IP_PKTINFO`/`IPV6_PKTINFO`).
    pub group: Option<IpAddr>,
    /// The arrival interface index.
    pub ifindex: Option<u32>,
    /// TTL or hop limit on arrival (`IP_RECVTTL`/`IPV6_RECVHOPLIMIT`).
    pub ttl: Option<u8>,
    /// Kernel arrival time (`SO_TIMESTAMPNS`).
    pub timestamp: Option<SystemTime>,
    /// The socket's running count of datagrams the kernel dropped for lack of buffer (`SO_RXQ_OVFL`).
    pub drops: Option<u32>,
    /// GRO segment size, when the kernel coalesced several datagrams into this read (`UDP_GRO`).
    pub gro_segment: Option<u16>,
    /// The TOS byte (IPv4) or traffic class (IPv6) it arrived with, when the socket asked for it
    /// (`IP_RECVTOS` / `IPV6_RECVTCLASS`; receivers built by this crate do): DSCP in the upper six bits.
    pub tos: Option<u8>,
}

impl RecvMeta {
    /// The metadata of a whole datagram of `len` bytes from `source`, nothing else known: for feeding an engine
    /// datagrams made up by a test or replayed from a capture. Set the other fields on the result.
    ///
    /// ```
    /// let mut meta = mcast::RecvMeta::new(64, "192.0.2.1:5000".parse().unwrap());
    /// meta.ttl = Some(1);
    /// assert!(!meta.truncated);
    /// ```
    pub fn new(len: usize, source: SocketAddr) -> RecvMeta {
        RecvMeta {
            len,
            full_len: len,
            truncated: false,
            source,
            group: None,
            ifindex: None,
            ttl: None,
            timestamp: None,
            drops: None,
            gro_segment: None,
            tos: None,
        }
    }

    /// The DSCP it arrived with: the upper six bits of [`RecvMeta::tos`].
    pub fn dscp(&self) -> Option<u8> {
        self.tos.map(|t| t >> 2)
    }
}

impl RecvMeta {
    #[inline]
    pub(crate) fn from_raw(r: &sys::socket::Received) -> Result<RecvMeta> {
        let source = r.source.ok_or_else(|| Error::new(ErrorKind::Mismatch, "datagram without an IP source"))?;
        let a = &r.ancillary;
        Ok(RecvMeta {
            len: r.len,
            full_len: r.full_len,
            truncated: r.truncated,
            source,
            group: a.dst,
            ifindex: a.ifindex,
            ttl: a.ttl,
            tos: a.tos,
            timestamp: a.timestamp.map(
                |(s, ns)| {
                    if s >= 0 {
                        UNIX_EPOCH + Duration::new(s as u64, ns)
                    } else {
                        UNIX_EPOCH
                    }
                },
            ),
            drops: a.drops,
            gro_segment: a.gro_segment,
        })
    }
}

#[cfg(test)]
impl RecvMeta {
    /// A read's metadata for unit tests: `len` of `full_len` bytes (truncated when fewer), from 192.0.2.1:5000
    /// to 239.1.2.3 on interface 3 at TTL 9, 4 drops so far, no stamp, GRO segment size `gro_segment`.
    pub(crate) fn sample(len: usize, full_len: usize, gro_segment: Option<u16>) -> RecvMeta {
        RecvMeta {
            len,
            full_len,
            truncated: full_len > len,
            source: SocketAddr::from(([192, 0, 2, 1], 5000)),
            group: Some(IpAddr::from([239, 1, 2, 3])),
            ifindex: Some(3),
            ttl: Some(9),
            timestamp: None,
            drops: Some(4),
            gro_segment,
            tos: None,
        }
    }
}

/// An IPv4 or IPv6 socket (`SOCK_DGRAM` or `SOCK_RAW`) that owns its descriptor.
///
/// Every multicast option of ip(7) and ipv6(7) is a method: the integer ones in `crate::options`, the
/// request-struct ones (joins, source filters, interfaces) below. The descriptor is an ordinary one, so
/// `poll`/`epoll` work on it ([`AsRawFd`]).
///
/// ```no_run
/// use mcast::{Family, Interface, McastSocket};
/// // What a Receiver does, step by step: a UDP socket, the port, a join on one interface.
/// let socket = McastSocket::udp(Family::V4)?;
/// socket.set_reuse_address(true)?;
/// socket.bind("0.0.0.0:5000".parse().unwrap())?;
/// let eth0 = Interface::by_name("eth0")?;
/// socket.join_group("239.1.2.3".parse().unwrap(), eth0.index)?; // IP_ADD_MEMBERSHIP
/// socket.set_multicast_all_v4(false)?; // IP_MULTICAST_ALL: only the groups this socket joined
/// assert_eq!(socket.multicast_ttl_v4()?, 1);
/// # Ok::<(), mcast::Error>(())
/// ```
#[derive(Debug)]
pub struct McastSocket {
    fd: OwnedFd,
    family: Family,
}

fn os<C: Into<std::borrow::Cow<'static, str>>>(context: impl FnOnce() -> C) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::os(context(), e)
}

impl McastSocket {
    /// Turns off the control messages a reader never looks at, each a copy the kernel makes for every datagram
    /// read: for the ping server on the way from a probe's arrival to its unicast answer (together about
    /// 0.3 µs a probe, 4 % of a busy-polled round trip over a veth), for the prober at each multicast answer. Off:
    /// the drop count (`SO_MEMINFO` gives it exact), the TOS byte (neither side reports it), for IPv4 the arrival
    /// interface, since the kernel itself matches an IPv4 membership by interface (IPv6 memberships match by group
    /// alone, so there the interface stays, for [`crate::resilient::ResilientReceiver::accepts`]); arrival
    /// stamps unless `stamps`, the TTL unless `ttl`. Without the interface, the ping server's on-link rule accepts a
    /// source directly connected to any of the host's interfaces; `perf --serve` keeps only its stamps (jitter).
    pub(crate) fn lean_controls(&self, stamps: bool, ttl: bool) -> Result<()> {
        self.set_rxq_overflow(false)?;
        self.set_recv_tos(false)?;
        if !stamps {
            self.set_timestamp_ns(false)?;
        }
        match self.family() {
            Family::V4 => {
                self.set_pktinfo_v4(false)?;
                if !ttl {
                    self.set_recv_ttl_v4(false)?;
                }
            }
            Family::V6 if !ttl => self.set_recv_hoplimit_v6(false)?,
            Family::V6 => {}
        }
        Ok(())
    }

    /// A UDP socket of `family`.
    pub fn udp(family: Family) -> Result<Self> {
        Self::open(family, libc::SOCK_DGRAM, 0)
    }

    /// A raw socket for `protocol` (`IPPROTO_IGMP`, `IPPROTO_ICMPV6`, ...). Needs `CAP_NET_RAW`; without it
    /// the error says so and how to grant it.
    pub fn raw(family: Family, protocol: libc::c_int) -> Result<Self> {
        Self::open(family, libc::SOCK_RAW, protocol).map_err(|e| {
            if e.raw_os_error() == Some(libc::EPERM) || e.raw_os_error() == Some(libc::EACCES) {
                e.within(
                    "raw sockets need CAP_NET_RAW, which this process lacks: run it as root with its capabilities, \
                     or grant the program the capability with `setcap cap_net_raw+ep <program>`",
                )
            } else {
                e
            }
        })
    }

    /// `socket(family, ty, protocol)` for `SOCK_DGRAM` or `SOCK_RAW`; multicast exists on no other type.
    pub fn open(family: Family, ty: libc::c_int, protocol: libc::c_int) -> Result<Self> {
        if ty != libc::SOCK_DGRAM && ty != libc::SOCK_RAW {
            return Err(Error::new(
                ErrorKind::Mismatch,
                "IP multicast works only on SOCK_DGRAM and SOCK_RAW sockets".to_string(),
            ));
        }
        let fd = sys::socket::socket(family.as_raw(), ty, protocol)
            .map_err(os(|| format!("socket({:?}, {}, {protocol})", family, type_name(ty))))?;
        Ok(McastSocket { fd, family })
    }

    /// Adopts a descriptor, checking that it is an IPv4/IPv6 datagram or raw socket.
    pub fn from_fd(fd: OwnedFd) -> Result<Self> {
        let family = Self::family_of(fd.as_fd())?;
        Ok(McastSocket { fd, family })
    }

    /// What [`McastSocket::from_fd`] checks, on a descriptor it does not take: the family of an IPv4/IPv6
    /// datagram or raw socket.
    pub(crate) fn family_of(fd: BorrowedFd<'_>) -> Result<Family> {
        let (domain, ty) = sys::socket::socket_kind(fd).map_err(os(|| "getsockopt SO_DOMAIN/SO_TYPE"))?;
        let family = match domain {
            libc::AF_INET => Family::V4,
            libc::AF_INET6 => Family::V6,
            _ => return Err(Error::new(ErrorKind::Mismatch, "not an AF_INET or AF_INET6 socket")),
        };
        if ty != libc::SOCK_DGRAM && ty != libc::SOCK_RAW {
            return Err(Error::new(ErrorKind::Mismatch, "not a SOCK_DGRAM or SOCK_RAW socket"));
        }
        Ok(family)
    }

    /// A socket over a descriptor already checked by [`McastSocket::family_of`].
    #[cfg(feature = "capi")]
    pub(crate) fn from_checked(fd: OwnedFd, family: Family) -> Self {
        McastSocket { fd, family }
    }

    /// The address family.
    pub fn family(&self) -> Family {
        self.family
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// `bind(2)`.
    pub fn bind(&self, addr: SocketAddr) -> Result<()> {
        sys::socket::bind(self.fd(), &addr).map_err(os(|| format!("bind {addr}")))
    }

    /// `connect(2)`: fixes the destination, so [`McastSocket::send`] needs none.
    pub fn connect(&self, addr: SocketAddr) -> Result<()> {
        sys::socket::connect(self.fd(), &addr).map_err(os(|| format!("connect {addr}")))
    }

    /// `getsockname(2)`.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        sys::socket::local_addr(self.fd()).map_err(os(|| "getsockname"))
    }

    /// `getpeername(2)`: the address a connected socket sends to.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        sys::socket::peer_addr(self.fd()).map_err(os(|| "getpeername"))
    }

    /// `O_NONBLOCK` on or off.
    pub fn set_nonblocking(&self, on: bool) -> Result<()> {
        sys::socket::set_nonblocking(self.fd(), on).map_err(os(|| "fcntl O_NONBLOCK"))
    }

    /// `SO_RCVTIMEO`: a blocking read waits at most `timeout`, then fails with `EAGAIN`; one a signal
    /// interrupts fails with `EINTR` rather than restarting. A timeout below a microsecond is taken as one,
    /// since zero would mean for ever.
    pub(crate) fn set_read_timeout(&self, timeout: Duration) -> Result<()> {
        let t = timeout.max(Duration::from_micros(1));
        let secs = libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX);
        let tv = libc::timeval { tv_sec: secs, tv_usec: t.subsec_micros() as libc::suseconds_t };
        sockopt::setsockopt(self.fd(), libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv).map_err(os(|| "SO_RCVTIMEO"))
    }

    /// Attaches a classic BPF program (`SO_ATTACH_FILTER`), replacing any before: the kernel runs it on every
    /// datagram before queuing it, and drops those it returns 0 for (`crate::sys::filter`).
    pub fn attach_filter(&self, program: &[sys::filter::Insn]) -> Result<()> {
        sys::filter::attach(self.fd(), program).map_err(os(|| "SO_ATTACH_FILTER"))
    }

    /// Sends one datagram to `addr`.
    pub fn send_to(&self, buf: &[u8], addr: SocketAddr) -> Result<usize> {
        sys::socket::send_to(self.fd(), buf, &addr, 0).map_err(os(|| format!("sendto {addr}")))
    }

    /// Sends one datagram on a connected socket.
    pub fn send(&self, buf: &[u8]) -> Result<usize> {
        sys::socket::send(self.fd(), buf, 0).map_err(os(|| "send"))
    }

    /// Sends each buffer as one datagram to `addr` with `sendmmsg`, up to
    /// [`MAX_BATCH`](crate::sys::mmsg::MAX_BATCH) a call; returns how many went (the rest are the caller's).
    pub fn send_batch(&self, bufs: &[&[u8]], addr: SocketAddr) -> Result<usize> {
        sys::mmsg::send_batch(self.fd(), bufs, &addr).map_err(os(|| format!("sendmmsg {addr}")))
    }

    /// UDP GSO: sends `buf` as consecutive datagrams of `segment` bytes (the last may be shorter) with one
    /// `sendmsg` carrying `UDP_SEGMENT`. At most 64 segments, and each must fit the path MTU (no IP fragments).
    pub fn send_segments(&self, buf: &[u8], addr: SocketAddr, segment: u16) -> Result<usize> {
        if segment == 0 {
            return Err(Error::new(ErrorKind::OutOfRange, "UDP_SEGMENT size 0: give the datagram size"));
        }
        sys::socket::send_segments(self.fd(), buf, &addr, segment)
            .map_err(os(|| format!("sendmsg UDP_SEGMENT {segment} to {addr}")))
    }

    /// Receives one datagram into `buf`, blocking. A datagram larger than `buf` is reported
    /// (`truncated`, `full_len`), never silently cut.
    pub fn recv(&self, buf: &mut [u8]) -> Result<RecvMeta> {
        let r = sys::socket::recv_msg(self.fd(), buf, 0).map_err(os(|| "recvmsg"))?;
        RecvMeta::from_raw(&r)
    }

    /// Receives one datagram, waiting at most `timeout`; `Ok(None)` when nothing came. A zero `timeout` takes
    /// only what is queued, with the read alone (no `poll` first).
    pub fn recv_timeout(&self, buf: &mut [u8], timeout: Duration) -> Result<Option<RecvMeta>> {
        if !timeout.is_zero() && !sys::socket::wait_readable(self.fd(), Some(timeout)).map_err(os(|| "poll"))? {
            return Ok(None);
        }
        match sys::socket::recv_msg(self.fd(), buf, libc::MSG_DONTWAIT) {
            Ok(r) => RecvMeta::from_raw(&r).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(Error::os("recvmsg", e)),
        }
    }

    /// Receives up to `bufs.len()` datagrams with one `recvmmsg` (waiting for the first, taking what else is
    /// queued), filling `metas`; returns how many arrived.
    pub fn recv_batch(&self, bufs: &mut [&mut [u8]], metas: &mut Vec<RecvMeta>) -> Result<usize> {
        let mut scratch = sys::mmsg::RecvScratch::new();
        self.recv_batch_with(bufs, metas, &mut scratch, libc::MSG_WAITFORONE)
    }

    /// [`McastSocket::recv_batch`] with the per-datagram arrays in `scratch`, which a busy receiver keeps
    /// between calls, and the caller's `recvmmsg` flags (`MSG_DONTWAIT` to take only what is queued).
    pub(crate) fn recv_batch_with<B: AsMut<[u8]>>(
        &self,
        bufs: &mut [B],
        metas: &mut Vec<RecvMeta>,
        scratch: &mut sys::mmsg::RecvScratch,
        flags: libc::c_int,
    ) -> Result<usize> {
        let raw = sys::mmsg::recv_batch(self.fd(), bufs, scratch, flags).map_err(os(|| "recvmmsg"))?;
        metas.clear();
        for r in raw {
            metas.push(RecvMeta::from_raw(r)?);
        }
        Ok(raw.len())
    }
}

fn type_name(ty: libc::c_int) -> &'static str {
    match ty {
        libc::SOCK_DGRAM => "SOCK_DGRAM",
        libc::SOCK_RAW => "SOCK_RAW",
        _ => "other",
    }
}

/// Request-struct options: joins, source filters and the outgoing interface (ip(7), ipv6(7), RFC 3678).
impl McastSocket {
    fn set_req<T: sockopt::Plain>(&self, level: libc::c_int, name: libc::c_int, req: &T, ctx: String) -> Result<()> {
        sockopt::setsockopt(self.fd(), level, name, req).map_err(os(|| ctx))
    }

    /// `IP_ADD_MEMBERSHIP` with `ip_mreq`: join `group` on the interface that has address `iface`
    /// (`0.0.0.0`: the kernel picks one by route).
    pub fn join_v4(&self, group: Ipv4Addr, iface: Ipv4Addr) -> Result<()> {
        multicast_only("IP_ADD_MEMBERSHIP", group)?;
        let req = IpMreq { imr_multiaddr: group.into(), imr_interface: iface.into() };
        self.set_req(libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &req, ctx4("IP_ADD_MEMBERSHIP", group, iface))
    }

    /// `IP_DROP_MEMBERSHIP` with `ip_mreq`: the same values the join used.
    pub fn leave_v4(&self, group: Ipv4Addr, iface: Ipv4Addr) -> Result<()> {
        multicast_only("IP_DROP_MEMBERSHIP", group)?;
        let req = IpMreq { imr_multiaddr: group.into(), imr_interface: iface.into() };
        self.set_req(libc::IPPROTO_IP, libc::IP_DROP_MEMBERSHIP, &req, ctx4("IP_DROP_MEMBERSHIP", group, iface))
    }

    /// `IP_ADD_MEMBERSHIP` with `ip_mreqn`: join on interface `index` (works for interfaces without an IPv4
    /// address; 0 lets the kernel choose).
    pub fn join_v4_index(&self, group: Ipv4Addr, index: u32) -> Result<()> {
        multicast_only("IP_ADD_MEMBERSHIP", group)?;
        let req = mreqn(group, index)?;
        self.set_req(libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &req, ctxi("IP_ADD_MEMBERSHIP", group, index))
    }

    /// `IP_DROP_MEMBERSHIP` with `ip_mreqn`.
    pub fn leave_v4_index(&self, group: Ipv4Addr, index: u32) -> Result<()> {
        multicast_only("IP_DROP_MEMBERSHIP", group)?;
        let req = mreqn(group, index)?;
        self.set_req(libc::IPPROTO_IP, libc::IP_DROP_MEMBERSHIP, &req, ctxi("IP_DROP_MEMBERSHIP", group, index))
    }

    /// `IP_ADD_SOURCE_MEMBERSHIP` (`ip_mreq_source`): receive `group` only from `source` (SSM, RFC 4607).
    pub fn join_source_v4(&self, group: Ipv4Addr, source: Ipv4Addr, iface: Ipv4Addr) -> Result<()> {
        self.source_v4(libc::IP_ADD_SOURCE_MEMBERSHIP, "IP_ADD_SOURCE_MEMBERSHIP", group, source, iface)
    }

    /// `IP_DROP_SOURCE_MEMBERSHIP`.
    pub fn leave_source_v4(&self, group: Ipv4Addr, source: Ipv4Addr, iface: Ipv4Addr) -> Result<()> {
        self.source_v4(libc::IP_DROP_SOURCE_MEMBERSHIP, "IP_DROP_SOURCE_MEMBERSHIP", group, source, iface)
    }

    /// `IP_BLOCK_SOURCE`: in an any-source join, stop receiving from `source`.
    pub fn block_source_v4(&self, group: Ipv4Addr, source: Ipv4Addr, iface: Ipv4Addr) -> Result<()> {
        self.source_v4(libc::IP_BLOCK_SOURCE, "IP_BLOCK_SOURCE", group, source, iface)
    }

    /// `IP_UNBLOCK_SOURCE`.
    pub fn unblock_source_v4(&self, group: Ipv4Addr, source: Ipv4Addr, iface: Ipv4Addr) -> Result<()> {
        self.source_v4(libc::IP_UNBLOCK_SOURCE, "IP_UNBLOCK_SOURCE", group, source, iface)
    }

    fn source_v4(&self, name: libc::c_int, cname: &str, g: Ipv4Addr, s: Ipv4Addr, i: Ipv4Addr) -> Result<()> {
        multicast_only(cname, g)?;
        unicast_source(cname, s.into())?;
        let req = IpMreqSource { imr_multiaddr: g.into(), imr_interface: i.into(), imr_sourceaddr: s.into() };
        self.set_req(libc::IPPROTO_IP, name, &req, format!("{cname} ({s}, {g}) on {}", iface_addr(i)))
    }

    /// `IP_MULTICAST_IF` with an `in_addr`: send from the interface with this address; `0.0.0.0` reverts to
    /// the route's choice.
    pub fn set_multicast_if_v4(&self, iface: Ipv4Addr) -> Result<()> {
        let a: InAddr = iface.into();
        self.set_req(libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &a, format!("IP_MULTICAST_IF {iface}"))
    }

    /// `IP_MULTICAST_IF` with an `ip_mreqn`: send from interface `index` (0 reverts).
    pub fn set_multicast_if_v4_index(&self, index: u32) -> Result<()> {
        let req = mreqn(Ipv4Addr::UNSPECIFIED, index)?;
        self.set_req(libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &req, format!("IP_MULTICAST_IF index {index}"))
    }

    /// Reads `IP_MULTICAST_IF`. Linux answers with the address only: after setting by index it reads `0.0.0.0`
    /// unless an address was given too.
    pub fn multicast_if_v4(&self) -> Result<Ipv4Addr> {
        sockopt::getsockopt::<InAddr>(self.fd(), libc::IPPROTO_IP, libc::IP_MULTICAST_IF)
            .map(Ipv4Addr::from)
            .map_err(os(|| "getsockopt IP_MULTICAST_IF"))
    }

    /// `IPV6_JOIN_GROUP` (`ipv6_mreq`): join `group` on interface `index` (0: the kernel chooses).
    pub fn join_v6(&self, group: Ipv6Addr, index: u32) -> Result<()> {
        multicast_only("IPV6_JOIN_GROUP", group)?;
        let req = Ipv6Mreq { ipv6mr_multiaddr: group.into(), ipv6mr_interface: index };
        self.set_req(libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP, &req, ctxi("IPV6_JOIN_GROUP", group, index))
    }

    /// `IPV6_LEAVE_GROUP`.
    pub fn leave_v6(&self, group: Ipv6Addr, index: u32) -> Result<()> {
        multicast_only("IPV6_LEAVE_GROUP", group)?;
        let req = Ipv6Mreq { ipv6mr_multiaddr: group.into(), ipv6mr_interface: index };
        self.set_req(libc::IPPROTO_IPV6, libc::IPV6_DROP_MEMBERSHIP, &req, ctxi("IPV6_LEAVE_GROUP", group, index))
    }

    /// `MCAST_JOIN_GROUP` (RFC 3678, `group_req`): either family, interface by index.
    pub fn join_group(&self, group: IpAddr, index: u32) -> Result<()> {
        multicast_only("MCAST_JOIN_GROUP", group)?;
        let req = GroupReq::new(group, index);
        self.set_req(self.level(), libc::MCAST_JOIN_GROUP, &req, ctxi("MCAST_JOIN_GROUP", group, index))
    }

    /// `MCAST_LEAVE_GROUP`.
    pub fn leave_group(&self, group: IpAddr, index: u32) -> Result<()> {
        multicast_only("MCAST_LEAVE_GROUP", group)?;
        let req = GroupReq::new(group, index);
        self.set_req(self.level(), libc::MCAST_LEAVE_GROUP, &req, ctxi("MCAST_LEAVE_GROUP", group, index))
    }

    /// `MCAST_JOIN_SOURCE_GROUP` (`group_source_req`): receive `group` only from `source`, either family.
    pub fn join_source_group(&self, group: IpAddr, source: IpAddr, index: u32) -> Result<()> {
        self.source_req(libc::MCAST_JOIN_SOURCE_GROUP, "MCAST_JOIN_SOURCE_GROUP", group, source, index)
    }

    /// `MCAST_LEAVE_SOURCE_GROUP`.
    pub fn leave_source_group(&self, group: IpAddr, source: IpAddr, index: u32) -> Result<()> {
        self.source_req(libc::MCAST_LEAVE_SOURCE_GROUP, "MCAST_LEAVE_SOURCE_GROUP", group, source, index)
    }

    /// `MCAST_BLOCK_SOURCE`: in an any-source join, stop receiving from `source`.
    pub fn block_source(&self, group: IpAddr, source: IpAddr, index: u32) -> Result<()> {
        self.source_req(libc::MCAST_BLOCK_SOURCE, "MCAST_BLOCK_SOURCE", group, source, index)
    }

    /// `MCAST_UNBLOCK_SOURCE`.
    pub fn unblock_source(&self, group: IpAddr, source: IpAddr, index: u32) -> Result<()> {
        self.source_req(libc::MCAST_UNBLOCK_SOURCE, "MCAST_UNBLOCK_SOURCE", group, source, index)
    }

    fn source_req(&self, name: libc::c_int, cname: &str, g: IpAddr, s: IpAddr, index: u32) -> Result<()> {
        multicast_only(cname, g)?;
        unicast_source(cname, s)?;
        if g.is_ipv4() != s.is_ipv4() {
            return Err(Error::new(ErrorKind::Mismatch, format!("{cname}: source {s} and group {g} differ in family")));
        }
        let req = GroupSourceReq::new(g, s, index);
        self.set_req(self.level(), name, &req, format!("{cname} ({s}, {g}) on {}", iface_index(index)))
    }

    /// The protocol level for RFC 3678 options: `IPPROTO_IP` or `IPPROTO_IPV6` by the socket's family.
    pub(crate) fn level(&self) -> libc::c_int {
        match self.family {
            Family::V4 => libc::IPPROTO_IP,
            Family::V6 => libc::IPPROTO_IPV6,
        }
    }
}

/// Refuses a unicast `group` before the kernel does, naming the multicast ranges: the kernel's answer would
/// be a bare `EINVAL`.
pub(crate) fn multicast_only(cname: &str, group: impl Into<IpAddr>) -> Result<()> {
    let group = group.into();
    if group.is_multicast() {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::NotMulticast,
        format!("{cname}: {group} is not a multicast address ({MULTICAST_RANGES})"),
    ))
}

/// Refuses a source no datagram can come from: a multicast, unspecified or broadcast address. The kernel
/// takes some of them, and the membership then hears nothing, with no error to say why.
pub(crate) fn unicast_source(cname: &str, source: IpAddr) -> Result<()> {
    let what = match source {
        s if s.is_multicast() => "a multicast address",
        s if s.is_unspecified() => "the unspecified address",
        IpAddr::V4(s) if s.is_broadcast() => "the broadcast address",
        _ => return Ok(()),
    };
    Err(Error::new(
        ErrorKind::NotUnicast,
        format!("{cname}: source {source} is {what}; a source must be a unicast address, the sender's"),
    ))
}

fn mreqn(group: Ipv4Addr, index: u32) -> Result<IpMreqn> {
    let idx = libc::c_int::try_from(index)
        .map_err(|_| Error::new(ErrorKind::OutOfRange, format!("interface index {index} is out of range")))?;
    Ok(IpMreqn { imr_multiaddr: group.into(), imr_address: InAddr::default(), imr_ifindex: idx })
}

fn iface_addr(a: Ipv4Addr) -> String {
    if a.is_unspecified() {
        "the default interface".into()
    } else {
        a.to_string()
    }
}

pub(crate) fn iface_index(index: u32) -> String {
    match index {
        0 => "the default interface".into(),
        i => match sys::ifconf::index_to_name(i) {
            Ok(name) => name,
            Err(_) => format!("interface #{i}"),
        },
    }
}

fn ctx4(cname: &str, group: Ipv4Addr, iface: Ipv4Addr) -> String {
    format!("{cname} {group} on {}", iface_addr(iface))
}

fn ctxi(cname: &str, group: impl std::fmt::Display, index: u32) -> String {
    format!("{cname} {group} on {}", iface_index(index))
}

/// `AsFd` and `AsRawFd` for a type whose `socket` field owns its socket (an [`McastSocket`] or anything
/// with `AsFd`), so an event loop (`tokio::io::unix::AsyncFd`, `mio`, `poll`) can wait on it.
macro_rules! fd_of_socket {
    ($($ty:ty),+ $(,)?) => {$(
        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&self.socket)
            }
        }

        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(&std::os::fd::AsFd::as_fd(&self.socket))
            }
        }
    )+};
}
pub(crate) use fd_of_socket;

impl AsFd for McastSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for McastSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl IntoRawFd for McastSocket {
    fn into_raw_fd(self) -> RawFd {
        self.fd.into_raw_fd()
    }
}

impl From<McastSocket> for OwnedFd {
    fn from(s: McastSocket) -> OwnedFd {
        s.fd
    }
}

impl TryFrom<OwnedFd> for McastSocket {
    type Error = Error;
    fn try_from(fd: OwnedFd) -> Result<Self> {
        McastSocket::from_fd(fd)
    }
}

impl From<McastSocket> for UdpSocket {
    fn from(s: McastSocket) -> UdpSocket {
        UdpSocket::from(s.fd)
    }
}

impl TryFrom<UdpSocket> for McastSocket {
    type Error = Error;
    fn try_from(s: UdpSocket) -> Result<Self> {
        McastSocket::from_fd(OwnedFd::from(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every source-specific call refuses a source that is not unicast before the kernel sees it; no
    /// membership is made, so no network is needed.
    #[test]
    fn sources_must_be_unicast() {
        let v4 = McastSocket::udp(Family::V4).unwrap();
        let v6 = McastSocket::udp(Family::V6).unwrap();
        let g4 = Ipv4Addr::new(232, 1, 1, 1);
        let g6: Ipv6Addr = "ff3e::8000:1".parse().unwrap();
        let any4 = Ipv4Addr::UNSPECIFIED;
        for (source, what) in [
            ("239.1.1.1", "a multicast address"),
            ("0.0.0.0", "the unspecified address"),
            ("255.255.255.255", "the broadcast address"),
            ("ff02::1", "a multicast address"),
            ("::", "the unspecified address"),
        ] {
            let s: IpAddr = source.parse().unwrap();
            let (sock, g) = if s.is_ipv4() { (&v4, IpAddr::V4(g4)) } else { (&v6, IpAddr::V6(g6)) };
            let mut results = vec![
                ("MCAST_JOIN_SOURCE_GROUP", sock.join_source_group(g, s, 0)),
                ("MCAST_LEAVE_SOURCE_GROUP", sock.leave_source_group(g, s, 0)),
                ("MCAST_BLOCK_SOURCE", sock.block_source(g, s, 0)),
                ("MCAST_UNBLOCK_SOURCE", sock.unblock_source(g, s, 0)),
            ];
            if let IpAddr::V4(s4) = s {
                results.push(("IP_ADD_SOURCE_MEMBERSHIP", v4.join_source_v4(g4, s4, any4)));
                results.push(("IP_DROP_SOURCE_MEMBERSHIP", v4.leave_source_v4(g4, s4, any4)));
                results.push(("IP_BLOCK_SOURCE", v4.block_source_v4(g4, s4, any4)));
                results.push(("IP_UNBLOCK_SOURCE", v4.unblock_source_v4(g4, s4, any4)));
            }
            for (cname, r) in results {
                let e = r.unwrap_err();
                assert_eq!(e.kind(), ErrorKind::NotUnicast, "{cname} {source}: {e}");
                assert_eq!(
                    e.to_string(),
                    format!("{cname}: source {source} is {what}; a source must be a unicast address, the sender's")
                );
                assert_eq!(std::io::Error::from(e).kind(), std::io::ErrorKind::InvalidInput);
            }
        }
    }
}
