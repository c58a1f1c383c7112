//! `mcast igmp watch|query`: IGMP on a raw socket, as a watcher or a querier sees a link.

use mcast::Family;

use crate::args::Fail;
use crate::watch::Proto;

pub const SUMMARY: &str = "IGMP on a raw socket: watch a link's memberships, or query them (CAP_NET_RAW)";

pub const HELP: &str = r#"mcast igmp: the IPv4 group-membership protocol on a raw socket

Usage: mcast igmp watch [--iface IFACE] [--json] [--time SECS] [--count N] [--mrouter]
                        [--max-groups N] [--max-sources N]
       mcast igmp query [--version 1|2|3] [--group GROUP] [--iface IFACE] [--json] [--wait SECS]
                        [--max-resp SECS] [--mrouter]

  watch   a live table of who is a member of what, per interface, learned from the reports and leaves
          on the link, with one line per change (mcast igmp watch --help)
  query   send a membership query, as a querier does, and list the hosts that answer
          (mcast igmp query --help)

Both open socket(AF_INET, SOCK_RAW, IPPROTO_IGMP), which needs CAP_NET_RAW: run them as root, or grant
the binary the capability with `setcap cap_net_raw+ep $(command -v mcast)`. docs/raw-sockets.md tells
what a raw socket hears and why.
"#;

pub const WATCH_HELP: &str = r#"mcast igmp watch: the group memberships on a link, learned from its IGMP reports and leaves

Usage: mcast igmp watch [--iface IFACE] [--json] [--time SECS] [--count N] [--mrouter]
                        [--max-groups N] [--max-sources N]

Opens a raw IGMP socket, joins 224.0.0.22 (where IGMPv3 reports go) and 224.0.0.2 (where IGMPv2
leaves go) on each interface, and prints one line per change of the table: a group joined (join), its
version, filter mode or sources changed (change), a host left it (leave), or no report came for 260 s
(expire). Each line names the group, the interface, the IGMP version, the filter mode (EXCLUDE with no
sources is a plain join), the sources and the reporter. A query heard on the link is shown too, and a
datagram that is not valid IGMP gets one line saying exactly why (bad checksum, truncated, unknown type,
a record count larger than the packet...); the watch goes on. At the end (--time, --count or
Ctrl-C) the table is printed.

What it hears: IGMPv3 reports and IGMPv2 leaves, from every host on the link. IGMPv1/v2 reports are
sent to the group itself, which the watcher has not joined, so IP drops them before any socket sees
them; --mrouter hears them, for groups outside 224.0.0.0/24. This host's own reports of 224.0.0.22 and
224.0.0.2, which the watch itself causes, are left out.

Bounded on a hostile link: anyone there can forge IGMPv3 reports naming thousands of fresh groups
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
  mcast igmp watch --iface eth0
  mcast igmp watch --iface eth0 --json --time 60
"#;

pub const QUERY_HELP: &str = r#"mcast igmp query: send an IGMP membership query and list who answers

Usage: mcast igmp query [--version 1|2|3] [--group GROUP] [--iface IFACE] [--json] [--wait SECS]
                        [--max-resp SECS] [--mrouter]

A querier's question, sent once: a general query to 224.0.0.1 (all hosts), or with --group a
group-specific one to the group, from a raw IGMP socket, in an IPv4 header with TTL 1, TOS 0xc0 and the
Router Alert option (IP_HDRINCL). Every member answers within the maximum response time; each answer
heard is one line (group, interface, version, record type, sources, reporter), and a list follows.
An answer is a v1/v2 report or a v3 current-state record (MODE_IS_INCLUDE/EXCLUDE); the state-change
records a host sends unasked when it joins or leaves are not answers and are not listed.
At most 4096 answers are kept and listed: any heard past that (a flood of forged reports) are
counted, not kept, and the summary says how many were left out ("left_out" with --json).

IGMPv3 answers go to 224.0.0.22, which the querier joins. IGMPv1/v2 answers go to the group they
report: a group-specific query joins the group to hear them; the answers to a general v1/v2 query are
heard only with --mrouter (for groups outside 224.0.0.0/24). A v1 or v2 query also makes the hosts of
the link fall back to that version for a while (260 s by the defaults), as RFC 3376 requires.

Options:
{options}

Exit status: 0 some host answered; 1 none did within --wait, a runtime error, or no CAP_NET_RAW;
2 bad arguments.

Examples:
  mcast igmp query --iface eth0
  mcast igmp query --iface eth0 --version 2 --group 239.1.2.3 --max-resp 1
"#;

/// What `watch` and `query` need to know of IGMP.
pub const IGMP: Proto = Proto {
    family: Family::V4,
    command: "igmp",
    versions: (1, 3),
    default_version: 3,
    listen: "224.0.0.22 and 224.0.0.2",
    old_reports: "IGMPv1/v2",
    watch_help: WATCH_HELP,
    query_help: QUERY_HELP,
};

pub fn run(words: &[String]) -> Result<(), Fail> {
    crate::watch::dispatch(&IGMP, HELP, words)
}
