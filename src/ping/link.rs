//! What the prober and the server share: a joined socket that follows its interfaces, the prober's own
//! sending socket, and the wait for the next datagram (by `poll`, or by spinning).

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use crate::endpoint::Receiver;
use crate::error::{Error, ErrorKind, Result};
use crate::group::Group;
use crate::iface::{IfaceSpec, Interface};
use crate::resilient::{Notice, ResilientReceiver};
use crate::sendretry::InterfaceFollower;
use crate::socket::{Family, McastSocket, RecvMeta};

/// Longest single wait, so a caller's deadline or a signal is noticed promptly.
pub const SLICE: Duration = Duration::from_millis(200);

/// Room for any datagram.
pub(crate) const BUFFER: usize = 65_536;

/// The options both sides share.
#[derive(Clone, Debug, Default)]
pub(crate) struct Options {
    pub ifaces: Vec<Interface>,
    pub sources: Vec<IpAddr>,
    pub ttl: Option<u8>,
    pub dscp: Option<u8>,
    pub busy: bool,
}

/// The sockets of one side, and the link announcements it follows.
pub(crate) struct Endpoint {
    pub group: Group,
    /// Bound to the group's port and joined, rejoining after its interfaces flap or are made again: probes
    /// arrive here, and multicast answers.
    pub rx: ResilientReceiver,
    /// The prober's own socket on an ephemeral port: probes leave from it, so unicast answers come back to
    /// it and to no other process on this host that listens on the group's port.
    pub tx: Option<McastSocket>,
    /// Where multicast leaves for (the group; its IPv6 zone follows the interface's index).
    pub dest: SocketAddr,
    /// The interface multicast leaves by, by name: looked up again after a rejoin or a failed send.
    out_iface: InterfaceFollower,
    /// When link announcements are next handled even if none is signalled (a due rejoin retry, or no
    /// `NETLINK_ROUTE` socket to signal them).
    next_service: Instant,
    busy: bool,
    /// What the link follower did, for the engine to hand out as events.
    pub notices: VecDeque<Notice>,
}

impl Endpoint {
    /// Joins `group` as `o` says; `rx_setup` adjusts the joined socket before it is taken over; with
    /// `own_socket`, opens the prober's sending socket too. Both sockets are non-blocking: reads happen only
    /// once poll (or the busy loop) says a datagram is there, so one costs one system call, and a datagram the
    /// kernel drops at the read (a bad checksum) cannot block.
    pub fn open(
        group: Group,
        o: &Options,
        own_socket: bool,
        rx_setup: impl FnOnce(&McastSocket) -> Result<()>,
    ) -> Result<Endpoint> {
        let mut b = Receiver::builder(group);
        for i in &o.ifaces {
            b = b.interface(IfaceSpec::Index(i.index));
        }
        for s in &o.sources {
            b = b.source(*s);
        }
        let rx = b.build()?;
        rx_setup(rx.socket())?;
        set_send(rx.socket(), group, o.ifaces.first(), o.ttl)?;
        let tx = if own_socket { Some(unicast_sender(group, o.ifaces.first(), o.ttl)?) } else { None };
        if let Some(d) = o.dscp {
            rx.socket().set_dscp(d)?;
            if let Some(t) = &tx {
                t.set_dscp(d)?;
            }
        }
        let ep = Endpoint {
            group,
            rx: ResilientReceiver::new(rx)?,
            tx,
            dest: group.socket_addr(),
            out_iface: InterfaceFollower::new(o.ifaces.first(), group),
            next_service: Instant::now() + SLICE,
            busy: o.busy,
            notices: VecDeque::new(),
        };
        ep.rx.socket().set_nonblocking(true)?;
        if let Some(t) = &ep.tx {
            t.set_nonblocking(true)?;
        }
        Ok(ep)
    }

    /// The socket multicast leaves from: the prober's own, or the server's joined one.
    pub fn sending(&self) -> &McastSocket {
        self.tx.as_ref().unwrap_or(self.rx.socket())
    }

    /// Handles link announcements and any rejoin that is due; after a rejoin, sets the outgoing interface anew
    /// (a re-created interface has a new index). The notices wait in [`Self::notices`].
    fn follow_links(&mut self) {
        self.rx.service();
        self.next_service = Instant::now() + SLICE;
        for n in self.rx.take_notices() {
            if matches!(n, Notice::Rejoined { .. }) {
                self.relook();
            }
            self.notices.push_back(n);
        }
    }

    /// Looks the outgoing interface up again by name and sets it (at most every 200 ms).
    pub fn relook(&mut self) {
        let s = self.tx.as_ref().unwrap_or(self.rx.socket());
        self.out_iface.after_failure(s, &mut self.dest);
    }

    /// Receives one datagram from either socket before `deadline` (or within one slice): by `poll`, or by
    /// spinning on non-blocking reads. Link announcements are handled on the way. With the datagram, whether it
    /// came to the joined socket; the group from an interface not joined on (IPv6 memberships match by group
    /// alone) is not ours and is passed over.
    pub fn recv_until(&mut self, buf: &mut [u8], deadline: Option<Instant>) -> Result<Option<(RecvMeta, bool)>> {
        let now = Instant::now();
        if now >= self.next_service {
            self.follow_links();
        }
        let Some(wait) = until(deadline, now) else { return Ok(None) };
        let wait = wait.min(self.next_service.saturating_duration_since(now));
        let got = if self.busy { self.spin(buf, wait)? } else { self.poll_once(buf, wait)? };
        Ok(got.filter(|(meta, joined)| !joined || self.rx.accepts(meta)))
    }

    /// Non-blocking reads in a loop for at most `wait`; link announcements wait for the next slice.
    fn spin(&self, buf: &mut [u8], wait: Duration) -> Result<Option<(RecvMeta, bool)>> {
        let end = Instant::now() + wait;
        loop {
            if let Some(m) = try_recv(self.rx.socket(), buf)? {
                return Ok(Some((m, true)));
            }
            if let Some(t) = &self.tx {
                if let Some(m) = try_recv(t, buf)? {
                    return Ok(Some((m, false)));
                }
            }
            if Instant::now() >= end || crate::sys::signal::interrupted() {
                return Ok(None);
            }
            std::hint::spin_loop();
        }
    }

    /// One `poll` over the sockets and the link announcements, then one read: two system calls per probe
    /// for the server, as in a plain C loop.
    fn poll_once(&mut self, buf: &mut [u8], wait: Duration) -> Result<Option<(RecvMeta, bool)>> {
        // Bit 0: the joined socket; bit 1: the prober's own socket, if any; then the link announcements.
        let (ready, link_ready) = {
            let mut fds = [self.rx.socket().as_fd(); 3];
            let mut n = 1;
            if let Some(t) = &self.tx {
                fds[n] = t.as_fd();
                n += 1;
            }
            let sockets = n;
            if let Some(l) = self.rx.link_fd() {
                fds[n] = l;
                n += 1;
            }
            let ready = crate::sys::socket::poll_few(&fds[..n], Some(wait)).map_err(|e| Error::os("poll", e))?;
            (ready, sockets < n && ready & (1 << sockets) != 0)
        };
        if link_ready {
            self.follow_links();
        }
        if ready & 1 != 0 {
            if let Some(m) = try_recv(self.rx.socket(), buf)? {
                return Ok(Some((m, true)));
            }
        }
        if let (Some(t), true) = (&self.tx, ready & 2 != 0) {
            if let Some(m) = try_recv(t, buf)? {
                return Ok(Some((m, false)));
            }
        }
        Ok(None)
    }

    /// Datagrams the kernel dropped on this side's sockets for want of buffer space (`SO_MEMINFO`, exact).
    pub fn kernel_drops(&self) -> u64 {
        let rx = self.rx.socket().kernel_drops().unwrap_or(0);
        let tx = self.tx.as_ref().and_then(|s| s.kernel_drops().ok()).unwrap_or(0);
        u64::from(rx) + u64::from(tx)
    }
}

/// How long until `deadline`, at most [`SLICE`]; `None` once it has passed.
pub(crate) fn until(deadline: Option<Instant>, now: Instant) -> Option<Duration> {
    match deadline {
        None => Some(SLICE),
        Some(d) => d.checked_duration_since(now).filter(|l| !l.is_zero()).map(|l| l.min(SLICE)),
    }
}

/// Reads one datagram from `s`, a non-blocking socket; `None` when nothing is queued after all.
fn try_recv(s: &McastSocket, buf: &mut [u8]) -> Result<Option<RecvMeta>> {
    match s.recv(buf) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Sets what a sender to `group` needs on `socket`: outgoing interface, TTL or hop limit.
fn set_send(socket: &McastSocket, group: Group, iface: Option<&Interface>, ttl: Option<u8>) -> Result<()> {
    match Family::of(group.ip()) {
        Family::V4 => {
            if let Some(t) = ttl {
                socket.set_multicast_ttl_v4(t)?;
            }
            if let Some(i) = iface {
                match i.first_ipv4() {
                    Some(a) => socket.set_multicast_if_v4(a)?,
                    None => socket.set_multicast_if_v4_index(i.index)?,
                }
            }
        }
        Family::V6 => {
            if let Some(t) = ttl {
                socket.set_multicast_hops_v6(t)?;
            }
            let index = iface.map(|i| i.index).unwrap_or(group.scope_id());
            if index != 0 {
                socket.set_multicast_if_v6(index)?;
            } else if group.needs_interface() {
                return Err(Error::new(
                    ErrorKind::Mismatch,
                    format!("{group} is {:?}-scoped: name the interface to send by", group.scope()),
                ));
            }
        }
    }
    Ok(())
}

/// A UDP socket of the group's family on an ephemeral port, ready to send to `group` and receive unicast
/// answers, with their TTL and arrival stamps.
fn unicast_sender(group: Group, iface: Option<&Interface>, ttl: Option<u8>) -> Result<McastSocket> {
    let family = Family::of(group.ip());
    let s = McastSocket::udp(family)?;
    match family {
        Family::V4 => s.set_recv_ttl_v4(true)?,
        Family::V6 => {
            s.set_only_v6(true)?;
            s.set_recv_hoplimit_v6(true)?;
        }
    }
    s.set_timestamp_ns(true)?;
    s.bind(SocketAddr::new(family.unspecified(), 0))?;
    set_send(&s, group, iface, ttl)?;
    Ok(s)
}
