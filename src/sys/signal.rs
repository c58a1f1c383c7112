//! Ctrl-C as a flag: a command that receives or sends until interrupted catches `SIGINT`/`SIGTERM`, stops
//! its loop when [`interrupted`] turns true, and still prints its summary.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use super::cvt;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_signal: libc::c_int) {
    // An atomic store is async-signal-safe; nothing else happens in the handler.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Installs the handler for `SIGINT` and `SIGTERM`. Without `SA_RESTART`, a blocking `poll` returns early
/// (`EINTR`), so a waiting receiver notices at once. `SA_RESETHAND` restores the default after the first
/// signal: a second Ctrl-C ends the process the usual way if the loop does not stop.
pub fn catch_interrupts() -> io::Result<()> {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: sigaction is a plain C struct for which all-zero bytes are a valid value (no flags, empty
        // mask, null handler); every field that matters is set below.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESETHAND;
        // SAFETY: sa_mask is a valid, writable sigset_t owned by `action`.
        cvt(unsafe { libc::sigemptyset(&mut action.sa_mask) })?;
        // SAFETY: `action` is a fully initialised sigaction alive for the call; the handler is an
        // `extern "C" fn(c_int)` that only stores to an atomic; a null old-action pointer is allowed.
        cvt(unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) })?;
    }
    Ok(())
}

/// Whether `SIGINT` or `SIGTERM` arrived since [`catch_interrupts`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
