//! `mcast igmp watch` and `mcast igmp query` across a veth link, against the IGMP of a real Linux kernel.
//!
//! Topology (common::traffic::Link): namespace a (va 10.0.0.1) <-> namespace b (vb 10.0.0.2). A socket in a
//! joins and leaves groups, so a's kernel sends the reports; the watcher or querier runs in b.
mod common;
mod raw_support;

use std::net::{IpAddr, Ipv4Addr};

use common::traffic::Link;
use mcast::raw::IgmpSocket;
use mcast::wire::{self, GroupRecord, IgmpRepr, RecordType};
use mcast::{Family, McastSocket};
use raw_support::{answers_for, is, json_lines, memory, of_type, run, Watch, A4};
use serde_json::Value;

/// A membership in namespace `a` on `va`, held as long as the socket lives.
fn join(link: &Link, group: Ipv4Addr, source: Option<Ipv4Addr>) -> McastSocket {
    let index = link.a.ifindex("va");
    link.a.run(move || {
        let s = McastSocket::udp(Family::V4).expect("socket");
        match source {
            None => s.join_v4_index(group, index).expect("join"),
            Some(src) => s.join_source_group(IpAddr::V4(group), IpAddr::V4(src), index).expect("join source"),
        }
        s
    })
}

/// IGMPv3 (the kernel's default): the report of a join goes to 224.0.0.22, which the watcher joined; the watcher
/// shows one join with version 3, EXCLUDE {} (any source), the reporter and the interface, then the leave.
#[test]
fn igmpv3_join_and_leave_are_watched() {
    needs_root!();
    let link = Link::new("rwj");
    let mut w = Watch::start(&link.b, &["igmp", "watch", "--iface", "vb", "--json"]);
    let member = join(&link, Ipv4Addr::new(239, 1, 2, 3), None);
    let j = w.wait_for("a join of 239.1.2.3", is("join", "239.1.2.3"));
    assert_eq!(j["version"], 3, "{j}");
    assert_eq!(j["protocol"], "IGMPv3", "{j}");
    assert_eq!(j["mode"], "EXCLUDE", "{j}");
    assert_eq!(j["sources"], serde_json::json!([]), "{j}");
    assert_eq!(j["reporter"], A4.to_string(), "{j}");
    assert_eq!(j["iface"], "vb", "{j}");
    assert_eq!(j["ifindex"], link.b.ifindex("vb"), "{j}");

    drop(member);
    let l = w.wait_for("a leave of 239.1.2.3", is("leave", "239.1.2.3"));
    assert_eq!(l["by"], A4.to_string(), "{l}");
    assert_eq!(l["known"], true, "{l}");
    assert_eq!(l["was"]["mode"], "EXCLUDE", "{l}");

    let (code, all, err) = w.stop();
    assert_eq!(code, Some(130), "SIGINT ends the watch with 130 after the table; stderr {err:?}");
    // The report is sent twice (robustness 2), and so is the leave: each is one line, once.
    assert_eq!(all.iter().filter(|v| is("join", "239.1.2.3")(v)).count(), 1, "{all:#?}");
    assert_eq!(all.iter().filter(|v| is("leave", "239.1.2.3")(v)).count(), 1, "{all:#?}");
    let summary = of_type(&all, "summary");
    assert_eq!(summary.len(), 1, "{all:#?}");
    assert_eq!(summary[0]["malformed"], 0);
    assert!(summary[0]["own"].as_u64().unwrap() >= 1, "the watcher's own join of 224.0.0.22 is left out: {all:#?}");
    let table = summary[0]["memberships"].as_array().expect("memberships");
    assert!(table.iter().all(|m| m["group"] != "239.1.2.3"), "{table:?}");
    assert!(table.iter().all(|m| m["group"] != "224.0.0.22"), "the watcher's own group: {table:?}");
}

/// A source-specific join is INCLUDE with its source; a second source is a change; the table at the end has it.
#[test]
fn igmpv3_source_filters_are_watched() {
    needs_root!();
    let link = Link::new("rws");
    let mut w = Watch::start(&link.b, &["igmp", "watch", "--iface", "vb", "--json"]);
    let group = Ipv4Addr::new(232, 1, 1, 1);
    let member = join(&link, group, Some(Ipv4Addr::new(10, 0, 0, 99)));
    let j = w.wait_for("an SSM join", is("join", "232.1.1.1"));
    assert_eq!(j["mode"], "INCLUDE", "{j}");
    assert_eq!(j["sources"], serde_json::json!(["10.0.0.99"]), "{j}");
    let index = link.a.ifindex("va");
    let second = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 98));
    link.a.run(|| member.join_source_group(IpAddr::V4(group), second, index).expect("second source"));
    let c = w.wait_for("a change of 232.1.1.1", is("change", "232.1.1.1"));
    assert_eq!(c["mode"], "INCLUDE", "{c}");
    assert_eq!(c["sources"], serde_json::json!(["10.0.0.98", "10.0.0.99"]), "{c}");
    assert_eq!(c["was"]["sources"], serde_json::json!(["10.0.0.99"]), "{c}");
    let (_, all, _) = w.stop();
    let summary = of_type(&all, "summary");
    let table = summary[0]["memberships"].as_array().expect("memberships");
    let entry = table.iter().find(|m| m["group"] == "232.1.1.1").unwrap_or_else(|| panic!("{table:?}"));
    assert_eq!(entry["sources"], serde_json::json!(["10.0.0.98", "10.0.0.99"]));
    assert_eq!(entry["reporter"], A4.to_string());
    drop(member);
}

/// IGMPv2 (forced in a): the report goes to the group itself, which IP drops in b unless b is a multicast router.
/// Without --mrouter only the leave (to 224.0.0.2) is heard, marked as a group not in the table; with it the
/// join is heard, as version 2.
#[test]
fn igmpv2_reports_are_heard_as_a_multicast_router() {
    needs_root!();
    let link = Link::new("rw2");
    link.a.sysctl("net.ipv4.conf.va.force_igmp_version", "2");

    let mut w = Watch::start(&link.b, &["igmp", "watch", "--iface", "vb", "--json"]);
    let member = join(&link, Ipv4Addr::new(239, 2, 2, 2), None);
    std::thread::sleep(std::time::Duration::from_millis(500));
    drop(member);
    let l = w.wait_for("the v2 leave", is("leave", "239.2.2.2"));
    assert_eq!(l["known"], false, "{l}");
    assert_eq!(l["by"], A4.to_string(), "{l}");
    let (_, all, _) = w.stop();
    assert!(of_type(&all, "join").is_empty(), "a v2 report to the group is not heard without --mrouter: {all:#?}");

    let mut w = Watch::start(&link.b, &["igmp", "watch", "--iface", "vb", "--json", "--mrouter"]);
    let member = join(&link, Ipv4Addr::new(239, 2, 2, 3), None);
    let j = w.wait_for("a v2 join", is("join", "239.2.2.3"));
    assert_eq!(j["version"], 2, "{j}");
    assert_eq!(j["protocol"], "IGMPv2", "{j}");
    assert_eq!(j["reporter"], A4.to_string(), "{j}");
    drop(member);
    let l = w.wait_for("the v2 leave", is("leave", "239.2.2.3"));
    assert_eq!(l["known"], true, "{l}");
    let (code, _, err) = w.stop();
    assert_eq!(code, Some(130), "{err:?}");
}

/// A general IGMPv3 query from b: a's kernel answers with its membership (MODE_IS_EXCLUDE {}), which the query
/// lists within its wait.
#[test]
fn igmpv3_general_query_lists_the_member() {
    needs_root!();
    let link = Link::new("rwq");
    let member = join(&link, Ipv4Addr::new(239, 3, 3, 3), None);
    let out = run(&link.b, &["igmp", "query", "--iface", "vb", "--max-resp", "1", "--wait", "4", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let all = json_lines(&out);
    let sent = of_type(&all, "sent");
    assert_eq!(sent.len(), 1, "{all:#?}");
    assert_eq!(sent[0]["protocol"], "IGMPv3");
    assert_eq!(sent[0]["group"], Value::Null);
    let answers = answers_for(&all, "239.3.3.3");
    assert_eq!(answers.len(), 1, "{all:#?}");
    assert_eq!(answers[0]["reporter"], A4.to_string());
    assert_eq!(answers[0]["version"], 3);
    assert_eq!(answers[0]["record"], "MODE_IS_EXCLUDE");
    assert_eq!(answers[0]["iface"], "vb");
    let summary = of_type(&all, "summary");
    assert!(summary[0]["groups"].as_array().unwrap().contains(&Value::from("239.3.3.3")), "{all:#?}");
    drop(member);
}

/// A group-specific IGMPv2 query: the querier joins the group to hear the v2 answer, which goes to the group.
#[test]
fn igmpv2_group_query_lists_the_member() {
    needs_root!();
    let link = Link::new("rwg");
    let member = join(&link, Ipv4Addr::new(239, 4, 4, 4), None);
    let args = ["igmp", "query", "--iface", "vb", "--version", "2", "--group", "239.4.4.4", "--max-resp", "1"];
    let out = run(&link.b, &[&args[..], &["--wait", "4", "--json"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let all = json_lines(&out);
    assert_eq!(of_type(&all, "sent")[0]["group"], "239.4.4.4");
    let answers = answers_for(&all, "239.4.4.4");
    assert_eq!(answers.len(), 1, "{all:#?}");
    assert_eq!(answers[0]["version"], 2);
    assert_eq!(answers[0]["protocol"], "IGMPv2");
    assert_eq!(answers[0]["record"], Value::Null);
    assert_eq!(answers[0]["reporter"], A4.to_string());
    // Only the group asked about answers a group-specific query.
    assert_eq!(of_type(&all, "answer").len(), 1, "{all:#?}");
    drop(member);
}

/// Nobody is a member: the query says so and exits 1.
#[test]
fn igmp_query_without_members_exits_1() {
    needs_root!();
    let link = Link::new("rwn");
    let out = run(&link.b, &["igmp", "query", "--iface", "vb", "--max-resp", "0.5", "--wait", "2"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mcast igmp: no answer within 2 s"), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "no answers\n");
}

/// Bad arguments are usage errors (exit 2) before any socket is opened.
#[test]
fn igmp_bad_arguments_exit_2() {
    needs_root!();
    let link = Link::new("rwu");
    for (args, says) in [
        (&["igmp", "query", "--version", "4"][..], "--version 4: out of range 1..=3"),
        (&["igmp", "query", "--version", "2", "--max-resp", "30"][..], "out of range 0.1..=25.5 s"),
        (&["igmp", "query", "--group", "10.0.0.1"][..], "--group 10.0.0.1: not an IPv4 multicast group"),
        (&["igmp", "query", "--group", "ff02::1"][..], "not an IPv4 multicast group"),
        (&["igmp", "watch", "--iface", "nosuch0"][..], "--iface nosuch0"),
        (&["igmp", "watch", "--max-groups", "0"][..], "--max-groups 0: out of range 1..=1048576"),
        (&["igmp", "watch", "--max-sources", "x"][..], "--max-sources x: not a whole number"),
        (&["igmp", "listen"][..], "unknown subcommand 'listen'"),
        (&["igmp"][..], "missing watch or query"),
    ] {
        let out = run(&link.b, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// The forged flood: groups 239.100.0.0 + n for n below `FLOOD`, `PER_REPORT` records to an IGMPv3 report.
const FLOOD: u32 = 100_000;
const PER_REPORT: u32 = 8_000;
const FLOOD_BASE: u32 = 0xef64_0000;

fn flood_group(n: u32) -> Ipv4Addr {
    Ipv4Addr::from(FLOOD_BASE + n)
}

/// An IGMPv3 report with one record of `kind` and no source for each group `group(n)`, n in `ns`.
fn forged_report(kind: RecordType, group: fn(u32) -> Ipv4Addr, ns: std::ops::Range<u32>) -> IgmpRepr {
    IgmpRepr::ReportV3(ns.map(|n| GroupRecord { record_type: kind, group: group(n), sources: vec![] }).collect())
}

/// The last group of each report, whose join says the watcher has read the whole report.
fn is_marker(n: u32) -> bool {
    (n + 1) % PER_REPORT == 0 || n + 1 == FLOOD
}

/// Every line but the joins and evictions of flood groups that are not markers.
fn keep(v: &Value) -> bool {
    let flood = v["group"].as_str().and_then(|g| g.parse::<Ipv4Addr>().ok()).and_then(|g| {
        let n = u32::from(g).wrapping_sub(FLOOD_BASE);
        (n < FLOOD).then_some(n)
    });
    match flood {
        Some(n) => !(v["type"] == "join" || v["type"] == "evict") || (v["type"] == "join" && is_marker(n)),
        None => true,
    }
}

/// Memory a watcher may gain under the flood: the table is capped at a few megabytes.
const MAX_GROWTH: u64 = 64 << 20;

/// A hostile host in a forges IGMPv3 reports from a raw socket: 100,000 fresh groups, 8,000 records (64 KB) to a
/// report, both veth ends at MTU 65535 so that each goes whole. Each report is sent once the watcher has shown
/// the last group of the one before, so the socket's buffer never overflows and every report is read. The
/// watcher in b keeps its default cap of 4,096 groups: its memory grows by at most 64 MiB, it evicts exactly
/// what it joined beyond the cap, least recently reported first, an evicted group that reports again comes
/// back, and an honest member joining after the flood is heard and in the table.
#[test]
fn igmpv3_flood_of_fresh_groups_stays_within_the_cap() {
    needs_root!();
    let link = Link::new("rwf");
    link.a.ip(&["link", "set", "va", "mtu", "65535"]);
    link.b.ip(&["link", "set", "vb", "mtu", "65535"]);
    let mut w = Watch::start_keeping(&link.b, &["igmp", "watch", "--iface", "vb", "--json"], keep);
    let (before, _) = memory(w.pid());
    let va = link.a.ifindex("va");
    let report = |groups| forged_report(RecordType::ChangeToExclude, flood_group, groups);
    link.a.run(|| {
        let socket = IgmpSocket::open().expect("raw IGMP socket");
        for first in (0..FLOOD).step_by(PER_REPORT as usize) {
            let last = (first + PER_REPORT).min(FLOOD) - 1;
            socket.send(&report(first..last + 1), wire::igmp::ALL_V3_ROUTERS, va).expect("send a 64 KB report");
            let marker = flood_group(last).to_string();
            w.wait_for(&format!("the join of {marker}"), |v| v["type"] == "join" && v["group"] == marker.as_str());
        }
    });
    let (after, peak) = memory(w.pid());
    eprintln!("watcher memory: {before} bytes before the flood, {after} after, {peak} at the peak (VmHWM)");
    assert!(after.saturating_sub(before) <= MAX_GROWTH, "VmRSS grew from {before} to {after}");
    assert!(peak.saturating_sub(before) <= MAX_GROWTH, "VmHWM grew from {before} to {peak}");
    let markers = (0..FLOOD).filter(|&n| is_marker(n)).count() as u64;
    assert_eq!(w.dropped("join") + markers, u64::from(FLOOD), "one join per forged group, every report read");

    // The first report's last group was evicted long ago: reported again, it joins again.
    let comeback = flood_group(PER_REPORT - 1);
    link.a.run(|| {
        let socket = IgmpSocket::open().expect("raw IGMP socket");
        socket.send(&report(PER_REPORT - 1..PER_REPORT), wire::igmp::ALL_V3_ROUTERS, va).expect("send");
    });
    let again = comeback.to_string();
    w.wait_for("the evicted group back", |v| v["type"] == "join" && v["group"] == again.as_str());
    // An honest member, after the flood.
    let member = join(&link, Ipv4Addr::new(239, 255, 0, 1), None);
    let j = w.wait_for("the honest join", is("join", "239.255.0.1"));
    assert_eq!(j["reporter"], A4.to_string(), "{j}");

    let dropped = w.dropped_counter();
    let (code, kept, err) = w.stop();
    assert_eq!(code, Some(130), "{err:?}");
    let summary = of_type(&kept, "summary");
    let s = summary.first().unwrap_or_else(|| panic!("no summary: {kept:#?}"));
    assert_eq!((s["max_groups"].as_u64(), s["max_sources"].as_u64()), (Some(4096), Some(64)), "{s}");
    assert_eq!(s["kernel_drops"], 0, "each report was sent after the one before was read");
    // 100,000 forged groups, one back, one honest: every join beyond the cap evicted one group.
    assert_eq!(s["joins"], u64::from(FLOOD) + 2, "{}", s["joins"]);
    assert_eq!(s["group_count"], 4096);
    assert_eq!(s["evicted"], u64::from(FLOOD) + 2 - 4096);
    assert_eq!(s["evicted"], dropped("evict") + of_type(&kept, "evict").len() as u64, "one evict line each");
    assert!(of_type(&kept, "leave").is_empty() && of_type(&kept, "expire").is_empty(), "{kept:#?}");
    let table = s["memberships"].as_array().expect("memberships");
    assert_eq!(table.len(), 4096);
    let find = |g: &str| table.iter().find(|m| m["group"] == g);
    assert_eq!(find("239.255.0.1").map(|m| m["reporter"].clone()), Some(Value::from(A4.to_string())));
    assert!(find(&again).is_some(), "the group that came back");
    // The least recently reported went first: of the flood, the last 4,094 groups remain.
    assert!(find(&flood_group(FLOOD - 4094 - 1).to_string()).is_none());
    assert!(find(&flood_group(FLOOD - 4094).to_string()).is_some());
    drop(member);
}

/// The forged answers to a query: groups 239.101.0.0 + n for n below `ANSWER_FLOOD`, `ANSWERS_PER_REPORT`
/// current-state records to an IGMPv3 report.
const ANSWER_FLOOD: u32 = 100_000;
const ANSWERS_PER_REPORT: u32 = 1_024;
const ANSWER_BASE: u32 = 0xef65_0000;
/// Records to a report once the querier's set is full, when it prints none of them.
const LEFT_OUT_PER_REPORT: u32 = 8_000;
/// The most answers a querier keeps (`mcast::raw::MAX_ANSWERS`).
const KEPT: u32 = 4_096;

fn answer_group(n: u32) -> Ipv4Addr {
    Ipv4Addr::from(ANSWER_BASE + n)
}

/// Every line but the answers naming forged groups, except the last of each report.
fn keep_answer(v: &Value) -> bool {
    let n =
        v["group"].as_str().and_then(|g| g.parse::<Ipv4Addr>().ok()).map(|g| u32::from(g).wrapping_sub(ANSWER_BASE));
    !(v["type"] == "answer" && n.is_some_and(|n| n < ANSWER_FLOOD && (n + 1) % ANSWERS_PER_REPORT != 0))
}

/// A hostile host in a answers a general query from b with 100,000 forged current-state records (MODE_IS_EXCLUDE
/// {}): first 1,024 to a report, each report sent once the querier has shown its last answer, until its cap of
/// 4,096 answers is reached; then 8,000 to a report (both veth ends at MTU 65535), each followed by a forged
/// query, which the querier prints, so every report is read before the next is sent. The querier prints a line
/// for each answer it keeps; those past its cap are neither kept nor printed but counted, the summary says how
/// many, and its memory grows by at most 64 MiB.
#[test]
fn igmp_query_keeps_at_most_4096_answers_under_a_forged_flood() {
    needs_root!();
    let link = Link::new("rqf");
    link.a.ip(&["link", "set", "va", "mtu", "65535"]);
    link.b.ip(&["link", "set", "vb", "mtu", "65535"]);
    let args = ["igmp", "query", "--iface", "vb", "--max-resp", "25", "--wait", "120", "--json"];
    let mut q = Watch::start_saying(&link.b, &args, keep_answer, " sent on ");
    let (before, _) = memory(q.pid());
    let va = link.a.ifindex("va");
    let report = |groups| forged_report(RecordType::ModeIsExclude, answer_group, groups);
    let a4 = A4.to_string();
    link.a.run(|| {
        let socket = IgmpSocket::open().expect("raw IGMP socket");
        for first in (0..KEPT).step_by(ANSWERS_PER_REPORT as usize) {
            let last = first + ANSWERS_PER_REPORT - 1;
            socket.send(&report(first..last + 1), wire::igmp::ALL_V3_ROUTERS, va).expect("send a report");
            let marker = answer_group(last).to_string();
            q.wait_for(&format!("the answer {marker}"), |v| v["type"] == "answer" && v["group"] == marker.as_str());
        }
        let query = mcast::raw::igmp_query(3, Ipv4Addr::UNSPECIFIED, std::time::Duration::from_secs(1)).expect("query");
        for first in (KEPT..ANSWER_FLOOD).step_by(LEFT_OUT_PER_REPORT as usize) {
            let end = (first + LEFT_OUT_PER_REPORT).min(ANSWER_FLOOD);
            socket.send(&report(first..end), wire::igmp::ALL_V3_ROUTERS, va).expect("send a 64 KB report");
            socket.send(&query, wire::igmp::ALL_SYSTEMS, va).expect("send a query");
            q.wait_for("the query sent after a report", |v| v["type"] == "query" && v["source"] == a4.as_str());
        }
    });
    let (after, peak) = memory(q.pid());
    eprintln!("querier memory: {before} bytes before the flood, {after} after, {peak} at the peak (VmHWM)");
    assert!(after.saturating_sub(before) <= MAX_GROWTH, "VmRSS grew from {before} to {after}");
    assert!(peak.saturating_sub(before) <= MAX_GROWTH, "VmHWM grew from {before} to {peak}");

    let dropped = q.dropped_counter();
    let (code, kept, err) = q.stop();
    assert_eq!(code, Some(130), "{err:?}");
    let s = of_type(&kept, "summary");
    let s = s.first().unwrap_or_else(|| panic!("no summary: {kept:#?}"));
    assert_eq!((s["answers"].as_u64(), s["max_answers"].as_u64()), (Some(4096), Some(4096)), "{s}");
    assert_eq!(s["left_out"], ANSWER_FLOOD - KEPT, "{s}");
    let lines = dropped("answer") + of_type(&kept, "answer").len() as u64;
    assert_eq!(lines, u64::from(KEPT), "one line for each answer kept, none for those left out");
    let list = s["list"].as_array().expect("list");
    assert_eq!(list.len(), 4096);
    assert!(list.iter().all(|a| a["reporter"] == a4.as_str()), "{s}");
    let listed = |n: u32| list.iter().any(|a| a["group"] == answer_group(n).to_string().as_str());
    assert!(listed(0) && listed(KEPT - 1) && !listed(KEPT), "the first answers are kept");
}
