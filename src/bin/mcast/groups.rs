//! `mcast groups`: what this host has joined, per interface, decoded from /proc/net/igmp and igmp6.

use mcast::procnet::{self, HostGroup, InterfaceGroups};
use mcast::{Family, Group};

use crate::args::{self, Fail, Opt};
use crate::output::{self, array, Json, Out};
use crate::vocab;

pub const SUMMARY: &str = "what this host has joined, per interface, with the IGMP/MLD version in force";

pub const HELP: &str = r#"mcast groups: the multicast groups this host has joined, per interface

Usage: mcast groups [--iface IFACE] [-4|-6] [--json]

One block per interface and family: its name and index, the IGMP (IPv4) or MLD (IPv6) version in force,
and each group joined on it: the address, its Ethernet MAC, how many sockets (and the kernel itself) hold
it, the sources of a source-specific join, and the group's well-known name if it has one.

Where it comes from: /proc/net/igmp and /proc/net/igmp6 (whose hex this decodes), /proc/net/mcfilter and
mcfilter6 for sources, and the force_igmp_version / force_mld_version sysctls. The IGMP version is the one
the kernel uses now: it drops to v2 or v1 for a while when it hears an older querier. MLD's is v2 unless
forced (an MLDv1 querier's effect is not shown by the kernel).

Options:
{options}

Exit status: 0 listed, 1 /proc/net/igmp could not be read, 2 bad arguments.

Examples:
  mcast groups
  mcast groups --iface eth0 -4
  mcast groups --json
"#;

pub const OPTS: &[Opt] = &[
    vocab::IFACE.help("only this interface (name or index)"),
    Opt::flag("--ipv4", "only IPv4 (IGMP)").short('4'),
    Opt::flag("--ipv6", "only IPv6 (MLD)").short('6'),
    vocab::JSON.help(
        "one JSON object per interface and family per line: index, name, family, protocol, version, forced, \
         groups [{group, mac, users, timer_running, last_reporter, sources, name}]",
    ),
];

pub fn run(words: &[String]) -> Result<(), Fail> {
    let Some(m) = args::command_line(words, OPTS, HELP)? else { return Ok(()) };
    m.positionals(0, 0, "", "mcast groups [--iface IFACE] [-4|-6] [--json]")?;
    let (four, six) = (m.flag("--ipv4"), m.flag("--ipv6"));
    let iface = match m.value("--iface") {
        Some(spec) => Some(spec.parse::<mcast::IfaceSpec>()?.resolve()?),
        None => None,
    };
    let (v4, v6) = match (four, six) {
        (true, false) => (true, false),
        (false, true) => (false, true),
        _ => (true, true),
    };
    let list: Vec<InterfaceGroups> = procnet::read()?
        .into_iter()
        .filter(|i| iface.as_ref().map_or(true, |f| f.index == i.ifindex))
        .filter(|i| match i.version.family {
            Family::V4 => v4,
            Family::V6 => v6,
        })
        .collect();
    let mut out = Out::new();
    if m.flag("--json") {
        for i in &list {
            out.line(&json(i))?;
        }
        return Ok(());
    }
    if list.is_empty() {
        return out.line("no groups joined");
    }
    out.text(&text(&list))
}

fn family_name(f: Family) -> &'static str {
    match f {
        Family::V4 => "ipv4",
        Family::V6 => "ipv6",
    }
}

fn well_known(m: &HostGroup) -> Option<&'static str> {
    Group::new(m.group, 0).ok().and_then(|g| g.well_known())
}

fn mac_of(m: &HostGroup) -> String {
    Group::new(m.group, 0).map(|g| output::mac(g.mac())).unwrap_or_default()
}

fn sources(m: &HostGroup) -> Vec<String> {
    m.sources
        .iter()
        .map(|s| match (s.include, s.exclude) {
            (i, 0) => format!("include {} ({i})", s.source),
            (0, e) => format!("exclude {} ({e})", s.source),
            (i, e) => format!("{} include {i} exclude {e}", s.source),
        })
        .collect()
}

fn json(i: &InterfaceGroups) -> String {
    let groups = i.groups.iter().map(|m| {
        let sources = m.sources.iter().map(|s| {
            Json::new()
                .str("source", &s.source.to_string())
                .int("include", s.include)
                .int("exclude", s.exclude)
                .finish()
        });
        Json::new()
            .str("group", &m.group.to_string())
            .str("mac", &mac_of(m))
            .int("users", m.users)
            .bool("timer_running", m.timer_running)
            .bool("last_reporter", m.last_reporter)
            .raw("sources", &array(sources))
            .opt_str("name", well_known(m))
            .finish()
    });
    Json::new()
        .str("type", "iface_groups")
        .int("index", i.ifindex)
        .str("name", &i.iface)
        .str("family", family_name(i.version.family))
        .str("protocol", &i.version.name())
        .int("version", i.version.version)
        .opt_int("forced", i.version.forced)
        .raw("groups", &array(groups))
        .finish()
}

fn text(list: &[InterfaceGroups]) -> String {
    let mut s = String::new();
    for i in list {
        let forced = match i.version.forced {
            Some(v) => format!(" (forced to v{v})"),
            None => String::new(),
        };
        s.push_str(&format!("{} (#{}) {}{forced}\n", i.iface, i.ifindex, i.version.name()));
        let width = i.groups.iter().map(|m| m.group.to_string().len()).max().unwrap_or(0);
        for m in &i.groups {
            let mut line = format!("  {:<width$}  {}  users {}", m.group.to_string(), mac_of(m), m.users);
            let src = sources(m);
            if !src.is_empty() {
                line.push_str(&format!("  sources: {}", src.join(", ")));
            }
            if let Some(n) = well_known(m) {
                line.push_str(&format!("  {n}"));
            }
            s.push_str(line.trim_end());
            s.push('\n');
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcast::procnet::{HostSource, ProtocolVersion};

    fn sample() -> InterfaceGroups {
        let m = |g: &str, users| HostGroup {
            ifindex: 3,
            iface: "eth1".into(),
            group: g.parse().unwrap(),
            users,
            timer_running: false,
            last_reporter: false,
            sources: vec![],
        };
        let mut ssm = m("232.1.1.1", 1);
        ssm.sources = vec![HostSource {
            ifindex: 3,
            group: ssm.group,
            source: "10.0.0.1".parse().unwrap(),
            include: 1,
            exclude: 0,
        }];
        InterfaceGroups {
            ifindex: 3,
            iface: "eth1".into(),
            version: ProtocolVersion { family: Family::V4, version: 2, forced: Some(2) },
            groups: vec![m("224.0.0.1", 1), ssm],
        }
    }

    #[test]
    fn text_shows_version_groups_macs_and_sources() {
        let t = text(&[sample()]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "eth1 (#3) IGMPv2 (forced to v2)");
        assert_eq!(lines[1], "  224.0.0.1  01:00:5e:00:00:01  users 1  all-hosts (every multicast host joins it)");
        assert_eq!(lines[2], "  232.1.1.1  01:00:5e:01:01:01  users 1  sources: include 10.0.0.1 (1)");
    }

    #[test]
    fn json_has_every_field() {
        let j = json(&sample());
        assert!(
            j.starts_with(r#"{"type":"iface_groups","index":3,"name":"eth1","family":"ipv4","protocol":"IGMPv2","version":2,"forced":2,"#),
            "{j}"
        );
        assert!(j.contains(r#""sources":[{"source":"10.0.0.1","include":1,"exclude":0}]"#), "{j}");
        assert!(j.contains(r#""group":"224.0.0.1","mac":"01:00:5e:00:00:01","users":1"#), "{j}");
    }
}
