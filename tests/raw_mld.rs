//! `mcast mld watch` and `mcast mld query` across a veth link, against the MLD of a real Linux kernel.
//!
//! Topology (common::traffic::Link): namespace a (va, link-local fe80::...) <-> namespace b (vb). A socket in a
//! joins and leaves groups, so a's kernel sends the reports (from va's link-local address); the watcher or
//! querier runs in b.
mod common;
mod raw_support;

use std::net::Ipv6Addr;

use common::traffic::Link;
use mcast::raw::MldSocket;
use mcast::wire::{mld, GroupRecord, MldRepr, RecordType};
use mcast::{Family, McastSocket};
use raw_support::{answers_for, is, json_lines, link_local, memory, of_type, run, Watch};
use serde_json::Value;

/// A membership in namespace `a` on `va`, held as long as the socket lives.
fn join(link: &Link, group: &str) -> McastSocket {
    let group: Ipv6Addr = group.parse().expect("group");
    let index = link.a.ifindex("va");
    link.a.run(move || {
        let s = McastSocket::udp(Family::V6).expect("socket");
        s.join_v6(group, index).expect("join");
        s
    })
}

/// MLDv2 (the kernel's default): the report goes to ff02::16, which the watcher joined; one join with version 2,
/// EXCLUDE {}, from va's link-local address, then the leave.
#[test]
fn mldv2_join_and_leave_are_watched() {
    needs_root!();
    let link = Link::new("rmj");
    let reporter = link_local(&link.a, "va").to_string();
    let mut w = Watch::start(&link.b, &["mld", "watch", "--iface", "vb", "--json"]);
    let member = join(&link, "ff02::1234");
    let j = w.wait_for("a join of ff02::1234", is("join", "ff02::1234"));
    assert_eq!(j["version"], 2, "{j}");
    assert_eq!(j["protocol"], "MLDv2", "{j}");
    assert_eq!(j["mode"], "EXCLUDE", "{j}");
    assert_eq!(j["sources"], serde_json::json!([]), "{j}");
    assert_eq!(j["reporter"], reporter, "{j}");
    assert_eq!(j["iface"], "vb", "{j}");
    assert_eq!(j["ifindex"], link.b.ifindex("vb"), "{j}");

    drop(member);
    let l = w.wait_for("a leave of ff02::1234", is("leave", "ff02::1234"));
    assert_eq!(l["by"], reporter, "{l}");
    assert_eq!(l["known"], true, "{l}");

    let (code, all, err) = w.stop();
    assert_eq!(code, Some(130), "{err:?}");
    assert_eq!(all.iter().filter(|v| is("join", "ff02::1234")(v)).count(), 1, "{all:#?}");
    assert_eq!(all.iter().filter(|v| is("leave", "ff02::1234")(v)).count(), 1, "{all:#?}");
    let summary = of_type(&all, "summary");
    assert_eq!(summary[0]["malformed"], 0, "{all:#?}");
    let table = summary[0]["memberships"].as_array().expect("memberships");
    assert!(table.iter().all(|m| m["group"] != "ff02::1234" && m["group"] != "ff02::16"), "{table:?}");
}

/// MLDv1 (forced in a): the report goes to the group, heard only by a multicast router and only beyond link-local
/// scope; the done message goes to ff02::2 and is always heard.
#[test]
fn mldv1_reports_are_heard_as_a_multicast_router() {
    needs_root!();
    let link = Link::new("rm1");
    link.a.sysctl("net.ipv6.conf.va.force_mld_version", "1");
    let reporter = link_local(&link.a, "va").to_string();

    let mut w = Watch::start(&link.b, &["mld", "watch", "--iface", "vb", "--json"]);
    let member = join(&link, "ff05::1:2");
    std::thread::sleep(std::time::Duration::from_millis(500));
    drop(member);
    let l = w.wait_for("the v1 done", is("leave", "ff05::1:2"));
    assert_eq!(l["known"], false, "{l}");
    assert_eq!(l["by"], reporter, "{l}");
    let (_, all, _) = w.stop();
    assert!(of_type(&all, "join").iter().all(|j| j["group"] != "ff05::1:2"), "{all:#?}");

    let mut w = Watch::start(&link.b, &["mld", "watch", "--iface", "vb", "--json", "--mrouter"]);
    let member = join(&link, "ff05::1:3");
    let j = w.wait_for("a v1 join", is("join", "ff05::1:3"));
    assert_eq!(j["version"], 1, "{j}");
    assert_eq!(j["protocol"], "MLDv1", "{j}");
    assert_eq!(j["reporter"], reporter, "{j}");
    drop(member);
    let l = w.wait_for("the v1 done", is("leave", "ff05::1:3"));
    assert_eq!(l["known"], true, "{l}");
    let (code, _, err) = w.stop();
    assert_eq!(code, Some(130), "{err:?}");
}

/// A general MLDv2 query from b: a's kernel answers with MODE_IS_EXCLUDE {} for its group.
#[test]
fn mldv2_general_query_lists_the_listener() {
    needs_root!();
    let link = Link::new("rmq");
    let reporter = link_local(&link.a, "va").to_string();
    let member = join(&link, "ff02::4321");
    let out = run(&link.b, &["mld", "query", "--iface", "vb", "--max-resp", "1", "--wait", "4", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let all = json_lines(&out);
    assert_eq!(of_type(&all, "sent")[0]["protocol"], "MLDv2");
    let answers = answers_for(&all, "ff02::4321");
    assert_eq!(answers.len(), 1, "{all:#?}");
    assert_eq!(answers[0]["reporter"], reporter);
    assert_eq!(answers[0]["version"], 2);
    assert_eq!(answers[0]["record"], "MODE_IS_EXCLUDE");
    assert_eq!(answers[0]["iface"], "vb");
    let summary = of_type(&all, "summary");
    assert!(summary[0]["groups"].as_array().unwrap().contains(&Value::from("ff02::4321")), "{all:#?}");
    drop(member);
}

/// A multicast-address-specific MLDv1 query: the answer is a v1 report to the group, which the querier joined.
#[test]
fn mldv1_group_query_lists_the_listener() {
    needs_root!();
    let link = Link::new("rmg");
    let member = join(&link, "ff02::5555");
    let args = ["mld", "query", "--iface", "vb", "--version", "1", "--group", "ff02::5555", "--max-resp", "1"];
    let out = run(&link.b, &[&args[..], &["--wait", "4", "--json"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let all = json_lines(&out);
    let answers = answers_for(&all, "ff02::5555");
    assert_eq!(answers.len(), 1, "{all:#?}");
    assert_eq!(answers[0]["version"], 1);
    assert_eq!(answers[0]["protocol"], "MLDv1");
    assert_eq!(answers[0]["reporter"], link_local(&link.a, "va").to_string());
    assert_eq!(of_type(&all, "answer").len(), 1, "only the group asked about answers: {all:#?}");
    drop(member);
}

/// Bad arguments are usage errors (exit 2).
#[test]
fn mld_bad_arguments_exit_2() {
    needs_root!();
    let link = Link::new("rmu");
    for (args, says) in [
        (&["mld", "query", "--version", "3"][..], "--version 3: out of range 1..=2"),
        (&["mld", "query", "--version", "1", "--max-resp", "70"][..], "out of range 0.001..=65.535 s"),
        (&["mld", "query", "--group", "239.1.2.3"][..], "--group 239.1.2.3: not an IPv6 multicast group"),
        (&["mld", "watch", "extra"][..], "unexpected argument 'extra'"),
        (&["mld", "watch", "--max-groups", "0"][..], "--max-groups 0: out of range 1..=1048576"),
        (&["mld", "watch", "--max-sources", "65536"][..], "--max-sources 65536: out of range 1..=65535"),
    ] {
        let out = run(&link.b, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// The forged flood: groups ff05::1:0:0 + n for n below `FLOOD`, `PER_REPORT` records (60 KB) to an MLDv2 report.
const FLOOD: u32 = 100_000;
const PER_REPORT: u32 = 3_000;
const FLOOD_BASE: u128 = 0xff05_0000_0000_0000_0000_0001_0000_0000;
/// The cap the watcher is given.
const CAP: u64 = 1_000;

fn flood_group(n: u32) -> Ipv6Addr {
    Ipv6Addr::from(FLOOD_BASE + u128::from(n))
}

/// The last group of each report, whose join says the watcher has read the whole report.
fn is_marker(n: u32) -> bool {
    (n + 1) % PER_REPORT == 0 || n + 1 == FLOOD
}

/// Every line but the joins and evictions of flood groups that are not markers.
fn keep(v: &Value) -> bool {
    let flood = v["group"].as_str().and_then(|g| g.parse::<Ipv6Addr>().ok()).and_then(|g| {
        let n = u128::from(g).wrapping_sub(FLOOD_BASE);
        (n < u128::from(FLOOD)).then_some(n as u32)
    });
    match flood {
        Some(n) => !(v["type"] == "join" || v["type"] == "evict") || (v["type"] == "join" && is_marker(n)),
        None => true,
    }
}

/// The IGMP flood of tests/raw_igmp.rs, in MLD, with the cap given on the command line (--max-groups 1000): a
/// raw ICMPv6 socket in a forges 100,000 fresh groups, 3,000 records to an MLDv2 report over a veth at MTU
/// 65535, each report once the watcher has shown the last group of the one before. The kernels of a and b report
/// their own groups too (solicited-node addresses), so the counts are checked against the watcher's own: every
/// join beyond the cap evicted one group, one evict line each, and the table holds the cap.
#[test]
fn mldv2_flood_of_fresh_groups_stays_within_the_cap() {
    needs_root!();
    let link = Link::new("rmf");
    link.a.ip(&["link", "set", "va", "mtu", "65535"]);
    link.b.ip(&["link", "set", "vb", "mtu", "65535"]);
    let reporter = link_local(&link.a, "va").to_string();
    let args = ["mld", "watch", "--iface", "vb", "--json", "--max-groups", "1000"];
    let mut w = Watch::start_keeping(&link.b, &args, keep);
    let (before, _) = memory(w.pid());
    let va = link.a.ifindex("va");
    link.a.run(|| {
        let socket = MldSocket::open().expect("raw ICMPv6 socket");
        for first in (0..FLOOD).step_by(PER_REPORT as usize) {
            let last = (first + PER_REPORT).min(FLOOD) - 1;
            let record =
                |n| GroupRecord { record_type: RecordType::ChangeToExclude, group: flood_group(n), sources: vec![] };
            let report = MldRepr::ReportV2((first..last + 1).map(record).collect());
            socket.send(&report, mld::ALL_MLDV2_ROUTERS, va).expect("send a 60 KB report");
            let marker = flood_group(last).to_string();
            let j =
                w.wait_for(&format!("the join of {marker}"), |v| v["type"] == "join" && v["group"] == marker.as_str());
            assert_eq!(j["reporter"], reporter.as_str(), "{j}");
        }
    });
    let (after, peak) = memory(w.pid());
    eprintln!("watcher memory: {before} bytes before the flood, {after} after, {peak} at the peak (VmHWM)");
    assert!(peak.saturating_sub(before) <= 64 << 20, "VmHWM grew from {before} to {peak}");
    let markers = (0..FLOOD).filter(|&n| is_marker(n)).count() as u64;
    assert_eq!(w.dropped("join") + markers, u64::from(FLOOD), "one join per forged group, every report read");

    // An honest listener, after the flood.
    let member = join(&link, "ff05::abcd");
    let j = w.wait_for("the honest join", is("join", "ff05::abcd"));
    assert_eq!(j["reporter"], reporter.as_str(), "{j}");
    let dropped = w.dropped_counter();
    let (code, kept, err) = w.stop();
    assert_eq!(code, Some(130), "{err:?}");
    let summary = of_type(&kept, "summary");
    let s = summary.first().unwrap_or_else(|| panic!("no summary: {kept:#?}"));
    assert_eq!((s["max_groups"].as_u64(), s["max_sources"].as_u64()), (Some(CAP), Some(64)), "{s}");
    assert_eq!(s["kernel_drops"], 0, "each report was sent after the one before was read");
    let joins = s["joins"].as_u64().expect("joins");
    assert_eq!(joins, dropped("join") + of_type(&kept, "join").len() as u64, "one join line each");
    assert!(joins > u64::from(FLOOD), "the flood and the honest join: {s}");
    let gone =
        (of_type(&kept, "leave").iter().filter(|l| l["known"] == true).count() + of_type(&kept, "expire").len()) as u64;
    assert_eq!(s["group_count"], CAP);
    assert_eq!(s["evicted"], joins - gone - CAP, "every join beyond the cap evicted one group");
    assert_eq!(s["evicted"], dropped("evict") + of_type(&kept, "evict").len() as u64, "one evict line each");
    let table = s["memberships"].as_array().expect("memberships");
    assert_eq!(table.len() as u64, CAP);
    assert!(table.iter().any(|m| m["group"] == "ff05::abcd" && m["reporter"] == reporter.as_str()), "{table:?}");
    drop(member);
}
