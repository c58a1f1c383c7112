//! The rest of RFC 3678 for C: blocking sources of an any-source membership, the full-state source filter
//! (`setsourcefilter`/`getsourcefilter` semantics), source-specific joins by binary address, and
//! `IP_MULTICAST_ALL`/`IPV6_MULTICAST_ALL`.

use std::ffi::{c_char, c_int, c_uint};
use std::mem::size_of;
use std::net::IpAddr;

use super::socket::{addr_group, in6_addr, in_addr, join_iface, text_group};
use super::{borrow, c_out, c_ref, c_str, ffi_fn, Borrowed, CResult, Failure, Out};
use crate::sys::mreq::from_sockaddr;
use crate::{FilterMode, Group};

/// A C socket address of `len` bytes as an IP address (its port is ignored); `EINVAL` for NULL, a length that
/// does not fit the family, or another family.
///
/// # Safety
/// `addr` is NULL or readable for `len` bytes.
unsafe fn sockaddr_ip(addr: *const libc::sockaddr, len: libc::socklen_t, what: &str) -> CResult<IpAddr> {
    if addr.is_null() {
        return Err(Failure::invalid(format!("{what} is NULL")));
    }
    let n = len as usize;
    if n > size_of::<libc::sockaddr_storage>() {
        return Err(Failure::invalid(format!("{what} length {n} is longer than a sockaddr_storage")));
    }
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut st: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    // SAFETY: the contract makes addr readable for n bytes, and n fits the storage (checked above).
    unsafe { std::ptr::copy_nonoverlapping(addr.cast::<u8>(), (&mut st as *mut libc::sockaddr_storage).cast(), n) };
    from_sockaddr(&st, len).map(|a| a.ip()).ok_or_else(|| {
        Failure::invalid(format!(
            "{what} is not a sockaddr_in or sockaddr_in6 of its full length (family {}, {n} bytes)",
            st.ss_family
        ))
    })
}

/// A source named in text.
fn text_source(text: &str) -> CResult<IpAddr> {
    text.parse().map_err(|_| Failure::invalid(format!("source '{text}' is not an IP address")))
}

/// `MCAST_BLOCK_SOURCE` or `MCAST_UNBLOCK_SOURCE` by text, on the interface a join with the same arguments
/// would use.
fn block(fd: c_int, group: &str, source: &str, iface: Option<&str>, on: bool) -> CResult<c_int> {
    let socket = borrow(fd)?;
    let group = text_group(&socket, group)?;
    let source = text_source(source)?;
    let name = if on { "MCAST_BLOCK_SOURCE" } else { "MCAST_UNBLOCK_SOURCE" };
    let index = join_iface(iface, &group)
        .map_err(|f| Failure { message: format!("{name} ({source}, {group}): {}", f.message), ..f })?
        .map_or(0, |i| i.index);
    if on {
        socket.block_source(group.ip(), source, index)?;
    } else {
        socket.unblock_source(group.ip(), source, index)?;
    }
    Ok(0)
}

/// `MCAST_JOIN_SOURCE_GROUP` or `MCAST_LEAVE_SOURCE_GROUP` by binary address.
fn source_member(socket: &Borrowed, group: IpAddr, source: IpAddr, ifindex: c_uint, join: bool) -> CResult<c_int> {
    let group = addr_group(socket, group)?;
    if join {
        socket.join_source_group(group.ip(), source, ifindex)?;
    } else {
        socket.leave_source_group(group.ip(), source, ifindex)?;
    }
    Ok(0)
}

ffi_fn! {
    /// `mcast_block_source`: in an any-source membership, stop receiving `group` from `source`.
    fn mcast_block_source(fd: c_int, group: *const c_char, source: *const c_char, iface: *const c_char) -> c_int,
        on failure -1, mcast_block_source in "@@MCAST_0.2"; {
        let (g, s) = (c_str!(group), c_str!(source));
        let i = if iface.is_null() { None } else { Some(c_str!(iface)) };
        block(fd, g, s, i, true)
    }

    /// `mcast_unblock_source`: undoes `mcast_block_source`.
    fn mcast_unblock_source(fd: c_int, group: *const c_char, source: *const c_char, iface: *const c_char) -> c_int,
        on failure -1, mcast_unblock_source in "@@MCAST_0.2"; {
        let (g, s) = (c_str!(group), c_str!(source));
        let i = if iface.is_null() { None } else { Some(c_str!(iface)) };
        block(fd, g, s, i, false)
    }

    /// `mcast_join_source_addr`: `MCAST_JOIN_SOURCE_GROUP` with binary IPv4 addresses and an interface index.
    fn mcast_join_source_addr(fd: c_int, group: *const libc::in_addr, source: *const libc::in_addr, ifindex: c_uint)
        -> c_int, on failure -1, mcast_join_source_addr in "@@MCAST_0.2"; {
        let (g, s) = (in_addr(c_ref!(group)), in_addr(c_ref!(source)));
        source_member(&borrow(fd)?, g.into(), s.into(), ifindex, true)
    }

    /// `mcast_leave_source_addr`: `MCAST_LEAVE_SOURCE_GROUP`, IPv4.
    fn mcast_leave_source_addr(fd: c_int, group: *const libc::in_addr, source: *const libc::in_addr, ifindex: c_uint)
        -> c_int, on failure -1, mcast_leave_source_addr in "@@MCAST_0.2"; {
        let (g, s) = (in_addr(c_ref!(group)), in_addr(c_ref!(source)));
        source_member(&borrow(fd)?, g.into(), s.into(), ifindex, false)
    }

    /// `mcast_join_source_addr6`: `MCAST_JOIN_SOURCE_GROUP` with binary IPv6 addresses.
    fn mcast_join_source_addr6(fd: c_int, group: *const libc::in6_addr, source: *const libc::in6_addr,
        ifindex: c_uint) -> c_int, on failure -1, mcast_join_source_addr6 in "@@MCAST_0.2"; {
        let (g, s) = (in6_addr(c_ref!(group)), in6_addr(c_ref!(source)));
        source_member(&borrow(fd)?, g.into(), s.into(), ifindex, true)
    }

    /// `mcast_leave_source_addr6`: `MCAST_LEAVE_SOURCE_GROUP`, IPv6.
    fn mcast_leave_source_addr6(fd: c_int, group: *const libc::in6_addr, source: *const libc::in6_addr,
        ifindex: c_uint) -> c_int, on failure -1, mcast_leave_source_addr6 in "@@MCAST_0.2"; {
        let (g, s) = (in6_addr(c_ref!(group)), in6_addr(c_ref!(source)));
        source_member(&borrow(fd)?, g.into(), s.into(), ifindex, false)
    }

    /// `mcast_set_source_filter`: RFC 3678's `setsourcefilter`: the membership of `group` on `ifindex` gets
    /// mode `fmode` and the `numsrc` sources of `slist`, in one call.
    fn mcast_set_source_filter(fd: c_int, ifindex: c_uint, group: *const libc::sockaddr, grouplen: libc::socklen_t,
        fmode: u32, numsrc: u32, slist: *const libc::sockaddr_storage) -> c_int, on failure -1,
        mcast_set_source_filter in "@@MCAST_0.2"; {
        // SAFETY: the contract makes group readable for grouplen bytes.
        let g = unsafe { sockaddr_ip(group, grouplen, "group") }?;
        let mode = FilterMode::from_raw(fmode).ok_or_else(|| {
            Failure::invalid(format!("fmode {fmode}: give MCAST_FILTER_INCLUDE (1) or MCAST_FILTER_EXCLUDE (0)"))
        })?;
        let n = numsrc as usize;
        if n > 0 && slist.is_null() {
            return Err(Failure::invalid(format!("slist is NULL but numsrc is {n}")));
        }
        let mut sources = Vec::with_capacity(n.min(1024));
        for i in 0..n {
            // SAFETY: the contract makes slist readable for numsrc entries; i < numsrc.
            let entry = unsafe { slist.add(i) };
            // SAFETY: entry is a readable sockaddr_storage.
            sources.push(unsafe {
                sockaddr_ip(entry.cast(), size_of::<libc::sockaddr_storage>() as libc::socklen_t, "slist[i]")
            }?);
        }
        let socket = borrow(fd)?;
        let g = addr_group(&socket, g)?;
        socket.set_source_filter(g.ip(), ifindex, mode, &sources)?;
        Ok(0)
    }

    /// `mcast_get_source_filter`: RFC 3678's `getsourcefilter`: the mode in `*fmode`, the number of sources in
    /// `*numsrc` (on entry the room in `slist`), and the first of them in `slist`.
    fn mcast_get_source_filter(fd: c_int, ifindex: c_uint, group: *const libc::sockaddr, grouplen: libc::socklen_t,
        fmode: *mut u32, numsrc: *mut u32, slist: *mut libc::sockaddr_storage) -> c_int, on failure -1,
        mcast_get_source_filter in "@@MCAST_0.2"; {
        // SAFETY: the contract makes group readable for grouplen bytes.
        let g = unsafe { sockaddr_ip(group, grouplen, "group") }?;
        let mode_out = c_out!(fmode);
        let room = *c_ref!(numsrc.cast_const()) as usize;
        let count_out = c_out!(numsrc);
        if room > 0 && slist.is_null() {
            return Err(Failure::invalid(format!("slist is NULL but *numsrc is {room}")));
        }
        let socket = borrow(fd)?;
        let g: Group = addr_group(&socket, g)?;
        let filter = socket.source_filter(g.ip(), ifindex, room)?;
        for (i, s) in filter.sources.iter().take(room).enumerate() {
            // SAFETY: the contract makes slist writable for *numsrc (= room) entries; i < room.
            if let Some(out) = unsafe { Out::new(slist.add(i)) } {
                out.write(crate::sys::mreq::sockaddr_storage(&std::net::SocketAddr::new(*s, 0)));
            }
        }
        mode_out.write(filter.mode.as_raw());
        count_out.write(u32::try_from(filter.total).unwrap_or(u32::MAX));
        Ok(0)
    }

    /// `mcast_set_all`: `IP_MULTICAST_ALL` or `IPV6_MULTICAST_ALL`; any non-zero value is on.
    fn mcast_set_all(fd: c_int, on: c_int) -> c_int, on failure -1, mcast_set_all in "@@MCAST_0.2"; {
        borrow(fd)?.set_multicast_all(on != 0)?;
        Ok(0)
    }

    /// `mcast_get_all`: 1 or 0.
    fn mcast_get_all(fd: c_int, on: *mut c_int) -> c_int, on failure -1, mcast_get_all in "@@MCAST_0.2"; {
        let out = c_out!(on);
        let value = borrow(fd)?.multicast_all()?;
        out.write(c_int::from(value));
        Ok(0)
    }
}
