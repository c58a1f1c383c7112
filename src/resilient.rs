//! [`ResilientReceiver`]: a receiver that keeps working while its interfaces go down, come back, or are
//! deleted and made again, and that reports each outage.
//!
//! The kernel keeps a membership across a link going down and up (same interface index), but not across a
//! deletion: an interface re-created under the same name has a new index, and a socket joined on the old
//! one hears nothing more, silently. So the receiver listens to the kernel's link announcements
//! ([`LinkWatcher`]) beside its data socket; when an interface it joined on comes back usable (up, with a
//! carrier) under a new index it leaves the stale membership and joins again there (and on the same index it
//! makes sure the membership is still held). Without a `NETLINK_ROUTE` socket (a sandbox that refuses one)
//! it falls back to reading the interface list every second.
//!
//! Each [`Outage`] records the interface, what happened (down, no carrier, deleted), when, for how long, and
//! how many datagrams were missed where the payload carries the tools' header ([`crate::proto`]): the gap in
//! a sender's sequence numbers across the outage. Per-sender sequence state is a bounded [`SenderTable`].
//!
//! ```no_run
//! use mcast::resilient::ResilientReceiver;
//! use mcast::{Group, IfaceSpec, Receiver};
//! use std::time::Duration;
//! let group: Group = "239.1.2.3:5000".parse()?;
//! let rx = Receiver::builder(group).interface(IfaceSpec::Name("eth0".into())).build()?;
//! let mut rx = ResilientReceiver::new(rx)?;
//! let mut buf = [0u8; 1500];
//! loop {
//!     if let Some(meta) = rx.recv_timeout(&mut buf, Duration::from_secs(1))? {
//!         println!("{} bytes from {}", meta.len, meta.source);
//!     }
//!     for notice in rx.take_notices() {
//!         eprintln!("{notice}");
//!     }
//! }
//! # Ok::<(), mcast::Error>(())
//! ```
//!
//! # Threads
//!
//! The socket types are `Send` and `Sync` (asserted at compile time below): each owns its descriptor and
//! keeps no state outside it that a `&self` method changes, and the kernel serialises calls on one socket.
//! Several threads may send on one [`crate::Sender`], or one may send while another receives on the same
//! [`crate::McastSocket`]. Types that keep counters ([`ResilientReceiver`], [`ResilientSender`],
//! [`crate::multi::MultiReceiver`]) change them through `&mut self`, so sharing one needs a `Mutex`.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant, SystemTime};

use crate::endpoint::{membership, Membership, Receiver, Sender};
use crate::error::{Error, Result};
use crate::group::Group;
use crate::iface::Interface;
use crate::linkwatch::{LinkEvent, LinkWatcher};
use crate::proto::{self, Kind};
use crate::senders::SenderTable;
use crate::sendretry::ResilientSender;
use crate::socket::{Family, McastSocket, RecvMeta};
use crate::sys;

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<McastSocket>();
    send_sync::<Sender>();
    send_sync::<Receiver>();
    send_sync::<crate::multi::MultiReceiver>();
    send_sync::<LinkWatcher>();
    send_sync::<ResilientReceiver>();
    send_sync::<ResilientSender>();
    send_sync::<SenderTable<SocketAddr, u64>>();
};

/// Outages remembered (the oldest are forgotten first; [`ResilientReceiver::outage_count`] counts all).
pub const MAX_OUTAGES: usize = 256;
/// Notices kept until [`ResilientReceiver::take_notices`] collects them.
const MAX_NOTICES: usize = 64;
/// How soon a failed rejoin is tried again, and how often interfaces are read without link announcements.
const RECHECK: Duration = Duration::from_secs(1);

/// What took an interface away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cause {
    /// Up, but without a carrier (`IFF_RUNNING` off: a cable out, a veth whose peer is down).
    NoCarrier,
    /// Set down (`IFF_UP` off).
    Down,
    /// Deleted (possibly made again later under the same name, with a new index).
    Removed,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cause::NoCarrier => "no carrier",
            Cause::Down => "link down",
            Cause::Removed => "deleted",
        })
    }
}

/// One interval during which an interface the receiver joined on was unusable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outage {
    /// The interface's name.
    pub iface: String,
    /// The worst that happened to it during the outage (deleted > down > no carrier).
    pub cause: Cause,
    /// When the receiver learnt of it.
    pub start: SystemTime,
    /// How long until the receiver had rejoined on the usable interface; `None` while it lasts.
    pub duration: Option<Duration>,
    /// The interface's index before.
    pub old_index: u32,
    /// Its index after (different after a deletion and re-creation); `None` while it lasts.
    pub new_index: Option<u32>,
    /// Datagrams missed, as the gaps in the tools' sequence numbers across the outage tell; `None` when no
    /// numbered stream was heard both before and after it.
    pub missed: Option<u64>,
    /// Why the last attempt to rejoin failed, while it does.
    pub rejoin_error: Option<String>,
    id: u64,
    began: Instant,
    ended: Option<Instant>,
}

impl Outage {
    /// Whether it still lasts.
    pub fn is_ongoing(&self) -> bool {
        self.duration.is_none()
    }
}

/// Something the receiver did about its interfaces, for the caller to report as it happens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// An interface the receiver joined on became unusable.
    Lost {
        /// Its name.
        iface: String,
        /// Why.
        cause: Cause,
    },
    /// It is back and the memberships on it are held again.
    Rejoined {
        /// Its name.
        iface: String,
        /// Its index now.
        index: u32,
        /// Its index before (the same unless it was re-created).
        old_index: u32,
        /// How long the outage lasted.
        after: Duration,
    },
    /// It is back but joining failed; the receiver tries again.
    RejoinFailed {
        /// Its name.
        iface: String,
        /// Why.
        error: String,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Lost { iface, cause } => write!(f, "{iface}: {cause}; waiting for it to come back"),
            Notice::Rejoined { iface, index, old_index, after } if index != old_index => {
                write!(
                    f,
                    "{iface}: back as index {index} (was {old_index}), rejoined after {:.3} s",
                    after.as_secs_f64()
                )
            }
            Notice::Rejoined { iface, after, .. } => {
                write!(f, "{iface}: back, membership held, after {:.3} s", after.as_secs_f64())
            }
            Notice::RejoinFailed { iface, error } => {
                write!(f, "{iface}: back, but rejoining failed ({error}); retrying")
            }
        }
    }
}

/// An interface the memberships depend on.
#[derive(Debug)]
struct Watched {
    name: String,
    index: u32,
    /// Memberships joined on the routing table's choice follow this interface, the one it chose at the start.
    route: bool,
    /// The open outage's id.
    outage: Option<u64>,
}

/// A numbered stream's last sequence number and when it was heard.
#[derive(Clone, Copy, Debug, Default)]
struct Stream {
    last_seq: u64,
    last_at: Option<Instant>,
}

/// A [`Receiver`] that rejoins after its interfaces flap; see the [module docs](self).
#[derive(Debug)]
pub struct ResilientReceiver {
    socket: McastSocket,
    memberships: Vec<Membership>,
    watch: Option<LinkWatcher>,
    links: Vec<Watched>,
    outages: VecDeque<Outage>,
    outage_count: u64,
    next_id: u64,
    streams: SenderTable<u32, Stream>,
    notices: VecDeque<Notice>,
    next_check: Option<Instant>,
}

impl ResilientReceiver {
    /// Takes over `rx` (its socket and memberships) and starts watching the interfaces it joined on: by name
    /// for those named, and the one the routing table chose for the others.
    pub fn new(rx: Receiver) -> Result<ResilientReceiver> {
        let memberships = rx.memberships().to_vec();
        let socket = rx.into_socket();
        let mut links: Vec<Watched> = Vec::new();
        for i in memberships.iter().filter_map(|m| m.iface.as_ref()) {
            if !links.iter().any(|w| w.name == i.name) {
                links.push(Watched { name: i.name.clone(), index: i.index, route: false, outage: None });
            }
        }
        if let Some(m) = memberships.iter().find(|m| m.iface.is_none()) {
            if let Some(i) = route_interface(m.group) {
                match links.iter_mut().find(|w| w.name == i.name) {
                    Some(w) => w.route = true,
                    None => links.push(Watched { name: i.name, index: i.index, route: true, outage: None }),
                }
            }
        }
        let watch = LinkWatcher::open().ok();
        let mut r = ResilientReceiver {
            socket,
            memberships,
            watch,
            links,
            outages: VecDeque::new(),
            outage_count: 0,
            next_id: 0,
            streams: SenderTable::default(),
            notices: VecDeque::new(),
            next_check: None,
        };
        // Whatever changed between the joins and the watcher's start is caught here.
        r.resync(Instant::now());
        Ok(r)
    }

    /// Receives one datagram, waiting at most `timeout`, while handling link announcements. `None` when
    /// nothing came, which may be early (a signal, or announcements handled), so callers loop.
    pub fn recv_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> Result<Option<RecvMeta>> {
        let now = Instant::now();
        let wait = self.next_check.map_or(timeout, |t| timeout.min(t.saturating_duration_since(now)));
        let ready = {
            let mut fds: Vec<BorrowedFd<'_>> = vec![self.socket.as_fd()];
            fds.extend(self.watch.as_ref().map(|w| w.as_fd()));
            sys::socket::poll_many(&fds, Some(wait)).map_err(|e| Error::os("poll", e))?
        };
        if ready.get(1).copied().unwrap_or(false) {
            self.read_events(Instant::now());
        }
        self.tick(Instant::now());
        if ready.first().copied().unwrap_or(false) {
            if let Some(meta) = self.socket.recv_timeout(buf, Duration::ZERO)? {
                self.observe(buf.get(..meta.len).unwrap_or_default(), Instant::now());
                return Ok(Some(meta));
            }
        }
        Ok(None)
    }

    /// For callers with their own receive loop (batches, several sockets): handles whatever link
    /// announcements are queued and any rejoin that is due, without waiting. Put [`Self::link_fd`] in the
    /// loop's `poll` set to call it promptly.
    pub fn service(&mut self) {
        let now = Instant::now();
        self.read_events(now);
        self.tick(now);
    }

    /// For callers with their own receive loop: accounts one datagram read from [`Self::socket`] (its
    /// sequence number, when it carries the tools' header).
    pub fn observe(&mut self, payload: &[u8], now: Instant) {
        let Ok((repr, _)) = proto::decode(payload) else { return };
        // Only these kinds number their datagrams 0, 1, 2, ... within a session.
        if !matches!(repr.kind, Kind::PerfData | Kind::PingRequest | Kind::PingReplyMulticast) {
            return;
        }
        // By session alone: a sender whose address changed (an IPv6 link-local address after its interface
        // was made again) is still the same run; sessions are random, so two senders rarely share one.
        let stream = self.streams.entry(repr.session, now);
        if let Some(last_at) = stream.last_at {
            let gap = repr.seq.saturating_sub(stream.last_seq.saturating_add(1));
            if gap > 0 {
                // The gap belongs to the first outage still lasting when the stream was last read (that
                // datagram may have been queued before the outage began and read just after).
                if let Some(o) = self.outages.iter_mut().find(|o| o.ended.map_or(true, |e| e >= last_at)) {
                    o.missed = Some(o.missed.unwrap_or(0) + gap);
                }
            }
        }
        if stream.last_at.is_none() || repr.seq > stream.last_seq {
            stream.last_seq = repr.seq;
        }
        stream.last_at = Some(now);
    }

    fn read_events(&mut self, now: Instant) {
        let Some(watch) = self.watch.as_mut() else { return };
        match watch.read() {
            Ok(events) => {
                for e in events {
                    self.on_event(&e, now);
                }
            }
            // A broken link socket must not stop the receiver: poll the interface list instead.
            Err(_) => {
                self.watch = None;
                self.next_check = Some(now);
            }
        }
    }

    fn on_event(&mut self, event: &LinkEvent, now: Instant) {
        match event {
            LinkEvent::NewLink(l) => {
                for wi in 0..self.links.len() {
                    let w = &self.links[wi];
                    let named = l.name.as_deref() == Some(w.name.as_str());
                    // A message about our index under another name: renamed away; the membership stays
                    // with the index, so there is nothing to do.
                    if !(named || l.name.is_none() && l.index == w.index) {
                        continue;
                    }
                    if !l.is_usable() {
                        self.lost(wi, if l.is_up() { Cause::NoCarrier } else { Cause::Down }, now);
                    } else if l.index != w.index || w.outage.is_some() {
                        self.back(wi, l.index, now);
                    }
                }
            }
            LinkEvent::DelLink(l) => {
                for wi in 0..self.links.len() {
                    if self.links[wi].index == l.index {
                        self.lost(wi, Cause::Removed, now);
                    }
                }
            }
            // An address arriving may be what a failed rejoin (by address) was waiting for.
            LinkEvent::NewAddr(_) if self.pending_retry() => self.next_check = Some(now),
            LinkEvent::NewAddr(_) | LinkEvent::DelAddr(_) => {}
            LinkEvent::Resync => self.resync(now),
        }
    }

    fn pending_retry(&self) -> bool {
        self.outages.iter().any(|o| o.is_ongoing() && o.rejoin_error.is_some())
    }

    /// Reads the interface list and reconciles every watched interface with it.
    fn resync(&mut self, now: Instant) {
        let Ok(list) = Interface::list() else {
            self.next_check = Some(now + RECHECK);
            return;
        };
        for wi in 0..self.links.len() {
            let w = &self.links[wi];
            match list.iter().find(|i| i.name == w.name) {
                None => self.lost(wi, Cause::Removed, now),
                Some(i) if !(i.is_up() && i.is_running()) => {
                    self.lost(wi, if i.is_up() { Cause::NoCarrier } else { Cause::Down }, now)
                }
                Some(i) if i.index != w.index || w.outage.is_some() => self.back(wi, i.index, now),
                Some(_) => {}
            }
        }
    }

    fn tick(&mut self, now: Instant) {
        if self.watch.is_none() && self.next_check.is_none() {
            self.next_check = Some(now + RECHECK);
        }
        if self.next_check.is_some_and(|t| now >= t) {
            self.next_check = None;
            self.resync(now);
        }
    }

    fn lost(&mut self, wi: usize, cause: Cause, now: Instant) {
        let w = &self.links[wi];
        if let Some(o) = w.outage.and_then(|id| self.outages.iter_mut().find(|o| o.id == id)) {
            // Worse news (a link that went down is now deleted) is news.
            if cause > o.cause {
                o.cause = cause;
                let iface = o.iface.clone();
                self.notice(Notice::Lost { iface, cause });
            }
            return;
        }
        let (name, old_index) = (w.name.clone(), w.index);
        let id = self.next_id;
        self.next_id += 1;
        let outage = Outage {
            iface: name.clone(),
            cause,
            start: SystemTime::now(),
            duration: None,
            old_index,
            new_index: None,
            missed: None,
            rejoin_error: None,
            id,
            began: now,
            ended: None,
        };
        self.notice(Notice::Lost { iface: name, cause });
        self.links[wi].outage = Some(id);
        self.outage_count += 1;
        if self.outages.len() >= MAX_OUTAGES {
            self.outages.pop_front();
        }
        self.outages.push_back(outage);
    }

    fn back(&mut self, wi: usize, index: u32, now: Instant) {
        if self.links[wi].outage.is_none() {
            // Back under another index without our hearing it go: it was deleted and made again.
            self.lost(wi, Cause::Removed, now);
        }
        let name = self.links[wi].name.clone();
        let found =
            Interface::by_index(index).ok().filter(|i| i.name == name).or_else(|| Interface::by_name(&name).ok());
        let result = match found {
            Some(iface) => self.rejoin(wi, &iface).map(|()| iface.index),
            None => Err(Error::new(crate::ErrorKind::UnknownInterface, format!("{name} vanished again"))),
        };
        let w = &mut self.links[wi];
        let Some(o) = w.outage.and_then(|id| self.outages.iter_mut().find(|o| o.id == id)) else {
            // Forgotten (more than MAX_OUTAGES since): nothing left to close.
            w.outage = None;
            return;
        };
        match result {
            Ok(new_index) => {
                let after = now.saturating_duration_since(o.began);
                o.duration = Some(after);
                o.ended = Some(now);
                o.new_index = Some(new_index);
                o.rejoin_error = None;
                let notice = Notice::Rejoined { iface: name, index: new_index, old_index: o.old_index, after };
                w.outage = None;
                w.index = new_index;
                self.notice(notice);
            }
            Err(e) => {
                let error = e.to_string();
                let first = o.rejoin_error.as_deref() != Some(error.as_str());
                o.rejoin_error = Some(error.clone());
                self.next_check = Some(now + RECHECK);
                if first {
                    self.notice(Notice::RejoinFailed { iface: name, error });
                }
            }
        }
    }

    /// Holds every membership of watched interface `wi` on `iface`: on a new index the stale membership
    /// is left first (by the old index, which the kernel still matches after the interface is gone).
    fn rejoin(&mut self, wi: usize, iface: &Interface) -> Result<()> {
        let w = &self.links[wi];
        for m in self.memberships.iter_mut() {
            let old = match &m.iface {
                Some(i) if i.name == w.name => i.index,
                None if w.route => w.index,
                _ => continue,
            };
            if old != iface.index {
                let _ = self.socket.leave_group(m.group.ip(), old);
            }
            let target =
                Membership { group: m.group, source: m.source, iface: m.iface.as_ref().map(|_| iface.clone()) };
            match membership(&self.socket, &target, true) {
                Ok(()) => {}
                Err(e) if already_member(&e, &target) => {}
                Err(e) => return Err(e),
            }
            *m = target;
        }
        Ok(())
    }

    fn notice(&mut self, n: Notice) {
        if self.notices.len() >= MAX_NOTICES {
            self.notices.pop_front();
        }
        self.notices.push_back(n);
    }

    /// What happened to the interfaces since the last call, oldest first.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        self.notices.drain(..).collect()
    }

    /// The outages so far (the last [`MAX_OUTAGES`]), oldest first; the last may still last.
    pub fn outages(&self) -> impl Iterator<Item = &Outage> {
        self.outages.iter()
    }

    /// Outages since the start, including any forgotten.
    pub fn outage_count(&self) -> u64 {
        self.outage_count
    }

    /// The memberships as held now (interfaces with their current index).
    pub fn memberships(&self) -> &[Membership] {
        &self.memberships
    }

    /// The names of the interfaces watched.
    pub fn watched(&self) -> Vec<&str> {
        self.links.iter().map(|w| w.name.as_str()).collect()
    }

    /// Whether link announcements arrive (else the interface list is read every second).
    pub fn has_link_watch(&self) -> bool {
        self.watch.is_some()
    }

    /// The link announcement socket, for a caller's own `poll` set (see [`Self::service`]).
    pub fn link_fd(&self) -> Option<BorrowedFd<'_>> {
        self.watch.as_ref().map(|w| w.as_fd())
    }

    /// The data socket.
    pub fn socket(&self) -> &McastSocket {
        &self.socket
    }

    /// Numbered streams remembered (bounded: see [`SenderTable`]).
    pub fn streams(&self) -> usize {
        self.streams.len()
    }
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

/// The interface the routing table picks for `group`: that of the source address a UDP socket connected
/// to it would use (connecting sends nothing).
fn route_interface(group: Group) -> Option<Interface> {
    let s = McastSocket::udp(Family::of(group.ip())).ok()?;
    s.connect(group.socket_addr()).ok()?;
    Interface::by_addr(s.local_addr().ok()?.ip()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_order_by_severity() {
        assert!(Cause::Removed > Cause::Down && Cause::Down > Cause::NoCarrier);
        assert_eq!(Cause::Removed.to_string(), "deleted");
    }

    #[test]
    fn notices_read_as_sentences() {
        let n = Notice::Rejoined { iface: "vb".into(), index: 9, old_index: 4, after: Duration::from_millis(1500) };
        assert_eq!(n.to_string(), "vb: back as index 9 (was 4), rejoined after 1.500 s");
        let n = Notice::Rejoined { iface: "vb".into(), index: 4, old_index: 4, after: Duration::from_millis(20) };
        assert_eq!(n.to_string(), "vb: back, membership held, after 0.020 s");
        let n = Notice::Lost { iface: "vb".into(), cause: Cause::Down };
        assert_eq!(n.to_string(), "vb: link down; waiting for it to come back");
    }
}
