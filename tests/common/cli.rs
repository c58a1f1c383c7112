//! Running the `mcast` binary inside a test's namespaces and reading its `--json` output.
//!
//! [`mcast`] builds the command (`ip netns exec`, which execs `mcast` itself, so the child's pid is the
//! command's and signals reach it directly); [`Running`] is a child whose standard output and error lines are
//! collected as they come, killed when dropped so that a failing test leaves nothing running; [`json`],
//! [`of_type`] and [`the_summary`] read what it printed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::root::Sandbox;
use super::Netns;

/// The binary under test.
pub const MCAST: &str = env!("CARGO_BIN_EXE_mcast");

/// `mcast ARGS` inside `ns`.
pub fn mcast(ns: &Netns, args: &[&str]) -> Command {
    let mut c = ns.command(MCAST);
    c.args(args);
    c
}

/// `mcast ARGS` run to completion in a namespace of its own with nothing in it (no root needed), standard
/// input empty: for what the command says (help, `info`, refused arguments), where an argument wrongly
/// accepted must still reach nothing (and is stopped after a minute: see [`Sandbox::command`]).
pub fn sandboxed(sandbox: &Sandbox, args: &[&str]) -> Output {
    sandbox
        .command(MCAST)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {MCAST}: {e}"))
}

/// `mcast ARGS` started inside `ns`, standard input from `stdin`, standard output and error piped.
pub fn spawn(ns: &Netns, args: &[&str], stdin: Stdio) -> Child {
    mcast(ns, args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {MCAST}: {e}"))
}

/// Every line as JSON, failing the test on one that is not.
pub fn json(lines: &[String]) -> Vec<Value> {
    lines.iter().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

/// The objects whose `"type"` is `ty`.
pub fn of_type<'a>(objects: &'a [Value], ty: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["type"] == ty).collect()
}

/// The one summary, which must come last.
pub fn the_summary(objects: &[Value]) -> &Value {
    let s = of_type(objects, "summary");
    assert_eq!(s.len(), 1, "one summary: {objects:?}");
    assert!(objects.last().is_some_and(|o| o["type"] == "summary"), "the summary comes last");
    s[0]
}

/// A running `mcast` whose standard output and error lines are collected as they come.
pub struct Running {
    pub child: Child,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
    /// How long a condition or the exit may take before the test gives up.
    patience: Duration,
}

fn collect(stream: impl std::io::Read + Send + 'static, into: Arc<Mutex<Vec<String>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            into.lock().unwrap().push(line);
        }
    })
}

impl Running {
    /// Starts `mcast ARGS` in `ns`; waits on it give up after `patience`.
    pub fn start_within(ns: &Netns, args: &[&str], patience: Duration) -> Running {
        let mut child = spawn(ns, args, Stdio::null());
        let (stdout, stderr) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        let readers = vec![
            collect(child.stdout.take().expect("stdout"), stdout.clone()),
            collect(child.stderr.take().expect("stderr"), stderr.clone()),
        ];
        Running { child, stdout, stderr, readers, patience }
    }

    /// Waits until `done`, failing the test with the output so far after the patience.
    pub fn wait_until(&self, what: &str, mut done: impl FnMut() -> bool) {
        let patience = self.patience;
        let deadline = Instant::now() + patience;
        while !done() {
            if Instant::now() > deadline {
                panic!("{what}: not within {patience:?}; stdout {:?}, stderr {:?}", self.stdout(), self.stderr());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The standard output lines so far.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// The standard error lines so far.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// The JSON objects of `ty` printed so far.
    pub fn objects(&self, ty: &str) -> Vec<Value> {
        of_type(&json(&self.stdout()), ty).into_iter().cloned().collect()
    }

    /// Waits for the exit (killing it after the patience) and for its output to be read to the end.
    pub fn finish(mut self) -> (ExitStatus, Vec<String>, Vec<String>) {
        let patience = self.patience;
        let deadline = Instant::now() + patience;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("mcast did not exit within {patience:?}; stderr {:?}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        for r in std::mem::take(&mut self.readers) {
            r.join().expect("reader");
        }
        (status, self.stdout(), self.stderr())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
