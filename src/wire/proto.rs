//! The tools' datagram header: every datagram `mcast ping`, `perf`, `discover` and `responder` send starts
//! with these 28 bytes, all integers in network byte order (`docs/protocol.md` has the table).
//!
//! ```text
//!  0      4        5      6          8            12               20               28
//!  +------+--------+------+----------+------------+----------------+----------------+---------
//!  | MCST | version| type | payload  | session id | sequence (u64) | send time (ns) | payload
//!  |      |   1    |      | len u16  |    u32     |                |  since epoch   |
//!  +------+--------+------+----------+------------+----------------+----------------+---------
//! ```
//!
//! Parsing follows smoltcp's `wire` modules: [`Packet`] is a view over bytes whose [`Packet::new_checked`]
//! proves the length, [`Repr`] is the parsed meaning with [`Repr::parse`], [`Repr::emit`] and
//! [`Repr::buffer_len`]. The decoder is total: any bytes give a value or an [`Error`], never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::bytes::{array_at, set_bytes, tail, u8_at};
use super::{Error, Result};

/// The four bytes every datagram starts with: ASCII `MCST`.
pub const MAGIC: [u8; 4] = *b"MCST";
/// The header version this code writes and reads.
pub const VERSION: u8 = 1;
/// Header length in bytes.
pub const HEADER_LEN: usize = field::SEND_TIME.end;
/// The largest payload a header can declare (and the most a UDP/IPv4 datagram can carry after the header).
pub const MAX_PAYLOAD: usize = 65_507 - HEADER_LEN;

/// Offset of the type byte in the header.
pub const KIND_AT: usize = field::KIND;
/// Offset of the session id (4 bytes) in the header.
pub const SESSION_AT: usize = field::SESSION.start;

/// Byte ranges of the header fields.
mod field {
    use std::ops::Range;
    pub const MAGIC: Range<usize> = 0..4;
    pub const VERSION: usize = 4;
    pub const KIND: usize = 5;
    pub const PAYLOAD_LEN: Range<usize> = 6..8;
    pub const SESSION: Range<usize> = 8..12;
    pub const SEQ: Range<usize> = 12..20;
    pub const SEND_TIME: Range<usize> = 20..28;
}

/// What a datagram is (the header's type byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// `mcast ping` probe, sent to the group.
    PingRequest = 1,
    /// A responder's answer to a probe, sent to the group.
    PingReplyMulticast = 2,
    /// A responder's answer to a probe, sent by unicast to the prober.
    PingReplyUnicast = 3,
    /// `mcast perf` load.
    PerfData = 4,
    /// `mcast perf` end of a run; its sequence number is the count of data datagrams sent.
    PerfEnd = 5,
    /// `mcast discover` query; its sequence number is the TTL (hop limit) it was sent with.
    DiscoverQuery = 6,
    /// `mcast responder` answer, by unicast; the payload is an [`Answer`].
    DiscoverAnswer = 7,
}

impl Kind {
    /// Every kind, in type-byte order.
    pub const ALL: [Kind; 7] = [
        Kind::PingRequest,
        Kind::PingReplyMulticast,
        Kind::PingReplyUnicast,
        Kind::PerfData,
        Kind::PerfEnd,
        Kind::DiscoverQuery,
        Kind::DiscoverAnswer,
    ];

    /// The kind for a type byte.
    pub fn from_u8(v: u8) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| *k as u8 == v)
    }
}

/// A view of a buffer as an mcast datagram. Accessors never panic, even on a buffer that is too short
/// (they read missing bytes as zero); [`Packet::new_checked`] is how to know the fields are real.
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    view_constructors!("A view whose buffer holds a whole header and exactly the payload it declares.");

    /// Checks the length alone: a header, then exactly `payload_len` bytes.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated { need: HEADER_LEN, have: len });
        }
        let declared = self.payload_len() as usize;
        let actual = len - HEADER_LEN;
        if declared != actual {
            return Err(Error::PayloadLength { declared, actual });
        }
        Ok(())
    }

    /// The magic bytes.
    pub fn magic(&self) -> [u8; 4] {
        array_at(self.buffer.as_ref(), field::MAGIC.start)
    }

    /// The version byte.
    pub fn version(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::VERSION)
    }

    /// The raw type byte.
    pub fn kind_byte(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::KIND)
    }

    /// The declared payload length.
    pub fn payload_len(&self) -> u16 {
        u16::from_be_bytes(array_at(self.buffer.as_ref(), field::PAYLOAD_LEN.start))
    }

    /// The session id.
    pub fn session(&self) -> u32 {
        u32::from_be_bytes(array_at(self.buffer.as_ref(), field::SESSION.start))
    }

    /// The sequence number.
    pub fn seq(&self) -> u64 {
        u64::from_be_bytes(array_at(self.buffer.as_ref(), field::SEQ.start))
    }

    /// The send time, nanoseconds since the Unix epoch (`CLOCK_REALTIME`, the clock of `SO_TIMESTAMPNS`).
    pub fn send_time_ns(&self) -> u64 {
        u64::from_be_bytes(array_at(self.buffer.as_ref(), field::SEND_TIME.start))
    }

    /// The bytes after the header (empty if there are none).
    pub fn payload(&self) -> &[u8] {
        tail(self.buffer.as_ref(), HEADER_LEN)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn put(&mut self, at: usize, src: &[u8]) {
        set_bytes(self.buffer.as_mut(), at, src);
    }

    /// Writes magic and version.
    pub fn set_magic_version(&mut self) {
        self.put(field::MAGIC.start, &MAGIC);
        self.put(field::VERSION, &[VERSION]);
    }

    /// Writes the type byte.
    pub fn set_kind(&mut self, kind: Kind) {
        self.put(field::KIND, &[kind as u8]);
    }

    /// Writes the payload length.
    pub fn set_payload_len(&mut self, len: u16) {
        self.put(field::PAYLOAD_LEN.start, &len.to_be_bytes());
    }

    /// Writes the session id.
    pub fn set_session(&mut self, session: u32) {
        self.put(field::SESSION.start, &session.to_be_bytes());
    }

    /// Writes the sequence number.
    pub fn set_seq(&mut self, seq: u64) {
        self.put(field::SEQ.start, &seq.to_be_bytes());
    }

    /// Writes the send time.
    pub fn set_send_time_ns(&mut self, ns: u64) {
        self.put(field::SEND_TIME.start, &ns.to_be_bytes());
    }

    /// Writes the sequence number and the send time (`ns`, already big-endian) in one store: the two fields
    /// are adjacent, and a sender stamps every datagram of a batch with them.
    #[inline]
    pub fn set_seq_and_send_time(&mut self, seq: u64, ns_be: [u8; 8]) {
        let mut both = [0u8; 16];
        let (a, b) = both.split_at_mut(8);
        a.copy_from_slice(&seq.to_be_bytes());
        b.copy_from_slice(&ns_be);
        self.put(field::SEQ.start, &both);
    }

    /// The bytes after the header, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut().get_mut(HEADER_LEN..).unwrap_or(&mut [])
    }
}

/// A parsed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Repr {
    /// What the datagram is.
    pub kind: Kind,
    /// Which run of which sender it belongs to (chosen at random per run).
    pub session: u32,
    /// Sequence number, from 0 within a session (for discover queries: the TTL).
    pub seq: u64,
    /// Send time in nanoseconds since the Unix epoch; replies echo the probe's.
    pub send_time_ns: u64,
    /// Payload bytes after the header.
    pub payload_len: u16,
}

impl Repr {
    /// Reads a checked packet: magic, version and type must be known.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        packet.check_len()?;
        if packet.magic() != MAGIC {
            return Err(Error::BadMagic);
        }
        if packet.version() != VERSION {
            return Err(Error::UnsupportedVersion(packet.version()));
        }
        let kind = Kind::from_u8(packet.kind_byte()).ok_or(Error::UnknownType(packet.kind_byte()))?;
        Ok(Repr {
            kind,
            session: packet.session(),
            seq: packet.seq(),
            send_time_ns: packet.send_time_ns(),
            payload_len: packet.payload_len(),
        })
    }

    /// Bytes a datagram with this header takes: header plus payload.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len as usize
    }

    /// Writes the header into a packet (the payload is the caller's).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_magic_version();
        packet.set_kind(self.kind);
        packet.set_payload_len(self.payload_len);
        packet.set_session(self.session);
        packet.set_seq(self.seq);
        packet.set_send_time_ns(self.send_time_ns);
    }
}

/// Decodes one datagram: its header and payload, or why it is not one.
pub fn decode(buf: &[u8]) -> Result<(Repr, &[u8])> {
    let p = Packet::new_checked(buf)?;
    let repr = Repr::parse(&p)?;
    Ok((repr, buf.get(HEADER_LEN..).unwrap_or(&[])))
}

/// Stamps the datagrams laid end to end in `buf`, each `size` bytes, with consecutive sequence numbers from
/// `first` and one send time: a sender's batch, whose other header fields were written once. A slot too short
/// for the fields (a last partial one) is left alone, as by [`Packet::set_seq_and_send_time`].
#[inline]
pub(crate) fn stamp_batch(buf: &mut [u8], size: usize, first: u64, send_time_ns: u64) {
    if size == 0 {
        return;
    }
    let time = send_time_ns.to_be_bytes();
    let mut seq = first;
    for slot in buf.chunks_exact_mut(size) {
        if let Some(f) = slot.get_mut(field::SEQ.start..field::SEND_TIME.end) {
            let (s, t) = f.split_at_mut(8);
            s.copy_from_slice(&seq.to_be_bytes());
            t.copy_from_slice(&time);
        }
        seq = seq.wrapping_add(1);
    }
}

/// Writes a datagram (header and `payload`) at the start of `out`; returns its length.
pub fn encode(kind: Kind, session: u32, seq: u64, send_time_ns: u64, payload: &[u8], out: &mut [u8]) -> Result<usize> {
    let payload_len = u16::try_from(payload.len())
        .ok()
        .filter(|&n| n as usize <= MAX_PAYLOAD)
        .ok_or(Error::NoRoom { needed: payload.len(), available: MAX_PAYLOAD })?;
    let repr = Repr { kind, session, seq, send_time_ns, payload_len };
    let len = repr.buffer_len();
    let available = out.len();
    let dst = out.get_mut(..len).ok_or(Error::NoRoom { needed: len, available })?;
    let mut p = Packet::new_unchecked(dst);
    repr.emit(&mut p);
    p.payload_mut().copy_from_slice(payload);
    Ok(len)
}

/// The payload of a [`Kind::DiscoverAnswer`]: the responder's name and the address it answers for.
///
/// Layout: name length (1 byte, 0..=255), the name in UTF-8, then the address family byte (0 none, 4 IPv4,
/// 6 IPv6) and 0, 4 or 16 address bytes, then, when the responder knows it, one byte: the TTL (hop limit) the
/// query arrived with. Nothing else may follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The responder's `--name`.
    pub name: String,
    /// The address of the interface the query arrived on, if the responder knows it.
    pub addr: Option<IpAddr>,
    /// The TTL or hop limit the query arrived with, if the responder knows it: the query's TTL (the ring)
    /// minus this is the number of routers the query crossed.
    pub query_ttl: Option<u8>,
}

/// The longest name an [`Answer`] carries.
pub const MAX_NAME: usize = 255;

impl Answer {
    /// Reads an answer body.
    pub fn parse(body: &[u8]) -> Result<Answer> {
        let (&n, rest) = body.split_first().ok_or(Error::BadAnswer("empty"))?;
        let n = n as usize;
        let name = rest.get(..n).ok_or(Error::BadAnswer("name runs past the end"))?;
        let name = std::str::from_utf8(name).map_err(|_| Error::BadAnswer("name is not UTF-8"))?;
        let rest = rest.get(n..).unwrap_or(&[]);
        let (&family, rest) = rest.split_first().ok_or(Error::BadAnswer("no address family byte"))?;
        let len = match family {
            0 => 0,
            4 => 4,
            6 => 16,
            _ => return Err(Error::BadAnswer("unknown address family")),
        };
        let (bytes, query_ttl) = match (rest.get(..len), rest.get(len..)) {
            (Some(b), Some([])) => (b, None),
            (Some(b), Some(&[ttl])) => (b, Some(ttl)),
            _ => return Err(Error::BadAnswer("address length does not match its family")),
        };
        let addr = match bytes {
            [] => None,
            &[a, b, c, d] => Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d))),
            b => <[u8; 16]>::try_from(b).ok().map(|o| IpAddr::V6(Ipv6Addr::from(o))),
        };
        Ok(Answer { name: name.to_string(), addr, query_ttl })
    }

    /// The body as bytes. Names longer than [`MAX_NAME`] bytes are refused.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        if self.name.len() > MAX_NAME {
            return Err(Error::NoRoom { needed: self.name.len(), available: MAX_NAME });
        }
        let mut out = Vec::with_capacity(3 + self.name.len() + 16);
        out.push(self.name.len() as u8);
        out.extend_from_slice(self.name.as_bytes());
        match self.addr {
            None => out.push(0),
            Some(IpAddr::V4(a)) => {
                out.push(4);
                out.extend_from_slice(&a.octets());
            }
            Some(IpAddr::V6(a)) => {
                out.push(6);
                out.extend_from_slice(&a.octets());
            }
        }
        out.extend(self.query_ttl);
        Ok(out)
    }
}

/// Nanoseconds since the Unix epoch now (`CLOCK_REALTIME`, the clock `SO_TIMESTAMPNS` stamps arrivals with).
pub fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A ping request, session 0x01020304, sequence 5, sent at 0x1122334455667788 ns, payload "hi".
    static PING: [u8; 30] = [
        b'M', b'C', b'S', b'T', 0x01, 0x01, 0x00, 0x02, 0x01, 0x02, 0x03, 0x04, 0, 0, 0, 0, 0, 0, 0, 5, 0x11, 0x22,
        0x33, 0x44, 0x55, 0x66, 0x77, 0x88, b'h', b'i',
    ];

    #[test]
    fn a_batch_is_stamped_slot_by_slot_and_nothing_else_moves() {
        let mut batch: Vec<u8> = PING.iter().chain(PING.iter()).chain(PING.iter()).copied().collect();
        stamp_batch(&mut batch, PING.len(), u64::MAX, 0x99);
        for (i, slot) in batch.chunks(PING.len()).enumerate() {
            let (r, payload) = decode(slot).unwrap();
            assert_eq!((r.seq, r.send_time_ns), (u64::MAX.wrapping_add(i as u64), 0x99), "slot {i}");
            assert_eq!((r.kind, r.session, payload), (Kind::PingRequest, 0x0102_0304, &b"hi"[..]));
        }
        // A short last slot (not a whole datagram) and a zero size change nothing.
        let mut short = [7u8; 40];
        stamp_batch(&mut short, 30, 1, 1);
        assert_eq!(short[30..], [7u8; 10]);
        let mut tiny = [7u8; 20];
        stamp_batch(&mut tiny, 20, 1, 1);
        stamp_batch(&mut tiny, 0, 1, 1);
        assert_eq!(tiny, [7u8; 20]);
    }

    #[test]
    fn seq_and_send_time_are_stamped_together_and_nothing_else_moves() {
        let mut buf = PING;
        Packet::new_unchecked(&mut buf[..]).set_seq_and_send_time(0x0a0b_0c0d_0e0f_1011, 0x99u64.to_be_bytes());
        let (r, payload) = decode(&buf).unwrap();
        assert_eq!((r.seq, r.send_time_ns), (0x0a0b_0c0d_0e0f_1011, 0x99));
        assert_eq!((r.kind, r.session, payload), (Kind::PingRequest, 0x0102_0304, &b"hi"[..]));
        assert_eq!(buf[12..20], [0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11]);
        assert_eq!((&buf[..12], &buf[28..]), (&PING[..12], &PING[28..]));
        // A buffer too short for the fields is left alone, as by the other setters.
        let mut short = [7u8; 20];
        Packet::new_unchecked(&mut short[..]).set_seq_and_send_time(1, [1; 8]);
        assert_eq!(short, [7u8; 20]);
    }

    #[test]
    fn ping_deconstruct() {
        let (r, payload) = decode(&PING).unwrap();
        assert_eq!(r.kind, Kind::PingRequest);
        assert_eq!(r.session, 0x0102_0304);
        assert_eq!(r.seq, 5);
        assert_eq!(r.send_time_ns, 0x1122_3344_5566_7788);
        assert_eq!(r.payload_len, 2);
        assert_eq!(payload, b"hi");
    }

    #[test]
    fn ping_construct() {
        let mut out = [0xffu8; 40];
        let n = encode(Kind::PingRequest, 0x0102_0304, 5, 0x1122_3344_5566_7788, b"hi", &mut out).unwrap();
        assert_eq!(&out[..n], &PING[..]);
    }

    #[test]
    fn errors_are_specific() {
        assert_eq!(decode(&PING[..10]).unwrap_err(), Error::Truncated { need: HEADER_LEN, have: 10 });
        assert_eq!(decode(&PING[..29]).unwrap_err(), Error::PayloadLength { declared: 2, actual: 1 });
        let mut b = PING;
        b[0] = b'X';
        assert_eq!(decode(&b).unwrap_err(), Error::BadMagic);
        let mut b = PING;
        b[4] = 9;
        assert_eq!(decode(&b).unwrap_err(), Error::UnsupportedVersion(9));
        let mut b = PING;
        b[5] = 0;
        assert_eq!(decode(&b).unwrap_err(), Error::UnknownType(0));
        assert!(encode(Kind::PerfData, 0, 0, 0, b"abc", &mut [0u8; 30]).is_err());
    }

    #[test]
    fn short_buffers_read_as_zero_without_panic() {
        let p = Packet::new_unchecked(&[1u8, 2, 3][..]);
        assert_eq!(p.seq(), 0);
        assert_eq!(p.payload(), &[] as &[u8]);
        let mut small = [0u8; 3];
        let mut q = Packet::new_unchecked(&mut small[..]);
        q.set_seq(7);
        assert!(q.payload_mut().is_empty());
    }

    #[test]
    fn answers_round_trip_and_refuse_garbage() {
        for addr in [None, Some("10.0.0.1".parse().unwrap()), Some("fe80::1".parse().unwrap())] {
            for query_ttl in [None, Some(0), Some(61)] {
                let a = Answer { name: "büro".into(), addr, query_ttl };
                assert_eq!(Answer::parse(&a.to_bytes().unwrap()).unwrap(), a);
            }
        }
        let echo = Answer::parse(&[1, b'a', 4, 10, 0, 0, 1, 62]).unwrap();
        assert_eq!((echo.addr, echo.query_ttl), (Some("10.0.0.1".parse().unwrap()), Some(62)));
        assert!(Answer::parse(&[1, b'a', 4, 10, 0, 0, 1, 62, 0]).is_err(), "two bytes after the address");
        assert!(Answer::parse(&[]).is_err());
        assert!(Answer::parse(&[5, b'a']).is_err());
        assert!(Answer::parse(&[1, 0xff, 0]).is_err());
        assert!(Answer::parse(&[0, 4, 1, 2, 3]).is_err());
        assert!(Answer::parse(&[0, 7]).is_err());
        assert!(Answer { name: "x".repeat(256), addr: None, query_ttl: None }.to_bytes().is_err());
    }
}
