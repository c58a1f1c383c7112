//! A read-only look at the packet filter: would nftables or iptables drop the group's UDP datagrams, the
//! IGMP/MLD queries that keep a membership alive, or the reports that announce it?
//!
//! Both rule sets are read into one small model ([`Chain`]s of [`Rule`]s whose [`Match`]es are the few
//! things that matter for multicast: protocol, destination port and address, interface, ICMPv6 type,
//! conntrack state, packet type). Each of the traffic kinds in [`Packet`] is walked through every base chain
//! on its path, following jumps, and every match answers yes, no or maybe; a match the model does not
//! understand is a maybe, so the verdict is `Drop` only when the rule certainly applies, and `MaybeDrop`
//! (a warning) when it might.

mod iptables;
mod nft;

use std::net::IpAddr;

use crate::socket::Family;

pub use iptables::parse_iptables_save;
pub use nft::parse_nft_json;

/// Where a packet meets a chain (netfilter hooks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// Arriving, before routing.
    Prerouting,
    /// Arriving, for this host.
    Input,
    /// Sent by this host.
    Output,
    /// Leaving, after routing.
    Postrouting,
    /// Anything else (forward, ingress, ...).
    Other,
}

/// What a rule does when it matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Stop here, let the packet through (this chain's hook).
    Accept,
    /// Stop here, discard silently.
    Drop,
    /// Stop here, discard with an error.
    Reject,
    /// Evaluate another chain, then come back.
    Jump(String),
    /// Evaluate another chain, do not come back.
    Goto(String),
    /// Back to the calling chain.
    Return,
    /// No verdict (counter, log, mark, ...).
    Continue,
}

/// One condition of a rule; `negated` inverts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Match {
    /// The address family.
    Family(Family),
    /// Layer-4 protocol numbers (17 UDP, 2 IGMP, 58 ICMPv6).
    Proto(Vec<u8>, bool),
    /// Destination port ranges.
    DPort(Vec<(u16, u16)>, bool),
    /// Destination address prefixes.
    DAddr(Vec<(IpAddr, u8)>, bool),
    /// Input interface names (`eth+`/`eth*` wildcards).
    IIf(Vec<String>, bool),
    /// Output interface names.
    OIf(Vec<String>, bool),
    /// ICMPv6 types.
    Icmp6Type(Vec<u8>, bool),
    /// Conntrack states, lower case (`new`, `established`, ...).
    CtState(Vec<String>, bool),
    /// Link-layer packet types (`multicast`, `host`, ...).
    PktType(Vec<String>, bool),
    /// Anything else: might or might not match.
    Unknown,
}

/// A rule: conditions, verdict, and how to name it to a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The conditions, all of which must hold.
    pub matches: Vec<Match>,
    /// What it does.
    pub verdict: Verdict,
    /// The rule as its tool prints it.
    pub text: String,
    /// nft handle, or iptables rule number (1-based).
    pub position: u64,
}

/// Which tool owns a chain, for messages and fixes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// nftables: family (`inet`, `ip`, `ip6`) and table.
    Nft {
        /// `ip`, `ip6` or `inet`.
        family: String,
        /// Table name.
        table: String,
    },
    /// iptables or ip6tables (legacy, or nf_tables tables it made): table name.
    Iptables {
        /// `filter`, `raw`, `mangle`, `security`.
        table: String,
        /// ip6tables.
        v6: bool,
    },
}

/// A chain: base chains have a hook and a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    /// Who owns it.
    pub owner: Owner,
    /// Chain name.
    pub name: String,
    /// The hook of a base chain.
    pub hook: Option<Hook>,
    /// The policy of a base chain (`Accept` or `Drop`).
    pub policy: Verdict,
    /// Rules in order.
    pub rules: Vec<Rule>,
}

impl Chain {
    fn families(&self) -> (bool, bool) {
        match &self.owner {
            Owner::Nft { family, .. } => match family.as_str() {
                "ip" => (true, false),
                "ip6" => (false, true),
                "inet" => (true, true),
                _ => (false, false),
            },
            Owner::Iptables { v6, .. } => (!v6, *v6),
        }
    }

    /// "nftables inet t input", "iptables filter INPUT".
    pub fn describe(&self) -> String {
        match &self.owner {
            Owner::Nft { family, table } => format!("nftables {family} {table} {}", self.name),
            Owner::Iptables { table, v6 } => {
                format!("{} {table} {}", if *v6 { "ip6tables" } else { "iptables" }, self.name)
            }
        }
    }
}

/// A kind of traffic multicast depends on, as the filter sees it.
#[derive(Clone, Debug)]
pub struct Packet {
    /// What it is, for messages ("UDP to 239.1.2.3:5000").
    pub what: String,
    /// Family.
    pub family: Family,
    /// Layer-4 protocol.
    pub proto: u8,
    /// Destination port (UDP).
    pub dport: Option<u16>,
    /// The destinations it may have (a report goes to the group or to 224.0.0.22, by version).
    pub daddrs: Vec<IpAddr>,
    /// ICMPv6 types it may have (MLD).
    pub icmp6_types: Vec<u8>,
    /// The interface it arrives on or leaves by, if known.
    pub iface: Option<String>,
    /// Arriving (prerouting, input) or leaving (output, postrouting).
    pub inbound: bool,
}

/// Yes, no, or cannot tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tri {
    /// Certainly.
    Yes,
    /// Certainly not.
    No,
    /// Cannot tell.
    Maybe,
}

impl Tri {
    fn of(b: bool) -> Tri {
        if b {
            Tri::Yes
        } else {
            Tri::No
        }
    }

    fn negate(self, negated: bool) -> Tri {
        match (self, negated) {
            (Tri::Yes, true) => Tri::No,
            (Tri::No, true) => Tri::Yes,
            (t, _) => t,
        }
    }

    fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::No, _) | (_, Tri::No) => Tri::No,
            (Tri::Yes, Tri::Yes) => Tri::Yes,
            _ => Tri::Maybe,
        }
    }
}

/// Whether every one of `values` is in the set (`Yes`), none is (`No`), or some are.
fn all_some_none<T>(values: &[T], mut contains: impl FnMut(&T) -> bool) -> Tri {
    let n = values.iter().filter(|v| contains(v)).count();
    match n {
        0 => Tri::No,
        n if n == values.len() => Tri::Yes,
        _ => Tri::Maybe,
    }
}

fn in_prefix(a: IpAddr, (net, len): (IpAddr, u8)) -> bool {
    match (a, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len.min(32))) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len.min(128))) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('+').or_else(|| pattern.strip_suffix('*')) {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

impl Match {
    /// Whether this condition holds for `p`.
    pub fn applies(&self, p: &Packet) -> Tri {
        match self {
            Match::Family(f) => Tri::of(*f == p.family),
            Match::Proto(protos, neg) => Tri::of(protos.contains(&p.proto)).negate(*neg),
            Match::DPort(ranges, neg) => match p.dport {
                Some(port) => Tri::of(ranges.iter().any(|&(lo, hi)| lo <= port && port <= hi)).negate(*neg),
                None => Tri::No,
            },
            Match::DAddr(nets, neg) => {
                all_some_none(&p.daddrs, |a| nets.iter().any(|n| in_prefix(*a, *n))).negate(*neg)
            }
            Match::IIf(names, neg) | Match::OIf(names, neg) => {
                let right_way = matches!(self, Match::IIf(..)) == p.inbound;
                match (&p.iface, right_way) {
                    // An input-interface match on a locally sent packet never holds (and the reverse).
                    (_, false) => Tri::No.negate(*neg),
                    (Some(i), true) => Tri::of(names.iter().any(|n| name_matches(n, i))).negate(*neg),
                    (None, true) => Tri::Maybe,
                }
            }
            Match::Icmp6Type(types, neg) => {
                if p.proto != 58 {
                    return Tri::No;
                }
                all_some_none(&p.icmp6_types, |t| types.contains(t)).negate(*neg)
            }
            // Multicast streams have no replies, so conntrack sees every datagram as NEW.
            Match::CtState(states, neg) => Tri::of(states.iter().any(|s| s == "new")).negate(*neg),
            // A packet this host sends has no link-layer type yet.
            Match::PktType(types, neg) if p.inbound => Tri::of(types.iter().any(|s| s == "multicast")).negate(*neg),
            Match::PktType(..) => Tri::Maybe,
            Match::Unknown => Tri::Maybe,
        }
    }
}

impl Rule {
    /// Whether all conditions hold for `p`.
    pub fn applies(&self, p: &Packet) -> Tri {
        self.matches.iter().fold(Tri::Yes, |acc, m| acc.and(m.applies(p)))
    }
}

/// The rule (or policy) that decides a packet's fate in a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Culprit {
    /// The chain holding the rule.
    pub chain: Chain,
    /// The rule; `None`: the chain's policy.
    pub rule: Option<Rule>,
}

/// How one base chain treats a packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted (or no rule and an accepting policy).
    Accept,
    /// Certainly dropped or rejected.
    Drop(Culprit),
    /// Perhaps dropped: a rule the model cannot fully judge would drop it.
    MaybeDrop(Culprit),
    /// A user chain ran to its end (or returned): back to the caller.
    Continue,
}

/// The chains of the parsed rule sets.
#[derive(Clone, Debug, Default)]
pub struct Ruleset {
    /// Every chain, base and user.
    pub chains: Vec<Chain>,
}

impl Ruleset {
    fn find(&self, owner: &Owner, name: &str) -> Option<&Chain> {
        self.chains.iter().find(|c| &c.owner == owner && c.name == name)
    }

    /// How every base chain on the path of `p` treats it: the first certain drop, else the first possible one.
    pub fn judge(&self, p: &Packet) -> Outcome {
        let hooks: &[Hook] =
            if p.inbound { &[Hook::Prerouting, Hook::Input] } else { &[Hook::Output, Hook::Postrouting] };
        let mut maybe = None;
        for chain in &self.chains {
            let (v4, v6) = chain.families();
            let fam_ok = match p.family {
                Family::V4 => v4,
                Family::V6 => v6,
            };
            if !fam_ok || !chain.hook.is_some_and(|h| hooks.contains(&h)) {
                continue;
            }
            match self.walk(chain, p, 0) {
                Outcome::Drop(c) => return Outcome::Drop(c),
                Outcome::MaybeDrop(c) => {
                    maybe.get_or_insert(c);
                }
                _ => {}
            }
        }
        maybe.map_or(Outcome::Accept, Outcome::MaybeDrop)
    }

    fn walk(&self, chain: &Chain, p: &Packet, depth: usize) -> Outcome {
        if depth > 16 {
            return Outcome::Continue;
        }
        let culprit = |rule: Option<&Rule>| Culprit { chain: chain.clone(), rule: rule.cloned() };
        let mut maybe: Option<Culprit> = None;
        let mut maybe_accepted = false;
        // A verdict that certainly applies, tempered by what came before it.
        let settle = |maybe: Option<Culprit>, maybe_accepted: bool, out: Outcome| match out {
            Outcome::Drop(c) if maybe_accepted => Outcome::MaybeDrop(c),
            Outcome::Accept | Outcome::Continue => maybe.map_or(out, Outcome::MaybeDrop),
            other => other,
        };
        for rule in &chain.rules {
            let applies = rule.applies(p);
            if applies == Tri::No {
                continue;
            }
            let sure = applies == Tri::Yes;
            let result = match &rule.verdict {
                Verdict::Accept => Outcome::Accept,
                Verdict::Drop | Verdict::Reject => Outcome::Drop(culprit(Some(rule))),
                Verdict::Jump(t) | Verdict::Goto(t) => match self.find(&chain.owner, t) {
                    Some(sub) => match self.walk(sub, p, depth + 1) {
                        Outcome::Continue if matches!(rule.verdict, Verdict::Goto(_)) => Outcome::Continue,
                        Outcome::Continue => continue,
                        o => o,
                    },
                    None => continue,
                },
                Verdict::Return => Outcome::Continue,
                Verdict::Continue => continue,
            };
            if sure {
                return settle(maybe, maybe_accepted, result);
            }
            match result {
                Outcome::Accept | Outcome::Continue => maybe_accepted = true,
                Outcome::Drop(c) | Outcome::MaybeDrop(c) => {
                    maybe.get_or_insert(c);
                }
            }
        }
        let end = match (&chain.hook, &chain.policy) {
            (Some(_), Verdict::Drop) => Outcome::Drop(culprit(None)),
            (Some(_), _) => Outcome::Accept,
            (None, _) => Outcome::Continue,
        };
        settle(maybe, maybe_accepted, end)
    }
}

/// The command that lets `p` through ahead of `culprit`.
pub fn fix_for(culprit: &Culprit, p: &Packet) -> String {
    let chain = &culprit.chain;
    let (l4, dst) = match (p.proto, p.family) {
        (17, Family::V4) => (format!("udp dport {}", p.dport.unwrap_or(0)), format!("ip daddr {} ", p.daddrs[0])),
        (17, Family::V6) => (format!("udp dport {}", p.dport.unwrap_or(0)), format!("ip6 daddr {} ", p.daddrs[0])),
        (2, _) => ("meta l4proto igmp".to_string(), String::new()),
        _ => (
            "icmpv6 type { mld-listener-query, mld-listener-report, mld-listener-done, mld2-listener-report }"
                .to_string(),
            String::new(),
        ),
    };
    let daddr = p.daddrs.first().map(|a| a.to_string()).unwrap_or_default();
    match &chain.owner {
        Owner::Nft { family, table } => {
            let accept = format!("{dst}{l4} accept");
            match &culprit.rule {
                Some(r) => format!(
                    "nft insert rule {family} {table} {} position {} {accept} (or remove the rule: nft delete rule \
                     {family} {table} {} handle {})",
                    chain.name, r.position, chain.name, r.position
                ),
                None => format!("nft add rule {family} {table} {} {accept}", chain.name),
            }
        }
        Owner::Iptables { table, v6 } => {
            let tool = if *v6 { "ip6tables" } else { "iptables" };
            let spec = match p.proto {
                17 => format!("-d {daddr} -p udp --dport {}", p.dport.unwrap_or(0)),
                2 => "-p igmp".to_string(),
                _ => "-p ipv6-icmp --icmpv6-type 130 (and 131, 132, 143)".to_string(),
            };
            let delete = match &culprit.rule {
                Some(r) => format!(" (or remove the rule: {tool} -t {table} -D {} {})", chain.name, r.position),
                None => String::new(),
            };
            format!("{tool} -t {table} -I {} {spec} -j ACCEPT{delete}", chain.name)
        }
    }
}

/// One line naming what drops `p` (or, not `certain`, may drop it): "nftables inet t input handle 4
/// `udp dport 5000 drop` drops UDP to 239.1.2.3:5000".
pub fn describe_drop(culprit: &Culprit, p: &Packet, certain: bool) -> String {
    let chain = &culprit.chain;
    let which = match (&culprit.rule, &chain.owner) {
        (Some(r), Owner::Nft { .. }) => format!("{} handle {} `{}`", chain.describe(), r.position, r.text),
        (Some(r), Owner::Iptables { .. }) => format!("{} rule {} `{}`", chain.describe(), r.position, r.text),
        (None, _) => format!("{} policy drop (no rule accepts it first)", chain.describe()),
    };
    let verb = if certain { "drops" } else { "may drop" };
    format!("{which} {verb} {}", p.what)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp(port: u16) -> Packet {
        Packet {
            what: format!("UDP to 239.1.2.3:{port}"),
            family: Family::V4,
            proto: 17,
            dport: Some(port),
            daddrs: vec!["239.1.2.3".parse().unwrap()],
            icmp6_types: vec![],
            iface: Some("veth0".into()),
            inbound: true,
        }
    }

    fn chain(hook: Option<Hook>, policy: Verdict, rules: Vec<(Vec<Match>, Verdict)>) -> Chain {
        Chain {
            owner: Owner::Nft { family: "inet".into(), table: "t".into() },
            name: if hook.is_some() { "input".into() } else { "sub".into() },
            hook,
            policy,
            rules: rules
                .into_iter()
                .enumerate()
                .map(|(i, (matches, verdict))| Rule { matches, verdict, text: format!("r{i}"), position: i as u64 + 1 })
                .collect(),
        }
    }

    fn judge(chains: Vec<Chain>, p: &Packet) -> Outcome {
        Ruleset { chains }.judge(p)
    }

    #[test]
    fn certain_drops_and_accepts() {
        let drop_port =
            vec![(vec![Match::Proto(vec![17], false), Match::DPort(vec![(5000, 5000)], false)], Verdict::Drop)];
        let c = chain(Some(Hook::Input), Verdict::Accept, drop_port);
        assert!(
            matches!(judge(vec![c.clone()], &udp(5000)), Outcome::Drop(k) if k.rule.as_ref().unwrap().position == 1)
        );
        assert_eq!(judge(vec![c], &udp(5001)), Outcome::Accept);
        let policy = chain(Some(Hook::Input), Verdict::Drop, vec![]);
        assert!(matches!(judge(vec![policy], &udp(1)), Outcome::Drop(k) if k.rule.is_none()));
        let accepted_first = chain(
            Some(Hook::Input),
            Verdict::Drop,
            vec![(vec![Match::PktType(vec!["multicast".into()], false)], Verdict::Accept)],
        );
        assert_eq!(judge(vec![accepted_first], &udp(1)), Outcome::Accept);
    }

    #[test]
    fn unknown_matches_make_maybes_and_negation_inverts() {
        let c = chain(Some(Hook::Input), Verdict::Accept, vec![(vec![Match::Unknown], Verdict::Drop)]);
        assert!(matches!(judge(vec![c], &udp(1)), Outcome::MaybeDrop(_)));
        let c = chain(
            Some(Hook::Input),
            Verdict::Accept,
            vec![(vec![Match::DPort(vec![(22, 22)], true)], Verdict::Reject)],
        );
        assert!(matches!(judge(vec![c], &udp(5000)), Outcome::Drop(_)));
        let ct = chain(
            Some(Hook::Input),
            Verdict::Accept,
            vec![(vec![Match::CtState(vec!["invalid".into()], false)], Verdict::Drop)],
        );
        assert_eq!(judge(vec![ct], &udp(1)), Outcome::Accept, "ct state invalid never holds for a new stream");
    }

    #[test]
    fn jumps_are_followed() {
        let sub = chain(
            None,
            Verdict::Accept,
            vec![(vec![Match::DAddr(vec![("239.0.0.0".parse().unwrap(), 8)], false)], Verdict::Drop)],
        );
        let base = chain(Some(Hook::Input), Verdict::Accept, vec![(vec![], Verdict::Jump("sub".into()))]);
        let out = judge(vec![sub, base], &udp(1));
        assert!(matches!(&out, Outcome::Drop(k) if k.chain.name == "sub"), "{out:?}");
    }

    #[test]
    fn other_families_hooks_and_directions_do_not_apply() {
        let mut c = chain(Some(Hook::Input), Verdict::Drop, vec![]);
        c.owner = Owner::Nft { family: "ip6".into(), table: "t".into() };
        assert_eq!(judge(vec![c.clone()], &udp(1)), Outcome::Accept);
        c.owner = Owner::Nft { family: "ip".into(), table: "t".into() };
        c.hook = Some(Hook::Output);
        assert_eq!(judge(vec![c], &udp(1)), Outcome::Accept);
        let oif = chain(
            Some(Hook::Input),
            Verdict::Accept,
            vec![(vec![Match::OIf(vec!["veth0".into()], false)], Verdict::Drop)],
        );
        assert_eq!(judge(vec![oif], &udp(1)), Outcome::Accept);
        let iif = chain(
            Some(Hook::Input),
            Verdict::Accept,
            vec![(vec![Match::IIf(vec!["veth+".into()], false)], Verdict::Drop)],
        );
        assert!(matches!(judge(vec![iif], &udp(1)), Outcome::Drop(_)));
    }

    #[test]
    fn fixes_name_the_tool_and_position() {
        let c = chain(Some(Hook::Input), Verdict::Accept, vec![(vec![], Verdict::Drop)]);
        let Outcome::Drop(k) = judge(vec![c], &udp(5000)) else { panic!() };
        let fix = fix_for(&k, &udp(5000));
        assert!(
            fix.starts_with("nft insert rule inet t input position 1 ip daddr 239.1.2.3 udp dport 5000 accept"),
            "{fix}"
        );
        let mut ipt = k.clone();
        ipt.chain.owner = Owner::Iptables { table: "filter".into(), v6: false };
        ipt.chain.name = "INPUT".into();
        let fix = fix_for(&ipt, &udp(5000));
        assert!(fix.starts_with("iptables -t filter -I INPUT -d 239.1.2.3 -p udp --dport 5000 -j ACCEPT"), "{fix}");
        assert!(describe_drop(&ipt, &udp(5000), true).contains("iptables filter INPUT rule 1"));
    }
}
