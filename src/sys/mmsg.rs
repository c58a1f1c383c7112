//! Batch I/O: `sendmmsg` and `recvmmsg`, with per-datagram addresses and control messages in arrays that a
//! receiver may keep between calls ([`RecvScratch`]).

use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::cmsg::CmsgBuf;
use super::mreq::sockaddr;
use super::socket::{finish_msghdr, prepare_msghdr, raw_answer, RawRecv, Received};
use super::{cvt, retry_eintr};

/// The most datagrams one batch call handles (`UIO_MAXIOV` allows 1024; 64 keeps the stack arrays small).
pub const MAX_BATCH: usize = 64;

/// `sendmmsg`: sends each buffer as one datagram to `addr`. Returns how many were sent (the kernel may stop
/// early, for example on a full send buffer; the caller sends the rest).
pub fn send_batch(fd: BorrowedFd<'_>, bufs: &[&[u8]], addr: &SocketAddr) -> io::Result<usize> {
    let n = bufs.len().min(MAX_BATCH);
    if n == 0 {
        return Ok(0);
    }
    let (mut st, len) = sockaddr(addr);
    let mut iovs = [libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; MAX_BATCH];
    // SAFETY: all-zero mmsghdr is valid (null pointers, zero lengths).
    let mut msgs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
    for i in 0..n {
        iovs[i] = libc::iovec { iov_base: bufs[i].as_ptr() as *mut libc::c_void, iov_len: bufs[i].len() };
        msgs[i].msg_hdr.msg_name = (&mut st as *mut libc::sockaddr_storage).cast();
        msgs[i].msg_hdr.msg_namelen = len;
        msgs[i].msg_hdr.msg_iov = &mut iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    retry_eintr(|| {
        // SAFETY: msgs[..n] point at st and iovs[..n], which point at the caller's buffers; all are alive for the
        // call and the kernel only reads them (and writes msg_len).
        cvt(unsafe { libc::sendmmsg(fd.as_raw_fd(), msgs.as_mut_ptr(), n as libc::c_uint, libc::MSG_NOSIGNAL) })
            .map(|k| k as usize)
    })
}

/// The arrays one `recvmmsg` call needs besides the caller's buffers: an address, a control buffer, an iovec
/// and an `mmsghdr` per datagram, and what each datagram said. A receiver that keeps one between calls (boxed:
/// it is some 40 KiB) neither zeroes nor rebuilds them per call: a header, once pointed at its address and
/// control buffer, is reset only after the kernel wrote to it. The kernel reports how much of each address
/// and control buffer it wrote, and only that much is read, so an entry never shows what an earlier call
/// left in it.
pub struct RecvScratch {
    names: [libc::sockaddr_storage; MAX_BATCH],
    controls: [CmsgBuf; MAX_BATCH],
    iovs: [libc::iovec; MAX_BATCH],
    msgs: [libc::mmsghdr; MAX_BATCH],
    out: [Received; MAX_BATCH],
    /// Where this scratch was when `msgs` were pointed into it (0: never); moved since, they all are stale.
    home: usize,
    /// `msgs[..prepared]` point at this scratch's own names, iovs and controls.
    prepared: usize,
    /// `msgs[..dirty]` went to the kernel since they were last reset and may hold its lengths and flags.
    dirty: usize,
}

// SAFETY: the raw pointers in `iovs` and `msgs` point into the scratch itself or at the buffers of the
// `recv_batch` call that set them; they are dereferenced only by the kernel during a `recv_batch` call, which
// holds the scratch mutably and first re-points any that may be stale. Moving the scratch to another thread
// therefore shares no live pointer.
unsafe impl Send for RecvScratch {}
// SAFETY: a shared reference reads no pointer field (there is no such accessor).
unsafe impl Sync for RecvScratch {}

impl RecvScratch {
    /// Empty arrays, ready for any number of calls.
    pub fn new() -> RecvScratch {
        RecvScratch {
            // SAFETY: all-zero sockaddr_storage is a valid value (integers and byte arrays).
            names: unsafe { std::mem::zeroed() },
            controls: [CmsgBuf::default(); MAX_BATCH],
            iovs: [libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; MAX_BATCH],
            // SAFETY: all-zero mmsghdr is valid (null pointers, zero lengths).
            msgs: unsafe { std::mem::zeroed() },
            out: [Received::default(); MAX_BATCH],
            home: 0,
            prepared: 0,
            dirty: 0,
        }
    }
}

impl Default for RecvScratch {
    fn default() -> Self {
        RecvScratch::new()
    }
}

impl std::fmt::Debug for RecvScratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvScratch").field("prepared", &self.prepared).finish_non_exhaustive()
    }
}

/// `recvmmsg`: receives up to `bufs.len()` datagrams (at most [`MAX_BATCH`]) in one call, using `scratch` for
/// the per-datagram arrays, and returns what each said (the first entries of `scratch`, one per datagram).
/// With `MSG_WAITFORONE` in `flags` it blocks for the first and takes what else is queued; with
/// `MSG_DONTWAIT` it fails with `EAGAIN` when nothing is queued.
pub fn recv_batch<'s, B: AsMut<[u8]>>(
    fd: BorrowedFd<'_>,
    bufs: &mut [B],
    scratch: &'s mut RecvScratch,
    flags: libc::c_int,
) -> io::Result<&'s [Received]> {
    let n = bufs.len().min(MAX_BATCH);
    if n == 0 {
        return Ok(&[]);
    }
    let here = scratch as *const RecvScratch as usize;
    if scratch.home != here {
        (scratch.home, scratch.prepared, scratch.dirty) = (here, 0, 0);
    }
    let got = loop {
        for (iov, buf) in scratch.iovs.iter_mut().zip(bufs.iter_mut()).take(n) {
            let buf = buf.as_mut();
            *iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        }
        // Entries the kernel wrote to last time, and entries never used, get their pointers and lengths set;
        // the rest still hold exactly what prepare_msghdr wrote.
        for i in (0..scratch.dirty.min(n)).chain(scratch.prepared..n) {
            let RecvScratch { names, controls, iovs, msgs, .. } = &mut *scratch;
            prepare_msghdr(&mut msgs[i].msg_hdr, &mut names[i], &mut iovs[i], &mut controls[i]);
            msgs[i].msg_len = 0;
        }
        scratch.prepared = scratch.prepared.max(n);
        // SAFETY: msgs[..n] point at this scratch's names, iovs (set above to the caller's buffers) and
        // controls, as the home check and the loop above ensure; all are writable and alive for the call. A
        // null timeout means none.
        let k = unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                scratch.msgs.as_mut_ptr(),
                n as libc::c_uint,
                flags | libc::MSG_TRUNC,
                std::ptr::null_mut(),
            )
        };
        // The kernel fills entries in order and stops at the first that fails, writing nothing to it: it
        // returns how many it filled, or the error when the first one failed. That one is reset all the same.
        // (An empty queue under MSG_DONTWAIT, a receiver's usual answer, thus costs one entry, not all.)
        match cvt(k) {
            Ok(k) => {
                let got = (k as usize).min(n);
                scratch.dirty = (got + 1).min(n);
                break got;
            }
            Err(e) => {
                scratch.dirty = 1;
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    };
    let RecvScratch { msgs, out, .. } = scratch;
    for (i, (slot, buf)) in out.iter_mut().zip(bufs.iter_mut()).take(got).enumerate() {
        // SAFETY: the kernel filled msgs[i] (i < got), which this call prepared, and its name and control
        // buffers (in the scratch) are still alive. With MSG_TRUNC, msg_len is the datagram's full length.
        *slot = unsafe { finish_msghdr(&msgs[i].msg_hdr, msgs[i].msg_len as usize, buf.as_mut().len()) };
    }
    Ok(&out[..got])
}

/// Room for what one `recvmmsg` writes besides the datagrams: an address, a control buffer and a header per
/// datagram, left uninitialised (the kernel says how much of each it wrote, and only that much is read). For
/// a caller that keeps nothing between calls (the C ABI); some 28 KiB, on its stack.
pub struct BatchSpace {
    names: [MaybeUninit<libc::sockaddr_storage>; MAX_BATCH],
    controls: [MaybeUninit<CmsgBuf>; MAX_BATCH],
    msgs: [MaybeUninit<libc::mmsghdr>; MAX_BATCH],
}

impl BatchSpace {
    /// Room for [`MAX_BATCH`] datagrams.
    #[inline]
    pub fn new() -> BatchSpace {
        BatchSpace {
            names: [MaybeUninit::uninit(); MAX_BATCH],
            controls: [MaybeUninit::uninit(); MAX_BATCH],
            msgs: [MaybeUninit::uninit(); MAX_BATCH],
        }
    }
}

impl Default for BatchSpace {
    fn default() -> Self {
        BatchSpace::new()
    }
}

/// What one `recvmmsg` into a [`BatchSpace`] reported: [`BatchAnswer::get`] reads datagram `i`'s in place.
pub struct BatchAnswer<'a> {
    msgs: &'a [libc::mmsghdr],
    iovs: &'a [libc::iovec],
}

impl<'a> BatchAnswer<'a> {
    /// How many datagrams arrived.
    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    /// True when none did (never, for a successful call).
    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    /// Datagram `i`'s lengths, sender and control messages; `None` past [`BatchAnswer::len`].
    #[inline]
    pub fn get(&self, i: usize) -> Option<RawRecv<'a>> {
        let (m, iov) = (self.msgs.get(i)?, self.iovs.get(i)?);
        // SAFETY: the kernel filled this header (i < the count it returned), which recv_batch_raw pointed at a
        // sockaddr_storage and a CmsgBuf of the BatchSpace borrowed for 'a. With MSG_TRUNC, msg_len is the
        // datagram's full length.
        Some(unsafe { raw_answer(&m.msg_hdr, m.msg_len as usize, iov.iov_len) })
    }
}

/// `recvmmsg(fd, ..., flags | MSG_TRUNC)`: up to `iovs.len()` datagrams (at most [`MAX_BATCH`]), datagram `i`
/// into the buffer `iovs[i]` describes (the caller's iovecs are handed to the kernel as they are: it only reads
/// them), addresses and control messages into `space`; retried on `EINTR`. With `MSG_WAITFORONE` it blocks for
/// the first and takes what else is queued.
///
/// # Safety
/// Each iovec's base is writable for its length, the buffers do not overlap, and nothing else uses them during
/// the call.
pub unsafe fn recv_batch_raw<'a>(
    fd: BorrowedFd<'_>,
    iovs: &'a [libc::iovec],
    flags: libc::c_int,
    space: &'a mut BatchSpace,
) -> io::Result<BatchAnswer<'a>> {
    let n = iovs.len().min(MAX_BATCH);
    if n == 0 {
        return Ok(BatchAnswer { msgs: &[], iovs });
    }
    let got = retry_eintr(|| {
        let BatchSpace { names, controls, msgs } = &mut *space;
        for (((slot, name), control), iov) in
            msgs.iter_mut().zip(names.iter_mut()).zip(controls.iter_mut()).zip(&iovs[..n])
        {
            // SAFETY: an all-zero mmsghdr is valid (null pointers, zero lengths).
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            // The kernel only reads the caller's iovec: the pointer is mutable because msghdr's is.
            prepare_msghdr(
                &mut m.msg_hdr,
                name.as_mut_ptr(),
                (iov as *const libc::iovec).cast_mut(),
                control.as_mut_ptr(),
            );
            slot.write(m);
        }
        // SAFETY: msgs[..n] were just written, pointing at space's names and controls (writable for the lengths
        // given) and at the caller's iovecs (read only by the kernel; their buffers writable by the contract).
        // A null timeout means none.
        let k = unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                space.msgs.as_mut_ptr().cast(),
                n as libc::c_uint,
                flags | libc::MSG_TRUNC,
                std::ptr::null_mut(),
            )
        };
        cvt(k).map(|k| (k as usize).min(n))
    })?;
    // SAFETY: msgs[..got] were initialised above (got <= n) and filled by the kernel.
    let msgs = unsafe { std::slice::from_raw_parts(space.msgs.as_ptr().cast::<libc::mmsghdr>(), got) };
    Ok(BatchAnswer { msgs, iovs })
}
