//! How `mcast recv` (one group) writes what it heard: a line per datagram, the summary, and each outage, as
//! text or JSON. The counting is [`mcast::__private::tally::RecvTally`]'s.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use mcast::__private::tally::{End, RecvTally};
use mcast::buffers::BufferSize;
use mcast::resilient::{Outage, ResilientReceiver};
use mcast::{Group, Interface, RecvMeta};

use crate::output::{self, plural, preview, Json};

/// Bytes of payload shown on a text line.
const PREVIEW: usize = 64;

/// Seconds with three decimals.
pub fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// "mcast recv: listening on 239.1.2.3:5000, joined on eth0": what the receiver did, once it is ready.
pub fn listening(rx: &ResilientReceiver, group: Group) -> String {
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

fn arrival(meta: &RecvMeta) -> SystemTime {
    meta.timestamp.unwrap_or_else(SystemTime::now)
}

/// One datagram as a text line.
pub fn datagram_text(group: Group, meta: &RecvMeta, iface: Option<&str>, payload: &[u8]) -> String {
    let dst = meta.group.unwrap_or(group.ip());
    let ttl = meta.ttl.map_or("-".to_string(), |t| t.to_string());
    let size = if meta.truncated {
        format!("{} bytes (truncated to {})", meta.full_len, meta.len)
    } else {
        format!("{} bytes", meta.len)
    };
    // The DSCP is shown when it is not the default, 0.
    let dscp = meta.dscp().filter(|d| *d != 0).map_or(String::new(), |d| format!("  dscp {d}"));
    format!(
        "{}  {} -> {} on {}  ttl {ttl}{dscp}  {size}  \"{}\"",
        output::time_of_day(arrival(meta)),
        meta.source,
        dst,
        iface.unwrap_or("?"),
        preview(payload, PREVIEW)
    )
}

/// One datagram as a JSON object; `seq` counts from 1.
pub fn datagram_json(seq: u64, group: Group, meta: &RecvMeta, iface: Option<&str>, payload: &[u8]) -> String {
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
        .opt_int("dscp", meta.dscp())
        .int("len", meta.full_len as u64)
        .int("captured", meta.len as u64)
        .bool("truncated", meta.truncated)
        .opt_str("payload", std::str::from_utf8(payload).ok())
        .str("payload_hex", &output::hex(payload))
        .finish()
}

/// What the summary of one group says.
pub struct Summary<'a> {
    pub group: Group,
    pub tally: &'a RecvTally,
    /// The receive buffer, when --rcvbuf set it.
    pub rcvbuf: Option<BufferSize>,
    pub outages: &'a [Outage],
    pub elapsed: Duration,
}

impl Summary<'_> {
    pub fn text(&self) -> String {
        let t = self.tally;
        let n = t.sources().len();
        let mut s = format!(
            "--- {}: {} datagram{}, {} bytes from {n} source{} in {} s",
            self.group,
            t.datagrams,
            plural(t.datagrams),
            t.bytes,
            plural(n as u64),
            secs(self.elapsed)
        );
        if t.truncated > 0 {
            s.push_str(&format!(", {} truncated", t.truncated));
        }
        if t.drops > 0 {
            s.push_str(&format!(", {} dropped by the kernel (receive buffer full)", t.drops));
        }
        if let Some(b) = &self.rcvbuf {
            s.push_str(&format!(", receive buffer {} bytes", b.effective));
        }
        for (src, c) in t.sorted_sources() {
            s.push_str(&format!("\n    {src}  {} datagram{}, {} bytes", c.datagrams, plural(c.datagrams), c.bytes));
        }
        let table = t.sources();
        if table.forgotten() > 0 {
            s.push_str(&format!(
                "\n    ({} more source{} dropped from this list: at most {} kept, each for {} s of silence)",
                table.forgotten(),
                plural(table.forgotten()),
                table.cap(),
                table.max_age().as_secs()
            ));
        }
        for o in self.outages {
            s.push_str(&format!("\n    outage: {}", outage_text(o)));
        }
        s
    }

    pub fn json(&self, end: End) -> String {
        let t = self.tally;
        let sources = output::array(t.sorted_sources().into_iter().map(|(src, c)| {
            Json::new()
                .str("address", &src.ip().to_string())
                .int("port", src.port())
                .int("datagrams", c.datagrams)
                .int("bytes", c.bytes)
                .finish()
        }));
        let outages = output::array(self.outages.iter().map(outage_json));
        Json::new()
            .str("type", "summary")
            .str("group", &self.group.ip().to_string())
            .int("port", self.group.port())
            .int("datagrams", t.datagrams)
            .int("bytes", t.bytes)
            .int("truncated_datagrams", t.truncated)
            .int("drops", t.drops)
            .opt_int("rcvbuf", self.rcvbuf.map(|b| b.effective))
            .float("elapsed", self.elapsed.as_secs_f64())
            .str("end", end.name())
            .raw("sources", &sources)
            .int("sources_dropped", t.sources().forgotten())
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
        s.push_str(&format!(" (rejoining failed: {e:#})"));
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
pub struct IfaceNames {
    known: HashMap<u32, String>,
}

impl IfaceNames {
    pub fn name(&mut self, index: u32) -> String {
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
