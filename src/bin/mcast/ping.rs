//! `mcast ping GROUP:PORT`: probe a group and measure, per responder, the multicast and the unicast round trip;
//! `mcast ping --serve GROUP:PORT` answers each probe twice, to the group and to the prober. The work is
//! `mcast::ping`'s; this file parses, runs the engine and prints (`ping_lines`).

use std::time::Duration;

use mcast::guard::{self, AnswerPolicy, RateLimit};
use mcast::ping::{ProbeEvent, ProbeReport, Prober, ServeEvent, Server, SsmProber};
use mcast::wire::proto;
use mcast::{Group, Interface};

use crate::args::{self, Fail, Matches, Opt};
use crate::output::{self, Out};
use crate::ping_lines as lines;
use crate::tools;
use crate::vocab;

pub const SUMMARY: &str = "round-trip time and loss to every responder of a group, multicast and unicast";

pub const HELP: &str = r#"mcast ping: round-trip time and loss to every responder of a multicast group

Usage: mcast ping GROUP:PORT [OPTIONS]          probe the group and report per responder
       mcast ping --serve GROUP:PORT [OPTIONS]  answer probes (and ssmping queries to PORT)
       mcast ping --ssmping HOST [GROUP] [OPTIONS]  probe an ssmping server (ssmpingd)

The prober joins GROUP on PORT and sends a probe there every --interval. Each responder (--serve)
answers every probe twice: once to the group, once by unicast to the prober. So each responder gets two
rows, "multicast" and "unicast", each with loss, duplicates, reordering and round-trip time
(min/avg/max/p50/p99/mdev). Probe and answers carry the mcast header (docs/protocol.md); times are the
kernel's arrival stamps (SO_TIMESTAMPNS) minus the send time carried in the probe.

The prober does not hear its own probes: while it is the only member of the group on this host, it has
the kernel loop none back (IP_MULTICAST_LOOP off on its sending socket); when another member is there
(/proc/net/igmp, looked at every 200 ms), the loop is on and a socket filter (SO_ATTACH_FILTER) drops
the probes of its session before they are queued, so the kernel does not wake it for one. Its membership
stays plain (no source excluded, which some PIM routers would not forward), and a responder on the same
host is heard on both channels. Every responder heard gets both rows: one whose multicast answers never arrive shows
"0 received, 100% loss" there.

ssmping (draft-ietf-mboned-ssmping): with --ssmping, the prober is an ssmping client of the server HOST
(ssmpingd, FRR's pimd, or mcast ping --serve on port 4321): it queries HOST:4321 by unicast and measures
the answers by unicast and to GROUP (default 232.43.211.234 or ff3e::4321:1234), joined for HOST alone
when GROUP is source-specific (ssmping), for any source otherwise (asmping; the server answers only groups
ending in .234 or 4321:1234). Both rows give the distance: routers between, from the answers' TTL (64 when
they left). A responder (--serve) answers ssmping and asmping queries that reach its port as ssmpingd does:
the query sent back by unicast and to the group it names, with TTL 64, never larger than the query (a
server version or padding asked for is left out). Its unicast answers to probes leave with TTL 64 too, so
the prober's unicast rows give the distance as well.

Both sides follow their interfaces: when the one they joined on goes down and up, or is deleted and
made again under the same name, they join again and send from it anew (saying so on standard error),
and the summary lists each outage: the interface, what happened, when, for how long, and the probes
(or multicast answers) missed.

{options}

A responder answers a probe only if its source could be a real prober (not port 0, not a broadcast,
multicast or unspecified address), is on a directly connected subnet (or --allow), and neither its
rate nor the total rate is exceeded (docs/security.md); the answers are never larger than the probe.
Other datagrams are refused and counted by reason ("refused" in the summary); the prober counts
datagrams that are no answer to its own probes as "foreign".

Output: a line per answer ("10.0.0.2 multicast seq=3 ttl=64 time=0.123 ms"), then a row per responder
and kind. --json: {"type":"reply",...} per answer, {"type":"responder",...} per row, {"type":"summary",...}
with "outages" (as `mcast recv` gives them) and "refused" (counts by reason); without --quiet, a line per
refused datagram ({"type":"refused",...}).

Exit status: 0 when an answer arrived (prober) or at the end (responder); 1 when no answer arrived or on
a runtime error; 2 bad arguments; 130 at Ctrl-C (SIGINT), 143 at SIGTERM, after the summary.

Examples:
  mcast ping --serve 239.1.2.3:4321 --iface eth0
  mcast ping 239.1.2.3:4321 --iface eth0 --count 10 --interval 0.2
"#;

pub const OPTS: &[Opt] = &[
    Opt::heading("Options (both sides):"),
    vocab::IFACE.help(
        "join on and send from this interface (name, index or address). IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP, \
         IP_MULTICAST_IF / IPV6_MULTICAST_IF. (ping's -I is this; its -i is --interval)",
    ),
    vocab::SOURCE.help("source-specific join: accept multicast only from ADDR (repeatable)"),
    vocab::TTL.help("TTL / hop limit of what this side sends to the group, 0..=255 (default 1; ping's -t is this)"),
    vocab::DSCP,
    Opt::flag(
        "--busy-poll",
        "spin on a non-blocking socket instead of sleeping in poll(): lower, steadier round trips for one busy core",
    ),
    vocab::COUNT.help(
        "prober: send N probes, then wait --wait for the last answers (default: until Ctrl-C). Responder: exit \
         after answering N probes",
    ),
    vocab::JSON.help("one JSON object per line instead of text (docs/json.md)"),
    vocab::QUIET.help("no line per answer (or per probe, with --serve): only the summary"),
    Opt::heading("Prober options:"),
    Opt::flag(
        "--ssmping",
        "probe the ssmping server HOST (ssmpingd) instead of a group: mcast ping --ssmping HOST [GROUP]",
    ),
    vocab::INTERVAL
        .help("time between probes (default 1; at least 0.001). No short form: -i is --iface (ping's -i is this)"),
    Opt::value("--wait", "SECS", "how long to wait for answers after the last probe (default 1)"),
    vocab::SIZE.help("payload bytes in each probe, echoed back (default 0)"),
    Opt::value(
        "--max-responders",
        "N",
        "responders remembered at once (default 1024); past it the idlest is forgotten and counted \
         (\"responders_evicted\"), so forged answers cannot fill memory",
    ),
    Opt::heading("Responder options:"),
    vocab::SERVE.help("answer probes (and ssmping queries to PORT) instead of sending them"),
    vocab::TIME.help("exit after SECS seconds (an overall limit)").alias(&["--timeout"]),
    Opt::value(
        "--allow",
        "PREFIX",
        "also answer sources in PREFIX (repeatable); by default only sources on a subnet directly connected \
         to the host are answered (0.0.0.0/0, ::/0: every routed source)",
    ),
    Opt::value("--answer-rate", "N", "answers a second to one source, and as many at once (default 1000)"),
    Opt::value("--total-rate", "N", "answers a second in all, and as many at once (default 10000)"),
];

const USAGE: &str = "mcast ping [--serve] GROUP:PORT [OPTIONS] | mcast ping --ssmping HOST [GROUP] [OPTIONS]";

/// What both sides take from the command line.
struct Common {
    group: Group,
    ifaces: Vec<Interface>,
    sources: Vec<std::net::IpAddr>,
    ttl: Option<u8>,
    dscp: Option<u8>,
    count: Option<u64>,
    busy: bool,
    json: bool,
    quiet: bool,
}

pub fn run(words: &[String]) -> Result<(), Fail> {
    let Some(m) = args::command_line(words, OPTS, HELP)? else { return Ok(()) };
    if m.flag("--ssmping") {
        return ssmping(&m);
    }
    let pos = m.positionals(1, 1, "GROUP:PORT", USAGE)?;
    let serve = m.flag("--serve");
    if serve {
        tools::refuse(&m, &["--interval", "--wait", "--size", "--max-responders"], "is for the prober, not --serve")?;
    } else {
        let why = "is for --serve (the prober ends after --count and --wait)";
        tools::refuse(&m, &["--time", "--allow", "--answer-rate", "--total-rate"], why)?;
    }
    let c = Common {
        group: tools::group(&pos[0])?,
        ifaces: tools::ifaces(&m, "--iface")?,
        sources: tools::sources(&m)?,
        ttl: tools::ttl(&m)?,
        dscp: tools::dscp(&m)?,
        count: m.int_in("--count", 1, u64::MAX)?,
        busy: m.flag("--busy-poll"),
        json: m.flag("--json"),
        quiet: m.flag("--quiet"),
    };
    if serve {
        serve_probes(&m, &c)
    } else {
        probe(&m, &c)
    }
}

/// The answering policy from `--allow`, `--answer-rate` and `--total-rate`.
fn policy(m: &Matches) -> Result<AnswerPolicy, Fail> {
    let mut p = AnswerPolicy::default();
    for v in m.values("--allow") {
        let prefix = guard::parse_prefix(v).ok_or_else(|| Fail::usage(format!("--allow {v}: not ADDR/LEN")))?;
        p.allow.push(prefix);
    }
    let rate = |name: &str, default: u32| -> Result<RateLimit, Fail> {
        let n = m.int_in(name, 1, u64::from(u32::MAX))?.map_or(default, |n| n as u32);
        Ok(RateLimit::per_second(n))
    };
    p.per_source = rate("--answer-rate", guard::DEFAULT_PER_SOURCE)?;
    p.total = rate("--total-rate", guard::DEFAULT_TOTAL)?;
    Ok(p)
}

/// The options both sides take, applied to either side's builder (they have the same setters).
macro_rules! with_common {
    ($b:expr, $c:expr) => {{
        let mut b = $b;
        for i in &$c.ifaces {
            b = b.interface(i.clone());
        }
        for s in &$c.sources {
            b = b.source(*s);
        }
        if let Some(t) = $c.ttl {
            b = b.ttl(t);
        }
        if let Some(d) = $c.dscp {
            b = b.dscp(d);
        }
        if let Some(n) = $c.count {
            b = b.count(n);
        }
        b
    }};
}

fn serve_probes(m: &Matches, c: &Common) -> Result<(), Fail> {
    let mut b = Server::builder(c.group).policy(policy(m)?).busy_poll(c.busy).arrival_ttl(!c.quiet);
    b = with_common!(b, c);
    if let Some(t) = m.seconds("--time")? {
        b = b.timeout(t);
    }
    let mut server = b.build()?;
    tools::catch_interrupts()?;
    if !c.quiet {
        tools::note(&format!("mcast ping: answering probes to {} (Ctrl-C stops)", c.group));
    }
    let mut out = Out::new();
    while !server.is_done() && !tools::interrupted() {
        let event = server.step()?;
        match event {
            _ if c.quiet => {}
            Some(ServeEvent::Link(n)) => tools::note(&format!("mcast ping: {n}")),
            Some(ServeEvent::Answered(a)) => out.line(&lines::answered(&a, c.json))?,
            Some(ServeEvent::Refused { source, reason }) => out.line(&lines::refused(source, reason, c.json))?,
            _ => {}
        }
    }
    out.text(&lines::serve_summary(&server.report(), c.json))
}

fn probe(m: &Matches, c: &Common) -> Result<(), Fail> {
    let interval = m.seconds("--interval")?.unwrap_or(Duration::from_secs(1));
    if interval < Duration::from_millis(1) {
        return Err(Fail::usage(format!("--interval {}: at least 0.001 seconds", interval.as_secs_f64())));
    }
    let mut b = Prober::builder(c.group)
        .interval(interval)
        .wait(m.seconds("--wait")?.unwrap_or(Duration::from_secs(1)))
        .size(m.bytes("--size", 0, proto::MAX_PAYLOAD as u64)?.unwrap_or(0) as usize)
        .busy_poll(c.busy);
    if let Some(n) = m.int_in("--max-responders", 1, 1 << 24)? {
        b = b.max_responders(n as usize);
    }
    b = with_common!(b, c);
    let mut prober = b.build()?;
    tools::catch_interrupts()?;
    let mut out = Out::new();
    if !c.quiet && !c.json {
        let (group, session, len) = (c.group, prober.session(), prober.probe_len());
        out.line(&format!("PING {group} session {session:08x}: probes of {len} bytes"))?;
    }
    while !prober.is_done() && !tools::interrupted() {
        let event = prober.step()?;
        match event {
            _ if c.quiet => {}
            Some(ProbeEvent::Link(n)) => tools::note(&format!("mcast ping: {n}")),
            Some(ProbeEvent::Reply(r)) => out.line(&lines::reply(&r, c.json))?,
            Some(ProbeEvent::Refused { source, reason }) => out.line(&lines::refused(source, reason, c.json))?,
            _ => {}
        }
    }
    summary(&mut out, &c.group.to_string(), &prober.report(), c.json)
}

/// The prober's summary, and its exit status: a failure when no answer came.
fn summary(out: &mut Out, target: &str, report: &ProbeReport, json: bool) -> Result<(), Fail> {
    for line in lines::probe_summary(target, report, json) {
        out.line(&line)?;
    }
    if report.rows.iter().all(|r| r.received == 0) {
        return Err(Fail::runtime(format!("no answer to {} probe{}", report.sent, output::plural(report.sent))));
    }
    Ok(())
}

/// `mcast ping --ssmping HOST [GROUP]`: an ssmping client.
fn ssmping(m: &Matches) -> Result<(), Fail> {
    let pos = m.positionals(1, 2, "HOST [GROUP]", USAGE)?;
    let why = "is not for --ssmping";
    let others = ["--serve", "--source", "--ttl", "--busy-poll", "--size", "--max-responders", "--timeout", "--allow"];
    tools::refuse(m, &others, why)?;
    tools::refuse(m, &["--answer-rate", "--total-rate"], why)?;
    let host: std::net::IpAddr =
        pos[0].parse().map_err(|_| Fail::usage(format!("{}: not an IP address (HOST of --ssmping)", pos[0])))?;
    let interval = m.seconds("--interval")?.unwrap_or(Duration::from_secs(1));
    let mut b =
        SsmProber::builder(host).interval(interval).wait(m.seconds("--wait")?.unwrap_or(Duration::from_secs(1)));
    if let Some(g) = pos.get(1) {
        b = b.group(g.parse().map_err(|_| Fail::usage(format!("{g}: not a group address")))?);
    }
    if let Some(i) = tools::ifaces(m, "--iface")?.into_iter().next() {
        b = b.interface(i);
    }
    if let Some(n) = m.int_in("--count", 1, u64::from(u32::MAX))? {
        b = b.count(n);
    }
    let (json, quiet) = (m.flag("--json"), m.flag("--quiet"));
    let mut prober = b.build()?;
    tools::catch_interrupts()?;
    let mut out = Out::new();
    if !quiet && !json {
        out.line(&format!("SSMPING {host} group {} client id {}", prober.group(), prober.client_id()))?;
    }
    while !prober.is_done() && !tools::interrupted() {
        match prober.step()? {
            _ if quiet => {}
            Some(ProbeEvent::Reply(r)) => out.line(&lines::reply(&r, json))?,
            Some(ProbeEvent::Refused { source, reason }) => out.line(&lines::refused(source, reason, json))?,
            _ => {}
        }
    }
    summary(&mut out, &format!("{host} ssmping"), &prober.report(), json)
}
