//! Errors and the version: `mcast_last_error`, `mcast_strerror`, `mcast_version`.

use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::OnceLock;

use super::{ffi_fn, with_last_error, Failure};

/// Every `errno` below this has its text made once and kept for the life of the process, so what
/// `mcast_strerror` returns stays valid and unchanged, like glibc's `strerror` for a known code.
const KNOWN: usize = 134; // EHWPOISON is 133, the last Linux defines

/// The texts of `0..KNOWN`.
static TEXTS: OnceLock<Vec<CString>> = OnceLock::new();

/// The static text for `errnum`; codes outside Linux's share one "Unknown error" text.
fn static_text(errnum: c_int) -> &'static CStr {
    let texts =
        TEXTS.get_or_init(|| (0..KNOWN as c_int).map(|e| CString::new(describe(e)).unwrap_or_default()).collect());
    match usize::try_from(errnum).ok().and_then(|i| texts.get(i)) {
        Some(text) => text.as_c_str(),
        None => c"Unknown error",
    }
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

    /// `mcast_strerror`: a description of `errnum`; static text, valid for the life of the process.
    fn mcast_strerror(errnum: c_int) -> *const c_char, on failure c"Unknown error".as_ptr(); {
        Ok(static_text(errnum).as_ptr())
    }

    /// `mcast_strerror_r`: `mcast_strerror`'s text copied into `buf[0..len)`, always NUL-terminated when `len` is
    /// not 0; `ERANGE` (with the text cut) when it does not fit.
    fn mcast_strerror_r(errnum: c_int, buf: *mut c_char, len: usize) -> c_int, on failure -1,
        mcast_strerror_r in "@@MCAST_0.2"; {
        // SAFETY: the contract makes buf writable for len bytes.
        let out = unsafe { super::bytes_mut(buf.cast(), len, "buf") }?;
        let text = static_text(errnum).to_bytes();
        let Some(room) = len.checked_sub(1) else {
            return Err(Failure::new(libc::ERANGE, "len is 0: no room even for the terminating NUL"));
        };
        let n = text.len().min(room);
        out[..n].copy_from_slice(&text[..n]);
        out[n] = 0;
        if n < text.len() {
            return Err(Failure::new(libc::ERANGE, format!("the text needs {} bytes, buf has {len}", text.len() + 1)));
        }
        Ok(0)
    }

    /// `mcast_version`: the library's version, e.g. `"0.2.0"`; a static string.
    fn mcast_version() -> *const c_char, on failure c"".as_ptr(); {
        Ok(VERSION.as_ptr().cast())
    }
}
