//! `mcast ifaces`: the interfaces of this host (this network namespace) and whether each can multicast.

use mcast::Interface;

use crate::args::{self, Fail, Opt};
use crate::output::{Json, Out};
use crate::vocab;

pub const SUMMARY: &str = "list interfaces: index, name, flags, MTU, addresses, multicast or not";

pub const HELP: &str = r#"mcast ifaces: list the network interfaces and whether each can carry multicast

Usage: mcast ifaces [OPTIONS]

One row per interface, in index order: index, name, flags, MTU, MULTICAST (yes when IFF_MULTICAST is set:
without it a join or a send on that interface goes nowhere), IPv4 and IPv6 addresses. Any column can
name the interface for --iface: the name, the index, or one of the addresses.

Where it comes from (the seed's ioctls): names and indexes from if_nameindex(3); flags from
ioctl SIOCGIFFLAGS (IFF_UP, IFF_LOOPBACK, IFF_MULTICAST, ...); MTU from SIOCGIFMTU; IPv4 addresses from
SIOCGIFCONF, which knows no IPv6; IPv6 addresses from /proc/net/if_inet6.

Options:
{options}

Exit status: 0 listed, 1 the kernel refused to list them, 2 bad arguments.

Examples:
  mcast ifaces
  mcast ifaces --json | grep '"multicast":true'
"#;

pub const OPTS: &[Opt] = &[vocab::JSON.help(
    "one JSON object per interface per line: index, name, flags (names), up, running, loopback, \
        multicast, mtu, ipv4, ipv6",
)];

pub fn run(words: &[String]) -> Result<(), Fail> {
    let Some(m) = args::command_line(words, OPTS, HELP)? else { return Ok(()) };
    m.positionals(0, 0, "", "mcast ifaces [--json]")?;
    let list = Interface::list()?;
    let mut out = Out::new();
    if m.flag("--json") {
        for i in &list {
            out.line(&json(i))?;
        }
        return Ok(());
    }
    out.text(&table(&list))
}

fn json(i: &Interface) -> String {
    Json::new()
        .str("type", "iface")
        .int("index", i.index)
        .str("name", &i.name)
        .strs("flags", i.flag_names())
        .bool("up", i.is_up())
        .bool("running", i.is_running())
        .bool("loopback", i.is_loopback())
        .bool("multicast", i.is_multicast())
        .int("mtu", i.mtu)
        .strs("ipv4", i.ipv4.iter().map(|a| a.to_string()))
        .strs("ipv6", i.ipv6.iter().map(|a| a.to_string()))
        .finish()
}

fn table(list: &[Interface]) -> String {
    let join = |v: Vec<String>| if v.is_empty() { "-".to_string() } else { v.join(",") };
    let mut rows: Vec<[String; 7]> = vec![[
        "INDEX".into(),
        "NAME".into(),
        "MTU".into(),
        "MULTICAST".into(),
        "FLAGS".into(),
        "IPV4".into(),
        "IPV6".into(),
    ]];
    for i in list {
        rows.push([
            i.index.to_string(),
            i.name.clone(),
            i.mtu.to_string(),
            if i.is_multicast() { "yes" } else { "no" }.into(),
            i.flag_names().join(","),
            join(i.ipv4.iter().map(|a| a.to_string()).collect()),
            join(i.ipv6.iter().map(|a| a.to_string()).collect()),
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut s = String::new();
    for row in &rows {
        let mut line = String::new();
        for (col, (cell, w)) in row.iter().zip(widths).enumerate() {
            if col > 0 {
                line.push_str("  ");
            }
            line.push_str(&format!("{cell:<w$}"));
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lines_up_and_marks_multicast() {
        let flags = (libc::IFF_UP | libc::IFF_LOOPBACK) as u32;
        let lo = mcast::__private::interface("lo", 1, flags, 65536, vec!["127.0.0.1".parse().unwrap()], vec![]);
        let t = table(std::slice::from_ref(&lo));
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("INDEX  NAME  MTU    MULTICAST  FLAGS"), "{t}");
        assert!(lines[1].starts_with("1      lo    65536  no         UP,LOOPBACK  127.0.0.1  -"), "{t}");
        let j = json(&lo);
        assert!(j.contains(r#""flags":["UP","LOOPBACK"]"#) && j.contains(r#""multicast":false"#), "{j}");
    }
}
