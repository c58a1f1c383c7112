//! Socket lifecycle and datagram I/O: `socket`, `bind`, `connect`, `sendto`, `recvmsg`, `poll`.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::cmsg::{self, Ancillary, CmsgBuf, CMSG_SPACE};
use super::mreq::{from_sockaddr, sockaddr, CSockAddr};
use super::{cvt, retry_eintr};

/// `socket(domain, type | SOCK_CLOEXEC, protocol)`.
pub fn socket(domain: libc::c_int, ty: libc::c_int, protocol: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let fd = cvt(unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, protocol) })?;
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `bind(fd, addr)`.
pub fn bind(fd: BorrowedFd<'_>, addr: &SocketAddr) -> io::Result<()> {
    let (st, len) = sockaddr(addr);
    // SAFETY: st is a valid sockaddr of `len` bytes, alive for the call.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), (&st as *const libc::sockaddr_storage).cast(), len) }).map(drop)
}

/// `connect(fd, addr)`.
pub fn connect(fd: BorrowedFd<'_>, addr: &SocketAddr) -> io::Result<()> {
    let (st, len) = sockaddr(addr);
    retry_eintr(|| {
        // SAFETY: st is a valid sockaddr of `len` bytes, alive for the call.
        cvt(unsafe { libc::connect(fd.as_raw_fd(), (&st as *const libc::sockaddr_storage).cast(), len) })
    })
    .map(drop)
}

/// `getsockname(fd)`.
pub fn local_addr(fd: BorrowedFd<'_>) -> io::Result<SocketAddr> {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut st: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: st is writable for len bytes; len is updated by the kernel.
    cvt(unsafe { libc::getsockname(fd.as_raw_fd(), (&mut st as *mut libc::sockaddr_storage).cast(), &mut len) })?;
    from_sockaddr(&st, len).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an IP socket"))
}

/// `getpeername(fd)`: the address a connected socket sends to.
pub fn peer_addr(fd: BorrowedFd<'_>) -> io::Result<SocketAddr> {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut st: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: st is writable for len bytes; len is updated by the kernel.
    cvt(unsafe { libc::getpeername(fd.as_raw_fd(), (&mut st as *mut libc::sockaddr_storage).cast(), &mut len) })?;
    from_sockaddr(&st, len).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an IP socket"))
}

/// `sendto(fd, buf, flags, addr)`, retried on `EINTR`.
pub fn send_to(fd: BorrowedFd<'_>, buf: &[u8], addr: &SocketAddr, flags: libc::c_int) -> io::Result<usize> {
    let (st, len) = sockaddr(addr);
    retry_eintr(|| {
        // SAFETY: buf is readable for buf.len() bytes; st is a valid sockaddr of len bytes.
        let n = unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                flags | libc::MSG_NOSIGNAL,
                (&st as *const libc::sockaddr_storage).cast(),
                len,
            )
        };
        cvt(n).map(|n| n as usize)
    })
}

/// `send(fd, buf, flags)` on a connected socket, retried on `EINTR`.
pub fn send(fd: BorrowedFd<'_>, buf: &[u8], flags: libc::c_int) -> io::Result<usize> {
    retry_eintr(|| {
        // SAFETY: buf is readable for buf.len() bytes.
        let n = unsafe { libc::send(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), flags | libc::MSG_NOSIGNAL) };
        cvt(n).map(|n| n as usize)
    })
}

/// Sends `buf` to `addr` as segments of `segment` bytes with one `sendmsg` carrying `UDP_SEGMENT` (UDP GSO).
pub fn send_segments(fd: BorrowedFd<'_>, buf: &[u8], addr: &SocketAddr, segment: u16) -> io::Result<usize> {
    let (mut st, len) = sockaddr(addr);
    let mut iov = libc::iovec { iov_base: buf.as_ptr() as *mut libc::c_void, iov_len: buf.len() };
    let mut control = cmsg::SegmentCmsg::default();
    let control_len = cmsg::encode_udp_segment(&mut control, segment);
    // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut st as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = len;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = control_len as _;
    retry_eintr(|| {
        // SAFETY: msg points at st, iov (which points at buf) and control, all alive for the call; the kernel
        // only reads them (iov_base is cast to *mut only because iovec is shared with recvmsg).
        cvt(unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) }).map(|n| n as usize)
    })
}

/// One datagram received: how much arrived, from whom, and what the control messages said.
#[derive(Clone, Copy, Debug, Default)]
pub struct Received {
    /// Bytes copied into the buffer.
    pub len: usize,
    /// The datagram's full length on the wire (larger than `len` when truncated).
    pub full_len: usize,
    /// `MSG_TRUNC`: the datagram did not fit the buffer.
    pub truncated: bool,
    /// `MSG_CTRUNC`: some control messages did not fit.
    pub control_truncated: bool,
    /// The sender.
    pub source: Option<SocketAddr>,
    /// Destination, interface, TTL, timestamp, drops.
    pub ancillary: Ancillary,
}

/// `recvmsg(fd, ..., flags | MSG_TRUNC)`: one datagram into `buf`, with its source and control messages.
///
/// `MSG_TRUNC` makes the kernel return the datagram's real length, so truncation is reported, not hidden.
#[inline]
pub fn recv_msg(fd: BorrowedFd<'_>, buf: &mut [u8], flags: libc::c_int) -> io::Result<Received> {
    let mut space = RecvSpace::new();
    recv_raw(fd, buf, flags, &mut space).map(|r| r.received())
}

/// Room for what one `recvmsg` writes besides the datagram: the sender's address and the control messages.
/// Left uninitialised (some 400 bytes a datagram need not be cleared): the kernel says how much of each it
/// wrote, and only that much is ever read.
pub struct RecvSpace {
    name: MaybeUninit<libc::sockaddr_storage>,
    control: MaybeUninit<CmsgBuf>,
}

impl RecvSpace {
    /// Room for one datagram's address and control messages.
    #[inline]
    pub fn new() -> RecvSpace {
        RecvSpace { name: MaybeUninit::uninit(), control: MaybeUninit::uninit() }
    }
}

impl Default for RecvSpace {
    fn default() -> Self {
        RecvSpace::new()
    }
}

/// What one `recvmsg` reported, read in place from the buffers it wrote: lengths and flags, the sender's
/// address and the control messages as the kernel wrote them, for a caller that wants them in C form (the C
/// ABI) as much as for [`RawRecv::received`].
#[derive(Clone, Copy)]
pub struct RawRecv<'a> {
    /// Bytes placed in the buffer.
    pub len: usize,
    /// The datagram's full length (larger than `len` when truncated).
    pub full_len: usize,
    /// `MSG_TRUNC`: the datagram did not fit the buffer.
    pub truncated: bool,
    /// `MSG_CTRUNC`: some control messages did not fit.
    pub control_truncated: bool,
    /// The sender's address, the `msg_namelen` bytes the kernel wrote.
    pub name: &'a [u8],
    /// The control messages, the `msg_controllen` bytes the kernel wrote (see `cmsg::walk`).
    pub control: &'a [u8],
}

impl<'a> RawRecv<'a> {
    /// The sender, when it is an IPv4 or IPv6 address.
    #[inline]
    pub fn source(&self) -> Option<CSockAddr> {
        CSockAddr::read(self.name)
    }

    /// The sender's `sockaddr_in` or `sockaddr_in6` as the kernel wrote it (16 or 28 bytes), when it is one.
    #[inline]
    pub fn source_bytes(&self) -> Option<&'a [u8]> {
        CSockAddr::len_of(self.name).and_then(|n| self.name.get(..n))
    }

    /// The answer in Rust types.
    #[inline]
    pub fn received(&self) -> Received {
        let mut ancillary = Ancillary::default();
        cmsg::walk(self.control, &mut ancillary);
        Received {
            len: self.len,
            full_len: self.full_len,
            truncated: self.truncated,
            control_truncated: self.control_truncated,
            source: self.source().map(|a| a.socket_addr()),
            ancillary,
        }
    }
}

/// `recvmsg(fd, ..., flags | MSG_TRUNC)` into `buf`, the sender's address and control messages into `space`,
/// retried on `EINTR`; what it wrote is read in place ([`RawRecv`]). No allocation, and nothing cleared.
#[inline]
pub fn recv_raw<'a>(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    flags: libc::c_int,
    space: &'a mut RecvSpace,
) -> io::Result<RawRecv<'a>> {
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: an all-zero msghdr is valid (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    let n = retry_eintr(|| {
        prepare_msghdr(&mut msg, space.name.as_mut_ptr(), &mut iov, space.control.as_mut_ptr());
        // SAFETY: msg points at space's name and control buffers and at iov (-> buf), all writable for the
        // lengths given and alive for the call; the kernel writes no more than those lengths.
        cvt(unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, flags | libc::MSG_TRUNC) }).map(|n| n as usize)
    })?;
    // SAFETY: the successful recvmsg above filled msg; it points at space, borrowed for 'a.
    Ok(unsafe { raw_answer(&msg, n, buf.len()) })
}

/// Fills in `msg` to receive into `iov` with `name` and `control` as the address and control buffers. Only the
/// pointers are stored, so the buffers may be uninitialised: the kernel writes them before anything reads them.
#[inline]
pub(crate) fn prepare_msghdr(
    msg: &mut libc::msghdr,
    name: *mut libc::sockaddr_storage,
    iov: *mut libc::iovec,
    control: *mut CmsgBuf,
) {
    msg.msg_name = name.cast();
    msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.cast();
    msg.msg_controllen = CMSG_SPACE as _;
    msg.msg_flags = 0;
}

/// What the kernel wrote into a `msghdr` whose name and control buffers are a `sockaddr_storage` and a
/// [`CmsgBuf`], after it returned `n` (the full datagram length, since `MSG_TRUNC` is always passed) for a
/// buffer of `cap` bytes.
///
/// # Safety
/// `msg` must have been filled by a successful `recvmsg`/`recvmmsg`, its name and control pointing at a
/// `sockaddr_storage` and a `CmsgBuf` that stay alive and unwritten for `'a`.
#[inline]
pub(crate) unsafe fn raw_answer<'a>(msg: &libc::msghdr, n: usize, cap: usize) -> RawRecv<'a> {
    // The kernel reports the lengths it wrote, never more than it was given (a longer address is cut, and
    // msg_namelen then says the full length: hence the min).
    let name_len = (msg.msg_namelen as usize).min(size_of::<libc::sockaddr_storage>());
    let control_len = msg.msg_controllen.min(CMSG_SPACE);
    RawRecv {
        len: n.min(cap),
        full_len: n,
        truncated: msg.msg_flags & libc::MSG_TRUNC != 0 || n > cap,
        control_truncated: msg.msg_flags & libc::MSG_CTRUNC != 0,
        // SAFETY: by the contract, msg_name points at a sockaddr_storage whose first name_len bytes the kernel
        // wrote, and msg_control at a CmsgBuf whose first control_len bytes it wrote.
        name: unsafe { std::slice::from_raw_parts(msg.msg_name.cast::<u8>(), name_len) },
        // SAFETY: as above.
        control: unsafe { std::slice::from_raw_parts(msg.msg_control.cast::<u8>(), control_len) },
    }
}

/// Reads what the kernel wrote into a `msghdr` prepared by [`prepare_msghdr`] (see [`raw_answer`]).
///
/// # Safety
/// `msg` must have been prepared by [`prepare_msghdr`] and filled by a successful `recvmsg`/`recvmmsg`, with
/// its name and control buffers still alive.
#[inline]
pub(crate) unsafe fn finish_msghdr(msg: &libc::msghdr, n: usize, cap: usize) -> Received {
    // SAFETY: forwarded from this function's contract: prepare_msghdr pointed msg at a sockaddr_storage and a
    // CmsgBuf.
    unsafe { raw_answer(msg, n, cap) }.received()
}

/// Waits until `fd` is readable, up to `timeout` (`None`: forever). Returns `false` on timeout.
pub fn wait_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    poll_few(&[fd], timeout).map(|ready| ready & 1 != 0)
}

/// `poll` on several descriptors for `POLLIN`; returns which are readable (all `false` on timeout).
pub fn poll_many(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    if fds.len() <= POLL_FEW {
        let ready = poll_few(fds, timeout)?;
        return Ok((0..fds.len()).map(|i| ready & (1 << i) != 0).collect());
    }
    let mut pfds: Vec<libc::pollfd> = fds.iter().map(|fd| pollin(*fd)).collect();
    // SAFETY: pfds is a writable array of pfds.len() pollfd structs, alive for the call.
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, poll_ms(timeout)) };
    match cvt(n) {
        Ok(_) => Ok(pfds.iter().map(readable).collect()),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(vec![false; fds.len()]),
        Err(e) => Err(e),
    }
}

/// At most this many descriptors for [`poll_few`].
pub const POLL_FEW: usize = 8;

/// `poll` on at most [`POLL_FEW`] descriptors for `POLLIN`, without allocating (a receiver's wait between
/// datagrams): bit `i` of the result is set when `fds[i]` is readable (none on timeout or `EINTR`).
pub fn poll_few(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<u8> {
    if fds.len() > POLL_FEW {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("poll_few takes at most {POLL_FEW} descriptors"),
        ));
    }
    let mut pfds = [libc::pollfd { fd: -1, events: 0, revents: 0 }; POLL_FEW];
    for (p, fd) in pfds.iter_mut().zip(fds) {
        *p = pollin(*fd);
    }
    // SAFETY: pfds is a writable array of at least fds.len() pollfd structs, alive for the call.
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), fds.len() as libc::nfds_t, poll_ms(timeout)) };
    match cvt(n) {
        Ok(_) => Ok(pfds[..fds.len()].iter().enumerate().filter(|(_, p)| readable(p)).fold(0, |m, (i, _)| m | 1 << i)),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
        Err(e) => Err(e),
    }
}

fn pollin(fd: BorrowedFd<'_>) -> libc::pollfd {
    libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 }
}

fn readable(p: &libc::pollfd) -> bool {
    p.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0
}

/// `poll`'s timeout in milliseconds (-1: none), rounded up: a wait of 0.4 ms truncated to 0 would return at once,
/// and a caller looping until its deadline would spin instead of sleeping.
pub(crate) fn poll_ms(timeout: Option<Duration>) -> libc::c_int {
    timeout.map_or(-1, |t| t.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int)
}

/// Sets or clears `O_NONBLOCK`.
pub fn set_nonblocking(fd: BorrowedFd<'_>, nonblocking: bool) -> io::Result<()> {
    // SAFETY: fcntl F_GETFL/F_SETFL with integer arguments on a valid descriptor.
    let flags = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    let new = if nonblocking { flags | libc::O_NONBLOCK } else { flags & !libc::O_NONBLOCK };
    if new != flags {
        // SAFETY: as above.
        cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, new) })?;
    }
    Ok(())
}

/// `getsockopt(SO_TYPE)` and `SO_DOMAIN`: what kind of socket a descriptor is.
pub fn socket_kind(fd: BorrowedFd<'_>) -> io::Result<(libc::c_int, libc::c_int)> {
    let domain = super::sockopt::getsockopt::<libc::c_int>(fd, libc::SOL_SOCKET, libc::SO_DOMAIN)?;
    let ty = super::sockopt::getsockopt::<libc::c_int>(fd, libc::SOL_SOCKET, libc::SO_TYPE)?;
    Ok((domain, ty))
}

/// Raises this process's soft limit on open descriptors (`RLIMIT_NOFILE`) to `want`, or as near as the hard
/// limit allows; never lowers it.
pub fn raise_open_files(want: u64) -> io::Result<()> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one rlimit into the struct it is given, which lives for the call.
    cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    let target = (want as libc::rlim_t).min(lim.rlim_max);
    if target > lim.rlim_cur {
        lim.rlim_cur = target;
        // SAFETY: setrlimit only reads the struct, which lives for the call.
        cvt(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixDatagram;

    // Unix datagram pairs: readiness without any network traffic.
    #[test]
    fn poll_few_and_poll_many_say_which_descriptors_are_readable() {
        let pairs: Vec<(UnixDatagram, UnixDatagram)> = (0..9).map(|_| UnixDatagram::pair().unwrap()).collect();
        let fds: Vec<BorrowedFd<'_>> = pairs.iter().map(|(a, _)| a.as_fd()).collect();
        let none = Some(Duration::ZERO);
        assert_eq!(poll_few(&fds[..2], none).unwrap(), 0);
        pairs[1].1.send(b"x").unwrap();
        assert_eq!(poll_few(&fds[..2], none).unwrap(), 0b10);
        pairs[0].1.send(b"y").unwrap();
        assert_eq!(poll_few(&fds[..2], none).unwrap(), 0b11);
        assert!(wait_readable(fds[0], none).unwrap());
        assert!(!wait_readable(fds[2], none).unwrap());
        // Eight at most without allocating; more is refused, and poll_many takes any number.
        let err = poll_few(&fds, none).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        pairs[8].1.send(b"z").unwrap();
        let ready = poll_many(&fds, none).unwrap();
        assert_eq!(ready, [true, true, false, false, false, false, false, false, true]);
        assert_eq!(poll_many(&fds[..3], none).unwrap(), [true, true, false]);
    }
}
