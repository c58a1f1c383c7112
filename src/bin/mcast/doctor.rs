//! `mcast doctor`: why multicast does not work here, one finding a line, each with its fix.

use std::net::IpAddr;

use mcast::doctor::{diagnose, Finding, Options, Report, Setting, Status};
use mcast::multi::parse_group_list;

use crate::args::{self, Fail, Opt};
use crate::output::{self, array, Json, Out};
use crate::tools;
use crate::vocab;

pub const SUMMARY: &str = "check what can stop multicast on this host, and say how to fix it";

pub const HELP: &str = r#"mcast doctor: check what can stop multicast here, and say how to fix each thing found

Usage: mcast doctor [GROUP:PORT[,...]] [--iface IFACE] [--source ADDR] [--ttl N] [OPTIONS]

Checks, in the order a datagram meets them (each line: ok, warn, fail or skip, what was found, the fix):
  interface     exists, is UP, has a carrier and the MULTICAST flag
  route         which interface the kernel's route picks for the group (and whether it is the one named)
  rp_filter     strict reverse-path filtering drops senders routed back by another interface (--source)
  igmp-version  IGMP/MLD forced to an old version, or an old querier heard: no source-specific joins
  memberships   net.ipv4.igmp_max_memberships (joins per socket; ENOBUFS past it), net.core.optmem_max
  firewall      nftables / iptables rules (read only) that drop the group's UDP port, IGMP or MLD
  scope         the group's scope against the TTL: 224.0.0.x never routed, 239/8 site-bounded, ff02:: needs
                an interface
  mac           other joined groups that share the group's Ethernet MAC (32 IPv4 groups share each)
  querier       an IGMP/MLD query heard within --querier-wait (needs CAP_NET_RAW, else skipped); on an
                IGMPv3 host the check drops one source of a probe join (239.255.0.2), which a querier
                answers at once; an IGMPv1/v2 mode of the host also proves a querier
  pim           the PIM routers whose hellos (224.0.0.13) are heard in the same window, and the DR
  loop          a datagram sent at TTL 0 with loop on comes back to a member (it never leaves the host)

Without a group, 239.255.0.1 stands in (no port: the firewall check then looks at IGMP only). A list or
range (239.1.1.1-239.1.1.50:5000) counts for the membership limit; the other checks use the first group.

Options:
{options}

Exit status: 0 nothing failed (warnings allowed), 1 a check failed, 2 bad arguments.

Examples:
  mcast doctor 239.1.2.3:5000 --iface eth0
  mcast doctor 232.1.1.1:5000 --iface eth0 --source 10.0.0.5
  mcast doctor [ff02::1234]:5000 --iface eth0 --json
"#;

pub const OPTS: &[Opt] = &[
    vocab::IFACE.help("the interface you mean (name, index or address); default: the route's choice"),
    vocab::SOURCE.help("the sender's address, for the reverse-path check"),
    vocab::TTL.help("the TTL (hop limit) senders use, 0..=255 (default 1)"),
    Opt::value("--querier-wait", "SECS", "how long to listen for a querier and PIM hellos (default 2; 0 skips both; 130 covers a whole default query interval, 35 a PIM hello period)"),
    Opt::flag("--no-loop", "skip the loop test"),
    vocab::JSON.help("one JSON object: group, iface, failed, findings [{check, status, summary, fix}]"),
];

const USAGE: &str = "mcast doctor [GROUP:PORT] [--iface IFACE] [--source ADDR] [--ttl N] [--json]";

pub fn run(words: &[String]) -> Result<(), Fail> {
    let Some(m) = args::command_line(words, OPTS, HELP)? else { return Ok(()) };
    let pos = m.positionals(0, 1, "", USAGE)?;
    let groups = match pos.first() {
        Some(text) => parse_group_list(text, Some(0)).map_err(Fail::from)?,
        None => Vec::new(),
    };
    let source: Option<IpAddr> = m.parsed("--source")?;
    if let (Some(s), Some(g)) = (source, groups.first()) {
        if s.is_ipv4() != g.ip().is_ipv4() {
            return Err(Fail::usage(format!("--source {s} is not of the family of {g}")));
        }
    }
    let defaults = Options::default();
    let opts = Options {
        groups,
        iface: m.parsed("--iface")?,
        source,
        ttl: tools::ttl(&m)?.unwrap_or(defaults.ttl),
        querier_wait: m.seconds("--querier-wait")?.unwrap_or(defaults.querier_wait),
        loop_test: !m.flag("--no-loop"),
    };
    let report = diagnose(&opts);
    let mut out = Out::new();
    if m.flag("--json") {
        out.line(&json(&report))?;
    } else {
        out.text(&text(&report))?;
    }
    if report.failed() {
        return Err(Fail::Quiet);
    }
    Ok(())
}

fn json(r: &Report) -> String {
    let findings = r.findings.iter().map(|f: &Finding| {
        Json::new()
            .str("check", f.check)
            .str("status", &f.status.to_string())
            .str("summary", &summary(f))
            .opt_str("fix", fix(f).as_deref())
            .finish()
    });
    Json::new()
        .str("type", "report")
        .group(r.group)
        .opt_str("iface", r.iface.as_ref().map(|i| i.name.as_str()))
        .bool("failed", r.failed())
        .raw("findings", &array(findings))
        .finish()
}

/// This command's option for what a finding is about: the library says "name the interface", the command says
/// which flag does it.
fn flag(setting: Setting) -> Option<&'static str> {
    match setting {
        Setting::Interface => Some("--iface IFACE"),
        Setting::Source => Some("--source ADDR"),
        Setting::Ttl => Some("--ttl N"),
        _ => None,
    }
}

/// The finding's summary, with the flag when there is no fix to carry it.
fn summary(f: &Finding) -> String {
    match (f.setting.and_then(flag), &f.fix) {
        (Some(flag), None) => format!("{} (mcast: {flag})", f.summary),
        _ => f.summary.clone(),
    }
}

/// The finding's fix, with the flag that makes it.
fn fix(f: &Finding) -> Option<String> {
    let fix = f.fix.as_ref()?;
    Some(match f.setting.and_then(flag) {
        Some(flag) => format!("{fix} (mcast: {flag})"),
        None => fix.clone(),
    })
}

fn text(r: &Report) -> String {
    const INDENT: usize = 19;
    let mut s = String::new();
    for f in &r.findings {
        s.push_str(&format!("{:<4}  {:<12} {}\n", f.status, f.check, output::wrap(&summary(f), INDENT, 110)));
        if let Some(fix) = fix(f) {
            s.push_str(&format!("{:INDENT$}fix: {}\n", "", output::wrap(&fix, INDENT + 5, 110)));
        }
    }
    let count = |st: Status| r.findings.iter().filter(|f| f.status == st).count();
    s.push_str(&format!(
        "{} ok, {} warn, {} fail, {} skip",
        count(Status::Ok),
        count(Status::Warn),
        count(Status::Fail),
        count(Status::Skip)
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            group: "239.1.2.3:5000".parse().unwrap(),
            iface: None,
            findings: vec![
                Finding::new("interface", Status::Fail, "x0 is down").fix("ip link set x0 up"),
                Finding::new("scope", Status::Ok, "fine"),
            ],
        }
    }

    #[test]
    fn text_puts_fixes_under_findings_and_counts() {
        let t = text(&report());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "fail  interface    x0 is down");
        assert_eq!(lines[1], "                   fix: ip link set x0 up");
        assert_eq!(lines[2], "ok    scope        fine");
        assert_eq!(lines[3], "1 ok, 0 warn, 1 fail, 0 skip");
    }

    #[test]
    fn json_is_one_object() {
        let j = json(&report());
        assert!(j.starts_with(r#"{"type":"report","group":"239.1.2.3","port":5000,"iface":null,"failed":true,"findings":[{"check":"interface","status":"fail","summary":"x0 is down","fix":"ip link set x0 up"}"#), "{j}");
        assert!(j.ends_with(r#"{"check":"scope","status":"ok","summary":"fine","fix":null}]}"#), "{j}");
    }

    #[test]
    fn a_finding_about_a_program_setting_names_this_commands_flag() {
        let r = Report {
            group: "[ff02::1]:5000".parse().unwrap(),
            iface: None,
            findings: vec![
                Finding::new("scope", Status::Fail, "no interface")
                    .fix("name the interface")
                    .setting(Setting::Interface),
                Finding::new("scope", Status::Ok, "SSM: receivers name the sender").setting(Setting::Source),
            ],
        };
        let t = text(&r);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[1], "                   fix: name the interface (mcast: --iface IFACE)");
        assert_eq!(lines[2], "ok    scope        SSM: receivers name the sender (mcast: --source ADDR)");
        let j = json(&r);
        assert!(j.contains(r#""fix":"name the interface (mcast: --iface IFACE)""#), "{j}");
    }
}
