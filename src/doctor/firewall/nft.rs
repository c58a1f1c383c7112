//! `nft -j list ruleset` into the firewall model.
//!
//! Tables that `iptables-nft` made (`ip`/`ip6` tables `filter`, `raw`, `mangle`, `security` with upper-case
//! chains) are owned by iptables for messages and fixes, since that is the tool that manages them.

use std::net::IpAddr;

use super::{Chain, Hook, Match, Owner, Rule, Verdict};
use crate::doctor::json::Json;
use crate::socket::Family;

/// Reads nft's JSON; `None` if it is not nft's JSON.
pub fn parse_nft_json(text: &str) -> Option<Vec<Chain>> {
    let doc = Json::parse(text)?;
    let items = doc.get("nftables")?.items();
    let mut chains: Vec<Chain> = Vec::new();
    for item in items {
        if let Some(c) = item.get("chain") {
            let (Some(family), Some(table), Some(name)) = (str_of(c, "family"), str_of(c, "table"), str_of(c, "name"))
            else {
                continue;
            };
            let hook = str_of(c, "hook").map(|h| match h {
                "prerouting" => Hook::Prerouting,
                "input" => Hook::Input,
                "output" => Hook::Output,
                "postrouting" => Hook::Postrouting,
                _ => Hook::Other,
            });
            let policy = match str_of(c, "policy") {
                Some("drop") => Verdict::Drop,
                _ => Verdict::Accept,
            };
            chains.push(Chain {
                owner: owner(family, table, name),
                name: name.to_string(),
                hook,
                policy,
                rules: vec![],
            });
        } else if let Some(r) = item.get("rule") {
            let (Some(family), Some(table), Some(name)) = (str_of(r, "family"), str_of(r, "table"), str_of(r, "chain"))
            else {
                continue;
            };
            let own = owner(family, table, name);
            let mut rule = parse_rule(r);
            if let Some(chain) = chains.iter_mut().find(|c| c.owner == own && c.name == name) {
                // iptables names rules by number in the chain, not by nft handle.
                if matches!(own, Owner::Iptables { .. }) {
                    rule.position = chain.rules.len() as u64 + 1;
                }
                chain.rules.push(rule);
            }
        }
    }
    Some(chains)
}

fn str_of<'a>(j: &'a Json, key: &str) -> Option<&'a str> {
    j.get(key).and_then(Json::as_str)
}

fn owner(family: &str, table: &str, chain: &str) -> Owner {
    let iptables_table = matches!(table, "filter" | "raw" | "mangle" | "security");
    let upper = !chain.is_empty() && chain.chars().all(|c| !c.is_ascii_lowercase());
    match family {
        "ip" | "ip6" if iptables_table && upper => Owner::Iptables { table: table.to_string(), v6: family == "ip6" },
        _ => Owner::Nft { family: family.to_string(), table: table.to_string() },
    }
}

fn parse_rule(r: &Json) -> Rule {
    let mut matches = Vec::new();
    let mut verdict = Verdict::Continue;
    let mut words = Vec::new();
    for e in r.get("expr").map(Json::items).unwrap_or_default() {
        let Some((tag, body)) = e.tagged() else {
            matches.push(Match::Unknown);
            continue;
        };
        match tag {
            "match" => {
                let (m, text) = parse_match(body);
                matches.extend(m);
                words.push(text);
            }
            "accept" | "drop" | "return" => {
                verdict = match tag {
                    "accept" => Verdict::Accept,
                    "drop" => Verdict::Drop,
                    _ => Verdict::Return,
                };
                words.push(tag.to_string());
            }
            "reject" => {
                verdict = Verdict::Reject;
                words.push("reject".into());
            }
            "jump" | "goto" => {
                let target = body.get("target").and_then(Json::as_str).unwrap_or_default().to_string();
                words.push(format!("{tag} {target}"));
                verdict = if tag == "jump" { Verdict::Jump(target) } else { Verdict::Goto(target) };
            }
            "xt" => {
                let name = str_of(body, "name").unwrap_or("?");
                match (str_of(body, "type"), name) {
                    (Some("target"), "REJECT") => verdict = Verdict::Reject,
                    (Some("target"), _) => {}
                    _ => matches.push(Match::Unknown),
                }
                words.push(format!("xt {name}"));
            }
            "counter" | "log" | "comment" | "mangle" | "meta" => {}
            other => {
                // limit, quota, set lookups, ...: conditions the model cannot judge.
                matches.push(Match::Unknown);
                words.push(other.to_string());
            }
        }
    }
    let position = r.get("handle").and_then(Json::as_u64).unwrap_or(0);
    Rule { matches, verdict, text: words.join(" "), position }
}

/// One `{"match": {"op", "left", "right"}}`: the conditions it implies and how nft prints it.
fn parse_match(body: &Json) -> (Vec<Match>, String) {
    let op = str_of(body, "op").unwrap_or("?");
    let (Some(left), Some(right)) = (body.get("left"), body.get("right")) else {
        return (vec![Match::Unknown], "?".into());
    };
    let neg = match op {
        "==" | "in" => false,
        "!=" => true,
        _ => return (vec![Match::Unknown], format!("{} {op} {}", render(left), render(right))),
    };
    let text = if neg {
        format!("{} != {}", render(left), render(right))
    } else {
        format!("{} {}", render(left), render(right))
    };
    let mut out = Vec::new();
    let fam = |f: &str| match f {
        "ip" => Some(Family::V4),
        "ip6" => Some(Family::V6),
        _ => None,
    };
    if let Some(p) = left.get("payload") {
        let proto = str_of(p, "protocol").unwrap_or_default();
        let field = str_of(p, "field").unwrap_or_default();
        // A payload match first requires the header it reads: "udp dport" holds only for UDP.
        match proto {
            "ip" | "ip6" => out.extend(fam(proto).map(Match::Family)),
            "udp" => out.push(Match::Proto(vec![17], false)),
            "tcp" => out.push(Match::Proto(vec![6], false)),
            "icmpv6" => out.push(Match::Proto(vec![58], false)),
            "icmp" => out.push(Match::Proto(vec![1], false)),
            "igmp" => out.push(Match::Proto(vec![2], false)),
            "th" => out.push(Match::Proto(vec![6, 17, 33, 132, 136], false)),
            _ => out.push(Match::Unknown),
        }
        out.push(match (proto, field) {
            ("udp" | "th" | "tcp", "dport") => ports(right).map_or(Match::Unknown, |p| Match::DPort(p, neg)),
            ("ip" | "ip6", "daddr") => addrs(right).map_or(Match::Unknown, |a| Match::DAddr(a, neg)),
            ("ip", "protocol") | ("ip6", "nexthdr") => protos(right).map_or(Match::Unknown, |p| Match::Proto(p, neg)),
            ("icmpv6", "type") => icmp6(right).map_or(Match::Unknown, |t| Match::Icmp6Type(t, neg)),
            _ => Match::Unknown,
        });
    } else if let Some(m) = left.get("meta") {
        out.push(match str_of(m, "key").unwrap_or_default() {
            "l4proto" => protos(right).map_or(Match::Unknown, |p| Match::Proto(p, neg)),
            "nfproto" => match (strings(right).as_deref(), neg) {
                (Some([f]), false) if f == "ipv4" => Match::Family(Family::V4),
                (Some([f]), false) if f == "ipv6" => Match::Family(Family::V6),
                _ => Match::Unknown,
            },
            "iifname" => strings(right).map_or(Match::Unknown, |n| Match::IIf(n, neg)),
            "oifname" => strings(right).map_or(Match::Unknown, |n| Match::OIf(n, neg)),
            "pkttype" => strings(right).map_or(Match::Unknown, |t| Match::PktType(t, neg)),
            _ => Match::Unknown,
        });
    } else if left.get("ct").and_then(|c| str_of(c, "key")) == Some("state") {
        out.push(strings(right).map_or(Match::Unknown, |s| Match::CtState(s, neg)));
    } else {
        out.push(Match::Unknown);
    }
    (out, text)
}

/// The values of a right-hand side: a single value, an anonymous set, or an array of flags.
fn values(right: &Json) -> Vec<&Json> {
    match right {
        Json::Arr(a) => a.iter().collect(),
        j => match j.get("set") {
            Some(Json::Arr(a)) => a.iter().collect(),
            Some(one) => vec![one],
            None => vec![j],
        },
    }
}

fn strings(right: &Json) -> Option<Vec<String>> {
    values(right).iter().map(|v| v.as_str().filter(|s| !s.starts_with('@')).map(str::to_string)).collect()
}

fn ports(right: &Json) -> Option<Vec<(u16, u16)>> {
    let port = |j: &Json| j.as_u64().and_then(|n| u16::try_from(n).ok());
    values(right)
        .iter()
        .map(|v| match v.get("range").map(Json::items) {
            Some([a, b]) => Some((port(a)?, port(b)?)),
            Some(_) => None,
            None => port(v).map(|p| (p, p)),
        })
        .collect()
}

fn addrs(right: &Json) -> Option<Vec<(IpAddr, u8)>> {
    values(right)
        .iter()
        .map(|v| {
            if let Some(p) = v.get("prefix") {
                let a: IpAddr = p.get("addr")?.as_str()?.parse().ok()?;
                let len = u8::try_from(p.get("len")?.as_u64()?).ok()?;
                return Some((a, len));
            }
            let a: IpAddr = v.as_str()?.parse().ok()?;
            Some((a, if a.is_ipv4() { 32 } else { 128 }))
        })
        .collect()
}

/// Protocol names and numbers as nft writes them.
fn protos(right: &Json) -> Option<Vec<u8>> {
    values(right)
        .iter()
        .map(|v| match v {
            Json::Num(_) => v.as_u64().and_then(|n| u8::try_from(n).ok()),
            Json::Str(s) => super::iptables::proto_number(s),
            _ => None,
        })
        .collect()
}

fn icmp6(right: &Json) -> Option<Vec<u8>> {
    values(right)
        .iter()
        .map(|v| match v {
            Json::Num(_) => v.as_u64().and_then(|n| u8::try_from(n).ok()),
            Json::Str(s) => Some(super::iptables::icmp6_type_number(s).unwrap_or(0)),
            _ => None,
        })
        .collect()
}

/// nft's text form of an expression, near enough to read: `udp dport`, `{ 5001, 6000-6010 }`, `239.0.0.0/8`.
fn render(j: &Json) -> String {
    if let Some(p) = j.get("payload") {
        return format!("{} {}", str_of(p, "protocol").unwrap_or("?"), str_of(p, "field").unwrap_or("?"));
    }
    if let Some(m) = j.get("meta") {
        return format!("meta {}", str_of(m, "key").unwrap_or("?"));
    }
    if let Some(c) = j.get("ct") {
        return format!("ct {}", str_of(c, "key").unwrap_or("?"));
    }
    if let Some(p) = j.get("prefix") {
        return format!(
            "{}/{}",
            p.get("addr").map(render).unwrap_or_default(),
            p.get("len").map(render).unwrap_or_default()
        );
    }
    if let Some(Json::Arr(r)) = j.get("range") {
        return r.iter().map(render).collect::<Vec<_>>().join("-");
    }
    if let Some(s) = j.get("set") {
        return format!("{{ {} }}", values(s).iter().map(|v| render(v)).collect::<Vec<_>>().join(", "));
    }
    match j {
        Json::Str(s) => s.clone(),
        Json::Num(_) => j.as_u64().map_or_else(|| "?".into(), |n| n.to_string()),
        Json::Arr(a) => a.iter().map(render).collect::<Vec<_>>().join(","),
        Json::Bool(b) => b.to_string(),
        _ => "?".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Outcome, Packet, Ruleset};
    use super::*;

    /// What `nft -j list ruleset` printed for a small inet table and an iptables-nft table.
    const RULESET: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
      {"table": {"family": "inet", "name": "t", "handle": 1}},
      {"chain": {"family": "inet", "table": "t", "name": "sub", "handle": 1}},
      {"chain": {"family": "inet", "table": "t", "name": "input", "handle": 2, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},
      {"rule": {"family": "inet", "table": "t", "chain": "sub", "handle": 3, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "239.9.9.9"}}, {"drop": null}]}},
      {"rule": {"family": "inet", "table": "t", "chain": "input", "handle": 6, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "invalid"}}, {"drop": null}]}},
      {"rule": {"family": "inet", "table": "t", "chain": "input", "handle": 8, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "igmp"}}, {"drop": null}]}},
      {"rule": {"family": "inet", "table": "t", "chain": "input", "handle": 12, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": {"set": [5001, {"range": [6000, 6010]}]}}}, {"drop": null}]}},
      {"rule": {"family": "inet", "table": "t", "chain": "input", "handle": 15, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "icmpv6", "field": "type"}}, "right": {"set": ["mld-listener-query", "mld2-listener-report"]}}}, {"drop": null}]}},
      {"rule": {"family": "inet", "table": "t", "chain": "input", "handle": 18, "expr": [{"jump": {"target": "sub"}}]}},
      {"table": {"family": "ip", "name": "filter", "handle": 2}},
      {"chain": {"family": "ip", "table": "filter", "name": "OUTPUT", "handle": 6, "type": "filter", "hook": "output", "prio": 0, "policy": "accept"}},
      {"rule": {"family": "ip", "table": "filter", "chain": "OUTPUT", "handle": 7, "expr": [{"match": {"op": "!=", "left": {"meta": {"key": "oifname"}}, "right": "lo"}}, {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "igmp"}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}
    ]}"#;

    fn packet(proto: u8, dport: Option<u16>, daddr: &str, inbound: bool) -> Packet {
        let a: IpAddr = daddr.parse().unwrap();
        Packet {
            what: "test".into(),
            family: if a.is_ipv4() { Family::V4 } else { Family::V6 },
            proto,
            dport,
            daddrs: vec![a],
            icmp6_types: vec![130],
            iface: Some("eth9".into()),
            inbound,
        }
    }

    fn verdict_of(p: &Packet) -> Option<(String, u64)> {
        let rs = Ruleset { chains: parse_nft_json(RULESET).unwrap() };
        match rs.judge(p) {
            Outcome::Drop(c) => Some((c.chain.name.clone(), c.rule.map_or(0, |r| r.position))),
            _ => None,
        }
    }

    #[test]
    fn reads_chains_rules_and_owners() {
        let chains = parse_nft_json(RULESET).unwrap();
        assert_eq!(chains.len(), 3);
        assert_eq!(chains[1].rules.len(), 5);
        assert_eq!(chains[1].rules[2].text, "udp dport { 5001, 6000-6010 } drop");
        assert_eq!(chains[2].owner, Owner::Iptables { table: "filter".into(), v6: false });
        assert_eq!(chains[2].rules[0].text, "meta oifname != lo meta l4proto igmp drop");
    }

    #[test]
    fn judges_each_kind_of_traffic() {
        assert_eq!(verdict_of(&packet(17, Some(6005), "239.1.1.1", true)), Some(("input".into(), 12)));
        assert_eq!(verdict_of(&packet(17, Some(5000), "239.1.1.1", true)), None);
        assert_eq!(verdict_of(&packet(17, Some(5000), "239.9.9.9", true)), Some(("sub".into(), 3)));
        assert_eq!(verdict_of(&packet(2, None, "224.0.0.1", true)), Some(("input".into(), 8)));
        assert_eq!(
            verdict_of(&packet(2, None, "224.0.0.22", false)),
            Some(("OUTPUT".into(), 1)),
            "iptables numbers rules in the chain"
        );
        assert_eq!(verdict_of(&packet(58, None, "ff02::1", true)), Some(("input".into(), 15)));
    }

    #[test]
    fn refuses_what_is_not_nft_json() {
        assert!(parse_nft_json("").is_none());
        assert!(parse_nft_json("{\"x\": 1}").is_none());
        assert_eq!(parse_nft_json("{\"nftables\": [{\"rule\": {\"expr\": 5}}, {\"chain\": 1}]}"), Some(vec![]));
    }
}
