//! The lines `mcast perf` prints, as text or JSON, from the engine's events and reports (`mcast::perf`).

use mcast::perf::{IntervalReport, SendInterval, SendReport, ServeReport, SessionReport};

use crate::output::{self, plural, Json};
use crate::tools;

/// How to print.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    /// JSON objects, one per line.
    pub json: bool,
    /// Only the final report.
    pub quiet: bool,
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

/// The sender's line for one interval.
pub fn sent_interval(style: Style, i: &SendInterval) -> String {
    let (a, b) = (i.from.as_secs_f64(), i.to.as_secs_f64());
    if style.json {
        Json::new()
            .str("type", "interval")
            .float("time", output::unix_seconds(std::time::SystemTime::now()))
            .float("elapsed", b)
            .float("interval", b - a)
            .int("sent", i.sent)
            .float("pps", i.pps)
            .finish()
    } else {
        format!("[{a:6.2}-{b:6.2} s] sent {} datagrams, {:.0}/s, {}", i.sent, i.pps, bits(i.bps))
    }
}

/// The sender's final line.
pub fn sent(style: Style, r: &SendReport) -> String {
    if style.json {
        return Json::new()
            .str("type", "sender")
            .int("session", r.session)
            .group(r.group)
            .int("sent", r.sent)
            .int("send_failed", r.failed)
            .int("size", r.size as u64)
            .int("bytes", r.bytes)
            .float("elapsed", r.seconds)
            .float("pps", r.pps())
            .float("bps", r.bps())
            .str("path", r.path.name())
            .opt_str("fallback", r.fallback.as_deref())
            .finish();
    }
    let why = r.fallback.as_deref().map_or(String::new(), |w| format!(" (fell back: {w})"));
    let fails = tools::failures_text(&r.failures).map_or(String::new(), |f| format!("; {f}"));
    format!(
        "sent {} datagrams of {} bytes to {} in {:.3} s: {:.0} datagrams/s, {} via {}{why}{fails}",
        r.sent,
        r.size,
        r.group,
        r.seconds,
        r.pps(),
        bits(r.bps()),
        r.path.name()
    )
}

/// The receiver's lines for one interval: one per session listed, then (as text) how many were not.
pub fn interval(style: Style, r: &IntervalReport) -> Vec<String> {
    let at = r.at.as_secs_f64();
    let mut lines: Vec<String> = r
        .sessions
        .iter()
        .map(|s| {
            if style.json {
                Json::new()
                    .str("type", "interval")
                    .peer("source", s.source)
                    .int("session", s.session)
                    .float("time", output::unix_seconds(std::time::SystemTime::now()))
                    .float("elapsed", at)
                    .int("received", s.received)
                    .int("lost", s.lost)
                    .float("pps", s.pps)
                    .float("bps", s.bps)
                    .float("jitter_ms", tools::ms(s.jitter_ns))
                    .finish()
            } else {
                format!(
                    "[{at:6.2} s] {} {:08x}: {:.0} datagrams/s, {}, lost {}, jitter {:.3} ms",
                    s.source,
                    s.session,
                    s.pps,
                    bits(s.bps),
                    s.lost,
                    tools::ms(s.jitter_ns)
                )
            }
        })
        .collect();
    if r.omitted > 0 && !style.json {
        lines.push(format!("[{at:6.2} s] and {} more session{}", r.omitted, plural(r.omitted as u64)));
    }
    lines
}

/// The receiver's final line for one session.
pub fn session(style: Style, s: &SessionReport) -> String {
    if style.json {
        return Json::new()
            .str("type", "session")
            .peer("source", s.source)
            .int("session", s.session)
            .int("received", s.received)
            .int("expected", s.expected)
            .int("lost", s.lost)
            .float("loss_pct", s.loss_pct())
            .int("duplicates", s.duplicates)
            .int("reordered", s.reordered)
            .int("too_old", s.too_old)
            .int("bytes", s.bytes)
            .float("elapsed", s.seconds)
            .float("pps", s.pps())
            .float("bps", s.bps())
            .float("jitter_ms", tools::ms(s.jitter_ns))
            .bool("ended", s.ended)
            .finish();
    }
    format!(
        "{} {:08x}: {} of {} datagrams in {:.3} s ({:.0}/s, {}), lost {} ({:.2}%), {} duplicates, {} reordered, \
         jitter {:.3} ms",
        s.source,
        s.session,
        s.received,
        s.expected,
        s.seconds,
        s.pps(),
        bits(s.bps()),
        s.lost,
        s.loss_pct(),
        s.duplicates,
        s.reordered,
        tools::ms(s.jitter_ns)
    )
}

/// The receiver's closing lines: (as text) the sessions not listed, then the summary.
pub fn summary(style: Style, r: &ServeReport) -> Vec<String> {
    let foreign = r.refusals.get(mcast::guard::Refusal::Foreign);
    if style.json {
        let line = Json::new()
            .str("type", "summary")
            .group(r.group)
            .int("sessions", r.sessions_seen)
            .int("sessions_held", r.sessions_held as u64)
            .int("sessions_omitted", r.sessions_omitted as u64)
            .int("evicted", r.evicted)
            .int("max_sessions", r.max_sessions as u64)
            .int("received", r.received)
            .int("foreign", foreign)
            .int("kernel_drops", r.kernel_drops)
            .bool("gro", r.gro)
            .int("gro_reads", r.gro_reads)
            .finish();
        return vec![line];
    }
    let mut lines = Vec::new();
    if r.sessions_omitted > 0 {
        let n = r.sessions_omitted;
        lines.push(format!("and {n} more session{} (those that received the most are listed)", plural(n as u64)));
    }
    let mut line = format!(
        "{} sender{}, {} datagrams received, kernel drops (SO_RXQ_OVFL) {}, UDP_GRO {}",
        r.sessions_seen,
        plural(r.sessions_seen),
        r.received,
        r.kernel_drops,
        if r.gro { "on" } else { "off" }
    );
    if r.evicted > 0 {
        line += &format!(", {} evicted (at most {} kept)", r.evicted, r.max_sessions);
    }
    if foreign > 0 {
        line += &format!(", {foreign} foreign");
    }
    lines.push(line);
    lines
}
