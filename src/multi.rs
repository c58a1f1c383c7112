//! [`MultiReceiver`]: one receiver for many groups (hundreds, IPv4 and IPv6 mixed, any-source or
//! source-specific), with datagram and byte counters per group.
//!
//! Linux limits the memberships one socket may hold: `net.ipv4.igmp_max_memberships` (20 by default) for
//! IPv4, after which a join fails with `ENOBUFS`; IPv6 has no count, but each membership is charged to the
//! socket's option memory, `net.core.optmem_max` (a join past it fails with `ENOMEM`, after about 2000
//! groups at the default); source lists are capped by `net.ipv4.igmp_max_msf` and `net.ipv6.mld_max_msf`.
//! The receiver spreads its joins over as many sockets as it needs, all bound to the same port with
//! `SO_REUSEADDR`: when the kernel refuses a join for lack of room it opens the next socket and joins
//! there. Each socket has `IP_MULTICAST_ALL` off, so the kernel hands it only the groups it joined itself,
//! and the destination address of each datagram (`IP_PKTINFO`) says which group it was for.
//!
//! The sockets are ordinary descriptors: [`MultiReceiver::fds`] lists them for an event loop,
//! [`MultiReceiver::poll`] waits on all of them, [`MultiReceiver::try_recv`] reads one that is ready, and
//! [`MultiReceiver::recv_timeout`] does both.
//!
//! ```no_run
//! use mcast::multi::{parse_group_list, MultiReceiver};
//! use std::time::Duration;
//! let groups = parse_group_list("239.1.1.1-239.1.1.100:5000", None)?;
//! let mut rx = MultiReceiver::builder().groups(groups).build()?;
//! println!("{} groups on {} sockets", rx.members().len(), rx.fds().len());
//! let mut buf = [0u8; 2048];
//! while let Some(arrival) = rx.recv_timeout(&mut buf, Duration::from_secs(1))? {
//!     println!("{} bytes for {:?}", arrival.meta.len, arrival.member.map(|m| rx.members()[m].group()));
//! }
//! # Ok::<(), mcast::Error>(())
//! ```

mod interval;
mod list;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};
use crate::group::Group;
use crate::iface::{IfaceSpec, Interface};
use crate::procnet::sysctl_u32;
use crate::socket::{Family, McastSocket, RecvMeta};
use crate::sys::epoll::Epoll;

pub use interval::{IntervalMeter, IntervalReport, IntervalRow};
pub use list::{add_subscriptions, is_range, parse_group_list, parse_item, MAX_GROUPS, MAX_RANGE};

/// One stream to receive: a group with its port, from any source or (source-specific multicast) from one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Subscription {
    /// The group and port.
    pub group: Group,
    /// Receive only from this sender (SSM, RFC 4607); `None`: any source.
    pub source: Option<IpAddr>,
}

impl From<Group> for Subscription {
    fn from(group: Group) -> Self {
        Subscription { group, source: None }
    }
}

/// Datagrams and bytes received for one membership.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Datagrams.
    pub datagrams: u64,
    /// Payload bytes (the datagrams' full sizes, even when a buffer was too small for them).
    pub bytes: u64,
    /// Datagrams that did not fit the buffer they were read into.
    pub truncated: u64,
    /// When the first one arrived.
    pub first: Option<Instant>,
    /// When the last one arrived.
    pub last: Option<Instant>,
}

impl Counters {
    /// Datagrams and bits per second since `earlier` (a copy of these counters taken `elapsed` ago).
    pub fn rate_since(&self, earlier: &Counters, elapsed: Duration) -> Throughput {
        let secs = elapsed.as_secs_f64();
        if secs <= 0.0 {
            return Throughput::default();
        }
        Throughput {
            datagrams_per_sec: self.datagrams.saturating_sub(earlier.datagrams) as f64 / secs,
            bits_per_sec: self.bytes.saturating_sub(earlier.bytes) as f64 * 8.0 / secs,
        }
    }
}

/// A receive rate.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Throughput {
    /// Datagrams per second.
    pub datagrams_per_sec: f64,
    /// Payload bits per second.
    pub bits_per_sec: f64,
}

/// A membership of the receiver: a subscription on one interface, the socket that holds it, its counters.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Member {
    /// What is received.
    pub subscription: Subscription,
    /// The interface joined on; `None`: the one the kernel chose by route.
    pub iface: Option<Interface>,
    /// Index into [`MultiReceiver::fds`] of the socket holding the membership (with
    /// [`one_reader`](MultiReceiverBuilder::one_reader), a socket that holds memberships and reads nothing).
    pub socket: usize,
    /// What arrived so far.
    pub counters: Counters,
}

impl Member {
    /// The group.
    pub fn group(&self) -> Group {
        self.subscription.group
    }
}

/// One received datagram: which membership it counted for, on which socket, and its metadata.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Arrival {
    /// Index into [`MultiReceiver::members`]; `None` for a stray (see [`MultiReceiver::strays`]).
    pub member: Option<usize>,
    /// Index of the socket it was read from.
    pub socket: usize,
    /// Size, sender, destination group, interface, TTL, time.
    pub meta: RecvMeta,
}

#[derive(Debug)]
struct Slot {
    socket: McastSocket,
    port: u16,
    members: usize,
    /// The membership, when the socket holds exactly one (a bound group's socket, most often): a datagram
    /// read there is checked against it alone, without the table lookup, which with thousands of sockets
    /// costs a cache miss per datagram.
    only: Option<usize>,
    drops: u32,
}

/// Builds a [`MultiReceiver`].
#[derive(Clone, Debug, Default)]
pub struct MultiReceiverBuilder {
    subscriptions: Vec<Subscription>,
    ifaces: Vec<IfaceSpec>,
    recv_buffer: Option<u32>,
    per_socket: Option<usize>,
    bind_groups: bool,
    one_reader: bool,
}

/// Receives many groups over as many sockets as the kernel's per-socket limits require.
///
/// ```no_run
/// use std::time::Duration;
/// use mcast::multi::{parse_group_list, MultiReceiver};
/// let mut rx = MultiReceiver::builder()
///     .groups(parse_group_list("239.1.1.1-239.1.1.100:5000", None)?)
///     .interface("eth0")
///     .build()?;
/// let mut buf = [0u8; 1500];
/// while let Some(arrival) = rx.recv_timeout(&mut buf, Duration::from_secs(1))? {
///     let group = arrival.member.map(|m| rx.members()[m].group());
///     println!("{} bytes from {} to {group:?}", arrival.meta.len, arrival.meta.source);
/// }
/// # Ok::<(), mcast::Error>(())
/// ```
#[derive(Debug)]
pub struct MultiReceiver {
    slots: Vec<Slot>,
    members: Vec<Member>,
    by_dest: HashMap<(usize, IpAddr), Vec<usize>>,
    strays: u64,
    /// Every socket, watched for input under its index: a wait costs the same for 1 socket or 500.
    epoll: Epoll,
    /// The sockets the last poll found readable and not yet drained, served in turn from `next`.
    ready: Vec<usize>,
    next: usize,
}

impl MultiReceiver {
    /// Starts an empty receiver; add groups with [`MultiReceiverBuilder::group`] and friends.
    pub fn builder() -> MultiReceiverBuilder {
        MultiReceiverBuilder::default()
    }

    /// Every membership, in the order they were given (duplicates dropped).
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The memberships, for moving them to an interface made again under a new index (`crate::resilient`).
    pub(crate) fn members_mut(&mut self) -> &mut [Member] {
        &mut self.members
    }

    /// The sockets, in index order.
    pub fn sockets(&self) -> impl Iterator<Item = &McastSocket> {
        self.slots.iter().map(|s| &s.socket)
    }

    /// The sockets' descriptors, for `poll`/`epoll`/an event loop; [`Arrival::socket`] and
    /// [`MultiReceiver::try_recv`] use the same indices. The descriptors are non-blocking.
    pub fn fds(&self) -> Vec<BorrowedFd<'_>> {
        self.iter_fds().collect()
    }

    /// The sockets' descriptors as an iterator, in index order: register each with an event loop
    /// (`tokio::io::unix::AsyncFd`, `mio`, `epoll`) and read the ready one with [`MultiReceiver::try_recv`].
    pub fn iter_fds(&self) -> impl ExactSizeIterator<Item = BorrowedFd<'_>> + '_ {
        self.slots.iter().map(|s| s.socket.as_fd())
    }

    /// The `epoll` descriptor that watches every socket: readable while any of them is (for `crate::tokio`,
    /// which registers this one descriptor however many sockets there are).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn wait_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }

    /// The descriptors as integers (for the C ABI and `select`-style loops).
    pub fn raw_fds(&self) -> Vec<RawFd> {
        self.slots.iter().map(|s| s.socket.as_raw_fd()).collect()
    }

    /// Memberships held by each socket.
    pub fn members_per_socket(&self) -> Vec<usize> {
        self.slots.iter().map(|s| s.members).collect()
    }

    /// Datagrams that arrived on the port but for no membership of the socket that read them: unicast to the
    /// port, or (IPv6, whose delivery ignores the interface) a group joined on another interface by another
    /// socket, which counts it there; with [`one_reader`](MultiReceiverBuilder::one_reader), also the groups
    /// other programs joined on the port.
    pub fn strays(&self) -> u64 {
        self.strays
    }

    /// Datagrams the kernel dropped for lack of receive buffer, over all sockets: `SO_MEMINFO`'s exact count
    /// now, or where it cannot be read the `SO_RXQ_OVFL` count last reported with a datagram (which misses
    /// the drops after that datagram).
    pub fn kernel_drops(&self) -> u64 {
        self.slots.iter().map(|s| u64::from(s.socket.kernel_drops().unwrap_or(0).max(s.drops))).sum()
    }

    /// A copy of every member's counters, for computing rates later with [`Counters::rate_since`].
    pub fn snapshot(&self) -> Vec<Counters> {
        self.members.iter().map(|m| m.counters).collect()
    }

    /// Waits until one of the sockets is readable or `timeout` passes (`None`: forever); returns the
    /// indices of those that are readable, in order (at most 64 at once: the others stay readable for the next
    /// call; empty on timeout). The wait is an `epoll` one, whose cost does not grow with the sockets held.
    pub fn poll(&self, timeout: Option<Duration>) -> Result<Vec<usize>> {
        let mut tokens = Vec::new();
        self.epoll.wait(&mut tokens, timeout).map_err(|e| Error::os("epoll_wait (multi-group receiver)", e))?;
        let mut ready: Vec<usize> =
            tokens.into_iter().filter_map(|t| usize::try_from(t).ok()).filter(|&i| i < self.slots.len()).collect();
        ready.sort_unstable();
        ready.dedup();
        Ok(ready)
    }

    /// Reads one datagram from socket `socket` if one is queued (never blocks), counts it for its
    /// membership, and says which that was. `Ok(None)`: nothing queued.
    pub fn try_recv(&mut self, socket: usize, buf: &mut [u8]) -> Result<Option<Arrival>> {
        let Some(slot) = self.slots.get_mut(socket) else {
            return Err(Error::new(
                ErrorKind::OutOfRange,
                format!("socket {socket} does not exist (this receiver has {})", self.slots.len()),
            ));
        };
        let meta = match slot.socket.recv(buf) {
            Ok(m) => m,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN)) => return Ok(None),
            Err(e) => return Err(e.within(format!("receive on socket {socket} (port {})", slot.port))),
        };
        if let Some(d) = meta.drops {
            slot.drops = slot.drops.max(d);
        }
        let member = self.attribute(socket, &meta);
        match member {
            Some(i) => {
                let c = &mut self.members[i].counters;
                let now = Instant::now();
                c.datagrams += 1;
                c.bytes += meta.full_len as u64;
                c.truncated += u64::from(meta.truncated);
                c.first.get_or_insert(now);
                c.last = Some(now);
            }
            None => self.strays += 1,
        }
        Ok(Some(Arrival { member, socket, meta }))
    }

    /// Receives the next datagram from any socket, waiting at most `timeout`; `Ok(None)` when none came.
    /// The sockets a poll found readable are served in turn, one datagram each, until each is drained, so a
    /// busy group cannot starve the others; an idle socket costs nothing per datagram, only its place in the
    /// next poll (which comes once every readable socket is drained).
    pub fn recv_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> Result<Option<Arrival>> {
        let deadline = Instant::now() + timeout;
        let mut polled = false;
        loop {
            while let Some(k) = (!self.ready.is_empty()).then(|| self.next % self.ready.len()) {
                let i = self.ready[k];
                match self.try_recv(i, buf) {
                    Ok(Some(a)) => {
                        self.next = k + 1;
                        return Ok(Some(a));
                    }
                    Ok(None) => {
                        self.ready.remove(k);
                        self.next = k;
                    }
                    Err(e) => {
                        self.ready.clear();
                        return Err(e);
                    }
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if self.slots.is_empty() || (polled && left.is_zero()) {
                return Ok(None);
            }
            self.ready = self.poll(Some(left))?;
            (self.next, polled) = (0, true);
            if self.ready.is_empty() {
                return Ok(None);
            }
        }
    }

    /// Which membership of socket `socket` a datagram belongs to: same group, and the interface and source
    /// the membership names (if it names them).
    fn attribute(&self, socket: usize, meta: &RecvMeta) -> Option<usize> {
        let dst = meta.group?;
        let accepts = |i: usize| {
            let m = &self.members[i];
            let iface_ok = match (&m.iface, meta.ifindex) {
                (None, _) => true,
                (Some(want), Some(got)) => want.index == got,
                (Some(_), None) => true,
            };
            let source_ok = m.subscription.source.map_or(true, |s| s == meta.source.ip());
            iface_ok && source_ok
        };
        if let Some(i) = self.slots.get(socket).and_then(|s| s.only) {
            return (self.members[i].group().ip() == dst && accepts(i)).then_some(i);
        }
        let candidates = self.by_dest.get(&(socket, dst))?;
        candidates.iter().copied().find(|&i| accepts(i))
    }
}

impl MultiReceiverBuilder {
    /// Adds one group, any source.
    pub fn group(mut self, group: Group) -> Self {
        self.subscriptions.push(group.into());
        self
    }

    /// Adds many groups, any source (e.g. from [`parse_group_list`]).
    pub fn groups(mut self, groups: impl IntoIterator<Item = Group>) -> Self {
        self.subscriptions.extend(groups.into_iter().map(Subscription::from));
        self
    }

    /// Adds a group received only from `source` (source-specific multicast).
    pub fn source_group(mut self, group: Group, source: IpAddr) -> Self {
        self.subscriptions.push(Subscription { group, source: Some(source) });
        self
    }

    /// Adds subscriptions as they are.
    pub fn subscriptions(mut self, subs: impl IntoIterator<Item = Subscription>) -> Self {
        self.subscriptions.extend(subs);
        self
    }

    /// Joins every group on this interface (a name, an index, one of its addresses, or an [`IfaceSpec`]);
    /// may be given several times. None: the kernel picks by route (or
    /// an IPv6 group's zone).
    pub fn interface(mut self, iface: impl Into<IfaceSpec>) -> Self {
        self.ifaces.push(iface.into());
        self
    }

    /// Receive buffer of each socket in bytes: `SO_RCVBUFFORCE` when privileged, else `SO_RCVBUF`.
    pub fn recv_buffer(mut self, bytes: u32) -> Self {
        self.recv_buffer = Some(bytes);
        self
    }

    /// Puts at most `n` memberships on one socket (at least 1), even where the kernel would take more.
    pub fn per_socket(mut self, n: usize) -> Self {
        self.per_socket = Some(n.max(1));
        self
    }

    /// Gives each group its own socket, bound to the group's address and port, instead of spreading the
    /// groups over sockets bound to the port alone. For a datagram, the kernel finds a socket bound to its
    /// group by address and port at once, where with port-bound sockets it asks every socket on the port
    /// whether it joined the group: with 10,000 IPv4 groups (500 sockets of 20) that question is most of
    /// what each datagram costs it. The price is a descriptor per group (the soft open-file limit is raised
    /// towards the hard one as needed), and unicast datagrams to the port, which arrive on no group's
    /// address, are not received (no [strays](MultiReceiver::strays)). An IPv6 group of link or interface
    /// scope is bound with its zone, so its socket hears only that interface.
    pub fn bind_groups(mut self, on: bool) -> Self {
        self.bind_groups = on;
        self
    }

    /// Reads every group through one socket per port and family, bound to the port with
    /// `IP_MULTICAST_ALL`/`IPV6_MULTICAST_ALL` on and holding no membership itself, while the memberships
    /// are held by unbound sockets that read nothing (as many as the per-socket limits require). For a
    /// datagram the kernel then checks its group once against the interface's table and hands it to the one
    /// socket on the port, which has no list of its own to walk; the group is matched to its membership
    /// here, from the destination address, in a hash table. The cost per datagram stays flat with 10,000
    /// IPv4 groups without a descriptor per group, and no socket the datagrams fall on is ever cold.
    ///
    /// The price is Linux's own rule for such a socket: it is handed every group joined on the host at its
    /// port, by any program. Those datagrams are read, counted as [strays](MultiReceiver::strays) and
    /// share the receive buffer with this receiver's own groups. Not with
    /// [`bind_groups`](Self::bind_groups), which is the other layout for many groups.
    pub fn one_reader(mut self, on: bool) -> Self {
        self.one_reader = on;
        self
    }

    /// Opens the sockets and joins every group.
    pub fn build(self) -> Result<MultiReceiver> {
        if self.subscriptions.is_empty() {
            return Err(Error::new(ErrorKind::Parse, "no groups to receive: give at least one GROUP:PORT"));
        }
        if self.one_reader && self.bind_groups {
            return Err(Error::new(
                ErrorKind::Mismatch,
                "one reader per port and a socket bound to each group are two layouts: choose one",
            ));
        }
        let ifaces: Vec<Interface> = self.ifaces.iter().map(IfaceSpec::resolve).collect::<Result<_>>()?;
        let planned = plan(&self.subscriptions, &ifaces)?;
        let mut rx = MultiReceiver {
            slots: Vec::new(),
            members: Vec::new(),
            by_dest: HashMap::new(),
            strays: 0,
            epoll: Epoll::new().map_err(|e| Error::os("epoll_create1 (multi-group receiver)", e))?,
            ready: Vec::new(),
            next: 0,
        };
        if self.bind_groups {
            // A descriptor per group and interface, and some to spare for the rest of the program.
            let _ = crate::sys::socket::raise_open_files(planned.len() as u64 + 64);
        }
        // The socket currently being filled for each address the sockets bind: the family's wildcard and the
        // port or, with bound groups, the group (with its zone when its scope needs one) and the port. With one
        // reader, the holders are filled by family (they bind nothing: the port 0 key) and the readers are
        // kept by the address they bind.
        let mut open: HashMap<SocketAddr, usize> = HashMap::new();
        let mut readers: HashMap<SocketAddr, usize> = HashMap::new();
        for (sub, iface) in planned {
            let family = Family::of(sub.group.ip());
            let bind = match sub.group.ip() {
                _ if !self.bind_groups => SocketAddr::new(family.unspecified(), sub.group.port()),
                IpAddr::V6(ip) if sub.group.needs_interface() => {
                    let zone = iface.as_ref().map_or(sub.group.scope_id(), |i| i.index);
                    SocketAddr::V6(std::net::SocketAddrV6::new(ip, sub.group.port(), 0, zone))
                }
                ip => SocketAddr::new(ip, sub.group.port()),
            };
            let (holds, reader) = if self.one_reader {
                let reader = match readers.get(&bind) {
                    Some(&i) => i,
                    None => {
                        let i = rx.open_slot(family, Some(bind), self.recv_buffer)?;
                        rx.slots[i].socket.set_multicast_all(true)?;
                        readers.insert(bind, i);
                        i
                    }
                };
                (None, Some(reader))
            } else {
                (Some(bind), None)
            };
            let key = holds.unwrap_or(SocketAddr::new(family.unspecified(), 0));
            let full = |rx: &MultiReceiver, i: usize| self.per_socket.is_some_and(|cap| rx.slots[i].members >= cap);
            let mut slot = match open.get(&key) {
                Some(&i) if !full(&rx, i) => i,
                _ => rx.open_slot(family, holds, self.recv_buffer)?,
            };
            open.insert(key, slot);
            if let Err(e) = join(&rx.slots[slot].socket, &sub, iface.as_ref()) {
                if !is_out_of_room(&e) {
                    return Err(e);
                }
                if rx.slots[slot].members == 0 {
                    return Err(no_room(e, &sub));
                }
                // The kernel's per-socket limit: carry on in a fresh socket.
                slot = rx.open_slot(family, holds, self.recv_buffer)?;
                open.insert(key, slot);
                join(&rx.slots[slot].socket, &sub, iface.as_ref()).map_err(|e| no_room(e, &sub))?;
            }
            let index = rx.members.len();
            let held = &mut rx.slots[slot];
            held.members += 1;
            held.only = (held.members == 1).then_some(index);
            rx.by_dest.entry((reader.unwrap_or(slot), sub.group.ip())).or_default().push(index);
            rx.members.push(Member { subscription: sub, iface, socket: slot, counters: Counters::default() });
        }
        Ok(rx)
    }
}

/// Validates the subscriptions and pairs each with the interfaces to join it on, dropping repeats.
fn plan(subs: &[Subscription], ifaces: &[Interface]) -> Result<Vec<(Subscription, Option<Interface>)>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for sub in subs {
        let g = sub.group;
        if g.port() == 0 {
            return Err(Error::new(ErrorKind::Parse, format!("{g}: a receiver needs GROUP:PORT")));
        }
        if let Some(s) = sub.source {
            if s.is_ipv4() != g.ip().is_ipv4() {
                return Err(Error::new(ErrorKind::Mismatch, format!("source {s} is not of the family of group {g}")));
            }
        }
        let targets: Vec<Option<Interface>> = if !ifaces.is_empty() {
            ifaces.iter().cloned().map(Some).collect()
        } else if g.scope_id() != 0 {
            vec![Some(Interface::by_index(g.scope_id())?)]
        } else {
            vec![None]
        };
        if g.needs_interface() && targets.iter().any(Option::is_none) {
            return Err(g.no_interface_error());
        }
        for iface in targets {
            let key = (g.ip(), g.port(), sub.source, iface.as_ref().map(|i| i.index));
            if seen.insert(key) {
                out.push((*sub, iface));
            }
        }
    }
    Ok(out)
}

impl MultiReceiver {
    /// Opens, configures and binds one more socket for `family` to `bind` (the port, on the wildcard
    /// address or a group's); returns its index. Without `bind`, a socket that only holds memberships
    /// (see [`MultiReceiverBuilder::one_reader`]): unbound, it is in no table the kernel delivers from.
    fn open_slot(&mut self, family: Family, bind: Option<SocketAddr>, recv_buffer: Option<u32>) -> Result<usize> {
        let socket = McastSocket::udp(family).map_err(|e| {
            if e.raw_os_error() == Some(libc::EMFILE) || e.raw_os_error() == Some(libc::ENFILE) {
                let or = if bind.map_or(true, |b| b.ip().is_unspecified()) {
                    "fit more groups in each socket (sysctl -w net.ipv4.igmp_max_memberships=N) or raise the \
                     open-file limit (ulimit -n)"
                } else {
                    "each bound group takes a descriptor: raise the hard open-file limit (ulimit -Hn), or \
                     spread the groups over port-bound sockets"
                };
                e.within(format!("opening socket {} of the receiver: out of descriptors; {or}", self.slots.len() + 1))
            } else {
                e
            }
        })?;
        let Some(bind) = bind else {
            // Never readable, but non-blocking as every descriptor of the receiver: a `try_recv` on it returns.
            socket.set_nonblocking(true)?;
            self.slots.push(Slot { socket, port: 0, members: 0, only: None, drops: 0 });
            return Ok(self.slots.len() - 1);
        };
        // Every socket binds the same port: each must allow the others.
        socket.set_reuse_address(true)?;
        if let Some(bytes) = recv_buffer {
            if socket.set_recv_buffer_size_force(bytes).is_err() {
                socket.set_recv_buffer_size(bytes)?;
            }
        }
        match family {
            Family::V4 => {
                socket.set_multicast_all_v4(false)?;
                socket.set_pktinfo_v4(true)?;
                socket.set_recv_ttl_v4(true)?;
            }
            Family::V6 => {
                socket.set_only_v6(true)?;
                socket.set_multicast_all_v6(false)?;
                socket.set_recv_pktinfo_v6(true)?;
                socket.set_recv_hoplimit_v6(true)?;
            }
        }
        socket.set_timestamp_ns(true)?;
        socket.set_rxq_overflow(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(bind)?;
        self.epoll
            .add(socket.as_fd(), self.slots.len() as u64)
            .map_err(|e| Error::os("epoll_ctl (multi-group receiver)", e))?;
        self.slots.push(Slot { socket, port: bind.port(), members: 0, only: None, drops: 0 });
        Ok(self.slots.len() - 1)
    }
}

/// Joins one subscription with the RFC 3678 options, which take either family and an interface index.
fn join(socket: &McastSocket, sub: &Subscription, iface: Option<&Interface>) -> Result<()> {
    let index = iface.map_or(0, |i| i.index);
    match sub.source {
        None => socket.join_group(sub.group.ip(), index),
        Some(s) => socket.join_source_group(sub.group.ip(), s, index),
    }
}

/// `ENOBUFS` (IPv4 count, source lists, option memory) or `ENOMEM` (IPv6 option memory): the socket is full.
fn is_out_of_room(e: &Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOBUFS) | Some(libc::ENOMEM))
}

/// The error for a join that even an empty socket refuses: it names the sysctl to raise and by how much.
fn no_room(e: Error, sub: &Subscription) -> Error {
    if !is_out_of_room(&e) {
        return e;
    }
    let optmem = sysctl_u32("net.core.optmem_max").unwrap_or(0);
    let advice = match (sub.group.ip(), sub.source) {
        (IpAddr::V4(_), _) if sysctl_u32("net.ipv4.igmp_max_memberships") == Some(0) => {
            "net.ipv4.igmp_max_memberships is 0, so no socket may join any group: \
             sysctl -w net.ipv4.igmp_max_memberships=20"
                .to_string()
        }
        (IpAddr::V4(_), Some(_)) if sysctl_u32("net.ipv4.igmp_max_msf") == Some(0) => {
            "net.ipv4.igmp_max_msf is 0, so no socket may name a source: sysctl -w net.ipv4.igmp_max_msf=10".to_string()
        }
        (IpAddr::V6(_), Some(_)) if sysctl_u32("net.ipv6.mld_max_msf") == Some(0) => {
            "net.ipv6.mld_max_msf is 0, so no socket may name a source: sysctl -w net.ipv6.mld_max_msf=64".to_string()
        }
        _ => format!(
            "a socket's option memory (net.core.optmem_max = {optmem}) cannot hold one membership: \
             sysctl -w net.core.optmem_max={}",
            optmem.max(10240).saturating_mul(2).max(131072)
        ),
    };
    e.within(format!("join {} even on a fresh socket: {advice}", sub.group))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_come_from_counter_differences() {
        let a = Counters { datagrams: 10, bytes: 1000, ..Counters::default() };
        let b = Counters { datagrams: 30, bytes: 3000, ..Counters::default() };
        let r = b.rate_since(&a, Duration::from_secs(2));
        assert_eq!((r.datagrams_per_sec, r.bits_per_sec), (10.0, 8000.0));
        assert_eq!(a.rate_since(&b, Duration::ZERO), Throughput::default());
        assert_eq!(a.rate_since(&b, Duration::from_secs(1)).datagrams_per_sec, 0.0, "never negative");
    }

    #[test]
    fn plans_validate_and_drop_repeats() {
        let g: Group = "239.1.1.1:5000".parse().unwrap();
        let subs = [Subscription::from(g), Subscription::from(g), Subscription::from(g.with_port(5001))];
        assert_eq!(plan(&subs, &[]).unwrap().len(), 2);
        let e = plan(&[Subscription::from(g.with_port(0))], &[]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Parse);
        let e = plan(&[Subscription { group: g, source: Some("::1".parse().unwrap()) }], &[]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Mismatch);
        let e = plan(&["[ff02::1]:5000".parse::<Group>().unwrap().into()], &[]).unwrap_err();
        assert!(e.to_string().contains("name the interface"), "{e}");
        assert!(MultiReceiver::builder().build().is_err());
    }

    #[test]
    fn out_of_room_errors_name_a_sysctl() {
        let e = Error::os("MCAST_JOIN_GROUP 239.1.1.1", std::io::Error::from_raw_os_error(libc::ENOBUFS));
        let text = no_room(e, &"239.1.1.1:5000".parse::<Group>().unwrap().into()).to_string();
        assert!(text.contains("sysctl -w net."), "{text}");
        let other = Error::os("x", std::io::Error::from_raw_os_error(libc::ENODEV));
        assert_eq!(
            format!("{:#}", no_room(other, &"239.1.1.1:5000".parse::<Group>().unwrap().into())),
            "x: No such device (os error 19)"
        );
    }
}
