//! The prober's own probes, dropped in the kernel before they reach its joined socket: a member of the group
//! that sends to it gets each probe looped back, a copy to deliver and a wake-up for a datagram it only throws
//! away. A socket filter (`SO_ATTACH_FILTER`) drops the datagrams that are probes of this prober's session;
//! everything else passes, the membership stays plain (any-source, no source excluded: a router such as
//! FRR's pimd forwards no group to an EXCLUDE report with sources), and a responder on this host is heard on
//! both channels from the first probe.

use crate::error::Result;
use crate::socket::McastSocket;
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
