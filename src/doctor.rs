//! "Why doesn't multicast work here?": the checks `mcast doctor` runs, as library functions that return
//! [`Finding`]s (ok / warn / fail, a one-line explanation, and the command that fixes it).
//!
//! [`diagnose`] runs them all for one group and interface, in the order a packet meets them: the interface, the
//! route that picks it, reverse-path filtering, the IGMP/MLD version, the per-socket membership limit, the packet
//! filter, the group's scope against the TTL, groups that share its Ethernet MAC, whether a querier is heard and
//! which PIM routers are on the link, and a local loop test.
//!
//! Everything reads the calling thread's network namespace, so a test can run the doctor inside one it made.
//!
//! ```no_run
//! use mcast::doctor::{diagnose, Options, Status};
//! let opts = Options { groups: vec!["239.1.2.3:5000".parse()?], iface: Some("eth0".parse()?), ..Options::default() };
//! for f in diagnose(&opts).findings {
//!     println!("{:<5} {:<16} {}", f.status, f.check, f.summary);
//! }
//! # Ok::<(), mcast::Error>(())
//! ```

pub(crate) mod checks;
pub(crate) mod firewall;
pub(crate) mod json;
pub(crate) mod link;
pub(crate) mod probe;
pub(crate) mod route;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::group::Group;
use crate::iface::{IfaceSpec, Interface};
use crate::socket::Family;
use firewall::{Outcome, Packet, Ruleset};

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Nothing wrong.
    Ok,
    /// Could not be checked here (no privilege, no tool, not asked for).
    Skip,
    /// Works, but not as well as it could, or may fail in some setups.
    Warn,
    /// Multicast will not work as asked until this is fixed.
    Fail,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Status::Ok => "ok",
            Status::Skip => "skip",
            Status::Warn => "warn",
            Status::Fail => "fail",
        })
    }
}

/// One finding: which check, how it came out, why in one line, and the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// The check's name: `interface`, `route`, `rp_filter`, `igmp-version`, `mld-version`, `memberships`,
    /// `firewall`, `scope`, `mac`, `querier`, `pim`, `loop`.
    pub check: &'static str,
    /// The outcome.
    pub status: Status,
    /// What was found, in one line.
    pub summary: String,
    /// The command or change that fixes it (for warnings and failures).
    pub fix: Option<String>,
    /// The program setting the finding is about, when a program (rather than the host) can change it: a tool
    /// built on the library names its own option for it.
    pub setting: Option<Setting>,
}

/// A setting of the sending or receiving program that a finding asks to change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Setting {
    /// The interface a program sends on or joins on (`IP_MULTICAST_IF`, the join's interface, a zone).
    Interface,
    /// The sender a receiver names (a source-specific join).
    Source,
    /// The TTL or hop limit a sender uses (`IP_MULTICAST_TTL`, `IPV6_MULTICAST_HOPS`).
    Ttl,
}

impl Finding {
    /// A finding without a fix.
    pub fn new(check: &'static str, status: Status, summary: impl Into<String>) -> Finding {
        Finding { check, status, summary: summary.into(), fix: None, setting: None }
    }

    /// The same finding, about a setting of the program.
    pub fn setting(mut self, setting: Setting) -> Finding {
        self.setting = Some(setting);
        self
    }

    /// The same finding with a fix.
    pub fn fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = Some(fix.into());
        self
    }
}

/// What to diagnose.
#[derive(Clone, Debug)]
pub struct Options {
    /// The groups (with port) the user wants; the first is the one most checks use, all of them count for
    /// the membership limit. Empty: a probe group, 239.255.0.1, stands in.
    pub groups: Vec<Group>,
    /// The interface the user means; `None`: the one the route picks.
    pub iface: Option<IfaceSpec>,
    /// The sender's address, if known: reverse-path filtering is judged against it.
    pub source: Option<IpAddr>,
    /// The TTL or hop limit senders use (the kernel's default is 1).
    pub ttl: u8,
    /// How long to listen for an IGMP/MLD query and PIM hellos; zero skips both checks.
    pub querier_wait: Duration,
    /// Whether to run the local loop test.
    pub loop_test: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            groups: Vec::new(),
            iface: None,
            source: None,
            ttl: 1,
            querier_wait: Duration::from_secs(2),
            loop_test: true,
        }
    }
}

/// The outcome of [`diagnose`].
#[derive(Clone, Debug)]
pub struct Report {
    /// The group the checks used.
    pub group: Group,
    /// The interface they used, if one was found.
    pub iface: Option<Interface>,
    /// Every finding, in the order the checks ran.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether any check failed (`mcast doctor` then exits 1).
    pub fn failed(&self) -> bool {
        self.findings.iter().any(|f| f.status == Status::Fail)
    }

    /// The findings of one check.
    pub fn of(&self, check: &str) -> Vec<&Finding> {
        self.findings.iter().filter(|f| f.check == check).collect()
    }
}

/// The group the checks use when the user names none.
pub const PROBE_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 0, 1);

/// Runs every check for the first group of `opts` on its interface.
pub fn diagnose(opts: &Options) -> Report {
    let group = opts.groups.first().copied().unwrap_or_else(|| {
        Group::new(IpAddr::V4(PROBE_GROUP), 0).unwrap_or_else(|_| unreachable!("239.255.0.1 is multicast"))
    });
    let mut findings = Vec::new();
    let wanted = match &opts.iface {
        Some(spec) => match spec.resolve() {
            Ok(i) => Some(i),
            Err(e) => {
                findings.push(
                    Finding::new("interface", Status::Fail, format!("{e:#}"))
                        .fix("name an interface this host has (mcast ifaces lists them)"),
                );
                return Report { group, iface: None, findings };
            }
        },
        None if group.scope_id() != 0 => Interface::by_index(group.scope_id()).ok(),
        None => None,
    };
    let (route_findings, routed) = checks::route(&group, wanted.as_ref());
    let iface = wanted.or(routed);
    match &iface {
        Some(i) => findings.extend(checks::interface(i, &group)),
        None => findings.push(
            Finding::new("interface", Status::Fail, format!("no interface to receive {} on", group.ip()))
                .fix("name one with --iface, or add a multicast route (see the route finding)"),
        ),
    }
    findings.extend(route_findings);
    if let Some(i) = &iface {
        if !group.is_ipv6() {
            findings.push(checks::rp_filter(i, opts.source));
        }
        findings.extend(checks::protocol_version(i, &group, opts.source.is_some()));
    }
    findings.extend(checks::membership_limit(&opts.groups, group, opts.source.is_some()));
    findings.extend(firewall_check(&group, iface.as_ref()));
    findings.extend(checks::scope(&group, opts.ttl, iface.is_some()));
    findings.push(checks::mac_collisions(&group, iface.as_ref()));
    if let Some(i) = &iface {
        findings.extend(link::listen(i, &group, opts.querier_wait));
        if opts.loop_test {
            findings.push(probe::loop_test(&group, i));
        }
    }
    Report { group, iface, findings }
}

/// The traffic kinds multicast reception depends on, for `group` on `iface`.
pub(crate) fn packets(group: &Group, iface: Option<&Interface>) -> Vec<Packet> {
    let name = iface.map(|i| i.name.clone());
    let family = Family::of(group.ip());
    let base = |what: String, proto: u8, daddrs: Vec<IpAddr>, types: Vec<u8>, inbound: bool| Packet {
        what,
        family,
        proto,
        dport: None,
        daddrs,
        icmp6_types: types,
        iface: name.clone(),
        inbound,
    };
    let mut out = Vec::new();
    if group.port() != 0 {
        let mut udp = base(format!("UDP to {group}"), 17, vec![group.ip()], vec![], true);
        udp.dport = Some(group.port());
        out.push(udp);
    }
    let g = group.ip();
    match family {
        Family::V4 => {
            let all_hosts = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 1));
            let v3_reports = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 22));
            out.push(base("IGMP queries (which keep memberships alive)".into(), 2, vec![all_hosts, g], vec![], true));
            out.push(base("IGMP reports (which announce the join)".into(), 2, vec![v3_reports, g], vec![], false));
        }
        Family::V6 => {
            let all_nodes: IpAddr = IpAddr::V6(std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1));
            let v2_reports: IpAddr = IpAddr::V6(std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x16));
            out.push(base(
                "MLD queries (which keep memberships alive)".into(),
                58,
                vec![all_nodes, g],
                vec![130],
                true,
            ));
            out.push(base(
                "MLD reports (which announce the join)".into(),
                58,
                vec![v2_reports, g],
                vec![143, 131],
                false,
            ));
        }
    }
    out
}

/// The directories the listing programs are run from, in order. Never `$PATH`: the doctor is usually run as
/// root, and a directory early in a user's `PATH` must not choose what root runs.
const SYSTEM_DIRS: [&str; 2] = ["/usr/sbin", "/sbin"];
/// The search path the listing programs themselves see, should they run others.
const SYSTEM_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// Where `prog` is looked for, in order: in each of [`SYSTEM_DIRS`], by absolute path.
fn system_candidates(prog: &str) -> [PathBuf; 2] {
    SYSTEM_DIRS.map(|dir| Path::new(dir).join(prog))
}

/// Runs a read-only listing program from the system directories; its standard output when it succeeds.
fn listing(prog: &str, args: &[&str]) -> Option<String> {
    let path = system_candidates(prog).into_iter().find(|p| p.is_file())?;
    let out = Command::new(path).args(args).env("PATH", SYSTEM_PATH).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Reads the packet filter: nftables (`nft -j list ruleset`), and iptables where nft does not show it
/// (legacy iptables, or no nft). Returns the rules and the names of the sources read.
pub(crate) fn read_ruleset() -> (Ruleset, Vec<&'static str>) {
    let mut rs = Ruleset::default();
    let mut read = Vec::new();
    let nft = listing("nft", &["-j", "list", "ruleset"]).and_then(|t| firewall::parse_nft_json(&t));
    let have_nft = nft.is_some();
    if let Some(chains) = nft {
        rs.chains.extend(chains);
        read.push("nftables");
    }
    for (save, v6, name) in [("iptables-save", false, "iptables"), ("ip6tables-save", true, "ip6tables")] {
        let Some(text) = listing(save, &[]) else { continue };
        // iptables-nft's rules are nftables tables, already read above.
        if have_nft && !text.contains("(legacy)") {
            continue;
        }
        rs.chains.extend(firewall::parse_iptables_save(&text, v6));
        read.push(name);
    }
    // Legacy tables alongside iptables-nft: listed only when the kernel already has them (listing must not
    // make it load anything).
    for (names, save, v6, name) in [
        ("ip_tables_names", "iptables-legacy-save", false, "iptables-legacy"),
        ("ip6_tables_names", "ip6tables-legacy-save", true, "ip6tables-legacy"),
    ] {
        let present = std::fs::read_to_string(format!("/proc/thread-self/net/{names}"))
            .map(|t| !t.trim().is_empty())
            .unwrap_or(false);
        if present && !read.contains(&name.trim_end_matches("-legacy")) {
            if let Some(text) = listing(save, &[]) {
                rs.chains.extend(firewall::parse_iptables_save(&text, v6));
                read.push(name);
            }
        }
    }
    (rs, read)
}

/// Would the packet filter drop the group's datagrams, or the IGMP/MLD that keeps the membership alive?
/// One finding per kind of traffic dropped; a single `ok` when none is.
pub(crate) fn firewall_check(group: &Group, iface: Option<&Interface>) -> Vec<Finding> {
    let (rs, read) = read_ruleset();
    if read.is_empty() {
        return vec![Finding::new(
            "firewall",
            Status::Skip,
            "no packet filter listed (nft and iptables-save absent from /usr/sbin and /sbin, or not permitted: \
             listing needs CAP_NET_ADMIN)",
        )];
    }
    judge_ruleset(&rs, &read, group, iface)
}

/// [`firewall_check`] on rules already read.
pub(crate) fn judge_ruleset(rs: &Ruleset, read: &[&str], group: &Group, iface: Option<&Interface>) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in packets(group, iface) {
        match rs.judge(&p) {
            Outcome::Drop(c) => out.push(
                Finding::new("firewall", Status::Fail, firewall::describe_drop(&c, &p, true))
                    .fix(firewall::fix_for(&c, &p)),
            ),
            Outcome::MaybeDrop(c) => out.push(
                Finding::new(
                    "firewall",
                    Status::Warn,
                    format!(
                        "{} (the rule has conditions this check cannot judge)",
                        firewall::describe_drop(&c, &p, false)
                    ),
                )
                .fix(firewall::fix_for(&c, &p)),
            ),
            _ => {}
        }
    }
    if out.is_empty() {
        let what = if group.port() != 0 { format!("UDP to {group}") } else { "multicast".to_string() };
        let proto = if group.is_ipv6() { "MLD" } else { "IGMP" };
        out.push(Finding::new(
            "firewall",
            Status::Ok,
            format!("no rule drops {what} or {proto} ({} read)", read.join(", ")),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_are_looked_for_in_fixed_system_directories_only() {
        for prog in ["nft", "iptables-save", "ip6tables-save", "iptables-legacy-save", "ip6tables-legacy-save"] {
            let paths = system_candidates(prog);
            assert_eq!(paths, [PathBuf::from(format!("/usr/sbin/{prog}")), PathBuf::from(format!("/sbin/{prog}"))]);
        }
        assert!(SYSTEM_PATH.split(':').all(|d| d.starts_with('/')), "the children's PATH is absolute only");
    }
}
