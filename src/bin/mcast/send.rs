//! `mcast send GROUP:PORT [MESSAGE...]`: datagrams to a group, from the arguments or standard input.

use std::io;

use mcast::__private::payload::{max_payload, Payloads, Source};
use mcast::__private::sendretry::{Outcome, ResilientSender};
use mcast::{Group, IfaceSpec, Sender};

use crate::args::{self, Fail, Opt};
use crate::output::{plural, Out};
use crate::send_print::{datagram_line, settings, summary_json, summary_text};
use crate::tools::{self, note};
use crate::vocab;

pub const SUMMARY: &str = "send datagrams to a group (message from arguments or stdin lines)";

pub const HELP: &str = r#"mcast send: send UDP datagrams to a multicast group

Usage: mcast send GROUP:PORT [MESSAGE...] [OPTIONS]
       mcast send GROUP:PORT --raw [--size BYTES] [OPTIONS] < FILE

Sends MESSAGE (its words joined by spaces) --count times. With no MESSAGE (and no --size), sends one
datagram per line of standard input, without the line's end. Prints a line per datagram and a summary.

A send that fails because the interface or route is gone (ENETUNREACH, ENODEV, EADDRNOTAVAIL: a link
down, an interface deleted) is counted, reported, and the sender carries on at its pace, looking the
interface up again by name (a re-created interface has a new index). A full queue (ENOBUFS, EAGAIN) is
retried a few times, pausing 0.5 ms and doubling up to 50 ms, before the datagram counts as failed.

GROUP:PORT is 239.1.2.3:5000, [ff15::1]:5000 or [ff02::1%eth0]:5000. A link- or interface-local IPv6
group (ff02::/16, ff01::/16) needs an interface: the %zone or --iface.

Options, with the C socket option each one sets:
{options}

Exit status: 0 all sent; 1 some failed (after the others were sent and the summary printed), or an
error no retry can help (e.g. a datagram too large); 2 bad arguments; 130 at Ctrl-C (SIGINT), 143 at
SIGTERM, after the summary.

Examples:
  mcast send 239.1.2.3:5000 hello                  one datagram, TTL 1, the routing table's interface
  mcast send 239.1.2.3:5000 --iface lo --ttl 0 --count 3 --interval 0.5 ping
                                                   three datagrams that never leave this host
  tail -f app.log | mcast send '[ff15::1]:5000' --iface eth0 --quiet
                                                   one datagram per line
"#;

pub const OPTS: &[Opt] = &[
    vocab::TTL.help(
        "TTL (IPv4) or hop limit (IPv6) of each datagram, 0..=255. Customary scopes: 0 this host only, 1 this \
         link (the kernel's default), 32 site, 64 region, 128 continent, 255 unrestricted. Linux keeps TTL 0 on \
         this host only when this host is a member of the group on the outgoing interface (with loop on); \
         otherwise it transmits it with TTL 0 and neighbours on the link receive it. \
         setsockopt IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS",
    ),
    vocab::LOOP,
    vocab::NO_LOOP,
    vocab::IFACE.help(
        "send from this interface: a name (eth0), an index (2) or an address (192.168.1.10). Default: the \
         interface the routing table picks for the group. setsockopt IP_MULTICAST_IF (struct in_addr, or \
         ip_mreqn by index) / IPV6_MULTICAST_IF. (iperf's -i is --interval; its -B is this)",
    ),
    vocab::COUNT.help("send N datagrams (default 1); with standard input, at most N lines (iperf's -c names a server)"),
    Opt::value(
        "--interval",
        "SECS",
        "pause between two datagrams, fractions allowed (default 0; iperf's -i is a report interval)",
    ),
    vocab::SIZE.help(
        "make every datagram exactly BYTES long: a message is padded with '.' or cut. With no message, each \
         datagram is generated: \"mcast #SEQ \" and filler. At most 65507 (IPv4) or 65527 (IPv6), the largest \
         UDP payload. -l as iperf's",
    ),
    vocab::SNDBUF,
    vocab::DSCP,
    Opt::flag(
        "--raw",
        "pipe mode: send standard input as it is, binary-safe: datagrams of --size bytes (the last may be \
         shorter), or without --size one per read of the input (tar c . | mcast send --raw G)",
    ),
    vocab::QUIET.help("no line per datagram, only the summary"),
    vocab::JSON.help(
        "one JSON object per line: {\"type\":\"sent\",...} or {\"type\":\"failed\",...} per datagram, then \
         {\"type\":\"summary\",...} (docs/json.md)",
    ),
];

const USAGE: &str = "mcast send GROUP:PORT [MESSAGE...] [OPTIONS]";

pub fn run(words: &[String]) -> Result<(), Fail> {
    let Some(m) = args::command_line(words, OPTS, HELP)? else { return Ok(()) };
    let pos = m.positionals(1, usize::MAX, "GROUP:PORT", USAGE)?;
    let group = Group::parse_with_port(&pos[0])?;
    let ttl = tools::ttl(&m)?;
    let multicast_loop = m.last_of("--loop", "--no-loop");
    let iface: Option<IfaceSpec> = m.parsed("--iface")?;
    let count = m.int_in("--count", 1, u64::MAX)?;
    let interval = m.seconds("--interval")?.unwrap_or_default();
    let size = m.bytes("--size", 0, max_payload(group) as u64)?.map(|n| n as usize);
    let dscp = tools::dscp(&m)?;
    let sndbuf = m.bytes("--sndbuf", 1, i32::MAX as u64)?.map(|n| n as u32);
    let (quiet, json) = (m.flag("--quiet"), m.flag("--json"));

    let sender = build(group, ttl, multicast_loop, iface, sndbuf)?;
    if let Some(d) = dscp {
        sender.socket().set_dscp(d)?;
    }
    let set = settings(&sender)?;
    let iface_name = sender.interface().map(|i| i.name.clone());
    let mut tx = ResilientSender::new(sender);

    let raw = m.flag("--raw");
    let source = match (pos.len() > 1, size, raw) {
        (true, _, true) => return Err(Fail::usage("--raw sends standard input: no MESSAGE with it")),
        (_, Some(0), true) => return Err(Fail::usage("--raw --size 0: a datagram needs a byte")),
        (false, Some(n), true) => Source::Chunks(Box::new(io::stdin().lock()), n),
        (false, None, true) => Source::Reads(Box::new(io::stdin().lock()), max_payload(group)),
        (true, _, false) => Source::Message(pos[1..].join(" ").into_bytes()),
        (false, Some(_), false) => Source::Generated,
        (false, None, false) => Source::Lines(Box::new(io::stdin().lock())),
    };
    // Ctrl-C ends a long --count early with the summary; while reading stdin it keeps its usual meaning,
    // since a read blocked on a terminal would not notice the flag.
    if !matches!(source, Source::Lines(_) | Source::Chunks(..) | Source::Reads(..)) {
        mcast::__private::signal::catch_interrupts().map_err(|e| Fail::runtime(format!("sigaction: {e}")))?;
    }

    let mut out = Out::new();
    let mut seq = 0u64;
    for payload in Payloads::new(source, count, size) {
        if seq > 0 && !interval.is_zero() {
            std::thread::sleep(interval);
        }
        if mcast::__private::signal::interrupted() {
            break;
        }
        let payload = payload.map_err(|e| Fail::runtime(format!("reading standard input: {e}")))?;
        seq += 1;
        let streak = tx.stats().streak;
        let outcome = tx.send(&payload)?;
        if !quiet {
            match &outcome {
                Outcome::Sent(_) if streak > 0 => {
                    note(&format!("mcast send: sending again after {streak} failed send{}", plural(streak)))
                }
                Outcome::Failed(e) if streak == 0 => {
                    note(&format!("mcast send: sends failing ({e:#}); counting them and carrying on"))
                }
                _ => {}
            }
            out.line(&datagram_line(group, seq, &payload, &outcome, json))?;
        }
    }

    let st = tx.stats();
    let line = if json {
        summary_json(group, st, &set, iface_name.as_deref())
    } else {
        summary_text(group, st, &set, iface_name.as_deref())
    };
    out.line(&line)?;
    if st.failed > 0 {
        return Err(Fail::runtime(format!("{} of {seq} datagrams could not be sent", st.failed)));
    }
    Ok(())
}

/// The sender the options ask for, with the send buffer they ask for (noted when clamped).
fn build(
    group: Group,
    ttl: Option<u8>,
    multicast_loop: Option<bool>,
    iface: Option<IfaceSpec>,
    sndbuf: Option<u32>,
) -> Result<Sender, Fail> {
    let mut builder = Sender::builder(group);
    if let Some(t) = ttl {
        builder = builder.ttl(t);
    }
    if let Some(on) = multicast_loop {
        builder = builder.multicast_loop(on);
    }
    if let Some(i) = iface {
        builder = builder.interface(i);
    }
    let sender = builder.build()?;
    if let Some(bytes) = sndbuf {
        let b = sender.socket().request_send_buffer(bytes)?;
        if b.clamped() {
            note(&format!("mcast send: {b}"));
        }
    }
    Ok(sender)
}
