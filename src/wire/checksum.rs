//! The Internet checksum ([RFC 1071](https://www.rfc-editor.org/rfc/rfc1071)) and the ICMPv6 pseudo-header
//! ([RFC 8200 §8.1](https://www.rfc-editor.org/rfc/rfc8200#section-8.1),
//! [RFC 4443 §2.3](https://www.rfc-editor.org/rfc/rfc4443#section-2.3)).
//!
//! Sums are kept folded to 16 bits and not yet complemented, so that parts (a pseudo-header, a message) can be
//! [`combine`]d; the checksum field holds `!combine(..)`. A message whose checksum field is right sums to `0xffff`.

use std::net::Ipv6Addr;

/// The IPv6 next-header value of ICMPv6 (58), as it appears in the pseudo-header.
pub const NEXT_HEADER_ICMPV6: u8 = 58;

fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The one's complement sum of `data` as big-endian 16-bit words, an odd last byte padded with zero.
pub fn data(data: &[u8]) -> u16 {
    let mut chunks = data.chunks_exact(2);
    let mut sum: u64 = 0;
    for pair in &mut chunks {
        if let [hi, lo] = *pair {
            sum += u64::from(u16::from_be_bytes([hi, lo]));
        }
    }
    if let [last] = *chunks.remainder() {
        sum += u64::from(u16::from_be_bytes([last, 0]));
    }
    fold(sum)
}

/// The one's complement sum of partial sums.
pub fn combine(parts: &[u16]) -> u16 {
    fold(parts.iter().map(|&p| u64::from(p)).sum())
}

/// The checksum field for `message` alone (IGMP, the IPv4 header): the complement of its sum, computed with the
/// checksum field's bytes counted as they are (zero them first).
pub fn compute(message: &[u8]) -> u16 {
    !data(message)
}

/// The sum of the IPv6 pseudo-header: source, destination, upper-layer length (32 bits), three zero bytes and
/// the next-header value.
pub fn pseudo_header_v6(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, length: u32) -> u16 {
    let mut header = [0u8; 40];
    let (addrs, rest) = header.split_at_mut(32);
    let (s, d) = addrs.split_at_mut(16);
    s.copy_from_slice(&src.octets());
    d.copy_from_slice(&dst.octets());
    let (len, zero_next) = rest.split_at_mut(4);
    len.copy_from_slice(&length.to_be_bytes());
    if let Some(last) = zero_next.last_mut() {
        *last = next_header;
    }
    data(&header)
}

/// The ICMPv6 checksum field for `message` (checksum field zeroed) sent from `src` to `dst`.
pub fn icmpv6(src: &Ipv6Addr, dst: &Ipv6Addr, message: &[u8]) -> u16 {
    let len = u32::try_from(message.len()).unwrap_or(u32::MAX);
    !combine(&[pseudo_header_v6(src, dst, NEXT_HEADER_ICMPV6, len), data(message)])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
    #[test]
    fn rfc1071_example() {
        assert_eq!(data(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0xddf2);
        assert_eq!(compute(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(data(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
        assert_eq!(data(&[]), 0);
    }

    #[test]
    fn carries_wrap_around() {
        assert_eq!(data(&[0xff, 0xff, 0x00, 0x01]), 0x0001);
        assert_eq!(combine(&[0xffff, 0xffff]), 0xffff);
        assert_eq!(combine(&[0x8000, 0x8001]), 0x0002);
    }

    #[test]
    fn a_message_with_its_checksum_sums_to_all_ones() {
        let mut msg = [0x11, 0x64, 0x00, 0x00, 0xe0, 0x00, 0x00, 0x01];
        let sum = compute(&msg);
        msg[2..4].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(data(&msg), 0xffff);
    }

    #[test]
    fn pseudo_header_layout() {
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let dst: Ipv6Addr = "ff02::16".parse().unwrap();
        // fe80 + 0001 + ff02 + 0016 + length 0x001c + next header 0x003a
        let expected = combine(&[0xfe80, 0x0001, 0xff02, 0x0016, 0x001c, 0x003a]);
        assert_eq!(pseudo_header_v6(&src, &dst, NEXT_HEADER_ICMPV6, 28), expected);
    }
}
