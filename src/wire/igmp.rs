//! IGMP messages: version 1 ([RFC 1112 appendix I](https://www.rfc-editor.org/rfc/rfc1112#appendix-I)), version 2
//! ([RFC 2236 §2](https://www.rfc-editor.org/rfc/rfc2236#section-2)) and version 3
//! ([RFC 3376 §4](https://www.rfc-editor.org/rfc/rfc3376#section-4)).
//!
//! ```text
//! v1/v2, and the first 8 bytes of a v3 query:        v3 report:
//! +--------+--------+-----------------+            +--------+--------+-----------------+
//! |  Type  |MaxResp |    Checksum     |            |  0x22  |Reserved|    Checksum     |
//! +--------+--------+-----------------+            +--------+--------+-----------------+
//! |          Group Address            |            |    Reserved     | Nr of Records M |
//! +--------+--------+-----------------+            +-----------------+-----------------+
//! v3 query continues:                              |        Group Record [1..M]        |
//! |Rsv|S|QRV| QQIC  | Nr of Sources N |            +-----------------------------------+
//! |       Source Address [1..N]       |
//! ```
//!
//! The checksum covers the whole IGMP message (the entire IP payload). Which version a query is follows from its
//! length and Max Resp Code alone (RFC 3376 §7.1): see [`query_version`].

use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use super::bytes::{need, range, set_u16, set_u8, tail, u16_at, u8_at, v4_at};
use super::code::{decode_float8, encode_float8};
use super::record::{
    check_records, emit_records, parse_records, parse_sources, query_group, report_group, sources_at, GroupRecord,
    Records, WireAddr,
};
use super::{checksum, Error, Result};

/// Message types (RFC 3376 §4 and the IANA IGMP type registry).
pub mod message_type {
    /// Membership Query, all versions (0x11).
    pub const MEMBERSHIP_QUERY: u8 = 0x11;
    /// Version 1 Membership Report (0x12).
    pub const V1_REPORT: u8 = 0x12;
    /// Version 2 Membership Report (0x16).
    pub const V2_REPORT: u8 = 0x16;
    /// Version 2 Leave Group (0x17).
    pub const LEAVE_GROUP: u8 = 0x17;
    /// Version 3 Membership Report (0x22).
    pub const V3_REPORT: u8 = 0x22;
}

/// The length of v1/v2 messages and of the common header.
pub const HEADER_LEN: usize = 8;
/// The length of a v3 query without sources.
pub const V3_QUERY_HEADER_LEN: usize = 12;
/// All-systems group, where general queries go.
pub const ALL_SYSTEMS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 1);
/// All-routers group, where v2 leaves go.
pub const ALL_ROUTERS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 2);
/// All IGMPv3-capable routers, where v3 reports go.
pub const ALL_V3_ROUTERS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 22);

mod field {
    pub const TYPE: usize = 0;
    pub const MAX_RESP_CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const GROUP: usize = 4;
    // v3 query
    pub const S_QRV: usize = 8;
    pub const QQIC: usize = 9;
    pub const NUM_SOURCES: usize = 10;
    pub const SOURCES: usize = 12;
    // v3 report
    pub const NUM_RECORDS: usize = 6;
    pub const RECORDS: usize = 8;
}

/// An IGMP version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// RFC 1112.
    V1,
    /// RFC 2236.
    V2,
    /// RFC 3376.
    V3,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::V1 => f.write_str("IGMPv1"),
            Version::V2 => f.write_str("IGMPv2"),
            Version::V3 => f.write_str("IGMPv3"),
        }
    }
}

/// The version of a query of `len` bytes (RFC 3376 §7.1): 8 bytes with Max Resp Code 0 is v1, 8 bytes otherwise
/// v2, 12 bytes or more v3; any other length is no valid query and must be ignored (`None`).
pub fn query_version(len: usize, max_resp_code: u8) -> Option<Version> {
    match len {
        HEADER_LEN if max_resp_code == 0 => Some(Version::V1),
        HEADER_LEN => Some(Version::V2),
        len if len >= V3_QUERY_HEADER_LEN => Some(Version::V3),
        _ => None,
    }
}

/// A view of an IGMP message (the IP payload).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    view_constructors!("A view whose fields, sources and records all lie inside `buffer`.");

    membership_readers!(addr: Ipv4Addr, query: "v3 query", report: "v3 report");

    /// Checks the 8-byte header, and for a v3 query its sources, for a v3 report its records, against the buffer.
    pub fn check_len(&self) -> Result<()> {
        let buf = self.buffer.as_ref();
        need(buf, HEADER_LEN)?;
        match self.msg_type() {
            message_type::MEMBERSHIP_QUERY if buf.len() >= V3_QUERY_HEADER_LEN => {
                parse_sources::<Ipv4Addr>(tail(buf, field::SOURCES), self.num_sources()).map(drop)
            }
            message_type::V3_REPORT => {
                check_records::<Ipv4Addr>(tail(buf, field::RECORDS), self.num_records()).map(drop)
            }
            _ => Ok(()),
        }
    }

    /// The Max Resp Code field (v2: Max Resp Time in tenths of a second; v1: unused, zero).
    pub fn max_resp_code(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::MAX_RESP_CODE)
    }

    /// The Group Address field (not in a v3 report).
    pub fn group_addr(&self) -> Ipv4Addr {
        v4_at(self.buffer.as_ref(), field::GROUP)
    }

    /// The checksum the message should carry.
    pub fn expected_checksum(&self) -> u16 {
        let buf = self.buffer.as_ref();
        !checksum::combine(&[checksum::data(range(buf, 0, field::CHECKSUM)), checksum::data(tail(buf, field::GROUP))])
    }

    /// Whether the checksum over the whole message is right.
    pub fn verify_checksum(&self) -> bool {
        checksum::data(self.buffer.as_ref()) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    membership_writers!(addr: Ipv4Addr, query: "v3 query");

    /// Sets the Max Resp Code field.
    pub fn set_max_resp_code(&mut self, value: u8) {
        set_u8(self.buffer.as_mut(), field::MAX_RESP_CODE, value);
    }

    /// Sets the Group Address field.
    pub fn set_group_addr(&mut self, addr: Ipv4Addr) {
        addr.write(self.buffer.as_mut(), field::GROUP);
    }

    /// v3 report: sets the reserved fields to zero and the Number of Group Records field.
    pub fn set_num_records(&mut self, value: u16) {
        set_u8(self.buffer.as_mut(), field::MAX_RESP_CODE, 0);
        set_u16(self.buffer.as_mut(), field::GROUP, 0);
        set_u16(self.buffer.as_mut(), field::NUM_RECORDS, value);
    }

    /// Computes the checksum over the whole buffer and stores it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::compute(self.buffer.as_ref());
        self.set_checksum(sum);
    }
}

/// An IGMPv3 query (RFC 3376 §4.1): general, group-specific or group-and-source-specific.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Query {
    /// Max Resp Code: the longest a host may wait before reporting, as a [`code`](super::code) in tenths of a
    /// second; see [`Query::max_resp_time`].
    pub max_resp_code: u8,
    /// The group asked about; unspecified (0.0.0.0) in a general query.
    pub group: Ipv4Addr,
    /// S flag: routers that hear this query suppress their timer updates.
    pub suppress: bool,
    /// Querier's Robustness Variable, 0..=7 (0: above 7, use the default).
    pub qrv: u8,
    /// Querier's Query Interval Code, a [`code`](super::code) in seconds; see [`Query::query_interval`].
    pub qqic: u8,
    /// The sources asked about (a group-and-source-specific query).
    pub sources: Vec<Ipv4Addr>,
}

impl Query {
    /// A general query as Linux's defaults would send it: max response 10 s, QRV 2, query interval 125 s.
    pub fn general() -> Self {
        Query { max_resp_code: 100, group: Ipv4Addr::UNSPECIFIED, suppress: false, qrv: 2, qqic: 125, sources: vec![] }
    }

    /// The maximum response time the code stands for.
    pub fn max_resp_time(&self) -> Duration {
        Duration::from_millis(u64::from(decode_float8(self.max_resp_code)) * 100)
    }

    /// The code for a maximum response time, rounded down to a tenth of a second and to what a code expresses.
    pub fn max_resp_code_for(time: Duration) -> u8 {
        encode_float8(u32::try_from(time.as_millis() / 100).unwrap_or(u32::MAX))
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

/// An IGMP message of any version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Repr {
    /// v1 query (8 bytes, Max Resp Code 0): always general.
    QueryV1,
    /// v2 query (8 bytes, Max Resp Time ≠ 0): general (group 0.0.0.0) or group-specific.
    QueryV2 {
        /// Max Resp Time in tenths of a second; must not be 0 (that would make it a v1 query).
        max_resp_time: u8,
        /// The group asked about, or unspecified.
        group: Ipv4Addr,
    },
    /// v3 query (12 bytes or more).
    QueryV3(Query),
    /// v1 Membership Report.
    ReportV1 {
        /// The group joined.
        group: Ipv4Addr,
    },
    /// v2 Membership Report.
    ReportV2 {
        /// The group joined.
        group: Ipv4Addr,
    },
    /// v2 Leave Group.
    Leave {
        /// The group left.
        group: Ipv4Addr,
    },
    /// v3 Membership Report: one record per group.
    ReportV3(Vec<GroupRecord<Ipv4Addr>>),
}

impl Repr {
    /// The message in a checked view. The checksum must be right, the type known, the group multicast (or
    /// unspecified in a query), and a query's length one that RFC 3376 §7.1 gives a version to.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Self> {
        // Lengths again, so that a view made without `new_checked` gives an error, not a shortened value.
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(Error::BadChecksum { expected: packet.expected_checksum(), found: packet.checksum() });
        }
        let group = packet.group_addr();
        match packet.msg_type() {
            message_type::MEMBERSHIP_QUERY => match query_version(packet.len(), packet.max_resp_code()) {
                Some(Version::V1) => Ok(Repr::QueryV1),
                Some(Version::V2) => {
                    Ok(Repr::QueryV2 { max_resp_time: packet.max_resp_code(), group: query_group(group)? })
                }
                Some(Version::V3) => Ok(Repr::QueryV3(packet.source_query()?)),
                None => Err(Error::BadLength { what: "IGMP query (8 or at least 12 bytes)", len: packet.len() }),
            },
            message_type::V1_REPORT => Ok(Repr::ReportV1 { group: report_group(group)? }),
            message_type::V2_REPORT => Ok(Repr::ReportV2 { group: report_group(group)? }),
            message_type::LEAVE_GROUP => Ok(Repr::Leave { group: report_group(group)? }),
            message_type::V3_REPORT => Ok(Repr::ReportV3(packet.report_records()?)),
            other => Err(Error::UnknownType(other)),
        }
    }

    /// The version of IGMP this message belongs to.
    pub fn version(&self) -> Version {
        match self {
            Repr::QueryV1 | Repr::ReportV1 { .. } => Version::V1,
            Repr::QueryV2 { .. } | Repr::ReportV2 { .. } | Repr::Leave { .. } => Version::V2,
            Repr::QueryV3(_) | Repr::ReportV3(_) => Version::V3,
        }
    }

    /// Whether this is a query.
    pub fn is_query(&self) -> bool {
        matches!(self, Repr::QueryV1 | Repr::QueryV2 { .. } | Repr::QueryV3(_))
    }

    /// How long hosts may wait before answering this query (v1: 10 s, RFC 2236 §4); `None` for other messages.
    pub fn max_resp_time(&self) -> Option<Duration> {
        match self {
            Repr::QueryV1 => Some(Duration::from_secs(10)),
            Repr::QueryV2 { max_resp_time, .. } => Some(Duration::from_millis(u64::from(*max_resp_time) * 100)),
            Repr::QueryV3(query) => Some(query.max_resp_time()),
            _ => None,
        }
    }

    /// The bytes [`Repr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Repr::QueryV3(query) => V3_QUERY_HEADER_LEN + 4 * query.sources.len(),
            Repr::ReportV3(records) => HEADER_LEN + records.iter().map(GroupRecord::buffer_len).sum::<usize>(),
            _ => HEADER_LEN,
        }
    }

    /// Writes the message, checksum included, at the start of `packet`'s buffer.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<()> {
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
            Repr::QueryV1 => simple(&mut out, message_type::MEMBERSHIP_QUERY, 0, Ipv4Addr::UNSPECIFIED),
            Repr::QueryV2 { max_resp_time, group } => {
                simple(&mut out, message_type::MEMBERSHIP_QUERY, *max_resp_time, *group)
            }
            Repr::ReportV1 { group } => simple(&mut out, message_type::V1_REPORT, 0, *group),
            Repr::ReportV2 { group } => simple(&mut out, message_type::V2_REPORT, 0, *group),
            Repr::Leave { group } => simple(&mut out, message_type::LEAVE_GROUP, 0, *group),
            Repr::QueryV3(query) => {
                out.emit_query_tail(query.suppress, query.qrv, query.qqic, &query.sources)?;
                simple(&mut out, message_type::MEMBERSHIP_QUERY, query.max_resp_code, query.group);
            }
            Repr::ReportV3(records) => out.emit_report(message_type::V3_REPORT, records)?,
        }
        out.fill_checksum();
        Ok(())
    }

    /// The message as bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut bytes = vec![0u8; self.buffer_len()];
        self.emit(&mut Packet::new_unchecked(&mut bytes[..]))?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests;
