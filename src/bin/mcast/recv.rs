//! `mcast recv GROUP:PORT`: join a group and print each datagram with what the kernel says about it.

use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use mcast::__private::tally::{End, Next, RecvTally, Shortfall, StopRule};
use mcast::resilient::ResilientReceiver;
use mcast::{Group, IfaceSpec, Receiver};

use crate::args::{self, Fail, Opt};
use crate::output::{self, Json, Out};
use crate::recv_print::{datagram_json, datagram_text, listening, secs, IfaceNames, Summary};
pub use crate::recv_print::{outage_json, outage_text};
use crate::tools::note;
use crate::vocab;

pub const SUMMARY: &str = "join a group and print each datagram (source, group, interface, TTL, payload)";

pub const HELP: &str = r#"mcast recv: join a multicast group and print every datagram that arrives

Usage: mcast recv GROUP:PORT [OPTIONS]
       mcast recv GROUP:PORT[,GROUP:PORT...] [GROUP:PORT [--source ADDR]...] [--interval SECS] [OPTIONS]

Binds PORT on the wildcard address (SO_REUSEADDR, so other receivers can share it), joins GROUP on each
--iface, and prints one line per datagram: arrival time (UTC), source address:port, the group it was
sent to, the interface it came in on, its TTL or hop limit, its DSCP when not 0, its length and a preview of the payload
(control and non-ASCII bytes escaped as \xNN). A summary follows at the end (--count, --time or
Ctrl-C): datagrams, bytes, each source, the datagrams the kernel dropped for want of buffer space, and
any outage. A datagram too big for the 65535-byte buffer is marked "truncated". A line "listening ..."
on standard error says when the group is joined.

The receiver outlives its interfaces: when one it joined on goes down, loses its carrier, or is deleted
and made again under the same name (a new index), it hears of it from the kernel (a NETLINK_ROUTE
socket), joins again once the interface is back, and says so on standard error. The summary lists each
outage: the interface, what happened, when, how long, and the datagrams missed where the sender numbers
them (mcast perf and ping do; see docs/protocol.md). Per-source counts are kept for at most 4096 sources;
one silent for 10 minutes, or the longest silent when the table is full, is dropped from the list (the
totals still count it, and the summary says how many were dropped).

Several groups: give ranges (239.1.1.1-239.1.1.50:5000, 239.1.1.1-50:5000, [ff15::1-ff15::20]:5000), comma
lists or several arguments, IPv4 and IPv6 mixed; --source after a group argument applies to it alone
(before any group, to all). Linux limits memberships per socket (net.ipv4.igmp_max_memberships, 20 by
default, ENOBUFS past it; net.core.optmem_max for IPv6), so the groups are spread over as many sockets as
needed, all on the port. Every --interval SECS (default 1, 0: none) one line gives each group's datagrams,
bytes and rate since the last ({"type":"interval",...} with --json); the end prints a table per group.
--count then counts the datagrams of all groups.

Options, with the C socket option each one sets:
{options}
Always set: IP_MULTICAST_ALL / IPV6_MULTICAST_ALL off (only this socket's groups arrive, not those other
sockets joined on the port; on for the reader of --one-reader, which tells them apart itself), IP_PKTINFO /
IPV6_RECVPKTINFO (group and interface), IP_RECVTTL / IPV6_RECVHOPLIMIT (TTL), IP_RECVTOS / IPV6_RECVTCLASS
(DSCP), SO_TIMESTAMPNS (arrival time), SO_RXQ_OVFL (drops, shown in the summary).

Exit status: 0 when --count datagrams arrived; 1 when --time passed with fewer than --count
datagrams (or with none, without --count), or on a runtime error; 2 bad arguments; 130 at Ctrl-C
(SIGINT), 143 at SIGTERM, after the summary. A closed standard output (mcast recv ... | head -1) ends
it quietly with 0.

Examples:
  mcast recv 239.1.2.3:5000                        every datagram, until Ctrl-C
  mcast recv '[ff02::1234]:5000' --iface eth0 --count 1 --time 5 --json
                                                   one datagram as JSON, or exit 1 after 5 s
  mcast recv 232.1.1.1:5000 --source 192.0.2.7 --iface eth0
                                                   SSM: only what 192.0.2.7 sends
"#;

/// The options of `mcast recv`, one group or many.
pub const OPTS: &[Opt] = &[
    vocab::IFACE.help(
        "join on this interface (name, index or address); repeat it for several. Default: the interface the \
         routing table picks for the group. setsockopt IP_ADD_MEMBERSHIP (struct ip_mreq, or ip_mreqn by \
         index) / IPV6_JOIN_GROUP (struct ipv6_mreq). (iperf's -i is --interval; its -B is this)",
    ),
    vocab::SOURCE,
    vocab::COUNT.help("exit after N datagrams (iperf's -c names a server; here -c counts, as ping's)"),
    vocab::TIME
        .help(
            "an overall deadline, counted from the start (not an idle timer): stop listening SECS seconds \
             after the join, whatever has arrived (-t as iperf's)",
        )
        .alias(&["--timeout"]),
    vocab::RCVBUF.help(
        "receive buffer size (units allowed: 64K, 8M): setsockopt SO_RCVBUFFORCE (past net.core.rmem_max, \
         when privileged), else SO_RCVBUF. The kernel doubles the value for its bookkeeping; a note on \
         standard error says when it granted less than asked (clamped). -w as iperf's",
    ),
    vocab::INTERVAL.help(
        "every SECS seconds, one line per group with its datagrams, bytes and rate since the last \
         (default 1 with several groups, none with one; 0: none). It adds these lines and changes nothing else. No short form: -i is --iface (iperf's -i is this)",
    ),
    Opt::flag(
        "--bind-group",
        "give each group its own socket bound to the group's address and port, rather than spreading the \
         groups over sockets bound to the port: the kernel then finds a datagram's socket by its address, so \
         each costs the same with 10,000 groups as with one; a descriptor per group (the soft open-file limit \
         is raised as needed), and unicast to the port is not received",
    ),
    Opt::flag(
        "--one-reader",
        "read every group through one socket on the port (IP_MULTICAST_ALL on, no membership of its own) \
         while unbound sockets hold the memberships: each datagram costs the same with 10,000 groups as with \
         one, without a descriptor per group; groups other programs joined on the port arrive too and are \
         counted as strays",
    ),
    vocab::QUIET.help("no line per datagram and no \"listening\" line: only the summary"),
    Opt::flag(
        "--raw",
        "pipe mode: write each datagram's payload to standard output as it is, binary-safe, and nothing else \
         (notes and the summary go to standard error); one group only",
    ),
    vocab::JSON.help(
        "one JSON object per line: {\"type\":\"datagram\",...} per datagram (with \"payload\" as text when \
         it is UTF-8, else null, and \"payload_hex\" always), then {\"type\":\"summary\",...} (docs/json.md)",
    ),
];

const USAGE: &str = "mcast recv GROUP:PORT [OPTIONS]";

/// The largest datagram IP can carry; anything bigger (GRO, jumbograms) is reported truncated.
const BUFFER: usize = 65_535;

/// Longest single wait: bounds how late a Ctrl-C that lands just before `poll` is noticed.
const SLICE: Duration = Duration::from_millis(500);

/// The exit of both receive modes: a failure when the timeout passed before the count of datagrams arrived,
/// or with none at all when no count was asked for.
pub fn outcome(rule: &StopRule, end: End, arrived: u64, elapsed: Duration) -> Result<(), Fail> {
    match rule.shortfall(end, arrived) {
        Some(Shortfall::Fewer { wanted }) => {
            Err(Fail::runtime(format!("timed out after {} s: {arrived} of {wanted} datagrams arrived", secs(elapsed))))
        }
        Some(Shortfall::Nothing) => Err(Fail::runtime(format!("timed out after {} s: nothing arrived", secs(elapsed)))),
        None => Ok(()),
    }
}

/// The interval lines of one group: what arrived since the last one, every `every`.
struct Meter {
    every: Duration,
    due: Instant,
    last: Instant,
    /// Datagrams and bytes counted at the last line.
    mark: (u64, u64),
}

impl Meter {
    fn new(every: Duration, start: Instant) -> Meter {
        Meter { every, due: start + every, last: start, mark: (0, 0) }
    }

    /// The line for the interval ending `now`, in the shape the many-group mode gives it (the group listed
    /// when it was heard, else counted as silent); starts the next interval.
    fn line(&mut self, group: Group, tally: &RecvTally, now: Instant, json: bool) -> String {
        let (dgrams, bytes) = (tally.datagrams - self.mark.0, tally.bytes - self.mark.1);
        let secs = now.saturating_duration_since(self.last).as_secs_f64().max(1e-9);
        let (pps, bps) = (dgrams as f64 / secs, bytes as f64 * 8.0 / secs);
        self.mark = (tally.datagrams, tally.bytes);
        self.last = now;
        self.due = now + self.every;
        let heard = dgrams > 0;
        if json {
            let row = Json::new()
                .group(group)
                .int("datagrams", dgrams)
                .int("bytes", bytes)
                .float("pps", pps)
                .float("bps", bps)
                .int("total_datagrams", tally.datagrams)
                .int("total_bytes", tally.bytes)
                .finish();
            return Json::new()
                .str("type", "interval")
                .float("time", output::unix_seconds(SystemTime::now()))
                .float("interval", secs)
                .int("datagrams", dgrams)
                .int("bytes", bytes)
                .raw("groups", &output::array(heard.then_some(row)))
                .int("silent", u64::from(!heard))
                .finish();
        }
        format!(
            "{}  {dgrams} datagrams ({pps:.1}/s, {}), {} of 1 group heard",
            output::time_of_day(SystemTime::now()),
            crate::recv_groups_print::rate_text(bps),
            u8::from(heard)
        )
    }
}

/// What the command line asks of one group.
struct Request {
    rx: Receiver,
    group: Group,
    count: Option<u64>,
    timeout: Option<Duration>,
    rcvbuf: Option<u32>,
    quiet: bool,
    json: bool,
    raw: bool,
    interval: Option<Duration>,
}

fn request(words: &[String]) -> Result<Option<Request>, Fail> {
    let Some(m) = args::command_line(words, OPTS, HELP)? else { return Ok(None) };
    let pos = m.positionals(1, 1, "GROUP:PORT", USAGE)?;
    let group = Group::parse_with_port(&pos[0])?;
    let ifaces: Vec<IfaceSpec> = m
        .values("--iface")
        .map(|v| v.parse().map_err(|e| Fail::usage(format!("--iface {v}: {e}"))))
        .collect::<Result<_, _>>()?;
    let sources: Vec<IpAddr> = m
        .values("--source")
        .map(|v| v.parse().map_err(|_| Fail::usage(format!("--source {v}: not an IPv4 or IPv6 address"))))
        .collect::<Result<_, _>>()?;
    let count = m.int_in("--count", 1, u64::MAX)?;
    let timeout = m.seconds("--time")?;
    let rcvbuf = m.bytes("--rcvbuf", 1, i32::MAX as u64)?.map(|n| n as u32);
    let (quiet, json, raw) = (m.flag("--quiet"), m.flag("--json"), m.flag("--raw"));
    if raw && json {
        return Err(Fail::usage("--raw and --json: give one of them"));
    }
    let mut builder = Receiver::builder(group);
    for i in ifaces {
        builder = builder.interface(i);
    }
    for s in sources {
        builder = builder.source(s);
    }
    let interval = m.seconds("--interval")?.filter(|i| !i.is_zero());
    Ok(Some(Request { rx: builder.build()?, group, count, timeout, rcvbuf, quiet, json, raw, interval }))
}

pub fn run(words: &[String]) -> Result<(), Fail> {
    if crate::recv_groups::wanted(words) {
        return crate::recv_groups::run(words);
    }
    let Some(req) = request(words)? else { return Ok(()) };
    let (group, quiet, json, raw) = (req.group, req.quiet, req.json, req.raw);
    let rcvbuf = match req.rcvbuf {
        Some(bytes) => {
            let b = req.rx.socket().request_recv_buffer(bytes)?;
            if b.clamped() {
                note(&format!("mcast recv: {b}"));
            }
            Some(b)
        }
        None => None,
    };
    let mut rx = ResilientReceiver::new(req.rx)?;
    mcast::__private::signal::catch_interrupts().map_err(|e| Fail::runtime(format!("sigaction: {e}")))?;
    if !quiet {
        note(&listening(&rx, group));
    }

    let start = Instant::now();
    let rule = StopRule::new(start, req.count, req.timeout, SLICE);
    let mut tally = RecvTally::default();
    let mut names = IfaceNames::default();
    let mut out = Out::new();
    let mut buf = vec![0u8; BUFFER];
    let mut meter = req.interval.map(|every| Meter::new(every, start));
    let end = loop {
        let now = Instant::now();
        if let Some(m) = meter.as_mut().filter(|m| now >= m.due) {
            let line = m.line(group, &tally, now, json);
            if !raw {
                out.line(&line)?;
            }
        }
        let wait = match rule.next(tally.datagrams, mcast::__private::signal::interrupted(), now) {
            Next::Wait(w) => meter.as_ref().map_or(w, |m| w.min(m.due.saturating_duration_since(now))),
            Next::Stop(end) => break end,
        };
        let got = rx.recv_timeout(&mut buf, wait)?;
        for notice in rx.take_notices() {
            if !quiet {
                note(&format!("mcast recv: {notice}"));
            }
        }
        let Some(meta) = got else { continue };
        tally.add(&meta, Instant::now());
        let payload = buf.get(..meta.len).unwrap_or(&buf);
        if raw {
            out.bytes(payload)?;
            continue;
        }
        if quiet {
            continue;
        }
        let iface = meta.ifindex.map(|i| names.name(i));
        let line = if json {
            datagram_json(tally.datagrams, group, &meta, iface.as_deref(), payload)
        } else {
            datagram_text(group, &meta, iface.as_deref(), payload)
        };
        out.line(&line)?;
    };

    let elapsed = start.elapsed();
    tally.settle_drops(rx.socket().kernel_drops().unwrap_or(0));
    let outages: Vec<_> = rx.outages().cloned().collect();
    let summary = Summary { group, tally: &tally, rcvbuf, outages: &outages, elapsed };
    if json {
        out.line(&summary.json(end))?;
    } else if raw {
        if !quiet {
            note(&summary.text());
        }
    } else {
        out.text(&summary.text())?;
    }
    outcome(&rule, end, tally.datagrams, elapsed)
}
