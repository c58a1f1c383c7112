//! A PIM-SM domain: three FRR routers in a line, a static RP, IGMPv3 on the host LANs, and a snooping
//! bridge with two receivers on the last LAN.
//!
//! ```text
//!   h1: v1 10.1.0.2 -- r1h 10.1.0.1 [r1] r1r2 10.12.0.1 -- r2r1 10.12.0.2 [r2 = RP] r2r3 10.23.0.2 --
//!                                                          r2h 10.2.0.1 -- v2 10.2.0.2 :h2
//!   -- r3r2 10.23.0.3 [r3] r3h 10.3.0.1 -- p0 [sw: br0, IGMP snooping] pa -- v3 10.3.0.2 :h3a
//!                                                                       pb -- v3 10.3.0.3 :h3b
//! ```
//!
//! Every router interface runs PIM (hello every second, so neighbours form in about a second), the
//! host-facing ones (`r1h`, `r2h`, `r3h`) also IGMPv3 with FRR's defaults (a query every 125 s unless a
//! test asks otherwise); the RP for 224.0.0.0/4 is r2 (10.12.0.2) and 232.0.0.0/8 is SSM (FRR's default).
//! Unicast routes are static kernel routes, which zebra passes to pimd for its reverse-path lookups.
//! A datagram from h1 crosses r1, r2 and r3 to reach h3a/h3b: sent with TTL t, it arrives with t - 3.
//!
//! [`Domain::new`] returns once every router has its PIM neighbours and every LAN its IGMP querier.
//! Everything is torn down on drop, also when a test panics: the daemons (pimd, then zebra) are stopped
//! first, then the namespaces are deleted, then the scratch directory.

use std::net::Ipv4Addr;
use std::process::Command;

use super::frr::Frr;
use super::routed::peer::Scratch;
use super::{run_checked, veth, Netns};

/// The RP's address (r2's interface towards r1).
pub const RP: Ipv4Addr = Ipv4Addr::new(10, 12, 0, 2);
/// h1, the source.
pub const H1: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
/// h2, one LAN behind r2.
pub const H2: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 2);
/// h3a on the bridged LAN behind r3.
pub const H3A: Ipv4Addr = Ipv4Addr::new(10, 3, 0, 2);
/// h3b on the same LAN.
pub const H3B: Ipv4Addr = Ipv4Addr::new(10, 3, 0, 3);
/// r3's address on that LAN (the querier and DR there).
pub const R3_LAN: Ipv4Addr = Ipv4Addr::new(10, 3, 0, 1);

/// How the routers are configured, beyond what every domain has.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tuning {
    /// `ip igmp query-interval` on the host LANs; `None` keeps FRR's 125 s.
    pub query_interval: Option<u16>,
}

/// The domain. Fields drop in order: daemons, hosts, switch, routers, files.
pub struct Domain {
    /// r1, r2, r3's daemons, index 0 holding r1.
    pub frr: Vec<Frr>,
    /// h1 (`v1`), the source's LAN behind r1.
    pub h1: Netns,
    /// h2 (`v2`), behind r2.
    pub h2: Netns,
    /// h3a (`v3`), behind the bridge and r3.
    pub h3a: Netns,
    /// h3b (`v3`), on the same LAN.
    pub h3b: Netns,
    /// The bridge's namespace (`br0`, ports `p0` to r3, `pa` to h3a, `pb` to h3b).
    pub sw: Netns,
    /// r1, r2, r3.
    pub routers: Vec<Netns>,
    /// Configs, sockets and logs.
    pub scratch: Scratch,
}

/// One router's interfaces: name, address, whether hosts are behind it (IGMP).
type Ifaces = &'static [(&'static str, &'static str, bool)];

const R1: Ifaces = &[("r1h", "10.1.0.1/24", true), ("r1r2", "10.12.0.1/24", false)];
const R2: Ifaces = &[("r2r1", "10.12.0.2/24", false), ("r2h", "10.2.0.1/24", true), ("r2r3", "10.23.0.2/24", false)];
const R3: Ifaces = &[("r3r2", "10.23.0.3/24", false), ("r3h", "10.3.0.1/24", true)];

impl Domain {
    /// Builds the domain with FRR's defaults; see [`Domain::with`].
    pub fn new(tag: &str) -> Domain {
        Domain::with(tag, Tuning::default())
    }

    /// Builds the namespaces, links and routes, starts FRR on the three routers and waits until r2 has two
    /// PIM neighbours, r1 and r3 one each, and each router is the IGMP querier of its host LAN.
    pub fn with(tag: &str, tuning: Tuning) -> Domain {
        let scratch = Scratch::new(tag);
        let routers: Vec<Netns> = (1..=3).map(|i| Netns::new(&format!("{tag}r{i}"))).collect();
        for r in &routers {
            r.sysctl("net.ipv4.ip_forward", "1");
        }
        let (r1, r2, r3) = (&routers[0], &routers[1], &routers[2]);
        let h1 = Netns::new(&format!("{tag}h1"));
        let h2 = Netns::new(&format!("{tag}h2"));
        let h3a = Netns::new(&format!("{tag}h3a"));
        let h3b = Netns::new(&format!("{tag}h3b"));
        let sw = Netns::new(&format!("{tag}sw"));
        veth(&h1, "v1", "10.1.0.2/24", r1, "r1h", "10.1.0.1/24");
        veth(&h2, "v2", "10.2.0.2/24", r2, "r2h", "10.2.0.1/24");
        veth(r1, "r1r2", "10.12.0.1/24", r2, "r2r1", "10.12.0.2/24");
        veth(r2, "r2r3", "10.23.0.2/24", r3, "r3r2", "10.23.0.3/24");
        sw.ip(&["link", "add", "name", "br0", "type", "bridge", "mcast_snooping", "1", "mcast_querier", "0"]);
        port(&sw, "p0", r3, "r3h", "10.3.0.1/24");
        port(&sw, "pa", &h3a, "v3", "10.3.0.2/24");
        port(&sw, "pb", &h3b, "v3", "10.3.0.3/24");
        sw.ip(&["link", "set", "br0", "up"]);
        for (h, via, dev) in [(&h1, "10.1.0.1", "v1"), (&h2, "10.2.0.1", "v2"), (&h3a, "10.3.0.1", "v3")] {
            h.ip(&["route", "add", "default", "via", via, "dev", dev]);
        }
        h3b.ip(&["route", "add", "default", "via", "10.3.0.1", "dev", "v3"]);
        for net in ["10.2.0.0/24", "10.3.0.0/24", "10.23.0.0/24"] {
            r1.ip(&["route", "add", net, "via", "10.12.0.2"]);
        }
        r2.ip(&["route", "add", "10.1.0.0/24", "via", "10.12.0.1"]);
        r2.ip(&["route", "add", "10.3.0.0/24", "via", "10.23.0.3"]);
        for net in ["10.1.0.0/24", "10.2.0.0/24", "10.12.0.0/24"] {
            r3.ip(&["route", "add", net, "via", "10.23.0.2"]);
        }

        let mut frr = Vec::new();
        for (i, (ns, ifaces)) in routers.iter().zip([R1, R2, R3]).enumerate() {
            let name = format!("r{}", i + 1);
            frr.push(Frr::start(ns, &scratch, &name, &pimd_conf(&name, ifaces, tuning)));
        }
        let mut domain = Domain { frr, h1, h2, h3a, h3b, sw, routers, scratch };
        for (i, want) in [(0, 1), (1, 2), (2, 1)] {
            domain.frr[i].wait_show("show ip pim neighbor", &format!("{want} PIM neighbour(s)"), |t| {
                t.lines().filter(|l| l.trim_start().starts_with('r') && l.contains("10.")).count() >= want
            });
        }
        for (i, ifname, addr) in [(0, "r1h", "10.1.0.1"), (1, "r2h", "10.2.0.1"), (2, "r3h", "10.3.0.1")] {
            domain.frr[i].wait_show("show ip igmp interface", &format!("the querier on {ifname}"), |t| {
                t.lines().any(|l| l.trim_start().starts_with(ifname) && l.contains("up") && l.contains(addr))
            });
        }
        domain
    }

    /// Router `i` (1, 2 or 3)'s daemons.
    pub fn router(&self, i: usize) -> &Frr {
        &self.frr[i - 1]
    }

    /// Waits until router `i`'s `vtysh -c CMD` satisfies `ready`; returns the output.
    pub fn wait_show(&mut self, i: usize, cmd: &str, what: &str, ready: impl Fn(&str) -> bool) -> String {
        self.frr[i - 1].wait_show(cmd, what, ready)
    }

    /// The bridge's multicast database (`bridge mdb show`): which ports have members of which group.
    pub fn mdb(&self) -> String {
        let out = self.sw.command("bridge").args(["mdb", "show"]).output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
    }
}

/// The pimd configuration of one router.
fn pimd_conf(name: &str, ifaces: Ifaces, tuning: Tuning) -> String {
    let mut c = format!("hostname {name}\nlog stdout debugging\nip pim rp {RP} 224.0.0.0/4\n");
    for (ifname, _, hosts) in ifaces {
        c.push_str(&format!("interface {ifname}\n ip pim\n ip pim hello 1 4\n"));
        if *hosts {
            c.push_str(" ip igmp\n ip igmp version 3\n");
            if let Some(q) = tuning.query_interval {
                c.push_str(&format!(" ip igmp query-interval {q}\n"));
            }
        }
    }
    c
}

/// A veth from the bridge in `sw` (port `port_if`, no address) to `ns` (`ifname` with `cidr`).
fn port(sw: &Netns, port_if: &str, ns: &Netns, ifname: &str, cidr: &str) {
    let (tmp_a, tmp_b) = (unique('x'), unique('y'));
    run_checked(Command::new("ip").args(["link", "add", &tmp_a, "type", "veth", "peer", "name", &tmp_b]));
    run_checked(Command::new("ip").args(["link", "set", &tmp_a, "netns", &sw.name, "name", port_if]));
    run_checked(Command::new("ip").args(["link", "set", &tmp_b, "netns", &ns.name, "name", ifname]));
    sw.ip(&["link", "set", port_if, "master", "br0", "up"]);
    ns.ip(&["addr", "add", cidr, "dev", ifname]);
    ns.ip(&["link", "set", ifname, "up", "multicast", "on"]);
}

/// A temporary interface name, unique on the host while this process runs (at most 15 bytes).
fn unique(side: char) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("b{}{side}{}", std::process::id() % 100_000, N.fetch_add(1, Ordering::SeqCst) % 10_000)
}
