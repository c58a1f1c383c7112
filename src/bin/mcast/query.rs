//! `mcast igmp query` and `mcast mld query`: a querier's question, sent once, and the answers heard.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant, SystemTime};

use mcast::raw::{self, Reported, Watcher};
use mcast::wire::RecordType;
use mcast::{Family, Interface};

use crate::args::{self, Fail, Opt};
use crate::output::{self, array, Json, Out};
use crate::watch::{self, note, Proto};
use crate::watch_lines::{self, sources_text, version, Names};

const OPTS: &[Opt] = &[
    Opt::value(&["--version"], "V"),
    Opt::value(&["--group"], "GROUP"),
    Opt::value(&["--iface", "-i"], "IFACE"),
    Opt::value(&["--max-resp"], "SECS"),
    Opt::value(&["--wait"], "SECS"),
    Opt::flag(&["--mrouter"]),
    Opt::flag(&["--json"]),
];

/// The protocols' default Query Response Interval (RFC 3376 §8.3, RFC 3810 §9.3).
const MAX_RESP: Duration = Duration::from_secs(10);

/// Longest single wait: bounds how late a Ctrl-C is noticed.
const SLICE: Duration = Duration::from_millis(250);

/// One answer: who reported which group on which interface.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Answer {
    ifindex: u32,
    group: IpAddr,
    reporter: IpAddr,
}

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
    mcast::sys::signal::catch_interrupts().map_err(|e| Fail::runtime(format!("sigaction: {e}")))?;
    let names = Names::of(watcher.interfaces());
    let mut out = Out::new();
    let protocol = match proto.family {
        Family::V4 => "IGMP",
        Family::V6 => "MLD",
    };
    let about = group.map_or("general".to_string(), |g| format!("about {g}"));
    for i in &ifaces {
        watcher.send_query(i.index, ver, group, max_resp)?;
        if json {
            out.line(&sent_json(i, protocol, ver, group, max_resp))?;
        }
        note(&format!(
            "{}: {protocol}v{ver} query {about} sent on {} (#{}), max response {} s; listening {} s",
            proto.prefix("query"),
            i.name,
            i.index,
            max_resp.as_secs_f64(),
            wait.as_secs_f64()
        ));
    }

    let start = Instant::now();
    let deadline = start + wait;
    let mut answers: BTreeSet<Answer> = BTreeSet::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
        if mcast::sys::signal::interrupted() {
            break;
        }
        let Some(step) = watcher.next(left.min(SLICE))? else { continue };
        if step.own {
            continue;
        }
        let heard = &step.heard;
        if let Some(line) = watch_lines::message_line(heard, &names, json) {
            out.line(&line)?;
        }
        let Ok(message) = &heard.message else { continue };
        // State-change records (CHANGE_TO_*, ALLOW, BLOCK) are a host's news, sent unasked; an answer to a query
        // is a current-state record (MODE_IS_*) or a v1/v2 report.
        let current =
            |r: &Reported| matches!(r.record, None | Some(RecordType::ModeIsInclude | RecordType::ModeIsExclude));
        for r in Reported::of(message).into_iter().filter(current) {
            let answer = Answer { ifindex: heard.ifindex.unwrap_or(0), group: r.group, reporter: heard.source };
            if watcher.is_own(heard.source, r.group) || answers.contains(&answer) {
                continue;
            }
            out.line(&answer_line(&answer, &r, &names, start.elapsed(), json))?;
            answers.insert(answer);
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

fn sent_json(i: &Interface, protocol: &str, ver: u8, group: Option<IpAddr>, max_resp: Duration) -> String {
    Json::new()
        .str("type", "sent")
        .float("time", output::unix_seconds(SystemTime::now()))
        .str("iface", &i.name)
        .int("ifindex", i.index)
        .str("protocol", &format!("{protocol}v{ver}"))
        .int("version", ver)
        .opt_str("group", group.map(|g| g.to_string()).as_deref())
        .float("max_resp", max_resp.as_secs_f64())
        .finish()
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
            .int("version", version(r.protocol))
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

fn summary_text(answers: &BTreeSet<Answer>, names: &Names) -> String {
    if answers.is_empty() {
        return "no answers".into();
    }
    let mut s = format!("{} answers:\n", answers.len());
    for a in answers {
        s.push_str(&format!("  {:<8} {:<24} {}\n", names.name(Some(a.ifindex)), a.group.to_string(), a.reporter));
    }
    s
}

fn summary_json(answers: &BTreeSet<Answer>, names: &Names, elapsed: Duration) -> String {
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
        .strs("groups", groups)
        .float("elapsed", elapsed.as_secs_f64())
        .raw("list", &array(list))
        .finish()
}
