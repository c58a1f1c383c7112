//! `mcast_if_list` and `mcast_if_list_free`: the interfaces, as `Interface::list` finds them.

use std::ffi::{c_char, c_int};

use super::types::McastIface;
use super::{c_out, ffi_fn, Out};
use crate::Interface;

/// A boxed slice handed to C as a pointer; NULL when empty, so C never sees a dangling pointer.
fn leak<T>(items: Vec<T>) -> *const T {
    if items.is_empty() {
        std::ptr::null()
    } else {
        Box::into_raw(items.into_boxed_slice()) as *const T
    }
}

/// Frees what [`leak`] gave out.
///
/// # Safety
/// `ptr` and `len` come from one call of [`leak`] (or `ptr` is NULL), and are freed once.
unsafe fn unleak<T>(ptr: *const T, len: usize) {
    if !ptr.is_null() {
        // SAFETY: by the contract, ptr is the start of a boxed slice of exactly len items that nothing else frees.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr.cast_mut(), len)) });
    }
}

fn entry(i: &Interface) -> McastIface {
    let mut name = [0 as c_char; libc::IFNAMSIZ];
    // At most IFNAMSIZ - 1 bytes, so the name stays NUL-terminated (the kernel never makes longer ones).
    for (o, b) in name.iter_mut().zip(i.name.bytes().take(libc::IFNAMSIZ - 1)) {
        *o = b as c_char;
    }
    let ipv4: Vec<libc::in_addr> =
        i.ipv4.iter().map(|a| libc::in_addr { s_addr: u32::from_ne_bytes(a.octets()) }).collect();
    let ipv6: Vec<libc::in6_addr> = i.ipv6.iter().map(|a| libc::in6_addr { s6_addr: a.octets() }).collect();
    McastIface {
        name,
        index: i.index,
        flags: i.flags,
        mtu: i.mtu,
        n_ipv4: ipv4.len(),
        ipv4: leak(ipv4),
        n_ipv6: ipv6.len(),
        ipv6: leak(ipv6),
    }
}

/// The entry that ends the list: index 0, no addresses.
fn end() -> McastIface {
    McastIface {
        name: [0; libc::IFNAMSIZ],
        index: 0,
        flags: 0,
        mtu: 0,
        n_ipv4: 0,
        ipv4: std::ptr::null(),
        n_ipv6: 0,
        ipv6: std::ptr::null(),
    }
}

ffi_fn! {
    /// `mcast_if_list`: every interface, in index order, in an array ended by an entry of index 0. Free it
    /// with `mcast_if_list_free`.
    fn mcast_if_list(list: *mut *mut McastIface, count: *mut usize) -> c_int, on failure -1; {
        let out = c_out!(list);
        let interfaces = Interface::list()?;
        let mut entries: Vec<McastIface> = interfaces.iter().map(entry).collect();
        let n = entries.len();
        entries.push(end());
        // SAFETY: the contract makes count NULL or writable.
        if let Some(out) = unsafe { Out::new(count) } {
            out.write(n);
        }
        out.write(leak(entries).cast_mut());
        Ok(0)
    }

    /// `mcast_if_list_free`: frees a list from `mcast_if_list`, its addresses included. NULL is ignored.
    fn mcast_if_list_free(list: *mut McastIface) -> (), on failure (); {
        if list.is_null() {
            return Ok(());
        }
        let mut len = 0;
        loop {
            // SAFETY: list came from mcast_if_list (the contract), whose array ends with an index-0 entry, so
            // every entry up to and including that one is readable.
            let e = unsafe { &*list.add(len) };
            len += 1;
            if e.index == 0 {
                break;
            }
            // SAFETY: each entry's arrays were made by leak with these lengths and are freed only here.
            unsafe {
                unleak(e.ipv4, e.n_ipv4);
                unleak(e.ipv6, e.n_ipv6);
            }
        }
        // SAFETY: the array itself was made by leak with len entries (the end entry included).
        unsafe { unleak(list.cast_const(), len) };
        Ok(())
    }
}
