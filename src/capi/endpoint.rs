//! `mcast_sender` and `mcast_receiver`: a correct socket in one call, built by the Rust `Sender`/`Receiver`.

use std::ffi::{c_char, c_int};
use std::net::IpAddr;
use std::os::fd::IntoRawFd;

use super::socket::hops_from_c;
use super::types::{read_opts, McastOpts};
use super::{c_str, ffi_fn, CResult, Failure, Out};
use crate::socket::{Family, McastSocket};
use crate::{Error, ErrorKind, Group, IfaceSpec, Receiver, Sender};

/// An optional string field of `struct mcast_opts`.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string valid for the call.
pub(super) unsafe fn field<'a>(ptr: *const c_char, name: &str) -> CResult<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL; NUL-terminated and valid by this function's contract.
    let text = unsafe { std::ffi::CStr::from_ptr(ptr) };
    text.to_str().map(Some).map_err(|_| Failure::invalid(format!("opts->{name} is not UTF-8 text")))
}

/// Hands the socket to C, non-blocking if asked.
fn finish(socket: McastSocket, opts: &McastOpts) -> CResult<c_int> {
    if opts.nonblock != 0 {
        socket.set_nonblocking(true)?;
    }
    Ok(socket.into_raw_fd())
}

fn sender(group: &str, opts: &McastOpts) -> CResult<c_int> {
    let group = Group::parse_with_port(group)?;
    let mut b = Sender::builder(group);
    match opts.ttl {
        -1 => {}
        ttl if ttl < 0 => {
            let e = Error::new(ErrorKind::OutOfRange, format!("TTL {ttl}: give 0..=255, or -1 for the default"));
            return Err(e.into());
        }
        ttl => b = b.ttl(hops_from_c(Family::of(group.ip()), ttl)?),
    }
    if opts.loop_ >= 0 {
        b = b.multicast_loop(opts.loop_ != 0);
    }
    // SAFETY: the opts contract makes iface NULL or a valid string.
    if let Some(text) = unsafe { field(opts.iface, "iface") }? {
        b = b.interface(text.parse::<IfaceSpec>()?);
    }
    let socket = b.build()?.into_socket();
    // Connected to its group, the socket sends with plain send(2), mcast_send and mcast_send_batch.
    socket.connect(group.socket_addr())?;
    finish(socket, opts)
}

fn receiver(group: &str, opts: &McastOpts) -> CResult<c_int> {
    let group = Group::parse_with_port(group)?;
    let mut b = Receiver::builder(group).reuse(opts.reuse != 0);
    // SAFETY: the opts contract makes iface NULL or a valid string.
    if let Some(text) = unsafe { field(opts.iface, "iface") }? {
        b = b.interface(text.parse::<IfaceSpec>()?);
    }
    // SAFETY: the opts contract makes source NULL or a valid string.
    if let Some(text) = unsafe { field(opts.source, "source") }? {
        let ip: IpAddr =
            text.parse().map_err(|_| Failure::invalid(format!("opts->source '{text}' is not an IP address")))?;
        b = b.source(ip);
    }
    if opts.rcvbuf != 0 {
        b = b.recv_buffer(opts.rcvbuf);
    }
    finish(b.build()?.into_socket(), opts)
}

/// `mcast_sender`'s body, for either layout of the options.
pub(super) fn sender_call(group_port: *const c_char, opts: CResult<McastOpts>) -> CResult<c_int> {
    let group = c_str!(group_port);
    sender(group, &opts?)
}

/// `mcast_receiver`'s body, for either layout of the options.
pub(super) fn receiver_call(group_port: *const c_char, opts: CResult<McastOpts>) -> CResult<c_int> {
    let group = c_str!(group_port);
    receiver(group, &opts?)
}

ffi_fn! {
    /// `mcast_opts_init`: fills `*opts` with the defaults (`MCAST_OPTS_INIT`), `size` included. NULL is ignored.
    fn mcast_opts_init(opts: *mut McastOpts) -> (), on failure (), mcast_opts_init in "@@MCAST_0.2"; {
        // SAFETY: the contract makes opts NULL or writable.
        if let Some(out) = unsafe { Out::new(opts) } {
            out.write(McastOpts::default());
        }
        Ok(())
    }

    /// `mcast_sender`: a socket connected to `group_port`, configured by `opts` (NULL: defaults).
    fn mcast_sender(group_port: *const c_char, opts: *const McastOpts) -> c_int, on failure -1,
        mcast_sender in "@@MCAST_0.2"; {
        // SAFETY: the contract makes opts NULL or a sized struct mcast_opts.
        sender_call(group_port, unsafe { read_opts(opts) })
    }

    /// `mcast_receiver`: a socket bound to the port of `group_port` and joined to the group, configured by
    /// `opts` (NULL: defaults).
    fn mcast_receiver(group_port: *const c_char, opts: *const McastOpts) -> c_int, on failure -1,
        mcast_receiver in "@@MCAST_0.2"; {
        // SAFETY: the contract makes opts NULL or a sized struct mcast_opts.
        receiver_call(group_port, unsafe { read_opts(opts) })
    }
}
