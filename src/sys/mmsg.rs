//! Batch I/O: `sendmmsg` and `recvmmsg`, with per-datagram addresses and control messages on the stack.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::cmsg::CmsgBuf;
use super::mreq::sockaddr;
use super::socket::{finish_msghdr, prepare_msghdr, Received};
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

/// `recvmmsg`: receives up to `bufs.len()` datagrams (at most [`MAX_BATCH`]) in one call, writing what each
/// said into `out`. With `MSG_WAITFORONE` in `flags` it blocks for the first and takes what else is queued.
pub fn recv_batch(
    fd: BorrowedFd<'_>,
    bufs: &mut [&mut [u8]],
    out: &mut [Received],
    flags: libc::c_int,
) -> io::Result<usize> {
    let n = bufs.len().min(out.len()).min(MAX_BATCH);
    if n == 0 {
        return Ok(0);
    }
    // SAFETY: all-zero sockaddr_storage and mmsghdr are valid values.
    let mut names: [libc::sockaddr_storage; MAX_BATCH] = unsafe { std::mem::zeroed() };
    let mut controls = [CmsgBuf::default(); MAX_BATCH];
    let mut iovs = [libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; MAX_BATCH];
    // SAFETY: as above.
    let mut msgs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
    let got = retry_eintr(|| {
        for i in 0..n {
            iovs[i] = libc::iovec { iov_base: bufs[i].as_mut_ptr().cast(), iov_len: bufs[i].len() };
            prepare_msghdr(&mut msgs[i].msg_hdr, &mut names[i], &mut iovs[i], &mut controls[i]);
            msgs[i].msg_len = 0;
        }
        // SAFETY: msgs[..n] point at names, iovs (-> the caller's buffers) and controls, all writable and
        // alive for the call; a null timeout means none.
        let k = unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                n as libc::c_uint,
                flags | libc::MSG_TRUNC,
                std::ptr::null_mut(),
            )
        };
        cvt(k).map(|k| k as usize)
    })?;
    for i in 0..got {
        // SAFETY: the kernel filled msgs[i] (i < got) and its buffers are still alive. With MSG_TRUNC,
        // msg_len is the datagram's full length.
        out[i] = unsafe { finish_msghdr(&msgs[i].msg_hdr, msgs[i].msg_len as usize, bufs[i].len()) };
    }
    Ok(got)
}
