//! `NETLINK_ROUTE` sockets (netlink(7), rtnetlink(7)): the kernel announces links and addresses as they come,
//! change and go. Only the socket calls live here; the messages are parsed as bytes by `crate::linkwatch`.

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use super::{cvt, retry_eintr, sockopt};

/// `RTMGRP_LINK`: links appearing, changing (up, down, carrier) and disappearing.
pub const GROUP_LINK: u32 = libc::RTMGRP_LINK as u32;
/// `RTMGRP_IPV4_IFADDR`: IPv4 addresses added and removed.
pub const GROUP_IPV4_IFADDR: u32 = libc::RTMGRP_IPV4_IFADDR as u32;
/// `RTMGRP_IPV6_IFADDR`: IPv6 addresses added and removed.
pub const GROUP_IPV6_IFADDR: u32 = libc::RTMGRP_IPV6_IFADDR as u32;

/// Opens a non-blocking `NETLINK_ROUTE` socket bound to the multicast `groups` (`RTMGRP_*` bits), with the
/// kernel choosing the port id.
pub fn open_route(groups: u32) -> io::Result<OwnedFd> {
    let fd = super::socket::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_NONBLOCK, libc::NETLINK_ROUTE)?;
    // SAFETY: sockaddr_nl is plain integers; all-zero is a valid value (nl_pid 0: the kernel assigns one).
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr.nl_groups = groups;
    // SAFETY: addr is a valid sockaddr_nl of the length passed, alive for the call.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_nl).cast(),
            size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    })?;
    Ok(fd)
}

/// Makes the socket's receive buffer at least `bytes` (`SO_RCVBUFFORCE` when privileged, else `SO_RCVBUF`),
/// so a burst of announcements (hundreds of interfaces going down at once) is less likely to overrun it.
pub fn set_recv_buffer(fd: BorrowedFd<'_>, bytes: libc::c_int) -> io::Result<()> {
    sockopt::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &bytes)
        .or_else(|_| sockopt::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &bytes))
}

/// What one [`recv`] read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// Nothing is queued (`EAGAIN`).
    Empty,
    /// `len` bytes from the kernel are at the start of the buffer; `truncated` when the message was longer.
    Kernel {
        /// Bytes in the buffer.
        len: usize,
        /// The kernel's message did not fit the buffer (`MSG_TRUNC`).
        truncated: bool,
    },
    /// A message from another process (not port id 0), which is not to be trusted: skipped.
    Other,
}

/// `recvfrom(fd, buf, MSG_DONTWAIT | MSG_TRUNC)`, retried on `EINTR`. `ENOBUFS` is returned as an error: it
/// means the kernel dropped announcements because the socket's buffer was full.
pub fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Read> {
    // SAFETY: all-zero sockaddr_nl is valid.
    let mut from: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    let mut from_len = size_of::<libc::sockaddr_nl>() as libc::socklen_t;
    let n = retry_eintr(|| {
        from_len = size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: buf is writable for buf.len() bytes; from is a writable sockaddr_nl of from_len bytes; both
        // outlive the call.
        let n = unsafe {
            libc::recvfrom(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                (&mut from as *mut libc::sockaddr_nl).cast(),
                &mut from_len,
            )
        };
        cvt(n).map(|n| n as usize)
    });
    match n {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Read::Empty),
        Err(e) => Err(e),
        Ok(_) if from.nl_pid != 0 => Ok(Read::Other),
        Ok(n) => Ok(Read::Kernel { len: n.min(buf.len()), truncated: n > buf.len() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn opens_a_route_socket_that_never_blocks() {
        let fd = open_route(GROUP_LINK | GROUP_IPV4_IFADDR | GROUP_IPV6_IFADDR).expect("NETLINK_ROUTE socket");
        set_recv_buffer(fd.as_fd(), 1 << 20).expect("receive buffer");
        let (domain, ty) = super::super::socket::socket_kind(fd.as_fd()).expect("SO_DOMAIN");
        assert_eq!((domain, ty), (libc::AF_NETLINK, libc::SOCK_RAW));
        // The host may or may not be announcing something right now; either way the read returns at once.
        let mut buf = [0u8; 8192];
        assert!(recv(fd.as_fd(), &mut buf).is_ok());
    }
}
