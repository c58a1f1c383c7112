//! Raw sockets for the group-membership protocols, as a querier or a watcher on a link uses them:
//! [`IgmpSocket`] (`SOCK_RAW`, `IPPROTO_IGMP`) and [`MldSocket`] (`SOCK_RAW`, `IPPROTO_ICMPV6`), and a
//! [`Watcher`] that keeps a [`MembershipTable`](crate::wire::MembershipTable) of what the reports on the link
//! say.
//!
//! ```no_run
//! use std::time::Duration;
//! use mcast::raw::{Family, Watcher};
//! use mcast::Interface;
//!
//! let eth0 = Interface::by_name("eth0")?;
//! let mut watcher = Watcher::open(Family::V4, &[eth0], false)?;
//! loop {
//!     if let Some(step) = watcher.next(Duration::from_secs(1))? {
//!         for event in &step.events {
//!             println!("{event}");
//!         }
//!     }
//! }
//! # Ok::<(), mcast::Error>(())
//! ```
//!
//! Every socket here needs `CAP_NET_RAW`; without it opening one fails with an error that says so and how to
//! grant it. The kernel's rules that shape this module (`docs/raw-sockets.md` tells the whole story):
//!
//! - **What a raw socket hears.** Linux hands a raw socket a copy of every IGMP or ICMPv6 datagram that IP
//!   delivers to this host, and IP delivers a multicast datagram only for a group some socket of the host joined
//!   on the arrival interface. So a watcher joins the groups reports are sent to: 224.0.0.22 (IGMPv3 reports)
//!   and 224.0.0.2 (IGMPv2 leaves); ff02::16 (MLDv2 reports) and ff02::2 (MLDv1 done). IGMPv1/v2 and MLDv1
//!   *reports* go to the group itself, which the watcher has not joined: it hears them only as a multicast
//!   router (`MRT_INIT`/`MRT6_INIT`, see [`IgmpSocket::become_mrouter`]), and then only for groups outside the
//!   link-local ranges 224.0.0.0/24 and ff02::/16, which are never routed.
//! - **Router Alert.** IGMP must carry the IPv4 Router Alert option (RFC 2236, 3376) and MLD the hop-by-hop
//!   Router Alert (RFC 2711). [`IgmpSocket`] sends with `IP_HDRINCL` and writes the whole IPv4 header itself
//!   ([`crate::wire::igmp_datagram`]: TTL 1, TOS 0xc0, DF, Router Alert, as Linux's own reports), so nothing is
//!   left to socket defaults; `IP_OPTIONS` ([`IgmpSocket::set_router_alert_option`]) is the alternative for a
//!   socket without it. [`MldSocket`] sets the sticky `IPV6_HOPOPTS` option with a Router Alert of value 0
//!   (MLD); `IPV6_ROUTER_ALERT` is something else, a receive-side option for routers.
//! - **ICMPv6 checksums.** On a raw ICMPv6 socket the kernel computes the checksum of what is sent and drops
//!   what arrives with a bad one, without a word; `IPV6_CHECKSUM` at level `IPPROTO_IPV6` is refused there
//!   (RFC 3542). Linux's own extension, the same option at level `SOL_RAW`, turns both off
//!   ([`MldSocket::set_kernel_checksum`]): a watcher does that and checks each checksum itself, so a bad one is
//!   reported instead of vanishing.

mod answers;
mod igmp;
mod mld;
mod options;
mod tally;
mod watch;

use std::net::IpAddr;

use crate::error::{Error, ErrorKind, Result};
use crate::wire;

pub use crate::sys::raw::Icmp6Filter;
pub use crate::Family;
pub use answers::{Answer, Answers, MAX_ANSWERS};
pub use igmp::IgmpSocket;
pub use mld::MldSocket;
pub use tally::WatchTally;
pub use watch::{igmp_query, mld_query, Reported, Step, Watcher};

/// A membership message of either family.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// IGMP, with the IPv4 header it came in.
    Igmp {
        /// The IPv4 header.
        ip: wire::Ipv4Repr,
        /// The IGMP message.
        igmp: wire::IgmpRepr,
    },
    /// MLD.
    Mld(wire::MldRepr),
}

impl Message {
    /// Whether this is a query.
    pub fn is_query(&self) -> bool {
        match self {
            Message::Igmp { igmp, .. } => igmp.is_query(),
            Message::Mld(mld) => mld.is_query(),
        }
    }

    /// The protocol and version.
    pub fn protocol(&self) -> wire::Protocol {
        match self {
            Message::Igmp { igmp, .. } => wire::Protocol::Igmp(igmp.version()),
            Message::Mld(mld) => wire::Protocol::Mld(mld.version()),
        }
    }

    /// The group a query asks about; `None` for a general query and for other messages.
    pub fn query_group(&self) -> Option<IpAddr> {
        let group: IpAddr = match self {
            Message::Igmp { igmp: wire::IgmpRepr::QueryV2 { group, .. }, .. } => (*group).into(),
            Message::Igmp { igmp: wire::IgmpRepr::QueryV3(q), .. } => q.group.into(),
            Message::Mld(wire::MldRepr::QueryV1 { group, .. }) => (*group).into(),
            Message::Mld(wire::MldRepr::QueryV2(q)) => q.group.into(),
            _ => return None,
        };
        Some(group).filter(|g| !g.is_unspecified())
    }

    /// The maximum response time a query asks for (IGMPv1: 10 s, RFC 2236 §4); `None` for other messages.
    pub fn max_resp_time(&self) -> Option<std::time::Duration> {
        match self {
            Message::Igmp { igmp, .. } => igmp.max_resp_time(),
            Message::Mld(mld) => mld.max_resp_time(),
        }
    }
}

/// One message a raw socket received: who sent it, where it arrived, and what it says, or exactly why it
/// does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heard {
    /// The sender (for IPv6 a link-local address, its zone in `ifindex`).
    pub source: IpAddr,
    /// The destination address: the IPv4 header's, or `IPV6_PKTINFO`'s; `None` when unknown.
    pub destination: Option<IpAddr>,
    /// The arrival interface (`IP_PKTINFO` / `IPV6_PKTINFO`).
    pub ifindex: Option<u32>,
    /// TTL (from the IPv4 header) or hop limit (`IPV6_RECVHOPLIMIT`) on arrival; membership messages have 1.
    pub ttl: Option<u8>,
    /// The bytes received: the whole IPv4 datagram for IGMP, the ICMPv6 message for MLD.
    pub bytes: Vec<u8>,
    /// The message, or why the bytes are not one.
    pub message: std::result::Result<Message, wire::Error>,
}

/// The error for a socket option that failed, naming it.
fn os(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |e| Error::os(context, e)
}

/// A duration as the kernel's millisecond poll timeout wants it, never zero unless asked for zero.
fn remaining(deadline: std::time::Instant) -> Option<std::time::Duration> {
    deadline.checked_duration_since(std::time::Instant::now()).filter(|d| !d.is_zero())
}

/// Waits up to `timeout` for a datagram on `socket` that is not one of the kernel's messages to a multicast
/// router (`is_upcall` tells them apart, by protocol for IGMP, by type for MLD), skipping those; `Ok(None)`
/// when none came. The datagram is `buf[..meta.len]`.
fn recv_skipping_upcalls(
    socket: &crate::McastSocket,
    buf: &mut [u8],
    timeout: std::time::Duration,
    is_upcall: fn(&[u8]) -> bool,
) -> Result<Option<crate::RecvMeta>> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let Some(wait) = remaining(deadline) else { return Ok(None) };
        let Some(meta) = socket.recv_timeout(buf, wait)? else { return Ok(None) };
        if !is_upcall(buf.get(..meta.len).unwrap_or_default()) {
            return Ok(Some(meta));
        }
    }
}

/// An interface index as the C `int` that `ip_mreqn` and `vifctl` hold.
fn c_index(index: u32) -> Result<libc::c_int> {
    libc::c_int::try_from(index)
        .map_err(|_| Error::new(ErrorKind::OutOfRange, format!("interface index {index} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    fn igmp(igmp: wire::IgmpRepr) -> Message {
        Message::Igmp { ip: wire::Ipv4Repr::igmp(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(224, 0, 0, 1), 8), igmp }
    }

    #[test]
    fn a_query_names_its_group_and_response_time() {
        let general = igmp(wire::IgmpRepr::QueryV2 { max_resp_time: 25, group: Ipv4Addr::UNSPECIFIED });
        assert_eq!((general.query_group(), general.max_resp_time()), (None, Some(Duration::from_millis(2500))));
        let specific = igmp(wire::IgmpRepr::QueryV2 { max_resp_time: 10, group: Ipv4Addr::new(239, 1, 2, 3) });
        assert_eq!(specific.query_group(), Some("239.1.2.3".parse().unwrap()));
        assert_eq!(specific.protocol().number(), 2);
        let v1 = igmp(wire::IgmpRepr::QueryV1);
        assert_eq!(
            (v1.query_group(), v1.max_resp_time(), v1.protocol().number()),
            (None, Some(Duration::from_secs(10)), 1)
        );
        let report = igmp(wire::IgmpRepr::ReportV2 { group: Ipv4Addr::new(239, 1, 2, 3) });
        assert_eq!((report.query_group(), report.max_resp_time()), (None, None));
        let mld = Message::Mld(wire::MldRepr::QueryV1 {
            max_resp_delay: 1000,
            group: Ipv6Addr::new(0xff15, 0, 0, 0, 0, 0, 0, 1),
        });
        assert_eq!(mld.query_group(), Some("ff15::1".parse().unwrap()));
        assert_eq!(mld.protocol().number(), 1);
    }
}
