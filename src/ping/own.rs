//! The prober's own probes, dropped in the kernel before they reach its joined socket: a member of the group
//! that sends to it gets each probe looped back, a copy to deliver and a wake-up for a datagram it only throws
//! away. A socket filter (`SO_ATTACH_FILTER`) drops the datagrams that are probes of this prober's session;
//! everything else passes, the membership stays plain (any-source, no source excluded: a router such as
//! FRR's pimd forwards no group to an EXCLUDE report with sources), and a responder on this host is heard on
//! both channels from the first probe.
//!
//! The copy itself still costs the kernel a trip up to the filter before the probe leaves for the wire. While
//! the prober is the only member of the group on this host, nobody here needs it: [`LocalMembers`] then turns
//! the loop off on the sending socket (`IP_MULTICAST_LOOP`), and on again as soon as another member appears.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::iface::Interface;
use crate::socket::{Family, McastSocket};
use crate::sys::filter::{self, Insn};
use crate::wire::proto::{self, Kind};

/// The program that drops probes of `session` (the tools' header: magic, type byte, session id).
pub(crate) fn own_probes(session: u32) -> [Insn; 10] {
    filter::drop_session(
        u32::from_be_bytes(proto::MAGIC),
        proto::KIND_AT as u32,
        Kind::PingRequest as u8,
        proto::SESSION_AT as u32,
        session,
    )
}

/// Drops the probes of `session` on `socket`, the prober's joined socket.
pub(crate) fn drop_own_probes(socket: &McastSocket, session: u32) -> Result<()> {
    socket.attach_filter(&own_probes(session))
}

/// How often the prober looks for other members of its group on this host.
const MEMBERS_EVERY: Duration = Duration::from_millis(200);

/// Whether the kernel loops the probes back to this host's members, following whether there is any member
/// besides the prober.
pub(crate) struct LocalMembers {
    group: IpAddr,
    /// The prober's own memberships of the group (one per interface joined).
    own: u32,
    /// Whether the loop is on (the kernel's default).
    on: bool,
    /// The loop stays on: the probes leave by the loopback interface (every member gets them whatever the
    /// loop says), or by the route's choice, which may be it.
    pinned: bool,
    next_look: Instant,
}

impl LocalMembers {
    /// For a prober of `group` joined on `ifaces` (sending by the first; none: the route's choice); a
    /// source-specific join excludes the prober's own address, so the kernel makes no copy and nothing needs
    /// following (`None`).
    pub fn new(group: IpAddr, ifaces: &[Interface], specific: bool) -> Option<LocalMembers> {
        let own = u32::try_from(ifaces.len().max(1)).unwrap_or(u32::MAX);
        let pinned = ifaces.first().map_or(true, Interface::is_loopback);
        (!specific).then(|| LocalMembers { group, own, on: true, pinned, next_look: Instant::now() })
    }

    /// Whether a probe sent now is looped back.
    pub fn looped(&self) -> bool {
        self.on
    }

    /// Looks again at most every [`MEMBERS_EVERY`]; turns the loop on `sending` off while no other member of
    /// the group is on this host (`/proc/net/igmp`, `igmp6`), on again when one is or when that cannot be read.
    pub fn follow(&mut self, sending: &McastSocket, now: Instant) {
        if !self.pinned && now >= self.next_look {
            self.next_look = now + MEMBERS_EVERY;
            let others = crate::procnet::group_users(self.group).map_or(true, |n| n > self.own);
            if others != self.on {
                let set = match sending.family() {
                    Family::V4 => sending.set_multicast_loop_v4(others),
                    Family::V6 => sending.set_multicast_loop_v6(others),
                };
                if set.is_ok() {
                    self.on = others;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A datagram as the filter sees it: an 8-byte UDP header, then the payload.
    fn udp(payload: &[u8]) -> Vec<u8> {
        let mut d = vec![0x10, 0xe1, 0x10, 0xe1, 0, 0, 0, 0];
        d.extend_from_slice(payload);
        d
    }

    fn datagram(kind: Kind, session: u32) -> Vec<u8> {
        let mut buf = vec![0u8; proto::HEADER_LEN + 2];
        let n = proto::encode(kind, session, 9, 7, b"ab", &mut buf).unwrap();
        buf.truncate(n);
        udp(&buf)
    }

    #[test]
    fn the_loop_is_followed_only_where_it_matters() {
        let g: IpAddr = "239.1.2.3".parse().unwrap();
        assert!(LocalMembers::new(g, &[], true).is_none(), "a source-specific join gets no copy");
        let by_route = LocalMembers::new(g, &[], false).unwrap();
        assert!(by_route.pinned && by_route.on, "the route may pick the loopback interface");
        let iface = |flags: i32| Interface {
            name: "x".into(),
            index: 2,
            flags: flags as u32,
            mtu: 1500,
            ipv4: Vec::new(),
            ipv6: Vec::new(),
        };
        assert!(LocalMembers::new(g, &[iface(libc::IFF_LOOPBACK)], false).unwrap().pinned);
        let eth = LocalMembers::new(g, &[iface(libc::IFF_UP), iface(libc::IFF_UP)], false).unwrap();
        assert!(!eth.pinned && eth.own == 2);
    }

    #[test]
    fn only_probes_of_the_session_are_dropped() {
        let prog = own_probes(0xdead_beef);
        assert_eq!(filter::run(&prog, &datagram(Kind::PingRequest, 0xdead_beef)), 0);
        assert_eq!(filter::run(&prog, &datagram(Kind::PingRequest, 0xdead_beee)), filter::ACCEPT, "another prober");
        for kind in [Kind::PingReplyMulticast, Kind::PingReplyUnicast, Kind::PerfData, Kind::DiscoverQuery] {
            assert_eq!(filter::run(&prog, &datagram(kind, 0xdead_beef)), filter::ACCEPT, "{kind:?}");
        }
        let mut other = datagram(Kind::PingRequest, 0xdead_beef);
        other[8] = b'X';
        assert_eq!(filter::run(&prog, &other), filter::ACCEPT, "not the tools' magic");
        // Too short to judge: kept (a load past the end would drop it), for the prober to count as foreign.
        for len in [0, 1, 4, 11] {
            assert_eq!(filter::run(&prog, &udp(&b"MCST\x01\x01\0\0\xde\xad\xbe\xef"[..len])), filter::ACCEPT, "{len}");
        }
        assert_eq!(filter::run(&prog, &[]), filter::ACCEPT);
    }
}
