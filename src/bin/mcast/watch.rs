//! `mcast igmp watch` and `mcast mld watch`: one engine for both families, over [`mcast::raw::Watcher`].
//!
//! Also what `query` shares with it: the protocol description ([`Proto`]), the subcommand dispatch and the
//! choice of interfaces. How each line is written is in `watch_lines`.

use std::time::{Duration, Instant};

use mcast::__private::tally::{Next, Shortfall, StopRule};
use mcast::raw::{Step, WatchTally, Watcher};
use mcast::wire::{MembershipLimits, DEFAULT_MAX_GROUPS, DEFAULT_MAX_SOURCES, MEMBERSHIP_INTERVAL};
use mcast::{Family, IfaceSpec, Interface};

use crate::args::{self, Fail, Matches, Opt};
use crate::output::Out;
use crate::tools::note;
use crate::vocab;
use crate::watch_lines::{event_line, message_line, unknown_leave_line, Names};
use crate::watch_summary::{summary_json, summary_text};

/// The protocol a command speaks, and the words its messages use.
pub struct Proto {
    pub family: Family,
    /// `igmp` or `mld`.
    pub command: &'static str,
    /// The versions a query may have, lowest and highest.
    pub versions: (u64, u64),
    pub default_version: u8,
    /// The groups a watcher joins, as text.
    pub listen: &'static str,
    /// The reports that go to the group itself.
    pub old_reports: &'static str,
    pub watch_help: &'static str,
    pub query_help: &'static str,
}

impl Proto {
    pub fn prefix(&self, sub: &str) -> String {
        format!("mcast {} {sub}", self.command)
    }

    /// `IGMP` or `MLD`.
    pub fn protocol(&self) -> &'static str {
        match self.family {
            Family::V4 => "IGMP",
            Family::V6 => "MLD",
        }
    }
}

/// `mcast igmp WORDS` / `mcast mld WORDS`: the subcommand, or the help.
pub fn dispatch(proto: &Proto, help: &str, words: &[String]) -> Result<(), Fail> {
    let Some((sub, rest)) = words.split_first() else {
        return Err(Fail::usage(format!("missing watch or query (try mcast {} --help)", proto.command)));
    };
    match sub.as_str() {
        "-h" | "--help" | "help" => Out::new().text(help),
        "watch" => run(proto, rest),
        "query" => crate::query::run(proto, rest),
        other => Err(Fail::usage(format!("unknown subcommand '{other}' (mcast {} watch|query)", proto.command))),
    }
}

pub const OPTS: &[Opt] = &[
    vocab::IFACE.help("watch this interface (name, index or address; repeatable). Default: every interface that is \
        up and multicast-capable, except lo"),
    vocab::TIME.help("stop after SECS seconds (an overall limit)").alias(&["--timeout"]),
    vocab::COUNT.help("stop after N changes (join, change, leave, expire, evict)"),
    Opt::flag("--mrouter", "become the network namespace's multicast router (MRT_INIT, MRT_ADD_VIF; the raw socket's \
        CAP_NET_RAW is enough, but no routing daemon may run there): hears the reports sent to the group itself (IGMPv1/v2, MLDv1) for any \
        routable group; forwards nothing; undone when the watch ends"),
    Opt::value("--max-groups", "N", "keep at most N groups per interface (default 4096, at most 1048576)"),
    Opt::value("--max-sources", "N", "keep at most N sources per group (default 64, at most 65535)"),
    vocab::JSON.help("one JSON object per line: {\"type\":\"join\"|\"change\"|\"leave\"|\"expire\"|\"evict\"| \
        \"query\"|\"malformed\",...}, then {\"type\":\"summary\",...} with the table, its caps (max_groups, \
        max_sources), evicted, sources_left_out and kernel_drops"),
];

/// The largest caps the options accept: a million groups per interface, every source one record can carry.
const MOST_GROUPS: u64 = 1 << 20;
const MOST_SOURCES: u64 = u16::MAX as u64;

/// Longest single wait: bounds how late a Ctrl-C is noticed.
const SLICE: Duration = Duration::from_millis(250);

/// The interfaces named with `--iface`, or every one that is up and multicast-capable except loopback.
pub fn interfaces(m: &Matches) -> Result<Vec<Interface>, Fail> {
    let named: Vec<Interface> = m
        .values("--iface")
        .map(|v| {
            let spec: IfaceSpec = v.parse().map_err(|e| Fail::usage(format!("--iface {v}: {e}")))?;
            spec.resolve().map_err(|e| Fail::usage(format!("--iface {v}: {e:#}")))
        })
        .collect::<Result<_, _>>()?;
    if !named.is_empty() {
        return Ok(named);
    }
    let all: Vec<Interface> =
        Interface::list()?.into_iter().filter(|i| i.is_up() && i.is_multicast() && !i.is_loopback()).collect();
    if all.is_empty() {
        return Err(Fail::runtime("no interface besides lo is up with MULTICAST: name one with --iface"));
    }
    Ok(all)
}

pub fn run(proto: &Proto, words: &[String]) -> Result<(), Fail> {
    let Some(m) = args::command_line(words, OPTS, proto.watch_help)? else { return Ok(()) };
    let usage = format!(
        "{} [--iface IFACE] [--json] [--time SECS] [--count N] [--mrouter] [--max-groups N] [--max-sources N]",
        proto.prefix("watch")
    );
    m.positionals(0, 0, "", &usage)?;
    let ifaces = interfaces(&m)?;
    let count = m.int_in("--count", 1, u64::MAX)?;
    let timeout = m.seconds("--time")?;
    let json = m.flag("--json");
    let groups = m.int_in("--max-groups", 1, MOST_GROUPS)?.map_or(DEFAULT_MAX_GROUPS, |n| n as usize);
    let sources = m.int_in("--max-sources", 1, MOST_SOURCES)?.map_or(DEFAULT_MAX_SOURCES, |n| n as usize);
    let limits = MembershipLimits::new(groups, sources);
    let mut watcher = Watcher::open_with_limits(proto.family, &ifaces, m.flag("--mrouter"), limits)?;
    mcast::__private::signal::catch_interrupts().map_err(|e| Fail::runtime(format!("sigaction: {e}")))?;
    let names = Names::of(watcher.interfaces());
    let on: Vec<String> = ifaces.iter().map(|i| format!("{} (#{})", i.name, i.index)).collect();
    let hint = if m.flag("--mrouter") {
        format!("as the multicast router, {} reports to routable groups too", proto.old_reports)
    } else {
        format!("{} reports to other groups are not heard (--mrouter hears them)", proto.old_reports)
    };
    note(&format!(
        "{}: watching {}: joined {}; {hint} (Ctrl-C stops)",
        proto.prefix("watch"),
        on.join(", "),
        proto.listen
    ));

    let start = Instant::now();
    let rule = StopRule::new(start, count, timeout, SLICE);
    let mut tally = WatchTally::default();
    let mut out = Out::new();
    let end = loop {
        let wait = match rule.next(tally.changes, mcast::__private::signal::interrupted(), Instant::now()) {
            Next::Wait(w) => w,
            Next::Stop(end) => break end,
        };
        let step = watcher.next(wait)?;
        let expired = watcher.expire(MEMBERSHIP_INTERVAL);
        tally.events(&expired);
        for e in &expired {
            out.line(&event_line(e, &names, json))?;
        }
        let Some(step) = step else { continue };
        tally.step(&step);
        for line in step_lines(proto, &step, &names, json) {
            out.line(&line)?;
        }
    };
    let elapsed = start.elapsed();
    if json {
        out.line(&summary_json(&tally, &watcher, &names, elapsed))?;
    } else {
        out.text(&summary_text(&tally, &watcher, &names, elapsed))?;
    }
    match rule.shortfall(end, tally.changes) {
        Some(Shortfall::Fewer { wanted }) => Err(Fail::runtime(format!(
            "timed out after {:.3} s: {} of {wanted} changes",
            elapsed.as_secs_f64(),
            tally.changes
        ))),
        _ => Ok(()),
    }
}

/// The lines one message makes: a query or malformed message, then each change it caused.
fn step_lines(proto: &Proto, step: &Step, names: &Names, json: bool) -> Vec<String> {
    if step.own {
        return vec![];
    }
    let mut lines: Vec<String> = message_line(&step.heard, names, json).into_iter().collect();
    lines.extend(step.events.iter().map(|e| event_line(e, names, json)));
    for &g in &step.unknown_leaves {
        lines.push(unknown_leave_line(proto.old_reports, g, &step.heard, names, json));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_states_the_caps_the_options_use() {
        let help_of = |name: &str| OPTS.iter().find(|o| o.long == name).map_or("", |o| o.help);
        let groups =
            format!("keep at most N groups per interface (default {DEFAULT_MAX_GROUPS}, at most {MOST_GROUPS})");
        let sources =
            format!("keep at most N sources per group (default {DEFAULT_MAX_SOURCES}, at most {MOST_SOURCES})");
        assert_eq!(help_of("--max-groups"), groups);
        assert_eq!(help_of("--max-sources"), sources);
        for help in [crate::igmp::WATCH_HELP, crate::mld::WATCH_HELP] {
            assert!(help.contains(&format!("at most {DEFAULT_MAX_GROUPS} groups per interface (--max-groups) and {DEFAULT_MAX_SOURCES} sources per\ngroup")), "{help}");
        }
    }
}
