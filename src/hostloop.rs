//! A receiver and a sender in one process whose datagrams never leave this host: the exchanges `mcast demo`
//! shows, as steps a program can run and check.
//!
//! IPv4 uses [`V4_GROUP`] on `lo` at TTL 0 (on loopback the datagram goes out through `lo` and comes back in,
//! so loop off does not stop it there). IPv6 cannot use `lo` (Linux does not deliver IPv6 multicast over
//! loopback), so it uses the interface-local group [`V6_GROUP`] at hop limit 0 on the first interface that is
//! up and multicast-capable ([`ipv6_interface`]): the kernel loops it back to this host's members and drops
//! the original before it reaches the link, since an interface-local group may never leave the interface's
//! node. Joining it sends no MLD report (below link-local scope there is none).
//!
//! ```no_run
//! use mcast::__private::hostloop::{ipv4_pair, payload, ARRIVE};
//! let pair = ipv4_pair()?;
//! let msg = payload("IPv4", "loop on");
//! let (sent, meta) = pair.exchange(&msg, ARRIVE)?;
//! assert!(meta.is_some(), "{sent} bytes sent, none came back");
//! # Ok::<(), mcast::Error>(())
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use crate::endpoint::{Receiver, Sender};
use crate::error::Result;
use crate::group::Group;
use crate::iface::{IfaceSpec, Interface};
use crate::socket::RecvMeta;

/// The port of the exchanges (any free one would do; receivers share it with `SO_REUSEADDR`).
pub const PORT: u16 = 5007;
/// The IPv4 group: in the local (site) scope, sent at TTL 0 on `lo`.
pub const V4_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 0, 1);
/// The IPv6 group: interface-local (`ff01::/16`), sent at hop limit 0.
pub const V6_GROUP: Ipv6Addr = Ipv6Addr::new(0xff01, 0, 0, 0, 0, 0, 0, 0x114);
/// How long to wait for a datagram that must arrive (it comes in microseconds; this is for a loaded host).
pub const ARRIVE: Duration = Duration::from_secs(1);
/// How long to watch for a datagram that must not arrive.
pub const SILENCE: Duration = Duration::from_millis(300);

/// A receiver joined to a group and a sender to it, at TTL (hop limit) 0 with loop on, on one interface.
#[derive(Debug)]
pub struct LoopPair {
    /// The receiver.
    pub rx: Receiver,
    /// The sender.
    pub tx: Sender,
}

/// What happened to a datagram sent with loop off ([`LoopPair::send_loop_off`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopOff {
    /// Nothing arrived: at TTL 0 the loopback copy is the only one, and loop off removed it.
    Silent,
    /// It arrived on `lo`, which makes no separate loopback copy: the datagram is transmitted on `lo` and `lo`
    /// hands it back, whatever the loop option says.
    ArrivedOnLoopback,
    /// It arrived on another interface: this kernel delivered it despite loop off.
    ArrivedAnyway,
}

impl LoopOff {
    /// The outcome, from whether the datagram `arrived` and was sent `on_loopback`.
    pub fn of(arrived: bool, on_loopback: bool) -> LoopOff {
        match (arrived, on_loopback) {
            (false, _) => LoopOff::Silent,
            (true, true) => LoopOff::ArrivedOnLoopback,
            (true, false) => LoopOff::ArrivedAnyway,
        }
    }
}

/// The IPv4 pair: [`V4_GROUP`]:[`PORT`] on 127.0.0.1.
pub fn ipv4_pair() -> Result<LoopPair> {
    let group = Group::new(IpAddr::V4(V4_GROUP), PORT)?;
    let lo = IfaceSpec::Addr(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let rx = Receiver::builder(group).interface(lo.clone()).build()?;
    let tx = Sender::builder(group).ttl(0).multicast_loop(true).interface(lo).build()?;
    Ok(LoopPair { rx, tx })
}

/// The interface for the IPv6 pair: up, multicast-capable, with an IPv6 address, and not loopback.
pub fn ipv6_interface() -> Result<Option<Interface>> {
    Ok(Interface::list()?.into_iter().find(|i| i.is_up() && i.is_multicast() && !i.is_loopback() && !i.ipv6.is_empty()))
}

/// The IPv6 pair: [`V6_GROUP`]:[`PORT`] on `iface`. Fails with `EAFNOSUPPORT` when IPv6 is turned off.
pub fn ipv6_pair(iface: &Interface) -> Result<LoopPair> {
    let group = Group::with_scope(IpAddr::V6(V6_GROUP), PORT, iface.index)?;
    let spec = IfaceSpec::Index(iface.index);
    let rx = Receiver::builder(group).interface(spec.clone()).build()?;
    let tx = Sender::builder(group).ttl(0).multicast_loop(true).interface(spec).build()?;
    Ok(LoopPair { rx, tx })
}

/// A payload of this run: the pid tells this process's datagrams from another's on the same host.
pub fn payload(family: &str, what: &str) -> Vec<u8> {
    format!("hello from the mcast demo, {family}, {what} (pid {})", std::process::id()).into_bytes()
}

/// Waits up to `wait` for a datagram whose payload is `expected`; other datagrams to the same group and port
/// are passed over.
pub fn wait_for(rx: &Receiver, expected: &[u8], wait: Duration) -> Result<Option<RecvMeta>> {
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 2048];
    while let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
        if let Some(meta) = rx.recv_timeout(&mut buf, left)? {
            if buf.get(..meta.len) == Some(expected) {
                return Ok(Some(meta));
            }
        }
    }
    Ok(None)
}

impl LoopPair {
    /// Sends `msg` and waits up to `wait` for it: the bytes sent, and what the receiver says of it.
    pub fn exchange(&self, msg: &[u8], wait: Duration) -> Result<(usize, Option<RecvMeta>)> {
        let n = self.tx.send(msg)?;
        Ok((n, wait_for(&self.rx, msg, wait)?))
    }

    /// Turns the sender's loop option off (`IP_MULTICAST_LOOP` / `IPV6_MULTICAST_LOOP`) and reads it back.
    pub fn loop_off(&self) -> Result<bool> {
        let t = self.tx.socket();
        if self.tx.group().is_ipv6() {
            t.set_multicast_loop_v6(false)?;
            t.multicast_loop_v6()
        } else {
            t.set_multicast_loop_v4(false)?;
            t.multicast_loop_v4()
        }
    }

    /// Sends `msg` (after [`LoopPair::loop_off`]) and watches for it for [`SILENCE`].
    pub fn send_loop_off(&self, msg: &[u8]) -> Result<LoopOff> {
        self.tx.send(msg)?;
        let arrived = wait_for(&self.rx, msg, SILENCE)?.is_some();
        Ok(LoopOff::of(arrived, self.tx.interface().is_some_and(Interface::is_loopback)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loop_off_outcomes() {
        assert_eq!(LoopOff::of(false, true), LoopOff::Silent);
        assert_eq!(LoopOff::of(false, false), LoopOff::Silent);
        assert_eq!(LoopOff::of(true, true), LoopOff::ArrivedOnLoopback);
        assert_eq!(LoopOff::of(true, false), LoopOff::ArrivedAnyway);
    }

    #[test]
    fn the_groups_never_leave_this_host() {
        let v4: Group = Group::new(IpAddr::V4(V4_GROUP), PORT).unwrap();
        let v6: Group = Group::with_scope(IpAddr::V6(V6_GROUP), PORT, 1).unwrap();
        assert_eq!(v6.scope(), crate::Scope::InterfaceLocal);
        assert_eq!(v4.scope(), crate::Scope::SiteLocal);
        let p = payload("IPv6", "loop on");
        assert!(String::from_utf8(p).unwrap().ends_with(&format!("IPv6, loop on (pid {})", std::process::id())));
    }
}
