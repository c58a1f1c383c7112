//! The header iperf 2 (2.1 and later) puts at the start of each UDP datagram, so `mcast perf` can receive an
//! iperf client's stream and send one an iperf server understands.
//!
//! ```text
//!  0      4        8         12     16
//! +------+--------+---------+------+---- ... ----+
//! |  id  | tv_sec | tv_usec | id2  |  (the rest)  |
//! +------+--------+---------+------+---- ... ----+
//! ```
//!
//! All four fields are 32-bit big-endian. The datagram's number is the signed 64-bit `id2:id`: data
//! datagrams are numbered from 1; the last datagram of a run carries the next number negated (the "FIN":
//! `id2` all ones), so its absolute value minus one is the count sent. `tv_sec.tv_usec` is the sender's
//! clock when it sent the datagram (its difference to the arrival time feeds the RFC 3550 jitter). What
//! follows (iperf's optional test-setup header, then filler) is not needed here; a sender writes zeros.
//!
//! Only this 64-bit form is recognised (`id2` 0 for data, all ones for the FIN): it is what iperf 2.1 sends,
//! and it makes a datagram of another protocol less likely to pass for iperf's. The check is loose all the
//! same (16 bytes with a small number and a plausible microsecond count pass): a receiver tries its own
//! header first.

use super::{Error, Result};

/// The bytes of the header: a datagram is at least this long.
pub const HEADER_LEN: usize = 16;

/// What one iperf 2 datagram says, numbered from 0 as `mcast perf` numbers its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Datagram {
    /// Data: its number (iperf's minus one) and send time.
    Data {
        /// 0 for iperf's datagram 1.
        seq: u64,
        /// The sender's clock, nanoseconds since the Unix epoch.
        send_time_ns: u64,
    },
    /// The end of a run: how many data datagrams were numbered.
    End {
        /// iperf's FIN number, negated, minus one.
        count: u64,
    },
}

fn be32(buf: &[u8], at: usize) -> Option<u32> {
    buf.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes)
}

/// Reads an iperf 2 datagram; `None` when `buf` is not one (too short, a microsecond count of a second or
/// more, a number of the wrong form).
pub fn decode(buf: &[u8]) -> Option<Datagram> {
    let (id, sec, usec, id2) = (be32(buf, 0)?, be32(buf, 4)?, be32(buf, 8)?, be32(buf, 12)?);
    if usec >= 1_000_000 {
        return None;
    }
    let n = ((u64::from(id2) << 32) | u64::from(id)) as i64;
    match (id2, n) {
        (0, n) if n >= 1 => Some(Datagram::Data {
            seq: n as u64 - 1,
            send_time_ns: u64::from(sec) * 1_000_000_000 + u64::from(usec) * 1000,
        }),
        (u32::MAX, n) if n < 0 => Some(Datagram::End { count: n.unsigned_abs() - 1 }),
        _ => None,
    }
}

/// Writes the header of iperf's datagram `number` (from 1; negative for the FIN) sent at `send_time_ns`
/// into the first [`HEADER_LEN`] bytes of `out`, leaving the rest as it is.
pub fn encode(number: i64, send_time_ns: u64, out: &mut [u8]) -> Result<()> {
    let have = out.len();
    let head = out.get_mut(..HEADER_LEN).ok_or(Error::Truncated { need: HEADER_LEN, have })?;
    let n = number as u64;
    let (sec, usec) = (send_time_ns / 1_000_000_000, send_time_ns % 1_000_000_000 / 1000);
    let words = [n as u32, sec as u32, usec as u32, (n >> 32) as u32];
    for (field, w) in head.chunks_exact_mut(4).zip(words) {
        field.copy_from_slice(&w.to_be_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first and last datagrams of `iperf -c 239.9.9.9 -u -l 100 -n 500` (iperf 2.1.8), as captured.
    const FIRST: [u8; 16] = [0, 0, 0, 1, 0x6b, 0x10, 0x0a, 0x3e, 0x00, 0x03, 0xdb, 0xb5, 0, 0, 0, 0];
    const FIN: [u8; 16] =
        [0xff, 0xff, 0xff, 0xfa, 0x6b, 0x10, 0x0a, 0x53, 0x00, 0x08, 0xc0, 0xdd, 0xff, 0xff, 0xff, 0xff];

    #[test]
    fn reads_what_iperf_sends() {
        let sent = (0x6b10_0a3e_u64 * 1_000_000 + 0x0003_dbb5) * 1000;
        assert_eq!(decode(&FIRST), Some(Datagram::Data { seq: 0, send_time_ns: sent }));
        assert_eq!(decode(&FIN), Some(Datagram::End { count: 5 }));
    }

    #[test]
    fn writes_what_it_reads() {
        let mut buf = [0xaau8; 20];
        encode(7, 1_700_000_000_123_456_000, &mut buf).unwrap();
        assert_eq!(decode(&buf), Some(Datagram::Data { seq: 6, send_time_ns: 1_700_000_000_123_456_000 }));
        assert_eq!(buf[16..], [0xaa; 4], "the rest is left alone");
        encode(-6, 0, &mut buf).unwrap();
        assert_eq!(decode(&buf), Some(Datagram::End { count: 5 }));
        assert_eq!(buf[..4], FIN[..4]);
        assert!(encode(1, 0, &mut [0u8; 15]).is_err());
    }

    #[test]
    fn other_datagrams_are_not_taken_for_iperf() {
        assert_eq!(decode(&FIRST[..15]), None, "too short");
        let mut b = FIRST;
        b[12] = 1;
        assert_eq!(decode(&b), None, "a data number past 2^32 with a small id");
        let mut b = FIRST;
        b[3] = 0;
        assert_eq!(decode(&b), None, "number 0");
        let mut b = FIRST;
        b[8..12].copy_from_slice(&1_000_000u32.to_be_bytes());
        assert_eq!(decode(&b), None, "a microsecond count of a second");
        let mut b = FIN;
        b[12] = 0;
        assert_eq!(decode(&b), None, "a FIN without id2's ones");
        assert_eq!(decode(b"GET / HTTP/1.1\r\n"), None, "text");
        assert_eq!(decode(&[0; 64]), None);
    }
}
