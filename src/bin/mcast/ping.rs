//! `mcast ping GROUP:PORT`: probe a group and measure, per responder, the multicast and the unicast round trip;
//! `mcast ping --serve GROUP:PORT` answers each probe twice, to the group and to the prober.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use mcast::resilient::{Notice, ResilientReceiver};
use mcast::sendretry::{InterfaceFollower, SendStats};
use mcast::stats::{Arrival, Rtt, SeqTracker};
use mcast::wire::proto::{self, Kind, Packet};
use mcast::{Family, Group, McastSocket, RecvMeta};

use crate::args::{self, Fail, Opt};
use crate::output::{self, Json, Out};
use crate::recv::{outage_json, outage_text};
use crate::tools::{self, fmt_ms, pct};

pub const SUMMARY: &str = "round-trip time and loss to every responder of a group, multicast and unicast";

pub const HELP: &str = r#"mcast ping: round-trip time and loss to every responder of a multicast group

Usage: mcast ping GROUP:PORT [OPTIONS]          probe the group and report per responder
       mcast ping --serve GROUP:PORT [OPTIONS]  answer probes

The prober joins GROUP on PORT and sends a probe there every --interval. Each responder (--serve)
answers every probe twice: once to the group, once by unicast to the prober. So each responder gets two
rows, "multicast" and "unicast", each with loss, duplicates, reordering and round-trip time
(min/avg/max/p50/p99/mdev). Probe and answers carry the mcast header (docs/protocol.md); times are the
kernel's arrival stamps (SO_TIMESTAMPNS) minus the send time carried in the probe.

The prober does not hear its own probes: it blocks its own address as a source of the group
(MCAST_BLOCK_SOURCE), so the kernel neither loops each probe back to it nor wakes it for one. A responder
on the same host and interface answers from that same address: its first unicast answer lifts the block,
and its multicast row counts from the next probe on ("from_seq" in --json).

Both sides follow their interfaces: when the one they joined on goes down and up, or is deleted and
made again under the same name, they join again and send from it anew (saying so on standard error),
and the summary lists each outage: the interface, what happened, when, for how long, and the probes
(or multicast answers) missed.

Options (both sides):
  --iface IFACE        join on and send from this interface (name, index or address)
                       IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP, IP_MULTICAST_IF / IPV6_MULTICAST_IF
  --source ADDR        source-specific join: accept multicast only from ADDR (repeatable)
  --ttl N              TTL / hop limit of what this side sends to the group, 0..=255 (default 1)
  --busy-poll          spin on a non-blocking socket instead of sleeping in poll(): lower, steadier
                       round trips for one busy core
  --json               one JSON object per line instead of text
  --quiet, -q          no line per answer (or per probe, with --serve): only the summary
Prober options:
  --count N, -c N      send N probes, then wait --wait for the last answers (default: until Ctrl-C)
  --interval SECS      time between probes (default 1; at least 0.001)
  --wait SECS          how long to wait for answers after the last probe (default 1)
  --size N             payload bytes in each probe, echoed back (default 0)
Responder options:
  --serve              answer probes instead of sending them
  --count N, -c N      exit after answering N probes
  --timeout SECS       exit after SECS seconds

Output: a line per answer ("10.0.0.2 multicast seq=3 ttl=64 time=0.123 ms"), then a row per responder
and kind. --json: {"type":"reply",...} per answer, {"type":"responder",...} per row, {"type":"summary",...}
with "outages" (as `mcast recv` gives them).

Exit status: 0 when an answer arrived (prober) or at the end (responder); 1 when no answer arrived or on
a runtime error; 2 bad arguments; 130 at Ctrl-C (SIGINT), 143 at SIGTERM, after the summary.

Examples:
  mcast ping --serve 239.1.2.3:4321 --iface eth0
  mcast ping 239.1.2.3:4321 --iface eth0 --count 10 --interval 0.2
"#;

const OPTS: &[Opt] = &[
    Opt::flag(&["--serve"]),
    Opt::value(&["--iface"], "IFACE"),
    Opt::value(&["--source"], "ADDR"),
    Opt::value(&["--ttl", "--hops"], "N"),
    Opt::flag(&["--busy-poll"]),
    Opt::flag(&["--json"]),
    Opt::flag(&["--quiet", "-q"]),
    Opt::value(&["--count", "-c"], "N"),
    Opt::value(&["--interval"], "SECS"),
    Opt::value(&["--wait"], "SECS"),
    Opt::value(&["--size"], "N"),
    Opt::value(&["--timeout"], "SECS"),
];

const USAGE: &str = "mcast ping [--serve] GROUP:PORT [OPTIONS]";

/// Room for any datagram.
const BUFFER: usize = 65_536;

/// The answers a prober handles: a group's two reply kinds.
fn kind_name(k: Kind) -> &'static str {
    if k == Kind::PingReplyMulticast {
        "multicast"
    } else {
        "unicast"
    }
}

struct Common {
    group: Group,
    /// Bound to the group's port and joined, rejoining after its interfaces flap or are made again
    /// (`mcast::resilient`): probes arrive here, and multicast answers.
    socket_rx: ResilientReceiver,
    /// The prober's own socket on an ephemeral port: probes leave from it, so unicast answers come back to
    /// it and to no other process on this host that listens on the group's port.
    socket_tx: Option<McastSocket>,
    /// The prober's own address as a source of the group on its joined socket: blocked, or still to be.
    own: Own,
    /// Where multicast leaves for (the group; its IPv6 zone follows the interface's index).
    dest: SocketAddr,
    /// The interface multicast leaves by, by name: looked up again after a rejoin or a failed send.
    out_iface: InterfaceFollower,
    /// When link announcements are next handled even if none is signalled (a due rejoin retry, or no
    /// `NETLINK_ROUTE` socket to signal them).
    next_service: Instant,
    busy: bool,
    json: bool,
    quiet: bool,
}

/// The address the prober's probes leave from, which it blocks as a source on its joined socket: without the block,
/// the kernel loops every probe back to the prober (a member of the group), a copy to deliver before the probe
/// itself goes out and a wake-up for a datagram it only throws away.
struct OwnSource {
    addr: IpAddr,
    /// The interface blocked on (0: the one the kernel routes the group by).
    index: u32,
    /// The sequence number whose unicast answer came from this address: a responder on this host answers
    /// from it too, so the block was lifted then. Its multicast answers count from the next probe on.
    lifted_at: Option<u64>,
}

/// Where the block of the prober's own address stands.
enum Own {
    /// Nothing to block: a responder, a loopback address, or a source-specific join.
    Off,
    /// To be set on this interface index: no address or no membership to block it on yet (the interface is
    /// gone or not yet up, or was just made again), so it is tried again with the link announcements.
    Due(u32),
    Blocked(OwnSource),
}

impl OwnSource {
    /// Blocks the address that probes to `c.dest` leave from, unless it is a loopback address (every responder
    /// there is on this host) or the join is source-specific (the prober's own address is not among its sources).
    fn block(c: &Common, index: u32, specific: bool) -> Own {
        let Ok(addr) = tools::source_toward(c.sending(), c.dest, index) else { return Own::Due(index) };
        if specific || addr.is_loopback() {
            return Own::Off;
        }
        // EADDRNOTAVAIL: blocked already (a rejoin on the same index keeps the membership and its filter).
        match c.socket_rx.socket().block_source(c.group.ip(), addr, index) {
            Err(e) if e.raw_os_error() != Some(libc::EADDRNOTAVAIL) => Own::Due(index),
            _ => Own::Blocked(OwnSource { addr, index, lifted_at: None }),
        }
    }

    /// A unicast answer for `seq` came from `from`: if that is this address, lifts the block (once).
    fn answered(&mut self, socket: &McastSocket, group: IpAddr, from: IpAddr, seq: u64) {
        if self.lifted_at.is_none() && from == self.addr {
            // Failing to lift it leaves the multicast row of this host's responder empty: nothing else is lost.
            let _ = socket.unblock_source(group, self.addr, self.index);
            self.lifted_at = Some(seq);
        }
    }

    /// The first sequence number whose multicast answer from `from` can arrive.
    fn counted_from(&self, from: IpAddr) -> u64 {
        match self.lifted_at {
            Some(seq) if from == self.addr => seq + 1,
            _ => 0,
        }
    }
}

impl Common {
    /// The socket multicast leaves from: the prober's own, or the responder's joined one.
    fn sending(&self) -> &McastSocket {
        self.socket_tx.as_ref().unwrap_or(self.socket_rx.socket())
    }
}

pub fn run(words: &[String]) -> Result<(), Fail> {
    let Some(m) = args::command_line(words, OPTS, HELP)? else { return Ok(()) };
    let pos = m.positionals(1, 1, "GROUP:PORT", USAGE)?;
    let group = tools::group(&pos[0])?;
    let serve = m.flag("--serve");
    if serve {
        tools::refuse(&m, &["--interval", "--wait", "--size"], "is for the prober, not --serve")?;
    } else {
        tools::refuse(&m, &["--timeout"], "is for --serve (the prober ends after --count and --wait)")?;
    }
    let ifaces = tools::ifaces(&m, "--iface")?;
    let sources = tools::sources(&m)?;
    let ttl = tools::ttl(&m)?;
    let count = m.int_in("--count", 1, u64::MAX)?;
    let interval = m.seconds("--interval")?.unwrap_or(Duration::from_secs(1));
    if interval < Duration::from_millis(1) {
        return Err(Fail::usage(format!("--interval {}: at least 0.001 seconds", interval.as_secs_f64())));
    }
    let wait = m.seconds("--wait")?.unwrap_or(Duration::from_secs(1));
    let size = m.int_in("--size", 0, proto::MAX_PAYLOAD as u64)?.unwrap_or(0) as usize;
    let timeout = m.seconds("--timeout")?;

    let rx = tools::member(group, &ifaces, &sources, None)?;
    if serve {
        quiet_responder(rx.socket(), m.flag("--quiet"))?;
    }
    tools::set_send(rx.socket(), group, ifaces.first(), ttl, None)?;
    let tx = if serve { None } else { Some(tools::unicast_sender(group, ifaces.first(), ttl)?) };
    let mut c = Common {
        group,
        socket_rx: ResilientReceiver::new(rx)?,
        socket_tx: tx,
        own: Own::Off,
        dest: group.socket_addr(),
        out_iface: InterfaceFollower::new(ifaces.first(), group),
        next_service: Instant::now() + tools::SLICE,
        busy: m.flag("--busy-poll"),
        json: m.flag("--json"),
        quiet: m.flag("--quiet"),
    };
    // Reads happen only once poll (or the busy loop) says a datagram is there: a non-blocking read then
    // costs one system call, and a datagram the kernel drops at the read (a bad checksum) cannot block.
    c.socket_rx.socket().set_nonblocking(true)?;
    if let Some(t) = &c.socket_tx {
        t.set_nonblocking(true)?;
    }
    if !serve {
        c.own = OwnSource::block(&c, ifaces.first().map_or(0, |i| i.index), !sources.is_empty());
    }
    tools::catch_interrupts()?;
    if serve {
        serve_probes(&mut c, count, timeout)
    } else {
        probe(&mut c, count, interval, wait, size)
    }
}

/// Turns off the control messages a responder never reads, each a copy the kernel makes on the way from a probe's
/// arrival to its unicast answer (together about 0.3 µs a probe, 4 % of a busy-polled round trip over a veth): arrival
/// stamps (a responder reports no times), the drop count (`SO_MEMINFO` gives it exact), the TTL when no line per
/// probe shows it, and for IPv4 the arrival interface, since the kernel itself matches an IPv4 membership by
/// interface (IPv6 memberships match by group alone, so there the interface stays, for [`ResilientReceiver::accepts`]).
fn quiet_responder(s: &McastSocket, quiet: bool) -> Result<(), Fail> {
    s.set_timestamp_ns(false)?;
    s.set_rxq_overflow(false)?;
    match s.family() {
        Family::V4 => {
            s.set_pktinfo_v4(false)?;
            if quiet {
                s.set_recv_ttl_v4(false)?;
            }
        }
        Family::V6 if quiet => s.set_recv_hoplimit_v6(false)?,
        Family::V6 => {}
    }
    Ok(())
}

/// Handles link announcements and any rejoin that is due; after a rejoin, sets the outgoing interface
/// anew (a re-created interface has a new index). Says what happened on standard error.
fn follow_links(c: &mut Common) {
    c.socket_rx.service();
    c.next_service = Instant::now() + tools::SLICE;
    for n in c.socket_rx.take_notices() {
        if let Notice::Rejoined { index, old_index, .. } = n {
            relook(c);
            reblock(c, index, old_index);
        }
        if !c.quiet {
            tools::note(&format!("mcast ping: {n}"));
        }
    }
    block_due(c);
}

/// After a rejoin (a fresh membership, without the block), blocks the prober's own address again, on the
/// interface's new index, unless a responder on this host had it lifted.
fn reblock(c: &mut Common, index: u32, old_index: u32) {
    let moved = |i: u32| if i == old_index { index } else { i };
    c.own = match std::mem::replace(&mut c.own, Own::Off) {
        Own::Blocked(own) if own.lifted_at.is_some() => Own::Blocked(own),
        Own::Blocked(own) => Own::Due(moved(own.index)),
        Own::Due(i) => Own::Due(moved(i)),
        Own::Off => Own::Off,
    };
}

/// Sets a block still due; until it holds (the interface and its address are back), tries again at the next
/// link announcement or slice.
fn block_due(c: &mut Common) {
    if let Own::Due(index) = c.own {
        c.own = OwnSource::block(c, index, false);
    }
}

/// Looks the outgoing interface up again by name and sets it (at most every 200 ms).
fn relook(c: &mut Common) {
    let s = c.socket_tx.as_ref().unwrap_or(c.socket_rx.socket());
    c.out_iface.after_failure(s, &mut c.dest);
}

/// Reads one datagram from `s`, a non-blocking socket; `None` when nothing is queued after all.
fn try_recv(s: &McastSocket, buf: &mut [u8]) -> Result<Option<RecvMeta>, Fail> {
    match s.recv(buf) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Receives one datagram from either socket before `deadline` (or within one slice): by `poll`, or by
/// spinning on non-blocking reads with `--busy-poll`. Link announcements are handled on the way. With the
/// datagram, whether it came to the joined socket; the group from an interface not joined on (IPv6 memberships
/// match by group alone) is not ours and is passed over.
fn recv_until(c: &mut Common, buf: &mut [u8], deadline: Option<Instant>) -> Result<Option<(RecvMeta, bool)>, Fail> {
    let now = Instant::now();
    if now >= c.next_service {
        follow_links(c);
    }
    let Some(wait) = tools::until(deadline, now) else { return Ok(None) };
    let wait = wait.min(c.next_service.saturating_duration_since(now));
    let got = if c.busy { spin(c, buf, wait)? } else { poll_once(c, buf, wait)? };
    Ok(got.filter(|(meta, joined)| !joined || c.socket_rx.accepts(meta)))
}

/// Accounts a datagram that came to the joined socket, by its decoded header: numbered probes (or multicast
/// answers) tell an outage's missed datagrams.
fn observe(c: &mut Common, repr: &proto::Repr, joined: bool) {
    if joined {
        c.socket_rx.observe_header(repr, Instant::now());
    }
}

/// `--busy-poll`: non-blocking reads in a loop for at most `wait`; link announcements wait for the next
/// slice. With the datagram, whether it came to the joined socket.
fn spin(c: &Common, buf: &mut [u8], wait: Duration) -> Result<Option<(RecvMeta, bool)>, Fail> {
    let end = Instant::now() + wait;
    loop {
        if let Some(m) = try_recv(c.socket_rx.socket(), buf)? {
            return Ok(Some((m, true)));
        }
        if let Some(t) = &c.socket_tx {
            if let Some(m) = try_recv(t, buf)? {
                return Ok(Some((m, false)));
            }
        }
        if Instant::now() >= end || tools::interrupted() {
            return Ok(None);
        }
        std::hint::spin_loop();
    }
}

/// One `poll` over the sockets and the link announcements, then one read: two system calls per probe
/// for the responder, as in a plain C loop. With the datagram, whether it came to the joined socket.
fn poll_once(c: &mut Common, buf: &mut [u8], wait: Duration) -> Result<Option<(RecvMeta, bool)>, Fail> {
    // Bit 0: the joined socket; bit 1: the prober's own socket, if any; then the link announcements, if watched.
    let (ready, link_ready) = {
        let mut fds = [c.socket_rx.socket().as_fd(); 3];
        let mut n = 1;
        if let Some(t) = &c.socket_tx {
            fds[n] = t.as_fd();
            n += 1;
        }
        let sockets = n;
        if let Some(l) = c.socket_rx.link_fd() {
            fds[n] = l;
            n += 1;
        }
        let ready =
            mcast::sys::socket::poll_few(&fds[..n], Some(wait)).map_err(|e| Fail::runtime(format!("poll: {e}")))?;
        (ready, sockets < n && ready & (1 << sockets) != 0)
    };
    if link_ready {
        follow_links(c);
    }
    if ready & 1 != 0 {
        if let Some(m) = try_recv(c.socket_rx.socket(), buf)? {
            return Ok(Some((m, true)));
        }
    }
    if let (Some(t), true) = (&c.socket_tx, ready & 2 != 0) {
        if let Some(m) = try_recv(t, buf)? {
            return Ok(Some((m, false)));
        }
    }
    Ok(None)
}

fn serve_probes(c: &mut Common, count: Option<u64>, timeout: Option<Duration>) -> Result<(), Fail> {
    let deadline = timeout.map(|t| Instant::now() + t);
    if !c.quiet {
        tools::note(&format!("mcast ping: answering probes to {} (Ctrl-C stops)", c.group));
    }
    let mut out = Out::new();
    let mut buf = vec![0u8; BUFFER];
    let mut answered = 0u64;
    let mut failures = SendStats::default();
    while !count.is_some_and(|n| answered >= n) && !tools::interrupted() {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let Some((meta, joined)) = recv_until(c, &mut buf, deadline)? else { continue };
        let data = &mut buf[..meta.len];
        let Ok((repr, _)) = proto::decode(data) else { continue };
        if repr.kind != Kind::PingRequest || meta.truncated {
            observe(c, &repr, joined);
            continue;
        }
        // The answer is the probe with its type changed: session, sequence, send time and payload echoed. The
        // unicast answer leaves first, before any bookkeeping, since its round trip is the one measured closest.
        let s = c.socket_rx.socket();
        Packet::new_unchecked(&mut *data).set_kind(Kind::PingReplyUnicast);
        tools::send_counted(&mut failures, || s.send_to(data, meta.source))?;
        observe(c, &repr, joined);
        let s = c.socket_rx.socket();
        Packet::new_unchecked(&mut *data).set_kind(Kind::PingReplyMulticast);
        let dest = c.dest;
        if tools::send_counted(&mut failures, || s.send_to(data, dest))?.is_none() {
            // The interface may have been made again under a new index: the next answer leaves by it.
            relook(c);
        }
        answered += 1;
        if c.quiet {
            continue;
        }
        let line = if c.json {
            Json::new()
                .str("type", "probe")
                .str("from", &meta.source.to_string())
                .int("session", repr.session)
                .int("seq", repr.seq)
                .opt_int("ttl", meta.ttl)
                .finish()
        } else {
            format!(
                "probe from {} session {:08x} seq={} ttl={}",
                meta.source,
                repr.session,
                repr.seq,
                meta.ttl.map_or("-".into(), |t| t.to_string())
            )
        };
        out.line(&line)?;
    }
    let drops = kernel_drops(c);
    let line = if c.json {
        Json::new()
            .str("type", "summary")
            .int("answered", answered)
            .int("send_failed", failures.failed)
            .int("kernel_drops", drops)
            .raw("outages", &output::array(c.socket_rx.outages().map(outage_json)))
            .finish()
    } else {
        let mut line = format!("answered {answered} probe{}", if answered == 1 { "" } else { "s" });
        line.push_str(&troubles(&failures, drops));
        line.push_str(&outage_lines(c));
        line
    };
    out.text(&line)
}

/// "\n    outage: vb deleted at ..., back as index 9 (was 4) after 1.250 s" per outage, or nothing.
fn outage_lines(c: &Common) -> String {
    c.socket_rx.outages().map(|o| format!("\n    outage: {}", outage_text(o))).collect()
}

/// Datagrams the kernel dropped on the prober's sockets for want of buffer space (`SO_MEMINFO`, exact).
fn kernel_drops(c: &Common) -> u64 {
    let rx = c.socket_rx.socket().kernel_drops().unwrap_or(0);
    let tx = c.socket_tx.as_ref().and_then(|s| s.kernel_drops().ok()).unwrap_or(0);
    u64::from(rx) + u64::from(tx)
}

/// ", 3 sends failed (...), 12 dropped by the kernel (receive buffer full)", or nothing.
fn troubles(failures: &SendStats, drops: u64) -> String {
    let mut s = tools::failures_text(failures).map_or(String::new(), |f| format!(", {f}"));
    if drops > 0 {
        s.push_str(&format!(", {drops} dropped by the kernel (receive buffer full)"));
    }
    s
}

/// One responder's answers of one kind.
#[derive(Default)]
struct Row {
    seqs: SeqTracker,
    rtt: Rtt,
    ttl: Option<u8>,
    /// The first probe whose answer of this kind could arrive (`OwnSource::counted_from`); earlier ones are
    /// shown but not counted.
    from: u64,
}

fn probe(c: &mut Common, count: Option<u64>, interval: Duration, wait: Duration, size: usize) -> Result<(), Fail> {
    let session = tools::session_id();
    let payload = vec![0u8; size];
    let mut probe_buf = vec![0u8; proto::HEADER_LEN + size];
    let mut buf = vec![0u8; BUFFER];
    let mut rows: BTreeMap<(IpAddr, u8), Row> = BTreeMap::new();
    let mut out = Out::new();
    let mut sent = 0u64;
    let mut failures = SendStats::default();
    let start = Instant::now();
    let mut next_send = start;
    let mut last_send = start;
    if !c.quiet && !c.json {
        out.line(&format!("PING {} session {session:08x}: probes of {} bytes", c.group, probe_buf.len()))?;
    }
    loop {
        if tools::interrupted() {
            break;
        }
        let now = Instant::now();
        let more = count.map_or(true, |n| sent < n);
        if more && now >= next_send {
            let len = proto::encode(Kind::PingRequest, session, sent, proto::now_ns(), &payload, &mut probe_buf)
                .map_err(Fail::runtime)?;
            // A probe that cannot leave (the link is gone) is counted, and its number goes unanswered; the
            // interface is looked up again, in case it was made again under a new index.
            let (s, dest) = (c.sending(), c.dest);
            if tools::send_counted(&mut failures, || s.send_to(&probe_buf[..len], dest))?.is_none() {
                relook(c);
            }
            sent += 1;
            last_send = now;
            next_send += interval;
            continue;
        }
        let deadline = if more { next_send } else { last_send + wait };
        if !more && now >= deadline {
            break;
        }
        let Some((meta, joined)) = recv_until(c, &mut buf, Some(deadline))? else { continue };
        let Ok((repr, _)) = proto::decode(&buf[..meta.len]) else { continue };
        observe(c, &repr, joined);
        if !matches!(repr.kind, Kind::PingReplyMulticast | Kind::PingReplyUnicast)
            || repr.session != session
            || repr.seq >= sent
        {
            continue;
        }
        let rtt = tools::arrival_ns(&meta).saturating_sub(repr.send_time_ns);
        let from = meta.source.ip();
        let counted_from = match (&mut c.own, repr.kind) {
            (Own::Blocked(own), Kind::PingReplyUnicast) => {
                own.answered(c.socket_rx.socket(), c.group.ip(), from, repr.seq);
                0
            }
            (Own::Blocked(own), _) => own.counted_from(from),
            _ => 0,
        };
        let row = rows.entry((from, repr.kind as u8)).or_insert_with(|| Row { from: counted_from, ..Row::default() });
        // An answer to a probe before the row's first counted one is shown, not counted.
        let arrival = (repr.seq >= row.from).then(|| row.seqs.record(repr.seq));
        if matches!(arrival, Some(Arrival::InOrder | Arrival::Reordered)) {
            row.rtt.record(rtt);
        }
        row.ttl = meta.ttl.or(row.ttl);
        if c.quiet {
            continue;
        }
        let line = if c.json {
            Json::new()
                .str("type", "reply")
                .str("responder", &meta.source.ip().to_string())
                .str("kind", kind_name(repr.kind))
                .int("seq", repr.seq)
                .opt_int("ttl", meta.ttl)
                .float("rtt_ms", tools::ms(rtt as f64))
                .bool("duplicate", arrival == Some(Arrival::Duplicate))
                .bool("reordered", arrival == Some(Arrival::Reordered))
                .finish()
        } else {
            let mark = match arrival {
                Some(Arrival::Duplicate) => " (DUP!)",
                Some(Arrival::Reordered) => " (reordered)",
                None => " (before this row's first counted probe)",
                _ => "",
            };
            format!(
                "{:<15} {:>9} seq={} ttl={} time={} ms{mark}",
                meta.source.ip(),
                kind_name(repr.kind),
                repr.seq,
                meta.ttl.map_or("-".into(), |t| t.to_string()),
                fmt_ms(rtt as f64)
            )
        };
        out.line(&line)?;
    }
    report(c, &mut out, sent, &rows, &failures)?;
    if rows.is_empty() {
        return Err(Fail::runtime(format!("no answer to {sent} probe{}", if sent == 1 { "" } else { "s" })));
    }
    Ok(())
}

fn report(
    c: &Common,
    out: &mut Out,
    sent: u64,
    rows: &BTreeMap<(IpAddr, u8), Row>,
    failures: &SendStats,
) -> Result<(), Fail> {
    let drops = kernel_drops(c);
    if !c.json {
        out.line(&format!("--- {} ping statistics: {sent} probes{} ---", c.group, troubles(failures, drops)))?;
        if c.socket_rx.outage_count() > 0 {
            out.text(outage_lines(c).trim_start_matches('\n'))?;
        }
    }
    for ((ip, kind), row) in rows {
        let kind = kind_name(Kind::from_u8(*kind).unwrap_or(Kind::PingReplyUnicast));
        let received = row.seqs.unique;
        let expected = sent.saturating_sub(row.from);
        let lost = row.seqs.lost(expected);
        let sum = row.rtt.summary();
        let line = if c.json {
            let mut j = Json::new()
                .str("type", "responder")
                .str("responder", &ip.to_string())
                .str("kind", kind)
                .int("sent", expected)
                .int("from_seq", row.from)
                .int("received", received)
                .int("lost", lost)
                .float("loss_pct", pct(lost, expected))
                .int("duplicates", row.seqs.duplicates)
                .int("reordered", row.seqs.reordered)
                .opt_int("ttl", row.ttl);
            if let Some(s) = sum {
                j = j
                    .float("rtt_min_ms", tools::ms(s.min as f64))
                    .float("rtt_avg_ms", tools::ms(s.avg))
                    .float("rtt_max_ms", tools::ms(s.max as f64))
                    .float("rtt_p50_ms", tools::ms(s.p50 as f64))
                    .float("rtt_p99_ms", tools::ms(s.p99 as f64))
                    .float("rtt_mdev_ms", tools::ms(s.mdev));
            }
            j.finish()
        } else {
            let rtt = sum.map_or(String::new(), |s| {
                format!(
                    "  rtt min/avg/max/p50/p99/mdev = {}/{}/{}/{}/{}/{} ms",
                    fmt_ms(s.min as f64),
                    fmt_ms(s.avg),
                    fmt_ms(s.max as f64),
                    fmt_ms(s.p50 as f64),
                    fmt_ms(s.p99 as f64),
                    fmt_ms(s.mdev)
                )
            });
            let from = if row.from > 0 { format!(" (from seq={})", row.from) } else { String::new() };
            format!(
                "{ip:<15} {kind:>9}: {received} received{from}, {:.1}% loss ({lost}), {} duplicates, {} reordered{rtt}",
                pct(lost, expected),
                row.seqs.duplicates,
                row.seqs.reordered
            )
        };
        out.line(&line)?;
    }
    if c.json {
        out.line(
            &Json::new()
                .str("type", "summary")
                .int("sent", sent)
                .int("send_failed", failures.failed)
                .int("kernel_drops", drops)
                .int("rows", rows.len() as u64)
                .raw("outages", &output::array(c.socket_rx.outages().map(outage_json)))
                .finish(),
        )?;
    }
    Ok(())
}
