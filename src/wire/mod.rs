//! Wire formats: the group-membership protocols (IGMP, MLD and the IPv4 header that carries IGMP) and
//! [`proto`], the header of the tools' own datagrams (`mcast ping`, `perf`, `discover`).
//!
//! Pure code, no I/O, and nothing the compiler cannot check. Each format comes in two layers, as in smoltcp:
//!
//! - a *packet view* (`Ipv4Packet`, `IgmpPacket`, `MldPacket`, `RecordPacket`) over any `T: AsRef<[u8]>`, whose
//!   `new_checked` proves the lengths once, so that every accessor afterwards reads inside the buffer;
//! - a *representation* (`Ipv4Repr`, `IgmpRepr`, `MldRepr`) with `parse` from a checked view, `buffer_len`, and
//!   `emit` into a buffer (checksums computed on the way out).
//!
//! [`MembershipTable`] turns parsed reports and leaves into per-interface group state and change events, for a
//! watcher or a querier.
//!
//! Every parser is total over arbitrary bytes: it returns a value or an [`Error`] that says exactly what is wrong
//! (how many bytes were needed, which checksum was expected, which type was unknown); none of them panics. This
//! module forbids raw pointer work (`forbid(unsafe_code)`) and indexing that could panic: all reads go through
//! `get`, and a read past the end of an unchecked buffer yields zero instead of a panic.
//!
//! The specifications:
//! - IPv4 header: [RFC 791](https://www.rfc-editor.org/rfc/rfc791), Router Alert option
//!   [RFC 2113](https://www.rfc-editor.org/rfc/rfc2113);
//! - Internet checksum: [RFC 1071](https://www.rfc-editor.org/rfc/rfc1071); ICMPv6 pseudo-header:
//!   [RFC 8200 §8.1](https://www.rfc-editor.org/rfc/rfc8200#section-8.1),
//!   [RFC 4443 §2.3](https://www.rfc-editor.org/rfc/rfc4443#section-2.3);
//! - IGMPv1 [RFC 1112](https://www.rfc-editor.org/rfc/rfc1112), IGMPv2
//!   [RFC 2236](https://www.rfc-editor.org/rfc/rfc2236), IGMPv3 [RFC 3376](https://www.rfc-editor.org/rfc/rfc3376);
//! - MLDv1 [RFC 2710](https://www.rfc-editor.org/rfc/rfc2710), MLDv2 [RFC 3810](https://www.rfc-editor.org/rfc/rfc3810);
//! - PIM Hello [RFC 7761 §4.9.2](https://www.rfc-editor.org/rfc/rfc7761#section-4.9.2) ([`pim`]).
//!
//! Parse what a raw IGMP socket receives (IPv4 header included), and build a query with Router Alert:
//!
//! ```
//! use std::net::Ipv4Addr;
//! use mcast::wire::{self, IgmpRepr};
//!
//! let query = IgmpRepr::QueryV2 { max_resp_time: 100, group: Ipv4Addr::UNSPECIFIED };
//! let bytes = wire::igmp_datagram(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(224, 0, 0, 1), &query)?;
//! let (ip, igmp) = wire::parse_igmp_datagram(&bytes)?;
//! assert_eq!(ip.router_alert(), Some(0));
//! assert_eq!(igmp, query);
//! # Ok::<(), mcast::wire::Error>(())
//! ```
#![forbid(unsafe_code)]
// Tests index fixed arrays freely; the code itself reads only through `get`.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

// First, since a macro is visible only after its definition.
#[macro_use]
mod view;

mod bytes;
pub mod checksum;
pub mod code;
mod error;
pub mod igmp;
pub mod iperf2;
pub mod ipv4;
pub mod membership;
pub mod mld;
pub mod pim;
pub mod proto;
pub mod record;

use std::net::Ipv4Addr;

pub use error::{Error, Result};
pub use igmp::{Packet as IgmpPacket, Repr as IgmpRepr, Version as IgmpVersion};
pub use ipv4::{Ipv4Option, Packet as Ipv4Packet, Repr as Ipv4Repr};
pub use membership::{
    Entry, Event, FilterMode, Key, MembershipLimits, MembershipTable, Protocol, DEFAULT_MAX_GROUPS,
    DEFAULT_MAX_SOURCES, MEMBERSHIP_INTERVAL,
};
pub use mld::{Packet as MldPacket, Repr as MldRepr, Version as MldVersion};
pub use record::{GroupRecord, RecordPacket, RecordType, WireAddr};

/// Parses what a raw `IPPROTO_IGMP` socket receives: an IPv4 header (options allowed) followed by an IGMP message.
///
/// The IPv4 header checksum and the IGMP checksum are both verified, and the protocol must be IGMP (2).
pub fn parse_igmp_datagram(bytes: &[u8]) -> Result<(Ipv4Repr, IgmpRepr)> {
    let ip_packet = Ipv4Packet::new_checked(bytes)?;
    let ip = Ipv4Repr::parse(&ip_packet)?;
    if ip.protocol != ipv4::PROTOCOL_IGMP {
        return Err(Error::WrongProtocol(ip.protocol));
    }
    let igmp = IgmpRepr::parse(&IgmpPacket::new_checked(ip_packet.payload())?)?;
    Ok((ip, igmp))
}

/// Builds a whole IGMP datagram as hosts and routers send it: an IPv4 header with TTL 1, TOS 0xc0 (internetwork
/// control), Don't Fragment and the Router Alert option (RFC 2236 §2, RFC 3376 §4), then the IGMP message.
///
/// For a raw socket with `IP_HDRINCL`; the kernel fills a zero identification field.
pub fn igmp_datagram(src: Ipv4Addr, dst: Ipv4Addr, igmp: &IgmpRepr) -> Result<Vec<u8>> {
    let ip = Ipv4Repr::igmp(src, dst, igmp.buffer_len());
    let mut bytes = vec![0u8; ip.total_len()];
    let header_len = ip.header_len();
    let (header, payload) = bytes.split_at_mut(header_len);
    ip.emit(&mut Ipv4Packet::new_unchecked(header))?;
    igmp.emit(&mut IgmpPacket::new_unchecked(payload))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests;
