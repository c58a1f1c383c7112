//! FRR's `zebra` and `pimd` running inside one router namespace, with files of their own.
//!
//! Each router gets a directory in the test's scratch space holding its configs, pid files, log output,
//! zebra's API socket (`-z`) and the vty sockets (`--vty_socket`), so nothing touches `/etc/frr` or
//! `/run/frr` and two tests (or two routers) never share a socket. The daemons start as root and drop to
//! the `frr` user, so the directory belongs to that user. They run in the foreground (no `-d`), logging to
//! standard output, and are stopped on drop: pimd first (it removes its routes), then zebra.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::routed::peer::{Peer, Scratch, PATIENCE};
use super::Netns;

/// Where Debian installs the daemons.
const FRR_LIBEXEC: &str = "/usr/lib/frr";

/// `zebra` and `pimd` for one router, stopped on drop.
pub struct Frr {
    // Fields drop in this order: pimd before zebra.
    pimd: Peer,
    zebra: Peer,
    /// The router's directory: configs, sockets, pid files.
    pub dir: PathBuf,
    /// The router's name in messages (`r1`).
    pub name: String,
}

impl Frr {
    /// Writes `pimd_conf` (and a zebra config naming the host) into a directory of `scratch`, starts zebra
    /// in `ns`, waits for its API socket, then starts pimd. Fails the test, with both logs, if either does
    /// not come up within [`PATIENCE`] (also when FRR is not installed: `apt-get install frr`).
    pub fn start(ns: &Netns, scratch: &Scratch, name: &str, pimd_conf: &str) -> Frr {
        let dir = scratch.file(name);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let write = |file: &str, text: &str| {
            let p = dir.join(file);
            fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        };
        write("zebra.conf", &format!("hostname {name}\n"));
        write("pimd.conf", pimd_conf);
        // The daemons read their configs and create their sockets after dropping to the frr user.
        let chown = Command::new("chown").args(["-R", "frr:frr"]).arg(&dir).output();
        match chown {
            Ok(o) if o.status.success() => {}
            Ok(o) => panic!(
                "chown frr {} (is FRR installed? apt-get install frr): {}",
                dir.display(),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!("cannot run chown: {e}"),
        }
        let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o755));
        let _ = fs::set_permissions(scratch.path(), fs::Permissions::from_mode(0o755));
        let path = |f: &str| dir.join(f).to_str().expect("UTF-8 temporary path").to_string();
        let (zsock, vty) = (path("zserv.api"), dir.to_str().expect("UTF-8").to_string());
        let daemon = |d: &str| {
            let (conf, pid) = (path(&format!("{d}.conf")), path(&format!("{d}.pid")));
            let args = [
                "-f",
                &conf,
                "-i",
                &pid,
                "-z",
                &zsock,
                "--vty_socket",
                &vty,
                "-u",
                "frr",
                "-g",
                "frr",
                "-P",
                "0",
                "--log",
                "stdout",
                "--log-level",
                "debug",
            ]
            .map(String::from);
            (format!("{FRR_LIBEXEC}/{d}"), args)
        };
        let (prog, args) = daemon("zebra");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut zebra = Peer::start(ns, scratch, &format!("{name}-zebra"), &prog, &args);
        wait_file(&mut zebra, &dir.join("zserv.api"));
        let (prog, args) = daemon("pimd");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut pimd = Peer::start(ns, scratch, &format!("{name}-pimd"), &prog, &args);
        wait_file(&mut pimd, &dir.join("pimd.vty"));
        Frr { pimd, zebra, dir, name: name.to_string() }
    }

    /// `vtysh -c CMD` against this router's daemons; the output, or the error text if vtysh failed.
    pub fn vtysh(&self, cmd: &str) -> String {
        let out = Command::new("vtysh").arg("--vty_socket").arg(&self.dir).args(["-c", cmd]).output();
        match out {
            Ok(o) => format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)),
            Err(e) => format!("cannot run vtysh: {e}"),
        }
    }

    /// Both daemons' logs, for a failure message.
    pub fn logs(&self) -> String {
        format!("{}\n{}", self.zebra.report(), self.pimd.report())
    }

    /// Waits up to [`PATIENCE`] for `vtysh -c CMD` to satisfy `ready`; fails the test with the output and
    /// the logs if it never does.
    pub fn wait_show(&mut self, cmd: &str, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = self.vtysh(cmd);
            if ready(&text) {
                return text;
            }
            let dead = !self.pimd.running() || !self.zebra.running();
            if dead || Instant::now() > deadline {
                panic!("{}: {what}: not so within {PATIENCE:?}\n{cmd}:\n{text}\n{}", self.name, self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The daemons' process ids (zebra, pimd).
    pub fn pids(&self) -> (u32, u32) {
        (self.zebra.pid(), self.pimd.pid())
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        self.pimd.terminate();
        self.zebra.terminate();
    }
}

/// Waits until `file` exists (a daemon's socket), failing with the daemon's output if it ends first.
fn wait_file(peer: &mut Peer, file: &std::path::Path) {
    let f = file.to_path_buf();
    peer.wait_for(&format!("{}", file.display()), move |_, _| f.exists());
}
