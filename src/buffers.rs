//! Socket buffers under pressure: sizes as asked and as granted, and the kernel's exact count of datagrams
//! dropped for lack of room.
//!
//! Linux doubles a requested `SO_RCVBUF`/`SO_SNDBUF` (the other half pays for its own bookkeeping) and caps it
//! at `net.core.rmem_max`/`wmem_max`, silently; inside a network namespace those limits cannot even be raised.
//! `SO_RCVBUFFORCE`/`SO_SNDBUFFORCE` pass the cap for a process with `CAP_NET_ADMIN`. [`BufferSize`] says
//! which was used and what the kernel granted, read back, so a tool can say "clamped" instead of pretending.

use std::fmt;

use crate::error::{Error, Result};
use crate::socket::McastSocket;
use crate::sys::sockopt;

/// Which buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `SO_RCVBUF`.
    Receive,
    /// `SO_SNDBUF`.
    Send,
}

/// A buffer size request and the kernel's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BufferSize {
    /// Which buffer.
    pub direction: Direction,
    /// Bytes asked for.
    pub requested: u32,
    /// What `getsockopt` reads back afterwards: twice the granted size, as Linux books it.
    pub effective: u32,
    /// Whether the `FORCE` option (past `rmem_max`/`wmem_max`) was accepted.
    pub forced: bool,
}

impl BufferSize {
    /// The kernel granted less than asked: `effective` is below twice `requested`.
    pub fn clamped(&self) -> bool {
        u64::from(self.effective) < 2 * u64::from(self.requested)
    }

    /// The kernel's system-wide cap that applies without `CAP_NET_ADMIN`.
    pub fn sysctl(&self) -> &'static str {
        match self.direction {
            Direction::Receive => "net.core.rmem_max",
            Direction::Send => "net.core.wmem_max",
        }
    }

    /// The option that was set.
    pub fn option(&self) -> &'static str {
        match (self.direction, self.forced) {
            (Direction::Receive, true) => "SO_RCVBUFFORCE",
            (Direction::Receive, false) => "SO_RCVBUF",
            (Direction::Send, true) => "SO_SNDBUFFORCE",
            (Direction::Send, false) => "SO_SNDBUF",
        }
    }
}

impl fmt::Display for BufferSize {
    /// "SO_RCVBUF 8388608: the kernel granted 425984 (reads back 425984, capped by net.core.rmem_max; ...)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: reads back {}", self.option(), self.requested, self.effective)?;
        if !self.clamped() {
            return f.write_str(" (the kernel doubles it for its bookkeeping)");
        }
        write!(f, ", clamped: the kernel granted {} of the {} asked", self.effective / 2, self.requested)?;
        if self.forced {
            f.write_str(" (the kernel's own limit)")
        } else {
            write!(f, " ({} caps it; CAP_NET_ADMIN would allow more)", self.sysctl())
        }
    }
}

/// Socket buffers and drops (socket(7)).
impl McastSocket {
    /// Sets the receive buffer to `bytes`: `SO_RCVBUFFORCE` when privileged (past `rmem_max`), else
    /// `SO_RCVBUF`; reads the result back, so the caller can tell when the kernel clamped it.
    pub fn request_recv_buffer(&self, bytes: u32) -> Result<BufferSize> {
        self.request_buffer(Direction::Receive, bytes)
    }

    /// Sets the send buffer to `bytes`: `SO_SNDBUFFORCE` when privileged, else `SO_SNDBUF`; reads it back.
    pub fn request_send_buffer(&self, bytes: u32) -> Result<BufferSize> {
        self.request_buffer(Direction::Send, bytes)
    }

    fn request_buffer(&self, direction: Direction, bytes: u32) -> Result<BufferSize> {
        let forced = match direction {
            Direction::Receive => self.set_recv_buffer_size_force(bytes),
            Direction::Send => self.set_send_buffer_size_force(bytes),
        };
        let forced = match forced {
            Ok(()) => true,
            // Without CAP_NET_ADMIN the FORCE option is refused with EPERM: fall back to the capped one.
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                match direction {
                    Direction::Receive => self.set_recv_buffer_size(bytes)?,
                    Direction::Send => self.set_send_buffer_size(bytes)?,
                }
                false
            }
            Err(e) => return Err(e),
        };
        let effective = match direction {
            Direction::Receive => self.recv_buffer_size()?,
            Direction::Send => self.send_buffer_size()?,
        };
        Ok(BufferSize { direction, requested: bytes, effective, forced })
    }

    /// Datagrams the kernel has dropped on this socket for lack of receive buffer (or memory) since it was
    /// opened: `SK_MEMINFO_DROPS` of `SO_MEMINFO`, the counter `SO_RXQ_OVFL` samples.
    ///
    /// Exact at the moment of the call, unlike the `SO_RXQ_OVFL` value of the last datagram read
    /// ([`crate::RecvMeta::drops`]), which cannot count drops that happened after that datagram was queued.
    pub fn kernel_drops(&self) -> Result<u32> {
        let mut raw = [0u8; 4 * 16];
        let len = sockopt::getsockopt_bytes(self.fd(), libc::SOL_SOCKET, libc::SO_MEMINFO, &mut raw)
            .map_err(|e| Error::os("getsockopt SO_MEMINFO", e))?;
        let at = 4 * libc::SK_MEMINFO_DROPS as usize;
        raw.get(at..at + 4)
            .filter(|_| len >= at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_ne_bytes)
            .ok_or_else(|| {
                Error::os(
                    format!("getsockopt SO_MEMINFO answered {len} bytes, too few for SK_MEMINFO_DROPS"),
                    std::io::Error::from_raw_os_error(libc::EPROTO),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::Family;

    #[test]
    fn a_granted_request_reads_back_doubled_and_a_capped_one_says_so() {
        let s = McastSocket::udp(Family::V4).unwrap();
        let b = s.request_recv_buffer(65536).unwrap();
        assert_eq!(b.effective, 131072, "{b}");
        assert!(!b.clamped(), "{b}");
        let capped = BufferSize { direction: Direction::Receive, requested: 1 << 24, effective: 425984, forced: false };
        assert!(capped.clamped());
        let text = capped.to_string();
        assert!(text.contains("clamped") && text.contains("212992") && text.contains("net.core.rmem_max"), "{text}");
        assert_eq!(s.request_send_buffer(32768).unwrap().effective, 65536);
    }

    #[test]
    fn a_fresh_socket_has_dropped_nothing() {
        let s = McastSocket::udp(Family::V6).unwrap();
        assert_eq!(s.kernel_drops().unwrap(), 0);
    }
}
