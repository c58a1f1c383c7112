//! Network namespaces for traffic tests: every test that sends a datagram builds its own namespaces here,
//! so nothing reaches this host's real interfaces, and removes them when it ends (even by panic).
//!
//! A [`Netns`] is a named namespace (`ip netns add`) with `lo` up, the MULTICAST flag on, and multicast
//! routes on `lo` (`224.0.0.0/4 src 127.0.0.1`, `ff00::/8`), so a group sent on loopback stays on it.
//! [`veth`] joins two namespaces with a veth pair. Code runs inside one with [`Netns::run`] (a thread that
//! `setns`-es into it) or [`Netns::command`] (`ip netns exec`).
//!
//! Creating a namespace needs root. A test that needs one starts with [`needs_root!`](crate::needs_root):
//! without root it is skipped, saying so, unless `CI=true`; as root or under CI it runs, and fails if the
//! namespace cannot be made ([`root`] decides, for every test).
#![allow(dead_code)]

pub mod cases;
pub mod cli;
pub mod forge;
pub mod frr;
pub mod igmpproxy;
pub mod pim;
pub mod procnet;
pub mod root;
pub mod routed;
pub mod traffic;

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::sched::{setns, CloneFlags};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A network namespace that lives as long as this value.
pub struct Netns {
    /// Its name under /run/netns.
    pub name: String,
}

fn run_checked(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Netns {
    /// A new namespace with multicast-ready loopback. Fails the test (never skips) if it cannot be made.
    pub fn new(tag: &str) -> Netns {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("mct-{tag}-{}-{n}", std::process::id());
        let out = Command::new("ip").args(["netns", "add", &name]).output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => panic!(
                "cannot create network namespace {name} (traffic tests need root and iproute2): {}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => {
                panic!("cannot run `ip` to create a network namespace (install iproute2): {e}")
            }
        }
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up", "multicast", "on"]);
        ns.ip(&["route", "add", "224.0.0.0/4", "dev", "lo", "src", "127.0.0.1"]);
        ns.ip(&["-6", "route", "add", "ff00::/8", "dev", "lo", "table", "local"]);
        ns
    }

    /// `ip -n NAME ARGS...`, failing the test on error.
    pub fn ip(&self, args: &[&str]) -> Output {
        run_checked(Command::new("ip").arg("-n").arg(&self.name).args(args))
    }

    /// `sysctl -w KEY=VALUE` inside the namespace.
    pub fn sysctl(&self, key: &str, value: &str) {
        run_checked(self.command("sysctl").args(["-qw", &format!("{key}={value}")]));
    }

    /// A command that runs inside the namespace (`ip netns exec NAME PROG`).
    pub fn command(&self, prog: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(prog);
        c
    }

    /// The namespace's file, for `setns`.
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// Moves the calling thread into the namespace (only this thread: network namespaces are per thread).
    pub fn enter(&self) {
        let f = File::open(self.path()).unwrap_or_else(|e| panic!("open {}: {e}", self.path().display()));
        setns(f, CloneFlags::CLONE_NEWNET).unwrap_or_else(|e| panic!("setns {}: {e}", self.name));
    }

    /// Runs `f` on a thread inside the namespace and returns its result (a panic in `f` fails the caller).
    pub fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        std::thread::scope(|s| {
            s.spawn(|| {
                self.enter();
                f()
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }

    /// Starts `f` on a thread inside the namespace.
    pub fn spawn<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> std::thread::JoinHandle<R> {
        let path = self.path();
        let name = self.name.clone();
        std::thread::spawn(move || {
            let file = File::open(&path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
            setns(file, CloneFlags::CLONE_NEWNET).unwrap_or_else(|e| panic!("setns {name}: {e}"));
            f()
        })
    }

    /// The index of interface `name` in this namespace.
    pub fn ifindex(&self, name: &str) -> u32 {
        let name = name.to_string();
        self.run(move || mcast::Interface::by_name(&name).expect("interface in namespace").index)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}

/// Joins `a` and `b` with a veth pair `a_if`<->`b_if`, addresses given as CIDR (`10.0.0.1/24`), both up, with
/// the MULTICAST flag. The multicast routes stay on `lo`: a socket names the veth (`IP_MULTICAST_IF`, a join
/// on the veth) to use it.
pub fn veth(a: &Netns, a_if: &str, a_cidr: &str, b: &Netns, b_if: &str, b_cidr: &str) {
    let tmp_a = format!("t{}a{}", std::process::id() % 100000, COUNTER.fetch_add(1, Ordering::SeqCst));
    let tmp_b = format!("t{}b{}", std::process::id() % 100000, COUNTER.fetch_add(1, Ordering::SeqCst));
    run_checked(Command::new("ip").args(["link", "add", &tmp_a, "type", "veth", "peer", "name", &tmp_b]));
    run_checked(Command::new("ip").args(["link", "set", &tmp_a, "netns", &a.name, "name", a_if]));
    run_checked(Command::new("ip").args(["link", "set", &tmp_b, "netns", &b.name, "name", b_if]));
    for (ns, ifname, cidr) in [(a, a_if, a_cidr), (b, b_if, b_cidr)] {
        // IPv6 addresses wait for duplicate address detection; turn it off before the link comes up, when
        // the link-local address is made, so the link works at once.
        ns.sysctl(&format!("net.ipv6.conf.{ifname}.accept_dad"), "0");
        ns.ip(&["addr", "add", cidr, "dev", ifname]);
        ns.ip(&["link", "set", ifname, "up", "multicast", "on"]);
    }
}

/// A veth pair with both ends inside `ns` (`a_if`, `b_if`), up, MULTICAST, IPv6 link-local addresses ready.
///
/// IPv6 multicast is not delivered over `lo` on Linux (a datagram sent there never reaches a member), so
/// single-namespace IPv6 tests use this pair: hop limit 0 loops back on `a_if`, hop limit 1 crosses to `b_if`.
pub fn veth_pair_in(ns: &Netns, a_if: &str, b_if: &str) {
    ns.ip(&["link", "add", a_if, "type", "veth", "peer", "name", b_if]);
    for ifname in [a_if, b_if] {
        ns.sysctl(&format!("net.ipv6.conf.{ifname}.accept_dad"), "0");
        ns.ip(&["link", "set", ifname, "up", "multicast", "on"]);
    }
    wait_ipv6(ns, a_if);
    wait_ipv6(ns, b_if);
}

/// Waits until `ns` has a usable (non-tentative) IPv6 link-local address on `ifname`.
pub fn wait_ipv6(ns: &Netns, ifname: &str) {
    for _ in 0..200 {
        let out = ns.ip(&["-6", "addr", "show", "dev", ifname]);
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("inet6 fe80") && !text.contains("tentative") {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("no IPv6 link-local address on {ifname} in {}", ns.name);
}

/// A field of /proc/PID/status in KiB (`VmRSS:`, `VmHWM:`), if the process still exists.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
