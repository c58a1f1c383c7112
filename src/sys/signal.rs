//! Ctrl-C as a flag: a command that receives or sends until interrupted catches `SIGINT`/`SIGTERM`, stops
//! its loop when [`interrupted`] turns true, still prints its summary, and then exits with the status a
//! shell expects of a process the signal ended ([`exit_status`]: 130 for `SIGINT`, 143 for `SIGTERM`).

use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use super::cvt;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_interrupt(signal: libc::c_int) {
    // Atomic stores are async-signal-safe; nothing else happens in the handler.
    SIGNAL.store(signal, Ordering::SeqCst);
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

/// The signal that interrupted, if one did.
pub fn caught() -> Option<libc::c_int> {
    interrupted().then(|| SIGNAL.load(Ordering::SeqCst))
}

/// The exit status for a process that stopped on a signal and ended on its own: 128 + the signal's number
/// (130 for `SIGINT`, 143 for `SIGTERM`), as shells report a process the signal killed; `None` if no signal
/// arrived.
pub fn exit_status() -> Option<i32> {
    caught().map(|s| 128 + s)
}

/// Runs `f` with `SIGINT` and `SIGTERM` held back on the calling thread, so a second Ctrl-C (whose default
/// action ends the process) lands after `f` rather than in the middle of it: a line of output is written
/// whole or not at all. A signal that arrives meanwhile is delivered as soon as `f` returns.
pub fn deferred<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: sigset_t is a plain bit set; all-zero is a valid (empty) value, and sigemptyset initialises it.
    let mut held: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above, for the previous mask that pthread_sigmask writes.
    let mut previous: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: held is a valid, writable sigset_t owned by this frame; the signal numbers are valid.
    let blocked = unsafe {
        libc::sigemptyset(&mut held) == 0
            && libc::sigaddset(&mut held, libc::SIGINT) == 0
            && libc::sigaddset(&mut held, libc::SIGTERM) == 0
            && libc::pthread_sigmask(libc::SIG_BLOCK, &held, &mut previous) == 0
    };
    let out = f();
    if blocked {
        // SAFETY: previous was filled by the successful pthread_sigmask above; restoring it is always valid.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &previous, std::ptr::null_mut()) };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `signal` is in the calling thread's blocked set.
    fn blocked(signal: libc::c_int) -> bool {
        // SAFETY: all-zero is a valid sigset_t; pthread_sigmask with a null new set only reads the current mask
        // into `current`, which is writable and alive for the call.
        unsafe {
            let mut current: libc::sigset_t = std::mem::zeroed();
            assert_eq!(libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut current), 0);
            libc::sigismember(&current, signal) == 1
        }
    }

    #[test]
    fn deferred_holds_the_signals_back_only_meanwhile() {
        assert!(!blocked(libc::SIGINT) && !blocked(libc::SIGTERM));
        assert_eq!(
            deferred(|| (blocked(libc::SIGINT), blocked(libc::SIGTERM), blocked(libc::SIGUSR1))),
            (true, true, false)
        );
        assert!(!blocked(libc::SIGINT) && !blocked(libc::SIGTERM));
    }
}
