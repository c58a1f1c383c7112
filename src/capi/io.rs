//! Datagram I/O: `mcast_send`, `mcast_send_to`, `mcast_recv` and their batch forms over `sendmmsg`/`recvmmsg`.

use std::ffi::{c_char, c_int, c_void};

use super::types::McastRxinfo;
use super::{borrow, bytes, bytes_mut, c_str, ffi_fn, CResult, Failure, Out};
use crate::sys::mmsg::MAX_BATCH;
use crate::{Group, RecvMeta};

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

ffi_fn! {
    /// `mcast_send`: one datagram on a connected socket (as `mcast_sender` returns); the count sent.
    fn mcast_send(fd: c_int, buf: *const c_void, len: usize) -> libc::ssize_t, on failure -1; {
        // SAFETY: the contract makes buf readable for len bytes.
        let data = unsafe { bytes(buf.cast(), len, "buf") }?;
        let socket = borrow(fd)?;
        Ok(ssize(socket.send(data)?))
    }

    /// `mcast_send_to`: one datagram to `group_port` (`239.1.2.3:5000`, `[ff12::1%eth0]:5000`), which must be a
    /// multicast group with a port.
    fn mcast_send_to(fd: c_int, buf: *const c_void, len: usize, group_port: *const c_char) -> libc::ssize_t,
        on failure -1; {
        // SAFETY: the contract makes buf readable for len bytes.
        let data = unsafe { bytes(buf.cast(), len, "buf") }?;
        let group = Group::parse_with_port(c_str!(group_port))?;
        let socket = borrow(fd)?;
        Ok(ssize(socket.send_to(data, group.socket_addr())?))
    }

    /// `mcast_recv`: one datagram into `buf`, blocking unless the descriptor is non-blocking; the count placed in
    /// `buf`, with what else is known in `*info` (which may be NULL).
    fn mcast_recv(fd: c_int, buf: *mut c_void, len: usize, info: *mut McastRxinfo) -> libc::ssize_t,
        on failure -1; {
        // SAFETY: the contract makes buf writable for len bytes and not otherwise in use during the call.
        let data = unsafe { bytes_mut(buf.cast(), len, "buf") }?;
        let socket = borrow(fd)?;
        let meta = socket.recv(data)?;
        // SAFETY: the contract makes info NULL or writable.
        if let Some(out) = unsafe { Out::new(info) } {
            out.write(McastRxinfo::from(&meta));
        }
        Ok(ssize(meta.len))
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
        let socket = borrow(fd)?;
        let to = socket.peer_addr()?;
        Ok(socket.send_batch(&datagrams, to)? as c_int)
    }

    /// `mcast_recv_batch`: up to `count` datagrams (at most `MCAST_BATCH_MAX`) with one `recvmmsg`, waiting
    /// for the first and taking what else is queued; `infos[i]` describes `bufs[i]`. How many arrived.
    fn mcast_recv_batch(fd: c_int, bufs: *const libc::iovec, infos: *mut McastRxinfo, count: usize) -> c_int,
        on failure -1; {
        // SAFETY: the contract makes bufs point at count iovecs.
        let iov = unsafe { iovecs(bufs, count) }?;
        if infos.is_null() {
            return Err(Failure::invalid("infos is NULL"));
        }
        let mut slots: Vec<&mut [u8]> = Vec::with_capacity(iov.len());
        for v in iov {
            // SAFETY: the contract makes each iovec's base writable for its length, the buffers distinct, and
            // nothing else using them during the call.
            slots.push(unsafe { bytes_mut(v.iov_base.cast::<u8>(), v.iov_len, "bufs[i].iov_base") }?);
        }
        let socket = borrow(fd)?;
        let mut metas: Vec<RecvMeta> = Vec::with_capacity(slots.len());
        let n = socket.recv_batch(&mut slots, &mut metas)?;
        for (i, meta) in metas.iter().take(n).enumerate() {
            // SAFETY: the contract makes infos (checked non-NULL above) writable for count entries, and
            // i < n <= min(count, MAX_BATCH), so infos + i is one of them.
            if let Some(out) = unsafe { Out::new(infos.add(i)) } {
                out.write(McastRxinfo::from(meta));
            }
        }
        Ok(n as c_int)
    }
}
