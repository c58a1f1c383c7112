//! `mcast info ADDR`: what an address is, as a multicast group (block, scope, flags, MAC, TTL) or not.

use std::net::IpAddr;

use mcast::__private::addrinfo::{describe, parse_addr, unicast_kind, GroupFacts};
use mcast::{Group, V6Flags, MULTICAST_RANGES};

use crate::args::{self, Fail, Opt};
use crate::output::{self, Json, Out};
use crate::vocab;

pub const SUMMARY: &str = "explain an address: block, scope, flags, Ethernet MAC, TTL advice";

pub const HELP: &str = r#"mcast info: explain an IP address as a multicast group

Usage: mcast info ADDR [OPTIONS]

For a multicast address: its family, IANA block (IPv4, RFC 5771) or flags and scope (IPv6, RFC 4291),
its well-known name, whether it is source-specific (232.0.0.0/8, ff3x::/96: receivers must name the
source), whether routers ever forward it, the Ethernet MAC it maps to (01:00:5e + the low 23 bits for
IPv4, 33:33 + the low 32 bits for IPv6) and, for IPv4, the 31 other groups that share that MAC (a NIC
filter that lets one in lets all 32 in), and the TTL or hop limit to send it with (the seed's thresholds:
0 host, 1 link, 32 site, 64 region, 128 continent, 255 unrestricted).

For any other address it says what the address is and which ranges are multicast, and exits 1.

ADDR may carry a port or zone: 239.1.2.3, 239.1.2.3:5000, ff02::fb, [ff02::fb%eth0]:5353.

Options:
{options}

Exit status: 0 ADDR is multicast, 1 it is not (explained all the same), 2 ADDR is not an address.

Examples:
  mcast info 224.0.0.251          mDNS: link-local, never forwarded, 01:00:5e:00:00:fb
  mcast info 239.1.2.3 --json
  mcast info ff3e::8000:1         an IPv6 source-specific group
"#;

pub const OPTS: &[Opt] = &[vocab::JSON.help(
    "one JSON object with the same facts (address, family, multicast, block, scope, flags, \
        well_known, source_specific, never_forwarded, mac, mac_shared_with, ttl, ttl_advice)",
)];

pub fn run(words: &[String]) -> Result<(), Fail> {
    let Some(m) = args::command_line(words, OPTS, HELP)? else { return Ok(()) };
    let pos = m.positionals(1, 1, "ADDR", "mcast info ADDR [--json]")?;
    let ip = parse_addr(&pos[0]).ok_or_else(|| {
        Fail::usage(format!("'{}' is not an IP address (e.g. 239.1.2.3, ff02::fb, [ff15::1]:5000)", pos[0]))
    })?;
    let json = m.flag("--json");
    let mut out = Out::new();
    let Ok(group) = Group::new(ip, 0) else {
        out.text(&if json { unicast_json(ip) } else { unicast_text(ip) })?;
        return Err(Fail::Quiet);
    };
    let facts = describe(group);
    out.text(&if json { facts_json(&facts) } else { facts_text(&facts) })
}

/// The IPv6 flags, named: "P: based on a unicast prefix (RFC 3306); T: transient, assigned locally".
fn flags_text(f: V6Flags) -> String {
    let mut names = Vec::new();
    if f.rendezvous_point {
        names.push("R: embeds its rendezvous point (RFC 3956)");
    }
    if f.prefix_based {
        names.push("P: based on a unicast prefix (RFC 3306)");
    }
    if f.transient {
        names.push("T: transient, assigned locally");
    }
    if names.is_empty() {
        "none: permanent, assigned by IANA".to_string()
    } else {
        names.join("; ")
    }
}

fn facts_text(f: &GroupFacts) -> String {
    let ip = f.group.ip();
    let family = if f.group.is_ipv6() { "IPv6" } else { "IPv4" };
    let mut rows: Vec<(&str, String)> =
        vec![("address", ip.to_string()), ("family", family.to_string()), ("multicast", "yes".to_string())];
    if let Some(b) = f.block {
        rows.push(("block", b.to_string()));
    }
    if let Some(flags) = f.flags {
        rows.push(("flags", flags_text(flags)));
    }
    let scope = match f.scope_nibble {
        Some(n) => format!("{} (scope nibble {n:x})", f.scope),
        None => f.scope.to_string(),
    };
    rows.push(("scope", scope));
    rows.push(("well-known", f.well_known.unwrap_or("-").to_string()));
    rows.push((
        "source-specific",
        if f.source_specific {
            "yes: receivers must name the source (mcast recv --source; MCAST_JOIN_SOURCE_GROUP)".into()
        } else {
            "no: any-source; receivers join the group from every sender".into()
        },
    ));
    rows.push((
        "forwarding",
        if f.never_forwarded {
            "never forwarded by routers, whatever the TTL: it stays on one link (or one interface)".into()
        } else {
            "routers may forward it, as far as its TTL and scope boundaries allow".into()
        },
    ));
    rows.push(("ethernet mac", output::mac(f.mac)));
    rows.push(("mac shared with", mac_sharing(f)));
    rows.push(("ttl advice", format!("{}: {}", f.ttl.ttl, f.ttl.why)));
    rows.push(("thresholds", "0 host, 1 link, 32 site, 64 region, 128 continent, 255 unrestricted".into()));
    let mut s = String::new();
    for (k, v) in rows {
        s.push_str(&format!("{k:<16} {}\n", output::wrap(&v, 17, 104)));
    }
    s
}

/// The 32 groups of one MAC, summarised: `224-239.{1,129}.2.3`.
fn mac_sharing(f: &GroupFacts) -> String {
    match f.group.ip() {
        IpAddr::V4(v4) => {
            let [_, b, c, d] = v4.octets();
            let (lo, hi) = (b & 0x7f, b | 0x80);
            let first = f.mac_aliases.first().map(|a| a.to_string()).unwrap_or_default();
            let last = f.mac_aliases.last().map(|a| a.to_string()).unwrap_or_default();
            format!(
                "{} other groups, 224-239.{{{lo},{hi}}}.{c}.{d} ({first} ... {last}): the MAC keeps only the \
                 low 23 of the 28 group bits, so a NIC that lets one in lets all 32 in",
                f.mac_aliases.len()
            )
        }
        IpAddr::V6(_) => {
            "every IPv6 group with the same low 32 bits (33:33 + those bits): 2^88 groups per MAC".to_string()
        }
    }
}

fn facts_json(f: &GroupFacts) -> String {
    let flags = f.flags.map(|f| {
        Json::new()
            .bool("rendezvous_point", f.rendezvous_point)
            .bool("prefix_based", f.prefix_based)
            .bool("transient", f.transient)
            .finish()
    });
    Json::new()
        .str("type", "address")
        .str("address", &f.group.ip().to_string())
        .str("family", if f.group.is_ipv6() { "ipv6" } else { "ipv4" })
        .bool("multicast", true)
        .opt_str("block", f.block.map(|b| b.to_string()).as_deref())
        .str("scope", &f.scope.to_string())
        .raw("flags", flags.as_deref().unwrap_or("null"))
        .opt_str("well_known", f.well_known)
        .bool("source_specific", f.source_specific)
        .bool("never_forwarded", f.never_forwarded)
        .str("mac", &output::mac(f.mac))
        .strs("mac_shared_with", f.mac_aliases.iter().map(|a| a.to_string()))
        .int("ttl", f.ttl.ttl)
        .str("ttl_advice", &f.ttl.why)
        .finish()
}

fn unicast_text(ip: IpAddr) -> String {
    format!("{ip} is not a multicast address: it is {}.\nMulticast groups: {MULTICAST_RANGES}.\n", unicast_kind(ip))
}

fn unicast_json(ip: IpAddr) -> String {
    Json::new()
        .str("type", "address")
        .str("address", &ip.to_string())
        .str("family", if ip.is_ipv6() { "ipv6" } else { "ipv4" })
        .bool("multicast", false)
        .str("kind", unicast_kind(ip))
        .str("multicast_ranges", MULTICAST_RANGES)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_facts_are_explained() {
        let f = describe(Group::parse_address("239.1.2.3").unwrap());
        assert!(mac_sharing(&f).contains("224-239.{1,129}.2.3"), "{}", mac_sharing(&f));
        let t = facts_text(&f);
        assert!(t.contains("Administratively Scoped Block"), "{t}");
        assert!(unicast_text("10.0.0.1".parse().unwrap()).contains("224.0.0.0/4"));
    }
}
