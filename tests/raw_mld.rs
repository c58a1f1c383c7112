//! `mcast mld watch` and `mcast mld query` across a veth link, against the MLD of a real Linux kernel.
//!
//! Topology (common::traffic::Link): namespace a (va, link-local fe80::...) <-> namespace b (vb). A socket in a
//! joins and leaves groups, so a's kernel sends the reports (from va's link-local address); the watcher or
//! querier runs in b.
mod common;
mod raw_support;

use std::net::Ipv6Addr;

use common::traffic::Link;
use mcast::{Family, McastSocket};
use raw_support::{answers_for, is, json_lines, link_local, of_type, run, Watch};
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
    let link = Link::new("rmu");
    for (args, says) in [
        (&["mld", "query", "--version", "3"][..], "--version 3: out of range 1..=2"),
        (&["mld", "query", "--version", "1", "--max-resp", "70"][..], "out of range 0.001..=65.535 s"),
        (&["mld", "query", "--group", "239.1.2.3"][..], "--group 239.1.2.3: not an IPv6 multicast group"),
        (&["mld", "watch", "extra"][..], "unexpected argument 'extra'"),
    ] {
        let out = run(&link.b, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
