//! Group records of IGMPv3 reports ([RFC 3376 §4.2.4](https://www.rfc-editor.org/rfc/rfc3376#section-4.2.4)) and
//! multicast address records of MLDv2 reports ([RFC 3810 §5.2.4](https://www.rfc-editor.org/rfc/rfc3810#section-5.2.4)).
//!
//! Both have one layout, differing only in the address size, so both are one type generic over [`WireAddr`]:
//!
//! ```text
//!  0               1               2               3
//! +---------------+---------------+-------------------------------+
//! |  Record Type  | Aux Data Len  |     Number of Sources (N)     |
//! +---------------+---------------+-------------------------------+
//! |             Multicast Address (4 or 16 bytes)                 |
//! +---------------------------------------------------------------+
//! |             Source Address [1..N] (4 or 16 bytes each)        |
//! +---------------------------------------------------------------+
//! |             Auxiliary Data (Aux Data Len 32-bit words)        |
//! +---------------------------------------------------------------+
//! ```
//!
//! Neither protocol defines auxiliary data, and receivers must ignore it (RFC 3376 §4.2.6, RFC 3810 §5.2.6): the
//! view shows it and checks that it fits, the [`GroupRecord`] representation drops it and emits none.

use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::bytes::{range, set_bytes, set_u16, set_u8, tail, u16_at, u8_at, v4_at, v6_at};
use super::{Error, Result};

mod sealed {
    pub trait Sealed {}
    impl Sealed for std::net::Ipv4Addr {}
    impl Sealed for std::net::Ipv6Addr {}
}

/// An address as it appears on the wire: [`Ipv4Addr`] in IGMP, [`Ipv6Addr`] in MLD.
pub trait WireAddr: sealed::Sealed + Copy + Eq + Ord + Hash + fmt::Debug + fmt::Display + Into<IpAddr> {
    /// Its size in bytes.
    const LEN: usize;
    /// The address at `at` in `buf` (zero past the end).
    fn read(buf: &[u8], at: usize) -> Self;
    /// Writes the address at `at` in `buf` (nothing past the end).
    fn write(&self, buf: &mut [u8], at: usize);
    /// Whether it is a multicast address.
    fn is_multicast_addr(&self) -> bool;
    /// Whether it is the all-zero address.
    fn is_unspecified_addr(&self) -> bool;
}

impl WireAddr for Ipv4Addr {
    const LEN: usize = 4;
    fn read(buf: &[u8], at: usize) -> Self {
        v4_at(buf, at)
    }
    fn write(&self, buf: &mut [u8], at: usize) {
        set_bytes(buf, at, &self.octets());
    }
    fn is_multicast_addr(&self) -> bool {
        self.is_multicast()
    }
    fn is_unspecified_addr(&self) -> bool {
        self.is_unspecified()
    }
}

impl WireAddr for Ipv6Addr {
    const LEN: usize = 16;
    fn read(buf: &[u8], at: usize) -> Self {
        v6_at(buf, at)
    }
    fn write(&self, buf: &mut [u8], at: usize) {
        set_bytes(buf, at, &self.octets());
    }
    fn is_multicast_addr(&self) -> bool {
        self.is_multicast()
    }
    fn is_unspecified_addr(&self) -> bool {
        self.is_unspecified()
    }
}

/// `group` if it may stand in a query: multicast, or unspecified in a general query.
pub(crate) fn query_group<A: WireAddr>(group: A) -> Result<A> {
    if group.is_unspecified_addr() || group.is_multicast_addr() {
        Ok(group)
    } else {
        Err(Error::NotMulticast(group.into()))
    }
}

/// `group` if it may stand in a report or a leave: multicast.
pub(crate) fn report_group<A: WireAddr>(group: A) -> Result<A> {
    if group.is_multicast_addr() {
        Ok(group)
    } else {
        Err(Error::NotMulticast(group.into()))
    }
}

/// What a group record says (RFC 3376 §4.2.12, RFC 3810 §5.2.12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordType {
    /// 1, current state: receive only from the listed sources.
    ModeIsInclude,
    /// 2, current state: receive from all but the listed sources.
    ModeIsExclude,
    /// 3, a change: now INCLUDE the listed sources (with none listed: the host left the group).
    ChangeToInclude,
    /// 4, a change: now EXCLUDE the listed sources (with none listed: a plain any-source join).
    ChangeToExclude,
    /// 5, a change: also receive from the listed sources.
    AllowNewSources,
    /// 6, a change: stop receiving from the listed sources.
    BlockOldSources,
    /// Any other value; receivers ignore such records (RFC 3376 §4.2.12), and it is kept so that it can be shown.
    Unknown(u8),
}

impl From<u8> for RecordType {
    fn from(value: u8) -> Self {
        match value {
            1 => RecordType::ModeIsInclude,
            2 => RecordType::ModeIsExclude,
            3 => RecordType::ChangeToInclude,
            4 => RecordType::ChangeToExclude,
            5 => RecordType::AllowNewSources,
            6 => RecordType::BlockOldSources,
            other => RecordType::Unknown(other),
        }
    }
}

impl From<RecordType> for u8 {
    fn from(value: RecordType) -> Self {
        match value {
            RecordType::ModeIsInclude => 1,
            RecordType::ModeIsExclude => 2,
            RecordType::ChangeToInclude => 3,
            RecordType::ChangeToExclude => 4,
            RecordType::AllowNewSources => 5,
            RecordType::BlockOldSources => 6,
            RecordType::Unknown(other) => other,
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordType::ModeIsInclude => f.write_str("MODE_IS_INCLUDE"),
            RecordType::ModeIsExclude => f.write_str("MODE_IS_EXCLUDE"),
            RecordType::ChangeToInclude => f.write_str("CHANGE_TO_INCLUDE_MODE"),
            RecordType::ChangeToExclude => f.write_str("CHANGE_TO_EXCLUDE_MODE"),
            RecordType::AllowNewSources => f.write_str("ALLOW_NEW_SOURCES"),
            RecordType::BlockOldSources => f.write_str("BLOCK_OLD_SOURCES"),
            RecordType::Unknown(t) => write!(f, "record type {t}"),
        }
    }
}

mod field {
    pub const RECORD_TYPE: usize = 0;
    pub const AUX_DATA_LEN: usize = 1;
    pub const NUM_SOURCES: usize = 2;
    pub const GROUP: usize = 4;
}

/// A view of one group record in `buffer`.
#[derive(Debug, Clone)]
pub struct RecordPacket<T: AsRef<[u8]>, A: WireAddr> {
    buffer: T,
    addr: PhantomData<A>,
}

impl<T: AsRef<[u8]>, A: WireAddr> RecordPacket<T, A> {
    /// A view without checks; accessors read zero past the end of the buffer.
    pub fn new_unchecked(buffer: T) -> Self {
        RecordPacket { buffer, addr: PhantomData }
    }

    /// A view of a record that fits in `buffer`, sources and auxiliary data included.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the header, the sources and the auxiliary data all lie inside the buffer.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        let header = Self::header_len();
        if len < header {
            return Err(Error::Truncated { need: header, have: len });
        }
        let count = self.num_sources();
        let with_sources = header + A::LEN * usize::from(count);
        if len < with_sources {
            return Err(Error::SourceCountTooLarge { count, fit: (len - header) / A::LEN });
        }
        if len < self.total_len() {
            return Err(Error::Truncated { need: self.total_len(), have: len });
        }
        Ok(())
    }

    /// The length of the fixed part: type, aux length, count and group address.
    pub const fn header_len() -> usize {
        field::GROUP + A::LEN
    }

    /// The length of the whole record: header, sources and auxiliary data.
    pub fn total_len(&self) -> usize {
        Self::header_len() + A::LEN * usize::from(self.num_sources()) + 4 * usize::from(self.aux_data_len())
    }

    /// The Record Type field.
    pub fn record_type(&self) -> RecordType {
        RecordType::from(u8_at(self.buffer.as_ref(), field::RECORD_TYPE))
    }

    /// The Aux Data Len field, in 32-bit words.
    pub fn aux_data_len(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::AUX_DATA_LEN)
    }

    /// The Number of Sources field.
    pub fn num_sources(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::NUM_SOURCES)
    }

    /// The Multicast Address field.
    pub fn group(&self) -> A {
        A::read(self.buffer.as_ref(), field::GROUP)
    }

    /// The sources, in order (on an unchecked view, only those inside the buffer).
    pub fn sources(&self) -> impl Iterator<Item = A> + '_ {
        sources_at(self.buffer.as_ref(), Self::header_len(), self.num_sources())
    }

    /// The auxiliary data (clipped to the buffer).
    pub fn aux_data(&self) -> &[u8] {
        let start = Self::header_len() + A::LEN * usize::from(self.num_sources());
        range(self.buffer.as_ref(), start, self.total_len())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>, A: WireAddr> RecordPacket<T, A> {
    /// Sets the Record Type field.
    pub fn set_record_type(&mut self, value: RecordType) {
        set_u8(self.buffer.as_mut(), field::RECORD_TYPE, value.into());
    }

    /// Sets the Aux Data Len field.
    pub fn set_aux_data_len(&mut self, words: u8) {
        set_u8(self.buffer.as_mut(), field::AUX_DATA_LEN, words);
    }

    /// Sets the Number of Sources field.
    pub fn set_num_sources(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::NUM_SOURCES, value);
    }

    /// Sets the Multicast Address field.
    pub fn set_group(&mut self, addr: A) {
        addr.write(self.buffer.as_mut(), field::GROUP);
    }

    /// Sets source `index` (counted from 0).
    pub fn set_source(&mut self, index: usize, addr: A) {
        addr.write(self.buffer.as_mut(), Self::header_len() + A::LEN * index);
    }
}

/// A group record: a type, a group and its sources.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupRecord<A> {
    /// What the record says.
    pub record_type: RecordType,
    /// The group.
    pub group: A,
    /// The sources the record lists.
    pub sources: Vec<A>,
}

impl<A: WireAddr> GroupRecord<A> {
    /// The record in a checked view; its group must be multicast.
    pub fn parse<T: AsRef<[u8]>>(packet: &RecordPacket<T, A>) -> Result<Self> {
        let group = packet.group();
        if !group.is_multicast_addr() {
            return Err(Error::NotMulticast(group.into()));
        }
        Ok(GroupRecord { record_type: packet.record_type(), group, sources: packet.sources().collect() })
    }

    /// The bytes this record takes: header and sources, no auxiliary data.
    pub fn buffer_len(&self) -> usize {
        RecordPacket::<&[u8], A>::header_len() + A::LEN * self.sources.len()
    }

    /// Writes the record at the start of `packet`'s buffer.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut RecordPacket<T, A>) -> Result<()> {
        let count = u16::try_from(self.sources.len()).map_err(|_| Error::Unencodable("more than 65535 sources"))?;
        let have = packet.buffer.as_ref().len();
        if have < self.buffer_len() {
            return Err(Error::Truncated { need: self.buffer_len(), have });
        }
        packet.set_record_type(self.record_type);
        packet.set_aux_data_len(0);
        packet.set_num_sources(count);
        packet.set_group(self.group);
        for (i, source) in self.sources.iter().enumerate() {
            packet.set_source(i, *source);
        }
        Ok(())
    }
}

/// The records of a report, walked from its first record; stops after the first error.
#[derive(Debug, Clone)]
pub struct Records<'a, A> {
    buf: &'a [u8],
    offset: usize,
    index: u16,
    count: u16,
    addr: PhantomData<A>,
}

impl<'a, A: WireAddr> Records<'a, A> {
    /// The `count` records that `buf` (the bytes after the report header) should hold.
    pub fn new(buf: &'a [u8], count: u16) -> Self {
        Records { buf, offset: 0, index: 0, count, addr: PhantomData }
    }
}

impl<'a, A: WireAddr> Iterator for Records<'a, A> {
    type Item = Result<RecordPacket<&'a [u8], A>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.index >= self.count {
            return None;
        }
        let rest = tail(self.buf, self.offset);
        if rest.len() < RecordPacket::<&[u8], A>::header_len() {
            let fit = usize::from(self.index);
            self.index = self.count;
            return Some(Err(Error::RecordCountTooLarge { count: self.count, fit }));
        }
        match RecordPacket::<&[u8], A>::new_checked(rest) {
            Ok(record) => {
                let len = record.total_len();
                self.offset += len;
                self.index += 1;
                Some(Ok(RecordPacket::new_unchecked(range(rest, 0, len))))
            }
            Err(err) => {
                self.index = self.count;
                Some(Err(err))
            }
        }
    }
}

/// Checks that `count` records fit in `buf` and returns the bytes they take.
pub(crate) fn check_records<A: WireAddr>(buf: &[u8], count: u16) -> Result<usize> {
    let mut len = 0;
    for record in Records::<A>::new(buf, count) {
        len += record?.total_len();
    }
    Ok(len)
}

/// The records of a report, each with a multicast group.
pub(crate) fn parse_records<A: WireAddr>(buf: &[u8], count: u16) -> Result<Vec<GroupRecord<A>>> {
    Records::<A>::new(buf, count).map(|record| GroupRecord::parse(&record?)).collect()
}

/// Writes `records` one after the other into `buf`; returns the bytes written.
pub(crate) fn emit_records<A: WireAddr>(records: &[GroupRecord<A>], buf: &mut [u8]) -> Result<usize> {
    let mut offset = 0;
    for record in records {
        let rest = buf.get_mut(offset..).unwrap_or(&mut []);
        record.emit(&mut RecordPacket::new_unchecked(rest))?;
        offset += record.buffer_len();
    }
    Ok(offset)
}

/// The first `count` addresses from `at` in `buf`, as many as lie inside it.
pub(crate) fn sources_at<A: WireAddr>(buf: &[u8], at: usize, count: u16) -> impl Iterator<Item = A> + '_ {
    let fit = tail(buf, at).len() / A::LEN;
    (0..usize::from(count).min(fit)).map(move |i| A::read(buf, at + A::LEN * i))
}

/// `count` source addresses at the start of `buf`.
pub(crate) fn parse_sources<A: WireAddr>(buf: &[u8], count: u16) -> Result<Vec<A>> {
    let fit = buf.len() / A::LEN;
    if fit < usize::from(count) {
        return Err(Error::SourceCountTooLarge { count, fit });
    }
    Ok((0..usize::from(count)).map(|i| A::read(buf, A::LEN * i)).collect())
}

#[cfg(test)]
mod tests;
