//! The JSON output contract (docs/json.md): every `--json` line of every subcommand is one object with a
//! `type`, its fields are those docs/json.md lists for that command and type (no more; all but the optional
//! ones), and each field has the one JSON type the glossary gives its name, whichever command prints it.
//!
//! Topology: `a` (10.66.0.1, fd00:66::1, va) <-veth-> `b` (10.66.0.2, fd00:66::2, vb). Every subcommand runs
//! once with --json, the ones that need a peer against one in the other namespace.
mod common;
mod tools_support;

use std::collections::{BTreeMap, BTreeSet};

use common::{veth, Netns};
use serde_json::Value;
use tools_support::{run, Finished, Proc};

/// One object type of one command, as docs/json.md lists it.
#[derive(Debug, Default)]
struct Spec {
    required: BTreeSet<String>,
    optional: BTreeSet<String>,
}

/// docs/json.md, read: the glossary (field -> JSON types allowed) and each `### cmd type` section's fields.
struct Contract {
    glossary: BTreeMap<String, Vec<String>>,
    specs: BTreeMap<(String, String), Spec>,
}

fn contract() -> Contract {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/json.md")).expect("docs/json.md");
    let mut glossary = BTreeMap::new();
    let mut specs = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in doc.lines() {
        if let Some(head) = line.strip_prefix("### ") {
            let words: Vec<String> = head.split('`').filter(|w| !w.trim().is_empty()).map(str::to_string).collect();
            assert_eq!(words.len(), 2, "a section heading is ### `command` `type`: {line}");
            current = Some((words[0].clone(), words[1].clone()));
            continue;
        }
        if line.starts_with("## ") {
            current = None;
        }
        if let Some(row) = line.strip_prefix("| `") {
            // The glossary: | `field` | type[|type...] | meaning |
            let cells: Vec<&str> = row.split(" | ").collect();
            let name = cells[0].trim_end_matches('`').to_string();
            let types = cells[1].split(" or ").map(|t| t.trim().to_string()).collect();
            assert!(glossary.insert(name.clone(), types).is_none(), "{name} twice in the glossary");
            continue;
        }
        if let (Some(key), Some(list)) = (&current, line.strip_prefix("Fields: ")) {
            let mut spec = Spec::default();
            for f in list.split(", ") {
                let f = f.trim_matches(|c| c == '`' || c == '.');
                match f.strip_suffix('?') {
                    Some(opt) => spec.optional.insert(opt.trim_end_matches('`').to_string()),
                    None => spec.required.insert(f.to_string()),
                };
            }
            specs.insert(key.clone(), spec);
        }
    }
    Contract { glossary, specs }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl Contract {
    /// Checks every line of `out` as output of `command`; returns the types seen.
    fn check(&self, command: &str, out: &Finished) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        for line in out.stdout.lines() {
            let v: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{command}: not one JSON object ({e}): {line}"));
            let obj = v.as_object().unwrap_or_else(|| panic!("{command}: not an object: {line}"));
            let ty = obj.get("type").and_then(Value::as_str).unwrap_or_else(|| panic!("{command}: no type: {line}"));
            let spec = self
                .specs
                .get(&(command.to_string(), ty.to_string()))
                .unwrap_or_else(|| panic!("docs/json.md has no section ### `{command}` `{ty}`: {line}"));
            for (k, val) in obj {
                assert!(
                    spec.required.contains(k) || spec.optional.contains(k),
                    "{command} {ty}: field {k} is not in docs/json.md: {line}"
                );
                let allowed = self.glossary.get(k).unwrap_or_else(|| panic!("{k} is not in the glossary"));
                let t = type_name(val);
                let ok = allowed.iter().any(|a| a == t || (a == "number" && t == "integer"));
                assert!(ok, "{command} {ty}: {k} is {t}, docs/json.md says {allowed:?}: {line}");
            }
            for k in &spec.required {
                assert!(obj.contains_key(k), "{command} {ty}: field {k} missing: {line}");
            }
            seen.insert(ty.to_string());
        }
        seen
    }
}

/// Every section of docs/json.md names fields of the glossary, and the test below exercises every command.
#[test]
fn the_contract_is_consistent() {
    let c = contract();
    assert!(c.specs.len() > 30, "{} sections", c.specs.len());
    for ((cmd, ty), spec) in &c.specs {
        for f in spec.required.iter().chain(&spec.optional) {
            assert!(c.glossary.contains_key(f), "{cmd} {ty}: {f} is not in the glossary");
        }
        assert!(spec.required.contains("type"), "{cmd} {ty}: no type field");
    }
}

fn expect(seen: &BTreeSet<String>, types: &[&str], what: &str) {
    for t in types {
        assert!(seen.contains(*t), "{what}: no {t} object; saw {seen:?}");
    }
}

#[test]
fn every_subcommand_s_json_follows_the_contract() {
    needs_root!();
    let c = contract();
    let a = Netns::new("jsona");
    let b = Netns::new("jsonb");
    veth(&a, "va", "10.66.0.1/24", &b, "vb", "10.66.0.2/24");
    a.ip(&["addr", "add", "fd00:66::1/64", "dev", "va"]);
    b.ip(&["addr", "add", "fd00:66::2/64", "dev", "vb"]);
    common::wait_ipv6(&a, "va");
    common::wait_ipv6(&b, "vb");
    let g = "239.66.0.1:5000";

    // send and recv, one group and several (with interval lines and a silent group).
    let rx = Proc::ready(&b, &["recv", g, "-i", "vb", "-c", "2", "-t", "30", "--json"], "listening");
    let ticking =
        Proc::ready(&b, &["recv", g, "-i", "vb", "-c", "2", "-t", "30", "--json", "--interval", "0.1"], "listening");
    let many = Proc::ready(
        &b,
        &["recv", "239.66.0.1:5000,239.66.0.9:5000", "-i", "vb", "--interval", "0.1", "-t", "2", "--json"],
        "listening",
    );
    let sent = run(&a, &["send", g, "-i", "va", "-c", "2", "--interval", "0.3", "-J", "hello"]).ok();
    expect(&c.check("send", &sent), &["sent", "summary"], "send");
    let (plain, ticking) = (rx.finish().ok(), ticking.finish().ok());
    expect(&c.check("recv", &plain), &["datagram", "summary"], "recv");
    expect(&c.check("recv", &ticking), &["datagram", "interval", "summary"], "recv --interval");
    // --interval adds interval lines and changes nothing else: the same datagram lines, the same summary.
    let keys = |o: &tools_support::Obj| o.0.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(ticking.json("datagram").len(), 2);
    assert_eq!(keys(&plain.json("datagram")[0]), keys(&ticking.json("datagram")[0]));
    assert_eq!(keys(&plain.one("summary")), keys(&ticking.one("summary")));
    expect(&c.check("recv", &many.finish().ok()), &["interval", "summary"], "recv (groups)");

    for (cmd, args, types) in [
        ("ifaces", &["ifaces", "--json"][..], &["iface"][..]),
        ("info", &["info", "239.1.2.3", "--json"], &["address"]),
        ("info", &["info", "10.0.0.1", "--json"], &["address"]),
        ("groups", &["groups", "--json"], &["iface_groups"]),
        ("demo", &["demo", "--json"], &["exchange", "summary"]),
    ] {
        // `info` on a unicast address says so and exits 1.
        let out = run(&a, args);
        assert_eq!(out.code, Some(if args[1] == "10.0.0.1" { 1 } else { 0 }), "{out:?}");
        expect(&c.check(cmd, &out), types, cmd);
    }
    let doctor = run(&a, &["doctor", g, "-i", "va", "--querier-wait", "0", "--json"]);
    expect(&c.check("doctor", &doctor), &["report"], "doctor");

    // ping: a responder and a prober.
    let pg = "239.66.0.2:4321";
    let serve = Proc::ready(&b, &["ping", "-s", pg, "-i", "vb", "-t", "30", "-c", "3", "--json"], "answering");
    let ping = run(&a, &["ping", pg, "-i", "va", "-c", "3", "--interval", "0.1", "--json"]).ok();
    expect(&c.check("ping", &ping), &["reply", "responder", "summary"], "ping");
    expect(&c.check("ping", &serve.finish().ok()), &["probe", "summary"], "ping --serve");

    // perf both ways, with interval lines.
    let fg = "239.66.0.3:5001";
    let perf_rx = Proc::ready(
        &b,
        &["perf", "-s", fg, "-i", "vb", "-c", "400", "--idle", "20", "--interval", "0.05", "--json"],
        "receiving",
    );
    let perf = run(&a, &["perf", fg, "-i", "va", "-c", "400", "-b", "2kpps", "--interval", "0.05", "--json"]).ok();
    expect(&c.check("perf", &perf), &["interval", "sender"], "perf");
    expect(&c.check("perf", &perf_rx.finish().ok()), &["interval", "session", "summary"], "perf --serve");

    // discover and responder.
    let dg = "239.66.0.4:4000";
    let resp =
        Proc::ready(&b, &["responder", dg, "--name", "far", "-i", "vb", "-t", "30", "-c", "1", "--json"], "answering");
    let disc = run(&a, &["discover", dg, "-i", "va", "--max-ttl", "2", "--json"]).ok();
    expect(&c.check("discover", &disc), &["ring", "found", "summary"], "discover");
    expect(&c.check("responder", &resp.finish().ok()), &["query", "summary"], "responder");

    // relay: one group to another, then the summary.
    let relay = Proc::ready(
        &b,
        &["relay", "239.66.0.5:5000", "239.66.0.6:5000", "-i", "vb", "--out-iface", "vb", "-c", "1", "--json"],
        " -> ",
    );
    run(&a, &["send", "239.66.0.5:5000", "-i", "va", "-T", "4", "x"]).ok();
    expect(&c.check("relay", &relay.finish().ok()), &["summary"], "relay");

    // igmp and mld: a watcher and a querier on vb, a member on va.
    let member = Proc::ready(&a, &["recv", "239.66.0.7:5000", "-i", "va", "-t", "30"], "listening");
    let member6 = Proc::ready(&a, &["recv", "[ff05::66:7]:5000", "-i", "va", "-t", "30"], "listening");
    for proto in ["igmp", "mld"] {
        let watch = Proc::start(&b, &[proto, "watch", "-i", "vb", "-t", "4", "--json"]);
        let query = run(&b, &[proto, "query", "-i", "vb", "--max-resp", "1", "--wait", "2", "--json"]).ok();
        expect(&c.check(&format!("{proto} query"), &query), &["sent", "answer", "summary"], proto);
        expect(&c.check(&format!("{proto} watch"), &watch.finish()), &["summary"], proto);
    }
    drop((member, member6));
}
