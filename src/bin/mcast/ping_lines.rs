//! What `mcast ping` prints: a line per event and the summaries, as text or JSON, from the engine's typed
//! events and reports (`mcast::ping`).

use mcast::guard::Refusals;
use mcast::ping::Order;
use mcast::ping::{Answered, ProbeReport, Reply, RowReport, ServeReport};

use crate::output::{self, Json};
use crate::recv::{outage_json, outage_text};
use crate::tools::{self, fmt_ms, pct};

/// `{"off_link":3,"port_zero":1}`: the refusals that occurred, by reason name.
pub fn refused_json(r: &Refusals) -> String {
    let mut j = Json::new();
    for (why, n) in r.iter() {
        j = j.int(why.name(), n);
    }
    j.finish()
}

/// ", 4 refused (off_link 3, port_zero 1)", or nothing.
fn refused_text(r: &Refusals) -> String {
    if r.total() == 0 {
        return String::new();
    }
    let each: Vec<String> = r.iter().map(|(why, n)| format!("{} {n}", why.name())).collect();
    format!(", {} refused ({})", r.total(), each.join(", "))
}

/// ", 3 sends failed (...), 12 dropped by the kernel (receive buffer full)", or nothing.
fn troubles(sends: &mcast::SendStats, drops: u64) -> String {
    let mut s = tools::failures_text(sends).map_or(String::new(), |f| format!(", {f}"));
    if drops > 0 {
        s.push_str(&format!(", {drops} dropped by the kernel (receive buffer full)"));
    }
    s
}

/// "\n    outage: vb deleted at ..., back as index 9 (was 4) after 1.250 s" per outage, or nothing.
fn outage_lines(outages: &[mcast::resilient::Outage]) -> String {
    outages.iter().map(|o| format!("\n    outage: {}", outage_text(o))).collect()
}

fn ttl_text(ttl: Option<u8>) -> String {
    ttl.map_or("-".into(), |t| t.to_string())
}

/// The server's line for a probe answered.
pub fn answered(a: &Answered, json: bool) -> String {
    if json {
        return Json::new()
            .str("type", if a.ssmping { "ssmping" } else { "probe" })
            .peer("from", a.source)
            .int("session", a.session)
            .int("seq", a.seq)
            .opt_int("ttl", a.ttl)
            .finish();
    }
    let what = if a.ssmping { "ssmping query" } else { "probe" };
    format!("{what} from {} session {:08x} seq={} ttl={}", a.source, a.session, a.seq, ttl_text(a.ttl))
}

/// A line for a datagram refused (or set aside by the prober).
pub fn refused(source: std::net::SocketAddr, why: mcast::guard::Refusal, json: bool) -> String {
    if json {
        return Json::new().str("type", "refused").peer("from", source).str("reason", why.name()).finish();
    }
    format!("refused {source}: {why}")
}

/// The server's summary.
pub fn serve_summary(r: &ServeReport, json: bool) -> String {
    if json {
        return Json::new()
            .str("type", "summary")
            .int("answered", r.answered)
            .int("ssmping_answered", r.ssmping_answered)
            .int("send_failed", r.sends.failed)
            .int("kernel_drops", r.kernel_drops)
            .raw("refused", &refused_json(&r.refused))
            .int("sources_evicted", r.sources_evicted)
            .raw("outages", &output::array(r.outages.iter().map(outage_json)))
            .finish();
    }
    let mut line = format!("answered {} probe{}", r.answered, output::plural(r.answered));
    if r.ssmping_answered > 0 {
        line.push_str(&format!(" ({} of them ssmping)", r.ssmping_answered));
    }
    line.push_str(&troubles(&r.sends, r.kernel_drops));
    line.push_str(&refused_text(&r.refused));
    if r.sources_evicted > 0 {
        line.push_str(&format!(", {} sources forgotten (table full)", r.sources_evicted));
    }
    line.push_str(&outage_lines(&r.outages));
    line
}

/// The prober's line for an answer.
pub fn reply(r: &Reply, json: bool) -> String {
    let kind = r.channel.name();
    if json {
        return Json::new()
            .str("type", "reply")
            .str("responder", &r.responder.to_string())
            .str("kind", kind)
            .int("seq", r.seq)
            .opt_int("ttl", r.ttl)
            .float("rtt_ms", tools::ms(r.rtt_ns as f64))
            .bool("duplicate", r.arrival == Some(Order::Duplicate))
            .bool("out_of_order", r.arrival == Some(Order::Reordered))
            .finish();
    }
    let mark = match r.arrival {
        Some(Order::Duplicate) => " (DUP!)",
        Some(Order::Reordered) => " (reordered)",
        None => " (before this row's first counted probe)",
        _ => "",
    };
    let (who, seq, ttl, ms) = (r.responder, r.seq, ttl_text(r.ttl), fmt_ms(r.rtt_ns as f64));
    format!("{who:<15} {kind:>9} seq={seq} ttl={ttl} time={ms} ms{mark}")
}

/// The prober's row for one responder and channel.
pub fn row(row: &RowReport, json: bool) -> String {
    let (ip, kind, expected, lost) = (row.responder, row.channel.name(), row.expected, row.lost);
    if json {
        let mut j = Json::new()
            .str("type", "responder")
            .str("responder", &ip.to_string())
            .str("kind", kind)
            .int("sent", expected)
            .int("received", row.received)
            .int("lost", lost)
            .float("loss_pct", pct(lost, expected))
            .int("duplicates", row.duplicates)
            .int("reordered", row.reordered)
            .opt_int("ttl", row.ttl)
            .opt_int("distance", row.distance);
        if let Some(s) = row.rtt {
            j = j
                .float("rtt_min_ms", tools::ms(s.min as f64))
                .float("rtt_avg_ms", tools::ms(s.avg))
                .float("rtt_max_ms", tools::ms(s.max as f64))
                .float("rtt_p50_ms", tools::ms(s.p50 as f64))
                .float("rtt_p99_ms", tools::ms(s.p99 as f64))
                .float("rtt_mdev_ms", tools::ms(s.mdev));
        }
        return j.finish();
    }
    let rtt = row.rtt.map_or(String::new(), |s| {
        let ms = [s.min as f64, s.avg, s.max as f64, s.p50 as f64, s.p99 as f64, s.mdev].map(fmt_ms);
        format!("  rtt min/avg/max/p50/p99/mdev = {} ms", ms.join("/"))
    });
    let dist = row.distance.map_or(String::new(), |d| format!(", dist={d}"));
    format!(
        "{ip:<15} {kind:>9}: {} received, {:.1}% loss ({lost}), {} duplicates, {} reordered{dist}{rtt}",
        row.received,
        pct(lost, expected),
        row.duplicates,
        row.reordered
    )
}

/// The prober's summary: a heading (text), a row per responder and channel, and (JSON) the summary object.
pub fn probe_summary(group: &str, r: &ProbeReport, json: bool) -> Vec<String> {
    let mut lines = Vec::new();
    if !json {
        let mut head = format!("--- {group} ping statistics: {} probes{}", r.sent, troubles(&r.sends, r.kernel_drops));
        head.push_str(&refused_text(&r.refused));
        if r.responders_evicted > 0 {
            head.push_str(&format!(", {} responders forgotten (table full)", r.responders_evicted));
        }
        lines.push(head + " ---");
        if !r.outages.is_empty() {
            lines.push(outage_lines(&r.outages).trim_start_matches('\n').to_string());
        }
    }
    lines.extend(r.rows.iter().map(|x| row(x, json)));
    if json {
        lines.push(
            Json::new()
                .str("type", "summary")
                .int("sent", r.sent)
                .int("send_failed", r.sends.failed)
                .int("kernel_drops", r.kernel_drops)
                .int("rows", r.rows.len() as u64)
                .int("responders_evicted", r.responders_evicted)
                .raw("refused", &refused_json(&r.refused))
                .raw("outages", &output::array(r.outages.iter().map(outage_json)))
                .finish(),
        );
    }
    lines
}
