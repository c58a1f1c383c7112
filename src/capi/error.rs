//! Errors and the version: `mcast_last_error`, `mcast_strerror`, `mcast_version`.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};

use super::{ffi_fn, with_last_error};

thread_local! {
    /// The text `mcast_strerror` returned last on this thread.
    static STRERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// What an `errno` usually means for a multicast program, beyond strerror's words.
fn hint(errnum: c_int) -> Option<&'static str> {
    Some(match errnum {
        libc::ENODEV => "no such interface, or one that cannot do multicast",
        libc::EADDRNOTAVAIL => {
            "a group joined twice or left without a join, or an interface address this host does not have"
        }
        libc::EADDRINUSE => "another socket has the port: every receiver sharing it needs SO_REUSEADDR",
        libc::ENOBUFS => "too many memberships on this socket (net.ipv4.igmp_max_memberships)",
        libc::ENETUNREACH => "no route to the group: name the interface or add a 224.0.0.0/4 route",
        libc::EPERM | libc::EACCES => "raw sockets and SO_RCVBUFFORCE need CAP_NET_RAW or CAP_NET_ADMIN",
        libc::EAFNOSUPPORT => "the address family does not match the socket's",
        _ => return None,
    })
}

/// strerror's text for `errnum` (without Rust's "(os error N)"), with the multicast hint when there is one.
pub(crate) fn describe(errnum: c_int) -> String {
    let text = std::io::Error::from_raw_os_error(errnum).to_string();
    let text = match text.rfind(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    match hint(errnum) {
        Some(h) => format!("{text} ({h})"),
        None => text,
    }
}

static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

ffi_fn! {
    /// `mcast_last_error`: the message of the last call that failed on this thread; `""` if none did.
    fn mcast_last_error() -> *const c_char, on failure c"".as_ptr(); {
        Ok(with_last_error(|s| s.as_ptr()).unwrap_or(c"".as_ptr()))
    }

    /// `mcast_strerror`: a description of `errnum`, valid until the next `mcast_strerror` on this thread.
    fn mcast_strerror(errnum: c_int) -> *const c_char, on failure c"unknown error".as_ptr(); {
        let text = CString::new(describe(errnum)).unwrap_or_default();
        let ptr = STRERROR
            .try_with(|slot| {
                slot.try_borrow_mut().ok().map(|mut slot| {
                    *slot = text;
                    slot.as_ptr()
                })
            })
            .ok()
            .flatten();
        Ok(ptr.unwrap_or(c"unknown error".as_ptr()))
    }

    /// `mcast_version`: the library's version, e.g. `"0.1.0"`; a static string.
    fn mcast_version() -> *const c_char, on failure c"".as_ptr(); {
        Ok(VERSION.as_ptr().cast())
    }
}
