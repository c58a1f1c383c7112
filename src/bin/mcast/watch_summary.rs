//! The summary of `mcast igmp watch` and `mcast mld watch`: the counts, the table's bounds and what they
//! cost, and the memberships, as text or JSON.

use std::time::{Duration, Instant};

use mcast::raw::{WatchTally, Watcher};

use crate::output::{array, Json};
use crate::watch_lines::{state_json, state_text, Names};

fn ago(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

pub fn summary_text(t: &WatchTally, w: &Watcher, names: &Names, elapsed: Duration) -> String {
    let mut s = format!(
        "{} messages in {:.3} s: {} changes, {} queries, {} malformed, {} of this host's own left out\n",
        t.messages,
        elapsed.as_secs_f64(),
        t.changes,
        t.queries,
        t.malformed,
        t.own
    );
    s.push_str(&table_text(t, w));
    if w.table().is_empty() {
        s.push_str("no memberships\n");
        return s;
    }
    s.push_str("memberships:\n");
    for (key, e) in w.table().iter() {
        s.push_str(&format!(
            "  {:<8} {:<24} {}  reporter {}  last seen {:.1} s ago\n",
            names.name(Some(key.iface)),
            key.group.to_string(),
            state_text(e),
            e.reporter,
            ago(e.last_seen)
        ));
    }
    s
}

/// The table's bounds and what they cost: groups forgotten for new ones, sources left out, and the datagrams the
/// kernel dropped before the table could see them.
fn table_text(t: &WatchTally, w: &Watcher) -> String {
    let table = w.table();
    let limits = table.limits();
    let drops = w.kernel_drops().map_or("unknown".into(), |d| d.to_string());
    format!(
        "table: {} groups after {} joins: {} evicted (the least recently reported first), {} sources left out, \
         {drops} datagrams dropped by the kernel\ncaps: {} groups per interface (--max-groups), {} sources per \
         group (--max-sources)\n",
        table.len(),
        t.joins,
        table.evicted(),
        table.sources_left_out(),
        limits.groups,
        limits.sources
    )
}

pub fn summary_json(t: &WatchTally, w: &Watcher, names: &Names, elapsed: Duration) -> String {
    let table = w.table().iter().map(|(key, e)| {
        state_json(
            Json::new()
                .str("iface", &names.name(Some(key.iface)))
                .int("ifindex", key.iface)
                .str("group", &key.group.to_string()),
            e,
        )
        .str("reporter", &e.reporter.to_string())
        .float("since", ago(e.since))
        .float("last_seen", ago(e.last_seen))
        .finish()
    });
    Json::new()
        .str("type", "summary")
        .int("messages", t.messages)
        .int("changes", t.changes)
        .int("queries", t.queries)
        .int("malformed", t.malformed)
        .int("own", t.own)
        .int("joins", t.joins)
        .int("group_count", w.table().len() as u64)
        .int("max_groups", w.table().limits().groups as u64)
        .int("max_sources", w.table().limits().sources as u64)
        .int("evicted", w.table().evicted())
        .int("sources_left_out", w.table().sources_left_out())
        .opt_int("kernel_drops", w.kernel_drops().ok())
        .float("elapsed", elapsed.as_secs_f64())
        .raw("memberships", &array(table))
        .finish()
}
