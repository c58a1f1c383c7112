//! `mcast demo`: a receiver and a sender in one process, IPv4 then IPv6, that never leave this host. The
//! exchanges are [`mcast::__private::hostloop`]'s (which says why they stay on this host); this file shows each socket
//! option as the kernel reads it back, and what arrived.

use mcast::__private::hostloop::{self, LoopOff, LoopPair, ARRIVE, PORT, SILENCE, V4_GROUP, V6_GROUP};
use mcast::Interface;

use crate::args::{self, Fail, Opt};
use crate::output::{self, preview, Json, Out};
use crate::vocab;

pub const SUMMARY: &str = "a sender and a receiver in one process, IPv4 then IPv6, never leaving this host";

pub const HELP: &str = r#"mcast demo: watch multicast work without touching the network

Usage: mcast demo [--json]

One process opens a receiver and a sender and shows each socket option it sets, as the kernel reads
it back, then the datagram that arrives with its metadata (source, group, interface, TTL):

  IPv4  group 239.255.0.1:5007 on lo (127.0.0.1), TTL 0 (IP_MULTICAST_TTL): a datagram with TTL 0 is
        never transmitted; with IP_MULTICAST_LOOP on, the kernel hands this host's members a copy.
  IPv6  group ff01::114 (interface-local scope) at hop limit 0 (IPV6_MULTICAST_HOPS) on the first
        interface that is up, multicast-capable and has an IPv6 address. Linux does not deliver IPv6
        multicast over lo, so lo is passed over; an interface-local group is looped back and never
        transmitted. Without such an interface the IPv6 part is skipped, with a line that says so.

Then it turns loop off (IP_MULTICAST_LOOP / IPV6_MULTICAST_LOOP 0) and sends again. On the IPv6
interface nothing arrives: at hop limit 0 the loopback copy is the only one. On lo the IPv4 datagram
still arrives, and the demo says why: loopback makes no separate copy, the datagram goes out through lo
and lo hands it back, whatever the loop option says. The receiver sets SO_REUSEADDR, joins with
IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP, and turns IP_MULTICAST_ALL / IPV6_MULTICAST_ALL off.

Takes about a second. Nothing leaves this host, so it is safe on any machine.

Options:
{options}

Exit status: 0 the exchanges worked, 1 one did not.

Examples:
  mcast demo
  make demo
"#;

pub const OPTS: &[Opt] = &[vocab::JSON.help(
    "one JSON object per line: {\"type\":\"exchange\",...} per family (or {\"type\":\"skipped\",...}), then \
     {\"type\":\"summary\",...} (docs/json.md)",
)];

/// Standard output for the demo: its text rows, or with --json only the objects.
struct Sink {
    out: Out,
    json: bool,
}

impl Sink {
    /// A text line (nothing with --json).
    fn line(&mut self, line: &str) -> Result<(), Fail> {
        if self.json {
            return Ok(());
        }
        self.out.line(line)
    }

    /// A JSON object (nothing without --json).
    fn json(&mut self, j: Json) -> Result<(), Fail> {
        if !self.json {
            return Ok(());
        }
        self.out.line(&j.finish())
    }
}

pub fn run(words: &[String]) -> Result<(), Fail> {
    let Some(m) = args::command_line(words, OPTS, HELP)? else { return Ok(()) };
    m.positionals(0, 0, "", "mcast demo [--json]")?;
    let mut out = Sink { out: Out::new(), json: m.flag("--json") };
    out.line("mcast demo: a receiver and a sender in this process, IPv4 then IPv6. Nothing leaves this host.")?;
    out.line("")?;
    ipv4(&mut out)?;
    out.line("")?;
    let v6 = ipv6(&mut out)?;
    out.line("")?;
    out.json(Json::new().str("type", "summary").int("exchanges", if v6 { 2u8 } else { 1 }))?;
    out.line(if v6 {
        "done: both exchanges arrived, and nothing left this host."
    } else {
        "done: the IPv4 exchange arrived (IPv6 skipped), and nothing left this host."
    })
}

fn on_off(b: bool) -> u8 {
    u8::from(b)
}

/// A row: the option as the kernel reads it back, then what it did.
fn row(out: &mut Sink, label: &str, setting: String, meaning: &str) -> Result<(), Fail> {
    out.line(format!("  {label:<9} {setting:<42} {meaning}").trim_end())
}

fn ipv4(out: &mut Sink) -> Result<(), Fail> {
    let pair = hostloop::ipv4_pair()?;
    let group = pair.tx.group();
    let name = pair.tx.interface().map_or("lo".to_string(), |i| i.name.clone());
    out.line(&format!("IPv4: group {group} on {name} (127.0.0.1)"))?;

    let (r, t) = (pair.rx.socket(), pair.tx.socket());
    row(
        out,
        "receiver",
        format!("bind 0.0.0.0:{PORT}, SO_REUSEADDR {}", on_off(r.reuse_address()?)),
        "other receivers may share the port",
    )?;
    row(out, "", format!("IP_ADD_MEMBERSHIP {V4_GROUP} on 127.0.0.1"), "joined on lo (struct ip_mreq)")?;
    row(
        out,
        "",
        format!("IP_MULTICAST_ALL {}", on_off(r.multicast_all_v4()?)),
        "only groups this socket joined are delivered",
    )?;
    row(
        out,
        "",
        format!("IP_PKTINFO {}, IP_RECVTTL {}", on_off(r.pktinfo_v4()?), on_off(r.recv_ttl_v4()?)),
        "each datagram reports its group, interface and TTL",
    )?;
    row(out, "sender", format!("IP_MULTICAST_TTL {}", t.multicast_ttl_v4()?), "TTL 0: never leaves this host")?;
    row(out, "", format!("IP_MULTICAST_LOOP {}", on_off(t.multicast_loop_v4()?)), "this host's members get a copy")?;
    row(out, "", format!("IP_MULTICAST_IF {}", t.multicast_if_v4()?), &format!("sent from {name}"))?;

    let arrived = exchange(out, &pair, "IPv4")?;
    let off = loop_off(out, &pair, "IPv4", "IP_MULTICAST_LOOP")?;
    out.json(arrived.str("loop_off", off))
}

/// Runs the IPv6 part; `Ok(false)` when this host cannot (no interface, or IPv6 turned off).
fn ipv6(out: &mut Sink) -> Result<bool, Fail> {
    let Some(iface) = hostloop::ipv6_interface()? else {
        let why = "no interface is up, multicast-capable and has an IPv6 address \
                   (Linux does not deliver IPv6 multicast over lo)";
        out.line(&format!("IPv6: skipped: {why}."))?;
        out.json(Json::new().str("type", "skipped").str("family", "ipv6").str("reason", why))?;
        return Ok(false);
    };
    let pair = match hostloop::ipv6_pair(&iface) {
        Ok(pair) => pair,
        Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {
            out.line("IPv6: skipped: IPv6 is turned off on this host.")?;
            out.json(Json::new().str("type", "skipped").str("family", "ipv6").str("reason", "IPv6 is turned off"))?;
            return Ok(false);
        }
        Err(e) => return Err(e.into()),
    };
    let name = &iface.name;
    out.line(&format!("IPv6: group [{V6_GROUP}]:{PORT} on {name} (index {})", iface.index))?;
    wrapped(
        out,
        &format!(
            "lo is passed over: Linux does not deliver IPv6 multicast over loopback. With interface-local \
             scope and hop limit 0 the kernel loops the datagram back and never transmits it on {name}."
        ),
    )?;

    let (r, t) = (pair.rx.socket(), pair.tx.socket());
    row(
        out,
        "receiver",
        format!("bind [::]:{PORT}, SO_REUSEADDR {}", on_off(r.reuse_address()?)),
        "other receivers may share the port",
    )?;
    row(
        out,
        "",
        format!("IPV6_JOIN_GROUP {V6_GROUP} on index {}", iface.index),
        &format!("joined on {name} (struct ipv6_mreq)"),
    )?;
    row(
        out,
        "",
        format!("IPV6_MULTICAST_ALL {}", on_off(r.multicast_all_v6()?)),
        "only groups this socket joined are delivered",
    )?;
    row(
        out,
        "",
        format!(
            "IPV6_RECVPKTINFO {}, IPV6_RECVHOPLIMIT {}",
            on_off(r.recv_pktinfo_v6()?),
            on_off(r.recv_hoplimit_v6()?)
        ),
        "each datagram reports its group, interface and hop limit",
    )?;
    row(
        out,
        "sender",
        format!("IPV6_MULTICAST_HOPS {}", t.multicast_hops_v6()?),
        "hop limit 0: never leaves this host",
    )?;
    row(out, "", format!("IPV6_MULTICAST_LOOP {}", on_off(t.multicast_loop_v6()?)), "this host's members get a copy")?;
    row(out, "", format!("IPV6_MULTICAST_IF {}", t.multicast_if_v6()?), &format!("sent from {name}"))?;

    let arrived = exchange(out, &pair, "IPv6")?;
    let off = loop_off(out, &pair, "IPv6", "IPV6_MULTICAST_LOOP")?;
    out.json(arrived.str("loop_off", off))?;
    Ok(true)
}

/// Sends one datagram and shows what arrived; returns the JSON object of the exchange, to be completed.
fn exchange(out: &mut Sink, pair: &LoopPair, family: &str) -> Result<Json, Fail> {
    let msg = hostloop::payload(family, "loop on");
    let (n, meta) = pair.exchange(&msg, ARRIVE)?;
    row(out, "sent", format!("{n} bytes"), &format!("\"{}\"", preview(&msg, 80)))?;
    let meta = meta
        .ok_or_else(|| Fail::runtime(format!("{family}: the datagram did not arrive within {} s", ARRIVE.as_secs())))?;
    let iface = meta.ifindex.and_then(|i| Interface::by_index(i).ok()).map_or("?".to_string(), |i| i.name);
    let group = meta.group.map_or("?".to_string(), |g| g.to_string());
    let ttl = meta.ttl.map_or("?".to_string(), |t| t.to_string());
    row(
        out,
        "received",
        format!("{} bytes from {}", meta.len, meta.source),
        &format!("to {group} on {iface}, {} {ttl}", ttl_word(family)),
    )?;
    Ok(Json::new()
        .str("type", "exchange")
        .str("family", &family.to_ascii_lowercase())
        .group(pair.tx.group())
        .str("iface", &iface)
        .int("sent", n as u64)
        .int("len", meta.len as u64)
        .peer("source", meta.source)
        .opt_int("ttl", meta.ttl))
}

fn ttl_word(family: &str) -> &'static str {
    if family == "IPv6" {
        "hop limit"
    } else {
        "TTL"
    }
}

/// Turns loop off, reads it back as `option`, sends again, and says what happened; returns its name for JSON.
fn loop_off(out: &mut Sink, pair: &LoopPair, family: &str, option: &str) -> Result<&'static str, Fail> {
    let setting = format!("{option} {}", on_off(pair.loop_off()?));
    let off = pair.send_loop_off(&hostloop::payload(family, "loop off"))?;
    let name = match off {
        LoopOff::Silent => "silent",
        LoopOff::ArrivedOnLoopback => "arrived_on_loopback",
        LoopOff::ArrivedAnyway => "arrived_anyway",
    };
    let what = match off {
        LoopOff::Silent => format!(
            "sent again: nothing arrived in {} s, as it should: at {} 0 the loopback copy is the only one, \
             and loop off removed it",
            SILENCE.as_secs_f64(),
            ttl_word(family)
        ),
        LoopOff::ArrivedOnLoopback => "sent again: it still arrived. On lo the kernel makes no separate loopback \
                                       copy: the datagram is transmitted on lo itself and lo hands it back, \
                                       whatever the loop option (and the TTL) say. IP_MULTICAST_LOOP acts on \
                                       other interfaces, as the IPv6 part shows."
            .to_string(),
        LoopOff::ArrivedAnyway => {
            "sent again: it still arrived (this kernel delivered it despite loop off)".to_string()
        }
    };
    row(out, "loop off", setting, "")?;
    wrapped(out, &what)?;
    Ok(name)
}

/// A long explanation, wrapped under the rows' middle column.
fn wrapped(out: &mut Sink, text: &str) -> Result<(), Fail> {
    out.line(&format!("{:12}{}", "", output::wrap(text, 12, 104)))
}
