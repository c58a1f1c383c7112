//! Sending through trouble: a sender whose interface goes down or disappears, or whose queue is full, keeps
//! going at its pace, counts what failed and says why, instead of exiting on the first error.
//!
//! Errors fall in three kinds ([`Trouble`]):
//! - **pressure** (`ENOBUFS`, `EAGAIN`): a queue is full for a moment. The send is retried after a short,
//!   doubling pause ([`RetryPolicy`]); only when every retry fails is the datagram counted as failed.
//! - **link** (`ENETUNREACH`, `ENETDOWN`, `ENODEV`, `ENXIO`, `EADDRNOTAVAIL`, `EHOSTUNREACH`): the route or
//!   the interface is gone. The datagram is counted as failed and the sender carries on; [`ResilientSender`]
//!   also looks the interface up again by name, since a re-created interface has a new index and the socket
//!   still names the old one (Linux keeps `IP_MULTICAST_IF` as an index even when it was set by address).
//! - **fatal** (anything else: `EMSGSIZE`, `EBADF`, `EACCES`, ...): retrying cannot help; the error is
//!   returned.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use crate::endpoint::Sender;
use crate::error::{Error, Result};
use crate::group::Group;
use crate::iface::Interface;
use crate::socket::{Family, McastSocket};

/// What a failed send means for the next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trouble {
    /// A full queue (`ENOBUFS`, `EAGAIN`): retry after a pause.
    Pressure,
    /// No route or interface (`ENETUNREACH`, `ENODEV`, ...): count it, carry on, look the interface up again.
    Link,
    /// Retrying cannot help.
    Fatal,
}

/// The kind of trouble an `errno` from `sendto`/`sendmsg` is.
pub fn classify(errno: i32) -> Trouble {
    match errno {
        libc::ENOBUFS | libc::EAGAIN => Trouble::Pressure,
        libc::ENETUNREACH
        | libc::ENETDOWN
        | libc::ENODEV
        | libc::ENXIO
        | libc::EADDRNOTAVAIL
        | libc::EHOSTUNREACH
        | libc::EHOSTDOWN => Trouble::Link,
        _ => Trouble::Fatal,
    }
}

/// How hard to retry a send that met a full queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: none).
    pub retries: u32,
    /// The first pause; each later one doubles.
    pub first_pause: Duration,
    /// The longest pause.
    pub max_pause: Duration,
}

impl Default for RetryPolicy {
    /// 8 retries pausing 0.5 ms, 1 ms, ... up to 50 ms: about 160 ms in all before a datagram is given up.
    fn default() -> Self {
        RetryPolicy { retries: 8, first_pause: Duration::from_micros(500), max_pause: Duration::from_millis(50) }
    }
}

/// How many sends succeeded, were retried and failed, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendStats {
    /// Datagrams sent.
    pub sent: u64,
    /// Bytes sent.
    pub bytes: u64,
    /// Datagrams given up (after retries, for pressure).
    pub failed: u64,
    /// Retries after `ENOBUFS`/`EAGAIN`, successful or not.
    pub retries: u64,
    /// Failures by `errno`.
    pub errors: BTreeMap<i32, u64>,
    /// Consecutive failures up to now (0 after a success).
    pub streak: u64,
    /// When the current streak of failures began.
    pub failing_since: Option<SystemTime>,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// Times the outgoing interface was looked up again and set anew after a link error.
    pub reconfigured: u64,
}

impl SendStats {
    fn record_success(&mut self, bytes: usize) {
        self.sent += 1;
        self.bytes += bytes as u64;
        self.streak = 0;
        self.failing_since = None;
    }

    fn record_failure(&mut self, e: &Error) {
        self.failed += 1;
        *self.errors.entry(e.raw_os_error().unwrap_or(0)).or_default() += 1;
        if self.streak == 0 {
            self.failing_since = Some(SystemTime::now());
        }
        self.streak += 1;
        self.last_error = Some(format!("{e:#}"));
    }
}

/// What became of one datagram.
#[derive(Debug)]
pub enum Outcome {
    /// Sent: this many bytes.
    Sent(usize),
    /// Given up, counted in [`SendStats::failed`]; the sender can carry on.
    Failed(Error),
}

/// Runs `send` until it succeeds, fails for good, or fails with pressure more than `policy.retries` times,
/// pausing with `pause` between attempts; counts everything in `stats`. A fatal error is returned as `Err`.
pub fn send_with_retry(
    policy: &RetryPolicy,
    stats: &mut SendStats,
    pause: &mut dyn FnMut(Duration),
    send: &mut dyn FnMut() -> Result<usize>,
) -> Result<Outcome> {
    let mut wait = policy.first_pause;
    let mut attempt = 0u32;
    loop {
        let e = match send() {
            Ok(n) => {
                stats.record_success(n);
                return Ok(Outcome::Sent(n));
            }
            Err(e) => e,
        };
        match classify(e.raw_os_error().unwrap_or(0)) {
            Trouble::Pressure if attempt < policy.retries => {
                attempt += 1;
                stats.retries += 1;
                pause(wait);
                wait = (wait * 2).min(policy.max_pause);
            }
            Trouble::Pressure | Trouble::Link => {
                stats.record_failure(&e);
                return Ok(Outcome::Failed(e));
            }
            Trouble::Fatal => return Err(e),
        }
    }
}

/// The shortest time between two lookups of the outgoing interface while sends fail.
const RELOOK: Duration = Duration::from_millis(200);

/// Follows a sender's interface by name across its re-creation: after a link error, looks it up again
/// (at most every 200 ms) and sets `IP_MULTICAST_IF`/`IPV6_MULTICAST_IF` and the destination's IPv6 zone
/// to its index now.
#[derive(Clone, Debug, Default)]
pub struct InterfaceFollower {
    /// The interface sent from, by name.
    iface: Option<String>,
    /// The interface of the group's IPv6 zone (`ff02::1%eth0`), by name.
    zone: Option<String>,
    last_lookup: Option<Instant>,
}

impl InterfaceFollower {
    /// Follows `iface` (the outgoing interface, if one was set) and the interface of `group`'s zone.
    pub fn new(iface: Option<&Interface>, group: Group) -> InterfaceFollower {
        let zone = (group.scope_id() != 0).then(|| Interface::by_index(group.scope_id()).ok()).flatten();
        InterfaceFollower { iface: iface.map(|i| i.name.clone()), zone: zone.map(|i| i.name), last_lookup: None }
    }

    /// After a link error on `socket`: looks the interfaces up again and sets them anew where they exist
    /// (updating `dest`'s zone). Returns whether anything was set. An interface still absent is left for
    /// the next failure.
    pub fn after_failure(&mut self, socket: &McastSocket, dest: &mut SocketAddr) -> bool {
        let now = Instant::now();
        if self.last_lookup.is_some_and(|t| now.duration_since(t) < RELOOK) {
            return false;
        }
        self.last_lookup = Some(now);
        let mut changed = false;
        if let Some(i) = self.iface.as_deref().and_then(|n| Interface::by_name(n).ok()) {
            changed |= set_interface(socket, &i).is_ok();
        }
        let zone = self.zone.as_deref().and_then(|n| Interface::by_name(n).ok());
        if let (Some(i), SocketAddr::V6(d)) = (zone, dest) {
            if d.scope_id() != i.index {
                d.set_scope_id(i.index);
                changed = true;
            }
        }
        changed
    }
}

/// A [`Sender`] that survives its interface: it sorts send errors (retried, counted, or fatal) and looks its interface up again by name.
#[derive(Debug)]
pub struct ResilientSender {
    sender: Sender,
    dest: SocketAddr,
    follower: InterfaceFollower,
    policy: RetryPolicy,
    stats: SendStats,
}

impl ResilientSender {
    /// Wraps `sender`, remembering its interface (and its group's zone) by name.
    pub fn new(sender: Sender) -> ResilientSender {
        let group = sender.group();
        ResilientSender {
            dest: group.socket_addr(),
            follower: InterfaceFollower::new(sender.interface(), group),
            sender,
            policy: RetryPolicy::default(),
            stats: SendStats::default(),
        }
    }

    /// Retries for `ENOBUFS`/`EAGAIN`.
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sends one datagram: retried through a full queue, counted and given up when the link is gone (after
    /// which the interface is looked up again for the next one). `Err` only for errors no retry can help.
    pub fn send(&mut self, buf: &[u8]) -> Result<Outcome> {
        let (socket, dest) = (self.sender.socket(), self.dest);
        let outcome =
            send_with_retry(&self.policy, &mut self.stats, &mut std::thread::sleep, &mut || socket.send_to(buf, dest))
                .map_err(|e| e.within(format!("send to {}", self.sender.group())))?;
        if let Outcome::Failed(e) = &outcome {
            if classify(e.raw_os_error().unwrap_or(0)) == Trouble::Link
                && self.follower.after_failure(self.sender.socket(), &mut self.dest)
            {
                self.stats.reconfigured += 1;
            }
        }
        Ok(outcome)
    }

    /// What happened so far.
    pub fn stats(&self) -> &SendStats {
        &self.stats
    }

    /// The wrapped sender.
    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    /// The group.
    pub fn group(&self) -> Group {
        self.sender.group()
    }
}

/// Sets the outgoing interface as [`crate::SenderBuilder`] does: by address when the interface has an
/// IPv4 one, else by index.
fn set_interface(s: &McastSocket, i: &Interface) -> Result<()> {
    match s.family() {
        Family::V4 => match i.first_ipv4() {
            Some(a) => s.set_multicast_if_v4(a),
            None => s.set_multicast_if_v4_index(i.index),
        },
        Family::V6 => s.set_multicast_if_v6(i.index),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(errno: i32) -> Error {
        Error::os("sendto", std::io::Error::from_raw_os_error(errno))
    }

    #[test]
    fn errnos_are_classified() {
        assert_eq!(classify(libc::ENOBUFS), Trouble::Pressure);
        assert_eq!(classify(libc::EWOULDBLOCK), Trouble::Pressure);
        for e in [libc::ENETUNREACH, libc::ENODEV, libc::EADDRNOTAVAIL, libc::ENETDOWN] {
            assert_eq!(classify(e), Trouble::Link, "{e}");
        }
        assert_eq!(classify(libc::EMSGSIZE), Trouble::Fatal);
        assert_eq!(classify(0), Trouble::Fatal);
    }

    #[test]
    fn pressure_is_retried_with_doubling_pauses_then_succeeds() {
        let policy =
            RetryPolicy { retries: 5, first_pause: Duration::from_millis(1), max_pause: Duration::from_millis(3) };
        let mut stats = SendStats::default();
        let mut pauses = Vec::new();
        let mut errors = vec![os(libc::ENOBUFS), os(libc::EAGAIN), os(libc::ENOBUFS)].into_iter();
        let out = send_with_retry(&policy, &mut stats, &mut |d| pauses.push(d), &mut || match errors.next() {
            Some(e) => Err(e),
            None => Ok(42),
        })
        .unwrap();
        assert!(matches!(out, Outcome::Sent(42)));
        assert_eq!(pauses, [Duration::from_millis(1), Duration::from_millis(2), Duration::from_millis(3)]);
        assert_eq!((stats.sent, stats.bytes, stats.retries, stats.failed, stats.streak), (1, 42, 3, 0, 0));
    }

    #[test]
    fn pressure_past_the_retries_counts_one_failure() {
        let policy = RetryPolicy { retries: 2, ..RetryPolicy::default() };
        let mut stats = SendStats::default();
        let mut calls = 0;
        let out = send_with_retry(&policy, &mut stats, &mut |_| {}, &mut || {
            calls += 1;
            Err(os(libc::ENOBUFS))
        })
        .unwrap();
        assert!(matches!(out, Outcome::Failed(e) if e.raw_os_error() == Some(libc::ENOBUFS)));
        assert_eq!(calls, 3);
        assert_eq!((stats.failed, stats.retries, stats.streak), (1, 2, 1));
        assert_eq!(stats.errors.get(&libc::ENOBUFS), Some(&1));
        assert!(stats.failing_since.is_some());
    }

    #[test]
    fn link_errors_fail_at_once_and_streaks_end_on_success() {
        let policy = RetryPolicy::default();
        let mut stats = SendStats::default();
        for errno in [libc::ENODEV, libc::ENETUNREACH, libc::ENODEV] {
            let out = send_with_retry(&policy, &mut stats, &mut |_| panic!("no pause"), &mut || Err(os(errno)));
            assert!(matches!(out, Ok(Outcome::Failed(_))));
        }
        assert_eq!((stats.failed, stats.streak, stats.retries), (3, 3, 0));
        assert_eq!(stats.errors.get(&libc::ENODEV), Some(&2));
        assert!(stats.last_error.as_deref().is_some_and(|m| m.starts_with("sendto: ")));
        send_with_retry(&policy, &mut stats, &mut |_| {}, &mut || Ok(1)).unwrap();
        assert_eq!((stats.sent, stats.failed, stats.streak, stats.failing_since), (1, 3, 0, None));
    }

    #[test]
    fn fatal_errors_are_returned() {
        let mut stats = SendStats::default();
        let e = send_with_retry(&RetryPolicy::default(), &mut stats, &mut |_| {}, &mut || Err(os(libc::EMSGSIZE)))
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EMSGSIZE));
        assert_eq!(stats, SendStats::default(), "a fatal error is the caller's to report, not a counted failure");
    }
}
