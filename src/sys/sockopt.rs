//! One generic `setsockopt`/`getsockopt` pair that does all the unsafe work for every option.

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::cvt;
use super::mreq::{GroupReq, GroupSourceReq, In6Addr, InAddr, IpMreq, IpMreqSource, IpMreqn, Ipv6Mreq};

/// Values that can be passed to and read from the kernel as raw bytes.
///
/// # Safety
/// Implementors must be `#[repr(C)]` (or primitive) plain data: every bit pattern, including all zeros,
/// is a valid value, and the type holds no pointers or references.
pub unsafe trait Plain: Copy {}

// SAFETY: primitive integers: every bit pattern is valid.
unsafe impl Plain for libc::c_int {}
// SAFETY: as above.
unsafe impl Plain for libc::c_uint {}
// SAFETY: as above.
unsafe impl Plain for u8 {}
// SAFETY: repr(C) structs of integers and byte arrays (see mreq.rs); no pointers.
unsafe impl Plain for InAddr {}
// SAFETY: as above.
unsafe impl Plain for In6Addr {}
// SAFETY: as above.
unsafe impl Plain for IpMreq {}
// SAFETY: as above.
unsafe impl Plain for IpMreqn {}
// SAFETY: as above.
unsafe impl Plain for IpMreqSource {}
// SAFETY: as above.
unsafe impl Plain for Ipv6Mreq {}
// SAFETY: as above; sockaddr_storage is integers and padding arrays.
unsafe impl Plain for GroupReq {}
// SAFETY: as above.
unsafe impl Plain for GroupSourceReq {}
// SAFETY: two integers (seconds, microseconds); every bit pattern is valid.
unsafe impl Plain for libc::timeval {}

/// `setsockopt(fd, level, name, &value, sizeof value)`.
pub fn setsockopt<T: Plain>(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live, initialised T of exactly the length passed; the kernel only reads it.
    let ret = unsafe {
        libc::setsockopt(fd.as_raw_fd(), level, name, (value as *const T).cast(), size_of::<T>() as libc::socklen_t)
    };
    cvt(ret).map(drop)
}

/// `getsockopt(fd, level, name, &value, &len)`, refusing an answer of another length than `T`'s.
pub fn getsockopt<T: Plain>(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int) -> io::Result<T> {
    // SAFETY: T is Plain, so all-zero is a valid T.
    let mut value: T = unsafe { std::mem::zeroed() };
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is a writable T and `len` says its exact size; the kernel writes at most `len` bytes
    // and updates `len`; both outlive the call.
    let ret = unsafe { libc::getsockopt(fd.as_raw_fd(), level, name, (&mut value as *mut T).cast(), &mut len) };
    cvt(ret)?;
    if len as usize != size_of::<T>() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("getsockopt returned {len} bytes, expected {}", size_of::<T>()),
        ));
    }
    Ok(value)
}

/// `getsockopt` into a byte buffer, returning how many bytes the kernel wrote (for variable-length answers).
pub fn getsockopt_bytes(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    buf: &mut [u8],
) -> io::Result<usize> {
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: buf is writable for `len` bytes and outlives the call.
    let ret = unsafe { libc::getsockopt(fd.as_raw_fd(), level, name, buf.as_mut_ptr().cast(), &mut len) };
    cvt(ret)?;
    Ok((len as usize).min(buf.len()))
}
