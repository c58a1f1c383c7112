//! IPv4 options ([RFC 791 §3.1](https://www.rfc-editor.org/rfc/rfc791#section-3.1)): End of Option List, No
//! Operation, Router Alert ([RFC 2113](https://www.rfc-editor.org/rfc/rfc2113)) and any other as type and data.

use super::super::bytes::{range, tail, u16_at, u8_at};
use super::super::{Error, Result};
use super::MAX_OPTIONS_LEN;

/// Option type numbers (copied flag, class and number together, as on the wire).
pub mod option_kind {
    /// End of Option List: the rest of the options area is padding.
    pub const END: u8 = 0;
    /// No Operation: one byte of alignment.
    pub const NOP: u8 = 1;
    /// Router Alert (RFC 2113): copied, class 0, number 20.
    pub const ROUTER_ALERT: u8 = 0x94;
}

/// One IPv4 option.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ipv4Option {
    /// No Operation (type 1), a byte of alignment.
    NoOperation,
    /// Router Alert (type 148, RFC 2113) with its value; 0 means "routers shall examine this packet".
    RouterAlert(u16),
    /// Any other option: its type byte and the bytes after its length byte.
    Other {
        /// The option type byte.
        kind: u8,
        /// The option data.
        data: Vec<u8>,
    },
}

impl Ipv4Option {
    /// The bytes this option takes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Ipv4Option::NoOperation => 1,
            Ipv4Option::RouterAlert(_) => 4,
            Ipv4Option::Other { data, .. } => 2 + data.len(),
        }
    }

    pub(super) fn emit(&self, out: &mut Vec<u8>) -> Result<()> {
        match self {
            Ipv4Option::NoOperation => out.push(option_kind::NOP),
            Ipv4Option::RouterAlert(value) => {
                out.extend_from_slice(&[option_kind::ROUTER_ALERT, 4]);
                out.extend_from_slice(&value.to_be_bytes());
            }
            Ipv4Option::Other { kind, data } => {
                if matches!(*kind, option_kind::END | option_kind::NOP | option_kind::ROUTER_ALERT) {
                    return Err(Error::Unencodable("an End, No Operation or Router Alert option as Other"));
                }
                let len = u8::try_from(data.len() + 2)
                    .ok()
                    .filter(|&len| usize::from(len) <= MAX_OPTIONS_LEN)
                    .ok_or(Error::OptionsTooLong(data.len() + 2))?;
                out.extend_from_slice(&[*kind, len]);
                out.extend_from_slice(data);
            }
        }
        Ok(())
    }
}

/// The options of a header, walked from the first; stops at End of Option List or after the first error.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    buf: &'a [u8],
    offset: usize,
}

impl<'a> Options<'a> {
    /// The options in `area`, the bytes between the fixed header and the payload.
    pub fn new(area: &'a [u8]) -> Self {
        Options { buf: area, offset: 0 }
    }
}

impl Iterator for Options<'_> {
    type Item = Result<Ipv4Option>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = tail(self.buf, self.offset);
        let offset = self.offset;
        let kind = *rest.first()?;
        match kind {
            option_kind::END => {
                self.offset = self.buf.len();
                None
            }
            option_kind::NOP => {
                self.offset += 1;
                Some(Ok(Ipv4Option::NoOperation))
            }
            _ => {
                let len = usize::from(u8_at(rest, 1));
                if len < 2 || len > rest.len() || (kind == option_kind::ROUTER_ALERT && len != 4) {
                    self.offset = self.buf.len();
                    return Some(Err(Error::BadOption { offset, kind }));
                }
                self.offset += len;
                let data = range(rest, 2, len);
                if kind == option_kind::ROUTER_ALERT {
                    Some(Ok(Ipv4Option::RouterAlert(u16_at(data, 0))))
                } else {
                    Some(Ok(Ipv4Option::Other { kind, data: data.to_vec() }))
                }
            }
        }
    }
}
