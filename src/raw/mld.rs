//! [`MldSocket`]: `socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)` set up to hear and send MLD.

use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{recv_skipping_upcalls, Heard, Icmp6Filter, Message};
use crate::error::{Error, ErrorKind, Result};
use crate::wire::{self, mld::message_type, MldPacket, MldRepr};
use crate::{Family, Interface, McastSocket, RecvMeta};

/// The ICMPv6 types of MLD: query (130), v1 report (131), v1 done (132), v2 report (143).
pub const MLD_TYPES: [u8; 4] =
    [message_type::QUERY, message_type::V1_REPORT, message_type::DONE, message_type::V2_REPORT];

/// A raw ICMPv6 socket for MLD: it receives the MLD messages IPv6 delivers to this host (the ICMPv6 filter lets
/// no other type through) and sends MLD with the hop-by-hop Router Alert.
///
/// [`MldSocket::open`] sets, beyond the socket itself:
/// - `ICMP6_FILTER` passing types 130, 131, 132 and 143 only (neighbour discovery and echo never arrive);
/// - `IPV6_RECVPKTINFO` (destination and arrival interface) and `IPV6_RECVHOPLIMIT` (MLD arrives with 1);
/// - `IPV6_MULTICAST_HOPS` 1, as RFC 3810 requires, and `IPV6_MULTICAST_LOOP` off (a query sent here does not
///   reach this host's own MLD);
/// - `IPV6_HOPOPTS` with the Router Alert, on every message sent.
///
/// The kernel computes the checksum of what is sent and drops what arrives with a bad one, until
/// [`MldSocket::set_kernel_checksum`] turns that off.
#[derive(Debug)]
pub struct MldSocket {
    socket: McastSocket,
    kernel_checksum: AtomicBool,
}

crate::socket::fd_of_socket!(MldSocket);

impl MldSocket {
    /// Opens the socket. Needs `CAP_NET_RAW`; without it the error says so and how to grant it.
    pub fn open() -> Result<Self> {
        let socket = McastSocket::raw(Family::V6, libc::IPPROTO_ICMPV6)?;
        let mld = MldSocket { socket, kernel_checksum: AtomicBool::new(true) };
        mld.set_filter(&Self::mld_filter())?;
        mld.socket.set_recv_pktinfo_v6(true)?;
        mld.socket.set_recv_hoplimit_v6(true)?;
        mld.socket.set_multicast_hops_v6(1)?;
        mld.socket.set_multicast_loop_v6(false)?;
        mld.set_router_alert(true)?;
        Ok(mld)
    }

    /// The socket, for every other option (`IPV6_MULTICAST_IF`, hop limit, loop, buffers).
    pub fn socket(&self) -> &McastSocket {
        &self.socket
    }

    /// A filter that passes the MLD types (queries, reports, done) and blocks every other.
    pub fn mld_filter() -> Icmp6Filter {
        let mut filter = Icmp6Filter::block_all();
        for ty in MLD_TYPES {
            filter.pass(ty);
        }
        filter
    }

    /// `ICMP6_FILTER` (level `IPPROTO_ICMPV6`, RFC 3542 §3.2): which ICMPv6 types reach this socket.
    pub fn set_filter(&self, filter: &Icmp6Filter) -> Result<()> {
        self.socket.set_icmp6_filter(filter)
    }

    /// Reads `ICMP6_FILTER`.
    pub fn filter(&self) -> Result<Icmp6Filter> {
        self.socket.icmp6_filter()
    }

    /// `IPV6_HOPOPTS`: a hop-by-hop Router Alert (value 0, MLD) on every message sent (on), or none (off).
    pub fn set_router_alert(&self, on: bool) -> Result<()> {
        self.socket.set_router_alert(on)
    }

    /// `IPV6_CHECKSUM` at level `SOL_RAW` (Linux's extension; at `IPPROTO_IPV6` an ICMPv6 socket refuses it):
    /// on (offset 2, the default), the kernel fills in the checksum of what is sent and silently drops what
    /// arrives with a bad one; off (-1), both are left to this socket, and [`MldSocket::recv`] verifies each
    /// message against its pseudo-header and reports a bad checksum.
    pub fn set_kernel_checksum(&self, on: bool) -> Result<()> {
        self.socket.set_kernel_checksum_v6(on)?;
        self.kernel_checksum.store(on, Ordering::Relaxed);
        Ok(())
    }

    /// Reads `IPV6_CHECKSUM` at level `SOL_RAW`: whether the kernel handles checksums.
    pub fn kernel_checksum(&self) -> Result<bool> {
        self.socket.kernel_checksum_v6()
    }

    /// `IPV6_JOIN_GROUP` of `group` on interface `ifindex`.
    pub fn join(&self, group: Ipv6Addr, ifindex: u32) -> Result<()> {
        self.socket.join_v6(group, ifindex)
    }

    /// `IPV6_LEAVE_GROUP`.
    pub fn leave(&self, group: Ipv6Addr, ifindex: u32) -> Result<()> {
        self.socket.leave_v6(group, ifindex)
    }

    /// Sends `message` to `destination` out of interface `ifindex` (needed for link-local destinations), with
    /// hop limit 1 and the Router Alert. The kernel picks the link-local source address. With the kernel's
    /// checksum off, the checksum is computed here, from the interface's first link-local address.
    pub fn send(&self, message: &MldRepr, destination: Ipv6Addr, ifindex: u32) -> Result<usize> {
        let source = match ifindex {
            0 => Ipv6Addr::UNSPECIFIED,
            i => Interface::by_index(i)?
                .ipv6
                .into_iter()
                .find(|a| a.segments()[0] & 0xffc0 == 0xfe80)
                .unwrap_or(Ipv6Addr::UNSPECIFIED),
        };
        self.send_payload(&message.to_bytes(&source, &destination)?, destination, ifindex)
    }

    /// Sends `icmpv6` as it is (the kernel still fills the checksum unless told not to): a way to put malformed
    /// messages on a link on purpose, to test a receiver.
    pub fn send_payload(&self, icmpv6: &[u8], destination: Ipv6Addr, ifindex: u32) -> Result<usize> {
        if !destination.is_multicast() {
            return Err(Error::new(
                ErrorKind::NotMulticast,
                format!("MLD to {destination}: membership messages go to a multicast group"),
            ));
        }
        if ifindex != 0 {
            self.socket.set_multicast_if_v6(ifindex)?;
        }
        self.socket.send_to(icmpv6, SocketAddr::V6(SocketAddrV6::new(destination, 0, 0, ifindex)))
    }

    /// Waits up to `timeout` for one MLD message and parses it; `Ok(None)` when none came.
    ///
    /// A message that is not valid MLD is returned too, with the reason in [`Heard::message`]. The kernel's own
    /// messages to a multicast router (`struct mrt6msg`, whose first byte is 0) are skipped.
    pub fn recv(&self, buf: &mut [u8], timeout: Duration) -> Result<Option<Heard>> {
        let Some(meta) = recv_skipping_upcalls(&self.socket, buf, timeout, is_upcall)? else { return Ok(None) };
        Ok(Some(self.heard(&meta, buf.get(..meta.len).unwrap_or_default())))
    }

    fn heard(&self, meta: &RecvMeta, bytes: &[u8]) -> Heard {
        let source = meta.source.ip();
        let message = if meta.truncated {
            Err(wire::Error::Truncated { need: meta.full_len, have: meta.len })
        } else {
            MldPacket::new_checked(bytes).and_then(|packet| {
                match (source, meta.group, self.kernel_checksum.load(Ordering::Relaxed)) {
                    (IpAddr::V6(src), Some(IpAddr::V6(dst)), false) => MldRepr::parse(&packet, &src, &dst),
                    _ => MldRepr::parse_unverified(&packet),
                }
            })
        };
        Heard {
            source,
            destination: meta.group,
            ifindex: meta.ifindex,
            ttl: meta.ttl,
            bytes: bytes.to_vec(),
            message: message.map(Message::Mld),
        }
    }

    /// Makes this socket the network namespace's IPv6 multicast router (`MRT6_INIT`): the kernel then hands it
    /// the MLD messages with a Router Alert sent to any group beyond link-local scope (not ff02::/16), joined or
    /// not, which is how MLDv1 reports are heard. Nothing is forwarded, and it ends when the socket closes.
    ///
    /// Needs nothing beyond the raw socket; fails with `EADDRINUSE` while another multicast router (a routing
    /// daemon) runs in the namespace.
    pub fn become_mrouter(&self) -> Result<()> {
        self.socket.become_mrouter(&[])
    }
}

/// A multicast router's upcall (`struct mrt6msg`, whose first byte is 0). ICMPv6 type 0 is reserved, and the
/// filter blocks it: only an upcall starts with 0.
fn is_upcall(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0)
}
