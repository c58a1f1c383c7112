//! Which tests run without root, decided here and nowhere else.
//!
//! A test that builds network namespaces ([`Netns`](super::Netns), veth pairs, routers, raw-socket peers)
//! needs root. It starts with [`needs_root!`](crate::needs_root), which ends it early, as skipped, only when
//! both hold: this process is not root, and `CI` is not `true`. As root, or with `CI=true`, it never skips: a
//! namespace that cannot be made fails the test, so a CI machine that lost its privileges cannot pass by
//! skipping everything. A skipped test still counts as passed in libtest's summary; the line it writes to
//! the terminal (past libtest's capture, like libtest's own lines) says which test and why:
//!
//! ```text
//! receiver_sees_the_senders_ttl: skipped: needs root (network namespaces); run as root or with CI=true to require it
//! ```
//!
//! Tests of the command that need isolation but no network set up (help texts, `info`, bad arguments) run
//! through a [`Sandbox`] instead: an empty network namespace of their own, which an unprivileged user can
//! make with a user namespace, so they run everywhere and an argument wrongly accepted still reaches nothing.

use std::io::Write;
use std::process::Command;

/// What a skipped test writes after its name: the one message format of every skip.
pub fn skip_message(needs: &str) -> String {
    format!("skipped: needs {needs}; run as root or with CI=true to require it")
}

/// Whether this process is root (its effective user id is 0), read from `/proc/self/status`. When that
/// cannot be read, it answers yes: a test is never skipped on a guess.
pub fn is_root() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return true };
    // "Uid:\treal\teffective\tsaved\tfilesystem"
    let effective = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|ids| ids.split_whitespace().nth(1));
    effective.map_or(true, |uid| uid == "0")
}

/// Whether tests that cannot have what they need must fail rather than skip: as root, or with `CI=true`.
pub fn required() -> bool {
    is_root() || std::env::var("CI").as_deref() == Ok("true")
}

/// Whether the calling test must end now as skipped for want of `needs` (see the module's doc); when it must,
/// says so on the terminal, naming the test.
pub fn skip(needs: &str) -> bool {
    if required() {
        return false;
    }
    let current = std::thread::current();
    let name = current.name().filter(|n| *n != "main").unwrap_or("this test");
    // Straight to the terminal: libtest captures `eprintln!` of a passing test and would hide the reason.
    let _ = writeln!(std::io::stderr(), "{name}: {}", skip_message(needs));
    true
}

/// Ends the calling test here, as skipped, when it needs root and cannot have it (see [`skip`]); as root or
/// with `CI=true` it does nothing, and the test fails if its namespace cannot be made.
#[macro_export]
macro_rules! needs_root {
    () => {
        if $crate::common::root::skip("root (network namespaces)") {
            return;
        }
    };
}

/// A network namespace of its own with nothing in it (`lo` down, no routes) for each command it runs:
/// whatever the program tries to send goes nowhere. Root gets it from `unshare --net`; another user from a
/// user namespace as well (`unshare --user --map-root-user --net`), which needs unprivileged user namespaces.
pub struct Sandbox {
    unshare: Vec<&'static str>,
}

impl Sandbox {
    /// A sandbox, once `unshare` has been seen to work. `None` when it cannot, and the test may skip (see
    /// [`skip`]); when it may not, the sandbox is returned all the same and the commands it runs fail, saying
    /// why.
    pub fn new() -> Option<Sandbox> {
        let unshare = if is_root() { vec!["--net"] } else { vec!["--user", "--map-root-user", "--net"] };
        let works = Command::new("unshare").args(&unshare).arg("true").status().is_ok_and(|s| s.success());
        if !works && skip("user namespaces (`unshare --user --net` failed)") {
            return None;
        }
        Some(Sandbox { unshare })
    }

    /// `prog` inside a namespace of its own, killed if still running after a minute (`timeout` exits 124
    /// then, which no test expects), so a command that wrongly accepts its arguments cannot hang the test.
    pub fn command(&self, prog: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("timeout");
        c.args(["--kill-after=5", "60", "unshare"]).args(&self.unshare).arg("--").arg(prog);
        c
    }
}
