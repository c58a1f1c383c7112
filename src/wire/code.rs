//! The floating-point codes of IGMPv3 and MLDv2 for times too long for their fields.
//!
//! An 8-bit code (IGMPv3 Max Resp Code and QQIC, [RFC 3376 §4.1.1](https://www.rfc-editor.org/rfc/rfc3376#section-4.1.1)
//! and §4.1.7; MLDv2 QQIC, [RFC 3810 §5.1.9](https://www.rfc-editor.org/rfc/rfc3810#section-5.1.9)) below 128 is
//! the value itself; from 128 up it reads `1 | exp(3) | mant(4)` and means `(mant | 0x10) << (exp + 3)`.
//!
//! The 16-bit MLDv2 Maximum Response Code ([RFC 3810 §5.1.3](https://www.rfc-editor.org/rfc/rfc3810#section-5.1.3))
//! is the same with 12 mantissa bits: below 32768 the value itself, above `(mant | 0x1000) << (exp + 3)`.
//!
//! Each code decodes to a distinct value, so `encode(decode(c)) == c` for every code. Values between two codes
//! encode to the lower one (a querier then asks for answers a little sooner, never later); values past the
//! largest code encode to the largest.

/// The largest value an 8-bit code can express: 31744.
pub const FLOAT8_MAX: u32 = 0x1f << 10;
/// The largest value a 16-bit code can express: 8387584.
pub const FLOAT16_MAX: u32 = 0x1fff << 10;

fn decode(code: u32, mant_bits: u32) -> u32 {
    let threshold = 1 << (mant_bits + 3);
    if code < threshold {
        return code;
    }
    let exp = (code >> mant_bits) & 0x7;
    let mant = code & ((1 << mant_bits) - 1);
    (mant | (1 << mant_bits)) << (exp + 3)
}

fn encode(value: u32, mant_bits: u32) -> u32 {
    let threshold = 1 << (mant_bits + 3);
    if value < threshold {
        return value;
    }
    // The mantissa with its implicit top bit has mant_bits + 1 bits; find the shift that leaves exactly that.
    let top_bit = 31 - value.leading_zeros();
    let shift = top_bit - mant_bits;
    let exp = shift - 3;
    if exp > 7 {
        return threshold | (0x7 << mant_bits) | ((1 << mant_bits) - 1);
    }
    let mant = (value >> shift) & ((1 << mant_bits) - 1);
    threshold | (exp << mant_bits) | mant
}

/// The value of an 8-bit code (IGMPv3 Max Resp Code in tenths of a second, QQIC in seconds; MLDv2 QQIC).
pub fn decode_float8(code: u8) -> u32 {
    decode(u32::from(code), 4)
}

/// The 8-bit code for `value`, rounded down to the nearest value a code expresses.
pub fn encode_float8(value: u32) -> u8 {
    encode(value, 4) as u8
}

/// The value of a 16-bit MLDv2 Maximum Response Code, in milliseconds.
pub fn decode_float16(code: u16) -> u32 {
    decode(u32::from(code), 12)
}

/// The 16-bit MLDv2 code for `value` milliseconds, rounded down to the nearest value a code expresses.
pub fn encode_float16(value: u32) -> u16 {
    encode(value, 12) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_themselves() {
        assert_eq!(decode_float8(0), 0);
        assert_eq!(decode_float8(100), 100);
        assert_eq!(decode_float8(127), 127);
        assert_eq!(encode_float8(127), 127);
        assert_eq!(decode_float16(32767), 32767);
        assert_eq!(encode_float16(10_000), 10_000);
    }

    #[test]
    #[allow(clippy::unusual_byte_groupings)] // grouped as the RFC draws it: 1 | exp | mant
    fn rfc_layout_of_large_codes() {
        // 1 000 0000: mant 0, exp 0 -> 0x10 << 3 = 128.
        assert_eq!(decode_float8(0x80), 128);
        // 1 001 0100: mant 4, exp 1 -> 0x14 << 4 = 320.
        assert_eq!(decode_float8(0x94), 320);
        assert_eq!(decode_float8(0xff), FLOAT8_MAX);
        assert_eq!(decode_float16(0x8000), 32768);
        assert_eq!(decode_float16(0xffff), FLOAT16_MAX);
        // 125 s query interval fits as itself; 1000 s needs exp 2: 1000 >> 5 = 0x1f, so mant 0xf, and 0x1f << 5 = 992.
        assert_eq!(encode_float8(125), 125);
        assert_eq!(encode_float8(1000), 0b1_010_1111);
        assert_eq!(decode_float8(encode_float8(1000)), 992);
    }

    #[test]
    fn every_code_round_trips() {
        for code in 0..=u8::MAX {
            assert_eq!(encode_float8(decode_float8(code)), code, "code {code}");
        }
        for code in 0..=u16::MAX {
            assert_eq!(encode_float16(decode_float16(code)), code, "code {code}");
        }
    }

    #[test]
    fn encoding_rounds_down_and_saturates() {
        for value in (0..40_000u32).step_by(7) {
            let decoded = decode_float8(encode_float8(value));
            assert!(decoded <= value.min(FLOAT8_MAX), "{value} -> {decoded}");
        }
        assert_eq!(encode_float8(u32::MAX), 0xff);
        assert_eq!(encode_float16(u32::MAX), 0xffff);
        assert_eq!(encode_float16(FLOAT16_MAX + 1), 0xffff);
        assert_eq!(encode_float8(129), 0x80);
    }
}
