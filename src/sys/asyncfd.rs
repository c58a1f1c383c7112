//! Registration with tokio's reactor (the `tokio` feature), whose contract `crate::tokio` keeps.
//!
//! `AsyncFd` adds the descriptor that `as_raw_fd` returns to the runtime's `epoll` set and removes it when
//! dropped; if that descriptor were closed or replaced in between, the runtime would watch, or remove, a
//! descriptor that is no longer the one it was given. So only the socket owners below, whose descriptor is
//! theirs and fixed for their whole life, may be registered.

use std::io;
use std::os::fd::AsRawFd;

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::Interest;

use crate::endpoint::{Receiver, Sender};
use crate::tokio::Watched;

/// A value whose `as_raw_fd` is a descriptor it owns.
///
/// # Safety
/// The descriptor must be open, and `as_raw_fd` must return the same one, for as long as the value lives; no
/// method of the type may close or replace it.
pub(crate) unsafe trait OwnsFd: AsRawFd {}

// SAFETY: a Sender keeps its McastSocket (an OwnedFd) in a private field from `build` until it is dropped or
// consumed by `into_socket`; no method replaces it.
unsafe impl OwnsFd for Sender {}

// SAFETY: as for Sender: the socket field is private and never replaced (`leave` changes memberships only).
unsafe impl OwnsFd for Receiver {}

// SAFETY: Watched's descriptor is its MultiReceiver's epoll instance, kept in a private field from `build`
// until the receiver is dropped; adding sockets to the set does not change the epoll descriptor.
unsafe impl OwnsFd for Watched {}

/// Registers `inner`'s descriptor with the current tokio runtime for `interest`; on failure the value is
/// dropped and the error returned.
///
/// # Panics
/// Outside a tokio runtime, or in one without IO enabled (tokio's own rule).
pub(crate) fn register<T: OwnsFd>(inner: T, interest: Interest) -> io::Result<AsyncFd<T>> {
    // SAFETY: T: OwnsFd keeps the descriptor open and unchanged while `inner` lives, and `crate::tokio`, the
    // only caller, keeps each AsyncFd in a private field and reaches the value inside only to call its
    // methods, never moving another value in its place, so the descriptor removed on drop or `into_inner`
    // is the one added here.
    unsafe { AsyncFd::register_with_interest(inner, interest) }.map_err(|e| e.into_parts().1)
}
