//! `mcast_discover`: the expanding-ring search of [`crate::discover::Search`], filling a caller's array.
//!
//! The array's entries are written `size` bytes apart, and each with at most `size` bytes, `size` being what the
//! caller compiled as `sizeof(struct mcast_found)`: a later version may append fields to the struct, and a
//! program built against this header keeps working with it (it gets the fields it knows).

use std::ffi::{c_char, c_int, c_uint};
use std::mem::size_of;
use std::time::Duration;

use super::types::unspecified_storage;
use super::{c_str, ffi_fn, CResult, Failure};
use crate::discover::{Found, Search};
use crate::sys::mreq::sockaddr_storage;
use crate::{Group, IfaceSpec};

/// `MCAST_DISCOVER_ALL`: keep widening after a ring that brought answers.
pub const MCAST_DISCOVER_ALL: c_int = 1;

/// The size of the first version of `struct mcast_found`: the least `size` a caller may pass. Later versions
/// only append fields.
const FIRST_SIZE: usize = size_of::<McastFound>();

/// `struct mcast_found`: one responder `mcast_discover` found.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct McastFound {
    /// The responder's name, NUL-terminated.
    pub name: [c_char; 256],
    /// The address it answers for (its interface's), port 0; `AF_UNSPEC` when it did not say.
    pub addr: libc::sockaddr_storage,
    /// Where the answer came from.
    pub from: libc::sockaddr_storage,
    /// The TTL or hop limit of the first query it answered.
    pub ring: c_uint,
    /// Routers between it and this host; -1 when unknown.
    pub distance: c_int,
    /// From sending that query to the answer's arrival, in nanoseconds.
    pub rtt_ns: u64,
}

impl From<&Found> for McastFound {
    fn from(f: &Found) -> Self {
        let mut name = [0 as c_char; 256];
        // At most 255 bytes (proto::MAX_NAME), so the last stays the terminating NUL.
        for (d, &s) in name.iter_mut().take(255).zip(f.name.as_bytes()) {
            *d = s as c_char;
        }
        let addr = match f.addr {
            Some(ip) => sockaddr_storage(&std::net::SocketAddr::new(ip, 0)),
            None => unspecified_storage(),
        };
        McastFound {
            name,
            addr,
            from: sockaddr_storage(&f.from),
            ring: c_uint::from(f.ring),
            distance: f.distance.map_or(-1, c_int::from),
            rtt_ns: u64::try_from(f.rtt.as_nanos()).unwrap_or(u64::MAX),
        }
    }
}

/// The search as the arguments ask for it, checked before anything is sent.
fn search(group: &str, iface: Option<&str>, max_ttl: c_int, wait_ms: c_int, flags: c_int) -> CResult<Search> {
    let group = Group::parse_with_port(group)?;
    let max = match max_ttl {
        -1 => 32,
        0..=255 => max_ttl as u8,
        _ => return Err(Failure::invalid(format!("max_ttl {max_ttl}: give 0..=255, or -1 for 32"))),
    };
    let wait = match wait_ms {
        0 => Duration::from_millis(500),
        1.. => Duration::from_millis(wait_ms as u64),
        _ => return Err(Failure::invalid(format!("wait_ms {wait_ms}: give milliseconds, or 0 for 500"))),
    };
    if flags & !MCAST_DISCOVER_ALL != 0 {
        return Err(Failure::invalid(format!("flags {flags:#x}: only MCAST_DISCOVER_ALL is defined")));
    }
    let mut b = Search::builder(group).max_ring(max).wait(wait).all(flags & MCAST_DISCOVER_ALL != 0);
    if let Some(text) = iface {
        b = b.interface(text.parse::<IfaceSpec>()?.resolve()?);
    }
    Ok(b.build()?)
}

/// Checks the array before the search: `cap` entries `size` bytes apart.
fn check_array(found: *mut McastFound, cap: usize, size: usize) -> CResult<()> {
    if size < FIRST_SIZE {
        return Err(Failure::invalid(format!("size {size}: pass sizeof(struct mcast_found), at least {FIRST_SIZE}")));
    }
    if found.is_null() && cap > 0 {
        return Err(Failure::invalid("found is NULL"));
    }
    if cap.checked_mul(size).map_or(true, |n| n > isize::MAX as usize) {
        return Err(Failure::invalid(format!("{cap} entries of {size} bytes are too many")));
    }
    Ok(())
}

ffi_fn! {
    /// `mcast_discover`: sends discover queries to `group_port` with TTL 0, 1, 2, 4 ... up to `max_ttl`,
    /// waiting `wait_ms` after each, and writes the first `cap` responders found into `found` (entries `size`
    /// bytes apart); returns how many were found, which may be more than `cap`.
    fn mcast_discover(
        group_port: *const c_char,
        iface: *const c_char,
        max_ttl: c_int,
        wait_ms: c_int,
        flags: c_int,
        found: *mut McastFound,
        cap: usize,
        size: usize,
    ) -> c_int, on failure -1, mcast_discover in "@@MCAST_0.2"; {
        let group = c_str!(group_port);
        let iface = if iface.is_null() { None } else { Some(c_str!(iface)) };
        check_array(found, cap, size)?;
        let report = search(group, iface, max_ttl, wait_ms, flags)?.run()?;
        for (i, f) in report.found.iter().take(cap).enumerate() {
            let entry = McastFound::from(f);
            // A caller built against an older, shorter struct gets the fields it knows.
            let len = size.min(size_of::<McastFound>());
            // SAFETY: check_array made cap * size fit isize and found non-NULL when cap > 0, and the contract
            // makes found writable for cap * size bytes; i < cap and len <= size, so bytes i * size ..
            // i * size + len are inside it. Bytes are copied, so the entry's alignment does not matter, and
            // the source is a local value (len <= its size) that does not overlap the caller's array.
            unsafe {
                let dst = found.cast::<u8>().add(i * size);
                std::ptr::copy_nonoverlapping((&entry as *const McastFound).cast::<u8>(), dst, len);
            }
        }
        Ok(c_int::try_from(report.found.len()).unwrap_or(c_int::MAX))
    }
}
