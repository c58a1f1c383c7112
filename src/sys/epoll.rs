//! `epoll`: a wait over many descriptors whose cost per wake-up does not grow with their number, for a
//! receiver that holds hundreds of sockets (`poll` walks every one of them on every call).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::cvt;
use super::socket::poll_ms;

/// Descriptors reported by one [`Epoll::wait`] at most; the others stay ready for the next (level-triggered).
pub const EVENTS: usize = 64;

/// An epoll instance watching descriptors for input, level-triggered, each under a token of the caller's.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    /// A new, empty set (close-on-exec).
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes a flag and returns a new descriptor or -1.
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: fd was just returned by the kernel and is owned by nothing else.
        Ok(Epoll { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    /// Watches `fd` for input under `token`. The caller keeps `fd` open while it is watched (a closed
    /// descriptor leaves the set by itself).
    pub fn add(&self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: token };
        // SAFETY: both descriptors are valid; ev is a readable epoll_event alive for the call.
        cvt(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd.as_raw_fd(), &mut ev) })?;
        Ok(())
    }

    /// Waits until a watched descriptor is readable or `timeout` passes (`None`: forever), and puts the
    /// tokens of the readable ones (at most [`EVENTS`]) in `ready`, which it clears first (empty on timeout or
    /// `EINTR`). An error or hang-up on a descriptor counts as readable, as with `poll`: the read reports it.
    pub fn wait(&self, ready: &mut Vec<u64>, timeout: Option<Duration>) -> io::Result<()> {
        ready.clear();
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; EVENTS];
        // SAFETY: evs is a writable array of EVENTS epoll_event structs, alive for the call.
        let n =
            unsafe { libc::epoll_wait(self.fd.as_raw_fd(), evs.as_mut_ptr(), EVENTS as libc::c_int, poll_ms(timeout)) };
        match cvt(n) {
            Ok(n) => {
                ready.extend(evs.iter().take(n as usize).map(|e| e.u64));
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The epoll descriptor itself is readable while any watched descriptor is, so an outer event loop can wait on
/// the whole set with one registration.
impl AsFd for Epoll {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
