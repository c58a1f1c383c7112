//! Many groups in one receiver: `mcast_multi_open`, `mcast_multi_fds`, `mcast_multi_recv`, `mcast_multi_stats`,
//! `mcast_multi_free`, over [`MultiReceiver`].
//!
//! The receiver owns its sockets (one per `igmp_max_memberships` groups, or as many as the kernel's option
//! memory needs); C sees them as descriptors to poll, never to close, and as per-group counters.

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::endpoint::field;
use super::types::{read_opts, McastOpts, McastRxinfo, RxOut};
use super::{bytes_mut, c_out, c_ref, c_str, ffi_fn, CResult, Failure};
use crate::multi::{parse_group_list, Arrival, Member, MultiReceiver, Subscription};
use crate::sys::mreq::sockaddr_storage;
use crate::IfaceSpec;

/// `struct mcast_multi`: opaque to C, made by `mcast_multi_open` and ended by `mcast_multi_free`.
#[derive(Debug)]
pub struct McastMulti {
    rx: MultiReceiver,
}

/// `struct mcast_multi_stat`: one membership of the receiver and what arrived for it.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct McastMultiStat {
    /// The group and its port (`sockaddr_in`, or `sockaddr_in6` with the zone as scope id).
    pub group: libc::sockaddr_storage,
    /// The only source received from (source-specific), port 0; `AF_UNSPEC` for any source.
    pub source: libc::sockaddr_storage,
    /// The interface the group was joined on; 0 when the kernel chose by route.
    pub ifindex: c_uint,
    /// The descriptor (one of `mcast_multi_fds`) that holds the membership.
    pub fd: c_int,
    /// Datagrams received for the membership.
    pub datagrams: u64,
    /// Their bytes, full sizes even where a buffer was too small.
    pub bytes: u64,
    /// How many of them did not fit the buffer they were read into.
    pub truncated: u64,
}

/// The longest single wait of an endless `mcast_multi_recv`: `Instant + Duration` must not overflow.
const FOREVER_STEP: Duration = Duration::from_secs(3600);

/// A `sockaddr_storage` of family `AF_UNSPEC` (all zero).
fn unspecified() -> libc::sockaddr_storage {
    let mut st = sockaddr_storage(&SocketAddr::from(([0, 0, 0, 0], 0)));
    st.ss_family = libc::AF_UNSPEC as libc::sa_family_t;
    st
}

/// Builds the receiver for `groups` (`mcast recv`'s syntax: ranges, comma lists, both families) with the
/// receiver settings of `opts`: one interface, one source for every group, a receive buffer size.
fn open(groups: &str, opts: &McastOpts) -> CResult<McastMulti> {
    let list = parse_group_list(groups, None)?;
    // SAFETY: the opts contract makes source NULL or a valid string.
    let source = match unsafe { field(opts.source, "source") }? {
        Some(text) => Some(
            text.parse::<IpAddr>()
                .map_err(|_| Failure::invalid(format!("opts->source '{text}' is not an IP address")))?,
        ),
        None => None,
    };
    let mut b = MultiReceiver::builder().subscriptions(list.into_iter().map(|group| Subscription { group, source }));
    // SAFETY: the opts contract makes iface NULL or a valid string.
    if let Some(text) = unsafe { field(opts.iface, "iface") }? {
        b = b.interface(text.parse::<IfaceSpec>()?);
    }
    if opts.rcvbuf != 0 {
        b = b.recv_buffer(opts.rcvbuf);
    }
    Ok(McastMulti { rx: b.build()? })
}

/// Checks a caller's array of `cap` entries for `needed` results: NULL with `cap` 0 only asks for the count
/// (`Ok(None)`); otherwise the array must be there and large enough.
fn room<T>(array: *mut T, cap: usize, needed: usize, what: &str) -> CResult<Option<*mut T>> {
    if array.is_null() {
        return match cap {
            0 => Ok(None),
            _ => Err(Failure::invalid(format!("{what} is NULL but cap is {cap}"))),
        };
    }
    if cap < needed {
        return Err(Failure::new(
            libc::ERANGE,
            format!("{what} has room for {cap} but the receiver has {needed}: ask for the count with NULL, 0"),
        ));
    }
    Ok(Some(array))
}

/// Writes `items` into the caller's array checked by [`room`].
///
/// # Safety
/// `array` is valid, aligned and writable for at least `items.len()` entries.
unsafe fn fill<T>(array: *mut T, items: impl IntoIterator<Item = T>) {
    for (i, item) in items.into_iter().enumerate() {
        // SAFETY: i < items.len() <= the entries the contract makes writable.
        unsafe { array.add(i).write(item) };
    }
}

fn stat(m: &Member, fds: &[c_int]) -> McastMultiStat {
    let c = &m.counters;
    McastMultiStat {
        group: sockaddr_storage(&m.group().socket_addr()),
        source: m.subscription.source.map_or_else(unspecified, |s| sockaddr_storage(&SocketAddr::new(s, 0))),
        ifindex: m.iface.as_ref().map_or(0, |i| i.index),
        fd: fds.get(m.socket).copied().unwrap_or(-1),
        datagrams: c.datagrams,
        bytes: c.bytes,
        truncated: c.truncated,
    }
}

/// Receives the next datagram, waiting at most `timeout_ms` (negative: for ever). `EAGAIN` when none came.
fn recv(rx: &mut MultiReceiver, buf: &mut [u8], timeout_ms: c_int) -> CResult<Arrival> {
    let deadline = u64::try_from(timeout_ms).ok().map(|ms| Instant::now() + Duration::from_millis(ms));
    loop {
        // A signal may end a wait early: wait again until the deadline.
        let wait = deadline.map_or(FOREVER_STEP, |d| d.saturating_duration_since(Instant::now()));
        if let Some(arrival) = rx.recv_timeout(buf, wait)? {
            return Ok(arrival);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Failure::new(libc::EAGAIN, format!("no datagram within {timeout_ms} ms")));
        }
    }
}

/// `mcast_multi_open`'s body, for either layout of the options.
pub(super) fn multi_open(groups: *const c_char, opts: CResult<McastOpts>, out: *mut *mut McastMulti) -> CResult<c_int> {
    let text = c_str!(groups);
    let out = c_out!(out);
    let multi = open(text, &opts?)?;
    out.write(Box::into_raw(Box::new(multi)));
    Ok(0)
}

/// `mcast_multi_recv`'s body, for either layout of the info.
///
/// # Safety
/// `multi` is NULL or a live receiver that nothing else uses during the call; `buf` is NULL or writable for
/// `len` bytes.
pub(super) unsafe fn multi_recv(
    multi: *mut McastMulti,
    buf: *mut c_void,
    len: usize,
    out: RxOut,
    timeout_ms: c_int,
) -> CResult<libc::ssize_t> {
    if multi.is_null() {
        return Err(Failure::invalid("multi is NULL"));
    }
    // SAFETY: not NULL; the contract makes it a receiver from mcast_multi_open, not yet freed, that no other call
    // uses meanwhile.
    let multi = unsafe { &mut *multi };
    // SAFETY: the contract makes buf writable for len bytes and not otherwise in use during the call.
    let data = unsafe { bytes_mut(buf.cast(), len, "buf") }?;
    let arrival = recv(&mut multi.rx, data, timeout_ms)?;
    // SAFETY: out was made from the caller's entry (or NULL), writable for the call.
    unsafe { out.write(0, &arrival.meta) };
    Ok(libc::ssize_t::try_from(arrival.meta.len).unwrap_or(libc::ssize_t::MAX))
}

ffi_fn! {
    /// `mcast_multi_open`: a receiver for every group of `groups` (`239.1.1.1-239.1.1.50:5000,[ff15::1]:5000`),
    /// spread over as many sockets as the kernel's limits need; `*out` on success.
    fn mcast_multi_open(groups: *const c_char, opts: *const McastOpts, out: *mut *mut McastMulti) -> c_int,
        on failure -1, mcast_multi_open in "@@MCAST_0.2"; {
        // SAFETY: the contract makes opts NULL or a sized struct mcast_opts.
        multi_open(groups, unsafe { read_opts(opts) }, out)
    }

    /// `mcast_multi_fds`: the receiver's descriptors into `fds[0..cap)`, their number in `*count`; `fds` NULL
    /// with `cap` 0 asks for the number only.
    fn mcast_multi_fds(multi: *const McastMulti, fds: *mut c_int, cap: usize, count: *mut usize) -> c_int,
        on failure -1; {
        let multi = c_ref!(multi);
        let count = c_out!(count);
        let raw = multi.rx.raw_fds();
        if let Some(array) = room(fds, cap, raw.len(), "fds")? {
            // SAFETY: room checked array is not NULL and cap >= raw.len(); the contract makes cap entries
            // writable.
            unsafe { fill(array, raw.iter().copied()) };
        }
        count.write(raw.len());
        Ok(0)
    }

    /// `mcast_multi_recv`: the next datagram of any group into `buf`, waiting at most `timeout_ms` (negative:
    /// for ever); its length, with what else is known in `*info` (may be NULL). No datagram in time: `EAGAIN`.
    fn mcast_multi_recv(multi: *mut McastMulti, buf: *mut c_void, len: usize, info: *mut McastRxinfo,
        timeout_ms: c_int) -> libc::ssize_t, on failure -1, mcast_multi_recv in "@@MCAST_0.2"; {
        // SAFETY: the contract makes info NULL or a sized entry, buf writable for len bytes, multi NULL or live.
        unsafe { multi_recv(multi, buf, len, RxOut::sized(info, 1, "info")?, timeout_ms) }
    }

    /// `mcast_multi_stats`: one entry per membership, in the order the groups were given, into
    /// `stats[0..cap)`, their number in `*count`; `stats` NULL with `cap` 0 asks for the number only.
    fn mcast_multi_stats(multi: *const McastMulti, stats: *mut McastMultiStat, cap: usize, count: *mut usize)
        -> c_int, on failure -1; {
        let multi = c_ref!(multi);
        let count = c_out!(count);
        let members = multi.rx.members();
        if let Some(array) = room(stats, cap, members.len(), "stats")? {
            let fds = multi.rx.raw_fds();
            // SAFETY: room checked array is not NULL and cap >= members.len(); the contract makes cap entries
            // writable.
            unsafe { fill(array, members.iter().map(|m| stat(m, &fds))) };
        }
        count.write(members.len());
        Ok(0)
    }

    /// `mcast_multi_free`: closes the receiver's descriptors, which ends their memberships. NULL is ignored.
    fn mcast_multi_free(multi: *mut McastMulti) -> (), on failure (); {
        if !multi.is_null() {
            // SAFETY: the contract makes multi a pointer from mcast_multi_open (Box::into_raw), freed only here
            // and used by nothing else after.
            drop(unsafe { Box::from_raw(multi) });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! Argument checks only: every call here fails before a socket joins anything (traffic belongs to the C
    //! suite's namespace).
    use std::ffi::CStr;
    use std::ptr::{null, null_mut};

    use super::*;

    fn errno() -> c_int {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    }

    fn last_error() -> String {
        // SAFETY: mcast_last_error returns a valid NUL-terminated string owned by this thread.
        unsafe { CStr::from_ptr(super::super::error::mcast_last_error()) }.to_string_lossy().into_owned()
    }

    /// Opens `groups` expecting failure with `errno` and a message containing `text`; `*out` stays untouched.
    fn open_fails(groups: &CStr, opts: *const McastOpts, want: c_int, text: &str) {
        let sentinel = 0x5a5a_usize as *mut McastMulti;
        let mut out = sentinel;
        // SAFETY: groups is a valid string, opts NULL or valid, out writable.
        let ret = unsafe { mcast_multi_open(groups.as_ptr(), opts, &mut out) };
        let (e, msg) = (errno(), last_error());
        assert_eq!(ret, -1, "{groups:?}");
        assert_eq!(e, want, "{groups:?}: errno {e} ({msg})");
        assert!(msg.starts_with("mcast_multi_open: ") && msg.contains(text), "{groups:?}: {msg:?} lacks {text:?}");
        assert_eq!(out, sentinel, "{groups:?}: *out written on failure");
    }

    #[test]
    fn open_refuses_bad_group_lists_before_joining() {
        open_fails(c"239.1.1.5-239.1.1.1:5000", null(), libc::EINVAL, "reversed range");
        open_fails(c"10.0.0.1-10.0.0.5:5000", null(), libc::EINVAL, "10.0.0.1");
        open_fails(c"192.168.1.1:5000", null(), libc::EINVAL, "192.168.1.1");
        open_fails(c"239.1.1.1", null(), libc::EINVAL, "no port");
        open_fails(c"239.1.1.1:0", null(), libc::EINVAL, "port 0");
        open_fails(c"239.1.1.1:5000,", null(), libc::EINVAL, "empty item");
        open_fails(c"", null(), libc::EINVAL, "empty item");
        open_fails(c"239.0.0.0-239.255.255.255:5000", null(), libc::ERANGE, "range larger than 65536 groups");
        open_fails(
            c"239.1.0.0-239.1.255.255:5000,239.2.0.0-239.2.255.255:5000",
            null(),
            libc::ERANGE,
            "the group list holds 131072 groups; a list may hold at most 65536 groups",
        );
        open_fails(c"[ff02::1]:5000", null(), libc::ENODEV, "name the interface");
        open_fails(c"239.1.1.1:5000\xff", null(), libc::EINVAL, "groups is not UTF-8");
    }

    #[test]
    fn the_header_states_the_list_cap() {
        let header = include_str!("../../ffi/mcast.h");
        let line = format!("#define MCAST_MULTI_MAX_GROUPS {}\n", crate::multi::MAX_GROUPS);
        assert!(header.contains(&line), "ffi/mcast.h lacks {line:?}");
    }

    #[test]
    fn open_refuses_bad_options_before_joining() {
        let opts = McastOpts { source: c"not-an-address".as_ptr(), ..McastOpts::default() };
        open_fails(c"232.1.1.1:5000", &opts, libc::EINVAL, "opts->source 'not-an-address'");
        let opts = McastOpts { source: c"::1".as_ptr(), ..McastOpts::default() };
        open_fails(c"232.1.1.1-232.1.1.3:5000", &opts, libc::EAFNOSUPPORT, "not of the family");
        let opts = McastOpts { iface: c"no-such-if0".as_ptr(), ..McastOpts::default() };
        open_fails(c"239.1.1.1:5000", &opts, libc::ENODEV, "no-such-if0");
    }

    /// Asserts a call failed with -1, `EINVAL` and a last-error message containing `text`.
    macro_rules! einval {
        ($call:expr, $text:expr) => {{
            let ret = $call as i64;
            let (e, msg) = (errno(), last_error());
            assert_eq!(ret, -1, "{} returned {ret}", stringify!($call));
            assert_eq!(e, libc::EINVAL, "{}: errno {e} ({msg})", stringify!($call));
            assert!(msg.contains($text), "{}: {msg:?} lacks {:?}", stringify!($call), $text);
        }};
    }

    #[test]
    fn null_arguments_are_einval_and_outputs_stay() {
        let mut out = null_mut();
        let mut count = 77usize;
        let mut fds = [0 as c_int; 2];
        let mut stats = [McastMultiStat {
            group: unspecified(),
            source: unspecified(),
            ifindex: 0,
            fd: 0,
            datagrams: 0,
            bytes: 0,
            truncated: 0,
        }];
        let mut buf = [0u8; 4];
        // SAFETY: every pointer is NULL (what is being tested) or valid for the length given.
        unsafe {
            einval!(mcast_multi_open(null(), null(), &mut out), "mcast_multi_open: groups is NULL");
            einval!(mcast_multi_open(c"239.1.1.1:5000".as_ptr(), null(), null_mut()), "out is NULL");
            einval!(mcast_multi_fds(null(), fds.as_mut_ptr(), 2, &mut count), "mcast_multi_fds: multi is NULL");
            einval!(mcast_multi_fds(null(), null_mut(), 0, null_mut()), "multi is NULL");
            einval!(mcast_multi_recv(null_mut(), buf.as_mut_ptr().cast(), 4, null_mut(), 0), "multi is NULL");
            einval!(mcast_multi_stats(null(), stats.as_mut_ptr(), 1, &mut count), "mcast_multi_stats: multi is NULL");
            mcast_multi_free(null_mut()); // ignored
        }
        assert!(out.is_null());
        assert_eq!(count, 77);
        assert_eq!(fds, [0, 0]);
        assert_eq!(stats[0].datagrams, 0);
    }

    #[test]
    fn caller_arrays_must_fit_or_only_ask_for_the_count() {
        let mut array = [0 as c_int; 4];
        assert!(matches!(room(null_mut::<c_int>(), 0, 9, "fds"), Ok(None)));
        let e = room(null_mut::<c_int>(), 3, 9, "fds").unwrap_err();
        assert_eq!((e.errno, e.message.as_str()), (libc::EINVAL, "fds is NULL but cap is 3"));
        let e = room(array.as_mut_ptr(), 4, 9, "fds").unwrap_err();
        assert_eq!(e.errno, libc::ERANGE);
        assert!(e.message.contains("room for 4 but the receiver has 9"), "{}", e.message);
        assert!(matches!(room(array.as_mut_ptr(), 4, 4, "fds"), Ok(Some(_))));
        assert!(matches!(room(array.as_mut_ptr(), 4, 0, "fds"), Ok(Some(_))));
        // SAFETY: array has room for the 3 items written.
        unsafe { fill(array.as_mut_ptr(), [7, 8, 9]) };
        assert_eq!(array, [7, 8, 9, 0]);
    }

    #[test]
    fn stat_struct_holds_both_families() {
        let st = unspecified();
        assert_eq!(st.ss_family, libc::AF_UNSPEC as libc::sa_family_t);
        assert_eq!(std::mem::size_of::<McastMultiStat>(), 2 * std::mem::size_of::<libc::sockaddr_storage>() + 32);
        assert_eq!(std::mem::align_of::<McastMultiStat>(), 8);
    }
}
