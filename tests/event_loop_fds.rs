//! Every type that owns a socket hands out its descriptor (`AsFd`, `AsRawFd`), so an event loop can wait on
//! it: `tokio::io::unix::AsyncFd::new(receiver)` asks for exactly `T: AsRawFd` (tokio) or `T: AsFd` (mio's
//! `SourceFd`, `poll`). Checked at compile time with a stand-in of that wrapper; the one runtime check opens
//! a sender, which sends nothing.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use mcast::multi::MultiReceiver;
use mcast::raw::{IgmpSocket, MldSocket, Watcher};
use mcast::resilient::ResilientReceiver;
use mcast::{Group, McastSocket, Receiver, Sender};

/// What `AsyncFd::new` needs of its inner value.
struct AsyncFdLike<T: AsFd + AsRawFd> {
    inner: T,
}

impl<T: AsFd + AsRawFd> AsyncFdLike<T> {
    fn new(inner: T) -> Self {
        AsyncFdLike { inner }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

fn takes<T: AsFd + AsRawFd>() {}

#[test]
fn every_socket_owner_can_be_waited_on() {
    takes::<McastSocket>();
    takes::<Sender>();
    takes::<Receiver>();
    takes::<ResilientReceiver>();
    takes::<IgmpSocket>();
    takes::<MldSocket>();
    takes::<Watcher>();
    // The many-group receiver has one descriptor per socket: all of them, as an iterator.
    let _: fn(&MultiReceiver) -> Vec<BorrowedFd<'_>> = |rx| rx.iter_fds().collect();
}

#[test]
fn a_sender_in_a_wrapper_hands_out_its_own_descriptor() {
    let group: Group = "239.1.2.3:5000".parse().unwrap();
    let sender = Sender::builder(group).build().unwrap();
    let raw = sender.socket().as_raw_fd();
    assert_eq!(sender.as_raw_fd(), raw);
    let wrapped = AsyncFdLike::new(sender);
    assert_eq!(wrapped.fd().as_raw_fd(), raw);
}
