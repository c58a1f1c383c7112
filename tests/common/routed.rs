//! A routed test network: hosts on two or three subnets joined by a router namespace, which forwards
//! multicast once `smcrouted` has installed the test's routes in the kernel.
//!
//! ```text
//!   h1: v1 10.1.0.2/24 fd00:1::2/64  <-- veth -->  r1 10.1.0.1/24 fd00:1::1/64  \
//!   h2: v2 10.2.0.2/24 fd00:2::2/64  <-- veth -->  r2 10.2.0.1/24 fd00:2::1/64   router: ip_forward,
//!   h3: v3 10.3.0.2/24 fd00:3::2/64  <-- veth -->  r3 10.3.0.1/24 fd00:3::1/64  /  IPv6 forwarding, smcrouted
//! ```
//!
//! Each host routes unicast through the router (so a unicast answer to a multicast query finds its way
//! back) and keeps the multicast routes on `lo` that [`Netns::new`] adds: a socket names its interface.
//!
//! Multicast forwarding is the kernel's (ipmr, ip6mr); `smcrouted` only installs routes into its
//! forwarding cache (MFC). Routes with a source, (S,G), go into the MFC when the daemon starts, and
//! [`Routed::start_router`] returns only once they are there, so the first datagram is forwarded. A (*,G)
//! route is a template that becomes an (S,G) entry when the first datagram from a new source reaches
//! the router, and that datagram is lost: tests name their sources.
//!
//! The kernel forwards a datagram only if its TTL (hop limit) is above the interface's threshold (1) and
//! decrements it; it never forwards link-local groups (224.0.0.0/24, ff02::/16), whatever the routes say.
//! Without [`Routed::start_router`] the middle namespace is a host with one interface per subnet and
//! forwards no multicast at all.
//!
//! Everything is removed when the value is dropped, also when a test fails: the daemon is stopped first,
//! then the namespaces are deleted, then the scratch directory (config, socket, logs) is removed.

pub mod pcap;
pub mod peer;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use peer::{Peer, Scratch, PATIENCE};

use super::{veth, wait_ipv6, Netns};

/// The `mcast` command under test.
pub const MCAST: &str = env!("CARGO_BIN_EXE_mcast");

/// One subnet: a host and the router's interface facing it.
pub struct Subnet {
    /// 1, 2 or 3.
    pub index: usize,
    /// The host's namespace.
    pub host: Netns,
    /// The host's interface (`v1`, `v2`, `v3`).
    pub host_if: String,
    /// The router's interface on this subnet (`r1`, `r2`, `r3`).
    pub router_if: String,
    /// The host's IPv4 address, `10.N.0.2`.
    pub host4: Ipv4Addr,
    /// The router's IPv4 address, `10.N.0.1`.
    pub router4: Ipv4Addr,
    /// The host's IPv6 address, `fd00:N::2`.
    pub host6: Ipv6Addr,
    /// The router's IPv6 address, `fd00:N::1`.
    pub router6: Ipv6Addr,
}

impl Subnet {
    /// The host's address of the family of `like`.
    pub fn host_ip(&self, like: IpAddr) -> IpAddr {
        if like.is_ipv4() {
            IpAddr::V4(self.host4)
        } else {
            IpAddr::V6(self.host6)
        }
    }

    /// The router's address of the family of `like`.
    pub fn router_ip(&self, like: IpAddr) -> IpAddr {
        if like.is_ipv4() {
            IpAddr::V4(self.router4)
        } else {
            IpAddr::V6(self.router6)
        }
    }
}

/// A multicast route: datagrams to `group` (from `source`, or any) arriving from subnet `from` leave
/// towards each subnet in `to`. One `mroute` line of smcroute.conf(5).
#[derive(Clone, Debug)]
pub struct Mroute {
    /// The subnet the datagrams come from.
    pub from: usize,
    /// The source, or `None` for a (*,G) template.
    pub source: Option<IpAddr>,
    /// The group.
    pub group: IpAddr,
    /// The subnets they are forwarded to.
    pub to: Vec<usize>,
}

impl Mroute {
    /// An (S,G) route, installed in the kernel when the daemon starts.
    pub fn sg(from: usize, source: IpAddr, group: IpAddr, to: &[usize]) -> Mroute {
        Mroute { from, source: Some(source), group, to: to.to_vec() }
    }

    /// A (*,G) route: a template for every source (the first datagram of each is lost).
    pub fn any_source(from: usize, group: IpAddr, to: &[usize]) -> Mroute {
        Mroute { from, source: None, group, to: to.to_vec() }
    }

    fn conf_line(&self) -> String {
        let to: Vec<String> = self.to.iter().map(|i| format!("r{i}")).collect();
        match self.source {
            Some(s) => format!("mroute from r{} source {s} group {} to {}", self.from, self.group, to.join(" ")),
            None => format!("mroute from r{} group {} to {}", self.from, self.group, to.join(" ")),
        }
    }
}

/// `smcrouted` running in the router namespace, stopped on drop.
pub struct Smcroute {
    peer: Peer,
    /// Its control socket, for `smcroutectl -u`.
    pub socket: PathBuf,
    /// Its configuration file.
    pub conf: PathBuf,
    router: String,
}

impl Smcroute {
    /// `smcroutectl -p -t show routes`: the templates, the (S,G) rules and the kernel's MFC, plain text.
    pub fn show_routes(&self) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.router, "smcroutectl", "-p", "-t", "-u"])
            .arg(&self.socket)
            .args(["show", "routes"])
            .output();
        match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
            _ => String::new(),
        }
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.peer.pid()
    }

    /// The daemon's log (it runs in the foreground with `-l debug`, logging to standard error).
    pub fn log(&self) -> String {
        self.peer.report()
    }
}

impl Drop for Smcroute {
    fn drop(&mut self) {
        // SIGTERM lets it remove its routes and VIFs; the namespace goes next anyway.
        self.peer.terminate();
    }
}

/// The network: hosts, router, and the router's daemon once started.
pub struct Routed {
    // Fields drop in this order: daemon, hosts, router, files.
    daemon: Option<Smcroute>,
    /// The subnets, index 0 holding subnet 1.
    pub subnets: Vec<Subnet>,
    /// The router's namespace.
    pub router: Netns,
    /// Scratch files: the daemon's config, socket, pid file and log, and whatever a test keeps there.
    pub scratch: Scratch,
}

impl Routed {
    /// Builds `n` (2 or 3) subnets around the router namespace, unicast forwarding on, no multicast
    /// forwarding yet. Fails the test if a namespace, link or address cannot be made.
    pub fn new(tag: &str, n: usize) -> Routed {
        assert!((2..=3).contains(&n), "a routed network has 2 or 3 subnets, not {n}");
        let scratch = Scratch::new(tag);
        let router = Netns::new(&format!("{tag}r"));
        router.sysctl("net.ipv4.ip_forward", "1");
        router.sysctl("net.ipv6.conf.all.forwarding", "1");
        let mut subnets = Vec::with_capacity(n);
        for index in 1..=n {
            let i = index as u16;
            let host = Netns::new(&format!("{tag}h{index}"));
            let (host_if, router_if) = (format!("v{index}"), format!("r{index}"));
            let (host4, router4) = (Ipv4Addr::new(10, i as u8, 0, 2), Ipv4Addr::new(10, i as u8, 0, 1));
            let (host6, router6) =
                (Ipv6Addr::new(0xfd00, i, 0, 0, 0, 0, 0, 2), Ipv6Addr::new(0xfd00, i, 0, 0, 0, 0, 0, 1));
            veth(&host, &host_if, &format!("{host4}/24"), &router, &router_if, &format!("{router4}/24"));
            host.add_addr(&host_if, &format!("{host6}/64"));
            router.add_addr(&router_if, &format!("{router6}/64"));
            host.ip(&["route", "add", "default", "via", &router4.to_string(), "dev", &host_if]);
            host.ip(&["-6", "route", "add", "default", "via", &router6.to_string(), "dev", &host_if]);
            wait_ipv6(&host, &host_if);
            wait_ipv6(&router, &router_if);
            subnets.push(Subnet { index, host, host_if, router_if, host4, router4, host6, router6 });
        }
        Routed { daemon: None, subnets, router, scratch }
    }

    /// Subnet `i` (1-based, as in the interface names).
    pub fn subnet(&self, i: usize) -> &Subnet {
        self.subnets.get(i.wrapping_sub(1)).unwrap_or_else(|| panic!("no subnet {i}"))
    }

    /// The host on subnet `i`.
    pub fn host(&self, i: usize) -> &Netns {
        &self.subnet(i).host
    }

    /// The running daemon.
    pub fn smcroute(&self) -> &Smcroute {
        self.daemon.as_ref().expect("the router was started")
    }

    /// Writes smcroute.conf for `routes` (every router interface enabled as a VIF/MIF, nothing else: the
    /// daemon runs with `-N`), starts `smcrouted` in the router namespace with its own socket, pid file and
    /// config in the scratch directory, and waits until the kernel has the VIFs and every (S,G) route (and
    /// the daemon lists every (*,G) template). Fails the test, with the daemon's log, if that does not
    /// happen within [`PATIENCE`].
    pub fn start_router(&mut self, routes: &[Mroute]) {
        assert!(self.daemon.is_none(), "the router is already running");
        let mut conf = String::from("# Written by the test: every router interface routes, nothing else.\n");
        for s in &self.subnets {
            conf.push_str(&format!("phyint {} enable\n", s.router_if));
        }
        for r in routes {
            assert!(r.from >= 1 && r.from <= self.subnets.len(), "{r:?}: no such subnet");
            conf.push_str(&r.conf_line());
            conf.push('\n');
        }
        let conf_path = self.scratch.file("smcroute.conf");
        std::fs::write(&conf_path, &conf).unwrap_or_else(|e| panic!("write {}: {e}", conf_path.display()));
        let socket = self.scratch.file("smcroute.sock");
        let pid = self.scratch.file("smcroute.pid");
        let path = |p: &PathBuf| p.to_str().expect("UTF-8 temporary path").to_string();
        let args = ["-n", "-N", "-l", "debug", "-f", &path(&conf_path), "-u", &path(&socket), "-P", &path(&pid)];
        let peer = Peer::start(&self.router, &self.scratch, "smcrouted", "smcrouted", &args);
        let mut daemon = Smcroute { peer, socket, conf: conf_path, router: self.router.name.clone() };

        let deadline = Instant::now() + PATIENCE;
        loop {
            let missing = self.missing(routes, &daemon);
            if missing.is_empty() {
                break;
            }
            if !daemon.peer.running() || Instant::now() > deadline {
                panic!(
                    "smcrouted did not install {missing:?} within {PATIENCE:?}\nconfig:\n{conf}\nshow routes:\n{}\n{}",
                    daemon.show_routes(),
                    daemon.log()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        self.daemon = Some(daemon);
    }

    /// What the kernel or the daemon does not have yet: VIFs/MIFs, (S,G) cache entries, (*,G) templates.
    fn missing(&self, routes: &[Mroute], daemon: &Smcroute) -> Vec<String> {
        let vifs = self.router.proc_net("ip_mr_vif");
        let mifs = self.router.proc_net("ip6_mr_vif");
        let cache4 = self.router.proc_net("ip_mr_cache");
        let cache6 = self.router.proc_net("ip6_mr_cache");
        let mut missing = Vec::new();
        for s in &self.subnets {
            let listed = |table: &str| table.lines().any(|l| l.split_whitespace().nth(1) == Some(s.router_if.as_str()));
            if !listed(&vifs) {
                missing.push(format!("VIF {}", s.router_if));
            }
            if !listed(&mifs) {
                missing.push(format!("MIF {}", s.router_if));
            }
        }
        let mut shown = None;
        for r in routes {
            let present = match (r.source, r.group) {
                (Some(IpAddr::V4(s)), IpAddr::V4(g)) => {
                    let (g, s) = (mfc_hex(g), mfc_hex(s));
                    cache4.lines().any(|l| l.starts_with(&format!("{g} {s} ")))
                }
                (Some(IpAddr::V6(s)), IpAddr::V6(g)) => {
                    let (g, s) = (mfc6(g), mfc6(s));
                    cache6.lines().any(|l| l.starts_with(&format!("{g} {s} ")))
                }
                (None, g) => {
                    let text = shown.get_or_insert_with(|| daemon.show_routes());
                    text.contains(&format!("(*, {g})"))
                }
                (Some(s), g) => panic!("{s} and {g} are of different families"),
            };
            if !present {
                missing.push(r.conf_line());
            }
        }
        missing
    }
}

/// An IPv4 address as `/proc/net/ip_mr_cache` prints it: the network-order word as a host integer.
pub fn mfc_hex(a: Ipv4Addr) -> String {
    format!("{:08X}", u32::from_ne_bytes(a.octets()))
}

/// An IPv6 address as `/proc/net/ip6_mr_cache` prints it (`%pI6`: eight 4-digit groups).
pub fn mfc6(a: Ipv6Addr) -> String {
    a.segments().iter().map(|s| format!("{s:04x}")).collect::<Vec<_>>().join(":")
}
