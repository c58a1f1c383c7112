//! Programs the tests start inside a namespace (smcrouted, iperf, socat, tcpdump, the `mcast` command):
//! output to files in a scratch directory, bounded waits, and a kill when the value is dropped, so a
//! failing test leaves no process behind.

use std::fs::{self, File};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::Netns;

static SCRATCH: AtomicUsize = AtomicUsize::new(0);

/// How long a peer gets to start, answer or finish: generous, the machine may be loaded.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A directory of its own under the system's temporary directory, removed with everything in it on drop.
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Makes `$TMPDIR/mct-TAG-PID-N`.
    pub fn new(tag: &str) -> Scratch {
        let n = SCRATCH.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("mct-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        Scratch { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside it.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A program running inside a namespace, its standard output and error captured in files.
pub struct Peer {
    /// A name for messages ("iperf server").
    pub name: String,
    child: Child,
    status: Option<ExitStatus>,
    out: PathBuf,
    err: PathBuf,
}

impl Peer {
    /// Starts `prog args...` in `ns` with standard input closed; output goes to `dir/NAME.out` and `.err`.
    pub fn start(ns: &Netns, dir: &Scratch, name: &str, prog: &str, args: &[&str]) -> Peer {
        Self::start_with_input(ns, dir, name, prog, args, None)
    }

    /// As [`Peer::start`], with `input` written to standard input, which is then closed.
    pub fn start_with_input(
        ns: &Netns,
        dir: &Scratch,
        name: &str,
        prog: &str,
        args: &[&str],
        input: Option<&[u8]>,
    ) -> Peer {
        let stem: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let out = dir.file(&format!("{stem}.out"));
        let err = dir.file(&format!("{stem}.err"));
        let file = |p: &Path| File::create(p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()));
        let mut cmd = ns.command(prog);
        cmd.args(args)
            .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(file(&out))
            .stderr(file(&err));
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{name}: cannot start {prog} (is it installed?): {e}"));
        if let Some(bytes) = input {
            let mut stdin = child.stdin.take().expect("piped stdin");
            let written = stdin.write_all(bytes);
            drop(stdin);
            if let Err(e) = written {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{name}: writing its standard input: {e}");
            }
        }
        Peer { name: name.to_string(), child, status: None, out, err }
    }

    /// The process id (that of the program itself: `ip netns exec` replaces itself with it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it has written to standard output so far.
    pub fn stdout(&self) -> Vec<u8> {
        fs::read(&self.out).unwrap_or_default()
    }

    /// Standard output as text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout()).into_owned()
    }

    /// What it has written to standard error so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.err).unwrap_or_default()).into_owned()
    }

    /// Both outputs, for a failure message.
    pub fn report(&self) -> String {
        format!("{} stdout:\n{}\n{} stderr:\n{}", self.name, self.stdout_text(), self.name, self.stderr())
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.poll().is_none()
    }

    fn poll(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().unwrap_or_else(|e| panic!("{}: wait: {e}", self.name));
        }
        self.status
    }

    /// Waits until `ready` holds for (stdout, stderr), for at most [`PATIENCE`]; fails the test with both
    /// outputs if it does not, or if the program ends first.
    pub fn wait_for(&mut self, what: &str, ready: impl Fn(&str, &str) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if ready(&self.stdout_text(), &self.stderr()) {
                return;
            }
            if let Some(status) = self.poll() {
                if ready(&self.stdout_text(), &self.stderr()) {
                    return;
                }
                panic!("{}: ended ({status}) before {what}\n{}", self.name, self.report());
            }
            if Instant::now() > deadline {
                panic!("{}: no {what} within {PATIENCE:?}\n{}", self.name, self.report());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until standard output holds at least `len` bytes (raw: it may not be text).
    pub fn wait_stdout_len(&mut self, len: usize) {
        let out = self.out.clone();
        self.wait_for(&format!("{len} bytes on standard output"), move |_, _| {
            fs::metadata(&out).map(|m| m.len() >= len as u64).unwrap_or(false)
        });
    }

    /// Waits until standard error contains `needle`.
    pub fn wait_stderr(&mut self, needle: &str) {
        self.wait_for(&format!("{needle:?} on standard error"), |_, err| err.contains(needle));
    }

    /// Waits for the program to end by itself, for at most [`PATIENCE`]; kills it and fails the test if not.
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.poll() {
                return status;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!("{}: still running after {PATIENCE:?}\n{}", self.name, self.report());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` (a name for kill(1): INT, TERM) and waits up to [`PATIENCE`] for the end, then kills.
    pub fn stop(&mut self, signal: &str) -> ExitStatus {
        if let Some(status) = self.poll() {
            return status;
        }
        let _ = Command::new("kill").args(["-s", signal, &self.pid().to_string()]).output();
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.poll() {
                return status;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!("{}: did not end within {PATIENCE:?} of SIG{signal}\n{}", self.name, self.report());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, up to five seconds to end, then SIGKILL; never fails (for `Drop`, also while a test panics).
    pub fn terminate(&mut self) {
        if self.poll().is_some() {
            return;
        }
        let _ = Command::new("kill").args(["-s", "TERM", &self.pid().to_string()]).output();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.status = Some(status);
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(_) => break,
            }
        }
        self.kill();
    }

    /// SIGKILL, if it is still running, and reap it; never fails.
    pub fn kill(&mut self) {
        if self.status.is_some() {
            return;
        }
        if let Ok(Some(status)) = self.child.try_wait() {
            self.status = Some(status);
            return;
        }
        let _ = self.child.kill();
        self.status = self.child.wait().ok();
    }
}

/// Waits until some socket in `ns` is bound to UDP `port` and `dev` is a member of `group`: a receiver
/// that says nothing when it is ready (iperf, socat) is ready then. The join can come before the bind,
/// so both are checked. Fails the test, with `peer`'s output, after [`PATIENCE`].
pub fn wait_joined(ns: &Netns, peer: &mut Peer, dev: &str, group: IpAddr, port: u16) {
    let suffix = format!(":{port:04X}");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (table, joined) = match group {
            IpAddr::V4(g) => ("udp", ns.igmp_users(dev, g) > 0),
            IpAddr::V6(g) => ("udp6", ns.igmp6_users(dev, g) > 0),
        };
        // /proc/net/udp: "sl local_address rem_address st ...", the local address as HEX:PORT.
        let bound = ns
            .proc_net(table)
            .lines()
            .skip(1)
            .any(|l| l.split_whitespace().nth(1).is_some_and(|a| a.ends_with(&suffix)));
        if joined && bound {
            return;
        }
        if !peer.running() {
            panic!("{}: ended before joining {group} on {dev}\n{}", peer.name, peer.report());
        }
        if Instant::now() > deadline {
            panic!(
                "{}: not joined to {group} on {dev} and bound to {port} within {PATIENCE:?}\n{}",
                peer.name,
                peer.report()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
    }
}
