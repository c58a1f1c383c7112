//! The raw layer: every call into the kernel, and the only home of `unsafe` besides the C boundary.
//!
//! Functions here know the kernel, not the user: one function per syscall shape, typed arguments in, typed
//! results out, `errno` preserved in the returned [`std::io::Error`]. The safe API above adds the context
//! (which option, which group, which interface) to the errors.

#[cfg(feature = "tokio")]
pub(crate) mod asyncfd;
pub mod cmsg;
pub mod epoll;
pub mod filter;
pub mod ifconf;
pub mod mmsg;
pub mod mreq;
pub mod msfilter;
pub mod netlink;
pub mod raw;
pub mod signal;
pub mod socket;
pub mod sockopt;

use std::io;

/// Turns a libc return value of `-1` into the current `errno`, in one place.
pub(crate) fn cvt<T: IsMinusOne>(ret: T) -> io::Result<T> {
    if ret.is_minus_one() {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Integer types that libc calls return, with `-1` meaning failure.
pub(crate) trait IsMinusOne: Copy {
    fn is_minus_one(self) -> bool;
}

impl IsMinusOne for libc::c_int {
    fn is_minus_one(self) -> bool {
        self == -1
    }
}

impl IsMinusOne for libc::ssize_t {
    fn is_minus_one(self) -> bool {
        self == -1
    }
}

/// Retries a call while it fails with `EINTR`: a signal handler that returns must not look like an error.
#[inline]
pub(crate) fn retry_eintr<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}
