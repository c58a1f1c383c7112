//! MLD messages, carried in ICMPv6: version 1 ([RFC 2710 §3](https://www.rfc-editor.org/rfc/rfc2710#section-3))
//! and version 2 ([RFC 3810 §5](https://www.rfc-editor.org/rfc/rfc3810#section-5)).
//!
//! ```text
//! v1, and the first 24 bytes of a v2 query:         v2 report (type 143):
//! +--------+--------+-----------------+            +--------+--------+-----------------+
//! |  Type  |  Code  |    Checksum     |            |  143   |Reserved|    Checksum     |
//! +--------+--------+-----------------+            +--------+--------+-----------------+
//! | Max Resp Delay  |    Reserved     |            |    Reserved     | Nr of Records M |
//! +-----------------+-----------------+            +-----------------+-----------------+
//! |   Multicast Address (16 bytes)    |            |  Multicast Address Record [1..M]  |
//! +-----------------------------------+            +-----------------------------------+
//! v2 query continues:
//! |Rsv|S|QRV| QQIC  | Nr of Sources N |
//! |  Source Address [1..N] (16 each)  |
//! ```
//!
//! The checksum is ICMPv6's: it covers a pseudo-header of source, destination, length and next header 58 (RFC 4443
//! §2.3), so parsing and building take the addresses. A raw ICMPv6 socket receives the message without the IPv6
//! header (the source comes from `recvfrom`, the destination from `IPV6_PKTINFO`), and the kernel computes the
//! checksum of what it sends. The rules on the IPv6 header (link-local source, hop limit 1, the hop-by-hop Router
//! Alert of RFC 2711) are outside these bytes and left to the socket.

use std::fmt;
use std::net::Ipv6Addr;
use std::time::Duration;

use super::bytes::{need, range, set_u16, set_u8, tail, u16_at, u8_at, v6_at};
use super::code::{decode_float16, decode_float8, encode_float16, encode_float8};
use super::record::{
    check_records, emit_records, parse_records, parse_sources, query_group, report_group, sources_at, GroupRecord,
    Records, WireAddr,
};
use super::{checksum, Error, Result};

/// ICMPv6 message types of MLD.
pub mod message_type {
    /// Multicast Listener Query, both versions (130).
    pub const QUERY: u8 = 130;
    /// Version 1 Multicast Listener Report (131).
    pub const V1_REPORT: u8 = 131;
    /// Version 1 Multicast Listener Done (132).
    pub const DONE: u8 = 132;
    /// Version 2 Multicast Listener Report (143).
    pub const V2_REPORT: u8 = 143;
}

/// The length of an MLDv1 message.
pub const V1_LEN: usize = 24;
/// The length of an MLDv2 query without sources.
pub const V2_QUERY_HEADER_LEN: usize = 28;
/// The length of an MLDv2 report header.
pub const V2_REPORT_HEADER_LEN: usize = 8;
/// All-nodes on the link, where general queries go.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// All-routers on the link, where v1 Done messages go.
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
/// All MLDv2-capable routers, where v2 reports go.
pub const ALL_MLDV2_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x16);

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const MAX_RESP: usize = 4;
    pub const GROUP: usize = 8;
    // v2 query
    pub const S_QRV: usize = 24;
    pub const QQIC: usize = 25;
    pub const NUM_SOURCES: usize = 26;
    pub const SOURCES: usize = 28;
    // v2 report
    pub const NUM_RECORDS: usize = 6;
    pub const RECORDS: usize = 8;
}

/// An MLD version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// RFC 2710.
    V1,
    /// RFC 3810.
    V2,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::V1 => f.write_str("MLDv1"),
            Version::V2 => f.write_str("MLDv2"),
        }
    }
}

/// The version of a query of `len` bytes (RFC 3810 §8.1): 24 bytes is v1, 28 or more v2; any other length is no
/// valid query and must be ignored (`None`).
pub fn query_version(len: usize) -> Option<Version> {
    match len {
        V1_LEN => Some(Version::V1),
        len if len >= V2_QUERY_HEADER_LEN => Some(Version::V2),
        _ => None,
    }
}

/// A view of an ICMPv6 message that may be MLD.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    view_constructors!("A view whose fields, sources and records all lie inside `buffer`.");

    membership_readers!(addr: Ipv6Addr, query: "v2 query", report: "v2 report");

    /// Checks the ICMPv6 header (4 bytes), and for MLD types their fixed part, a v2 query's sources and a v2
    /// report's records, against the buffer. Other ICMPv6 types pass with 4 bytes; [`Repr::parse`] names them.
    pub fn check_len(&self) -> Result<()> {
        let buf = self.buffer.as_ref();
        need(buf, 4)?;
        match self.msg_type() {
            message_type::QUERY if buf.len() >= V2_QUERY_HEADER_LEN => {
                parse_sources::<Ipv6Addr>(tail(buf, field::SOURCES), self.num_sources()).map(drop)
            }
            message_type::QUERY | message_type::V1_REPORT | message_type::DONE => need(buf, V1_LEN),
            message_type::V2_REPORT => {
                need(buf, V2_REPORT_HEADER_LEN)?;
                check_records::<Ipv6Addr>(tail(buf, field::RECORDS), self.num_records()).map(drop)
            }
            _ => Ok(()),
        }
    }

    /// The ICMPv6 Code field (zero when sent, ignored when received).
    pub fn code(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::CODE)
    }

    /// The Maximum Response Delay (v1, milliseconds) or Maximum Response Code (v2 query).
    pub fn max_resp_code(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::MAX_RESP)
    }

    /// The Multicast Address field (not in a v2 report).
    pub fn group_addr(&self) -> Ipv6Addr {
        v6_at(self.buffer.as_ref(), field::GROUP)
    }

    fn pseudo_header(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> u16 {
        let len = u32::try_from(self.len()).unwrap_or(u32::MAX);
        checksum::pseudo_header_v6(src, dst, checksum::NEXT_HEADER_ICMPV6, len)
    }

    /// The checksum the message should carry when sent from `src` to `dst`.
    pub fn expected_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> u16 {
        let buf = self.buffer.as_ref();
        !checksum::combine(&[
            self.pseudo_header(src, dst),
            checksum::data(range(buf, 0, field::CHECKSUM)),
            checksum::data(tail(buf, field::MAX_RESP)),
        ])
    }

    /// Whether the ICMPv6 checksum is right for a message from `src` to `dst`.
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        checksum::combine(&[self.pseudo_header(src, dst), checksum::data(self.buffer.as_ref())]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    membership_writers!(addr: Ipv6Addr, query: "v2 query");

    /// Sets the Code field.
    pub fn set_code(&mut self, value: u8) {
        set_u8(self.buffer.as_mut(), field::CODE, value);
    }

    /// Sets the Maximum Response Delay / Code field.
    pub fn set_max_resp_code(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::MAX_RESP, value);
    }

    /// Sets the Multicast Address field.
    pub fn set_group_addr(&mut self, addr: Ipv6Addr) {
        addr.write(self.buffer.as_mut(), field::GROUP);
    }

    /// v2 report: sets the Nr of Mcast Address Records field.
    pub fn set_num_records(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::NUM_RECORDS, value);
    }

    /// Computes the ICMPv6 checksum for a message from `src` to `dst` over the whole buffer and stores it.
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        self.set_checksum(0);
        let sum = checksum::icmpv6(src, dst, self.buffer.as_ref());
        self.set_checksum(sum);
    }
}

/// An MLDv2 query (RFC 3810 §5.1): general, multicast-address-specific or multicast-address-and-source-specific.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Query {
    /// Maximum Response Code: a 16-bit [`code`](super::code) in milliseconds; see [`Query::max_resp_time`].
    pub max_resp_code: u16,
    /// The group asked about; unspecified (::) in a general query.
    pub group: Ipv6Addr,
    /// S flag: routers that hear this query suppress their timer updates.
    pub suppress: bool,
    /// Querier's Robustness Variable, 0..=7.
    pub qrv: u8,
    /// Querier's Query Interval Code, an 8-bit [`code`](super::code) in seconds.
    pub qqic: u8,
    /// The sources asked about.
    pub sources: Vec<Ipv6Addr>,
}

impl Query {
    /// A general query with the defaults of RFC 3810 §9: max response 10 s, robustness 2, query interval 125 s.
    pub fn general() -> Self {
        Query {
            max_resp_code: 10_000,
            group: Ipv6Addr::UNSPECIFIED,
            suppress: false,
            qrv: 2,
            qqic: 125,
            sources: vec![],
        }
    }

    /// The maximum response time the code stands for.
    pub fn max_resp_time(&self) -> Duration {
        Duration::from_millis(u64::from(decode_float16(self.max_resp_code)))
    }

    /// The code for a maximum response time, rounded down to a millisecond and to what a code expresses.
    pub fn max_resp_code_for(time: Duration) -> u16 {
        encode_float16(u32::try_from(time.as_millis()).unwrap_or(u32::MAX))
    }

    /// The querier's query interval the QQIC stands for.
    pub fn query_interval(&self) -> Duration {
        Duration::from_secs(u64::from(decode_float8(self.qqic)))
    }

    /// The QQIC for a query interval, rounded down to a second and to what a code expresses.
    pub fn qqic_for(interval: Duration) -> u8 {
        encode_float8(u32::try_from(interval.as_secs()).unwrap_or(u32::MAX))
    }
}

/// An MLD message of either version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Repr {
    /// v1 query (24 bytes): general (group ::) or multicast-address-specific.
    QueryV1 {
        /// Maximum Response Delay in milliseconds.
        max_resp_delay: u16,
        /// The group asked about, or unspecified.
        group: Ipv6Addr,
    },
    /// v2 query (28 bytes or more).
    QueryV2(Query),
    /// v1 Multicast Listener Report.
    ReportV1 {
        /// The group listened to.
        group: Ipv6Addr,
    },
    /// v1 Multicast Listener Done.
    Done {
        /// The group no longer listened to.
        group: Ipv6Addr,
    },
    /// v2 Multicast Listener Report: one multicast address record per group.
    ReportV2(Vec<GroupRecord<Ipv6Addr>>),
}

impl Repr {
    /// The message in a checked view sent from `src` to `dst`: the ICMPv6 checksum must be right, then as
    /// [`Repr::parse_unverified`].
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>, src: &Ipv6Addr, dst: &Ipv6Addr) -> Result<Self> {
        packet.check_len()?;
        if !packet.verify_checksum(src, dst) {
            return Err(Error::BadChecksum { expected: packet.expected_checksum(src, dst), found: packet.checksum() });
        }
        Self::parse_unverified(packet)
    }

    /// The message in a checked view, its checksum not looked at (the kernel has verified it, or the addresses
    /// are unknown). The type must be an MLD type, the group multicast (or unspecified in a query), and a query's
    /// length one that RFC 3810 §8.1 gives a version to.
    pub fn parse_unverified<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Self> {
        // Lengths again, so that a view made without `new_checked` gives an error, not a shortened value.
        packet.check_len()?;
        let group = packet.group_addr();
        match packet.msg_type() {
            message_type::QUERY => match query_version(packet.len()) {
                Some(Version::V1) => {
                    Ok(Repr::QueryV1 { max_resp_delay: packet.max_resp_code(), group: query_group(group)? })
                }
                Some(Version::V2) => Ok(Repr::QueryV2(packet.source_query()?)),
                None => Err(Error::BadLength { what: "MLD query (24 or at least 28 bytes)", len: packet.len() }),
            },
            message_type::V1_REPORT => Ok(Repr::ReportV1 { group: report_group(group)? }),
            message_type::DONE => Ok(Repr::Done { group: report_group(group)? }),
            message_type::V2_REPORT => Ok(Repr::ReportV2(packet.report_records()?)),
            other => Err(Error::UnknownType(other)),
        }
    }

    /// The version of MLD this message belongs to.
    pub fn version(&self) -> Version {
        match self {
            Repr::QueryV1 { .. } | Repr::ReportV1 { .. } | Repr::Done { .. } => Version::V1,
            Repr::QueryV2(_) | Repr::ReportV2(_) => Version::V2,
        }
    }

    /// Whether this is a query.
    pub fn is_query(&self) -> bool {
        matches!(self, Repr::QueryV1 { .. } | Repr::QueryV2(_))
    }

    /// How long listeners may wait before answering this query; `None` for other messages.
    pub fn max_resp_time(&self) -> Option<Duration> {
        match self {
            Repr::QueryV1 { max_resp_delay, .. } => Some(Duration::from_millis(u64::from(*max_resp_delay))),
            Repr::QueryV2(query) => Some(query.max_resp_time()),
            _ => None,
        }
    }

    /// The bytes [`Repr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Repr::QueryV2(query) => V2_QUERY_HEADER_LEN + 16 * query.sources.len(),
            Repr::ReportV2(records) => {
                V2_REPORT_HEADER_LEN + records.iter().map(GroupRecord::buffer_len).sum::<usize>()
            }
            _ => V1_LEN,
        }
    }

    /// Writes the message at the start of `packet`'s buffer, with the checksum for sending from `src` to `dst`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
    ) -> Result<()> {
        let (need, have) = (self.buffer_len(), packet.len());
        let buf = packet.buffer.as_mut().get_mut(..need).ok_or(Error::Truncated { need, have })?;
        buf.fill(0);
        let mut out = Packet::new_unchecked(buf);
        let simple = |out: &mut Packet<&mut [u8]>, msg_type, code, group| {
            out.set_msg_type(msg_type);
            out.set_max_resp_code(code);
            out.set_group_addr(group);
        };
        match self {
            Repr::QueryV1 { max_resp_delay, group } => simple(&mut out, message_type::QUERY, *max_resp_delay, *group),
            Repr::ReportV1 { group } => simple(&mut out, message_type::V1_REPORT, 0, *group),
            Repr::Done { group } => simple(&mut out, message_type::DONE, 0, *group),
            Repr::QueryV2(query) => {
                out.emit_query_tail(query.suppress, query.qrv, query.qqic, &query.sources)?;
                simple(&mut out, message_type::QUERY, query.max_resp_code, query.group);
            }
            Repr::ReportV2(records) => out.emit_report(message_type::V2_REPORT, records)?,
        }
        out.fill_checksum(src, dst);
        Ok(())
    }

    /// The message as bytes, with the checksum for sending from `src` to `dst`.
    pub fn to_bytes(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> Result<Vec<u8>> {
        let mut bytes = vec![0u8; self.buffer_len()];
        self.emit(&mut Packet::new_unchecked(&mut bytes[..]), src, dst)?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests;
