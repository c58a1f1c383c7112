//! [`Sender`] and [`Receiver`]: a correct multicast socket in one call.
//!
//! Receivers are correct by default: they bind the port on the wildcard address (binding the group address
//! works on Linux but not elsewhere, and binding a unicast address loses the multicast), join on each
//! interface asked for, and turn `IP_MULTICAST_ALL`/`IPV6_MULTICAST_ALL` off, without which Linux hands a
//! wildcard-bound socket the datagrams of every group any socket on the host has joined on that port.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};
use crate::group::Group;
use crate::iface::{IfaceSpec, Interface};
use crate::socket::{Family, McastSocket, RecvMeta};

/// Builds a [`Sender`].
#[derive(Clone, Debug)]
pub struct SenderBuilder {
    group: Group,
    ttl: Option<u8>,
    multicast_loop: Option<bool>,
    iface: Option<IfaceSpec>,
    bind: Option<SocketAddr>,
    dscp: Option<u8>,
}

/// A socket that sends to one group.
///
/// ```no_run
/// use mcast::Sender;
/// let tx = Sender::builder("239.1.2.3:5000".parse()?)
///     .interface("eth0") // or an index, or one of its addresses
///     .ttl(1)            // this link only
///     .build()?;
/// tx.send(b"hello")?;
/// # Ok::<(), mcast::Error>(())
/// ```
#[derive(Debug)]
pub struct Sender {
    socket: McastSocket,
    group: Group,
    iface: Option<Interface>,
}

crate::socket::fd_of_socket!(Sender, Receiver);

impl Sender {
    /// Starts a sender to `group` (which must carry a port).
    pub fn builder(group: Group) -> SenderBuilder {
        SenderBuilder { group, ttl: None, multicast_loop: None, iface: None, bind: None, dscp: None }
    }

    /// Sends one datagram to the group.
    pub fn send(&self, buf: &[u8]) -> Result<usize> {
        self.socket.send_to(buf, self.group.socket_addr()).map_err(|e| e.within(format!("send to {}", self.group)))
    }

    /// Sends several datagrams with `sendmmsg`; returns how many went.
    pub fn send_batch(&self, bufs: &[&[u8]]) -> Result<usize> {
        self.socket.send_batch(bufs, self.group.socket_addr())
    }

    /// The group.
    pub fn group(&self) -> Group {
        self.group
    }

    /// The interface it sends from, if one was named.
    pub fn interface(&self) -> Option<&Interface> {
        self.iface.as_ref()
    }

    /// The socket, for further options.
    pub fn socket(&self) -> &McastSocket {
        &self.socket
    }

    /// Gives up the wrapper, keeping the socket.
    pub fn into_socket(self) -> McastSocket {
        self.socket
    }
}

impl SenderBuilder {
    /// TTL (IPv4) or hop limit (IPv6), 0..=255; the kernel's default is 1. 0 is meant for this host only, but
    /// Linux transmits it unless this host is a member of the group on the outgoing interface (for IPv6, with
    /// loop on as well); sent on `lo`, or to an interface-local IPv6 group, it stays on the host.
    pub fn ttl(mut self, ttl: u8) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Whether this host's own members get a copy (the kernel's default is on).
    pub fn multicast_loop(mut self, on: bool) -> Self {
        self.multicast_loop = Some(on);
        self
    }

    /// The interface to send from (`IP_MULTICAST_IF`/`IPV6_MULTICAST_IF`): a name (`"eth0"`), an index
    /// (`2u32`), one of its addresses, or an [`IfaceSpec`]; looked up at `build()`.
    pub fn interface(mut self, iface: impl Into<IfaceSpec>) -> Self {
        self.iface = Some(iface.into());
        self
    }

    /// The DSCP, 0..=63, of every datagram sent ([`McastSocket::set_dscp`]; default 0).
    pub fn dscp(mut self, dscp: u8) -> Self {
        self.dscp = Some(dscp);
        self
    }

    /// A local address to bind before sending (default: none, the kernel picks an ephemeral port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = Some(addr);
        self
    }

    /// Opens and configures the socket.
    pub fn build(self) -> Result<Sender> {
        let g = self.group;
        if g.port() == 0 {
            return Err(Error::new(ErrorKind::Parse, format!("{g}: a sender needs GROUP:PORT")));
        }
        let family = Family::of(g.ip());
        let socket = McastSocket::udp(family)?;
        let iface = self.iface.as_ref().map(IfaceSpec::resolve).transpose()?;
        if let Some(addr) = self.bind {
            socket.bind(addr)?;
        }
        if let Some(d) = self.dscp {
            socket.set_dscp(d)?;
        }
        match family {
            Family::V4 => {
                if let Some(ttl) = self.ttl {
                    socket.set_multicast_ttl_v4(ttl)?;
                }
                if let Some(on) = self.multicast_loop {
                    socket.set_multicast_loop_v4(on)?;
                }
                if let Some(i) = &iface {
                    // By address when the interface has one (the seed's way, readable back with getsockopt),
                    // by index otherwise.
                    match i.first_ipv4() {
                        Some(a) => socket.set_multicast_if_v4(a)?,
                        None => socket.set_multicast_if_v4_index(i.index)?,
                    }
                }
            }
            Family::V6 => {
                if let Some(ttl) = self.ttl {
                    socket.set_multicast_hops_v6(ttl)?;
                }
                if let Some(on) = self.multicast_loop {
                    socket.set_multicast_loop_v6(on)?;
                }
                let index = iface.as_ref().map(|i| i.index).unwrap_or(g.scope_id());
                if index != 0 {
                    socket.set_multicast_if_v6(index)?;
                } else if g.needs_interface() {
                    return Err(g.no_interface_error());
                }
            }
        }
        Ok(Sender { socket, group: g, iface })
    }
}

/// One membership of a [`Receiver`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Membership {
    /// The group.
    pub group: Group,
    /// The source, for a source-specific join.
    pub source: Option<IpAddr>,
    /// The interface, or `None` for the kernel's choice by route.
    pub iface: Option<Interface>,
}

/// Builds a [`Receiver`].
#[derive(Clone, Debug)]
pub struct ReceiverBuilder {
    groups: Vec<Group>,
    sources: Vec<IpAddr>,
    ifaces: Vec<IfaceSpec>,
    reuse: bool,
    recv_buffer: Option<u32>,
    multicast_all: bool,
}

/// A socket bound to a group's port and joined to it on each interface asked for.
///
/// When every membership names its interface, datagrams that arrive on any other interface are dropped (and
/// counted by [`Receiver::foreign`]). Linux matches IPv6 memberships by group alone: an IPv6 socket joined on
/// one interface otherwise also gets the group from another interface where anything on the host joined it.
///
/// ```no_run
/// use std::time::Duration;
/// use mcast::Receiver;
/// let rx = Receiver::builder("239.1.2.3:5000".parse()?).interface("eth0").build()?;
/// let mut buf = [0u8; 1500];
/// if let Some(meta) = rx.recv_timeout(&mut buf, Duration::from_secs(5))? {
///     println!("{} bytes from {} to {:?} on {:?}", meta.len, meta.source, meta.group, meta.ifindex);
/// }
/// # Ok::<(), mcast::Error>(())
/// ```
#[derive(Debug)]
pub struct Receiver {
    socket: McastSocket,
    memberships: Vec<Membership>,
    foreign: AtomicU64,
}

impl Receiver {
    /// Starts a receiver for `group` (which must carry a port).
    pub fn builder(group: Group) -> ReceiverBuilder {
        ReceiverBuilder {
            groups: vec![group],
            sources: Vec::new(),
            ifaces: Vec::new(),
            reuse: true,
            recv_buffer: None,
            multicast_all: false,
        }
    }

    /// Whether a datagram arrived on an interface this receiver joined on (always, when any join let the
    /// kernel choose the interface); counts the ones that did not.
    fn accepts(&self, meta: &RecvMeta) -> bool {
        let ok = joined_on(&self.memberships, meta.ifindex);
        if !ok {
            self.foreign.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// Datagrams dropped so far because they arrived on an interface this receiver did not join on.
    pub fn foreign(&self) -> u64 {
        self.foreign.load(Ordering::Relaxed)
    }

    /// Receives one datagram (blocking).
    pub fn recv(&self, buf: &mut [u8]) -> Result<RecvMeta> {
        loop {
            let meta = self.socket.recv(buf)?;
            if self.accepts(&meta) {
                return Ok(meta);
            }
        }
    }

    /// Receives one datagram if one is queued, never waiting; `Ok(None)` when none is (datagrams from
    /// interfaces this receiver did not join on are dropped on the way, as by [`Receiver::recv`]). The step an
    /// event loop runs when the descriptor is readable.
    pub fn try_recv(&self, buf: &mut [u8]) -> Result<Option<RecvMeta>> {
        self.recv_timeout(buf, Duration::ZERO)
    }

    /// Receives one datagram, waiting at most `timeout`.
    pub fn recv_timeout(&self, buf: &mut [u8], timeout: Duration) -> Result<Option<RecvMeta>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.socket.recv_timeout(buf, left)? {
                Some(meta) if !self.accepts(&meta) => continue,
                other => return Ok(other),
            }
        }
    }

    /// Receives a batch with `recvmmsg` (waiting for the first datagram). Datagrams from interfaces this
    /// receiver did not join on are removed, the rest moved up so that `bufs[i]` holds `metas[i]`; the count
    /// returned can therefore be 0.
    pub fn recv_batch(&self, bufs: &mut [&mut [u8]], metas: &mut Vec<RecvMeta>) -> Result<usize> {
        let n = self.socket.recv_batch(bufs, metas)?;
        let mut kept = 0;
        for i in 0..n {
            let meta = metas[i];
            if !self.accepts(&meta) {
                continue;
            }
            if kept != i {
                let (head, tail) = bufs.split_at_mut(i);
                let len = meta.len.min(head[kept].len());
                head[kept][..len].copy_from_slice(&tail[0][..len]);
            }
            metas[kept] = meta;
            kept += 1;
        }
        metas.truncate(kept);
        Ok(kept)
    }

    /// What this receiver joined.
    pub fn memberships(&self) -> &[Membership] {
        &self.memberships
    }

    /// Leaves one membership (the others stay).
    pub fn leave(&mut self, group: &Group, source: Option<IpAddr>) -> Result<()> {
        let mut kept = Vec::with_capacity(self.memberships.len());
        for m in std::mem::take(&mut self.memberships) {
            if m.group.ip() == group.ip() && m.source == source {
                membership(&self.socket, &m, false)?;
            } else {
                kept.push(m);
            }
        }
        self.memberships = kept;
        Ok(())
    }

    /// The socket, for further options.
    pub fn socket(&self) -> &McastSocket {
        &self.socket
    }

    /// Gives up the wrapper, keeping the socket (and its memberships, which end when it closes).
    pub fn into_socket(self) -> McastSocket {
        self.socket
    }
}

impl ReceiverBuilder {
    /// Also join `group` (same port and family as the first).
    pub fn group(mut self, group: Group) -> Self {
        self.groups.push(group);
        self
    }

    /// Receive only from `source` (source-specific multicast); may be given several times.
    ///
    /// With several groups ([`ReceiverBuilder::group`]) every source applies to every group: the socket
    /// joins each (source, group) pair on each interface, and a datagram is accepted from any of the
    /// sources to any of the groups. To pair a source with one group only, use
    /// [`MultiReceiverBuilder::source_group`](crate::multi::MultiReceiverBuilder::source_group).
    ///
    /// ```no_run
    /// use mcast::{Group, Receiver};
    /// // (10.0.0.1, 232.1.1.1), (10.0.0.2, 232.1.1.1), (10.0.0.1, 232.1.1.2), (10.0.0.2, 232.1.1.2):
    /// let rx = Receiver::builder("232.1.1.1:5000".parse()?)
    ///     .group("232.1.1.2:5000".parse()?)
    ///     .source("10.0.0.1".parse()?)
    ///     .source("10.0.0.2".parse()?)
    ///     .interface("eth0")
    ///     .build()?;
    /// assert_eq!(rx.memberships().len(), 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn source(mut self, source: IpAddr) -> Self {
        self.sources.push(source);
        self
    }

    /// Join on this interface (a name, an index, one of its addresses, or an [`IfaceSpec`]); may be given
    /// several times. None: the kernel picks by route.
    pub fn interface(mut self, iface: impl Into<IfaceSpec>) -> Self {
        self.ifaces.push(iface.into());
        self
    }

    /// `SO_REUSEADDR` before bind, so other receivers can share the port (default on).
    pub fn reuse(mut self, on: bool) -> Self {
        self.reuse = on;
        self
    }

    /// Receive buffer in bytes: `SO_RCVBUFFORCE` when privileged, else `SO_RCVBUF` (capped by `rmem_max`).
    pub fn recv_buffer(mut self, bytes: u32) -> Self {
        self.recv_buffer = Some(bytes);
        self
    }

    /// Keep Linux's `IP_MULTICAST_ALL` default (deliver every group joined on the host). Off by default.
    pub fn multicast_all(mut self, on: bool) -> Self {
        self.multicast_all = on;
        self
    }

    /// Opens, binds, joins.
    pub fn build(self) -> Result<Receiver> {
        let first = self.groups[0];
        if first.port() == 0 {
            return Err(Error::new(ErrorKind::Parse, format!("{first}: a receiver needs GROUP:PORT")));
        }
        let family = Family::of(first.ip());
        for g in &self.groups {
            if Family::of(g.ip()) != family || g.port() != first.port() {
                return Err(Error::new(
                    ErrorKind::Mismatch,
                    format!("{g}: one receiver socket takes groups of one family and one port ({first})"),
                ));
            }
        }
        for s in &self.sources {
            if Family::of(*s) != family {
                return Err(Error::new(ErrorKind::Mismatch, format!("source {s} is not of the group's family")));
            }
        }
        let ifaces: Vec<Interface> = self.ifaces.iter().map(IfaceSpec::resolve).collect::<Result<_>>()?;
        let socket = McastSocket::udp(family)?;
        socket.set_reuse_address(self.reuse)?;
        if let Some(bytes) = self.recv_buffer {
            if socket.set_recv_buffer_size_force(bytes).is_err() {
                socket.set_recv_buffer_size(bytes)?;
            }
        }
        match family {
            Family::V4 => {
                socket.set_multicast_all_v4(self.multicast_all)?;
                socket.set_pktinfo_v4(true)?;
                socket.set_recv_ttl_v4(true)?;
                socket.set_recv_tos_v4(true)?;
            }
            Family::V6 => {
                socket.set_only_v6(true)?;
                socket.set_multicast_all_v6(self.multicast_all)?;
                socket.set_recv_pktinfo_v6(true)?;
                socket.set_recv_hoplimit_v6(true)?;
                socket.set_recv_tclass_v6(true)?;
            }
        }
        socket.set_timestamp_ns(true)?;
        socket.set_rxq_overflow(true)?;
        socket.bind(SocketAddr::new(family.unspecified(), first.port()))?;

        let mut memberships = Vec::new();
        for g in &self.groups {
            let mut targets: Vec<Option<Interface>> = ifaces.iter().cloned().map(Some).collect();
            if targets.is_empty() {
                let zone = g.scope_id();
                targets.push(if zone != 0 { Some(Interface::by_index(zone)?) } else { None });
            }
            if g.needs_interface() && targets.iter().any(Option::is_none) {
                return Err(g.no_interface_error());
            }
            let sources: Vec<Option<IpAddr>> =
                if self.sources.is_empty() { vec![None] } else { self.sources.iter().copied().map(Some).collect() };
            for iface in targets {
                for source in &sources {
                    let m = Membership { group: *g, source: *source, iface: iface.clone() };
                    membership(&socket, &m, true)?;
                    memberships.push(m);
                }
            }
        }
        Ok(Receiver { socket, memberships, foreign: AtomicU64::new(0) })
    }
}

/// Whether a datagram that arrived on `ifindex` is for these memberships: when every one names its interface,
/// only those interfaces count (Linux matches IPv6 memberships by group alone, so the kernel hands a socket the
/// group from other interfaces too); when any let the kernel choose, or the arrival interface is unknown, all do.
pub(crate) fn joined_on(memberships: &[Membership], ifindex: Option<u32>) -> bool {
    match ifindex {
        Some(i) if !memberships.is_empty() && memberships.iter().all(|m| m.iface.is_some()) => {
            memberships.iter().any(|m| m.iface.as_ref().map(|f| f.index) == Some(i))
        }
        _ => true,
    }
}

/// Joins (or leaves) one membership with the option the seed teaches for its family.
pub(crate) fn membership(socket: &McastSocket, m: &Membership, join: bool) -> Result<()> {
    let index = m.iface.as_ref().map(|i| i.index).unwrap_or(0);
    match (m.group.ip(), m.source) {
        (IpAddr::V4(g), None) => match (join, m.iface.as_ref().and_then(Interface::first_ipv4)) {
            // ip_mreq by address when the interface has one, ip_mreqn by index when it has none.
            (true, Some(a)) => socket.join_v4(g, a),
            (false, Some(a)) => socket.leave_v4(g, a),
            (true, None) => socket.join_v4_index(g, index),
            (false, None) => socket.leave_v4_index(g, index),
        },
        (IpAddr::V4(g), Some(IpAddr::V4(s))) => match m.iface.as_ref() {
            None => {
                if join {
                    socket.join_source_v4(g, s, Ipv4Addr::UNSPECIFIED)
                } else {
                    socket.leave_source_v4(g, s, Ipv4Addr::UNSPECIFIED)
                }
            }
            Some(i) => match (join, i.first_ipv4()) {
                (true, Some(a)) => socket.join_source_v4(g, s, a),
                (false, Some(a)) => socket.leave_source_v4(g, s, a),
                (true, None) => socket.join_source_group(m.group.ip(), IpAddr::V4(s), index),
                (false, None) => socket.leave_source_group(m.group.ip(), IpAddr::V4(s), index),
            },
        },
        (IpAddr::V6(g), None) => {
            if join {
                socket.join_v6(g, index)
            } else {
                socket.leave_v6(g, index)
            }
        }
        (_, Some(s)) => {
            if join {
                socket.join_source_group(m.group.ip(), s, index)
            } else {
                socket.leave_source_group(m.group.ip(), s, index)
            }
        }
    }
}
