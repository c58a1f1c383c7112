//! Sending and receiving many datagrams per system call, past the kernel's per-datagram cost.
//!
//! On Linux the per-datagram work in the kernel, not the system call, bounds a UDP sender: a `sendto` loop and
//! `sendmmsg` deliver about the same rate. UDP segmentation offload (`UDP_SEGMENT`, Linux 4.18) does better: one
//! `sendmsg` carries a buffer that the stack cuts into datagrams of one size as late as possible, and a receiver
//! with `UDP_GRO` (Linux 5.0) may get several of them back in one read, with the segment size in a control
//! message. Multicast works with both: every member gets each segment as its own datagram (or, with GRO, as
//! one coalesced read it splits here).
//!
//! Constraints of `UDP_SEGMENT`: all segments have one size except the last, which may be shorter; at most 64
//! segments per call and at most 65,507 bytes of payload (IPv4) in all; each segment must fit the path MTU,
//! since segments are never IP-fragmented (the kernel answers `EINVAL` or `EMSGSIZE`). [`BatchSender`] probes
//! for it and falls back to `sendmmsg`, then to `sendto`, when the kernel or the path refuses.

use std::net::SocketAddr;
use std::ops::Range;
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::socket::{McastSocket, RecvMeta};
use crate::sys;

/// The most segments one `UDP_SEGMENT` send carries: every kernel with the option takes 64 (`UDP_MAX_SEGMENTS`;
/// newer ones take 128).
pub const MAX_SEGMENTS: usize = 64;
/// The most payload bytes one UDP datagram (or one segmented send) carries over IPv4.
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// How a [`BatchSender`] hands datagrams to the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendPath {
    /// One `sendmsg` with `UDP_SEGMENT` per up to [`MAX_SEGMENTS`] datagrams.
    Segments,
    /// One `sendmmsg` per up to 64 datagrams.
    Batch,
    /// One `sendto` per datagram.
    Single,
}

impl SendPath {
    /// Its name as reports print it.
    pub fn name(self) -> &'static str {
        match self {
            SendPath::Segments => "gso",
            SendPath::Batch => "sendmmsg",
            SendPath::Single => "sendto",
        }
    }
}

/// Whether this socket accepts `UDP_SEGMENT` at all (the kernel knows the option). A path may still refuse
/// a segmented send; [`BatchSender`] handles that.
pub fn gso_supported(socket: &McastSocket) -> bool {
    socket.udp_segment().is_ok()
}

/// Sends runs of equal-sized datagrams to one address by the fastest path the kernel and route allow.
#[derive(Debug)]
pub struct BatchSender<'a> {
    socket: &'a McastSocket,
    dest: SocketAddr,
    path: SendPath,
    fallback: Option<String>,
}

fn refuses_gso(e: &Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::EIO | libc::EOPNOTSUPP | libc::ENOPROTOOPT | libc::EMSGSIZE | libc::EPROTONOSUPPORT)
    )
}

impl<'a> BatchSender<'a> {
    /// A sender preferring `path`; `Segments` is taken only if [`gso_supported`] says the kernel has it.
    pub fn new(socket: &'a McastSocket, dest: SocketAddr, path: SendPath) -> BatchSender<'a> {
        let mut s = BatchSender { socket, dest, path, fallback: None };
        if path == SendPath::Segments && !gso_supported(socket) {
            s.path = SendPath::Batch;
            s.fallback = Some("UDP_SEGMENT is not supported by this kernel".into());
        }
        s
    }

    /// The path in use now.
    pub fn path(&self) -> SendPath {
        self.path
    }

    /// Why the sender left the path it was asked for, if it did.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// How many datagrams of `size` bytes one call may carry on the current path.
    pub fn max_per_call(&self, size: usize) -> usize {
        match self.path {
            SendPath::Segments => (MAX_UDP_PAYLOAD / size.max(1)).clamp(1, MAX_SEGMENTS),
            SendPath::Batch => sys::mmsg::MAX_BATCH,
            SendPath::Single => 1,
        }
    }

    /// Sends the datagrams laid end to end in `buf`, each `size` bytes (the last may be shorter), in as few
    /// calls as the path allows. Returns how many datagrams went; fewer than all only when the kernel stopped
    /// early (a full buffer on a non-blocking socket), and then the first ones are the ones that went.
    pub fn send(&mut self, buf: &[u8], size: usize) -> Result<usize> {
        if size == 0 || size > MAX_UDP_PAYLOAD {
            return Err(Error::new(
                ErrorKind::OutOfRange,
                format!("datagram size {size} is out of range 1..={MAX_UDP_PAYLOAD}"),
            ));
        }
        let total = buf.len().div_ceil(size);
        let mut done = 0;
        while done < total {
            let n = self.max_per_call(size).min(total - done);
            let start = done * size;
            let end = ((done + n) * size).min(buf.len());
            let chunk = buf.get(start..end).unwrap_or(&[]);
            let sent = match self.path {
                SendPath::Segments => match self.socket.send_segments(chunk, self.dest, size as u16) {
                    Ok(_) => n,
                    Err(e) if refuses_gso(&e) => {
                        // A refused segmented send sent nothing: fall back and send the same chunk again.
                        self.fallback = Some(format!("{e:#}"));
                        self.path = SendPath::Batch;
                        continue;
                    }
                    Err(e) => return if done > 0 && would_block(&e) { Ok(done) } else { Err(e) },
                },
                SendPath::Batch => {
                    // On the stack: a flat-out sender makes this call tens of thousands of times a second.
                    let mut slices: [&[u8]; sys::mmsg::MAX_BATCH] = [&[]; sys::mmsg::MAX_BATCH];
                    let mut k = 0;
                    for (slot, part) in slices.iter_mut().zip(chunk.chunks(size)) {
                        *slot = part;
                        k += 1;
                    }
                    match self.socket.send_batch(&slices[..k], self.dest) {
                        Ok(k) => k,
                        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                            self.fallback = Some(format!("{e:#}"));
                            self.path = SendPath::Single;
                            continue;
                        }
                        Err(e) => return if done > 0 && would_block(&e) { Ok(done) } else { Err(e) },
                    }
                }
                SendPath::Single => match self.socket.send_to(chunk, self.dest) {
                    Ok(_) => 1,
                    Err(e) => return if done > 0 && would_block(&e) { Ok(done) } else { Err(e) },
                },
            };
            done += sent;
            if sent < n {
                break;
            }
        }
        Ok(done)
    }
}

fn would_block(e: &Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::ENOBUFS))
}

/// Receives datagrams in batches with `recvmmsg`, and splits `UDP_GRO` reads back into their datagrams.
///
/// Everything a call needs (buffers, the per-datagram address and control arrays, the metadata list) lives
/// here between calls: a busy receiver makes millions of datagrams' worth of calls, and zeroing or allocating
/// them each time costs as much as the reading.
#[derive(Debug)]
pub struct BatchReceiver {
    bufs: Vec<Vec<u8>>,
    metas: Vec<RecvMeta>,
    scratch: Box<sys::mmsg::RecvScratch>,
}

impl BatchReceiver {
    /// Buffers for `batch` datagrams (at most 64) of up to `buf_size` bytes each. With `UDP_GRO` on, give
    /// 65,535-byte buffers: one read may carry many segments.
    pub fn new(batch: usize, buf_size: usize) -> BatchReceiver {
        let batch = batch.clamp(1, sys::mmsg::MAX_BATCH);
        BatchReceiver {
            bufs: vec![vec![0u8; buf_size.max(1)]; batch],
            metas: Vec::with_capacity(batch),
            scratch: Box::default(),
        }
    }

    /// Waits up to `timeout` (`None`: forever) for datagrams, then hands each one, with the metadata of the read
    /// it came in, to `each`. Returns how many datagrams were handed over (0 on timeout). A GRO read is split
    /// into its segments, each handed over on its own with `len` set to its size.
    pub fn recv(
        &mut self,
        socket: &McastSocket,
        timeout: Option<Duration>,
        mut each: impl FnMut(&[u8], &RecvMeta),
    ) -> Result<usize> {
        let mut handed = 0;
        self.recv_reads(socket, timeout, |buf, meta| handed += split_read(buf, meta, &mut each))?;
        Ok(handed)
    }

    /// [`Self::recv`] without the splitting: hands `each` every read whole (a `UDP_GRO` read with all its
    /// segments) with its metadata, for a caller that walks a train faster than one call per datagram (it can
    /// cut it as [`gro_datagrams`] does). Returns how many reads there were.
    pub(crate) fn recv_reads(
        &mut self,
        socket: &McastSocket,
        timeout: Option<Duration>,
        each: impl FnMut(&[u8], &RecvMeta),
    ) -> Result<usize> {
        // What is queued already is taken without a poll first: a receiver that falls behind saves a system
        // call per batch, and one that keeps up pays one failed read before it waits.
        let n = match self.read(socket, libc::MSG_DONTWAIT) {
            Ok(n) => n,
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                if !sys::socket::wait_readable(socket.fd(), timeout).map_err(|e| Error::os("poll", e))? {
                    return Ok(0);
                }
                // Readable now: the read takes what is there without waiting, blocking socket or not.
                return self.recv_reads_blocking(socket, each);
            }
            Err(e) => return Err(e),
        };
        self.hand_over(n, each);
        Ok(n)
    }

    /// [`Self::recv_reads`] for a blocking socket with a read timeout (`SO_RCVTIMEO`): one `recvmmsg` that
    /// sleeps in the kernel until the first read and takes what is queued behind it, where the poll path
    /// makes three system calls each time the receiver has caught up (a read that finds nothing, the poll, the
    /// read). Returns 0 when the timeout passed; a read a signal interrupts is made again, so a caller that
    /// looks at a signal flag between calls sees it within one timeout.
    pub(crate) fn recv_reads_blocking(
        &mut self,
        socket: &McastSocket,
        each: impl FnMut(&[u8], &RecvMeta),
    ) -> Result<usize> {
        let n = match self.read(socket, libc::MSG_WAITFORONE) {
            Ok(n) => n,
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => return Ok(0),
            Err(e) => return Err(e),
        };
        self.hand_over(n, each);
        Ok(n)
    }

    /// Hands `each` the first `n` reads of the last call, whole, with their metadata.
    fn hand_over(&self, n: usize, mut each: impl FnMut(&[u8], &RecvMeta)) {
        for (buf, meta) in self.bufs.iter().zip(&self.metas).take(n) {
            each(buf.get(..meta.len).unwrap_or(&[]), meta);
        }
    }

    fn read(&mut self, socket: &McastSocket, flags: libc::c_int) -> Result<usize> {
        socket.recv_batch_with(&mut self.bufs, &mut self.metas, &mut self.scratch, flags)
    }
}

/// The datagrams of one read, each as its byte range in the read's buffer and its own metadata. A read the
/// kernel coalesced under `UDP_GRO` (its `gro_segment` smaller than its length) is cut at the segment size: every
/// part but the last is one segment long. Any other read is one datagram, its metadata unchanged.
///
/// A truncated coalesced read keeps the loss on its last part: that part is `truncated`, and its `full_len`
/// counts every byte of the read from its start, so `full_len - len` is still what was lost.
pub fn gro_datagrams(meta: &RecvMeta) -> impl Iterator<Item = (Range<usize>, RecvMeta)> {
    let meta = *meta;
    let parts = Parts::of(&meta);
    (0..parts.count).map(move |i| {
        let (range, full_len, truncated) = parts.part(&meta, i);
        (range.clone(), RecvMeta { len: range.len(), full_len, truncated, ..meta })
    })
}

/// Hands `each` the datagrams of one read as [`gro_datagrams`] cuts them, from one copy of the metadata whose
/// lengths change between parts: a GRO read holds up to 64 datagrams, and copying the whole metadata for
/// every one is per-datagram work a busy receiver feels. Returns how many were handed over.
pub(crate) fn split_read(buf: &[u8], meta: &RecvMeta, each: &mut impl FnMut(&[u8], &RecvMeta)) -> usize {
    let parts = Parts::of(meta);
    if parts.count == 1 {
        each(buf.get(..meta.len).unwrap_or(&[]), meta);
        return 1;
    }
    let mut m = *meta;
    for i in 0..parts.count {
        let (range, full_len, truncated) = parts.part(meta, i);
        (m.len, m.full_len, m.truncated) = (range.len(), full_len, truncated);
        each(buf.get(range).unwrap_or(&[]), &m);
    }
    parts.count
}

/// How one read divides into datagrams: `count` parts of `seg` bytes, the last possibly shorter.
#[derive(Clone, Copy)]
struct Parts {
    seg: usize,
    count: usize,
}

impl Parts {
    fn of(meta: &RecvMeta) -> Parts {
        match meta.gro_segment.map(usize::from) {
            Some(seg) if seg > 0 && meta.len > seg => Parts { seg, count: meta.len.div_ceil(seg) },
            _ => Parts { seg: meta.len.max(1), count: 1 },
        }
    }

    /// Part `i`: its byte range, its `full_len` and whether it is `truncated`.
    fn part(self, meta: &RecvMeta, i: usize) -> (Range<usize>, usize, bool) {
        if self.count == 1 {
            return (0..meta.len, meta.full_len, meta.truncated);
        }
        let start = i * self.seg;
        let end = (start + self.seg).min(meta.len);
        let truncated = i + 1 == self.count && meta.truncated;
        let full_len = if truncated { meta.full_len.saturating_sub(start) } else { end - start };
        (start..end, full_len, truncated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(len: usize, full_len: usize, gro_segment: Option<u16>) -> RecvMeta {
        RecvMeta::sample(len, full_len, gro_segment)
    }

    #[test]
    fn split_read_hands_over_what_gro_datagrams_lists() {
        let buf: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let cases = [
            meta(100, 100, None),      // one plain datagram
            meta(100, 150, None),      // one truncated datagram
            meta(400, 400, Some(100)), // four equal segments
            meta(350, 350, Some(100)), // a short last segment
            meta(300, 400, Some(100)), // a truncated coalesced read
            meta(100, 100, Some(100)), // one segment: not cut
            meta(0, 0, Some(100)),     // empty
            meta(1000, 1000, Some(0)), // a zero segment size is ignored
            meta(1000, 1000, Some(1)), // many one-byte segments
        ];
        for m in cases {
            let want: Vec<(Vec<u8>, RecvMeta)> = gro_datagrams(&m).map(|(r, pm)| (buf[r].to_vec(), pm)).collect();
            let mut got = Vec::new();
            let n = split_read(&buf, &m, &mut |d: &[u8], pm: &RecvMeta| got.push((d.to_vec(), *pm)));
            assert_eq!(n, want.len(), "{m:?}");
            assert_eq!(got, want, "{m:?}");
        }
        // The parts of the truncated coalesced read: 100, 100, then 100 of 200 bytes.
        let parts: Vec<_> =
            gro_datagrams(&meta(300, 400, Some(100))).map(|(r, m)| (r, m.full_len, m.truncated)).collect();
        assert_eq!(parts, [(0..100, 100, false), (100..200, 100, false), (200..300, 200, true)]);
    }

    #[test]
    fn batch_receiver_can_move_between_threads() {
        fn send<T: Send>(_: &T) {}
        send(&BatchReceiver::new(4, 100));
    }
}
