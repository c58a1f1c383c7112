//! [`Relay`]: the [`Forwarder`] between two sockets. A [`ResilientReceiver`] joined to the FROM group
//! (rejoining when its interfaces flap or are made again) feeds it; a [`ResilientSender`] to the TO group
//! sends what falls due, each copy with the TTL or hop limit the forwarder gave it.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use super::forward::{Datagram, Forwarder, Policy, Verdict, DEFAULT_DEDUP_CAP, DEFAULT_DEDUP_WINDOW};
use super::impair::{Counts, Impairments, QueueLimits};
use crate::doctor::route;
use crate::endpoint::{Receiver, Sender};
use crate::error::{Error, ErrorKind, Result};
use crate::group::Group;
use crate::guard::{Refusal, Refusals};
use crate::iface::{IfaceSpec, Interface};
use crate::resilient::{Notice, ResilientReceiver};
use crate::sendretry::{Outcome, ResilientSender, SendStats};
use crate::sys;

/// The longest one [`Relay::poll`] waits, so interfaces are looked at again (when the kernel's link
/// announcements are not available) and callers notice signals and deadlines.
const MAX_WAIT: Duration = Duration::from_millis(250);

/// The receive buffer asked for by default: bursts arrive faster than a relay with a delay sends.
const DEFAULT_RECV_BUFFER: u32 = 8 << 20;

/// Room for the largest UDP payload.
const MAX_DATAGRAM: usize = 65_536;

/// Builds a [`Relay`].
#[derive(Clone, Debug)]
pub struct RelayBuilder {
    from: Group,
    to: Group,
    in_ifaces: Vec<IfaceSpec>,
    sources: Vec<IpAddr>,
    out_iface: Option<IfaceSpec>,
    max_ttl: Option<u8>,
    dscp: Option<u8>,
    multicast_loop: Option<bool>,
    impairments: Impairments,
    seed: u64,
    queue: QueueLimits,
    dedup_window: Duration,
    dedup_cap: usize,
    recv_buffer: Option<u32>,
}

impl RelayBuilder {
    /// Joins FROM on `iface` (repeatable; none: the interface the routing table picks). Datagrams of the
    /// group that arrive on any other interface are refused.
    pub fn in_iface(mut self, iface: impl Into<IfaceSpec>) -> Self {
        self.in_ifaces.push(iface.into());
        self
    }

    /// A source-specific join on the FROM side (repeatable).
    pub fn source(mut self, source: IpAddr) -> Self {
        self.sources.push(source);
        self
    }

    /// Sends TO from `iface` (default: the interface the routing table picks).
    pub fn out_iface(mut self, iface: impl Into<IfaceSpec>) -> Self {
        self.out_iface = Some(iface.into());
        self
    }

    /// The DSCP, 0..=63, of every copy sent to TO (`IP_TOS` / `IPV6_TCLASS`).
    pub fn dscp(mut self, dscp: u8) -> Self {
        self.dscp = Some(dscp);
        self
    }

    /// The highest TTL or hop limit a copy leaves with; it can only lower the one a datagram arrived with,
    /// minus one (default: no cap).
    pub fn max_ttl(mut self, ttl: u8) -> Self {
        self.max_ttl = Some(ttl);
        self
    }

    /// Whether this host's members of TO get a copy (the kernel's default is on).
    pub fn multicast_loop(mut self, on: bool) -> Self {
        self.multicast_loop = Some(on);
        self
    }

    /// Drop, duplicate, reorder and delay, decided from `seed`.
    pub fn impairments(mut self, imp: Impairments, seed: u64) -> Self {
        self.impairments = imp;
        self.seed = seed;
        self
    }

    /// The bound of the queue of copies waiting to be sent (default: 1000 datagrams, 16 MiB).
    pub fn queue(mut self, limits: QueueLimits) -> Self {
        self.queue = limits;
        self
    }

    /// How long a forwarded payload is remembered to refuse its copies (default 500 ms; zero: not at all),
    /// and how many digests at most (default 65,536).
    pub fn dedup(mut self, window: Duration, cap: usize) -> Self {
        self.dedup_window = window;
        self.dedup_cap = cap;
        self
    }

    /// The FROM socket's receive buffer (`SO_RCVBUF`; default 8 MiB, as the kernel allows).
    pub fn recv_buffer(mut self, bytes: u32) -> Self {
        self.recv_buffer = Some(bytes);
        self
    }

    /// Checks that the relay cannot feed itself, then joins FROM and opens the socket to TO.
    pub fn build(self) -> Result<Relay> {
        let (from, to) = (self.from, self.to);
        if from.port() == 0 {
            return Err(Error::new(ErrorKind::Parse, format!("{from}: a relay listens on GROUP:PORT")));
        }
        let in_ifaces: Vec<Interface> = self.in_ifaces.iter().map(IfaceSpec::resolve).collect::<Result<_>>()?;
        let out_iface = self.out_iface.as_ref().map(IfaceSpec::resolve).transpose()?;
        refuse_self_loop(from, &in_ifaces, to, out_iface.as_ref())?;

        let mut rx = Receiver::builder(from).recv_buffer(self.recv_buffer.unwrap_or(DEFAULT_RECV_BUFFER));
        for i in &in_ifaces {
            rx = rx.interface(IfaceSpec::Index(i.index));
        }
        for s in &self.sources {
            rx = rx.source(*s);
        }
        let rx = ResilientReceiver::new(rx.build()?)?;

        let mut tx = Sender::builder(to);
        if let Some(d) = self.dscp {
            tx = tx.dscp(d);
        }
        if let Some(on) = self.multicast_loop {
            tx = tx.multicast_loop(on);
        }
        if let Some(i) = &out_iface {
            tx = tx.interface(IfaceSpec::Index(i.index));
        }
        let tx = tx.build()?;
        // Connecting fixes the source address and port the kernel gives what we send, so a copy that loops
        // back to our own FROM membership (same group, or TO joined here) is recognised as ours.
        tx.socket().connect(to.socket_addr())?;
        let own = tx.socket().local_addr()?;

        let policy = Policy {
            max_ttl: self.max_ttl,
            dedup_window: self.dedup_window,
            dedup_cap: self.dedup_cap,
            queue: self.queue,
            ..Policy::new(from.ip())
        };
        let mut fwd = Forwarder::new(policy, self.impairments, self.seed);
        fwd.set_own_source(own);
        let mut relay = Relay {
            from,
            to,
            seed: self.seed,
            rx,
            tx: ResilientSender::new(tx),
            fwd,
            ttl: None,
            buf: vec![0u8; MAX_DATAGRAM],
            last_arrival: Instant::now(),
        };
        relay.follow_ifaces();
        Ok(relay)
    }
}

/// Refuses to relay a group onto itself (same group and port) on the same interface: every datagram
/// forwarded would arrive again. An interface left to the routing table is the one it picks now.
fn refuse_self_loop(from: Group, ins: &[Interface], to: Group, out: Option<&Interface>) -> Result<()> {
    if from.ip() != to.ip() || from.port() != to.port() {
        return Ok(());
    }
    let zone = |g: Group| (g.scope_id() != 0).then(|| g.scope_id());
    let mut ins: Vec<u32> = ins.iter().map(|i| i.index).collect();
    if ins.is_empty() {
        ins.extend(zone(from));
    }
    let out = out.map(|i| i.index).or_else(|| zone(to));
    let by_route = || route::get(from.ip(), None).ok().and_then(|r| r.oif);
    let same = match (ins.is_empty(), out) {
        (true, None) => true,
        (true, Some(o)) => by_route() == Some(o),
        (false, None) => by_route().is_some_and(|o| ins.contains(&o)),
        (false, Some(o)) => ins.contains(&o),
    };
    if !same {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Mismatch,
        format!(
            "relaying {from} onto itself on the same interface would bring every datagram back to the relay: \
             give another group, port or outgoing interface"
        ),
    ))
}

/// What happened during one [`Relay::poll`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// A copy was sent to TO.
    Forwarded {
        /// The source of the datagram it is a copy of.
        source: SocketAddr,
        /// Its length in bytes.
        len: usize,
        /// The TTL or hop limit it left with.
        ttl: u8,
    },
    /// A datagram (or one copy, for [`Refusal::QueueFull`]) was not forwarded.
    Refused {
        /// Who sent it.
        source: SocketAddr,
        /// Why.
        reason: Refusal,
    },
    /// A copy could not be sent (the outgoing link is down or gone, or the queue stayed full); the relay
    /// carries on.
    SendFailed {
        /// The source of the datagram it is a copy of.
        source: SocketAddr,
        /// Why.
        error: Error,
    },
    /// Something happened to a FROM interface (down, back, rejoined on a new index).
    Notice(Notice),
}

/// What a relay did: [`Relay::report`] so far, or [`Relay::finish`] at the end.
///
/// `sent = received - refused.total() - counts.dropped + counts.duplicated`, once the relay has finished
/// (while it runs, some copies may still wait in the queue).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Report {
    /// The FROM group.
    pub from: Group,
    /// The TO group.
    pub to: Group,
    /// The seed of the impairments.
    pub seed: u64,
    /// Datagrams that arrived, the relay's own copies aside.
    pub received: u64,
    /// The relay's own copies, looped back and ignored.
    pub looped: u64,
    /// Datagrams refused, by reason (a copy that did not fit in the queue counts as one `queue_full`).
    pub refused: Refusals,
    /// What the impairments did to the datagrams the policy let through.
    pub counts: Counts,
    /// Copies handed to the socket (`counts.sent`), including those that failed.
    pub sent: u64,
    /// The sends: failures by `errno`, retries.
    pub send: SendStats,
    /// Digests of forwarded datagrams forgotten early because their table was full.
    pub digests_evicted: u64,
    /// Outages of the FROM interfaces.
    pub outages: u64,
}

/// A relay from one group to another: see the [module docs](super).
#[derive(Debug)]
pub struct Relay {
    from: Group,
    to: Group,
    seed: u64,
    rx: ResilientReceiver,
    tx: ResilientSender,
    fwd: Forwarder,
    /// The TTL or hop limit set on the sending socket, so it is set only when it changes.
    ttl: Option<u8>,
    buf: Vec<u8>,
    last_arrival: Instant,
}

impl Relay {
    /// A relay of `from` to `to` (both with a port), IPv4 and IPv6 in any combination.
    pub fn builder(from: Group, to: Group) -> RelayBuilder {
        RelayBuilder {
            from,
            to,
            in_ifaces: Vec::new(),
            sources: Vec::new(),
            out_iface: None,
            max_ttl: None,
            dscp: None,
            multicast_loop: None,
            impairments: Impairments::default(),
            seed: 1,
            queue: QueueLimits::default(),
            dedup_window: DEFAULT_DEDUP_WINDOW,
            dedup_cap: DEFAULT_DEDUP_CAP,
            recv_buffer: None,
        }
    }

    /// Sends what is due, waits at most `max_wait` (less when a delayed copy falls due, and at most 250 ms)
    /// for a datagram, decides about it, and sends again what is due. Returns what happened, possibly
    /// nothing. `Err` only for a failure of the relay's own sockets.
    pub fn poll(&mut self, max_wait: Duration) -> Result<Vec<Event>> {
        let mut events = Vec::new();
        self.send_due(Instant::now(), &mut events)?;
        let now = Instant::now();
        let mut wait = max_wait.min(MAX_WAIT);
        if let Some(due) = self.fwd.next_due() {
            wait = wait.min(due.saturating_duration_since(now));
        }
        let ready = {
            // The data socket (bit 0), then the link announcements if watched.
            let mut fds = [self.rx.socket().as_fd(); 2];
            let n = match self.rx.link_fd() {
                Some(l) => {
                    fds[1] = l;
                    2
                }
                None => 1,
            };
            sys::socket::poll_few(&fds[..n], Some(wait)).map_err(|e| Error::os("poll", e))?
        };
        self.rx.service();
        events.extend(self.rx.take_notices().into_iter().map(Event::Notice));
        self.follow_ifaces();
        if ready & 1 != 0 {
            self.receive()?;
        }
        events.extend(self.fwd.take_refused().map(|(source, reason)| Event::Refused { source, reason }));
        self.send_due(Instant::now(), &mut events)?;
        Ok(events)
    }

    /// Reads one datagram, if one is there, and offers it to the forwarder.
    fn receive(&mut self) -> Result<()> {
        let Some(meta) = self.rx.socket().recv_timeout(&mut self.buf, Duration::ZERO)? else { return Ok(()) };
        let now = Instant::now();
        let payload = self.buf.get(..meta.len).unwrap_or_default();
        match self.fwd.offer(&meta, payload, now) {
            Verdict::Own => {}
            Verdict::Refused(Refusal::WrongGroup) => self.last_arrival = now,
            _ => {
                self.last_arrival = now;
                // Sequence numbers of the tools' header tell the datagrams missed during an outage.
                self.rx.observe(payload, now);
            }
        }
        Ok(())
    }

    /// Tells the forwarder the FROM interfaces by their indexes now (a rejoin may have changed one).
    fn follow_ifaces(&mut self) {
        let indexes = self.rx.memberships().iter().map(|m| m.iface.as_ref().map(|i| i.index));
        self.fwd.set_from_ifaces(indexes);
    }

    fn send_due(&mut self, now: Instant, events: &mut Vec<Event>) -> Result<()> {
        while let Some(d) = self.fwd.pop_due(now) {
            self.send(d, events)?;
        }
        Ok(())
    }

    fn send(&mut self, d: Datagram, events: &mut Vec<Event>) -> Result<()> {
        if self.ttl != Some(d.ttl) {
            // A socket option rather than a per-send control message: `IP_TTL` as a control message refuses
            // 0, and the value changes seldom (once per sender, usually): one system call per change.
            self.tx.sender().socket().set_multicast_ttl(d.ttl)?;
            self.ttl = Some(d.ttl);
        }
        match self.tx.send(&d.payload)? {
            Outcome::Sent(len) => events.push(Event::Forwarded { source: d.source, len, ttl: d.ttl }),
            Outcome::Failed(error) => events.push(Event::SendFailed { source: d.source, error }),
        }
        Ok(())
    }

    /// Ends the run: sends whatever is held or queued (nothing newer follows a held datagram, so it is
    /// not counted as reordered) and returns the report, with the events of those last sends.
    pub fn finish(mut self) -> Result<(Report, Vec<Event>)> {
        let mut events = Vec::new();
        let now = Instant::now();
        self.fwd.flush(now);
        events.extend(self.fwd.take_refused().map(|(source, reason)| Event::Refused { source, reason }));
        self.send_due(now, &mut events)?;
        Ok((self.report(), events))
    }

    /// What was done so far.
    pub fn report(&self) -> Report {
        let counts = self.fwd.counts();
        Report {
            from: self.from,
            to: self.to,
            seed: self.seed,
            received: self.fwd.received(),
            looped: self.fwd.looped(),
            refused: self.fwd.refusals().clone(),
            counts,
            sent: counts.sent,
            send: self.tx.stats().clone(),
            digests_evicted: self.fwd.digests_evicted(),
            outages: self.rx.outage_count(),
        }
    }

    /// Datagrams that arrived so far, the relay's own copies aside.
    pub fn received(&self) -> u64 {
        self.fwd.received()
    }

    /// When the last datagram arrived (the relay's own copies aside), or when the relay was built.
    pub fn last_arrival(&self) -> Instant {
        self.last_arrival
    }

    /// The address the relay sends from.
    pub fn own_source(&self) -> Result<SocketAddr> {
        self.tx.sender().socket().local_addr()
    }

    /// The FROM receiver (its memberships, outages, watched interfaces).
    pub fn receiver(&self) -> &ResilientReceiver {
        &self.rx
    }

    /// The forwarder (its policy, counts and refusals).
    pub fn forwarder(&self) -> &Forwarder {
        &self.fwd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(index: u32) -> Interface {
        Interface { name: format!("if{index}"), index, flags: 0, mtu: 1500, ipv4: Vec::new(), ipv6: Vec::new() }
    }

    fn g(s: &str) -> Group {
        Group::parse_address(s).unwrap()
    }

    /// Only the cases the routing table has no say in: both sides named, or a zone.
    #[test]
    fn a_group_onto_itself_on_the_same_interface_is_refused() {
        let (a, b) = (g("239.1.1.1:5000"), g("239.1.1.1:5001"));
        let err = refuse_self_loop(a, &[], a, None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Mismatch);
        assert!(err.to_string().contains("onto itself"), "{err}");
        assert!(refuse_self_loop(a, &[iface(3)], a, Some(&iface(3))).is_err());
        assert!(refuse_self_loop(a, &[iface(2), iface(3)], a, Some(&iface(3))).is_err());
        // Another interface, port or group is fine.
        assert!(refuse_self_loop(a, &[iface(2)], a, Some(&iface(3))).is_ok());
        assert!(refuse_self_loop(a, &[], b, None).is_ok());
        assert!(refuse_self_loop(a, &[], g("239.1.1.2:5000"), None).is_ok());
        // An IPv6 zone names the interface.
        let (z3, z4) = (g("[ff02::1%3]:5000"), g("[ff02::1%4]:5000"));
        assert!(refuse_self_loop(z3, &[], z3, None).is_err());
        assert!(refuse_self_loop(z3, &[], z4, None).is_ok());
        assert!(refuse_self_loop(z3, &[], z4, Some(&iface(3))).is_err());
    }

    #[test]
    fn a_relay_needs_a_port_to_listen_on() {
        let err = Relay::builder(g("239.1.1.1"), g("239.1.1.2:5000")).build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Parse);
    }
}
