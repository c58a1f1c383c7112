//! Running the `mcast` command inside a test's namespaces, and reading the JSON lines it prints.
//!
//! A [`Proc`] is a running `mcast` (a responder, a receiver, a relay): [`Proc::ready`] waits for the line it
//! writes on standard error once it has joined, so nothing is sent before anyone listens; dropping a `Proc`
//! kills it, so a failing test leaves nothing running. [`run`] runs a command to its end.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common::Netns;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_mcast");

/// How long any one command may take before the test fails: generous, for a busy two-core machine.
pub const LIMIT: Duration = Duration::from_secs(90);

/// A finished command: exit code and what it printed.
#[derive(Debug)]
pub struct Finished {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Finished {
    /// The JSON objects on standard output whose `"type"` is `ty`.
    pub fn json(&self, ty: &str) -> Vec<Obj> {
        self.stdout
            .lines()
            .filter_map(Obj::parse)
            .filter(|o| o.get("type").and_then(|t| t.as_str()) == Some(ty))
            .collect()
    }

    /// The only JSON object of type `ty`; fails the test if there is not exactly one.
    pub fn one(&self, ty: &str) -> Obj {
        let v = self.json(ty);
        assert_eq!(v.len(), 1, "expected one {ty:?} object in:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        v.into_iter().next().unwrap()
    }

    /// Asserts exit status 0.
    pub fn ok(self) -> Finished {
        assert_eq!(self.code, Some(0), "exit status; stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

/// A running `mcast` inside a namespace.
pub struct Proc {
    child: Option<Child>,
    what: String,
    err_lines: mpsc::Receiver<String>,
    err_seen: Vec<String>,
    out: Option<JoinHandle<String>>,
}

impl Proc {
    /// Starts `mcast ARGS...` in `ns`.
    pub fn start(ns: &Netns, args: &[&str]) -> Proc {
        let mut child = ns
            .command(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"));
        let mut stdout = child.stdout.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        });
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc {
            child: Some(child),
            what: format!("mcast {}", args.join(" ")),
            err_lines: rx,
            err_seen: Vec::new(),
            out: Some(out),
        }
    }

    /// Starts `mcast ARGS...` and waits until it says on standard error that it is listening (a line
    /// containing `needle`).
    pub fn ready(ns: &Netns, args: &[&str], needle: &str) -> Proc {
        let mut p = Proc::start(ns, args);
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match p.err_lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.contains(needle);
                    p.err_seen.push(line);
                    if hit {
                        return p;
                    }
                }
                Err(_) => {
                    let status = p.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
                    panic!("{} never said {needle:?} (exit {status:?}); stderr: {:?}", p.what, p.err_seen);
                }
            }
        }
    }

    /// Waits for the command to end by itself (within [`LIMIT`]) and returns what it printed.
    pub fn finish(mut self) -> Finished {
        let mut child = self.child.take().unwrap();
        let end = Instant::now() + LIMIT;
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if Instant::now() >= end {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{} did not end within {LIMIT:?}", self.what);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout = self.out.take().unwrap().join().unwrap_or_default();
        let mut err = std::mem::take(&mut self.err_seen);
        // The reader thread ends at EOF; collect what it has left.
        while let Ok(l) = self.err_lines.recv_timeout(Duration::from_millis(500)) {
            err.push(l);
        }
        Finished { code: status.code(), stdout, stderr: err.join("\n") }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `mcast ARGS...` in `ns` to its end.
pub fn run(ns: &Netns, args: &[&str]) -> Finished {
    Proc::start(ns, args).finish()
}

/// Runs any command in `ns` and returns its standard output, failing the test if it fails.
pub fn sh(ns: &Netns, prog: &str, args: &[&str]) -> String {
    let mut c: Command = ns.command(prog);
    let out = c.args(args).output().unwrap_or_else(|e| panic!("cannot run {prog}: {e}"));
    assert!(out.status.success(), "{prog} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One JSON object the tools printed, with getters that fail the test when a field is missing.
#[derive(Clone, Debug)]
pub struct Obj(pub serde_json::Value);

impl Obj {
    /// Parses one line; `None` if it is not a JSON object.
    pub fn parse(line: &str) -> Option<Obj> {
        serde_json::from_str::<serde_json::Value>(line).ok().filter(|v| v.is_object()).map(Obj)
    }

    /// A field.
    pub fn get(&self, k: &str) -> Option<&serde_json::Value> {
        self.0.get(k)
    }

    /// A numeric field.
    pub fn num(&self, k: &str) -> f64 {
        self.0.get(k).and_then(|v| v.as_f64()).unwrap_or_else(|| panic!("no number {k:?} in {}", self.0))
    }

    /// A count field.
    pub fn int(&self, k: &str) -> u64 {
        self.0.get(k).and_then(|v| v.as_u64()).unwrap_or_else(|| panic!("no count {k:?} in {}", self.0))
    }

    /// A string field.
    pub fn str(&self, k: &str) -> String {
        self.0.get(k).and_then(|v| v.as_str()).unwrap_or_else(|| panic!("no string {k:?} in {}", self.0)).to_string()
    }
}

/// The packet count of the one `counter` in an `nft -j list ruleset`.
pub fn nft_counter_packets(json: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(json).expect("nft -j output is JSON");
    let mut found = Vec::new();
    for item in v["nftables"].as_array().expect("nftables array") {
        if let Some(exprs) = item.get("rule").and_then(|r| r.get("expr")).and_then(|e| e.as_array()) {
            for e in exprs {
                if let Some(p) = e.get("counter").and_then(|c| c.get("packets")).and_then(|p| p.as_u64()) {
                    found.push(p);
                }
            }
        }
    }
    assert_eq!(found.len(), 1, "one counter in {json}");
    found[0]
}
