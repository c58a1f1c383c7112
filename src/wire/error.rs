//! What can be wrong with bytes that claim to be an IPv4 header, an IGMP or an MLD message.

use std::fmt;
use std::net::IpAddr;

/// Why bytes did not parse (or a buffer was too small to emit into). Each variant carries what a reader needs to
/// find the fault in a packet dump.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The buffer ends before the message does: `need` bytes were required, `have` were there.
    Truncated {
        /// Bytes the message needs up to the field that did not fit.
        need: usize,
        /// Bytes in the buffer.
        have: usize,
    },
    /// The checksum field disagrees with the bytes.
    BadChecksum {
        /// The checksum the bytes add up to.
        expected: u16,
        /// The checksum in the message.
        found: u16,
    },
    /// A message type this protocol does not define (or that is not a membership message).
    UnknownType(u8),
    /// A length that no message of this type may have (an IGMP query of 10 bytes, an MLD query of 26).
    BadLength {
        /// The message, by name.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// An IPv4 header whose version field is not 4.
    BadVersion(u8),
    /// An IPv4 header length (IHL × 4) below 20 bytes.
    BadHeaderLength(usize),
    /// An IPv4 total length smaller than the header it contains.
    BadTotalLength {
        /// The total length field.
        total: usize,
        /// The header length.
        header: usize,
    },
    /// A malformed IPv4 option: its length byte is below 2 or runs past the header.
    BadOption {
        /// Offset of the option within the options area.
        offset: usize,
        /// The option type.
        kind: u8,
    },
    /// More options than an IPv4 header can hold (40 bytes).
    OptionsTooLong(usize),
    /// A fragment of an IPv4 datagram: its payload is not a whole message.
    Fragmented,
    /// An IPv4 datagram that does not carry the expected protocol.
    WrongProtocol(u8),
    /// A report's record count promises more records than the message holds.
    RecordCountTooLarge {
        /// The count in the message header.
        count: u16,
        /// How many whole records the message holds.
        fit: usize,
    },
    /// A query or record promises more sources than its bytes hold.
    SourceCountTooLarge {
        /// The number-of-sources field.
        count: u16,
        /// How many sources fit in the bytes that are there.
        fit: usize,
    },
    /// A group field that should be a multicast address (or zero in a general query) and is not.
    NotMulticast(IpAddr),
    /// A value that cannot be encoded in its field (a QRV above 7, more than 65535 sources).
    Unencodable(&'static str),
    /// An mcast tool datagram whose first four bytes are not `MCST`: some other protocol's datagram.
    BadMagic,
    /// An mcast tool header of a version this code does not read.
    UnsupportedVersion(u8),
    /// An mcast tool header whose payload length disagrees with the bytes that follow it.
    PayloadLength {
        /// Payload length the header declares.
        declared: usize,
        /// Payload bytes present.
        actual: usize,
    },
    /// A buffer too small to write into, or a payload too large for its length field.
    NoRoom {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// A discover answer's body is malformed.
    BadAnswer(&'static str),
    /// A PIM message that is not a sound Hello.
    BadHello(&'static str),
}

/// The result of parsing or emitting a wire format.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { need, have } => write!(f, "truncated: {need} bytes needed, {have} present"),
            Error::BadChecksum { expected, found } => {
                write!(f, "bad checksum: expected {expected:#06x}, found {found:#06x}")
            }
            Error::UnknownType(t) => write!(f, "unknown message type {t} ({t:#04x})"),
            Error::BadLength { what, len } => write!(f, "bad length: {len} bytes is not a valid {what}"),
            Error::BadVersion(v) => write!(f, "IP version {v} where 4 was expected"),
            Error::BadHeaderLength(len) => write!(f, "IPv4 header length {len} below the minimum of 20"),
            Error::BadTotalLength { total, header } => {
                write!(f, "IPv4 total length {total} smaller than its {header}-byte header")
            }
            Error::BadOption { offset, kind } => {
                write!(f, "malformed IPv4 option {kind} at offset {offset} of the options")
            }
            Error::OptionsTooLong(len) => write!(f, "IPv4 options take {len} bytes, at most 40 fit in a header"),
            Error::Fragmented => write!(f, "IPv4 fragment: the payload is not a whole message"),
            Error::WrongProtocol(p) => write!(f, "IPv4 protocol {p} where IGMP (2) was expected"),
            Error::RecordCountTooLarge { count, fit } => {
                write!(f, "record count {count} larger than the packet: only {fit} whole records fit")
            }
            Error::SourceCountTooLarge { count, fit } => {
                write!(f, "source count {count} larger than the packet: only {fit} sources fit")
            }
            Error::NotMulticast(addr) => write!(f, "group {addr} is not a multicast address"),
            Error::Unencodable(what) => write!(f, "cannot encode: {what}"),
            Error::BadMagic => f.write_str("not an mcast datagram (magic is not MCST)"),
            Error::UnsupportedVersion(v) => {
                write!(f, "mcast header version {v} is not supported (this is version {})", crate::wire::proto::VERSION)
            }
            Error::PayloadLength { declared, actual } => {
                write!(f, "header declares {declared} payload bytes but {actual} follow it")
            }
            Error::NoRoom { needed, available } => write!(f, "need {needed} bytes, have room for {available}"),
            Error::BadAnswer(why) => write!(f, "malformed discover answer: {why}"),
            Error::BadHello(why) => write!(f, "malformed PIM hello: {why}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for crate::Error {
    fn from(err: Error) -> Self {
        crate::Error::new(crate::ErrorKind::Parse, err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_numbers() {
        assert_eq!(Error::Truncated { need: 12, have: 9 }.to_string(), "truncated: 12 bytes needed, 9 present");
        assert_eq!(
            Error::BadChecksum { expected: 0x1234, found: 0xabcd }.to_string(),
            "bad checksum: expected 0x1234, found 0xabcd"
        );
        assert_eq!(Error::UnknownType(0x13).to_string(), "unknown message type 19 (0x13)");
        assert_eq!(
            Error::RecordCountTooLarge { count: 5, fit: 1 }.to_string(),
            "record count 5 larger than the packet: only 1 whole records fit"
        );
        let e: crate::Error = Error::UnknownType(1).into();
        assert_eq!(e.kind(), crate::ErrorKind::Parse);
    }
}
