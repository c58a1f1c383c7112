//! Async senders and receivers for tokio (the `tokio` feature): [`AsyncSender`], [`AsyncReceiver`] and
//! [`AsyncMultiReceiver`], the counterparts of [`Sender`], [`Receiver`] and [`MultiReceiver`].
//!
//! Each wraps its blocking type in `tokio::io::unix::AsyncFd`, with the sockets non-blocking: an operation
//! waits until the descriptor is ready, runs the blocking type's own non-blocking step
//! ([`Receiver::try_recv`], [`MultiReceiver::recv_timeout`] with a zero timeout, [`Sender::send`]), and waits
//! again when that step finds nothing (`EAGAIN`). So a datagram is read and parsed exactly as the blocking
//! receive does it: [`AsyncReceiver::recv`] returns the same [`RecvMeta`] (size, sender, group, interface,
//! TTL, truncation) and drops the same datagrams from interfaces the receiver did not join on.
//!
//! The many-group receiver waits on its `epoll` descriptor, which is readable while any of its sockets is: one
//! registration with the runtime, whether it holds one socket or five hundred.
//!
//! The receives are cancel-safe (a datagram is only ever read after the wait, in the same poll), and a
//! sender or receiver can be shared between tasks by reference. Making one needs a tokio runtime with IO
//! enabled (`#[tokio::main]`, or `Builder::enable_io`), as for `tokio::net`.
//!
//! ```no_run
//! # async fn run() -> mcast::Result<()> {
//! use mcast::tokio::{AsyncReceiver, AsyncSender};
//! use mcast::{Group, Receiver, Sender};
//! let group: Group = "239.1.2.3:5000".parse()?;
//! let rx = AsyncReceiver::new(Receiver::builder(group).interface("eth0").build()?)?;
//! let tx = AsyncSender::new(Sender::builder(group).interface("eth0").ttl(1).build()?)?;
//! tx.send(b"hello").await?;
//! let mut buf = [0u8; 1500];
//! let meta = rx.recv(&mut buf).await?;
//! println!("{} bytes from {} to {:?}, ttl {:?}", meta.len, meta.source, meta.group, meta.ttl);
//! # Ok(()) }
//! ```

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::Interest;

use crate::endpoint::{Membership, Receiver, Sender};
use crate::error::{Error, Result};
use crate::group::Group;
use crate::multi::{Arrival, Member, MultiReceiver};
use crate::socket::RecvMeta;
use crate::sys::asyncfd::{self, OwnsFd};

/// A [`Sender`] whose sends wait, without blocking the thread, while the socket's send buffer is full.
///
/// ```no_run
/// # async fn run() -> mcast::Result<()> {
/// use mcast::{tokio::AsyncSender, Sender};
/// let tx = AsyncSender::new(Sender::builder("239.1.2.3:5000".parse()?).ttl(1).build()?)?;
/// tx.send(b"hello").await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AsyncSender {
    socket: AsyncFd<Sender>,
}

/// A [`Receiver`] whose receives wait for a datagram without blocking the thread.
///
/// ```no_run
/// # async fn run() -> mcast::Result<()> {
/// use mcast::{tokio::AsyncReceiver, Receiver};
/// let rx = AsyncReceiver::new(Receiver::builder("239.1.2.3:5000".parse()?).interface("eth0").build()?)?;
/// let mut buf = [0u8; 1500];
/// loop {
///     let meta = rx.recv(&mut buf).await?;
///     println!("{} bytes from {} to {:?} on {:?}", meta.len, meta.source, meta.group, meta.ifindex);
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct AsyncReceiver {
    socket: AsyncFd<Receiver>,
}

/// A [`MultiReceiver`] whose receives wait, without blocking the thread, for a datagram on any of its
/// sockets.
///
/// ```no_run
/// # async fn run() -> mcast::Result<()> {
/// use mcast::multi::{parse_group_list, MultiReceiver};
/// use mcast::tokio::AsyncMultiReceiver;
/// let groups = parse_group_list("239.1.1.1-239.1.1.100:5000", None)?;
/// let mut rx = AsyncMultiReceiver::new(MultiReceiver::builder().groups(groups).interface("eth0").build()?)?;
/// let mut buf = [0u8; 1500];
/// loop {
///     let arrival = rx.recv(&mut buf).await?;
///     let group = arrival.member.map(|m| rx.members()[m].group());
///     println!("{} bytes from {} to {group:?}", arrival.meta.len, arrival.meta.source);
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct AsyncMultiReceiver {
    /// The receiver, registered by its `epoll` descriptor.
    epoll: AsyncFd<Watched>,
}

/// The many-group receiver as the runtime sees it: one descriptor, its `epoll` set.
#[derive(Debug)]
pub(crate) struct Watched(MultiReceiver);

impl AsRawFd for Watched {
    fn as_raw_fd(&self) -> RawFd {
        self.0.wait_fd().as_raw_fd()
    }
}

/// Registers `inner` with the current runtime for `interest`. Every `AsyncFd` here stays in a private field,
/// and its value is only reached to call its methods, never replaced: the contract of `sys::asyncfd`.
fn register<T: OwnsFd>(inner: T, interest: Interest) -> Result<AsyncFd<T>> {
    asyncfd::register(inner, interest).map_err(|e| Error::os("register with the tokio runtime", e))
}

fn wait_error(e: std::io::Error) -> Error {
    Error::os("wait for the socket to be ready (tokio)", e)
}

/// Whether a non-blocking call found nothing to do (`EAGAIN`, which is `EWOULDBLOCK` on Linux).
fn would_block(e: &Error) -> bool {
    e.raw_os_error() == Some(libc::EAGAIN)
}

/// Waits until `fd` is readable (or, with `write`, writable) and runs `op`, until `op` does something:
/// `Ok(None)` or `EAGAIN` mean it found nothing, so the readiness tokio remembered is stale; it is cleared and
/// the wait starts again.
async fn when_ready<T: AsRawFd, R>(
    fd: &AsyncFd<T>,
    write: bool,
    mut op: impl FnMut(&T) -> Result<Option<R>>,
) -> Result<R> {
    loop {
        let mut guard = if write { fd.writable().await } else { fd.readable().await }.map_err(wait_error)?;
        match op(fd.get_ref()) {
            Ok(Some(r)) => return Ok(r),
            Ok(None) => guard.clear_ready(),
            Err(e) if would_block(&e) => guard.clear_ready(),
            Err(e) => return Err(e),
        }
    }
}

impl AsyncSender {
    /// Makes `sender`'s socket non-blocking and registers it with the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime, or in one without IO enabled, as `tokio::net` does.
    pub fn new(sender: Sender) -> Result<Self> {
        sender.socket().set_nonblocking(true)?;
        Ok(AsyncSender { socket: register(sender, Interest::WRITABLE)? })
    }

    /// Sends one datagram to the group (as [`Sender::send`]), waiting while the send buffer is full.
    pub async fn send(&self, buf: &[u8]) -> Result<usize> {
        when_ready(&self.socket, true, |tx| tx.send(buf).map(Some)).await
    }

    /// Sends one datagram to `addr`, another group or a unicast peer, with this sender's interface, TTL and
    /// loop settings.
    pub async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> Result<usize> {
        when_ready(&self.socket, true, |tx| tx.socket().send_to(buf, addr).map(Some)).await
    }

    /// Sends several datagrams to the group with `sendmmsg` (as [`Sender::send_batch`]), waiting while the
    /// send buffer is full; returns how many went (the rest are the caller's).
    pub async fn send_batch(&self, bufs: &[&[u8]]) -> Result<usize> {
        when_ready(&self.socket, true, |tx| tx.send_batch(bufs).map(Some)).await
    }

    /// The group.
    pub fn group(&self) -> Group {
        self.socket.get_ref().group()
    }

    /// The blocking sender inside, for its socket's options.
    pub fn get_ref(&self) -> &Sender {
        self.socket.get_ref()
    }

    /// Leaves the runtime and gives back the blocking sender, its socket blocking again.
    pub fn into_inner(self) -> Result<Sender> {
        let sender = self.socket.into_inner();
        sender.socket().set_nonblocking(false)?;
        Ok(sender)
    }
}

impl AsyncReceiver {
    /// Makes `receiver`'s socket non-blocking and registers it with the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime, or in one without IO enabled, as `tokio::net` does.
    pub fn new(receiver: Receiver) -> Result<Self> {
        receiver.socket().set_nonblocking(true)?;
        Ok(AsyncReceiver { socket: register(receiver, Interest::READABLE)? })
    }

    /// Receives one datagram, waiting for it: the same metadata as [`Receiver::recv`] (size, sender, group,
    /// interface, TTL, truncation). Cancel-safe.
    pub async fn recv(&self, buf: &mut [u8]) -> Result<RecvMeta> {
        when_ready(&self.socket, false, |rx| rx.try_recv(buf)).await
    }

    /// Receives a batch with `recvmmsg` once a datagram is queued, as [`Receiver::recv_batch`] (whose count
    /// can be 0 when every datagram came from an interface this receiver did not join on).
    pub async fn recv_batch(&self, bufs: &mut [&mut [u8]], metas: &mut Vec<RecvMeta>) -> Result<usize> {
        when_ready(&self.socket, false, |rx| rx.recv_batch(bufs, metas).map(Some)).await
    }

    /// What this receiver joined.
    pub fn memberships(&self) -> &[Membership] {
        self.socket.get_ref().memberships()
    }

    /// The blocking receiver inside, for its socket's options and counters.
    pub fn get_ref(&self) -> &Receiver {
        self.socket.get_ref()
    }

    /// Leaves one membership, the others staying ([`Receiver::leave`]).
    pub fn leave(&mut self, group: &Group, source: Option<IpAddr>) -> Result<()> {
        self.socket.get_mut().leave(group, source)
    }

    /// Leaves the runtime and gives back the blocking receiver, its socket blocking again.
    pub fn into_inner(self) -> Result<Receiver> {
        let receiver = self.socket.into_inner();
        receiver.socket().set_nonblocking(false)?;
        Ok(receiver)
    }
}

impl AsyncMultiReceiver {
    /// Registers the receiver's `epoll` descriptor, which is readable while any of its sockets is, with the
    /// current tokio runtime (the sockets are non-blocking already).
    ///
    /// # Panics
    /// Outside a tokio runtime, or in one without IO enabled, as `tokio::net` does.
    pub fn new(receiver: MultiReceiver) -> Result<Self> {
        Ok(AsyncMultiReceiver { epoll: register(Watched(receiver), Interest::READABLE)? })
    }

    /// Receives the next datagram from any socket, waiting for one, and counts it for its membership, as
    /// [`MultiReceiver::recv_timeout`] does: readable sockets are served in turn, so a busy group cannot starve
    /// the others. Cancel-safe.
    pub async fn recv(&mut self, buf: &mut [u8]) -> Result<Arrival> {
        loop {
            let mut guard = self.epoll.readable_mut().await.map_err(wait_error)?;
            match guard.get_inner_mut().0.recv_timeout(buf, Duration::ZERO)? {
                Some(arrival) => return Ok(arrival),
                None => guard.clear_ready(),
            }
        }
    }

    /// Every membership with its counters ([`MultiReceiver::members`]).
    pub fn members(&self) -> &[Member] {
        self.epoll.get_ref().0.members()
    }

    /// Every socket's descriptor, in index order ([`MultiReceiver::iter_fds`]).
    pub fn iter_fds(&self) -> impl ExactSizeIterator<Item = BorrowedFd<'_>> + '_ {
        self.epoll.get_ref().0.iter_fds()
    }

    /// The blocking receiver inside, for its counters and sockets.
    pub fn get_ref(&self) -> &MultiReceiver {
        &self.epoll.get_ref().0
    }

    /// Leaves the runtime and gives back the blocking receiver (whose sockets are always non-blocking).
    pub fn into_inner(self) -> MultiReceiver {
        self.epoll.into_inner().0
    }
}

/// `TryFrom` each blocking type: its async type's `new`.
macro_rules! async_from_blocking {
    ($($blocking:ty => $async:ty),+) => {$(
        impl TryFrom<$blocking> for $async {
            type Error = Error;
            fn try_from(inner: $blocking) -> Result<Self> {
                <$async>::new(inner)
            }
        }
    )+};
}
async_from_blocking!(Sender => AsyncSender, Receiver => AsyncReceiver, MultiReceiver => AsyncMultiReceiver);

impl TryFrom<AsyncSender> for Sender {
    type Error = Error;
    fn try_from(sender: AsyncSender) -> Result<Self> {
        sender.into_inner()
    }
}

impl TryFrom<AsyncReceiver> for Receiver {
    type Error = Error;
    fn try_from(receiver: AsyncReceiver) -> Result<Self> {
        receiver.into_inner()
    }
}

impl From<AsyncMultiReceiver> for MultiReceiver {
    fn from(receiver: AsyncMultiReceiver) -> Self {
        receiver.into_inner()
    }
}

// The socket's descriptor, as for the blocking types.
crate::socket::fd_of_socket!(AsyncSender, AsyncReceiver);

/// The `epoll` descriptor that watches every socket, readable while any of them is; the sockets themselves
/// are [`AsyncMultiReceiver::iter_fds`].
impl AsFd for AsyncMultiReceiver {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.get_ref().0.wait_fd()
    }
}

/// The `epoll` descriptor, as [`AsFd`] gives it.
impl AsRawFd for AsyncMultiReceiver {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}
