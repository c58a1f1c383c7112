//! The prober's own address as a source of the group, blocked on its joined socket (`MCAST_BLOCK_SOURCE`):
//! without the block, the kernel loops every probe back to the prober (a member of the group), a copy to
//! deliver before the probe itself goes out and a wake-up for a datagram it only throws away.

use std::net::IpAddr;

use super::link::{source_toward, Endpoint};
use crate::socket::McastSocket;

/// The address the probes leave from, blocked.
pub(crate) struct OwnSource {
    addr: IpAddr,
    /// The interface blocked on (0: the one the kernel routes the group by).
    index: u32,
    /// The sequence number whose unicast answer came from this address: a responder on this host answers
    /// from it too, so the block was lifted then. Its multicast answers count from the next probe on.
    lifted_at: Option<u64>,
}

/// Where the block of the prober's own address stands.
pub(crate) enum Own {
    /// Nothing to block: a loopback address, or a source-specific join.
    Off,
    /// To be set on this interface index: no address or no membership to block it on yet (the interface is
    /// gone or not yet up, or was just made again), so it is tried again with the link announcements.
    Due(u32),
    Blocked(OwnSource),
}

impl Own {
    /// Blocks the address that probes to the group leave from, unless it is a loopback address (every
    /// responder there is on this host) or the join is source-specific (the prober's own address is not among
    /// its sources).
    pub fn block(ep: &Endpoint, index: u32, specific: bool) -> Own {
        let Ok(addr) = source_toward(ep.sending(), ep.dest, index) else { return Own::Due(index) };
        if specific || addr.is_loopback() {
            return Own::Off;
        }
        // EADDRNOTAVAIL: blocked already (a rejoin on the same index keeps the membership and its filter).
        match ep.rx.socket().block_source(ep.group.ip(), addr, index) {
            Err(e) if e.raw_os_error() != Some(libc::EADDRNOTAVAIL) => Own::Due(index),
            _ => Own::Blocked(OwnSource { addr, index, lifted_at: None }),
        }
    }

    /// After a rejoin (a fresh membership, without the block), the block is due again on the interface's new
    /// index, unless a responder on this host had it lifted.
    pub fn rejoined(&mut self, index: u32, old_index: u32) {
        let moved = |i: u32| if i == old_index { index } else { i };
        *self = match std::mem::replace(self, Own::Off) {
            Own::Blocked(own) if own.lifted_at.is_some() => Own::Blocked(own),
            Own::Blocked(own) => Own::Due(moved(own.index)),
            Own::Due(i) => Own::Due(moved(i)),
            Own::Off => Own::Off,
        };
    }

    /// Sets a block still due; until it holds (the interface and its address are back), it is tried again at
    /// the next link announcement or slice.
    pub fn retry(&mut self, ep: &Endpoint) {
        if let Own::Due(index) = *self {
            *self = Own::block(ep, index, false);
        }
    }

    /// A unicast answer for `seq` came from `from`: if that is the blocked address, lifts the block (once).
    pub fn unicast_from(&mut self, socket: &McastSocket, group: IpAddr, from: IpAddr, seq: u64) {
        if let Own::Blocked(own) = self {
            if own.lifted_at.is_none() && from == own.addr {
                // Failing to lift it leaves the multicast row of this host's responder empty: nothing else is lost.
                let _ = socket.unblock_source(group, own.addr, own.index);
                own.lifted_at = Some(seq);
            }
        }
    }

    /// The first sequence number whose multicast answer from `from` can arrive.
    pub fn counted_from(&self, from: IpAddr) -> u64 {
        match self {
            Own::Blocked(OwnSource { addr, lifted_at: Some(seq), .. }) if from == *addr => seq.saturating_add(1),
            _ => 0,
        }
    }
}
