//! `mcast demo`: a receiver and a sender in one process, IPv4 then IPv6, that never leave this host.
//!
//! IPv4 uses 239.255.0.1 on `lo` at TTL 0 (on loopback the datagram goes out through `lo` and comes back in,
//! so loop off does not stop it there). IPv6 cannot use `lo` (Linux does not deliver IPv6 multicast
//! over loopback), so it uses the interface-local group ff01::114 at hop limit 0 on the first interface
//! that is up and multicast-capable: the kernel loops it back to this host's members and drops the
//! original before it reaches the link, since an interface-local group may never leave the interface's
//! node. Joining it sends no MLD report (below link-local scope there is none).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use mcast::{Group, IfaceSpec, Interface, Receiver, RecvMeta, Sender};

use crate::args::{self, Fail, Opt};
use crate::output::{self, preview, Out};

pub const SUMMARY: &str = "a sender and a receiver in one process, IPv4 then IPv6, never leaving this host";

pub const HELP: &str = r#"mcast demo: watch multicast work without touching the network

Usage: mcast demo

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
  -h, --help   this help

Exit status: 0 the exchanges worked, 1 one did not.

Examples:
  mcast demo
  make demo
"#;

const OPTS: &[Opt] = &[];

/// The demo's port (any free one would do; receivers share it with SO_REUSEADDR).
const PORT: u16 = 5007;
const V4_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 0, 1);
const V6_GROUP: Ipv6Addr = Ipv6Addr::new(0xff01, 0, 0, 0, 0, 0, 0, 0x114);
/// How long to wait for a datagram that must arrive (it comes in microseconds; this is for a loaded host).
const ARRIVE: Duration = Duration::from_secs(1);
/// How long to watch for a datagram that must not arrive.
const SILENCE: Duration = Duration::from_millis(300);

pub fn run(words: &[String]) -> Result<(), Fail> {
    let Some(m) = args::command_line(words, OPTS, HELP)? else { return Ok(()) };
    m.positionals(0, 0, "", "mcast demo")?;
    let mut out = Out::new();
    out.line("mcast demo: a receiver and a sender in this process, IPv4 then IPv6. Nothing leaves this host.")?;
    out.line("")?;
    ipv4(&mut out)?;
    out.line("")?;
    let v6 = ipv6(&mut out)?;
    out.line("")?;
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
fn row(out: &mut Out, label: &str, setting: String, meaning: &str) -> Result<(), Fail> {
    out.line(format!("  {label:<9} {setting:<42} {meaning}").trim_end())
}

fn ipv4(out: &mut Out) -> Result<(), Fail> {
    let group = Group::new(IpAddr::V4(V4_GROUP), PORT)?;
    let lo = IfaceSpec::Addr(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let rx = Receiver::builder(group).interface(lo.clone()).build()?;
    let tx = Sender::builder(group).ttl(0).multicast_loop(true).interface(lo).build()?;
    let name = tx.interface().map_or("lo".to_string(), |i| i.name.clone());
    out.line(&format!("IPv4: group {group} on {name} (127.0.0.1)"))?;

    let (r, t) = (rx.socket(), tx.socket());
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

    exchange(out, &rx, &tx, "IPv4")?;
    t.set_multicast_loop_v4(false)?;
    loop_off(out, &rx, &tx, format!("IP_MULTICAST_LOOP {}", on_off(t.multicast_loop_v4()?)))
}

/// The interface for the IPv6 part: up, multicast-capable, with an IPv6 address, and not loopback.
fn ipv6_interface() -> Result<Option<Interface>, Fail> {
    Ok(Interface::list()?.into_iter().find(|i| i.is_up() && i.is_multicast() && !i.is_loopback() && !i.ipv6.is_empty()))
}

/// Runs the IPv6 part; `Ok(false)` when this host cannot (no interface, or IPv6 turned off).
fn ipv6(out: &mut Out) -> Result<bool, Fail> {
    let Some(iface) = ipv6_interface()? else {
        out.line(
            "IPv6: skipped: no interface is up, multicast-capable and has an IPv6 address \
             (Linux does not deliver IPv6 multicast over lo).",
        )?;
        return Ok(false);
    };
    let group = Group::with_scope(IpAddr::V6(V6_GROUP), PORT, iface.index)?;
    let spec = IfaceSpec::Index(iface.index);
    let rx = match Receiver::builder(group).interface(spec.clone()).build() {
        Ok(rx) => rx,
        Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {
            out.line("IPv6: skipped: IPv6 is turned off on this host.")?;
            return Ok(false);
        }
        Err(e) => return Err(e.into()),
    };
    let tx = Sender::builder(group).ttl(0).multicast_loop(true).interface(spec).build()?;
    let name = &iface.name;
    out.line(&format!("IPv6: group [{V6_GROUP}]:{PORT} on {name} (index {})", iface.index))?;
    wrapped(
        out,
        &format!(
            "lo is passed over: Linux does not deliver IPv6 multicast over loopback. With interface-local \
             scope and hop limit 0 the kernel loops the datagram back and never transmits it on {name}."
        ),
    )?;

    let (r, t) = (rx.socket(), tx.socket());
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

    exchange(out, &rx, &tx, "IPv6")?;
    t.set_multicast_loop_v6(false)?;
    loop_off(out, &rx, &tx, format!("IPV6_MULTICAST_LOOP {}", on_off(t.multicast_loop_v6()?)))?;
    Ok(true)
}

/// This run's payload: the pid tells our datagrams from another demo's on the same host.
fn payload(family: &str, what: &str) -> Vec<u8> {
    format!("hello from the mcast demo, {family}, {what} (pid {})", std::process::id()).into_bytes()
}

/// Waits up to `wait` for `expected`; other datagrams to the same group and port are passed over.
fn wait_for(rx: &Receiver, expected: &[u8], wait: Duration) -> Result<Option<RecvMeta>, Fail> {
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 2048];
    while let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
        if let Some(meta) = rx.recv_timeout(&mut buf, left)? {
            if buf.get(..meta.len) == Some(expected) {
                return Ok(Some(meta));
            }
        }
    }
    Ok(None)
}

fn exchange(out: &mut Out, rx: &Receiver, tx: &Sender, family: &str) -> Result<(), Fail> {
    let msg = payload(family, "loop on");
    let n = tx.send(&msg)?;
    row(out, "sent", format!("{n} bytes"), &format!("\"{}\"", preview(&msg, 80)))?;
    let meta = wait_for(rx, &msg, ARRIVE)?
        .ok_or_else(|| Fail::runtime(format!("{family}: the datagram did not arrive within {} s", ARRIVE.as_secs())))?;
    let iface = meta.ifindex.and_then(|i| Interface::by_index(i).ok()).map_or("?".to_string(), |i| i.name);
    let group = meta.group.map_or("?".to_string(), |g| g.to_string());
    let ttl = meta.ttl.map_or("?".to_string(), |t| t.to_string());
    row(
        out,
        "received",
        format!("{} bytes from {}", meta.len, meta.source),
        &format!("to {group} on {iface}, {} {ttl}", ttl_word(family)),
    )
}

fn ttl_word(family: &str) -> &'static str {
    if family == "IPv6" {
        "hop limit"
    } else {
        "TTL"
    }
}

/// Turns loop off (already done by the caller, `setting` reads it back), sends again, and says what happened.
fn loop_off(out: &mut Out, rx: &Receiver, tx: &Sender, setting: String) -> Result<(), Fail> {
    let v6 = tx.group().is_ipv6();
    let family = if v6 { "IPv6" } else { "IPv4" };
    let msg = payload(family, "loop off");
    tx.send(&msg)?;
    let arrived = wait_for(rx, &msg, SILENCE)?.is_some();
    let on_lo = tx.interface().is_some_and(Interface::is_loopback);
    let what = match (arrived, on_lo) {
        (false, _) => format!(
            "sent again: nothing arrived in {} s, as it should: at {} 0 the loopback copy is the only one, \
             and loop off removed it",
            SILENCE.as_secs_f64(),
            ttl_word(family)
        ),
        (true, true) => "sent again: it still arrived. On lo the kernel makes no separate loopback copy: the \
                         datagram is transmitted on lo itself and lo hands it back, whatever the loop option \
                         (and the TTL) say. IP_MULTICAST_LOOP acts on other interfaces, as the IPv6 part shows."
            .to_string(),
        (true, false) => "sent again: it still arrived (this kernel delivered it despite loop off)".to_string(),
    };
    row(out, "loop off", setting, "")?;
    wrapped(out, &what)
}

/// A long explanation, wrapped under the rows' middle column.
fn wrapped(out: &mut Out, text: &str) -> Result<(), Fail> {
    out.line(&format!("{:12}{}", "", output::wrap(text, 12, 104)))
}
