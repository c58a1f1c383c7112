//! Reads and writes of big-endian fields that cannot panic: a field past the end of the buffer reads as zero and
//! is not written. Views check their lengths first (`new_checked`), so on a checked view these never fall short;
//! on an unchecked one they degrade instead of panicking.

use std::net::{Ipv4Addr, Ipv6Addr};

pub(crate) fn u8_at(buf: &[u8], at: usize) -> u8 {
    buf.get(at).copied().unwrap_or(0)
}

pub(crate) fn array_at<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = buf.get(at..at.saturating_add(N)) {
        out.copy_from_slice(src);
    }
    out
}

pub(crate) fn u16_at(buf: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(array_at(buf, at))
}

pub(crate) fn v4_at(buf: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::from(array_at::<4>(buf, at))
}

pub(crate) fn v6_at(buf: &[u8], at: usize) -> Ipv6Addr {
    Ipv6Addr::from(array_at::<16>(buf, at))
}

pub(crate) fn set_bytes(buf: &mut [u8], at: usize, src: &[u8]) {
    if let Some(dst) = buf.get_mut(at..at.saturating_add(src.len())) {
        dst.copy_from_slice(src);
    }
}

pub(crate) fn set_u8(buf: &mut [u8], at: usize, value: u8) {
    set_bytes(buf, at, &[value]);
}

pub(crate) fn set_u16(buf: &mut [u8], at: usize, value: u16) {
    set_bytes(buf, at, &value.to_be_bytes());
}

/// The bytes from `from` to the end, or nothing.
pub(crate) fn tail(buf: &[u8], from: usize) -> &[u8] {
    buf.get(from..).unwrap_or(&[])
}

/// The bytes in `from..to`, clipped to the buffer.
pub(crate) fn range(buf: &[u8], from: usize, to: usize) -> &[u8] {
    let to = to.min(buf.len());
    buf.get(from.min(to)..to).unwrap_or(&[])
}

/// Fails with [`crate::wire::Error::Truncated`] unless `buf` holds `need` bytes.
pub(crate) fn need(buf: &[u8], need: usize) -> crate::wire::Result<()> {
    if buf.len() < need {
        Err(crate::wire::Error::Truncated { need, have: buf.len() })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_past_the_end_are_zero() {
        let buf = [0x12, 0x34, 0x56];
        assert_eq!(u16_at(&buf, 1), 0x3456);
        assert_eq!(u16_at(&buf, 2), 0);
        assert_eq!(u8_at(&buf, 3), 0);
        assert_eq!(v4_at(&buf, usize::MAX), Ipv4Addr::UNSPECIFIED);
        assert_eq!(range(&buf, 2, 10), &[0x56]);
        assert_eq!(range(&buf, 5, 1), &[] as &[u8]);
        assert_eq!(tail(&buf, 4), &[] as &[u8]);
    }

    #[test]
    fn writes_past_the_end_are_dropped() {
        let mut buf = [0u8; 3];
        set_u16(&mut buf, 2, 0xffff);
        set_u16(&mut buf, usize::MAX, 0xffff);
        assert_eq!(buf, [0, 0, 0]);
        set_u16(&mut buf, 1, 0xabcd);
        assert_eq!(buf, [0, 0xab, 0xcd]);
    }
}
