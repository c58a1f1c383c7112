//! The IPv4 header ([RFC 791 §3.1](https://www.rfc-editor.org/rfc/rfc791#section-3.1)) with its options, among
//! them Router Alert ([RFC 2113](https://www.rfc-editor.org/rfc/rfc2113)), which every IGMP message carries so
//! that routers look at datagrams addressed to groups they are not members of.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version|  IHL  |Type of Service|          Total Length         |
//! |         Identification        |Flags|      Fragment Offset    |
//! |  Time to Live |    Protocol   |         Header Checksum       |
//! |                       Source Address                          |
//! |                    Destination Address                        |
//! |                    Options                    |    Padding    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Linux hands a raw socket the header as it arrived, total length in network byte order and options included.

use std::net::Ipv4Addr;

use super::bytes::{need, range, set_bytes, set_u16, set_u8, tail, u16_at, u8_at, v4_at};
use super::{checksum, Error, Result};

mod option;
pub use option::{option_kind, Ipv4Option, Options};

/// The IPv4 protocol number of IGMP.
pub const PROTOCOL_IGMP: u8 = 2;
/// The length of a header without options.
pub const MIN_HEADER_LEN: usize = 20;
/// The most option bytes a header holds (IHL 15 × 4 − 20).
pub const MAX_OPTIONS_LEN: usize = 40;
/// The type of service IGMP is sent with: precedence 6, "internetwork control" (DSCP CS6), as Linux does.
pub const TOS_INTERNETWORK_CONTROL: u8 = 0xc0;

mod field {
    use std::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLG_OFF: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
}

/// A view of an IPv4 header and the payload its total length covers.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    view_constructors!("A view whose header, options and total length all lie inside `buffer`.");

    /// Checks the header length (IHL) and the total length against each other and against the buffer. Bytes past
    /// the total length (link-layer padding) are allowed and ignored.
    pub fn check_len(&self) -> Result<()> {
        let buf = self.buffer.as_ref();
        need(buf, MIN_HEADER_LEN)?;
        let header = self.header_len();
        if header < MIN_HEADER_LEN {
            return Err(Error::BadHeaderLength(header));
        }
        need(buf, header)?;
        let total = usize::from(self.total_len());
        if total < header {
            return Err(Error::BadTotalLength { total, header });
        }
        need(buf, total)
    }

    /// The Version field (4 for IPv4).
    pub fn version(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::VER_IHL) >> 4
    }

    /// The header length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        usize::from(u8_at(self.buffer.as_ref(), field::VER_IHL) & 0x0f) * 4
    }

    /// The Type of Service byte (DSCP and ECN).
    pub fn tos(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::TOS)
    }

    /// The Total Length field: header and payload.
    pub fn total_len(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::LENGTH)
    }

    /// The Identification field.
    pub fn ident(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::IDENT)
    }

    /// The Don't Fragment flag.
    pub fn dont_frag(&self) -> bool {
        u16_at(self.buffer.as_ref(), field::FLG_OFF) & 0x4000 != 0
    }

    /// The More Fragments flag.
    pub fn more_frags(&self) -> bool {
        u16_at(self.buffer.as_ref(), field::FLG_OFF) & 0x2000 != 0
    }

    /// The fragment offset, in bytes.
    pub fn frag_offset(&self) -> usize {
        usize::from(u16_at(self.buffer.as_ref(), field::FLG_OFF) & 0x1fff) * 8
    }

    /// The Time to Live field.
    pub fn ttl(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::TTL)
    }

    /// The Protocol field.
    pub fn protocol(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::PROTOCOL)
    }

    /// The Header Checksum field.
    pub fn checksum(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// The Source Address field.
    pub fn src_addr(&self) -> Ipv4Addr {
        v4_at(self.buffer.as_ref(), field::SRC)
    }

    /// The Destination Address field.
    pub fn dst_addr(&self) -> Ipv4Addr {
        v4_at(self.buffer.as_ref(), field::DST)
    }

    /// The header, options included.
    pub fn header(&self) -> &[u8] {
        range(self.buffer.as_ref(), 0, self.header_len())
    }

    /// The options area, padding included.
    pub fn options(&self) -> &[u8] {
        range(self.buffer.as_ref(), MIN_HEADER_LEN, self.header_len())
    }

    /// The payload, up to the total length.
    pub fn payload(&self) -> &[u8] {
        range(self.buffer.as_ref(), self.header_len(), usize::from(self.total_len()))
    }

    /// The checksum the header should carry: its sum with the checksum field counted as zero.
    pub fn expected_checksum(&self) -> u16 {
        let header = self.header();
        let before = checksum::data(range(header, 0, field::CHECKSUM.start));
        !checksum::combine(&[before, checksum::data(tail(header, field::CHECKSUM.end))])
    }

    /// Whether the header checksum is right.
    pub fn verify_checksum(&self) -> bool {
        checksum::data(self.header()) == 0xffff
    }

    /// The options, in order, up to End of Option List.
    pub fn option_iter(&self) -> Options<'_> {
        Options::new(self.options())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets Version to 4 and IHL to `header_len` / 4.
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        let ihl = u8::try_from(header_len / 4).unwrap_or(0x0f).min(0x0f);
        set_u8(self.buffer.as_mut(), field::VER_IHL, 0x40 | ihl);
    }

    /// Sets the Type of Service byte.
    pub fn set_tos(&mut self, value: u8) {
        set_u8(self.buffer.as_mut(), field::TOS, value);
    }

    /// Sets the Total Length field.
    pub fn set_total_len(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::LENGTH, value);
    }

    /// Sets the Identification field.
    pub fn set_ident(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::IDENT, value);
    }

    /// Sets the flags and fragment offset: Don't Fragment as given, no fragmentation.
    pub fn set_dont_frag_unfragmented(&mut self, dont_frag: bool) {
        set_u16(self.buffer.as_mut(), field::FLG_OFF, if dont_frag { 0x4000 } else { 0 });
    }

    /// Sets the Time to Live field.
    pub fn set_ttl(&mut self, value: u8) {
        set_u8(self.buffer.as_mut(), field::TTL, value);
    }

    /// Sets the Protocol field.
    pub fn set_protocol(&mut self, value: u8) {
        set_u8(self.buffer.as_mut(), field::PROTOCOL, value);
    }

    /// Sets the Header Checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM.start, value);
    }

    /// Sets the Source Address field.
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        set_bytes(self.buffer.as_mut(), field::SRC, &addr.octets());
    }

    /// Sets the Destination Address field.
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        set_bytes(self.buffer.as_mut(), field::DST, &addr.octets());
    }

    /// Computes the header checksum over the header as it is and stores it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::compute(self.header());
        self.set_checksum(sum);
    }
}

/// The fields of an unfragmented IPv4 header.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Protocol of the payload ([`PROTOCOL_IGMP`] for IGMP).
    pub protocol: u8,
    /// Time to live.
    pub ttl: u8,
    /// Type of service (DSCP and ECN).
    pub tos: u8,
    /// Identification.
    pub ident: u16,
    /// Don't Fragment flag.
    pub dont_frag: bool,
    /// The options, without End of Option List and padding.
    pub options: Vec<Ipv4Option>,
    /// Length of the payload that follows the header.
    pub payload_len: usize,
}

impl Repr {
    /// The header an IGMP message of `payload_len` bytes is sent with: TTL 1, TOS 0xc0, Don't Fragment, Router
    /// Alert (RFC 2236 §2 and RFC 3376 §4 require TTL 1 and Router Alert).
    pub fn igmp(src: Ipv4Addr, dst: Ipv4Addr, payload_len: usize) -> Self {
        Repr {
            src,
            dst,
            protocol: PROTOCOL_IGMP,
            ttl: 1,
            tos: TOS_INTERNETWORK_CONTROL,
            ident: 0,
            dont_frag: true,
            options: vec![Ipv4Option::RouterAlert(0)],
            payload_len,
        }
    }

    /// The header in a checked view: version 4, checksum right, not a fragment, options well formed.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Self> {
        // Lengths again, so that a view made without `new_checked` gives an error, not a shortened value.
        packet.check_len()?;
        if packet.version() != 4 {
            return Err(Error::BadVersion(packet.version()));
        }
        if !packet.verify_checksum() {
            return Err(Error::BadChecksum { expected: packet.expected_checksum(), found: packet.checksum() });
        }
        if packet.more_frags() || packet.frag_offset() != 0 {
            return Err(Error::Fragmented);
        }
        Ok(Repr {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            protocol: packet.protocol(),
            ttl: packet.ttl(),
            tos: packet.tos(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
            options: packet.option_iter().collect::<Result<_>>()?,
            payload_len: packet.payload().len(),
        })
    }

    /// The first Router Alert option's value, if the header has one.
    pub fn router_alert(&self) -> Option<u16> {
        self.options.iter().find_map(|o| match o {
            Ipv4Option::RouterAlert(value) => Some(*value),
            _ => None,
        })
    }

    fn options_len(&self) -> usize {
        self.options.iter().map(Ipv4Option::buffer_len).sum()
    }

    /// The header length: 20 bytes and the options, padded to a multiple of 4.
    pub fn header_len(&self) -> usize {
        MIN_HEADER_LEN + self.options_len().div_ceil(4) * 4
    }

    /// The bytes [`Repr::emit`] writes: the header (as in smoltcp, the payload is the caller's).
    pub fn buffer_len(&self) -> usize {
        self.header_len()
    }

    /// Header and payload: the Total Length field.
    pub fn total_len(&self) -> usize {
        self.header_len() + self.payload_len
    }

    /// Writes the header, checksum included, at the start of `packet`'s buffer; the payload is not touched.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<()> {
        let mut options = Vec::with_capacity(MAX_OPTIONS_LEN);
        for option in &self.options {
            option.emit(&mut options)?;
        }
        if options.len() > MAX_OPTIONS_LEN {
            return Err(Error::OptionsTooLong(options.len()));
        }
        options.resize(options.len().div_ceil(4) * 4, option_kind::END);
        let header_len = MIN_HEADER_LEN + options.len();
        let total = u16::try_from(header_len + self.payload_len)
            .map_err(|_| Error::Unencodable("an IPv4 total length above 65535"))?;
        need(packet.buffer.as_ref(), header_len)?;
        packet.set_version_and_header_len(header_len);
        packet.set_tos(self.tos);
        packet.set_total_len(total);
        packet.set_ident(self.ident);
        packet.set_dont_frag_unfragmented(self.dont_frag);
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src);
        packet.set_dst_addr(self.dst);
        set_bytes(packet.buffer.as_mut(), MIN_HEADER_LEN, &options);
        packet.fill_checksum();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
