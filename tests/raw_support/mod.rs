//! Running `mcast igmp|mld watch|query` inside a test's namespaces and reading its JSON lines as they come.
//!
//! A [`Watch`] is a running watcher: [`Watch::start`] returns once it has said on standard error that it is
//! watching (so nothing is sent before it listens); [`Watch::wait_for`] waits for the line a test expects;
//! [`Watch::stop`] interrupts it (SIGINT) and returns every line and the summary. Dropping a `Watch` kills it,
//! so a failing test leaves nothing running. [`Watch::start_keeping`] keeps only the lines a test needs and counts
//! the others, for floods of a hundred thousand lines; [`memory`] reads the watcher's resident memory.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

// Not every test crate that includes this module uses all three.
use crate::common::cli::spawn;
#[allow(unused_imports)]
pub use crate::common::cli::{mcast, of_type, MCAST as BIN};
use crate::common::Netns;

/// How long a test waits for a line that must come: generous, for a busy two-core machine.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The IPv4 address of host `a` on the link of `common::traffic::Link`.
pub const A4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

/// A running `mcast ... watch --json`.
pub struct Watch {
    child: Child,
    lines: mpsc::Receiver<Value>,
    stderr: mpsc::Receiver<String>,
    /// Every object read so far, in order.
    pub seen: Vec<Value>,
    /// The objects not kept, by type.
    dropped: Arc<Mutex<BTreeMap<String, u64>>>,
}

/// Runs `mcast ARGS` in `ns` to its end.
pub fn run(ns: &Netns, args: &[&str]) -> Output {
    let out = mcast(ns, args).stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    out
}

/// The JSON objects of a finished command's standard output.
pub fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Whether an object is a `kind` line ("join", "leave", ...) about `group`: what [`Watch::wait_for`] waits for.
pub fn is(kind: &'static str, group: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["type"] == kind && v["group"] == group
}

/// The answers to a query that name `group`.
pub fn answers_for<'a>(objects: &'a [Value], group: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["type"] == "answer" && o["group"] == group).collect()
}

impl Watch {
    /// Starts `mcast ARGS` (which must include `--json`) in `ns` and waits for its "watching" line.
    pub fn start(ns: &Netns, args: &[&str]) -> Watch {
        Watch::start_keeping(ns, args, |_| true)
    }

    /// As [`Watch::start`], but keeps (for [`Watch::wait_for`] and [`Watch::stop`]) only the objects `keep`
    /// accepts; the others are counted by type ([`Watch::dropped`]), in the order they come.
    pub fn start_keeping(ns: &Netns, args: &[&str], keep: fn(&Value) -> bool) -> Watch {
        Watch::start_saying(ns, args, keep, ": watching ")
    }

    /// As [`Watch::start_keeping`], for any command that says `said` on standard error once it listens (a
    /// querier: " sent on ").
    pub fn start_saying(ns: &Netns, args: &[&str], keep: fn(&Value) -> bool, said: &str) -> Watch {
        let mut child = spawn(ns, args, Stdio::null());
        let (out_tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let dropped = Arc::new(Mutex::new(BTreeMap::new()));
        let counts = dropped.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let v: Value =
                    serde_json::from_str(&line).unwrap_or_else(|e| Value::String(format!("not JSON ({e}): {line}")));
                if !keep(&v) {
                    let kind = v["type"].as_str().unwrap_or("?").to_string();
                    *counts.lock().unwrap().entry(kind).or_insert(0) += 1;
                    continue;
                }
                if out_tx.send(v).is_err() {
                    break;
                }
            }
        });
        let (err_tx, stderr) = mpsc::channel();
        let err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if err_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let w = Watch { child, lines, stderr, seen: vec![], dropped };
        match w.stderr.recv_timeout(PATIENCE) {
            Ok(line) if line.contains(said) => w,
            Ok(line) => panic!("mcast {args:?} said {line:?} instead of {said:?}"),
            Err(_) => panic!("mcast {args:?} did not say {said:?} within {PATIENCE:?}"),
        }
    }

    /// Waits for the first object (after those already returned by `wait_for`) that `pred` accepts, failing the
    /// test after [`PATIENCE`] with everything seen.
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Err(_) => panic!("no {what} within {PATIENCE:?}; seen: {:#?}", self.seen),
            }
        }
    }

    /// How many objects of `kind` were not kept, up to the last one read (so, after [`Watch::wait_for`] returns,
    /// every one printed before the object it returned).
    pub fn dropped(&self, kind: &str) -> u64 {
        self.dropped.lock().unwrap().get(kind).copied().unwrap_or(0)
    }

    /// [`Watch::dropped`] that outlives the watch, to read after [`Watch::stop`].
    pub fn dropped_counter(&self) -> impl Fn(&str) -> u64 {
        let dropped = self.dropped.clone();
        move |kind| dropped.lock().unwrap().get(kind).copied().unwrap_or(0)
    }

    /// The watcher's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Interrupts the watcher (SIGINT), waits for it to end, and returns its exit code, every object it printed
    /// (those already seen included) and its standard error.
    pub fn stop(mut self) -> (Option<i32>, Vec<Value>, Vec<String>) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-INT", &pid]).status().expect("run kill");
        assert!(killed.success(), "kill -INT {pid}");
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "the watcher did not end within {PATIENCE:?} of SIGINT");
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader threads end at end of file; collect what is left.
        while let Ok(v) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(v);
        }
        let err: Vec<String> = self.stderr.try_iter().collect();
        (status.code(), std::mem::take(&mut self.seen), err)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process's resident memory now and at its peak, in bytes (`VmRSS`, `VmHWM` of /proc/PID/status).
pub fn memory(pid: u32) -> (u64, u64) {
    let field =
        |name: &str| crate::common::status_kib(pid, name).unwrap_or_else(|| panic!("no {name} for {pid}")) * 1024;
    (field("VmRSS:"), field("VmHWM:"))
}

/// The IPv6 link-local address of `ifname` in `ns`.
pub fn link_local(ns: &Netns, ifname: &str) -> Ipv6Addr {
    let ifname = ifname.to_string();
    ns.run(move || mcast::Interface::by_name(&ifname).expect("interface"))
        .ipv6
        .into_iter()
        .find(|a| a.segments()[0] == 0xfe80)
        .expect("a link-local address")
}
