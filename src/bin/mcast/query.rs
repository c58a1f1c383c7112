//! `mcast igmp query` and `mcast mld query`: a querier's question, sent once, and the answers heard.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant, SystemTime};

use mcast::__private::tally::{Next, StopRule};
use mcast::raw::{self, Answer, Answers, Reported, Watcher};
use mcast::{Family, Interface};

use crate::args::{self, Fail, Opt};
use crate::output::{self, array, Json, Out};
use crate::tools::note;
use crate::vocab;
use crate::watch::{self, Proto};
use crate::watch_lines::{self, sources_text, Names};

pub const OPTS: &[Opt] = &[
    Opt::value("--version", "V", "version of the query: IGMP 1, 2 or 3 (default 3), MLD 1 or 2 (default 2)"),
    Opt::value("--group", "GROUP", "ask about this group only (v2, v3)"),
    vocab::IFACE.help(
        "query on this interface (repeatable). Default: every interface that is up and \
        multicast-capable, except lo",
    ),
    Opt::value("--max-resp", "SECS", "the maximum response time the query asks for (default 10; v2: 0.1..25.5)"),
    Opt::value("--wait", "SECS", "how long to listen for answers (default: the maximum response time + 1)"),
    Opt::flag("--mrouter", "become the namespace's multicast router while waiting (see mcast igmp watch --help)"),
    vocab::JSON.help(
        "one JSON object per line: {\"type\":\"sent\",...} per query, {\"type\":\"answer\",...} per answer, \
        then {\"type\":\"summary\",...}",
    ),
];

/// The protocols' default Query Response Interval (RFC 3376 §8.3, RFC 3810 §9.3).
const MAX_RESP: Duration = Duration::from_secs(10);

/// Longest single wait: bounds how late a Ctrl-C is noticed.
const SLICE: Duration = Duration::from_millis(250);

pub fn run(proto: &Proto, words: &[String]) -> Result<(), Fail> {
    let Some(m) = args::command_line(words, OPTS, proto.query_help)? else { return Ok(()) };
    let usage = format!(
        "{} [--version V] [--group GROUP] [--iface IFACE] [--json] [--wait SECS] [--max-resp SECS] [--mrouter]",
        proto.prefix("query")
    );
    m.positionals(0, 0, "", &usage)?;
    let (lo, hi) = proto.versions;
    let ver = m.int_in("--version", lo, hi)?.map_or(proto.default_version, |v| v as u8);
    let group: Option<IpAddr> = m.parsed("--group")?;
    let max_resp = m.seconds("--max-resp")?.unwrap_or(MAX_RESP);
    let wait = m.seconds("--wait")?.unwrap_or(max_resp + Duration::from_secs(1));
    let json = m.flag("--json");
    // The query is built once before any socket is opened, so a bad value is a usage error (exit 2).
    check_query(proto.family, ver, group, max_resp)?;
    let ifaces = watch::interfaces(&m)?;

    let mut watcher = Watcher::open(proto.family, &ifaces, m.flag("--mrouter"))?;
    if let Some(g) = group {
        for i in &ifaces {
            watcher.listen(g, i.index)?;
        }
    }
    mcast::__private::signal::catch_interrupts().map_err(|e| Fail::runtime(format!("sigaction: {e}")))?;
    let names = Names::of(watcher.interfaces());
    let mut out = Out::new();
    let sent = Sent { protocol: proto.protocol(), ver, group, max_resp };
    for i in &ifaces {
        watcher.send_query(i.index, ver, group, max_resp)?;
        if json {
            out.line(&sent.json(i))?;
        }
        note(&format!("{}: {} listening {} s", proto.prefix("query"), sent.text(i), wait.as_secs_f64()));
    }

    let start = Instant::now();
    let rule = StopRule::new(start, None, Some(wait), SLICE);
    let mut answers = Answers::default();
    while let Next::Wait(left) = rule.next(0, mcast::__private::signal::interrupted(), Instant::now()) {
        let Some(step) = watcher.next(left)? else { continue };
        if step.own {
            continue;
        }
        if let Some(line) = watch_lines::message_line(&step.heard, &names, json) {
            out.line(&line)?;
        }
        for (answer, r) in answers.observe(&step.heard, |source, group| watcher.is_own(source, group)) {
            out.line(&answer_line(&answer, &r, &names, start.elapsed(), json))?;
        }
    }
    if json {
        out.line(&summary_json(&answers, &names, start.elapsed()))?;
    } else {
        out.text(&summary_text(&answers, &names))?;
    }
    if answers.is_empty() {
        return Err(Fail::runtime(format!("no answer within {} s", wait.as_secs_f64())));
    }
    Ok(())
}

/// The query sent on each interface.
struct Sent {
    protocol: &'static str,
    ver: u8,
    group: Option<IpAddr>,
    max_resp: Duration,
}

impl Sent {
    fn text(&self, i: &Interface) -> String {
        let about = self.group.map_or("general".to_string(), |g| format!("about {g}"));
        format!(
            "{}v{} query {about} sent on {} (#{}), max response {} s;",
            self.protocol,
            self.ver,
            i.name,
            i.index,
            self.max_resp.as_secs_f64()
        )
    }

    fn json(&self, i: &Interface) -> String {
        Json::new()
            .str("type", "sent")
            .float("time", output::unix_seconds(SystemTime::now()))
            .str("iface", &i.name)
            .int("ifindex", i.index)
            .str("protocol", &format!("{}v{}", self.protocol, self.ver))
            .int("version", self.ver)
            .opt_str("group", self.group.map(|g| g.to_string()).as_deref())
            .float("max_resp", self.max_resp.as_secs_f64())
            .finish()
    }
}

/// Builds the query that will be sent, to refuse a bad version, group or time before anything is opened.
fn check_query(family: Family, ver: u8, group: Option<IpAddr>, max_resp: Duration) -> Result<(), Fail> {
    let bad = |g: IpAddr, want: &str| Fail::usage(format!("--group {g}: not {want}"));
    match family {
        Family::V4 => {
            let g = match group {
                None => Ipv4Addr::UNSPECIFIED,
                Some(IpAddr::V4(g)) if g.is_multicast() => g,
                Some(g) => return Err(bad(g, "an IPv4 multicast group")),
            };
            raw::igmp_query(ver, g, max_resp)?;
        }
        Family::V6 => {
            let g = match group {
                None => Ipv6Addr::UNSPECIFIED,
                Some(IpAddr::V6(g)) if g.is_multicast() => g,
                Some(g) => return Err(bad(g, "an IPv6 multicast group")),
            };
            raw::mld_query(ver, g, max_resp)?;
        }
    }
    Ok(())
}

fn answer_line(a: &Answer, r: &Reported, names: &Names, after: Duration, json: bool) -> String {
    let iface = names.name(Some(a.ifindex));
    let record = r.record.map(|t| t.to_string());
    if json {
        return Json::new()
            .str("type", "answer")
            .float("time", output::unix_seconds(SystemTime::now()))
            .float("after", after.as_secs_f64())
            .str("iface", &iface)
            .int("ifindex", a.ifindex)
            .str("group", &a.group.to_string())
            .str("reporter", &a.reporter.to_string())
            .str("protocol", &r.protocol.to_string())
            .int("version", r.protocol.number())
            .opt_str("record", record.as_deref())
            .strs("sources", r.sources.iter().map(IpAddr::to_string))
            .finish();
    }
    let what = record.map_or("report".to_string(), |t| format!("{t} {}", sources_text(&r.sources)));
    format!(
        "{} answer {} on {iface}: {} {what} from {} after {:.3} s",
        output::time_of_day(SystemTime::now()),
        a.group,
        r.protocol,
        a.reporter,
        after.as_secs_f64()
    )
}

fn summary_text(answers: &Answers, names: &Names) -> String {
    if answers.is_empty() {
        return "no answers".into();
    }
    let mut s = format!("{} answers:\n", answers.len());
    for a in answers.iter() {
        s.push_str(&format!("  {:<8} {:<24} {}\n", names.name(Some(a.ifindex)), a.group.to_string(), a.reporter));
    }
    if answers.left_out() > 0 {
        s.push_str(&format!("  ({} more left out: at most {} answers kept)\n", answers.left_out(), answers.cap()));
    }
    s
}

fn summary_json(answers: &Answers, names: &Names, elapsed: Duration) -> String {
    let list = answers.iter().map(|a| {
        Json::new()
            .str("iface", &names.name(Some(a.ifindex)))
            .int("ifindex", a.ifindex)
            .str("group", &a.group.to_string())
            .str("reporter", &a.reporter.to_string())
            .finish()
    });
    let groups: BTreeSet<String> = answers.iter().map(|a| a.group.to_string()).collect();
    Json::new()
        .str("type", "summary")
        .int("answers", answers.len() as u64)
        .int("left_out", answers.left_out())
        .int("max_answers", answers.cap() as u64)
        .strs("groups", groups)
        .float("elapsed", elapsed.as_secs_f64())
        .raw("list", &array(list))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_the_answers_left_out() {
        use mcast::raw::{Heard, Message};
        use mcast::wire::{IgmpRepr, Ipv4Repr};
        let report = |group: [u8; 4]| {
            let (from, to) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(239, 1, 1, 1));
            let igmp = IgmpRepr::ReportV2 { group: group.into() };
            let message = Ok(Message::Igmp { ip: Ipv4Repr::igmp(from, to, 8), igmp });
            Heard { source: from.into(), destination: None, ifindex: Some(3), ttl: Some(1), bytes: vec![], message }
        };
        let mut answers = Answers::new(1);
        for g in [[239, 1, 1, 1], [239, 1, 1, 2], [239, 1, 1, 3]] {
            answers.observe(&report(g), |_, _| false);
        }
        let names = Names::of(&[]);
        assert_eq!(
            summary_text(&answers, &names),
            "1 answers:\n  #3       239.1.1.1                10.0.0.1\n  (2 more left out: at most 1 answers kept)\n"
        );
        let j = summary_json(&answers, &names, Duration::ZERO);
        assert!(
            j.starts_with(r#"{"type":"summary","answers":1,"left_out":2,"max_answers":1,"groups":["239.1.1.1"]"#),
            "{j}"
        );
        assert_eq!(summary_text(&Answers::default(), &names), "no answers");
    }

    #[test]
    fn the_help_states_the_cap_on_answers() {
        for help in [crate::igmp::QUERY_HELP, crate::mld::QUERY_HELP] {
            assert!(help.contains(&format!("At most {} answers are kept", raw::MAX_ANSWERS)), "{help}");
        }
    }
}
