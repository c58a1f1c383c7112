//! The C ABI: `extern "C"` functions over the safe API, declared for C in `ffi/mcast.h`.
//!
//! The layer converts and checks C arguments, calls the safe API, and reports the outcome the C way: `0` or a
//! count on success, `-1` with `errno` on failure, with the whole message kept for [`error::mcast_last_error`].
//! It adds no behaviour of its own. The rules, as in rustls-ffi and regex's rure:
//!
//! - every function body runs inside [`boundary`], which catches panics (they become `-1`/`EIO`), sets `errno`
//!   from [`crate::Error::errno`] and records the message, so no panic ever unwinds into C;
//! - pointer arguments go through [`c_str!`], [`c_ref!`] and [`c_out!`] first: a NULL is `-1`/`EINVAL`;
//! - output parameters are written only once the call has succeeded;
//! - descriptors belong to the caller: [`borrow`] lends one to the safe API for the duration of a call, wrapped
//!   in `ManuallyDrop` so that only `mcast_close` ever closes it;
//! - memory handed to C is freed only by the matching `mcast_*_free`, and `mcast_*_free(NULL)` does nothing.

use std::cell::RefCell;
use std::ffi::{c_int, CString};
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};
use std::panic::{self, AssertUnwindSafe};

use crate::socket::McastSocket;

pub mod compat;
pub mod discover;
pub mod endpoint;
pub mod error;
pub mod filter;
pub mod gso;
pub mod iface;
pub mod io;
pub mod layout;
pub mod multi;
pub mod raw;
pub mod socket;
pub mod types;

#[cfg(test)]
mod tests;

/// Why a C call failed: the `errno` it reports and the message `mcast_last_error` returns.
#[derive(Debug)]
pub struct Failure {
    pub(crate) errno: c_int,
    pub(crate) message: String,
}

/// The result of a C function's body.
pub type CResult<T> = Result<T, Failure>;

impl Failure {
    /// A failure with this `errno`.
    pub fn new(errno: c_int, message: impl Into<String>) -> Self {
        Failure { errno, message: message.into() }
    }

    /// An invalid argument (`EINVAL`).
    pub fn invalid(message: impl Into<String>) -> Self {
        Failure::new(libc::EINVAL, message)
    }
}

impl From<crate::Error> for Failure {
    fn from(e: crate::Error) -> Self {
        // `{:#}`: what failed and why (the kernel's words), in one line.
        Failure { errno: e.errno(), message: format!("{e:#}") }
    }
}

thread_local! {
    /// The message of the last failed call on this thread, NUL-terminated for C.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Stores `message` as this thread's last error. Never panics: an inner NUL is replaced, and a thread that is
/// being torn down (its thread-locals gone) simply keeps no message.
fn record(message: String) {
    let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = text;
        }
    });
}

/// Calls `f` with this thread's last error message.
pub(crate) fn with_last_error<R>(f: impl FnOnce(&CString) -> R) -> Option<R> {
    LAST_ERROR.try_with(|slot| slot.try_borrow().ok().map(|s| f(&s))).ok().flatten()
}

fn set_errno(value: c_int) {
    // SAFETY: __errno_location returns a valid pointer to this thread's errno, writable for its lifetime.
    unsafe { *libc::__errno_location() = value };
}

/// Runs the body of the C function `name`: a success is returned as it is; a failure records its message,
/// sets `errno` and returns `fail`; a panic is caught and reported as `EIO`, so it never reaches C.
///
/// `errno` is set last, after everything that could allocate or write, so nothing can clobber it.
pub fn boundary<T>(name: &str, fail: T, body: impl FnOnce() -> CResult<T>) -> T {
    let failure = match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => return value,
        Ok(Err(f)) => f,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown cause".into());
            // The payload may itself panic when dropped; keep that inside the boundary too.
            let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)));
            Failure::new(libc::EIO, format!("internal error (panic caught at the C boundary): {what}"))
        }
    };
    let Failure { errno, message } = failure;
    let _ = panic::catch_unwind(AssertUnwindSafe(|| record(format!("{name}: {message}"))));
    set_errno(errno);
    fail
}

/// Declares C functions: each becomes `pub unsafe extern "C"`, its body runs inside [`boundary`] with its C name
/// for the error message, and its documentation gains the `# Safety` section every one of them shares.
///
/// Each function is exported under a versioned name, so that every symbol of `libmcast.so` carries the version
/// it came in (`ffi/libmcast.map` declares the nodes): by default `name@@MCAST_0.1`; a function added later says
/// so (`, mcast_set_all in "@@MCAST_0.2"`), and the 0.1 form of a function whose arguments changed since keeps
/// its old entry point under a Rust name of its own (`fn mcast_sender_0_1 ..., mcast_sender in "@MCAST_0.1"`).
/// Programs linked against 0.1, whose references carry no version, bind to the `MCAST_0.1` definitions.
macro_rules! ffi_fn {
    ($(
        $(#[$doc:meta])*
        fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty, on failure $fail:expr
            $(, $cname:ident in $ver:literal)?; $body:block
    )*) => {$(
        $(#[$doc])*
        ///
        /// # Safety
        /// Every pointer argument is NULL or valid as `ffi/mcast.h` describes for this function: strings
        /// NUL-terminated, buffers readable or writable for the lengths given, and nothing else writing to
        /// them during the call.
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> $ret {
            $crate::capi::boundary($crate::capi::ffi_fn!(@cname $name $($cname)?), $fail, move || -> $crate::capi::CResult<$ret> { $body })
        }
        $crate::capi::ffi_fn!(@export $name $(, $cname, $ver)?);
    )*};
    (@cname $name:ident) => { stringify!($name) };
    (@cname $name:ident $cname:ident) => { stringify!($cname) };
    (@export $name:ident) => { $crate::capi::ffi_fn!(@export $name, $name, "@@MCAST_0.1"); };
    (@export $name:ident, $cname:ident, $ver:literal) => {
        // The symbol is defined in this module's object, where `.symver` must see it; `.globl` keeps it global
        // so that the versioned alias is exported (the Rust name itself is then hidden by rustc's own script).
        std::arch::global_asm!(concat!(".globl {0}\n.symver {0}, ", stringify!($cname), $ver), sym $name);
        const _: () = {
            // Nothing in Rust calls the function in a release build: keep it from being discarded.
            #[used]
            static KEEP: $crate::capi::Keep = $crate::capi::Keep($name as *const ());
        };
    };
}
pub(crate) use ffi_fn;

/// A function kept in the library only for its exported alias (see [`ffi_fn!`]).
#[allow(dead_code)] // never read: holding the address is the point
pub struct Keep(pub *const ());

// SAFETY: the pointer is a function's address, never dereferenced, and immutable.
unsafe impl Sync for Keep {}

/// `c_str!(ptr)`: a C string argument as `&str`; NULL or text that is not UTF-8 is `EINVAL`, naming the
/// argument.
macro_rules! c_str {
    ($ptr:expr) => {{
        let ptr: *const std::ffi::c_char = $ptr;
        if ptr.is_null() {
            return Err($crate::capi::Failure::invalid(concat!(stringify!($ptr), " is NULL")));
        }
        // SAFETY: not NULL, and the function's contract (its `# Safety`) makes it a NUL-terminated string
        // that stays valid and unchanged for the call.
        let text = unsafe { std::ffi::CStr::from_ptr(ptr) };
        text.to_str().map_err(|_| $crate::capi::Failure::invalid(concat!(stringify!($ptr), " is not UTF-8 text")))?
    }};
}
pub(crate) use c_str;

/// `c_ref!(ptr)`: a pointer argument read as `&T`; NULL is `EINVAL`, naming the argument.
macro_rules! c_ref {
    ($ptr:expr) => {{
        let ptr = $ptr;
        if ptr.is_null() {
            return Err($crate::capi::Failure::invalid(concat!(stringify!($ptr), " is NULL")));
        }
        // SAFETY: not NULL, and the function's contract makes it point at a valid, aligned value that nothing
        // writes during the call.
        unsafe { &*ptr }
    }};
}
pub(crate) use c_ref;

/// `c_out!(ptr)`: an output parameter, checked for NULL (`EINVAL`) before the call does anything, and written
/// only at the end with [`Out::write`].
macro_rules! c_out {
    ($ptr:expr) => {{
        // SAFETY: the function's contract makes the pointer NULL or valid, aligned and writable for the call.
        match unsafe { $crate::capi::Out::new($ptr) } {
            Some(out) => out,
            None => return Err($crate::capi::Failure::invalid(concat!(stringify!($ptr), " is NULL"))),
        }
    }};
}
pub(crate) use c_out;

/// A non-NULL output parameter, written at most once, when the call has succeeded.
pub struct Out<T>(*mut T);

impl<T> Out<T> {
    /// `None` for NULL, which optional outputs ignore and required ones refuse.
    ///
    /// # Safety
    /// `ptr` is NULL or valid, aligned and writable for a `T` for the rest of the C call.
    pub unsafe fn new(ptr: *mut T) -> Option<Self> {
        if ptr.is_null() {
            None
        } else {
            Some(Out(ptr))
        }
    }

    /// Writes the result.
    pub fn write(self, value: T) {
        // SAFETY: `new` checked the pointer is not NULL, and its contract makes it valid, aligned and writable
        // for a `T`. `write` neither reads nor drops the old (possibly uninitialised) value.
        unsafe { self.0.write(value) }
    }
}

/// A caller's descriptor, lent to the safe API for one call. It is never closed here: the `McastSocket` sits in
/// `ManuallyDrop` and is forgotten at the end.
pub struct Borrowed(ManuallyDrop<McastSocket>);

impl Deref for Borrowed {
    type Target = McastSocket;
    fn deref(&self) -> &McastSocket {
        &self.0
    }
}

/// Lends `fd` to the safe API after checking it is an IPv4/IPv6 datagram or raw socket. A negative number is
/// `EBADF`; a closed descriptor fails the check with `EBADF`, another kind of socket with `EAFNOSUPPORT`.
pub fn borrow(fd: c_int) -> CResult<Borrowed> {
    if fd < 0 {
        return Err(not_a_descriptor(fd));
    }
    // SAFETY: fd is not -1, borrow_raw's one hard requirement. The number is only passed to system calls for
    // the duration of this call; if the caller gave a closed or foreign number those calls fail with EBADF or
    // ENOTSOCK, and no memory is reached through it.
    let family = McastSocket::family_of(unsafe { BorrowedFd::borrow_raw(fd) })?;
    // SAFETY: as above; the OwnedFd goes straight into ManuallyDrop (nothing between can panic), so it is never
    // dropped and never closes the caller's descriptor.
    let fd = ManuallyDrop::new(unsafe { OwnedFd::from_raw_fd(fd) });
    Ok(Borrowed(ManuallyDrop::new(McastSocket::from_checked(ManuallyDrop::into_inner(fd), family))))
}

#[cold]
fn not_a_descriptor(fd: c_int) -> Failure {
    Failure::new(libc::EBADF, format!("{fd} is not a file descriptor"))
}

/// Lends `fd` to a datagram call without checking what it is: `sendmsg`/`recvmsg` fail by themselves on a closed
/// descriptor (`EBADF`) or one that is not a socket (`ENOTSOCK`), so a check of ours would only cost two more
/// system calls per datagram. A negative number is `EBADF` here, since `BorrowedFd` must not hold -1.
#[inline]
pub fn lend<'a>(fd: c_int) -> CResult<BorrowedFd<'a>> {
    if fd < 0 {
        return Err(not_a_descriptor(fd));
    }
    // SAFETY: fd is not -1, borrow_raw's one hard requirement. The number is only passed to system calls during
    // the C call that lent it; a closed or foreign number makes them fail, and no memory is reached through it.
    Ok(unsafe { BorrowedFd::borrow_raw(fd) })
}

#[cold]
fn bad_buffer(null: bool, len: usize, what: &str) -> Failure {
    if null {
        Failure::invalid(format!("{what} is NULL"))
    } else {
        Failure::invalid(format!("{what} length {len} is too large"))
    }
}

/// A C buffer as a byte slice; NULL is `EINVAL` even for length 0, so a missing buffer is always noticed.
///
/// # Safety
/// `ptr` is NULL or readable for `len` bytes that nothing writes during the returned slice's life.
#[inline]
pub unsafe fn bytes<'a>(ptr: *const u8, len: usize, what: &str) -> CResult<&'a [u8]> {
    if ptr.is_null() || len > isize::MAX as usize {
        return Err(bad_buffer(ptr.is_null(), len, what));
    }
    // SAFETY: non-NULL, length checked against isize::MAX, readability from this function's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A C buffer as a mutable byte slice; NULL is `EINVAL`.
///
/// # Safety
/// `ptr` is NULL or writable for `len` bytes that nothing else reads or writes during the returned slice's life.
#[inline]
pub unsafe fn bytes_mut<'a>(ptr: *mut u8, len: usize, what: &str) -> CResult<&'a mut [u8]> {
    if ptr.is_null() || len > isize::MAX as usize {
        return Err(bad_buffer(ptr.is_null(), len, what));
    }
    // SAFETY: non-NULL, length checked against isize::MAX, exclusivity from this function's contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}
