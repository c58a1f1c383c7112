//! `mcast recv GROUP:PORT`: join a group and print each datagram with what the kernel says about it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use mcast::buffers::BufferSize;
use mcast::resilient::{Outage, ResilientReceiver};
use mcast::senders::SenderTable;
use mcast::{Group, IfaceSpec, Interface, Receiver, RecvMeta};

use crate::args::{self, Fail, Opt};
use crate::output::{self, plural, preview, Json, Out};

pub const SUMMARY: &str = "join a group and print each datagram (source, group, interface, TTL, payload)";

pub const HELP: &str = r#"mcast recv: join a multicast group and print every datagram that arrives

Usage: mcast recv GROUP:PORT [OPTIONS]
       mcast recv GROUP:PORT[,GROUP:PORT...] [GROUP:PORT [--source ADDR]...] [--interval SECS] [OPTIONS]

Binds PORT on the wildcard address (SO_REUSEADDR, so other receivers can share it), joins GROUP on each
--iface, and prints one line per datagram: arrival time (UTC), source address:port, the group it was
sent to, the interface it came in on, its TTL or hop limit, its length and a preview of the payload
(control and non-ASCII bytes escaped as \xNN). A summary follows at the end (--count, --timeout or
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
  --iface IFACE, -i    join on this interface (name, index or address); repeat it for several.
                       Default: the interface the routing table picks for the group.
                       setsockopt IP_ADD_MEMBERSHIP (struct ip_mreq, or ip_mreqn by index) /
                       IPV6_JOIN_GROUP (struct ipv6_mreq)
  --source ADDR        source-specific multicast: accept the group only from ADDR (repeatable), as for
                       232.0.0.0/8 and ff3x::/96 groups.
                       setsockopt IP_ADD_SOURCE_MEMBERSHIP / MCAST_JOIN_SOURCE_GROUP
  --count N, -c N      exit after N datagrams
  --timeout SECS       an overall deadline, counted from the start (not an idle timer): stop listening
                       SECS seconds after the join, whatever has arrived
  --rcvbuf BYTES       receive buffer size: setsockopt SO_RCVBUFFORCE (past net.core.rmem_max, when
                       privileged), else SO_RCVBUF. The kernel doubles the value for its bookkeeping; a
                       note on standard error says when it granted less than asked (clamped).
  --quiet, -q          no line per datagram and no "listening" line: only the summary
  --json               one JSON object per line: {"type":"datagram",...} per datagram (with "payload" as
                       text when it is UTF-8, else null, and "payload_hex" always), then
                       {"type":"summary",...}
  -h, --help           this help
Always set: IP_MULTICAST_ALL / IPV6_MULTICAST_ALL off (only this socket's groups arrive, not those other
sockets joined on the port), IP_PKTINFO / IPV6_RECVPKTINFO (group and interface), IP_RECVTTL /
IPV6_RECVHOPLIMIT (TTL), SO_TIMESTAMPNS (arrival time), SO_RXQ_OVFL (drops, shown in the summary).

Exit status: 0 when --count datagrams arrived; 1 when --timeout passed with fewer than --count
datagrams (or with none, without --count), or on a runtime error; 2 bad arguments; 130 at Ctrl-C
(SIGINT), 143 at SIGTERM, after the summary. A closed standard output (mcast recv ... | head -1) ends
it quietly with 0.

Examples:
  mcast recv 239.1.2.3:5000                        every datagram, until Ctrl-C
  mcast recv '[ff02::1234]:5000' --iface eth0 --count 1 --timeout 5 --json
                                                   one datagram as JSON, or exit 1 after 5 s
  mcast recv 232.1.1.1:5000 --source 192.0.2.7 --iface eth0
                                                   SSM: only what 192.0.2.7 sends
"#;

const OPTS: &[Opt] = &[
    Opt::value(&["--iface", "-i"], "IFACE"),
    Opt::value(&["--source"], "ADDR"),
    Opt::value(&["--count", "-c"], "N"),
    Opt::value(&["--timeout"], "SECS"),
    Opt::value(&["--rcvbuf"], "BYTES"),
    Opt::flag(&["--quiet", "-q"]),
    Opt::flag(&["--json"]),
];

const USAGE: &str = "mcast recv GROUP:PORT [OPTIONS]";

/// The largest datagram IP can carry; anything bigger (GRO, jumbograms) is reported truncated.
const BUFFER: usize = 65_535;

/// Bytes of payload shown on a text line.
const PREVIEW: usize = 64;

/// Longest single wait: bounds how late a Ctrl-C that lands just before `poll` is noticed.
const SLICE: Duration = Duration::from_millis(500);

/// Why listening stopped, in both receive modes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum End {
    Count,
    Timeout,
    Interrupted,
}

impl End {
    /// The summary's "end" value.
    pub fn name(self) -> &'static str {
        match self {
            End::Count => "count",
            End::Timeout => "timeout",
            End::Interrupted => "interrupted",
        }
    }
}

/// The exit of both receive modes: a failure when the timeout passed before `count` datagrams arrived, or
/// with none at all when no count was asked for.
pub fn outcome(end: End, count: Option<u64>, arrived: u64, elapsed: Duration) -> Result<(), Fail> {
    match (end, count) {
        (End::Timeout, Some(c)) if arrived < c => {
            Err(Fail::runtime(format!("timed out after {} s: {arrived} of {c} datagrams arrived", secs(elapsed))))
        }
        (End::Timeout, None) if arrived == 0 => {
            Err(Fail::runtime(format!("timed out after {} s: nothing arrived", secs(elapsed))))
        }
        _ => Ok(()),
    }
}

/// What has arrived so far.
#[derive(Default)]
struct Tally {
    datagrams: u64,
    bytes: u64,
    truncated: u64,
    drops: u32,
    /// Per source address and port: datagrams, bytes (bounded: the longest silent are dropped).
    sources: SenderTable<SocketAddr, (u64, u64)>,
    /// Interface outages, from the resilient receiver.
    outages: Vec<Outage>,
    /// The receive buffer, when --rcvbuf set it.
    rcvbuf: Option<BufferSize>,
}

pub fn run(words: &[String]) -> Result<(), Fail> {
    if crate::recv_groups::wanted(words) {
        return crate::recv_groups::run(words);
    }
    let Some(m) = args::command_line(words, OPTS, HELP)? else { return Ok(()) };
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
    let timeout = m.seconds("--timeout")?;
    let rcvbuf = m.int_in("--rcvbuf", 1, i32::MAX as u64)?.map(|n| n as u32);
    let (quiet, json) = (m.flag("--quiet"), m.flag("--json"));

    let mut builder = Receiver::builder(group);
    for i in ifaces {
        builder = builder.interface(i);
    }
    for s in sources {
        builder = builder.source(s);
    }
    let rx = builder.build()?;
    let mut tally = Tally::default();
    if let Some(bytes) = rcvbuf {
        let b = rx.socket().request_recv_buffer(bytes)?;
        if b.clamped() {
            eprintln_note(&format!("mcast recv: {b}"));
        }
        tally.rcvbuf = Some(b);
    }
    let mut rx = ResilientReceiver::new(rx)?;
    mcast::sys::signal::catch_interrupts().map_err(|e| Fail::runtime(format!("sigaction: {e}")))?;
    if !quiet {
        eprintln_note(&listening(&rx, group));
    }

    let start = Instant::now();
    let deadline = timeout.map(|t| start + t);
    let mut names = IfaceNames::default();
    let mut out = Out::new();
    let mut buf = vec![0u8; BUFFER];
    let end = loop {
        if count.is_some_and(|c| tally.datagrams >= c) {
            break End::Count;
        }
        if mcast::sys::signal::interrupted() {
            break End::Interrupted;
        }
        let wait = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => left.min(SLICE),
                _ => break End::Timeout,
            },
            None => SLICE,
        };
        let got = rx.recv_timeout(&mut buf, wait)?;
        for notice in rx.take_notices() {
            if !quiet {
                eprintln_note(&format!("mcast recv: {notice}"));
            }
        }
        let Some(meta) = got else { continue };
        tally.add(&meta);
        if quiet {
            continue;
        }
        let payload = buf.get(..meta.len).unwrap_or(&buf);
        let iface = meta.ifindex.map(|i| names.name(i));
        let line = if json {
            datagram_json(tally.datagrams, group, &meta, iface.as_deref(), payload)
        } else {
            datagram_text(group, &meta, iface.as_deref(), payload)
        };
        out.line(&line)?;
    };

    let elapsed = start.elapsed();
    // SO_MEMINFO counts every drop up to now; the last datagram's SO_RXQ_OVFL misses those after it.
    tally.drops = tally.drops.max(rx.socket().kernel_drops().unwrap_or(0));
    tally.outages = rx.outages().cloned().collect();
    if json {
        out.line(&tally.json(group, elapsed, end))?;
    } else {
        out.text(&tally.text(group, elapsed))?;
    }
    outcome(end, count, tally.datagrams, elapsed)
}

/// A note on standard error; standard output stays data only.
pub fn eprintln_note(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// "mcast recv: listening on 239.1.2.3:5000, joined on eth0": what the receiver did, once it is ready.
fn listening(rx: &ResilientReceiver, group: Group) -> String {
    let joins: Vec<String> = rx
        .memberships()
        .iter()
        .map(|m| {
            let on = m.iface.as_ref().map_or("the routing table's interface".to_string(), |i| i.name.clone());
            match m.source {
                Some(s) => format!("({s}, {}) on {on}", m.group.ip()),
                None => format!("{} on {on}", m.group.ip()),
            }
        })
        .collect();
    format!("mcast recv: listening on port {}, joined {} (Ctrl-C stops)", group.port(), joins.join(", "))
}

fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

fn arrival(meta: &RecvMeta) -> SystemTime {
    meta.timestamp.unwrap_or_else(SystemTime::now)
}

fn datagram_text(group: Group, meta: &RecvMeta, iface: Option<&str>, payload: &[u8]) -> String {
    let dst = meta.group.unwrap_or(group.ip());
    let ttl = meta.ttl.map_or("-".to_string(), |t| t.to_string());
    let size = if meta.truncated {
        format!("{} bytes (truncated to {})", meta.full_len, meta.len)
    } else {
        format!("{} bytes", meta.len)
    };
    format!(
        "{}  {} -> {} on {}  ttl {ttl}  {size}  \"{}\"",
        output::time_of_day(arrival(meta)),
        meta.source,
        dst,
        iface.unwrap_or("?"),
        preview(payload, PREVIEW)
    )
}

fn datagram_json(seq: u64, group: Group, meta: &RecvMeta, iface: Option<&str>, payload: &[u8]) -> String {
    Json::new()
        .str("type", "datagram")
        .int("seq", seq)
        .float("time", output::unix_seconds(arrival(meta)))
        .str("source", &meta.source.ip().to_string())
        .int("source_port", meta.source.port())
        .str("group", &meta.group.unwrap_or(group.ip()).to_string())
        .int("port", group.port())
        .opt_str("iface", iface)
        .opt_int("ifindex", meta.ifindex)
        .opt_int("ttl", meta.ttl)
        .int("len", meta.full_len as u64)
        .int("captured", meta.len as u64)
        .bool("truncated", meta.truncated)
        .opt_str("payload", std::str::from_utf8(payload).ok())
        .str("payload_hex", &output::hex(payload))
        .finish()
}

impl Tally {
    fn add(&mut self, meta: &RecvMeta) {
        self.datagrams += 1;
        self.bytes += meta.full_len as u64;
        self.truncated += u64::from(meta.truncated);
        if let Some(d) = meta.drops {
            self.drops = d;
        }
        let e = self.sources.entry(meta.source, Instant::now());
        e.0 += 1;
        e.1 += meta.full_len as u64;
    }

    fn text(&self, group: Group, elapsed: Duration) -> String {
        let n = self.sources.len();
        let mut s = format!(
            "--- {group}: {} datagram{}, {} bytes from {n} source{} in {} s",
            self.datagrams,
            plural(self.datagrams),
            self.bytes,
            plural(n as u64),
            secs(elapsed)
        );
        if self.truncated > 0 {
            s.push_str(&format!(", {} truncated", self.truncated));
        }
        if self.drops > 0 {
            s.push_str(&format!(", {} dropped by the kernel (receive buffer full)", self.drops));
        }
        if let Some(b) = &self.rcvbuf {
            s.push_str(&format!(", receive buffer {} bytes", b.effective));
        }
        for (src, (d, b)) in self.sorted_sources() {
            s.push_str(&format!("\n    {src}  {d} datagram{}, {b} bytes", plural(d)));
        }
        if self.sources.forgotten() > 0 {
            s.push_str(&format!(
                "\n    ({} more source{} dropped from this list: at most {} kept, each for {} s of silence)",
                self.sources.forgotten(),
                plural(self.sources.forgotten()),
                self.sources.cap(),
                self.sources.max_age().as_secs()
            ));
        }
        for o in &self.outages {
            s.push_str(&format!("\n    outage: {}", outage_text(o)));
        }
        s
    }

    fn sorted_sources(&self) -> Vec<(SocketAddr, (u64, u64))> {
        let mut v: Vec<_> = self.sources.iter().map(|(a, c)| (*a, *c)).collect();
        v.sort_unstable();
        v
    }

    fn json(&self, group: Group, elapsed: Duration, end: End) -> String {
        let sources = output::array(self.sorted_sources().into_iter().map(|(src, (d, b))| {
            Json::new()
                .str("address", &src.ip().to_string())
                .int("port", src.port())
                .int("datagrams", d)
                .int("bytes", b)
                .finish()
        }));
        let outages = output::array(self.outages.iter().map(outage_json));
        Json::new()
            .str("type", "summary")
            .str("group", &group.ip().to_string())
            .int("port", group.port())
            .int("datagrams", self.datagrams)
            .int("bytes", self.bytes)
            .int("truncated", self.truncated)
            .int("drops", self.drops)
            .opt_int("rcvbuf", self.rcvbuf.map(|b| b.effective))
            .float("elapsed", elapsed.as_secs_f64())
            .str("end", end.name())
            .raw("sources", &sources)
            .int("sources_dropped", self.sources.forgotten())
            .raw("outages", &outages)
            .finish()
    }
}

/// "vb deleted at 12:00:01.234, back as index 9 (was 4) after 1.250 s, 61 datagrams missed".
pub fn outage_text(o: &Outage) -> String {
    let mut s = format!("{} {} at {}", o.iface, o.cause, output::time_of_day(o.start));
    match (o.duration, o.new_index) {
        (Some(d), Some(i)) if i != o.old_index => {
            s.push_str(&format!(", back as index {i} (was {}) after {} s", o.old_index, secs(d)))
        }
        (Some(d), _) => s.push_str(&format!(", back after {} s", secs(d))),
        (None, _) => s.push_str(", not back yet"),
    }
    if let Some(n) = o.missed {
        s.push_str(&format!(", {n} datagram{} missed", plural(n)));
    }
    if let Some(e) = &o.rejoin_error {
        s.push_str(&format!(" (rejoining failed: {e})"));
    }
    s
}

pub fn outage_json(o: &Outage) -> String {
    Json::new()
        .str("iface", &o.iface)
        .str("cause", &o.cause.to_string())
        .float("start", output::unix_seconds(o.start))
        .opt_float("duration", o.duration.map(|d| d.as_secs_f64()))
        .int("old_index", o.old_index)
        .opt_int("new_index", o.new_index)
        .opt_int("missed", o.missed)
        .opt_str("rejoin_error", o.rejoin_error.as_deref())
        .finish()
}

/// Interface names by index, looked up once each (an interface that appears later is found then).
#[derive(Default)]
struct IfaceNames {
    known: HashMap<u32, String>,
}

impl IfaceNames {
    fn name(&mut self, index: u32) -> String {
        if !self.known.contains_key(&index) {
            if let Ok(list) = Interface::list() {
                // Re-created interfaces take new indices: start afresh rather than grow for ever.
                if self.known.len() > 1024 {
                    self.known.clear();
                }
                self.known.extend(list.into_iter().map(|i| (i.index, i.name)));
            }
        }
        self.known.get(&index).cloned().unwrap_or_else(|| format!("#{index}"))
    }
}
