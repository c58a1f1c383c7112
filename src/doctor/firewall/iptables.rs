//! `iptables-save` / `ip6tables-save` text into the firewall model.
//!
//! ```text
//! *filter
//! :INPUT DROP [0:0]
//! -A INPUT -p udp -m udp --dport 5000 -j DROP
//! -A INPUT -d 239.1.2.3/32 -p udp -m multiport --dports 5000,6000:6010 -j REJECT --reject-with icmp-port-unreachable
//! COMMIT
//! ```

use std::net::{IpAddr, Ipv4Addr};

use super::{Chain, Hook, Match, Owner, Rule, Verdict};

/// Reads the output of `iptables-save` (`v6`: `ip6tables-save`). The `nat` table is skipped: it rewrites,
/// it does not drop.
pub fn parse_iptables_save(text: &str, v6: bool) -> Vec<Chain> {
    let mut chains: Vec<Chain> = Vec::new();
    let mut table = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(t) = line.strip_prefix('*') {
            table = t.to_string();
        } else if table == "nat" {
            continue;
        } else if let Some(decl) = line.strip_prefix(':') {
            let mut f = decl.split_whitespace();
            let (Some(name), Some(policy)) = (f.next(), f.next()) else { continue };
            let hook = match name {
                "PREROUTING" => Some(Hook::Prerouting),
                "INPUT" => Some(Hook::Input),
                "OUTPUT" => Some(Hook::Output),
                "POSTROUTING" => Some(Hook::Postrouting),
                "FORWARD" => Some(Hook::Other),
                _ => None,
            };
            let policy = if policy == "DROP" { Verdict::Drop } else { Verdict::Accept };
            let owner = Owner::Iptables { table: table.clone(), v6 };
            chains.push(Chain { owner, name: name.to_string(), hook, policy, rules: vec![] });
        } else if let Some(rest) = line.strip_prefix("-A ") {
            let words = split_words(rest);
            let Some((name, args)) = words.split_first() else { continue };
            let Some(chain) = chains.iter_mut().find(|c| &c.name == name) else { continue };
            let position = chain.rules.len() as u64 + 1;
            let (matches, verdict) = parse_args(args);
            chain.rules.push(Rule { matches, verdict, text: line.to_string(), position });
        }
    }
    chains
}

/// Splits like a shell would for iptables-save's output: words, with `"..."` quoting (comments).
fn split_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '\\' if quoted => cur.extend(chars.next()),
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

fn parse_args(args: &[String]) -> (Vec<Match>, Verdict) {
    let mut matches = Vec::new();
    let mut verdict = Verdict::Continue;
    let mut neg = false;
    let mut i = 0;
    let next = |i: usize| args.get(i + 1).map(String::as_str).unwrap_or_default();
    while i < args.len() {
        let a = args[i].as_str();
        let mut used = 2;
        match a {
            "!" => {
                neg = true;
                i += 1;
                continue;
            }
            "-p" | "--protocol" => {
                let p = next(i);
                // "-p all" is no condition at all.
                if !matches!(p, "all" | "0") || neg {
                    matches.push(proto_number(p).map_or(Match::Unknown, |n| Match::Proto(vec![n], neg)));
                }
            }
            "-d" | "--destination" => {
                matches.push(destinations(next(i)).map_or(Match::Unknown, |d| Match::DAddr(d, neg)))
            }
            "-i" | "--in-interface" => matches.push(Match::IIf(vec![next(i).to_string()], neg)),
            "-o" | "--out-interface" => matches.push(Match::OIf(vec![next(i).to_string()], neg)),
            "--dport" | "--destination-port" | "--dports" | "--destination-ports" => {
                matches.push(port_list(next(i)).map_or(Match::Unknown, |p| Match::DPort(p, neg)))
            }
            "--state" | "--ctstate" => {
                let states = next(i).split(',').map(str::to_ascii_lowercase).collect();
                matches.push(Match::CtState(states, neg))
            }
            "--pkt-type" => matches.push(Match::PktType(vec![next(i).to_string()], neg)),
            "--icmpv6-type" => {
                let t = next(i).split('/').next().unwrap_or_default();
                matches.push(Match::Icmp6Type(vec![icmp6_type_number(t).unwrap_or(0)], neg))
            }
            // Modules whose own options are read above; the module name alone decides nothing.
            "-m" | "--match" => {
                if !matches!(
                    next(i),
                    "udp" | "tcp" | "multiport" | "state" | "conntrack" | "pkttype" | "icmp6" | "comment"
                ) {
                    matches.push(Match::Unknown);
                }
            }
            "--comment" => {}
            "-j" | "--jump" | "-g" | "--goto" => {
                let t = next(i).to_string();
                verdict = match t.as_str() {
                    "ACCEPT" => Verdict::Accept,
                    "DROP" => Verdict::Drop,
                    "REJECT" => Verdict::Reject,
                    "RETURN" => Verdict::Return,
                    "LOG" | "NFLOG" | "MARK" | "CONNMARK" | "TRACE" | "CT" | "NOTRACK" => Verdict::Continue,
                    _ if a == "-g" || a == "--goto" => Verdict::Goto(t),
                    _ => Verdict::Jump(t),
                };
                // The rest are the target's own options (--reject-with ...).
                break;
            }
            _ => {
                // An option the model does not know: a condition it cannot judge; skip its values.
                matches.push(Match::Unknown);
                used = 1 + args[i + 1..].iter().take_while(|w| !w.starts_with('-') && *w != "!").count();
            }
        }
        neg = false;
        i += used;
    }
    (matches, verdict)
}

/// `239.1.2.3`, `239.0.0.0/8`, `239.0.0.0/255.0.0.0`, comma lists.
fn destinations(s: &str) -> Option<Vec<(IpAddr, u8)>> {
    s.split(',')
        .map(|d| {
            let (a, m) = d.split_once('/').unwrap_or((d, ""));
            let addr: IpAddr = a.parse().ok()?;
            let full = if addr.is_ipv4() { 32 } else { 128 };
            let len = match m {
                "" => full,
                m => match m.parse::<u8>() {
                    Ok(n) if n <= full => n,
                    _ => u8::try_from(u32::from(m.parse::<Ipv4Addr>().ok()?).count_ones()).ok()?,
                },
            };
            Some((addr, len))
        })
        .collect()
}

/// `5000`, `6000:6010`, `5000,6000:6010`.
fn port_list(s: &str) -> Option<Vec<(u16, u16)>> {
    s.split(',')
        .map(|p| match p.split_once(':') {
            Some((a, b)) => Some((a.parse().unwrap_or(0), if b.is_empty() { u16::MAX } else { b.parse().ok()? })),
            None => p.parse().ok().map(|n| (n, n)),
        })
        .collect()
}

/// Protocol names as iptables and nft write them, or numbers.
pub(super) fn proto_number(p: &str) -> Option<u8> {
    Some(match p.to_ascii_lowercase().as_str() {
        "icmp" => 1,
        "igmp" => 2,
        "tcp" => 6,
        "udp" => 17,
        "ipv6-icmp" | "icmpv6" | "icmp6" => 58,
        "udplite" => 136,
        "sctp" => 132,
        "dccp" => 33,
        n => return n.parse().ok(),
    })
}

/// ICMPv6 type names for MLD (RFC 2710, 3810) and numbers. Other names map to 0 (never an MLD type).
pub(super) fn icmp6_type_number(t: &str) -> Option<u8> {
    Some(match t {
        "mld-listener-query" | "mld2-listener-query" => 130,
        "mld-listener-report" => 131,
        "mld-listener-done" | "mld-listener-reduction" => 132,
        "mld2-listener-report" => 143,
        n => n.parse().unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Outcome, Packet, Ruleset};
    use super::*;
    use crate::socket::Family;

    const SAVE: &str = "# Generated by iptables-save v1.8.9 (legacy)\n*nat\n:PREROUTING ACCEPT [0:0]\n\
        -A PREROUTING -j DROP\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
        :MCAST - [0:0]\n\
        -A INPUT -m comment --comment \"ssh from \\\"office\\\"\" -p tcp --dport 22 -j ACCEPT\n\
        -A INPUT -p udp -m udp --dport 5000 -j DROP\n\
        -A INPUT -d 239.1.2.0/255.255.255.0 -p udp -m multiport --dports 6000:6010,7000 -j REJECT --reject-with icmp-port-unreachable\n\
        -A INPUT -m limit --limit 5/sec -j MCAST\n\
        -A MCAST -p igmp -j DROP\n\
        -A OUTPUT ! -o lo -p igmp -j DROP\nCOMMIT\n";

    fn udp(port: u16, daddr: &str) -> Packet {
        Packet {
            what: "t".into(),
            family: Family::V4,
            proto: 17,
            dport: Some(port),
            daddrs: vec![daddr.parse().unwrap()],
            icmp6_types: vec![],
            iface: Some("eth1".into()),
            inbound: true,
        }
    }

    #[test]
    fn reads_tables_chains_and_rules() {
        let chains = parse_iptables_save(SAVE, false);
        let names: Vec<&str> = chains.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["INPUT", "FORWARD", "OUTPUT", "MCAST"], "nat skipped");
        assert_eq!(chains[0].rules.len(), 4);
        assert_eq!(
            chains[0].rules[1].matches,
            vec![Match::Proto(vec![17], false), Match::DPort(vec![(5000, 5000)], false)]
        );
        assert_eq!(chains[0].rules[2].matches[0], Match::DAddr(vec![("239.1.2.0".parse().unwrap(), 24)], false));
        assert_eq!(chains[0].rules[2].verdict, Verdict::Reject);
        assert_eq!(chains[2].rules[0].matches[0], Match::OIf(vec!["lo".into()], true));
        assert_eq!(split_words("a \"b c\" \"d\\\"e\""), ["a", "b c", "d\"e"]);
    }

    #[test]
    fn judges_ports_prefixes_and_uncertain_jumps() {
        let rs = Ruleset { chains: parse_iptables_save(SAVE, false) };
        assert!(
            matches!(rs.judge(&udp(5000, "239.9.9.9")), Outcome::Drop(c) if c.rule.as_ref().unwrap().position == 2)
        );
        assert!(
            matches!(rs.judge(&udp(7000, "239.1.2.77")), Outcome::Drop(c) if c.rule.as_ref().unwrap().position == 3)
        );
        assert_eq!(rs.judge(&udp(7000, "239.1.3.77")), Outcome::Accept);
        let mut igmp = udp(0, "224.0.0.1");
        igmp.proto = 2;
        igmp.dport = None;
        assert!(matches!(rs.judge(&igmp), Outcome::MaybeDrop(c) if c.chain.name == "MCAST"), "behind a rate limit");
        igmp.inbound = false;
        assert!(matches!(rs.judge(&igmp), Outcome::Drop(c) if c.chain.name == "OUTPUT"));
    }

    #[test]
    fn odd_lines_are_skipped() {
        let chains = parse_iptables_save("-A NOCHAIN -j DROP\n:\n:X\n*filter\n:INPUT ACCEPT\n-A INPUT\n-A INPUT ! \n-A INPUT -p\n-A INPUT -d 1.2.3.4/99 -j\n", false);
        assert_eq!(chains.len(), 1);
        assert_eq!(chains[0].rules.len(), 4);
        assert_eq!(chains[0].rules[3].matches, vec![Match::Unknown]);
    }
}
