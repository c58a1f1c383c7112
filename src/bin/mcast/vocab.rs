//! The options several subcommands share, defined once: the same spelling, short form and meaning
//! everywhere. A command takes one as it is, or with its own words (`TTL.help("...")`), never with another
//! meaning. Where a short form differs from iperf's, the help says so.
//!
//! Time: `--time SECS` (`-t`, as iperf) is an overall limit counted from the start; `--idle SECS` is an
//! idle timer (nothing arrived for SECS) where a command has one. `--timeout`, an older
//! spelling, keeps its old meaning as an alias of one of them, which each help names; `--interval SECS` is the report or
//! send period. Sizes take binary units (`64K`, `8M`); rates take SI units (`100M` bits/s, `2kpps`).

use crate::args::Opt;

pub const IFACE: Opt = Opt::value(
    "--iface",
    "IFACE",
    "the interface: a name (eth0), an index (2) or an address (192.168.1.10); default: the one the routing \
     table picks for the group. (-i is the interface here; iperf's -i is --interval, and its -B is --iface)",
)
.short('i');

pub const SOURCE: Opt = Opt::value(
    "--source",
    "ADDR",
    "source-specific join: accept the group only from ADDR (repeatable), as for 232.0.0.0/8 and ff3x::/96 \
     groups. setsockopt IP_ADD_SOURCE_MEMBERSHIP / MCAST_JOIN_SOURCE_GROUP",
);

pub const TTL: Opt = Opt::value(
    "--ttl",
    "N",
    "TTL (IPv4) or hop limit (IPv6) of what this side sends, 0..=255 (default 1: this link). \
     setsockopt IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS",
)
.short('T')
.alias(&["--hops"]);

pub const LOOP: Opt = Opt::flag(
    "--loop",
    "members on this host get a copy (the default); the last of --loop and --no-loop wins. \
     setsockopt IP_MULTICAST_LOOP / IPV6_MULTICAST_LOOP",
);

pub const NO_LOOP: Opt = Opt::flag("--no-loop", "members on this host get no copy");

pub const COUNT: Opt =
    Opt::value("--count", "N", "stop after N datagrams (iperf's -c names a server; here -c counts, as ping's)")
        .short('c');

pub const TIME: Opt = Opt::value(
    "--time",
    "SECS",
    "stop SECS seconds after the start (an overall limit, not an idle timer; -t as iperf's)",
)
.short('t');

pub const IDLE: Opt = Opt::value(
    "--idle",
    "SECS",
    "stop after SECS seconds with nothing arriving (an idle timer, before the first datagram too)",
)
.alias(&["--timeout"]);

pub const INTERVAL: Opt = Opt::value(
    "--interval",
    "SECS",
    "report every SECS seconds, fractions allowed (default 1; 0: no interval reports). No short form: -i is \
     --iface (iperf's -i is this option)",
);

pub const SIZE: Opt =
    Opt::value("--size", "BYTES", "UDP payload of each datagram (64K style units allowed; -l as iperf's)").short('l');

pub const RATE: Opt = Opt::value(
    "--rate",
    "RATE",
    "datagrams/s (5000, 2kpps, 1.5Mpps), bits/s of UDP payload with a unit (100M, 2.5G, 64kbit), or max \
     (flat out). Default 1M, as iperf's (-b as iperf's)",
)
.short('b');

pub const RCVBUF: Opt = Opt::value(
    "--rcvbuf",
    "BYTES",
    "receive buffer size (units allowed: 64K, 8M): setsockopt SO_RCVBUFFORCE (past net.core.rmem_max, when \
     privileged), else SO_RCVBUF; a note on standard error says when the kernel granted less (clamped). \
     -w as iperf's",
)
.short('w');

pub const SNDBUF: Opt = Opt::value(
    "--sndbuf",
    "BYTES",
    "send buffer size (units allowed: 64K, 8M): setsockopt SO_SNDBUFFORCE (past net.core.wmem_max, when \
     privileged), else SO_SNDBUF; a note on standard error says when the kernel granted less (clamped)",
);

pub const SERVE: Opt = Opt::flag("--serve", "the receiving side (-s as iperf's)").short('s');

pub const JSON: Opt = Opt::flag("--json", "one JSON object per line (docs/json.md)").short('J');

pub const QUIET: Opt = Opt::flag("--quiet", "only the summary").short('q');

pub const DSCP: Opt = Opt::value(
    "--dscp",
    "DSCP",
    "mark what this side sends with a DSCP: a number 0..=63 or a name (ef, af11..af43, cs0..cs7, le, be); \
     setsockopt IP_TOS / IPV6_TCLASS to DSCP << 2 (ECN bits 0). iperf's -S takes the whole TOS byte",
);
