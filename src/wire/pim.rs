//! PIM Hello messages ([RFC 7761 §4.9.1, §4.9.2](https://www.rfc-editor.org/rfc/rfc7761#section-4.9.2)):
//! what every PIM router sends to ALL-PIM-ROUTERS (224.0.0.13, ff02::d) on each of its interfaces, so that a
//! host can learn which routers are on its link and which of them is the designated router (DR).
//!
//! ```text
//! +----+----+--------+-----------------+
//! |PIM |Type|Reserved|    Checksum     |   version 2, type 0 = Hello
//! +----+----+--------+-----------------+
//! |  Option Type    |  Option Length  |   then options: type, length, value (padded to nothing)
//! +-----------------+-----------------+
//! |            Option Value ...       |
//! ```
//!
//! Bootstrap messages ([RFC 5059](https://www.rfc-editor.org/rfc/rfc5059)) go to the same group, hop by hop from
//! the bootstrap router (BSR) across the domain, and name the rendezvous points (RPs) of group ranges:
//! [`Bootstrap`].
//!
//! The checksum covers the whole PIM message (for IPv4; for IPv6 it also covers a pseudo-header, which the
//! caller checks or not: [`Packet::checksum_ok_v4`]). Options this code does not know are skipped.

use std::net::Ipv4Addr;

use super::bytes::{need, range, set_u16, set_u8, tail, u16_at, u8_at, v4_at};
use super::{checksum, Error, Result};

/// The PIM version this code reads.
pub const VERSION: u8 = 2;
/// The Hello message type.
pub const TYPE_HELLO: u8 = 0;
/// The Bootstrap message type ([RFC 5059 §5](https://www.rfc-editor.org/rfc/rfc5059#section-5)).
pub const TYPE_BOOTSTRAP: u8 = 4;
/// The PIM header length.
pub const HEADER_LEN: usize = 4;
/// IP protocol number of PIM.
pub const PROTOCOL: u8 = 103;
/// ALL-PIM-ROUTERS, where IPv4 hellos go.
pub const ALL_PIM_ROUTERS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 13);

/// Hello option types (RFC 7761 §4.9.2, IANA "PIM-Hello Options").
pub mod option {
    /// Holdtime: seconds a neighbour is kept without a new hello (2 bytes).
    pub const HOLDTIME: u16 = 1;
    /// LAN Prune Delay (4 bytes).
    pub const LAN_PRUNE_DELAY: u16 = 2;
    /// DR Priority (4 bytes).
    pub const DR_PRIORITY: u16 = 19;
    /// Generation ID (4 bytes): a new one means the neighbour restarted.
    pub const GENERATION_ID: u16 = 20;
}

mod field {
    pub const VER_TYPE: usize = 0;
    pub const CHECKSUM: usize = 2;
    pub const OPTIONS: usize = 4;
}

/// A checked view of a PIM message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    view_constructors!("A view whose buffer holds at least the 4-byte PIM header.");

    /// At least the header.
    pub fn check_len(&self) -> Result<()> {
        need(self.buffer.as_ref(), HEADER_LEN)
    }

    /// The PIM version (high nibble of the first byte).
    pub fn version(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::VER_TYPE) >> 4
    }

    /// The message type (low nibble).
    pub fn msg_type(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::VER_TYPE) & 0x0f
    }

    /// The Checksum field.
    pub fn checksum(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Whether the IPv4 checksum (over the whole message) is right.
    pub fn checksum_ok_v4(&self) -> bool {
        checksum::data(self.buffer.as_ref()) == 0xffff
    }

    /// The options area (everything after the header).
    pub fn options(&self) -> &[u8] {
        tail(self.buffer.as_ref(), field::OPTIONS)
    }
}

/// What a Hello says about its sender.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hello {
    /// Holdtime in seconds (0xffff: forever; 0: the router is leaving).
    pub holdtime: Option<u16>,
    /// DR priority; a hello without it makes every router on the link fall back to the highest address.
    pub dr_priority: Option<u32>,
    /// Generation ID.
    pub generation_id: Option<u32>,
}

impl Hello {
    /// Parses a PIMv2 Hello from a checked view, verifying its IPv4 checksum and every option's length.
    pub fn parse_v4<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Hello> {
        check_header(packet, TYPE_HELLO)?;
        let mut hello = Hello::default();
        let mut rest = packet.options();
        while !rest.is_empty() {
            need(rest, 4)?;
            let (kind, len) = (u16_at(rest, 0), usize::from(u16_at(rest, 2)));
            need(rest, 4 + len)?;
            let value = range(rest, 4, 4 + len);
            let word = |want: usize| {
                if value.len() == want {
                    Ok(value)
                } else {
                    Err(Error::BadLength { what: "PIM Hello option", len: value.len() })
                }
            };
            match kind {
                option::HOLDTIME => hello.holdtime = Some(u16_at(word(2)?, 0)),
                option::DR_PRIORITY => hello.dr_priority = Some(u32_of(word(4)?)),
                option::GENERATION_ID => hello.generation_id = Some(u32_of(word(4)?)),
                _ => {}
            }
            rest = tail(rest, 4 + len);
        }
        Ok(hello)
    }

    /// The bytes of this Hello (header, the options present, IPv4 checksum).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![0u8; HEADER_LEN];
        set_u8(&mut out, field::VER_TYPE, (VERSION << 4) | TYPE_HELLO);
        if let Some(h) = self.holdtime {
            out.extend_from_slice(&option::HOLDTIME.to_be_bytes());
            out.extend_from_slice(&2u16.to_be_bytes());
            out.extend_from_slice(&h.to_be_bytes());
        }
        for (kind, value) in [(option::DR_PRIORITY, self.dr_priority), (option::GENERATION_ID, self.generation_id)] {
            if let Some(v) = value {
                out.extend_from_slice(&kind.to_be_bytes());
                out.extend_from_slice(&4u16.to_be_bytes());
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
        let sum = checksum::compute(&out);
        set_u16(&mut out, field::CHECKSUM, sum);
        out
    }
}

/// One RP of a group range, as a Bootstrap message names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RpEntry {
    /// The group range's address.
    pub group: Ipv4Addr,
    /// The group range's mask length.
    pub mask_len: u8,
    /// The RP.
    pub rp: Ipv4Addr,
    /// Its holdtime, in seconds.
    pub holdtime: u16,
    /// Its priority (lower is preferred).
    pub priority: u8,
}

/// What a Bootstrap message says: who the BSR is, and the RPs of each group range (in this fragment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bootstrap {
    /// The bootstrap router.
    pub bsr: Ipv4Addr,
    /// Its priority.
    pub bsr_priority: u8,
    /// The RPs, group range by group range.
    pub rps: Vec<RpEntry>,
}

/// IPv4 in PIM's encoded addresses (RFC 7761 §4.9.1): address family 1, native encoding 0.
const FAMILY_IPV4: u8 = 1;

/// An encoded-unicast IPv4 address (family, encoding, 4 bytes) at the start of `b`.
fn unicast_at(b: &[u8]) -> Result<Ipv4Addr> {
    need(b, 6)?;
    if u8_at(b, 0) != FAMILY_IPV4 || u8_at(b, 1) != 0 {
        return Err(Error::BadHello("not an IPv4 encoded address"));
    }
    Ok(v4_at(b, 2))
}

impl Bootstrap {
    /// Parses a Bootstrap message from a checked view, verifying its IPv4 checksum and every length.
    pub fn parse_v4<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Bootstrap> {
        check_header(packet, TYPE_BOOTSTRAP)?;
        let body = packet.options();
        need(body, 10)?;
        let mut out = Bootstrap { bsr: unicast_at(tail(body, 4))?, bsr_priority: u8_at(body, 3), rps: Vec::new() };
        let mut rest = tail(body, 10);
        while !rest.is_empty() {
            // Encoded group (family, encoding, flags, mask length, address), RP count, fragment RP count, reserved.
            need(rest, 12)?;
            if u8_at(rest, 0) != FAMILY_IPV4 {
                return Err(Error::BadHello("not an IPv4 encoded group"));
            }
            let (mask_len, group, count) = (u8_at(rest, 3), v4_at(rest, 4), usize::from(u8_at(rest, 9)));
            rest = tail(rest, 12);
            need(rest, count * 10)?;
            for i in 0..count {
                let entry = tail(rest, i * 10);
                let (rp, holdtime, priority) = (unicast_at(entry)?, u16_at(entry, 6), u8_at(entry, 8));
                out.rps.push(RpEntry { group, mask_len, rp, holdtime, priority });
            }
            rest = tail(rest, count * 10);
        }
        Ok(out)
    }

    /// The bytes of this message, one group block per entry (header, IPv4 checksum).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![(VERSION << 4) | TYPE_BOOTSTRAP, 0, 0, 0, 0, 0, 0, self.bsr_priority, FAMILY_IPV4, 0];
        out.extend_from_slice(&self.bsr.octets());
        for e in &self.rps {
            out.extend_from_slice(&[FAMILY_IPV4, 0, 0, e.mask_len]);
            out.extend_from_slice(&e.group.octets());
            out.extend_from_slice(&[1, 1, 0, 0, FAMILY_IPV4, 0]);
            out.extend_from_slice(&e.rp.octets());
            out.extend_from_slice(&e.holdtime.to_be_bytes());
            out.extend_from_slice(&[e.priority, 0]);
        }
        let sum = checksum::compute(&out);
        set_u16(&mut out, field::CHECKSUM, sum);
        out
    }
}

/// Version 2, type `want`, and a right IPv4 checksum.
fn check_header<T: AsRef<[u8]>>(packet: &Packet<T>, want: u8) -> Result<()> {
    if packet.version() != VERSION {
        return Err(Error::BadHello("PIM version is not 2"));
    }
    if packet.msg_type() != want {
        return Err(Error::UnknownType(packet.msg_type()));
    }
    if !packet.checksum_ok_v4() {
        let mut copy = packet.buffer.as_ref().to_vec();
        set_u16(&mut copy, field::CHECKSUM, 0);
        return Err(Error::BadChecksum { expected: checksum::compute(&copy), found: packet.checksum() });
    }
    Ok(())
}

fn u32_of(b: &[u8]) -> u32 {
    (u32::from(u16_at(b, 0)) << 16) | u32::from(u16_at(b, 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hello as FRR's pimd sends it: holdtime 105, LAN prune delay, DR priority 1, generation ID, and an
    /// unknown option (FRR's 65004, 4 bytes) that is skipped.
    const FRR_HELLO: [u8; 38] = [
        0x20, 0x00, 0x00, 0x00, // version 2, type 0, checksum (filled in by the test)
        0x00, 0x01, 0x00, 0x02, 0x00, 0x69, // holdtime 105
        0x00, 0x02, 0x00, 0x04, 0x01, 0xf4, 0x09, 0xc4, // LAN prune delay
        0x00, 0x13, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, // DR priority 1
        0x00, 0x14, 0x00, 0x04, 0x12, 0x34, 0x56, 0x78, // generation ID
        0xfd, 0xec, 0x00, 0x00, // an unknown option, empty
    ];

    fn with_checksum(mut b: Vec<u8>) -> Vec<u8> {
        set_u16(&mut b, 2, 0);
        let sum = checksum::compute(&b);
        set_u16(&mut b, 2, sum);
        b
    }

    #[test]
    fn hello_deconstruct() {
        let bytes = with_checksum(FRR_HELLO.to_vec());
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!((p.version(), p.msg_type()), (2, 0));
        let h = Hello::parse_v4(&p).unwrap();
        assert_eq!(h, Hello { holdtime: Some(105), dr_priority: Some(1), generation_id: Some(0x1234_5678) });
    }

    #[test]
    fn hello_construct() {
        let h = Hello { holdtime: Some(35), dr_priority: Some(7), generation_id: None };
        let bytes = h.to_bytes();
        assert_eq!(&bytes[4..], &[0, 1, 0, 2, 0, 35, 0, 19, 0, 4, 0, 0, 0, 7]);
        assert_eq!(Hello::parse_v4(&Packet::new_checked(&bytes[..]).unwrap()).unwrap(), h);
    }

    #[test]
    fn rejects_what_is_not_a_sound_hello() {
        let good = with_checksum(FRR_HELLO.to_vec());
        let parse = |b: &[u8]| Packet::new_checked(b).and_then(|p| Hello::parse_v4(&p));
        assert_eq!(parse(&good[..3]), Err(Error::Truncated { need: 4, have: 3 }));
        let mut bad = good.clone();
        bad[9] ^= 1;
        assert!(matches!(parse(&bad), Err(Error::BadChecksum { .. })));
        let join = with_checksum(vec![0x23, 0, 0, 0]);
        assert_eq!(parse(&join), Err(Error::UnknownType(3)));
        let v1 = with_checksum(vec![0x10, 0, 0, 0]);
        assert!(matches!(parse(&v1), Err(Error::BadHello(_))));
        // An option whose length runs past the end, and a holdtime of the wrong size.
        let long = with_checksum(vec![0x20, 0, 0, 0, 0, 1, 0, 9, 0, 1]);
        assert_eq!(parse(&long), Err(Error::Truncated { need: 13, have: 6 }));
        let odd = with_checksum(vec![0x20, 0, 0, 0, 0, 1, 0, 3, 0, 1, 2]);
        assert!(matches!(parse(&odd), Err(Error::BadLength { .. })));
        for cut in 0..good.len() {
            let _ = parse(&good[..cut]);
        }
    }

    #[test]
    fn bootstrap_round_trip_and_cuts() {
        let rp = |g: [u8; 4], m, r: [u8; 4]| RpEntry {
            group: g.into(),
            mask_len: m,
            rp: r.into(),
            holdtime: 150,
            priority: 192,
        };
        let b = Bootstrap {
            bsr: Ipv4Addr::new(10, 0, 0, 9),
            bsr_priority: 64,
            rps: vec![rp([224, 0, 0, 0], 4, [10, 12, 0, 2]), rp([239, 1, 0, 0], 16, [10, 23, 0, 3])],
        };
        let bytes = b.to_bytes();
        assert_eq!(bytes.len(), 14 + 2 * 22);
        assert_eq!(&bytes[14..26], &[1, 0, 0, 4, 224, 0, 0, 0, 1, 1, 0, 0]);
        let parse = |x: &[u8]| Packet::new_checked(x).and_then(|p| Bootstrap::parse_v4(&p));
        assert_eq!(parse(&bytes), Ok(b));
        for cut in 4..bytes.len() {
            // A cut message fails its checksum or its lengths, never panics.
            assert!(parse(&with_checksum(bytes[..cut].to_vec())).is_err() || cut == 14 || cut == 36, "{cut}");
        }
        assert_eq!(Hello::parse_v4(&Packet::new_checked(&bytes[..]).unwrap()), Err(Error::UnknownType(4)));
    }
}
