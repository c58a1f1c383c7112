//! What a plain sender sends: a message repeated, generated datagrams numbered so a receiver can tell them
//! apart, or one datagram per line of a reader; each optionally made exactly a given size.
//!
//! ```
//! use mcast::__private::payload::{Payloads, Source};
//! let all: Vec<Vec<u8>> = Payloads::new(Source::Generated, Some(2), Some(12)).collect::<Result<_, _>>()?;
//! assert_eq!(all, [b"mcast #1 abc".to_vec(), b"mcast #2 abc".to_vec()]);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, BufRead, Read};

use crate::group::Group;

/// The largest UDP payload over IPv4: 65535 less the IPv4 (20) and UDP (8) headers.
pub const MAX_UDP_PAYLOAD_V4: usize = crate::gso::MAX_UDP_PAYLOAD;

/// The largest UDP payload over IPv6: 65535 less the UDP header only, since IPv6's payload length excludes its
/// own header.
pub const MAX_UDP_PAYLOAD_V6: usize = 65_527;

/// The largest UDP payload a datagram to `group` can carry.
pub fn max_payload(group: Group) -> usize {
    if group.is_ipv6() {
        MAX_UDP_PAYLOAD_V6
    } else {
        MAX_UDP_PAYLOAD_V4
    }
}

/// A generated payload of exactly `size` bytes: "mcast #SEQ " then a repeating alphabet, so a receiver can
/// tell datagrams apart and see where one was cut.
pub fn generated(seq: u64, size: usize) -> Vec<u8> {
    let mut p = format!("mcast #{seq} ").into_bytes();
    p.extend(b"abcdefghijklmnopqrstuvwxyz".iter().cycle().take(size.saturating_sub(p.len())));
    p.truncate(size);
    p
}

/// Where the payloads come from.
pub enum Source {
    /// The same message each time.
    Message(Vec<u8>),
    /// [`generated`] payloads, numbered from 1 (their size is the one [`Payloads::new`] is given).
    Generated,
    /// One per line, without its `\n` (nor a `\r` before it).
    Lines(Box<dyn BufRead>),
    /// The bytes as they are, cut into datagrams of this many bytes (the last may be shorter): pipe mode.
    Chunks(Box<dyn Read>, usize),
    /// The bytes as they are, one datagram per `read` of at most this many bytes: pipe mode.
    Reads(Box<dyn Read>, usize),
}

/// The payloads to send, in order: `count` of them (default 1; for lines, at most `count`, default all), each
/// padded with `.` or cut to `size` when one is given.
pub struct Payloads {
    source: Source,
    left: Option<u64>,
    size: Option<usize>,
    seq: u64,
}

impl Payloads {
    /// The payloads of `source`.
    pub fn new(source: Source, count: Option<u64>, size: Option<usize>) -> Payloads {
        let left = match source {
            Source::Lines(_) | Source::Chunks(..) | Source::Reads(..) => count,
            _ => Some(count.unwrap_or(1)),
        };
        Payloads { source, left, size, seq: 0 }
    }
}

impl Iterator for Payloads {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<io::Result<Vec<u8>>> {
        if self.left == Some(0) {
            return None;
        }
        self.seq = self.seq.saturating_add(1);
        let mut payload = match &mut self.source {
            Source::Message(m) => m.clone(),
            Source::Generated => generated(self.seq, self.size.unwrap_or(0)),
            Source::Lines(r) => match read_line(r.as_mut()) {
                Ok(Some(line)) => line,
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            },
            Source::Chunks(r, n) => match read_up_to(r.as_mut(), *n, true) {
                Ok(Some(chunk)) => return self.counted(chunk),
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            },
            Source::Reads(r, n) => match read_up_to(r.as_mut(), *n, false) {
                Ok(Some(chunk)) => return self.counted(chunk),
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            },
        };
        self.left = self.left.map(|n| n.saturating_sub(1));
        if let Some(n) = self.size {
            payload.resize(n, b'.');
        }
        Some(Ok(payload))
    }
}

impl Payloads {
    /// A raw payload, as read: counted, never padded.
    fn counted(&mut self, payload: Vec<u8>) -> Option<io::Result<Vec<u8>>> {
        self.left = self.left.map(|n| n.saturating_sub(1));
        Some(Ok(payload))
    }
}

/// Up to `max` bytes of `r`: as many as one `read` gives, or (`fill`) as many as it takes to reach `max` or the
/// end of input; `None` at the end of input.
fn read_up_to(r: &mut dyn Read, max: usize, fill: bool) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; max];
    let mut got = 0;
    while got < max {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => {
                got += n;
                if !fill {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if got == 0 && max > 0 {
        return Ok(None);
    }
    buf.truncate(got);
    Ok(Some(buf))
}

/// The next line of `r` without its end; `None` at the end of input.
fn read_line(r: &mut dyn BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    if r.read_until(b'\n', &mut line)? == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(p: Payloads) -> Vec<Vec<u8>> {
        p.collect::<io::Result<_>>().unwrap()
    }

    #[test]
    fn raw_input_is_cut_byte_exact() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let chunks = all(Payloads::new(Source::Chunks(Box::new(io::Cursor::new(data.clone())), 300), None, None));
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), [300, 300, 300, 100]);
        assert_eq!(chunks.concat(), data);
        let reads = all(Payloads::new(Source::Reads(Box::new(io::Cursor::new(data.clone())), 65_507), None, None));
        assert_eq!(reads.concat(), data);
        let two = all(Payloads::new(Source::Chunks(Box::new(io::Cursor::new(data)), 300), Some(2), Some(300)));
        assert_eq!(two.len(), 2);
        assert!(all(Payloads::new(Source::Chunks(Box::new(io::empty()), 8), None, None)).is_empty());
    }

    #[test]
    fn generated_payloads_have_the_exact_size_and_sequence() {
        assert_eq!(generated(7, 12), b"mcast #7 abc");
        assert_eq!(generated(123, 4), b"mcas");
        assert_eq!(generated(1, 0), b"");
        assert_eq!(generated(2, 1000).len(), 1000);
        assert_eq!(generated(1, 40), b"mcast #1 abcdefghijklmnopqrstuvwxyzabcde");
    }

    #[test]
    fn a_message_repeats_and_is_fitted_to_the_size() {
        assert_eq!(all(Payloads::new(Source::Message(b"hi".to_vec()), None, None)), [b"hi"]);
        assert_eq!(all(Payloads::new(Source::Message(b"hi".to_vec()), Some(2), Some(4))), [b"hi..", b"hi.."]);
        assert_eq!(all(Payloads::new(Source::Message(b"hello".to_vec()), Some(1), Some(2))), [b"he"]);
        assert_eq!(all(Payloads::new(Source::Generated, Some(3), Some(9))).last().unwrap(), b"mcast #3 ");
    }

    #[test]
    fn lines_lose_their_ends_and_stop_at_the_count() {
        let input = || Box::new(io::Cursor::new(b"one\r\ntwo\n\nlast".to_vec())) as Box<dyn BufRead>;
        assert_eq!(all(Payloads::new(Source::Lines(input()), None, None)), [&b"one"[..], b"two", b"", b"last"]);
        assert_eq!(all(Payloads::new(Source::Lines(input()), Some(2), None)), [b"one", b"two"]);
        assert_eq!(all(Payloads::new(Source::Lines(input()), Some(1), Some(5))), [b"one.."]);
        assert_eq!(max_payload("[ff15::1]:1".parse().unwrap()), 65_527);
    }
}
