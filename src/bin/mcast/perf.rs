//! `mcast perf GROUP:PORT`: send numbered datagrams at a paced rate or flat out (UDP GSO when it can);
//! `mcast perf --serve GROUP:PORT`: receive them in batches and report rate, loss, duplicates, reordering,
//! jitter (RFC 3550) and the kernel's own drop count, per sender. The work is `mcast::perf`'s; this
//! parses, runs the engine step by step and prints (`perf_lines` formats).

use std::time::Duration;

use mcast::gso::SendPath;
use mcast::perf::Rate;
use mcast::perf::{PerfSender, PerfServer, SendEvent, ServeEvent, Step, MAX_SESSIONS_LIMIT};
use mcast::wire::proto;
use mcast::Group;

use crate::args::{self, Fail, Matches, Opt};
use crate::output::Out;
use crate::perf_lines::{self as lines, Style};
use crate::tools;
use crate::vocab;

pub const SUMMARY: &str = "throughput test: send paced or flat out, receive and report loss, jitter, drops";

pub const HELP: &str = r#"mcast perf: multicast throughput, loss and jitter (like iperf's multicast mode)

Usage: mcast perf GROUP:PORT [OPTIONS]          send
       mcast perf --serve GROUP:PORT [OPTIONS]  receive and report (several may run at once)

The sender sends numbered datagrams (the mcast header, docs/protocol.md, then filler) at --rate for
--time seconds or --count datagrams, then an end marker carrying the count sent. It hands the kernel up
to 64 datagrams per call: UDP_SEGMENT (GSO) when the kernel and route take it, else sendmmsg, else
sendto. A receiver reads with recvmmsg (and UDP_GRO), and reports per sender, every --interval and at
the end: datagrams/s, bits/s, loss, duplicates, reordering, jitter (RFC 3550) and the datagrams the
kernel dropped for want of buffer space (SO_RXQ_OVFL).

iperf 2 on the wire: a receiver also counts an iperf 2.1 client's stream (iperf -c GROUP -u -T 1), from
its datagrams' sequence numbers, send times and final negative number, as a session of id 00000000 from
the client's address and port: exact loss, reordering and jitter. With --iperf the sender sends iperf's
datagrams, and an iperf -s -u -B GROUP server reports the loss and jitter of the run.

{options}
A receiver also stops once every sender it heard data from has sent its end marker and its datagrams
are in (or a second has passed since the marker), or at Ctrl-C. Its final report lists the 64
sessions that received the most, and counts the others, the sessions forgotten and the datagrams
that were not perf datagrams (foreign).

Exit status: 0 after a run (sender) or when data arrived (receiver); 1 when nothing arrived or on a
runtime error; 2 bad arguments; 130 at Ctrl-C (SIGINT), 143 at SIGTERM, after the report.

Examples:
  mcast perf --serve 239.1.2.3:5001 --iface eth0
  mcast perf 239.1.2.3:5001 --iface eth0 --rate 100M --time 5 --size 1400
  mcast perf 239.1.2.3:5001 --iface eth0 --rate max --count 1000000 --size 64
  mcast perf 239.1.2.3:5001 --iface eth0 --iperf --rate 10M --time 5 (to iperf -s -u -B 239.1.2.3)
"#;

pub const OPTS: &[Opt] = &[
    Opt::heading("Options (both sides):"),
    vocab::SERVE.help("receive and report instead of sending (-s as iperf's)"),
    vocab::IFACE.help(
        "join on / send from this interface (name, index or address). (iperf's -i is --interval; its -B is this)",
    ),
    vocab::INTERVAL,
    vocab::COUNT.help(
        "sender: send N datagrams. Receiver: stop once N datagrams have arrived; also the count expected when \
         no end marker comes (so loss is counted against N). (iperf's -c names a server; here -c counts)",
    ),
    vocab::TIME.help(
        "sender: send for SECS seconds (default 10, unless --count). Receiver: stop SECS seconds after the \
         first datagram. (-t as iperf's)",
    ),
    vocab::JSON.help("JSON objects, one per line: \"interval\", \"sender\" or \"session\", \"summary\" (docs/json.md)"),
    vocab::QUIET.help("only the final report"),
    Opt::heading("Sender options:"),
    vocab::RATE,
    vocab::SIZE.help("UDP payload of each datagram, 28..=65507 (default 1400; units allowed; -l as iperf's)"),
    vocab::TTL.help("TTL / hop limit, 0..=255 (default 1; -T as iperf's)"),
    vocab::LOOP.help("copies to this host's own members (default on)"),
    vocab::NO_LOOP,
    vocab::DSCP,
    Opt::flag(
        "--iperf",
        "send iperf 2's datagrams (its sequence number and send time header, and its final negative number) \
         instead of the mcast header, so an iperf -s -u -B GROUP server reports loss and jitter",
    ),
    Opt::value("--path", "P", "gso (default), sendmmsg or sendto: the fastest the kernel allows, at most P"),
    Opt::heading("Receiver options (--serve):"),
    vocab::SOURCE.help("source-specific join (repeatable)"),
    vocab::IDLE,
    vocab::RCVBUF
        .help(
            "receive buffer (SO_RCVBUFFORCE, else SO_RCVBUF), default 64M (a limit, not an allocation); units \
             allowed (-w as iperf's)",
        )
        .alias(&["--buffer"]),
    Opt::flag("--gro", "let the kernel coalesce datagrams (UDP_GRO), split again here (default on)"),
    Opt::flag("--no-gro", "datagrams one by one from the kernel"),
    Opt::value(
        "--max-sessions",
        "N",
        "keep at most N sessions (sender address and session id), 1..=65536 (default 1024, 8 MiB); the one idle \
         the longest is forgotten to make room, and counted",
    ),
];

const USAGE: &str = "mcast perf [--serve] GROUP:PORT [OPTIONS]";

pub fn run(words: &[String]) -> Result<(), Fail> {
    let Some(m) = args::command_line(words, OPTS, HELP)? else { return Ok(()) };
    let pos = m.positionals(1, 1, "GROUP:PORT", USAGE)?;
    let group = tools::group(&pos[0])?;
    let interval = m.seconds("--interval")?.unwrap_or(Duration::from_secs(1));
    let style = Style { json: m.flag("--json"), quiet: m.flag("--quiet") };
    let interval = (!interval.is_zero()).then_some(interval);
    if m.flag("--serve") {
        tools::refuse(
            &m,
            &["--rate", "--size", "--ttl", "--loop", "--no-loop", "--path", "--dscp", "--iperf"],
            "is for the sender",
        )?;
        serve(&m, group, interval, style)
    } else {
        tools::refuse(
            &m,
            &["--source", "--idle", "--rcvbuf", "--gro", "--no-gro", "--max-sessions"],
            "is for --serve",
        )?;
        send(&m, group, interval, style)
    }
}

fn send(m: &Matches, group: Group, interval: Option<Duration>, style: Style) -> Result<(), Fail> {
    let count = m.int_in("--count", 1, u64::MAX)?;
    let time = m.seconds("--time")?;
    if count.is_some() && time.is_some() {
        return Err(Fail::usage("--count and --time: give one of them"));
    }
    let least = if m.flag("--iperf") { mcast::wire::iperf2::HEADER_LEN } else { proto::HEADER_LEN };
    let size = m.bytes("--size", least as u64, mcast::gso::MAX_UDP_PAYLOAD as u64)?.unwrap_or(1400);
    let path = match m.values("--path").last() {
        None | Some("gso") => SendPath::Segments,
        Some("sendmmsg") => SendPath::Batch,
        Some("sendto") => SendPath::Single,
        Some(p) => return Err(Fail::usage(format!("--path {p}: one of gso, sendmmsg, sendto"))),
    };
    let mut opts = PerfSender::builder(group)
        .rate(m.parsed::<Rate>("--rate")?.unwrap_or(Rate::Bits(1e6)))
        .size(size as usize)
        .path(path)
        .interval(interval)
        .session(tools::session_id());
    if let Some(i) = tools::ifaces(m, "--iface")?.into_iter().next() {
        opts = opts.interface(i);
    }
    opts = match (count, time) {
        (Some(n), _) => opts.count(n),
        (None, t) => opts.time(t.unwrap_or(Duration::from_secs(10))),
    };
    if let Some(t) = tools::ttl(m)? {
        opts = opts.ttl(t);
    }
    if let Some(d) = tools::dscp(m)? {
        opts = opts.dscp(d);
    }
    opts = opts.iperf(m.flag("--iperf"));
    if let Some(on) = m.last_of("--loop", "--no-loop") {
        opts = opts.multicast_loop(on);
    }
    let socket = opts.socket()?;
    tools::catch_interrupts()?;
    let mut tx = opts.start(&socket)?;
    let mut out = Out::new();
    while !tools::interrupted() {
        match tx.step()? {
            Step::Event(SendEvent::Interval(i)) if !style.quiet => out.line(&lines::sent_interval(style, &i))?,
            Step::Done => break,
            _ => {}
        }
    }
    out.line(&lines::sent(style, &tx.finish()?))
}

fn serve(m: &Matches, group: Group, interval: Option<Duration>, style: Style) -> Result<(), Fail> {
    let mut opts = PerfServer::builder(group)
        .recv_buffer(m.bytes("--rcvbuf", 4096, i32::MAX as u64)?.unwrap_or(64 << 20) as u32)
        .gro(m.last_of("--gro", "--no-gro").unwrap_or(true))
        .interval(interval);
    for i in tools::ifaces(m, "--iface")? {
        opts = opts.interface(i);
    }
    for s in tools::sources(m)? {
        opts = opts.source(s);
    }
    if let Some(n) = m.int_in("--count", 1, u64::MAX)? {
        opts = opts.count(n);
    }
    if let Some(t) = m.seconds("--time")? {
        opts = opts.time(t);
    }
    if let Some(t) = m.seconds("--idle")? {
        opts = opts.timeout(t);
    }
    if let Some(n) = m.int_in("--max-sessions", 1, MAX_SESSIONS_LIMIT as u64)? {
        opts = opts.max_sessions(n as usize);
    }
    let mut server = opts.build()?;
    tools::catch_interrupts()?;
    if !style.quiet {
        tools::note(&format!("mcast perf: receiving {group} (Ctrl-C stops)"));
    }
    let mut out = Out::new();
    while !tools::interrupted() {
        match server.step()? {
            Step::Event(ServeEvent::Interval(r)) if !style.quiet => {
                for line in lines::interval(style, &r) {
                    out.line(&line)?;
                }
            }
            Step::Event(ServeEvent::Link(n)) if !style.quiet => tools::note(&format!("mcast perf: {n}")),
            Step::Done => break,
            _ => {}
        }
    }
    let report = server.finish();
    for s in &report.sessions {
        out.line(&lines::session(style, s))?;
    }
    for line in lines::summary(style, &report) {
        out.line(&line)?;
    }
    if report.received == 0 {
        return Err(Fail::runtime(format!("nothing arrived on {group}")));
    }
    Ok(())
}
