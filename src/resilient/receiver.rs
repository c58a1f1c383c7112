//! The receivers that follow their interfaces: [`ResilientReceiver`] over one socket, and
//! [`MultiReceiver`] (many groups over several sockets) through the same [`Memberships`] trait.

use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use super::{LinkFollower, Memberships, Notice, Outage};
use crate::endpoint::{membership, Membership, Receiver};
use crate::error::{Error, ErrorKind, Result};
use crate::group::Group;
use crate::iface::Interface;
use crate::multi::MultiReceiver;
use crate::socket::{McastSocket, RecvMeta};
use crate::sys;

/// A [`Receiver`] that rejoins after its interfaces flap; see the [module docs](super).
#[derive(Debug)]
pub struct ResilientReceiver {
    socket: McastSocket,
    memberships: Vec<Membership>,
    follower: LinkFollower,
    foreign: u64,
}

// The data socket's descriptor; the link watcher's is `link_fd`.
crate::socket::fd_of_socket!(ResilientReceiver);

/// One socket's memberships, as [`Memberships`].
struct OnSocket<'a> {
    socket: &'a McastSocket,
    memberships: &'a mut Vec<Membership>,
}

impl Memberships for OnSocket<'_> {
    fn joined(&self) -> Vec<(Group, Option<Interface>)> {
        self.memberships.iter().map(|m| (m.group, m.iface.clone())).collect()
    }

    fn rejoin(&mut self, name: &str, old: u32, iface: &Interface, route: bool) -> Result<()> {
        for m in self.memberships.iter_mut() {
            move_membership(self.socket, m, name, old, iface, route)?;
        }
        Ok(())
    }
}

impl ResilientReceiver {
    /// Takes over `rx` (its socket and memberships) and starts following its interfaces.
    pub fn new(rx: Receiver) -> Result<ResilientReceiver> {
        let mut memberships = rx.memberships().to_vec();
        let foreign = rx.foreign();
        let socket = rx.into_socket();
        let follower = LinkFollower::new(&mut OnSocket { socket: &socket, memberships: &mut memberships });
        Ok(ResilientReceiver { socket, memberships, follower, foreign })
    }

    /// Whether a datagram arrived on an interface a membership names, by its index now (always, when a
    /// membership let the kernel choose), as [`Receiver`] filters: Linux matches IPv6 memberships by group
    /// alone, so a socket joined on one interface also gets the group from another where anything on the
    /// host joined it. Counts the ones refused ([`Self::foreign`]). [`Self::recv_timeout`] applies it;
    /// callers with their own receive loop call it on what they read from [`Self::socket`].
    pub fn accepts(&mut self, meta: &RecvMeta) -> bool {
        let ok = crate::endpoint::joined_on(&self.memberships, meta.ifindex);
        if !ok {
            // Datagrams are the network's to send: a count of them saturates.
            self.foreign = self.foreign.saturating_add(1);
        }
        ok
    }

    /// Datagrams refused so far because they arrived on an interface no membership names.
    pub fn foreign(&self) -> u64 {
        self.foreign
    }

    /// Receives one datagram, waiting at most `timeout`, while handling link announcements. `None` when
    /// nothing came, which may be early (a signal, or announcements handled), so callers loop.
    pub fn recv_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> Result<Option<RecvMeta>> {
        let ready = {
            // The socket (bit 0), then the link announcements if watched.
            let mut fds = [self.socket.as_fd(); 2];
            let n = match self.follower.link_fd() {
                Some(l) => {
                    fds[1] = l;
                    2
                }
                None => 1,
            };
            sys::socket::poll_few(&fds[..n], Some(self.follower.wait_limit(timeout)))
                .map_err(|e| Error::os("poll", e))?
        };
        // The announcements are read when the poll found some queued, not after every datagram.
        let mut on = OnSocket { socket: &self.socket, memberships: &mut self.memberships };
        self.follower.service_polled(&mut on, ready & 2 != 0, Instant::now());
        if ready & 1 != 0 {
            if let Some(meta) = self.socket.recv_timeout(buf, Duration::ZERO)? {
                if !self.accepts(&meta) {
                    return Ok(None);
                }
                self.follower.observe(buf.get(..meta.len).unwrap_or_default(), Instant::now());
                return Ok(Some(meta));
            }
        }
        Ok(None)
    }

    /// For callers with their own receive loop (batches): handles queued link announcements and any rejoin
    /// that is due, without waiting. Put [`Self::link_fd`] in the loop's `poll` set to call it promptly.
    pub fn service(&mut self) {
        self.follower.service(&mut OnSocket { socket: &self.socket, memberships: &mut self.memberships });
    }

    /// For callers with their own receive loop: accounts one datagram read from [`Self::socket`].
    pub fn observe(&mut self, payload: &[u8], now: Instant) {
        self.follower.observe(payload, now);
    }

    /// [`observe`](Self::observe) for a datagram whose header the caller has already decoded.
    pub fn observe_header(&mut self, repr: &crate::wire::proto::Repr, now: Instant) {
        self.follower.observe_header(repr, now);
    }

    /// What happened to the interfaces since the last call, oldest first.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        self.follower.take_notices()
    }

    /// The outages so far (the last [`super::MAX_OUTAGES`]), oldest first; the last may still last.
    pub fn outages(&self) -> impl Iterator<Item = &Outage> {
        self.follower.outages()
    }

    /// Outages since the start, including any forgotten.
    pub fn outage_count(&self) -> u64 {
        self.follower.outage_count()
    }

    /// The memberships as held now (interfaces with their current index).
    pub fn memberships(&self) -> &[Membership] {
        &self.memberships
    }

    /// The names of the interfaces watched.
    pub fn watched(&self) -> Vec<&str> {
        self.follower.watched()
    }

    /// Whether link announcements arrive (else the interface list is read every second).
    pub fn has_link_watch(&self) -> bool {
        self.follower.has_link_watch()
    }

    /// The link announcement socket, for a caller's own `poll` set (see [`Self::service`]).
    pub fn link_fd(&self) -> Option<BorrowedFd<'_>> {
        self.follower.link_fd()
    }

    /// The data socket.
    pub fn socket(&self) -> &McastSocket {
        &self.socket
    }
}

/// Every membership of a [`MultiReceiver`], each on its own socket.
impl Memberships for MultiReceiver {
    fn joined(&self) -> Vec<(Group, Option<Interface>)> {
        self.members().iter().map(|m| (m.group(), m.iface.clone())).collect()
    }

    fn rejoin(&mut self, name: &str, old: u32, iface: &Interface, route: bool) -> Result<()> {
        let mut moved = Vec::new();
        let mut result = Ok(());
        for (k, member) in self.members().iter().enumerate() {
            let Some(socket) = self.sockets().nth(member.socket) else {
                result = Err(Error::new(ErrorKind::Mismatch, format!("membership {k} names no socket")));
                break;
            };
            let s = member.subscription;
            let mut m = Membership { group: s.group, source: s.source, iface: member.iface.clone() };
            if let Err(e) = move_membership(socket, &mut m, name, old, iface, route) {
                result = Err(e);
                break;
            }
            if m.iface != member.iface {
                moved.push((k, m.iface));
            }
        }
        // Whatever moved is recorded even when a later one failed: the next attempt starts from there.
        let members = self.members_mut();
        for (k, i) in moved {
            if let Some(member) = members.get_mut(k) {
                member.iface = i;
            }
        }
        result
    }
}

/// Holds membership `m` on `iface` if it belongs to the interface named `name` (or, with `route`, to the
/// routing table's choice, which was that interface): on a new index the stale membership is left first,
/// by the old index, which the kernel still matches after the interface is gone.
fn move_membership(
    socket: &McastSocket,
    m: &mut Membership,
    name: &str,
    old: u32,
    iface: &Interface,
    route: bool,
) -> Result<()> {
    let old = match &m.iface {
        Some(i) if i.name == name => i.index,
        None if route => old,
        _ => return Ok(()),
    };
    if old != iface.index {
        let _ = socket.leave_group(m.group.ip(), old);
    }
    let target = Membership { group: m.group, source: m.source, iface: m.iface.as_ref().map(|_| iface.clone()) };
    match membership(socket, &target, true) {
        Ok(()) => {}
        Err(e) if already_member(&e, &target) => {}
        Err(e) => return Err(e),
    }
    *m = target;
    Ok(())
}

/// Whether a join failed only because the membership is already held: `EADDRINUSE`, or for a source
/// join `EADDRNOTAVAIL` (the kernel's answer to adding a source already in the list).
fn already_member(e: &Error, m: &Membership) -> bool {
    match e.raw_os_error() {
        Some(libc::EADDRINUSE) => true,
        Some(libc::EADDRNOTAVAIL) => m.source.is_some(),
        _ => false,
    }
}
