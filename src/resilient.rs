//! [`ResilientReceiver`]: a receiver that keeps working while its interfaces go down, come back, or are
//! deleted and made again, and that reports each outage.
//!
//! The kernel keeps a membership across a link going down and up (same interface index), but not across a
//! deletion: an interface re-created under the same name has a new index, and a socket joined on the old
//! one hears nothing more, silently. So the receiver listens to the kernel's link announcements
//! (`LinkWatcher`) beside its data socket; when an interface it joined on comes back usable (up, with a
//! carrier) under a new index it leaves the stale membership and joins again there (and on the same index it
//! makes sure the membership is still held). Without a `NETLINK_ROUTE` socket (a sandbox that refuses one)
//! it falls back to reading the interface list every second.
//!
//! Each [`Outage`] records the interface, what happened (down, no carrier, deleted), when, for how long, and
//! how many datagrams were missed where the payload carries the tools' header ([`crate::wire::proto`]): the gap in
//! a sender's sequence numbers across the outage. Per-sender sequence state is a bounded `SenderTable`.
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

mod outage;
mod receiver;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant, SystemTime};

use crate::endpoint::{Receiver, Sender};
use crate::error::{Error, Result};
use crate::group::Group;
use crate::iface::Interface;
use crate::linkwatch::{LinkEvent, LinkWatcher};
use crate::senders::SenderTable;
use crate::sendretry::ResilientSender;
use crate::socket::{Family, McastSocket};
use crate::wire::proto::{self, Kind};

pub use outage::{Cause, Notice, Outage};
pub use receiver::ResilientReceiver;

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<McastSocket>();
    send_sync::<Sender>();
    send_sync::<Receiver>();
    send_sync::<crate::multi::MultiReceiver>();
    send_sync::<LinkWatcher>();
    send_sync::<ResilientReceiver>();
    send_sync::<ResilientSender>();
    send_sync::<LinkFollower>();
    send_sync::<SenderTable<SocketAddr, u64>>();
};

/// Outages remembered (the oldest are forgotten first; [`ResilientReceiver::outage_count`] counts all).
pub const MAX_OUTAGES: usize = 256;
/// Notices kept until [`ResilientReceiver::take_notices`] collects them.
const MAX_NOTICES: usize = 64;
/// How soon a failed rejoin is tried again, and how often interfaces are read without link announcements.
const RECHECK: Duration = Duration::from_secs(1);

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

/// What a [`LinkFollower`] needs of a receiver: its memberships, and a way to hold them again on an
/// interface that came back (possibly under a new index).
pub trait Memberships {
    /// Each membership's group and interface (`None`: the one the routing table chose when it joined).
    fn joined(&self) -> Vec<(Group, Option<Interface>)>;

    /// Holds again every membership on the interface named `name`, which had index `old` and is now
    /// `iface`; with `route`, also those joined on the routing table's choice (which was that interface).
    fn rejoin(&mut self, name: &str, old: u32, iface: &Interface, route: bool) -> Result<()>;
}

/// The part of a resilient receiver that follows the interfaces: link announcements in, rejoins, outages
/// and notices out, and the per-stream sequence numbers that tell the datagrams missed. It works for any
/// receiver that implements [`Memberships`]: [`ResilientReceiver`] (one socket) and
/// [`crate::multi::MultiReceiver`] (many groups over several sockets).
#[derive(Debug)]
pub struct LinkFollower {
    watch: Option<LinkWatcher>,
    links: Vec<Watched>,
    outages: VecDeque<Outage>,
    outage_count: u64,
    next_id: u64,
    streams: SenderTable<u32, Stream>,
    notices: VecDeque<Notice>,
    next_check: Option<Instant>,
    /// When the link announcements were last read (see [`Self::service`]).
    last_read: Option<Instant>,
}

/// A loop that calls [`LinkFollower::service`] after every datagram reads the link announcements at most
/// this often: a read that finds nothing is a system call, as costly as the datagram's own.
const READ_EVERY: Duration = Duration::from_millis(5);

impl LinkFollower {
    /// Starts following the interfaces `m` joined on: by name for those named, and the one the routing
    /// table chose for the others. Whatever changed between the joins and now is caught at once.
    pub fn new(m: &mut dyn Memberships) -> LinkFollower {
        let joined = m.joined();
        let mut links: Vec<Watched> = Vec::new();
        for i in joined.iter().filter_map(|(_, i)| i.as_ref()) {
            if !links.iter().any(|w| w.name == i.name) {
                links.push(Watched { name: i.name.clone(), index: i.index, route: false, outage: None });
            }
        }
        if let Some((g, _)) = joined.iter().find(|(_, i)| i.is_none()) {
            if let Some(i) = route_interface(*g) {
                match links.iter_mut().find(|w| w.name == i.name) {
                    Some(w) => w.route = true,
                    None => links.push(Watched { name: i.name, index: i.index, route: true, outage: None }),
                }
            }
        }
        let mut f = LinkFollower {
            watch: LinkWatcher::open().ok(),
            links,
            outages: VecDeque::new(),
            outage_count: 0,
            next_id: 0,
            streams: SenderTable::default(),
            notices: VecDeque::new(),
            next_check: None,
            last_read: None,
        };
        f.resync(m, Instant::now());
        f
    }

    /// Handles whatever link announcements are queued and any rejoin that is due, without waiting. Call it
    /// when [`Self::link_fd`] is readable, or at least every [`Self::wait_limit`]. Called more often (after
    /// each datagram of a busy loop) it reads the announcements at most every 5 ms, so they are handled that
    /// much later at worst and the loop does not pay a system call per datagram for them.
    pub fn service(&mut self, m: &mut dyn Memberships) {
        let now = Instant::now();
        let due = self.last_read.map_or(true, |t| now.saturating_duration_since(t) >= READ_EVERY);
        self.service_polled(m, due, now);
    }

    /// [`Self::service`] for a caller that polled [`Self::link_fd`] itself: the announcements are read only
    /// when `readable` says some are queued.
    pub(crate) fn service_polled(&mut self, m: &mut dyn Memberships, readable: bool, now: Instant) {
        if readable {
            self.last_read = Some(now);
            self.read_events(m, now);
        }
        self.tick(m, now);
    }

    /// `timeout`, shortened to when the next rejoin attempt or interface check is due.
    pub fn wait_limit(&self, timeout: Duration) -> Duration {
        let limit = if self.watch.is_none() { timeout.min(RECHECK) } else { timeout };
        self.next_check.map_or(limit, |t| limit.min(t.saturating_duration_since(Instant::now())))
    }

    /// Accounts one datagram's payload: its sequence number, when it carries the tools' header.
    pub fn observe(&mut self, payload: &[u8], now: Instant) {
        if let Ok((repr, _)) = proto::decode(payload) {
            self.observe_header(&repr, now);
        }
    }

    /// [`observe`](Self::observe) for a header already decoded.
    pub fn observe_header(&mut self, repr: &proto::Repr, now: Instant) {
        // Only these kinds number their datagrams 0, 1, 2, ... within a session.
        if !matches!(repr.kind, Kind::PerfData | Kind::PingRequest | Kind::PingReplyMulticast) {
            return;
        }
        // By session alone: a sender whose address changed (an IPv6 link-local address after its interface
        // was made again) is still the same run; sessions are random, so two senders rarely share one.
        let stream = self.streams.entry(repr.session, now);
        if let Some(last_at) = stream.last_at {
            // Sequence numbers come off the network, so anything may arrive: every step saturates. A number
            // at or behind the highest seen (a repeat, a reordering, a wrap past u64::MAX, a forgery) makes
            // no gap, and the count of datagrams missed stops at u64::MAX rather than overflowing.
            let gap = repr.seq.saturating_sub(stream.last_seq.saturating_add(1));
            if gap > 0 {
                // The gap belongs to the first outage still lasting when the stream was last read (that
                // datagram may have been queued before the outage began and read just after).
                if let Some(o) = self.outages.iter_mut().find(|o| o.ended.map_or(true, |e| e >= last_at)) {
                    o.missed = Some(o.missed.unwrap_or(0).saturating_add(gap));
                }
            }
        }
        if stream.last_at.is_none() || repr.seq > stream.last_seq {
            stream.last_seq = repr.seq;
        }
        stream.last_at = Some(now);
    }

    fn read_events(&mut self, m: &mut dyn Memberships, now: Instant) {
        let Some(watch) = self.watch.as_mut() else { return };
        match watch.read() {
            Ok(events) => {
                for e in events {
                    self.on_event(m, &e, now);
                }
            }
            // A broken link socket must not stop the receiver: poll the interface list instead.
            Err(_) => {
                self.watch = None;
                self.next_check = Some(now);
            }
        }
    }

    fn on_event(&mut self, m: &mut dyn Memberships, event: &LinkEvent, now: Instant) {
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
                        self.back(m, wi, l.index, now);
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
            LinkEvent::Resync => self.resync(m, now),
        }
    }

    fn pending_retry(&self) -> bool {
        self.outages.iter().any(|o| o.is_ongoing() && o.rejoin_error.is_some())
    }

    /// Reads the interface list and reconciles every watched interface with it.
    fn resync(&mut self, m: &mut dyn Memberships, now: Instant) {
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
                Some(i) if i.index != w.index || w.outage.is_some() => self.back(m, wi, i.index, now),
                Some(_) => {}
            }
        }
    }

    fn tick(&mut self, m: &mut dyn Memberships, now: Instant) {
        if self.watch.is_none() && self.next_check.is_none() {
            self.next_check = Some(now + RECHECK);
        }
        if self.next_check.is_some_and(|t| now >= t) {
            self.next_check = None;
            self.resync(m, now);
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

    fn back(&mut self, m: &mut dyn Memberships, wi: usize, index: u32, now: Instant) {
        if self.links[wi].outage.is_none() {
            // Back under another index without our hearing it go: it was deleted and made again.
            self.lost(wi, Cause::Removed, now);
        }
        let name = self.links[wi].name.clone();
        let found =
            Interface::by_index(index).ok().filter(|i| i.name == name).or_else(|| Interface::by_name(&name).ok());
        let result = match found {
            Some(iface) => {
                let w = &self.links[wi];
                m.rejoin(&w.name, w.index, &iface, w.route).map(|()| iface.index)
            }
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
                let error = format!("{e:#}");
                let first = o.rejoin_error.as_deref() != Some(error.as_str());
                o.rejoin_error = Some(error.clone());
                self.next_check = Some(now + RECHECK);
                if first {
                    self.notice(Notice::RejoinFailed { iface: name, error });
                }
            }
        }
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

    /// Numbered streams remembered (bounded: see `SenderTable`).
    pub fn streams(&self) -> usize {
        self.streams.len()
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

    /// A follower of no interface with one outage still lasting, as if a link had just gone down.
    fn follower_in_an_outage(now: Instant) -> LinkFollower {
        let outage = Outage {
            iface: "va".into(),
            cause: Cause::Down,
            start: SystemTime::now(),
            duration: None,
            old_index: 2,
            new_index: None,
            missed: None,
            rejoin_error: None,
            id: 0,
            began: now,
            ended: None,
        };
        LinkFollower {
            watch: None,
            links: Vec::new(),
            outages: VecDeque::from([outage]),
            outage_count: 1,
            next_id: 1,
            streams: SenderTable::default(),
            notices: VecDeque::new(),
            next_check: None,
            last_read: None,
        }
    }

    fn data(session: u32, seq: u64) -> proto::Repr {
        proto::Repr { kind: Kind::PerfData, session, seq, send_time_ns: 0, payload_len: 0 }
    }

    fn missed(f: &LinkFollower) -> Option<u64> {
        f.outages().next().and_then(|o| o.missed)
    }

    #[test]
    fn gaps_across_an_outage_are_counted() {
        let now = Instant::now();
        let mut f = follower_in_an_outage(now);
        for seq in [0, 1, 2, 5, 4, 9] {
            f.observe_header(&data(7, seq), now);
        }
        assert_eq!(missed(&f), Some(2 + 3), "3 and 4 missing before 5, 6 to 8 before 9; 4 came late");
    }

    #[test]
    fn extreme_sequence_numbers_saturate_instead_of_overflowing() {
        let now = Instant::now();
        let mut f = follower_in_an_outage(now);
        f.observe_header(&data(1, 0), now);
        f.observe_header(&data(1, u64::MAX), now);
        assert_eq!(missed(&f), Some(u64::MAX - 1));
        // A second stream's gap would carry the count past u64::MAX.
        f.observe_header(&data(2, 0), now);
        f.observe_header(&data(2, 10), now);
        assert_eq!(missed(&f), Some(u64::MAX));
        // The first stream wraps around: back at 0 and counting up again is no gap, and no panic.
        for seq in [0, 1, 2, u64::MAX, u64::MAX] {
            f.observe_header(&data(1, seq), now);
        }
        assert_eq!(missed(&f), Some(u64::MAX));
        // A stream that starts at u64::MAX has nowhere further to go.
        f.observe_header(&data(3, u64::MAX), now);
        f.observe_header(&data(3, u64::MAX), now);
        f.observe_header(&data(3, 0), now);
        assert_eq!(missed(&f), Some(u64::MAX));
    }
}
