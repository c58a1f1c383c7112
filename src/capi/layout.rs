//! `mcast_abi_layout`: the size, alignment and field offsets of every struct in `ffi/mcast.h`, as Rust lays them
//! out. The C suite compares each line with `sizeof`/`offsetof` of the header's definition, and the line count
//! with its own, so a field added, removed, resized or moved on one side alone fails the build's tests.
//! `mcast_opts_0_1` and `mcast_rxinfo_0_1` are 0.1's layouts of the two structs that grew, which the 0.1 entry
//! points still take: a program built against 0.1's header checks its structs against those lines.

use std::ffi::c_char;
use std::mem::{align_of, offset_of, size_of};

use super::discover::McastFound;
use super::multi::McastMultiStat;
use super::types::{AbiEntry, McastIface, McastOpts, McastOpts01, McastRxinfo, McastRxinfo01};
use super::{ffi_fn, Out};

/// The table, with the raw pointers (to static strings) that C reads.
struct Table(&'static [AbiEntry]);

// SAFETY: the table is immutable and its pointers point at static, immutable strings, so sharing it between
// threads is sound.
unsafe impl Sync for Table {}

macro_rules! layout {
    ($($ty:ident as $cname:literal { $($field:ident $(as $cfield:literal)?: $fty:ty),* $(,)? })*) => {
        Table(&[$(
            AbiEntry {
                type_name: concat!($cname, "\0").as_ptr() as *const c_char,
                field: std::ptr::null(),
                offset: 0,
                size: size_of::<$ty>(),
                align: align_of::<$ty>(),
            },
            $(AbiEntry {
                type_name: concat!($cname, "\0").as_ptr() as *const c_char,
                field: layout!(@name $field $($cfield)?),
                offset: offset_of!($ty, $field),
                size: size_of::<$fty>(),
                align: align_of::<$fty>(),
            },)*
        )*])
    };
    (@name $field:ident) => { concat!(stringify!($field), "\0").as_ptr() as *const c_char };
    (@name $field:ident $cfield:literal) => { concat!($cfield, "\0").as_ptr() as *const c_char };
}

static LAYOUT: Table = layout! {
    McastOpts as "mcast_opts" {
        size: usize,
        ttl: std::ffi::c_int,
        loop_ as "loop": std::ffi::c_int,
        iface: *const c_char,
        source: *const c_char,
        reuse: std::ffi::c_int,
        nonblock: std::ffi::c_int,
        rcvbuf: std::ffi::c_uint,
    }
    McastRxinfo as "mcast_rxinfo" {
        size: usize,
        source: libc::sockaddr_storage,
        group: libc::sockaddr_storage,
        len: usize,
        full_len: usize,
        ifindex: std::ffi::c_uint,
        ttl: std::ffi::c_int,
        truncated: std::ffi::c_int,
        drops: u32,
    }
    McastOpts01 as "mcast_opts_0_1" {
        ttl: std::ffi::c_int,
        loop_ as "loop": std::ffi::c_int,
        iface: *const c_char,
        source: *const c_char,
        reuse: std::ffi::c_int,
        nonblock: std::ffi::c_int,
        rcvbuf: std::ffi::c_uint,
    }
    McastRxinfo01 as "mcast_rxinfo_0_1" {
        source: libc::sockaddr_storage,
        group: libc::sockaddr_storage,
        len: usize,
        full_len: usize,
        ifindex: std::ffi::c_uint,
        ttl: std::ffi::c_int,
        truncated: std::ffi::c_int,
        drops: u32,
    }
    McastIface as "mcast_iface" {
        name: [c_char; libc::IFNAMSIZ],
        index: std::ffi::c_uint,
        flags: std::ffi::c_uint,
        mtu: std::ffi::c_uint,
        n_ipv4: usize,
        ipv4: *const libc::in_addr,
        n_ipv6: usize,
        ipv6: *const libc::in6_addr,
    }
    McastMultiStat as "mcast_multi_stat" {
        group: libc::sockaddr_storage,
        source: libc::sockaddr_storage,
        ifindex: std::ffi::c_uint,
        fd: std::ffi::c_int,
        datagrams: u64,
        bytes: u64,
        truncated: u64,
    }
    McastFound as "mcast_found" {
        name: [c_char; 256],
        addr: libc::sockaddr_storage,
        from: libc::sockaddr_storage,
        ring: std::ffi::c_uint,
        distance: std::ffi::c_int,
        rtt_ns: u64,
    }
    AbiEntry as "mcast_abi_entry" {
        type_name as "type": *const c_char,
        field: *const c_char,
        offset: usize,
        size: usize,
        align: usize,
    }
};

/// The table as Rust sees it, for the unit tests.
#[cfg(test)]
pub(crate) fn entries() -> &'static [AbiEntry] {
    LAYOUT.0
}

ffi_fn! {
    /// `mcast_abi_layout`: the layout table and its length. Never fails.
    fn mcast_abi_layout(count: *mut usize) -> *const AbiEntry, on failure std::ptr::null(); {
        // SAFETY: the contract makes count NULL or writable.
        if let Some(out) = unsafe { Out::new(count) } {
            out.write(LAYOUT.0.len());
        }
        Ok(LAYOUT.0.as_ptr())
    }
}
