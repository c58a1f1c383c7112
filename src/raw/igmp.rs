//! [`IgmpSocket`]: `socket(AF_INET, SOCK_RAW, IPPROTO_IGMP)` set up to hear and send IGMP.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::{recv_skipping_upcalls, Heard, Message};
use crate::error::{Error, ErrorKind, Result};
use crate::wire::{self, IgmpRepr, Ipv4Packet, Ipv4Repr};
use crate::{Family, Interface, McastSocket, RecvMeta};

/// A raw IGMP socket: it receives every IGMP datagram IP delivers to this host, IPv4 header included, and sends
/// IGMP messages in headers it builds itself.
///
/// [`IgmpSocket::open`] sets, beyond the socket itself:
/// - `IP_PKTINFO`, so each message carries its arrival interface;
/// - `IP_HDRINCL`, so [`IgmpSocket::send`] writes the IPv4 header, Router Alert included;
/// - `IP_MULTICAST_LOOP` off: a query sent here does not reach this host's own IGMP, which would otherwise
///   answer it as a member of the groups the socket joined to listen;
/// - `IP_MULTICAST_TTL` 1 (used only without `IP_HDRINCL`; with it the header's TTL, 1, is sent).
///
/// Every other option of [`McastSocket`] is at hand through [`IgmpSocket::socket`].
#[derive(Debug)]
pub struct IgmpSocket {
    socket: McastSocket,
}

crate::socket::fd_of_socket!(IgmpSocket);

impl IgmpSocket {
    /// Opens the socket. Needs `CAP_NET_RAW`; without it the error says so and how to grant it.
    pub fn open() -> Result<Self> {
        let socket = McastSocket::raw(Family::V4, libc::IPPROTO_IGMP)?;
        socket.set_pktinfo_v4(true)?;
        socket.set_header_included_v4(true)?;
        socket.set_multicast_loop_v4(false)?;
        socket.set_multicast_ttl_v4(1)?;
        Ok(IgmpSocket { socket })
    }

    /// The socket, for every other option (`IP_MULTICAST_IF`, TTL, loop, source filters, buffers).
    pub fn socket(&self) -> &McastSocket {
        &self.socket
    }

    /// `IP_ADD_MEMBERSHIP` (`ip_mreqn`) of `group` on interface `ifindex`: IP then delivers the datagrams sent to
    /// it on that interface, and this socket hears the IGMP among them.
    pub fn join(&self, group: Ipv4Addr, ifindex: u32) -> Result<()> {
        self.socket.join_v4_index(group, ifindex)
    }

    /// `IP_DROP_MEMBERSHIP`.
    pub fn leave(&self, group: Ipv4Addr, ifindex: u32) -> Result<()> {
        self.socket.leave_v4_index(group, ifindex)
    }

    /// `IP_OPTIONS` with the Router Alert option (on), or none (off): what a socket *without* `IP_HDRINCL`
    /// needs to send IGMP as RFC 2236 and 3376 want it. Not for this socket as opened: with `IP_HDRINCL` Linux
    /// refuses to send (`EINVAL`) once `IP_OPTIONS` has been set, even after it is cleared again (an empty
    /// option list stays), since a header of the program's own and options of the socket's do not mix.
    pub fn set_router_alert_option(&self, on: bool) -> Result<()> {
        self.socket.set_router_alert(on)
    }

    /// Sends `message` to `destination` out of interface `ifindex` (0: the route's choice), in an IPv4 header
    /// as IGMP needs it: TTL 1, TOS 0xc0, Don't Fragment, Router Alert ([`wire::igmp_datagram`]).
    pub fn send(&self, message: &IgmpRepr, destination: Ipv4Addr, ifindex: u32) -> Result<usize> {
        self.send_payload(&message.to_bytes()?, destination, ifindex)
    }

    /// Sends `igmp` as the payload of such a header, whatever its bytes are: a way to put malformed messages on
    /// a link on purpose, to test a receiver.
    ///
    /// The source address is the interface's first IPv4 address; without one it is left zero, for the kernel
    /// to fill in (as it also does for the identification field and the header checksum under `IP_HDRINCL`).
    pub fn send_payload(&self, igmp: &[u8], destination: Ipv4Addr, ifindex: u32) -> Result<usize> {
        if !destination.is_multicast() {
            return Err(Error::new(
                ErrorKind::NotMulticast,
                format!("IGMP to {destination}: membership messages go to a multicast group"),
            ));
        }
        let source = match ifindex {
            0 => Ipv4Addr::UNSPECIFIED,
            i => {
                self.socket.set_multicast_if_v4_index(i)?;
                Interface::by_index(i)?.first_ipv4().unwrap_or(Ipv4Addr::UNSPECIFIED)
            }
        };
        let ip = Ipv4Repr::igmp(source, destination, igmp.len());
        let mut datagram = vec![0u8; ip.total_len()];
        let (header, payload) = datagram.split_at_mut(ip.header_len());
        ip.emit(&mut Ipv4Packet::new_unchecked(header))?;
        payload.copy_from_slice(igmp);
        self.socket.send_to(&datagram, SocketAddr::new(IpAddr::V4(destination), 0))
    }

    /// Waits up to `timeout` for one IGMP datagram and parses it; `Ok(None)` when none came.
    ///
    /// A datagram that is not valid IGMP is returned too, with the reason in [`Heard::message`]. The kernel's
    /// own messages to a multicast router (cache-miss upcalls, IP protocol 0, after
    /// [`IgmpSocket::become_mrouter`]) are skipped.
    pub fn recv(&self, buf: &mut [u8], timeout: Duration) -> Result<Option<Heard>> {
        let Some(meta) = recv_skipping_upcalls(&self.socket, buf, timeout, is_upcall)? else { return Ok(None) };
        Ok(Some(heard(&meta, buf.get(..meta.len).unwrap_or_default())))
    }

    /// Makes this socket the network namespace's IPv4 multicast router (`MRT_INIT`) with a virtual interface
    /// (`MRT_ADD_VIF`, by index) for each of `ifindexes`: the kernel then hands it the IGMP sent to any group
    /// outside 224.0.0.0/24 on those interfaces, joined or not, which is how IGMPv1/v2 reports are heard. It
    /// forwards nothing (no routes are added), and all of it ends when the socket closes.
    ///
    /// The raw socket is all it needs: the kernel asks for `CAP_NET_ADMIN` only from *other* sockets that change
    /// multicast routing. One socket per namespace may hold it, so it fails with `EADDRINUSE` while a routing
    /// daemon (smcroute, pimd, igmpproxy) runs there. At most 32 interfaces.
    pub fn become_mrouter(&self, ifindexes: &[u32]) -> Result<()> {
        self.socket.become_mrouter(ifindexes)
    }
}

/// A multicast router's upcall (`struct igmpmsg`): the kernel copies the IPv4 header of the datagram that caused
/// it and writes 0 over the protocol field (`im_mbz`). A raw IGMP socket gets no other datagram of protocol 0.
fn is_upcall(bytes: &[u8]) -> bool {
    bytes.get(9) == Some(&0)
}

fn heard(meta: &RecvMeta, bytes: &[u8]) -> Heard {
    let source = meta.source.ip();
    let header = Ipv4Packet::new_unchecked(bytes);
    let message = if meta.truncated {
        Err(wire::Error::Truncated { need: meta.full_len, have: meta.len })
    } else {
        wire::parse_igmp_datagram(bytes).map(|(ip, igmp)| Message::Igmp { ip, igmp })
    };
    let whole_header = bytes.len() >= wire::ipv4::MIN_HEADER_LEN;
    Heard {
        source,
        destination: if whole_header { Some(IpAddr::V4(header.dst_addr())) } else { meta.group },
        ifindex: meta.ifindex,
        ttl: if whole_header { Some(header.ttl()) } else { None },
        bytes: bytes.to_vec(),
        message,
    }
}
