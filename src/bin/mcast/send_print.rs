//! How `mcast send` writes what it did: a line per datagram sent or failed, and the summary with the
//! settings the kernel reports back, as text or JSON.

use std::io;

use mcast::__private::sendretry::{Outcome, SendStats};
use mcast::{Group, Sender};

use crate::args::Fail;
use crate::output::{plural, preview, Json};

/// What a sender's socket reports back: the kernel's values, not the ones we asked for.
pub struct Settings {
    /// `IP_MULTICAST_TTL` / `IPV6_MULTICAST_HOPS`.
    pub ttl: i64,
    /// `IP_MULTICAST_LOOP` / `IPV6_MULTICAST_LOOP`.
    pub multicast_loop: bool,
}

/// Reads TTL and loop back from the socket (getsockopt), so what is shown is what the kernel will do.
pub fn settings(sender: &Sender) -> Result<Settings, Fail> {
    let s = sender.socket();
    Ok(if sender.group().is_ipv6() {
        Settings { ttl: s.multicast_hops_v6()?.into(), multicast_loop: s.multicast_loop_v6()? }
    } else {
        Settings { ttl: s.multicast_ttl_v4()?.into(), multicast_loop: s.multicast_loop_v4()? }
    })
}

/// One datagram sent, or failed, as a line.
pub fn datagram_line(group: Group, seq: u64, payload: &[u8], outcome: &Outcome, json: bool) -> String {
    match (outcome, json) {
        (Outcome::Sent(n), true) => {
            Json::new().str("type", "sent").int("seq", seq).group(group).int("len", *n as u64).finish()
        }
        (Outcome::Sent(n), false) => format!("#{seq} {n} bytes to {group}: \"{}\"", preview(payload, 64)),
        (Outcome::Failed(e), true) => Json::new()
            .str("type", "failed")
            .int("seq", seq)
            .group(group)
            .opt_int("errno", e.raw_os_error())
            .str("error", &format!("{e:#}"))
            .finish(),
        (Outcome::Failed(e), false) => format!("#{seq} failed: {e:#}"),
    }
}

pub fn summary_json(group: Group, st: &SendStats, set: &Settings, iface: Option<&str>) -> String {
    Json::new()
        .str("type", "summary")
        .int("datagrams", st.sent)
        .int("bytes", st.bytes)
        .int("send_failed", st.failed)
        .int("retries", st.retries)
        .raw("errors", &errors_json(st))
        .str("group", &group.ip().to_string())
        .int("port", group.port())
        .int("ttl", set.ttl)
        .bool("loop", set.multicast_loop)
        .opt_str("iface", iface)
        .bool("interrupted", mcast::__private::signal::interrupted())
        .finish()
}

pub fn summary_text(group: Group, st: &SendStats, set: &Settings, iface: Option<&str>) -> String {
    let mut text = format!(
        "sent {} datagram{} ({} bytes) to {group} via {}: {} {}, loop {}",
        st.sent,
        plural(st.sent),
        st.bytes,
        iface.unwrap_or("the routing table's interface"),
        if group.is_ipv6() { "hop limit" } else { "TTL" },
        set.ttl,
        if set.multicast_loop { "on" } else { "off" },
    );
    if st.failed > 0 {
        text.push_str(&format!("; {} failed ({})", st.failed, errors_text(st)));
    }
    if st.retries > 0 {
        text.push_str(&format!(
            "; {} retr{} after a full queue",
            st.retries,
            if st.retries == 1 { "y" } else { "ies" }
        ));
    }
    text
}

/// The failures by error: "No such device (os error 19) x15, Network is unreachable (os error 101) x5".
fn errors_text(st: &SendStats) -> String {
    let parts: Vec<String> =
        st.errors.iter().map(|(e, n)| format!("{} x{n}", io::Error::from_raw_os_error(*e))).collect();
    parts.join(", ")
}

fn errors_json(st: &SendStats) -> String {
    crate::output::array(st.errors.iter().map(|(e, n)| {
        Json::new()
            .int("errno", *e)
            .str("error", &io::Error::from_raw_os_error(*e).to_string())
            .int("count", *n)
            .finish()
    }))
}
