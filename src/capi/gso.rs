//! Segmented send and GRO receive: `mcast_send_segments`, `mcast_send_segments_to`, `mcast_gso_supported`,
//! `mcast_set_gro`, `mcast_get_gro` and `mcast_recv_gro`.
//!
//! The sending logic is [`crate::gso::BatchSender`]'s: probe for `UDP_SEGMENT`, and fall back to `sendmmsg` (then
//! `sendto`) when the kernel or the path refuses a segmented send. The splitting of coalesced reads is
//! [`crate::gso::gro_datagrams`]. This file only checks C arguments and bounds one call.

use std::ffi::{c_char, c_int, c_void};
use std::net::SocketAddr;

use super::types::{McastRxinfo, RxOut};
use super::{borrow, bytes, bytes_mut, c_out, c_str, ffi_fn, lend, CResult, Failure};
use crate::gso::{gro_datagrams, gso_supported, BatchSender, SendPath, MAX_UDP_PAYLOAD};
use crate::socket::McastSocket;
use crate::sys::socket::recv_msg;
use crate::{Error, Group, RecvMeta};

/// A segment size as C gives it, checked against what one UDP datagram carries.
fn segment_size(segment: usize) -> CResult<usize> {
    if segment == 0 || segment > MAX_UDP_PAYLOAD {
        return Err(Failure::invalid(format!("segment size {segment} is out of range 1..={MAX_UDP_PAYLOAD}")));
    }
    Ok(segment)
}

/// Sends the first datagrams of `data` that one call carries (as many as the sender's path takes at once) and
/// returns how many went.
fn send(socket: &McastSocket, data: &[u8], segment: usize, to: SocketAddr) -> CResult<c_int> {
    let mut sender = BatchSender::new(socket, to, SendPath::Segments);
    let room = sender.max_per_call(segment).saturating_mul(segment);
    let chunk = data.get(..data.len().min(room)).unwrap_or(data);
    let sent = sender.send(chunk, segment)?;
    Ok(c_int::try_from(sent).unwrap_or(c_int::MAX))
}

/// The datagrams of one read, at most `count` of them: when the read holds more, the last entry covers all the
/// rest, so that every byte placed in the buffer is described and none is lost.
fn describe(meta: &RecvMeta, count: usize) -> Vec<RecvMeta> {
    let mut parts: Vec<(usize, RecvMeta)> = gro_datagrams(meta).map(|(range, m)| (range.start, m)).collect();
    if parts.len() > count && count > 0 {
        parts.truncate(count);
        if let Some((start, last)) = parts.last_mut() {
            last.len = meta.len.saturating_sub(*start);
            last.full_len = meta.full_len.saturating_sub(*start);
            last.truncated = meta.truncated;
        }
    }
    parts.into_iter().map(|(_, m)| m).collect()
}

ffi_fn! {
    /// `mcast_send_segments`: `buf` as datagrams of `segment` bytes (the last may be shorter) to the connected
    /// group, with `UDP_SEGMENT` where the kernel and path accept it; how many datagrams were sent.
    fn mcast_send_segments(fd: c_int, buf: *const c_void, len: usize, segment: usize) -> c_int, on failure -1; {
        // SAFETY: the contract makes buf readable for len bytes.
        let data = unsafe { bytes(buf.cast(), len, "buf") }?;
        let segment = segment_size(segment)?;
        let socket = borrow(fd)?;
        let to = socket.peer_addr()?;
        send(&socket, data, segment, to)
    }

    /// `mcast_send_segments_to`: as `mcast_send_segments`, to `group_port` instead of the connected address.
    fn mcast_send_segments_to(fd: c_int, buf: *const c_void, len: usize, segment: usize,
        group_port: *const c_char) -> c_int, on failure -1; {
        // SAFETY: the contract makes buf readable for len bytes.
        let data = unsafe { bytes(buf.cast(), len, "buf") }?;
        let segment = segment_size(segment)?;
        let group = Group::parse_with_port(c_str!(group_port))?;
        let socket = borrow(fd)?;
        send(&socket, data, segment, group.socket_addr())
    }

    /// `mcast_gso_supported`: 1 if the socket accepts `UDP_SEGMENT` (the kernel has UDP GSO), else 0.
    fn mcast_gso_supported(fd: c_int) -> c_int, on failure -1; {
        let socket = borrow(fd)?;
        Ok(c_int::from(gso_supported(&socket)))
    }

    /// `mcast_set_gro`: `UDP_GRO` on (any non-zero `on`) or off.
    fn mcast_set_gro(fd: c_int, on: c_int) -> c_int, on failure -1; {
        borrow(fd)?.set_udp_gro(on != 0)?;
        Ok(0)
    }

    /// `mcast_get_gro`: whether `UDP_GRO` is on, as 0 or 1 in `*on`.
    fn mcast_get_gro(fd: c_int, on: *mut c_int) -> c_int, on failure -1; {
        let out = c_out!(on);
        let value = borrow(fd)?.udp_gro()?;
        out.write(c_int::from(value));
        Ok(0)
    }

    /// `mcast_recv_gro`: one read into `buf`, described datagram by datagram in `infos[0..count)`, the datagrams
    /// lying end to end in `buf`; how many entries were written.
    fn mcast_recv_gro(fd: c_int, buf: *mut c_void, len: usize, infos: *mut McastRxinfo, count: usize) -> c_int,
        on failure -1, mcast_recv_gro in "@@MCAST_0.2"; {
        // SAFETY: the contract makes infos NULL or an array of count sized entries, buf writable for len bytes.
        unsafe { recv_gro(fd, buf, len, RxOut::sized(infos, count, "infos")?, count) }
    }
}

/// `mcast_recv_gro`'s body, for either layout of the infos.
///
/// # Safety
/// `buf` is NULL or writable for `len` bytes that nothing else uses during the call; `out` was made from an array
/// of at least `count` entries.
pub(super) unsafe fn recv_gro(fd: c_int, buf: *mut c_void, len: usize, out: RxOut, count: usize) -> CResult<c_int> {
    // SAFETY: forwarded from this function's contract.
    let data = unsafe { bytes_mut(buf.cast(), len, "buf") }?;
    if out.is_nowhere() {
        return Err(Failure::invalid("infos is NULL"));
    }
    if count == 0 {
        return Err(Failure::invalid("count is 0: infos needs room for at least one datagram"));
    }
    let r = recv_msg(lend(fd)?, data, 0).map_err(|e| Error::os("recvmsg", e))?;
    let parts = describe(&RecvMeta::from_raw(&r)?, count);
    for (i, part) in parts.iter().enumerate() {
        // SAFETY: i < parts.len() <= count, within the caller's array by the contract.
        unsafe { out.write(i, part) };
    }
    Ok(c_int::try_from(parts.len()).unwrap_or(c_int::MAX))
}

#[cfg(test)]
mod tests {
    use std::ffi::{c_int, CStr};
    use std::ptr::{null, null_mut};

    use super::*;
    use crate::capi::error::mcast_last_error;
    use crate::capi::socket::{mcast_close, mcast_open};

    fn errno() -> c_int {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    }

    fn last_error() -> String {
        // SAFETY: mcast_last_error returns a valid NUL-terminated string owned by this thread.
        unsafe { CStr::from_ptr(mcast_last_error()) }.to_string_lossy().into_owned()
    }

    /// Asserts a call failed with -1, `errno` and a last-error message containing `text`.
    fn fails(ret: c_int, want: c_int, text: &str) {
        let (e, msg) = (errno(), last_error());
        assert_eq!(ret, -1, "returned {ret} ({msg})");
        assert_eq!(e, want, "errno {e} ({msg})");
        assert!(msg.contains(text), "message {msg:?} lacks {text:?}");
    }

    fn open() -> c_int {
        // SAFETY: integer arguments only.
        let fd = unsafe { mcast_open(libc::AF_INET, libc::SOCK_DGRAM, 0) };
        assert!(fd >= 0, "mcast_open: {}", last_error());
        fd
    }

    fn meta(len: usize, full_len: usize, gro: Option<u16>) -> RecvMeta {
        RecvMeta::sample(len, full_len, gro)
    }

    #[test]
    fn send_arguments_are_checked_before_any_syscall() {
        let fd = open();
        let data = [7u8; 32];
        // SAFETY: every pointer is NULL or valid for the lengths given; fd is an unconnected socket of ours, and
        // each call fails before sending.
        unsafe {
            fails(mcast_send_segments(fd, null(), 10, 5), libc::EINVAL, "mcast_send_segments: buf is NULL");
            fails(mcast_send_segments(fd, data.as_ptr().cast(), 32, 0), libc::EINVAL, "segment size 0");
            fails(mcast_send_segments(fd, data.as_ptr().cast(), 32, 65_508), libc::EINVAL, "out of range");
            fails(mcast_send_segments(fd, data.as_ptr().cast(), 32, 8), libc::ENOTCONN, "getpeername");
            fails(mcast_send_segments(-1, data.as_ptr().cast(), 32, 8), libc::EBADF, "not a file descriptor");
            fails(mcast_send_segments_to(fd, data.as_ptr().cast(), 32, 8, null()), libc::EINVAL, "group_port is NULL");
            fails(mcast_send_segments_to(fd, null(), 32, 8, c"239.1.2.3:5000".as_ptr()), libc::EINVAL, "buf is NULL");
            fails(mcast_send_segments_to(fd, data.as_ptr().cast(), 32, 8, c"10.0.0.1:5000".as_ptr()), libc::EINVAL, "");
            fails(mcast_send_segments_to(fd, data.as_ptr().cast(), 32, 8, c"239.1.2.3".as_ptr()), libc::EINVAL, "");
            fails(
                mcast_send_segments_to(fd, data.as_ptr().cast(), 32, 0, c"239.1.2.3:5000".as_ptr()),
                libc::EINVAL,
                "",
            );
        }
        // SAFETY: fd is ours.
        assert_eq!(unsafe { mcast_close(fd) }, 0);
    }

    #[test]
    fn gro_option_round_trips_and_leaves_output_alone_on_failure() {
        let fd = open();
        let mut on: c_int = 7;
        // SAFETY: `on` is a valid c_int for every call; fd is ours.
        unsafe {
            assert_eq!(mcast_gso_supported(fd), 1, "{}", last_error());
            assert_eq!(mcast_get_gro(fd, &mut on), 0, "{}", last_error());
            assert_eq!(on, 0);
            assert_eq!(mcast_set_gro(fd, 5), 0, "{}", last_error());
            assert_eq!(mcast_get_gro(fd, &mut on), 0);
            assert_eq!(on, 1);
            assert_eq!(mcast_set_gro(fd, 0), 0);
            assert_eq!(mcast_get_gro(fd, &mut on), 0);
            assert_eq!(on, 0);
            fails(mcast_get_gro(fd, null_mut()), libc::EINVAL, "mcast_get_gro: on is NULL");
            on = 9;
            fails(mcast_get_gro(-1, &mut on), libc::EBADF, "not a file descriptor");
            assert_eq!(on, 9);
            fails(mcast_set_gro(-1, 1), libc::EBADF, "");
            fails(mcast_gso_supported(-1), libc::EBADF, "");
            assert_eq!(mcast_close(fd), 0);
        }
    }

    #[test]
    fn recv_gro_arguments_are_checked_before_reading() {
        let fd = open();
        let mut buf = [0u8; 16];
        // SAFETY: zeroed bytes are a valid McastRxinfo (plain integers and sockaddr_storage).
        let mut infos: [McastRxinfo; 2] = unsafe { std::mem::zeroed() };
        infos[0].size = std::mem::size_of::<McastRxinfo>();
        // SAFETY: every pointer is NULL or valid for the lengths given; each call fails before reading.
        unsafe {
            fails(mcast_recv_gro(fd, null_mut(), 16, infos.as_mut_ptr(), 2), libc::EINVAL, "buf is NULL");
            fails(mcast_recv_gro(fd, buf.as_mut_ptr().cast(), 16, null_mut(), 2), libc::EINVAL, "infos is NULL");
            fails(mcast_recv_gro(fd, buf.as_mut_ptr().cast(), 16, infos.as_mut_ptr(), 0), libc::EINVAL, "count is 0");
            fails(mcast_recv_gro(-1, buf.as_mut_ptr().cast(), 16, infos.as_mut_ptr(), 2), libc::EBADF, "");
            assert_eq!(mcast_close(fd), 0);
        }
    }

    #[test]
    fn a_coalesced_read_is_described_datagram_by_datagram() {
        let parts = describe(&meta(250, 250, Some(100)), 8);
        let lens: Vec<usize> = parts.iter().map(|m| m.len).collect();
        assert_eq!(lens, [100, 100, 50]);
        assert!(parts.iter().all(|m| m.full_len == m.len && !m.truncated));
        assert!(parts.iter().all(|m| m.source == parts[0].source && m.group == parts[0].group));
        // A read that was not coalesced is one datagram, unchanged, even when it is empty.
        assert_eq!(describe(&meta(0, 0, None), 8), [meta(0, 0, None)]);
        assert_eq!(describe(&meta(100, 100, Some(100)), 8), [meta(100, 100, Some(100))]);
    }

    #[test]
    fn more_datagrams_than_entries_end_in_one_entry_that_covers_the_rest() {
        let parts = describe(&meta(500, 500, Some(100)), 2);
        let lens: Vec<(usize, usize)> = parts.iter().map(|m| (m.len, m.full_len)).collect();
        assert_eq!(lens, [(100, 100), (400, 400)]);
    }

    #[test]
    fn a_truncated_coalesced_read_keeps_its_loss_on_the_last_datagram() {
        // 1000 bytes coalesced at 300, read into 700: two whole datagrams, then 100 of the third's 400 remaining.
        let parts = describe(&meta(700, 1000, Some(300)), 8);
        let got: Vec<(usize, usize, bool)> = parts.iter().map(|m| (m.len, m.full_len, m.truncated)).collect();
        assert_eq!(got, [(300, 300, false), (300, 300, false), (100, 400, true)]);
        let total_lost: usize = parts.iter().map(|m| m.full_len - m.len).sum();
        assert_eq!(total_lost, 300);
    }
}
