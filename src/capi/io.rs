//! Datagram I/O: `mcast_send`, `mcast_send_to`, `mcast_recv`, `mcast_recv_timeout` and the batch forms over
//! `sendmmsg`/`recvmmsg`.
//!
//! These are the calls a program makes per datagram, so they add no system call of their own: the descriptor
//! goes to the kernel unchecked ([`lend`]), which answers `EBADF` or `ENOTSOCK` itself, and the family of what
//! arrived comes from the address `recvmsg` returns. Nothing is cached per descriptor.

use std::ffi::{c_char, c_int, c_void};
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use super::types::{McastRxinfo, RawRx, RxOut};
use super::{bytes, bytes_mut, c_str, ffi_fn, lend, CResult, Failure};
use crate::sys::mmsg::{recv_batch_raw, BatchSpace, MAX_BATCH};
use crate::sys::socket::{recv_raw, send, send_to, wait_readable, RecvSpace};
use crate::{Error, Group};

fn ssize(n: usize) -> libc::ssize_t {
    // A datagram is at most 64 KiB, so this never saturates in practice.
    libc::ssize_t::try_from(n).unwrap_or(libc::ssize_t::MAX)
}

/// The `iovec` array of a batch call as a slice; at most [`MAX_BATCH`] entries are used.
///
/// # Safety
/// `iov` is NULL or points at `count` readable `iovec`s.
unsafe fn iovecs<'a>(iov: *const libc::iovec, count: usize) -> CResult<&'a [libc::iovec]> {
    if iov.is_null() {
        return Err(Failure::invalid("bufs is NULL"));
    }
    // SAFETY: non-NULL, and the caller's contract makes `count` iovecs readable (only the first MAX_BATCH are
    // looked at, which is never more than count).
    Ok(unsafe { std::slice::from_raw_parts(iov, count.min(MAX_BATCH)) })
}

/// One `recvmsg` into `buf` with `flags`, described in `out`'s first entry: the sender's address and the
/// control messages go from the kernel's answer (on this stack, not cleared) straight into the entry.
#[inline]
fn recv_one(fd: BorrowedFd<'_>, buf: &mut [u8], flags: c_int, out: &RxOut) -> CResult<libc::ssize_t> {
    let mut space = RecvSpace::new();
    let r = recv_raw(fd, buf, flags, &mut space).map_err(recv_failed)?;
    let rx = RawRx::new(r)?;
    // SAFETY: out was made from the caller's entry (or NULL), writable for the call.
    unsafe { out.write_raw(0, &rx) };
    Ok(ssize(rx.len()))
}

#[cold]
fn recv_failed(e: std::io::Error) -> Failure {
    Error::os("recvmsg", e).into()
}

/// `mcast_recv`'s body, for either layout of the info.
///
/// # Safety
/// `buf` is NULL or writable for `len` bytes that nothing else uses during the call.
#[inline]
pub(super) unsafe fn recv(fd: c_int, buf: *mut c_void, len: usize, out: RxOut) -> CResult<libc::ssize_t> {
    // SAFETY: forwarded from this function's contract.
    let data = unsafe { bytes_mut(buf.cast(), len, "buf") }?;
    recv_one(lend(fd)?, data, 0, &out)
}

/// `mcast_recv_timeout`'s body: waits at most `timeout_ms` (0: only what is queued; negative: for ever) for a
/// datagram that this thread gets to read. `EAGAIN` when none came in time.
///
/// # Safety
/// As [`recv`].
pub(super) unsafe fn recv_timeout(
    fd: c_int,
    buf: *mut c_void,
    len: usize,
    out: RxOut,
    timeout_ms: c_int,
) -> CResult<libc::ssize_t> {
    // SAFETY: forwarded from this function's contract.
    let data = unsafe { bytes_mut(buf.cast(), len, "buf") }?;
    let fd = lend(fd)?;
    let deadline = u64::try_from(timeout_ms).ok().map(|ms| Instant::now() + Duration::from_millis(ms));
    loop {
        match recv_one(fd, data, libc::MSG_DONTWAIT, &out) {
            Err(f) if f.errno == libc::EAGAIN => {}
            other => return other,
        }
        // Nothing queued (or another thread took it): wait for the next one, then try again. A signal ends a
        // poll early; the loop waits again until the deadline.
        let wait = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return Err(Failure::new(libc::EAGAIN, format!("no datagram within {timeout_ms} ms"))),
            },
            None => None,
        };
        wait_readable(fd, wait).map_err(|e| Error::os("poll", e))?;
    }
}

/// `mcast_recv_batch`'s body, for either layout of the infos.
///
/// # Safety
/// `bufs` is NULL or points at `count` iovecs whose buffers are writable and distinct; `out` was made from an
/// array of at least `min(count, MAX_BATCH)` entries.
pub(super) unsafe fn recv_batch(fd: c_int, bufs: *const libc::iovec, out: RxOut, count: usize) -> CResult<c_int> {
    // SAFETY: the contract makes bufs point at count iovecs.
    let iov = unsafe { iovecs(bufs, count) }?;
    if out.is_nowhere() {
        return Err(Failure::invalid("infos is NULL"));
    }
    for v in iov {
        // SAFETY: the contract makes each iovec's base writable for its length; this only checks it.
        unsafe { bytes_mut(v.iov_base.cast::<u8>(), v.iov_len, "bufs[i].iov_base") }?;
    }
    let fd = lend(fd)?;
    let mut space = BatchSpace::new();
    // SAFETY: checked above: each iovec's buffer is non-NULL, and by the contract writable and distinct.
    let got = unsafe { recv_batch_raw(fd, iov, libc::MSG_WAITFORONE, &mut space) }
        .map_err(|e| Failure::from(Error::os("recvmmsg", e)))?;
    // Every sender is checked before any entry is written, so that a failure leaves the entries alone.
    let mut raws = [None; MAX_BATCH];
    for (i, slot) in raws.iter_mut().enumerate().take(got.len()) {
        *slot = got.get(i).map(RawRx::new).transpose()?;
    }
    for (i, rx) in raws.iter().enumerate().take(got.len()) {
        if let Some(rx) = rx {
            // SAFETY: i < got.len() <= min(count, MAX_BATCH), within the caller's array by the contract.
            unsafe { out.write_raw(i, rx) };
        }
    }
    Ok(got.len() as c_int)
}

ffi_fn! {
    /// `mcast_send`: one datagram on a connected socket (as `mcast_sender` returns); the count sent.
    fn mcast_send(fd: c_int, buf: *const c_void, len: usize) -> libc::ssize_t, on failure -1; {
        // SAFETY: the contract makes buf readable for len bytes.
        let data = unsafe { bytes(buf.cast(), len, "buf") }?;
        Ok(ssize(send(lend(fd)?, data, 0).map_err(|e| Error::os("send", e))?))
    }

    /// `mcast_send_to`: one datagram to `group_port` (`239.1.2.3:5000`, `[ff12::1%eth0]:5000`), which must be a
    /// multicast group with a port.
    fn mcast_send_to(fd: c_int, buf: *const c_void, len: usize, group_port: *const c_char) -> libc::ssize_t,
        on failure -1; {
        // SAFETY: the contract makes buf readable for len bytes.
        let data = unsafe { bytes(buf.cast(), len, "buf") }?;
        let to = Group::parse_with_port(c_str!(group_port))?.socket_addr();
        Ok(ssize(send_to(lend(fd)?, data, &to, 0).map_err(|e| Error::os(format!("sendto {to}"), e))?))
    }

    /// `mcast_recv`: one datagram into `buf`, blocking unless the descriptor is non-blocking; the count placed in
    /// `buf`, with what else is known in `*info` (which may be NULL).
    fn mcast_recv(fd: c_int, buf: *mut c_void, len: usize, info: *mut McastRxinfo) -> libc::ssize_t,
        on failure -1, mcast_recv in "@@MCAST_0.2"; {
        // SAFETY: the contract makes info NULL or a sized entry, buf writable for len bytes.
        unsafe { recv(fd, buf, len, RxOut::sized(info, 1, "info")?) }
    }

    /// `mcast_recv_timeout`: `mcast_recv` waiting at most `timeout_ms` milliseconds (0: only what is queued;
    /// negative: for ever); `EAGAIN` when nothing came.
    fn mcast_recv_timeout(fd: c_int, buf: *mut c_void, len: usize, info: *mut McastRxinfo, timeout_ms: c_int)
        -> libc::ssize_t, on failure -1, mcast_recv_timeout in "@@MCAST_0.2"; {
        // SAFETY: as for mcast_recv.
        unsafe { recv_timeout(fd, buf, len, RxOut::sized(info, 1, "info")?, timeout_ms) }
    }

    /// `mcast_send_batch`: each of `count` buffers as one datagram to the connected group, with one
    /// `sendmmsg`; how many were sent (at most `MCAST_BATCH_MAX`).
    fn mcast_send_batch(fd: c_int, bufs: *const libc::iovec, count: usize) -> c_int, on failure -1; {
        // SAFETY: the contract makes bufs point at count iovecs.
        let iov = unsafe { iovecs(bufs, count) }?;
        let mut datagrams: Vec<&[u8]> = Vec::with_capacity(iov.len());
        for v in iov {
            // SAFETY: the contract makes each iovec's base readable for its length.
            datagrams.push(unsafe { bytes(v.iov_base.cast::<u8>().cast_const(), v.iov_len, "bufs[i].iov_base") }?);
        }
        let fd = lend(fd)?;
        let to = crate::sys::socket::peer_addr(fd).map_err(|e| Error::os("getpeername", e))?;
        let n = crate::sys::mmsg::send_batch(fd, &datagrams, &to).map_err(|e| Error::os(format!("sendmmsg {to}"), e))?;
        Ok(n as c_int)
    }

    /// `mcast_recv_batch`: up to `count` datagrams (at most `MCAST_BATCH_MAX`) with one `recvmmsg`, waiting
    /// for the first and taking what else is queued; `infos[i]` describes `bufs[i]`. How many arrived.
    fn mcast_recv_batch(fd: c_int, bufs: *const libc::iovec, infos: *mut McastRxinfo, count: usize) -> c_int,
        on failure -1, mcast_recv_batch in "@@MCAST_0.2"; {
        // SAFETY: the contract makes infos NULL or an array of count sized entries, bufs count iovecs.
        unsafe { recv_batch(fd, bufs, RxOut::sized(infos, count, "infos")?, count) }
    }
}
