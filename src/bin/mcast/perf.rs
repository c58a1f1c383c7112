//! `mcast perf GROUP:PORT`: send numbered datagrams at a paced rate or flat out (UDP GSO when it can);
//! `mcast perf --serve GROUP:PORT`: receive them in batches and report rate, loss, duplicates, reordering,
//! jitter (RFC 3550) and the kernel's own drop count, per sender.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use mcast::gso::{BatchReceiver, BatchSender, SendPath};
use mcast::pace::{Pacer, Rate};
use mcast::resilient::ResilientReceiver;
use mcast::sendretry::{InterfaceFollower, SendStats};
use mcast::stats::{Arrival, Jitter, SeqTracker};
use mcast::wire::proto::{self, Kind, Packet};
use mcast::{Group, Interface, RecvMeta, Sender};

use crate::args::{self, Fail, Matches, Opt};
use crate::output::{Json, Out};
use crate::tools::{self, pct};

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

Options (both sides):
  --iface IFACE        join on / send from this interface (name, index or address)
  --interval SECS      report every SECS seconds (default 1; 0 for no interval reports)
  --json               JSON objects, one per line: "interval", "sender" or "session", "summary"
  --quiet, -q          only the final report
Sender options:
  --rate RATE          datagrams/s (5000, 2kpps, 1.5Mpps), bits/s of UDP payload with a unit (100M,
                       2.5G, 64kbit), or max (flat out). Default 1M, as iperf.
  --time SECS          send for SECS seconds (default 10, unless --count)
  --count N, -c N      send N datagrams
  --size BYTES         UDP payload of each datagram, 28..=65507 (default 1400)
  --ttl N              TTL / hop limit, 0..=255 (default 1)
  --loop, --no-loop    copies to this host's own members (default on)
  --path P             gso (default), sendmmsg or sendto: the fastest the kernel allows, at most P
Receiver options (--serve):
  --source ADDR        source-specific join (repeatable)
  --count N, -c N      stop once N datagrams have arrived; also the count expected when no end marker
                       comes (so loss is counted against N)
  --time SECS          stop SECS seconds after the first datagram
  --timeout SECS       stop after SECS seconds with nothing arriving (before the first one too)
  --buffer BYTES       receive buffer (SO_RCVBUFFORCE, else SO_RCVBUF), default 67108864 (64 MiB,
                       a limit, not an allocation)
  --gro, --no-gro      let the kernel coalesce datagrams (UDP_GRO), split again here (default on)
A receiver also stops once every sender it heard has sent its end marker and its datagrams are in (or
a second has passed since the marker), or at Ctrl-C.

Exit status: 0 after a run (sender) or when data arrived (receiver); 1 when nothing arrived or on a
runtime error; 2 bad arguments; 130 at Ctrl-C (SIGINT), 143 at SIGTERM, after the report.

Examples:
  mcast perf --serve 239.1.2.3:5001 --iface eth0
  mcast perf 239.1.2.3:5001 --iface eth0 --rate 100M --time 5 --size 1400
  mcast perf 239.1.2.3:5001 --iface eth0 --rate max --count 1000000 --size 64
"#;

const OPTS: &[Opt] = &[
    Opt::flag(&["--serve"]),
    Opt::value(&["--iface"], "IFACE"),
    Opt::value(&["--interval"], "SECS"),
    Opt::flag(&["--json"]),
    Opt::flag(&["--quiet", "-q"]),
    Opt::value(&["--rate"], "RATE"),
    Opt::value(&["--time"], "SECS"),
    Opt::value(&["--count", "-c"], "N"),
    Opt::value(&["--size"], "BYTES"),
    Opt::value(&["--ttl", "--hops"], "N"),
    Opt::flag(&["--loop"]),
    Opt::flag(&["--no-loop"]),
    Opt::value(&["--path"], "P"),
    Opt::value(&["--source"], "ADDR"),
    Opt::value(&["--timeout"], "SECS"),
    Opt::value(&["--buffer"], "BYTES"),
    Opt::flag(&["--gro"]),
    Opt::flag(&["--no-gro"]),
];

const USAGE: &str = "mcast perf [--serve] GROUP:PORT [OPTIONS]";

/// How long a receiver keeps listening after an end marker for datagrams still on their way.
const END_GRACE: Duration = Duration::from_secs(1);
/// How often the receiver handles link announcements and rejoins between batches.
const SERVICE_EVERY: Duration = Duration::from_millis(10);

struct Report {
    json: bool,
    quiet: bool,
    interval: Option<Duration>,
}

pub fn run(words: &[String]) -> Result<(), Fail> {
    let Some(m) = args::command_line(words, OPTS, HELP)? else { return Ok(()) };
    let pos = m.positionals(1, 1, "GROUP:PORT", USAGE)?;
    let group = tools::group(&pos[0])?;
    let ifaces = tools::ifaces(&m, "--iface")?;
    let interval = m.seconds("--interval")?.unwrap_or(Duration::from_secs(1));
    let report = Report {
        json: m.flag("--json"),
        quiet: m.flag("--quiet"),
        interval: (!interval.is_zero()).then_some(interval),
    };
    if m.flag("--serve") {
        tools::refuse(&m, &["--rate", "--size", "--ttl", "--loop", "--no-loop", "--path"], "is for the sender")?;
        serve(&m, group, &ifaces, &report)
    } else {
        tools::refuse(&m, &["--source", "--timeout", "--buffer", "--gro", "--no-gro"], "is for --serve")?;
        send(&m, group, ifaces.first(), &report)
    }
}

fn send(m: &Matches, group: Group, iface: Option<&Interface>, report: &Report) -> Result<(), Fail> {
    let rate: Rate = m.parsed("--rate")?.unwrap_or(Rate::Bits(1e6));
    let count = m.int_in("--count", 1, u64::MAX)?;
    let time = m.seconds("--time")?;
    if count.is_some() && time.is_some() {
        return Err(Fail::usage("--count and --time: give one of them"));
    }
    let time = if count.is_none() { Some(time.unwrap_or(Duration::from_secs(10))) } else { None };
    let size =
        m.int_in("--size", proto::HEADER_LEN as u64, mcast::gso::MAX_UDP_PAYLOAD as u64)?.unwrap_or(1400) as usize;
    let path = match m.values("--path").last() {
        None | Some("gso") => SendPath::Segments,
        Some("sendmmsg") => SendPath::Batch,
        Some("sendto") => SendPath::Single,
        Some(p) => return Err(Fail::usage(format!("--path {p}: one of gso, sendmmsg, sendto"))),
    };
    let mut b = Sender::builder(group);
    if let Some(t) = tools::ttl(m)? {
        b = b.ttl(t);
    }
    if let Some(on) = m.last_of("--loop", "--no-loop") {
        b = b.multicast_loop(on);
    }
    if let Some(i) = iface {
        b = b.interface(mcast::IfaceSpec::Index(i.index));
    }
    let sender = b.build()?;
    let sock = sender.socket();
    // A deep send queue lets a paced burst or a GSO train leave without blocking; best effort.
    if sock.set_send_buffer_size_force(4 << 20).is_err() {
        let _ = sock.set_send_buffer_size(4 << 20);
    }
    tools::catch_interrupts()?;

    let session = tools::session_id();
    let mut tx = BatchSender::new(sock, group.socket_addr(), path);
    let slots = tx.max_per_call(size).max(mcast::sys::mmsg::MAX_BATCH);
    let mut buf = vec![0u8; slots * size];
    let filler = vec![0u8; size - proto::HEADER_LEN];
    for slot in buf.chunks_mut(size) {
        proto::encode(Kind::PerfData, session, 0, 0, &filler, slot).map_err(Fail::runtime)?;
    }
    let mut out = Out::new();
    let start = Instant::now();
    let end = time.map(|t| start + t);
    let mut pacer = Pacer::new(rate.packets_per_sec(size), tx.max_per_call(size) as u64, start);
    let mut seq = 0u64;
    // Sends that fail because the link is gone are counted and their numbers skipped (receivers count them
    // lost); the interface is looked up again by name, since a re-created one has a new index.
    let (mut failures, mut failed) = (SendStats::default(), 0u64);
    let mut follower = InterfaceFollower::new(iface, group);
    let mut next_report = report.interval.map(|i| start + i);
    let mut last_reported = (start, 0u64);
    loop {
        let now = Instant::now();
        if tools::interrupted() || end.is_some_and(|e| now >= e) || count.is_some_and(|c| seq >= c) {
            break;
        }
        if let Some(t) = next_report.filter(|t| now >= *t) {
            if !report.quiet {
                out.line(&sender_interval(report, start, last_reported, (now, seq), size))?;
            }
            last_reported = (now, seq);
            next_report = report.interval.map(|i| t + i);
        }
        let room = count.map_or(u64::MAX, |c| c - seq);
        let k = pacer.due(now).min(room).min(tx.max_per_call(size) as u64) as usize;
        if k == 0 {
            pacer.wait_until(end);
            continue;
        }
        let t = proto::now_ns();
        for (i, slot) in buf.chunks_mut(size).take(k).enumerate() {
            let mut p = Packet::new_unchecked(slot);
            p.set_seq(seq + i as u64);
            p.set_send_time_ns(t);
        }
        let n = match tools::send_counted(&mut failures, || tx.send(&buf[..k * size], size))? {
            Some(n) => n,
            None => {
                failed += k as u64;
                follower.after_failure(sock, &mut group.socket_addr());
                k
            }
        };
        seq += n as u64;
        pacer.sent(n as u64);
    }
    let elapsed = start.elapsed();
    // The end marker tells receivers how many were sent; three copies, since it may be lost like any other.
    let mut marker = [0u8; proto::HEADER_LEN];
    proto::encode(Kind::PerfEnd, session, seq, proto::now_ns(), &[], &mut marker).map_err(Fail::runtime)?;
    for i in 0..3 {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
        tools::send_counted(&mut failures, || sock.send_to(&marker, group.socket_addr()))?;
    }
    let secs = elapsed.as_secs_f64().max(1e-9);
    let sent = seq - failed;
    let bytes = sent * size as u64;
    let line = if report.json {
        Json::new()
            .str("type", "sender")
            .int("session", session)
            .str("group", &group.to_string())
            .int("sent", sent)
            .int("failed", failed)
            .int("size", size as u64)
            .int("bytes", bytes)
            .float("seconds", secs)
            .float("pps", sent as f64 / secs)
            .float("bps", bytes as f64 * 8.0 / secs)
            .str("path", tx.path().name())
            .opt_str("fallback", tx.fallback_reason())
            .finish()
    } else {
        let why = tx.fallback_reason().map_or(String::new(), |r| format!(" (fell back: {r})"));
        let fails = tools::failures_text(&failures).map_or(String::new(), |f| format!("; {f}"));
        format!(
            "sent {sent} datagrams of {size} bytes to {group} in {secs:.3} s: {:.0} datagrams/s, {} via {}{why}{fails}",
            sent as f64 / secs,
            bits(bytes as f64 * 8.0 / secs),
            tx.path().name()
        )
    };
    out.line(&line)
}

fn sender_interval(report: &Report, start: Instant, from: (Instant, u64), to: (Instant, u64), size: usize) -> String {
    let secs = to.0.duration_since(from.0).as_secs_f64().max(1e-9);
    let n = to.1 - from.1;
    let (a, b) = (from.0.duration_since(start).as_secs_f64(), to.0.duration_since(start).as_secs_f64());
    if report.json {
        Json::new()
            .str("type", "interval")
            .float("from", a)
            .float("to", b)
            .int("sent", n)
            .float("pps", n as f64 / secs)
            .finish()
    } else {
        format!(
            "[{a:6.2}-{b:6.2} s] sent {n} datagrams, {:.0}/s, {}",
            n as f64 / secs,
            bits((n * size as u64) as f64 * 8.0 / secs)
        )
    }
}

/// "123.4 Mbit/s".
fn bits(bps: f64) -> String {
    if bps >= 1e9 {
        format!("{:.2} Gbit/s", bps / 1e9)
    } else if bps >= 1e6 {
        format!("{:.1} Mbit/s", bps / 1e6)
    } else {
        format!("{:.1} kbit/s", bps / 1e3)
    }
}

/// One sender's run, as this receiver saw it.
struct Session {
    source: SocketAddr,
    id: u32,
    seqs: SeqTracker,
    jitter: Jitter,
    bytes: u64,
    first_ns: u64,
    last_ns: u64,
    /// The count the sender's end marker announced.
    announced: Option<u64>,
    ended_at: Option<Instant>,
    /// Unique datagrams and bytes at the last interval report.
    mark: (u64, u64, u64),
}

impl Session {
    fn new(source: SocketAddr, id: u32) -> Session {
        Session {
            source,
            id,
            seqs: SeqTracker::new(),
            jitter: Jitter::default(),
            bytes: 0,
            first_ns: 0,
            last_ns: 0,
            announced: None,
            ended_at: None,
            mark: (0, 0, 0),
        }
    }

    fn expected(&self, count: Option<u64>, alone: bool) -> u64 {
        match self.announced {
            Some(n) => n,
            None => self.seqs.expected_by_highest().max(if alone { count.unwrap_or(0) } else { 0 }),
        }
    }

    fn complete(&self) -> bool {
        self.announced.is_some_and(|n| self.seqs.unique >= n)
    }
}

/// A read's kernel stamp (`SO_TIMESTAMPNS`) in nanoseconds since the epoch, converted once per read: every
/// datagram of a GRO read carries its read's stamp, and converting it for each would be per-datagram work.
#[derive(Default)]
struct StampNs {
    last: Option<(SystemTime, u64)>,
}

impl StampNs {
    /// What `tools::arrival_ns` says for `meta`, reusing the last conversion while the stamp is the same.
    fn of(&mut self, meta: &RecvMeta) -> u64 {
        let Some(t) = meta.timestamp else { return tools::arrival_ns(meta) };
        match self.last {
            Some((s, ns)) if s == t => ns,
            _ => {
                let ns = tools::arrival_ns(meta);
                self.last = Some((t, ns));
                ns
            }
        }
    }
}

struct Receiving {
    sessions: Vec<Session>,
    last: usize,
    kernel_drops: u32,
    gro_reads: u64,
    total: u64,
    /// A data datagram of a known kind arrived since the caller last looked (it reads the clock once per
    /// batch for the idle timeout, not once per datagram).
    arrived: bool,
    stamps: StampNs,
}

impl Receiving {
    fn take(&mut self, data: &[u8], meta: &RecvMeta) {
        let Ok((repr, _)) = proto::decode(data) else { return };
        if let Some(d) = meta.drops {
            self.kernel_drops = self.kernel_drops.max(d);
        }
        if meta.gro_segment.is_some() {
            self.gro_reads += 1;
        }
        if !matches!(repr.kind, Kind::PerfData | Kind::PerfEnd) {
            return;
        }
        let i = match self.sessions.get(self.last) {
            Some(s) if s.id == repr.session && s.source == meta.source => self.last,
            _ => match self.sessions.iter().position(|s| s.id == repr.session && s.source == meta.source) {
                Some(i) => i,
                None => {
                    self.sessions.push(Session::new(meta.source, repr.session));
                    self.sessions.len() - 1
                }
            },
        };
        self.last = i;
        let s = &mut self.sessions[i];
        if repr.kind == Kind::PerfEnd {
            s.announced = Some(repr.seq);
            s.ended_at.get_or_insert_with(Instant::now);
            return;
        }
        let now_ns = self.stamps.of(meta);
        self.arrived = true;
        match s.seqs.record(repr.seq) {
            Arrival::InOrder | Arrival::Reordered => {
                self.total += 1;
                s.bytes += data.len() as u64;
                if s.first_ns == 0 {
                    s.first_ns = now_ns;
                }
                s.last_ns = now_ns;
                s.jitter.record(repr.send_time_ns, now_ns);
            }
            Arrival::Duplicate | Arrival::TooOld => {}
        }
    }
}

fn serve(m: &Matches, group: Group, ifaces: &[Interface], report: &Report) -> Result<(), Fail> {
    let sources = tools::sources(m)?;
    let count = m.int_in("--count", 1, u64::MAX)?;
    let time = m.seconds("--time")?;
    let timeout = m.seconds("--timeout")?;
    let buffer = m.int_in("--buffer", 4096, i32::MAX as u64)?.unwrap_or(64 << 20) as u32;
    let gro = m.last_of("--gro", "--no-gro").unwrap_or(true);
    // Rejoins after an interface flaps or is made again (mcast::resilient), saying so on standard error.
    let mut rx = ResilientReceiver::new(tools::member(group, ifaces, &sources, Some(buffer))?)?;
    let gro = gro && rx.socket().set_udp_gro(true).is_ok();
    tools::catch_interrupts()?;
    if !report.quiet {
        tools::note(&format!("mcast perf: receiving {group} (Ctrl-C stops)"));
    }
    let mut batch = BatchReceiver::new(mcast::sys::mmsg::MAX_BATCH, 65_536);
    let mut st = Receiving {
        sessions: Vec::new(),
        last: 0,
        kernel_drops: 0,
        gro_reads: 0,
        total: 0,
        arrived: false,
        stamps: StampNs::default(),
    };
    let mut last_arrival: Option<Instant> = None;
    let mut out = Out::new();
    let start = Instant::now();
    let mut first: Option<Instant> = None;
    let mut next_report: Option<Instant> = None;
    let mut next_service = start;
    // The clock is read once per batch, after it: what the batch brought is dated by it, and so is the next
    // round of checks.
    let mut now = start;
    loop {
        if tools::interrupted() || count.is_some_and(|c| st.total >= c) {
            break;
        }
        if let (Some(t), Some(f)) = (time, first) {
            if now >= f + t {
                break;
            }
        }
        if timeout.is_some_and(|t| now >= last_arrival.unwrap_or(start) + t) {
            break;
        }
        let ended = !st.sessions.is_empty()
            && st.sessions.iter().all(|s| s.complete() || s.ended_at.is_some_and(|e| now >= e + END_GRACE));
        if ended {
            break;
        }
        if let Some(t) = next_report.filter(|t| now >= *t) {
            if !report.quiet {
                for s in &mut st.sessions {
                    out.line(&session_interval(report, s, first.unwrap_or(start), now))?;
                }
            }
            next_report = report.interval.map(|i| t + i);
        }
        // Link announcements and due rejoins are looked at every few milliseconds rather than once per batch:
        // each look is a netlink read, which a flat-out receiver would otherwise make tens of thousands of
        // times a second for nothing.
        if now >= next_service {
            rx.service();
            for n in rx.take_notices() {
                if !report.quiet {
                    tools::note(&format!("mcast perf: {n}"));
                }
            }
            next_service = now + SERVICE_EVERY;
        }
        batch.recv(rx.socket(), Some(tools::SLICE.min(Duration::from_millis(50))), |d, meta| st.take(d, meta))?;
        now = Instant::now();
        if std::mem::take(&mut st.arrived) {
            last_arrival = Some(now);
            if first.is_none() && st.total > 0 {
                first = Some(now);
                next_report = report.interval.map(|i| now + i);
            }
        }
    }
    // SO_MEMINFO counts every drop up to now; the last datagram's SO_RXQ_OVFL misses those after it.
    st.kernel_drops = st.kernel_drops.max(rx.socket().kernel_drops().unwrap_or(0));
    let alone = st.sessions.len() == 1;
    for s in &st.sessions {
        out.line(&session_final(report, s, s.expected(count, alone)))?;
    }
    let line = if report.json {
        Json::new()
            .str("type", "summary")
            .str("group", &group.to_string())
            .int("sessions", st.sessions.len() as u64)
            .int("received", st.total)
            .int("kernel_drops", st.kernel_drops)
            .bool("gro", gro)
            .int("gro_reads", st.gro_reads)
            .finish()
    } else {
        format!(
            "{} sender{}, {} datagrams received, kernel drops (SO_RXQ_OVFL) {}, UDP_GRO {}",
            st.sessions.len(),
            if alone { "" } else { "s" },
            st.total,
            st.kernel_drops,
            if gro { "on" } else { "off" }
        )
    };
    out.line(&line)?;
    if st.total == 0 {
        return Err(Fail::runtime(format!("nothing arrived on {group}")));
    }
    Ok(())
}

fn session_interval(report: &Report, s: &mut Session, first: Instant, now: Instant) -> String {
    let (u0, b0, l0) = s.mark;
    let lost = s.seqs.lost(s.seqs.expected_by_highest());
    let (du, db, dl) = (s.seqs.unique - u0, s.bytes - b0, lost.saturating_sub(l0));
    s.mark = (s.seqs.unique, s.bytes, lost);
    let secs = report.interval.unwrap_or(Duration::from_secs(1)).as_secs_f64();
    let at = now.duration_since(first).as_secs_f64();
    if report.json {
        Json::new()
            .str("type", "interval")
            .str("source", &s.source.to_string())
            .int("session", s.id)
            .float("at", at)
            .int("received", du)
            .int("lost", dl)
            .float("pps", du as f64 / secs)
            .float("bps", db as f64 * 8.0 / secs)
            .float("jitter_ms", tools::ms(s.jitter.nanos()))
            .finish()
    } else {
        format!(
            "[{at:6.2} s] {} {:08x}: {:.0} datagrams/s, {}, lost {dl}, jitter {:.3} ms",
            s.source,
            s.id,
            du as f64 / secs,
            bits(db as f64 * 8.0 / secs),
            tools::ms(s.jitter.nanos())
        )
    }
}

fn session_final(report: &Report, s: &Session, expected: u64) -> String {
    let lost = s.seqs.lost(expected);
    let secs = (s.last_ns.saturating_sub(s.first_ns)) as f64 / 1e9;
    let per = |x: f64| if secs > 0.0 { x / secs } else { 0.0 };
    if report.json {
        Json::new()
            .str("type", "session")
            .str("source", &s.source.to_string())
            .int("session", s.id)
            .int("received", s.seqs.unique)
            .int("expected", expected)
            .int("lost", lost)
            .float("loss_pct", pct(lost, expected))
            .int("duplicates", s.seqs.duplicates)
            .int("reordered", s.seqs.reordered)
            .int("too_old", s.seqs.too_old)
            .int("bytes", s.bytes)
            .float("seconds", secs)
            .float("pps", per(s.seqs.unique as f64))
            .float("bps", per(s.bytes as f64 * 8.0))
            .float("jitter_ms", tools::ms(s.jitter.nanos()))
            .bool("ended", s.announced.is_some())
            .finish()
    } else {
        format!(
            "{} {:08x}: {} of {expected} datagrams in {secs:.3} s ({:.0}/s, {}), lost {lost} ({:.2}%), \
             {} duplicates, {} reordered, jitter {:.3} ms",
            s.source,
            s.id,
            s.seqs.unique,
            per(s.seqs.unique as f64),
            bits(per(s.bytes as f64 * 8.0)),
            pct(lost, expected),
            s.seqs.duplicates,
            s.seqs.reordered,
            tools::ms(s.jitter.nanos())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn stamped(at: Option<SystemTime>) -> RecvMeta {
        RecvMeta {
            len: 100,
            full_len: 100,
            truncated: false,
            source: "192.0.2.1:5000".parse().unwrap(),
            group: None,
            ifindex: None,
            ttl: None,
            timestamp: at,
            drops: None,
            gro_segment: Some(100),
        }
    }

    #[test]
    fn a_reads_stamp_is_converted_once_and_agrees_with_the_tools() {
        let t1 = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        let t2 = t1 + Duration::from_nanos(1);
        let mut stamps = StampNs::default();
        assert_eq!(stamps.of(&stamped(Some(t1))), 1_700_000_000_123_456_789);
        assert_eq!(stamps.last, Some((t1, 1_700_000_000_123_456_789)));
        // The next segments of the same read reuse it; a new stamp is converted afresh, also when it goes back.
        assert_eq!(stamps.of(&stamped(Some(t1))), 1_700_000_000_123_456_789);
        assert_eq!(stamps.of(&stamped(Some(t2))), 1_700_000_000_123_456_790);
        assert_eq!(stamps.of(&stamped(Some(t1))), 1_700_000_000_123_456_789);
        for t in [t1, t2, UNIX_EPOCH] {
            assert_eq!(stamps.of(&stamped(Some(t))), tools::arrival_ns(&stamped(Some(t))));
        }
        // Without a kernel stamp each datagram reads the clock, and the cache is left alone.
        let before = proto::now_ns();
        let now = stamps.of(&stamped(None));
        assert!(now >= before && now <= proto::now_ns(), "{before} {now}");
        assert_eq!(stamps.last, Some((UNIX_EPOCH, 0)));
    }
}
