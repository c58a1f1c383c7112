//! The ssmping protocol (draft-ietf-mboned-ssmping): the queries of `ssmping`, `asmping` and `mcast ping
//! --ssmping`, and the answers of `ssmpingd` and `mcast ping --serve`.
//!
//! A message is one type byte, `Q` (query) or `A` (answer), then options, each a type (u16), a length (u16)
//! and that many bytes, all integers in network byte order:
//!
//! ```text
//!  0        1            3             5
//!  +--------+------------+-------------+------------------+------------+----
//!  | Q or A | option type| option len  | value (len bytes)| option type| ...
//!  +--------+------------+-------------+------------------+------------+----
//! ```
//!
//! | option | name       | value                                                                 |
//! |--------|------------|-----------------------------------------------------------------------|
//! | 1      | client id  | u32 (ssmping puts its process id there)                               |
//! | 2      | sequence   | u32, from 1                                                           |
//! | 3      | timestamp  | u32 seconds, u32 microseconds since the Unix epoch, at sending        |
//! | 4      | group      | address family (1 IPv4, 2 IPv6), then 4 or 16 address bytes           |
//! | 5      | ask version| empty: the server is asked to add its version (option 6)              |
//! | 6      | version    | the server's version, text                                            |
//! | 7      | reply size | u16: the answer's size the client asks for, padded with option 8      |
//! | 8      | padding    | zeros                                                                 |
//!
//! A server answers a query by sending it back with the type byte changed to `A` (every option echoed, so the
//! client finds its id, sequence and timestamp), once by unicast to the client from port 4321, once to the group
//! of option 4 (default [`GROUP_V4`] or [`GROUP_V6`]) on the client's port, both with TTL (hop limit) 64, so
//! the client reads the number of routers from the arrival TTL ([`distance`]). ssmpingd answers only groups
//! that end in `.234` (IPv4) or `4321:1234` (IPv6): [`answerable_group`].
//!
//! As the other formats here: [`Packet`] is a view whose [`Packet::new_checked`] proves that the options tile
//! the message exactly; [`Repr`] is the meaning, with [`Repr::parse`], [`Repr::emit`] and [`Repr::buffer_len`].
//! Parsing is total.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::bytes::{set_bytes, tail};
use super::{Error, Result};

/// The port ssmpingd listens on.
pub const PORT: u16 = 4321;
/// The IPv4 group answers go to when a query names none (in the SSM range).
pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(232, 43, 211, 234);
/// The IPv6 group answers go to when a query names none (SSM, global scope).
pub const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff3e, 0, 0, 0, 0, 0, 0x4321, 0x1234);
/// The TTL (hop limit) answers leave with.
pub const ANSWER_TTL: u8 = 64;

/// The type byte of a query.
pub const QUERY: u8 = b'Q';
/// The type byte of an answer.
pub const ANSWER: u8 = b'A';

/// Option types.
pub mod option {
    /// The client's id (u32).
    pub const CLIENT_ID: u16 = 1;
    /// The sequence number (u32).
    pub const SEQ: u16 = 2;
    /// The send time: u32 seconds, u32 microseconds.
    pub const TIMESTAMP: u16 = 3;
    /// The group to answer to: family byte and address.
    pub const GROUP: u16 = 4;
    /// The client asks for the server's version.
    pub const ASK_VERSION: u16 = 5;
    /// The server's version.
    pub const VERSION: u16 = 6;
    /// The answer size the client asks for (u16).
    pub const REPLY_SIZE: u16 = 7;
    /// Padding.
    pub const PAD: u16 = 8;
}

/// Bytes of an option's type and length.
const OPTION_HEADER: usize = 4;

/// Query or answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `Q`: from a client.
    Query,
    /// `A`: from a server.
    Answer,
}

impl Kind {
    /// The type byte.
    pub fn byte(self) -> u8 {
        match self {
            Kind::Query => QUERY,
            Kind::Answer => ANSWER,
        }
    }
}

/// A view of a buffer as an ssmping message; accessors never panic.
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    view_constructors!("A view whose buffer starts with `Q` or `A` and whose options tile the rest exactly.");

    /// The checks of [`Self::new_checked`].
    pub fn check_len(&self) -> Result<()> {
        self.kind()?;
        let mut options = self.options();
        for _ in options.by_ref() {}
        options.finish()
    }

    /// The type byte, as a kind.
    pub fn kind(&self) -> Result<Kind> {
        match self.buffer.as_ref().first() {
            None => Err(Error::Truncated { need: 1, have: 0 }),
            Some(&QUERY) => Ok(Kind::Query),
            Some(&ANSWER) => Ok(Kind::Answer),
            Some(&t) => Err(Error::UnknownType(t)),
        }
    }

    /// The options in order, as (type, value); stops at the first that does not fit.
    pub fn options(&self) -> Options<'_> {
        Options { rest: tail(self.buffer.as_ref(), 1), at: 1 }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Writes the type byte (a server turns a query into its answer so).
    pub fn set_kind(&mut self, kind: Kind) {
        set_bytes(self.buffer.as_mut(), 0, &[kind.byte()]);
    }
}

/// The options of a message, in order.
#[derive(Clone, Debug)]
pub struct Options<'a> {
    rest: &'a [u8],
    /// Offset of `rest` in the message.
    at: usize,
}

impl Options<'_> {
    /// After the walk: whether it ended exactly at the end of the message.
    pub fn finish(&self) -> Result<()> {
        if self.rest.is_empty() {
            return Ok(());
        }
        let need = match self.rest {
            [_, _, l0, l1, ..] => self.at + OPTION_HEADER + usize::from(u16::from_be_bytes([*l0, *l1])),
            _ => self.at + OPTION_HEADER,
        };
        Err(Error::Truncated { need, have: self.at + self.rest.len() })
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<(u16, &'a [u8])> {
        let [t0, t1, l0, l1, rest @ ..] = self.rest else { return None };
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        let value = rest.get(..len)?;
        let kind = u16::from_be_bytes([*t0, *t1]);
        self.rest = rest.get(len..).unwrap_or_default();
        self.at += OPTION_HEADER + len;
        Some((kind, value))
    }
}

/// The send time of a query: seconds and microseconds since the Unix epoch, as the client's clock read them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// Whole seconds.
    pub secs: u32,
    /// Microseconds (below 1,000,000 when a real clock wrote them).
    pub usecs: u32,
}

impl Timestamp {
    /// A time in nanoseconds since the epoch (seconds past 2106 wrap, as the field does).
    pub fn from_ns(ns: u64) -> Timestamp {
        Timestamp { secs: (ns / 1_000_000_000) as u32, usecs: (ns % 1_000_000_000 / 1000) as u32 }
    }

    /// The time in nanoseconds since the epoch.
    pub fn as_ns(self) -> u64 {
        u64::from(self.secs) * 1_000_000_000 + u64::from(self.usecs) * 1000
    }
}

/// A parsed message. Options this code does not know are skipped by [`Repr::parse`] and not written by
/// [`Repr::emit`]; a server that echoes a query echoes its bytes, not its `Repr`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Query or answer (`None` only in a default value; parsed messages always have one).
    pub kind: Option<Kind>,
    /// Option 1.
    pub client_id: Option<u32>,
    /// Option 2.
    pub seq: Option<u32>,
    /// Option 3.
    pub timestamp: Option<Timestamp>,
    /// Option 4: the group to answer to.
    pub group: Option<IpAddr>,
    /// Option 5.
    pub ask_version: bool,
    /// Option 6, the server's version text (bytes as sent).
    pub version: Option<Vec<u8>>,
    /// Option 7.
    pub reply_size: Option<u16>,
    /// Option 8: bytes of padding.
    pub pad: Option<u16>,
}

fn exact<const N: usize>(what: &'static str, v: &[u8]) -> Result<[u8; N]> {
    <[u8; N]>::try_from(v).map_err(|_| Error::BadLength { what, len: v.len() })
}

impl Repr {
    /// Reads a message: the options of known types must have their sizes; the last of a repeated option wins.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        packet.check_len()?;
        let mut r = Repr { kind: Some(packet.kind()?), ..Repr::default() };
        for (t, v) in packet.options() {
            match t {
                option::CLIENT_ID => r.client_id = Some(u32::from_be_bytes(exact("ssmping client id", v)?)),
                option::SEQ => r.seq = Some(u32::from_be_bytes(exact("ssmping sequence", v)?)),
                option::TIMESTAMP => {
                    let b: [u8; 8] = exact("ssmping timestamp", v)?;
                    let [s0, s1, s2, s3, u0, u1, u2, u3] = b;
                    r.timestamp = Some(Timestamp {
                        secs: u32::from_be_bytes([s0, s1, s2, s3]),
                        usecs: u32::from_be_bytes([u0, u1, u2, u3]),
                    });
                }
                option::GROUP => r.group = Some(parse_group(v)?),
                option::ASK_VERSION => r.ask_version = true,
                option::VERSION => r.version = Some(v.to_vec()),
                option::REPLY_SIZE => r.reply_size = Some(u16::from_be_bytes(exact("ssmping reply size", v)?)),
                option::PAD => r.pad = Some(v.len() as u16),
                _ => {}
            }
        }
        Ok(r)
    }

    /// Bytes the message takes.
    pub fn buffer_len(&self) -> usize {
        let opt = |present: bool, len: usize| if present { OPTION_HEADER + len } else { 0 };
        1 + opt(self.client_id.is_some(), 4)
            + opt(self.seq.is_some(), 4)
            + opt(self.timestamp.is_some(), 8)
            + opt(self.ask_version, 0)
            + opt(self.reply_size.is_some(), 2)
            + self.group.map_or(0, |g| OPTION_HEADER + group_len(g))
            + self.version.as_ref().map_or(0, |v| OPTION_HEADER + v.len())
            + self.pad.map_or(0, |n| OPTION_HEADER + usize::from(n))
    }

    /// Writes the message at the start of `out`, options in the order ssmping writes them (id, sequence,
    /// timestamp, ask version, reply size, group, then a server's version and padding); returns its length.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let available = out.len();
        let out = out.get_mut(..len).ok_or(Error::NoRoom { needed: len, available })?;
        let version_len = self.version.as_ref().map_or(0, Vec::len);
        if version_len > usize::from(u16::MAX) {
            return Err(Error::Unencodable("an ssmping version longer than 65535 bytes"));
        }
        out.fill(0);
        set_bytes(out, 0, &[self.kind.unwrap_or(Kind::Query).byte()]);
        let mut at = 1;
        let mut put = |t: u16, v: &[u8], len: usize| {
            set_bytes(out, at, &t.to_be_bytes());
            set_bytes(out, at + 2, &(len as u16).to_be_bytes());
            set_bytes(out, at + OPTION_HEADER, v);
            at += OPTION_HEADER + len;
        };
        if let Some(id) = self.client_id {
            put(option::CLIENT_ID, &id.to_be_bytes(), 4);
        }
        if let Some(seq) = self.seq {
            put(option::SEQ, &seq.to_be_bytes(), 4);
        }
        if let Some(t) = self.timestamp {
            let mut b = [0u8; 8];
            set_bytes(&mut b, 0, &t.secs.to_be_bytes());
            set_bytes(&mut b, 4, &t.usecs.to_be_bytes());
            put(option::TIMESTAMP, &b, 8);
        }
        if self.ask_version {
            put(option::ASK_VERSION, &[], 0);
        }
        if let Some(n) = self.reply_size {
            put(option::REPLY_SIZE, &n.to_be_bytes(), 2);
        }
        if let Some(g) = self.group {
            let mut b = [0u8; 17];
            match g {
                IpAddr::V4(a) => {
                    set_bytes(&mut b, 0, &[1]);
                    set_bytes(&mut b, 1, &a.octets());
                }
                IpAddr::V6(a) => {
                    set_bytes(&mut b, 0, &[2]);
                    set_bytes(&mut b, 1, &a.octets());
                }
            }
            put(option::GROUP, b.get(..group_len(g)).unwrap_or_default(), group_len(g));
        }
        if let Some(v) = &self.version {
            put(option::VERSION, v, v.len());
        }
        if let Some(n) = self.pad {
            put(option::PAD, &[], usize::from(n));
        }
        Ok(len)
    }
}

fn group_len(g: IpAddr) -> usize {
    if g.is_ipv4() {
        5
    } else {
        17
    }
}

fn parse_group(v: &[u8]) -> Result<IpAddr> {
    match v {
        [1, a @ ..] => Ok(IpAddr::V4(Ipv4Addr::from(exact::<4>("ssmping IPv4 group", a)?))),
        [2, a @ ..] => Ok(IpAddr::V6(Ipv6Addr::from(exact::<16>("ssmping IPv6 group", a)?))),
        [f, ..] => Err(Error::UnknownType(*f)),
        [] => Err(Error::BadLength { what: "ssmping group", len: 0 }),
    }
}

/// The group a server answers a query to: the query's own (option 4) if it is one ssmpingd answers (of the
/// query's family, ending in `.234` or `4321:1234`), the default group of the family if the query names none,
/// `None` otherwise: a server does not send to any group a query names.
pub fn answerable_group(query_group: Option<IpAddr>, v6: bool) -> Option<IpAddr> {
    match query_group {
        None if v6 => Some(IpAddr::V6(GROUP_V6)),
        None => Some(IpAddr::V4(GROUP_V4)),
        Some(IpAddr::V4(g)) if !v6 && g.is_multicast() && g.octets().last() == Some(&234) => query_group,
        Some(IpAddr::V6(g)) if v6 && g.is_multicast() && g.segments().ends_with(&[0x4321, 0x1234]) => query_group,
        Some(_) => None,
    }
}

/// The number of routers between a server and a client, from the TTL (hop limit) its answer arrived with: it
/// left with [`ANSWER_TTL`] (an arrival TTL above it: a sender that starts at 128, as ssmping assumes too).
pub fn distance(arrival_ttl: u8) -> u8 {
    if arrival_ttl > ANSWER_TTL {
        128u8.saturating_sub(arrival_ttl)
    } else {
        ANSWER_TTL - arrival_ttl
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query as ssmping 0.9.1 sends it: client id 0x1234, sequence 3, sent at 1700000000 s 250000 µs, asking
    /// for the version, IPv4 group 232.43.211.234.
    static QUERY_V4: [u8; 42] = [
        b'Q', 0, 1, 0, 4, 0, 0, 0x12, 0x34, 0, 2, 0, 4, 0, 0, 0, 3, 0, 3, 0, 8, 0x65, 0x53, 0xf1, 0x00, 0, 3, 0xd0,
        0x90, 0, 5, 0, 0, 0, 4, 0, 5, 1, 232, 43, 211, 234,
    ];

    fn query_v4() -> Repr {
        Repr {
            kind: Some(Kind::Query),
            client_id: Some(0x1234),
            seq: Some(3),
            timestamp: Some(Timestamp { secs: 1_700_000_000, usecs: 250_000 }),
            group: Some(IpAddr::V4(GROUP_V4)),
            ask_version: true,
            ..Repr::default()
        }
    }

    #[test]
    fn query_deconstruct() {
        let p = Packet::new_checked(&QUERY_V4[..]).unwrap();
        assert_eq!(p.kind(), Ok(Kind::Query));
        assert_eq!(p.options().map(|(t, _)| t).collect::<Vec<_>>(), [1, 2, 3, 5, 4]);
        assert_eq!(Repr::parse(&p).unwrap(), query_v4());
    }

    #[test]
    fn query_construct() {
        let r = query_v4();
        assert_eq!(r.buffer_len(), QUERY_V4.len());
        let mut out = [0xffu8; 50];
        assert_eq!(r.emit(&mut out), Ok(QUERY_V4.len()));
        assert_eq!(&out[..QUERY_V4.len()], &QUERY_V4[..]);
        assert!(r.emit(&mut [0u8; 41]).is_err());
    }

    /// An answer as ssmpingd writes it to an IPv6 query asking for 40 bytes: the query echoed (id, sequence,
    /// timestamp, size, group), then 4 bytes of padding.
    static ANSWER_V6: [u8; 62] = [
        b'A', 0, 1, 0, 4, 0, 0, 0, 9, 0, 2, 0, 4, 0, 0, 0, 1, 0, 3, 0, 8, 0, 0, 0, 1, 0, 0, 0, 2, 0, 7, 0, 2, 0, 62, 0,
        4, 0, 17, 2, 0xff, 0x3e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x43, 0x21, 0x12, 0x34, 0, 8, 0, 2, 0, 0,
    ];

    #[test]
    fn answer_deconstruct_and_construct() {
        let r = Repr::parse(&Packet::new_checked(&ANSWER_V6[..]).unwrap()).unwrap();
        let want = Repr {
            kind: Some(Kind::Answer),
            client_id: Some(9),
            seq: Some(1),
            timestamp: Some(Timestamp { secs: 1, usecs: 2 }),
            group: Some(IpAddr::V6(GROUP_V6)),
            reply_size: Some(62),
            pad: Some(2),
            ..Repr::default()
        };
        assert_eq!(r, want);
        let mut out = vec![0u8; r.buffer_len()];
        r.emit(&mut out).unwrap();
        assert_eq!(out, ANSWER_V6);
    }

    #[test]
    fn malformed_messages_say_what_is_wrong() {
        assert_eq!(Packet::new_checked(&[][..]).unwrap_err(), Error::Truncated { need: 1, have: 0 });
        assert_eq!(Packet::new_checked(&b"MCST"[..]).unwrap_err(), Error::UnknownType(b'M'));
        assert_eq!(Packet::new_checked(&QUERY_V4[..41]).unwrap_err(), Error::Truncated { need: 42, have: 41 });
        assert_eq!(Packet::new_checked(&QUERY_V4[..3]).unwrap_err(), Error::Truncated { need: 5, have: 3 });
        let mut b = QUERY_V4;
        b[4] = 3; // the id option says 3 bytes
        assert!(Repr::parse(&Packet::new_unchecked(&b[..])).is_err());
        let mut b = QUERY_V4;
        b[37] = 7; // an unknown address family
        assert_eq!(Repr::parse(&Packet::new_unchecked(&b[..])).unwrap_err(), Error::UnknownType(7));
        // Unknown options are skipped; a bare type byte is a message with no options.
        let r = Repr::parse(&Packet::new_checked(&[b'Q', 0, 99, 0, 1, 7][..]).unwrap()).unwrap();
        assert_eq!(r, Repr { kind: Some(Kind::Query), ..Repr::default() });
    }

    #[test]
    fn answers_go_only_to_the_groups_ssmpingd_answers() {
        let g = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(answerable_group(None, false), g("232.43.211.234"));
        assert_eq!(answerable_group(None, true), g("ff3e::4321:1234"));
        assert_eq!(answerable_group(g("239.1.2.234"), false), g("239.1.2.234"), "an asmping group");
        assert_eq!(answerable_group(g("239.1.2.3"), false), None);
        assert_eq!(answerable_group(g("10.0.0.234"), false), None, "not multicast");
        assert_eq!(answerable_group(g("ff05::4321:1234"), true), g("ff05::4321:1234"));
        assert_eq!(answerable_group(g("ff05::1"), true), None);
        assert_eq!(answerable_group(g("232.43.211.234"), true), None, "the other family");
    }

    #[test]
    fn distance_counts_routers_from_64() {
        assert_eq!((distance(64), distance(61), distance(1), distance(125), distance(0)), (0, 3, 63, 3, 64));
        assert_eq!(Timestamp::from_ns(1_700_000_000_250_000_123).as_ns(), 1_700_000_000_250_000_000);
    }
}
