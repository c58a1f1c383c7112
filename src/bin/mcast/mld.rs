//! `mcast mld watch|query`: MLD on a raw ICMPv6 socket, as a watcher or a querier sees a link.

use mcast::Family;

use crate::args::Fail;
use crate::watch::Proto;

pub const SUMMARY: &str = "MLD on a raw socket: watch a link's IPv6 memberships, or query them (CAP_NET_RAW)";

pub const HELP: &str = r#"mcast mld: the IPv6 group-membership protocol (MLD, carried in ICMPv6) on a raw socket

Usage: mcast mld watch [--iface IFACE] [--json] [--time SECS] [--count N] [--mrouter]
                       [--max-groups N] [--max-sources N]
       mcast mld query [--version 1|2] [--group GROUP] [--iface IFACE] [--json] [--wait SECS]
                       [--max-resp SECS] [--mrouter]

  watch   a live table of who listens to what, per interface, learned from the reports and done
          messages on the link, with one line per change (mcast mld watch --help)
  query   send a multicast listener query, as a querier does, and list the hosts that answer
          (mcast mld query --help)

Both open socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6), which needs CAP_NET_RAW: run them as root, or
grant the binary the capability with `setcap cap_net_raw+ep $(command -v mcast)`. docs/raw-sockets.md
tells what a raw socket hears and why.
"#;

pub const WATCH_HELP: &str = r#"mcast mld watch: the IPv6 group memberships on a link, learned from its MLD reports

Usage: mcast mld watch [--iface IFACE] [--json] [--time SECS] [--count N] [--mrouter]
                       [--max-groups N] [--max-sources N]

Opens a raw ICMPv6 socket whose ICMP6_FILTER passes only the MLD types (130, 131, 132, 143), joins
ff02::16 (where MLDv2 reports go) and ff02::2 (where MLDv1 done messages go) on each interface, and
prints one line per change of the table: join, change (version, filter mode or sources), leave, or
expire (no report for 260 s), naming the group, interface, MLD version, filter mode, sources and
reporter. A query heard is shown too. The kernel's own checksum check is off on this socket
(IPV6_CHECKSUM at SOL_RAW), so a message with a bad checksum is reported, not silently dropped; any
message that is not valid MLD gets one line saying exactly why, and the watch goes on. At the end
(--time, --count or Ctrl-C) the table is printed.

What it hears: MLDv2 reports and MLDv1 done messages, from every host on the link. MLDv1 reports are
sent to the group itself, which the watcher has not joined; --mrouter hears them, for groups beyond
link-local scope (not ff02::/16). Other ICMPv6 (neighbour discovery, echo) never reaches the socket.
This host's own reports of ff02::16 and ff02::2, which the watch itself causes, are left out.

Bounded on a hostile link: anyone there can forge MLDv2 reports naming thousands of fresh groups
and sources, so the table keeps at most 4096 groups per interface (--max-groups) and 64 sources per
group (--max-sources). A new group at a full interface evicts the group reported least recently, with
an evict line, and comes back as a join if it reports again; sources past the cap are left out and
the list ends in "...". The summary counts evictions, sources left out, and the datagrams the kernel
dropped for lack of receive buffer.

Options:
{options}

Exit status: 0 done; 1 a runtime error, no CAP_NET_RAW, or --time with fewer than --count changes;
2 bad arguments; 130 at Ctrl-C, 143 at SIGTERM, after the table.

Examples:
  mcast mld watch --iface eth0
  mcast mld watch --iface eth0 --json --time 60
"#;

pub const QUERY_HELP: &str = r#"mcast mld query: send an MLD query and list who answers

Usage: mcast mld query [--version 1|2] [--group GROUP] [--iface IFACE] [--json] [--wait SECS]
                       [--max-resp SECS] [--mrouter]

A querier's question, sent once: a general query to ff02::1 (all nodes), or with --group a
multicast-address-specific one to the group, from a raw ICMPv6 socket with hop limit 1 and the
hop-by-hop Router Alert (IPV6_HOPOPTS), from the interface's link-local address. Every listener answers
within the maximum response time; each answer heard is one line (group, interface, version, record
type, sources, reporter), and a list follows. An answer is a v1 report or a v2 current-state record
(MODE_IS_INCLUDE/EXCLUDE); the state-change records a host sends unasked are not listed.
At most 4096 answers are kept and listed: any heard past that (a flood of forged reports) are
counted, not kept, and the summary says how many were left out ("left_out" with --json).

MLDv2 answers go to ff02::16, which the querier joins. MLDv1 answers go to the group they report: a
group-specific query joins the group to hear them; the answers to a general v1 query are heard only
with --mrouter (for groups beyond link-local scope). A v1 query also makes the hosts of the link fall
back to MLDv1 for a while (260 s by the defaults), as RFC 3810 requires.

Options:
{options}

Exit status: 0 some host answered; 1 none did within --wait, a runtime error, or no CAP_NET_RAW;
2 bad arguments.

Examples:
  mcast mld query --iface eth0
  mcast mld query --iface eth0 --version 1 --group ff05::1234 --max-resp 1
"#;

/// What `watch` and `query` need to know of MLD.
pub const MLD: Proto = Proto {
    family: Family::V6,
    command: "mld",
    versions: (1, 2),
    default_version: 2,
    listen: "ff02::16 and ff02::2",
    old_reports: "MLDv1",
    watch_help: WATCH_HELP,
    query_help: QUERY_HELP,
};

pub fn run(words: &[String]) -> Result<(), Fail> {
    crate::watch::dispatch(&MLD, HELP, words)
}
