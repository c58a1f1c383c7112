//! How `watch` and `query` write what they hear: a change of the table, a query, a malformed message, as a text
//! line or a JSON object.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::SystemTime;

use mcast::raw::Heard;
use mcast::wire::{Entry, Event, Key, MEMBERSHIP_INTERVAL};
use mcast::Interface;

use crate::output::{self, Json};

/// Interface names by index, for output.
pub struct Names(BTreeMap<u32, String>);

impl Names {
    pub fn of(ifaces: &[Interface]) -> Names {
        Names(ifaces.iter().map(|i| (i.index, i.name.clone())).collect())
    }

    pub fn name(&self, index: Option<u32>) -> String {
        match index {
            Some(i) => self.0.get(&i).cloned().unwrap_or_else(|| format!("#{i}")),
            None => "?".into(),
        }
    }
}

/// Sources as `{a, b}`.
pub fn sources_text<'a>(sources: impl IntoIterator<Item = &'a IpAddr>) -> String {
    let list: Vec<String> = sources.into_iter().map(IpAddr::to_string).collect();
    format!("{{{}}}", list.join(", "))
}

pub fn state_text(e: &Entry) -> String {
    // `...`: more were reported than the table keeps per group.
    let more = e.sources_capped.then(|| "...".to_string());
    let list: Vec<String> = e.sources.iter().map(IpAddr::to_string).chain(more).collect();
    format!("{} {} {{{}}}", e.protocol, e.mode, list.join(", "))
}

pub fn state_json(j: Json, e: &Entry) -> Json {
    j.str("protocol", &e.protocol.to_string())
        .int("version", e.protocol.number())
        .str("mode", &e.mode.to_string())
        .strs("sources", e.sources.iter().map(IpAddr::to_string))
        .bool("sources_capped", e.sources_capped)
}

fn was_json(e: &Entry) -> String {
    state_json(Json::new(), e).str("reporter", &e.reporter.to_string()).finish()
}

fn keyed(kind: &str, key: &Key, names: &Names) -> Json {
    Json::new()
        .str("type", kind)
        .float("time", output::unix_seconds(SystemTime::now()))
        .str("iface", &names.name(Some(key.iface)))
        .int("ifindex", key.iface)
        .str("group", &key.group.to_string())
}

/// A change of the table as one line.
pub fn event_line(e: &Event, names: &Names, json: bool) -> String {
    let key = e.key();
    if json {
        return match e {
            Event::Joined { entry, .. } => {
                state_json(keyed("join", &key, names), entry).str("reporter", &entry.reporter.to_string()).finish()
            }
            Event::Changed { old, new, .. } => state_json(keyed("change", &key, names), new)
                .str("reporter", &new.reporter.to_string())
                .raw("was", &was_json(old))
                .finish(),
            Event::Left { by, entry, .. } => keyed("leave", &key, names)
                .str("by", &by.to_string())
                .bool("known", true)
                .raw("was", &was_json(entry))
                .finish(),
            Event::Expired { entry, .. } => state_json(keyed("expire", &key, names), entry)
                .str("reporter", &entry.reporter.to_string())
                .int("after", MEMBERSHIP_INTERVAL.as_secs())
                .finish(),
            Event::Evicted { entry, .. } => state_json(keyed("evict", &key, names), entry)
                .str("reporter", &entry.reporter.to_string())
                .float("idle", entry.last_seen.elapsed().as_secs_f64())
                .finish(),
        };
    }
    let at = format!("{} {} on {}", e.kind(), key.group, names.name(Some(key.iface)));
    let line = match e {
        Event::Joined { entry, .. } => format!("{at}: {} reporter {}", state_text(entry), entry.reporter),
        Event::Changed { old, new, .. } => {
            format!("{at}: {} reporter {} (was {})", state_text(new), new.reporter, state_text(old))
        }
        Event::Left { by, entry, .. } => format!("{at}: by {by} (was {})", state_text(entry)),
        Event::Expired { entry, .. } => format!(
            "{at}: {} reporter {}, no report for {} s",
            state_text(entry),
            entry.reporter,
            MEMBERSHIP_INTERVAL.as_secs()
        ),
        Event::Evicted { entry, .. } => format!(
            "{at}: {} reporter {}, forgotten for a new group: the table was full and it was the least recently \
             reported",
            state_text(entry),
            entry.reporter
        ),
    };
    format!("{} {line}", output::time_of_day(SystemTime::now()))
}

/// A leave of a group the table does not know.
pub fn unknown_leave_line(old_reports: &str, group: IpAddr, heard: &Heard, names: &Names, json: bool) -> String {
    let iface = names.name(heard.ifindex);
    if json {
        return Json::new()
            .str("type", "leave")
            .float("time", output::unix_seconds(SystemTime::now()))
            .str("iface", &iface)
            .opt_int("ifindex", heard.ifindex)
            .str("group", &group.to_string())
            .str("by", &heard.source.to_string())
            .bool("known", false)
            .finish();
    }
    format!(
        "{} leave {group} on {iface}: by {}, a group not in the table ({} reports go to the group itself, \
         which only --mrouter hears)",
        output::time_of_day(SystemTime::now()),
        heard.source,
        old_reports
    )
}

/// A query heard, or a message that is not valid, as one line; `None` for other messages.
pub fn message_line(heard: &Heard, names: &Names, json: bool) -> Option<String> {
    let iface = names.name(heard.ifindex);
    let now = output::unix_seconds(SystemTime::now());
    match &heard.message {
        Err(error) => Some(if json {
            Json::new()
                .str("type", "malformed")
                .float("time", now)
                .str("iface", &iface)
                .opt_int("ifindex", heard.ifindex)
                .str("source", &heard.source.to_string())
                .int("len", heard.bytes.len() as u64)
                .str("error", &error.to_string())
                .str("bytes_hex", &output::hex(&heard.bytes))
                .finish()
        } else {
            format!(
                "{} malformed: {} bytes from {} on {iface}: {error}",
                output::time_of_day(SystemTime::now()),
                heard.bytes.len(),
                heard.source
            )
        }),
        Ok(m) if m.is_query() => {
            let (group, max_resp) = (m.query_group(), m.max_resp_time());
            let protocol = m.protocol();
            Some(if json {
                Json::new()
                    .str("type", "query")
                    .float("time", now)
                    .str("iface", &iface)
                    .opt_int("ifindex", heard.ifindex)
                    .str("source", &heard.source.to_string())
                    .str("protocol", &protocol.to_string())
                    .int("version", protocol.number())
                    .opt_str("group", group.map(|g| g.to_string()).as_deref())
                    .opt_float("max_resp", max_resp.map(|d| d.as_secs_f64()))
                    .finish()
            } else {
                let about = group.map_or("general".to_string(), |g| format!("about {g}"));
                let resp = max_resp.map_or(String::new(), |d| format!(", max response {} s", d.as_secs_f64()));
                format!(
                    "{} query {protocol} {about} from {} on {iface}{resp}",
                    output::time_of_day(SystemTime::now()),
                    heard.source
                )
            })
        }
        Ok(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcast::raw::Message;
    use mcast::wire::{FilterMode, IgmpRepr, IgmpVersion, Ipv4Repr, Protocol};
    use std::net::Ipv4Addr;
    use std::time::Instant;

    fn names() -> Names {
        let vb = mcast::__private::interface("vb", 7, 0, 1500, vec![], vec![]);
        Names::of(&[vb])
    }

    fn entry(mode: FilterMode, sources: &[&str]) -> Entry {
        let now = Instant::now();
        Entry {
            reporter: "10.0.0.1".parse().unwrap(),
            protocol: Protocol::Igmp(IgmpVersion::V3),
            mode,
            sources: sources.iter().map(|s| s.parse().unwrap()).collect(),
            sources_capped: false,
            since: now,
            last_seen: now,
        }
    }

    fn strip_time(line: &str) -> &str {
        line.split_once(' ').map_or(line, |(_, rest)| rest)
    }

    #[test]
    fn changes_as_text_and_json() {
        let key = Key { iface: 7, group: "232.1.1.1".parse().unwrap() };
        let joined = Event::Joined { key, entry: entry(FilterMode::Include, &["10.0.0.99"]) };
        assert_eq!(
            strip_time(&event_line(&joined, &names(), false)),
            "join 232.1.1.1 on vb: IGMPv3 INCLUDE {10.0.0.99} reporter 10.0.0.1"
        );
        let j: String = event_line(&joined, &names(), true);
        assert!(j.starts_with(r#"{"type":"join","time":"#), "{j}");
        assert!(
            j.ends_with(
                r#""iface":"vb","ifindex":7,"group":"232.1.1.1","protocol":"IGMPv3","version":3,"mode":"INCLUDE","sources":["10.0.0.99"],"sources_capped":false,"reporter":"10.0.0.1"}"#
            ),
            "{j}"
        );
        let left = Event::Left { key, by: "10.0.0.1".parse().unwrap(), entry: entry(FilterMode::Exclude, &[]) };
        assert_eq!(
            strip_time(&event_line(&left, &names(), false)),
            "leave 232.1.1.1 on vb: by 10.0.0.1 (was IGMPv3 EXCLUDE {})"
        );
        assert_eq!(Names::of(&[]).name(Some(3)), "#3");
    }

    #[test]
    fn an_eviction_and_a_capped_source_list_say_so() {
        let key = Key { iface: 7, group: "232.1.1.1".parse().unwrap() };
        let mut capped = entry(FilterMode::Include, &["10.0.0.98", "10.0.0.99"]);
        capped.sources_capped = true;
        let evicted = Event::Evicted { key, entry: capped };
        assert_eq!(
            strip_time(&event_line(&evicted, &names(), false)),
            "evict 232.1.1.1 on vb: IGMPv3 INCLUDE {10.0.0.98, 10.0.0.99, ...} reporter 10.0.0.1, forgotten for a \
             new group: the table was full and it was the least recently reported"
        );
        let j = event_line(&evicted, &names(), true);
        assert!(j.starts_with(r#"{"type":"evict","time":"#), "{j}");
        assert!(
            j.contains(r#""group":"232.1.1.1","protocol":"IGMPv3","version":3,"mode":"INCLUDE","sources":["10.0.0.98","10.0.0.99"],"sources_capped":true,"reporter":"10.0.0.1","idle":"#),
            "{j}"
        );
        let mut none_kept = entry(FilterMode::Exclude, &[]);
        none_kept.sources_capped = true;
        assert_eq!(state_text(&none_kept), "IGMPv3 EXCLUDE {...}");
    }

    #[test]
    fn queries_and_malformed_messages_get_a_line_reports_none() {
        let ip = Ipv4Repr::igmp(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(224, 0, 0, 1), 8);
        let heard = |message| Heard {
            source: "10.0.0.1".parse().unwrap(),
            destination: None,
            ifindex: Some(7),
            ttl: Some(1),
            bytes: vec![0; 28],
            message,
        };
        let query = Message::Igmp {
            ip: ip.clone(),
            igmp: IgmpRepr::QueryV2 { max_resp_time: 25, group: Ipv4Addr::UNSPECIFIED },
        };
        let line = message_line(&heard(Ok(query)), &names(), false).unwrap();
        assert_eq!(strip_time(&line), "query IGMPv2 general from 10.0.0.1 on vb, max response 2.5 s");
        let bad = heard(Err(mcast::wire::Error::Truncated { need: 8, have: 4 }));
        let line = message_line(&bad, &names(), false).unwrap();
        assert_eq!(strip_time(&line), "malformed: 28 bytes from 10.0.0.1 on vb: truncated: 8 bytes needed, 4 present");
        let j = message_line(&bad, &names(), true).unwrap();
        assert!(j.contains(r#""error":"truncated: 8 bytes needed, 4 present""#), "{j}");
        let report = Message::Igmp { ip, igmp: IgmpRepr::ReportV2 { group: Ipv4Addr::new(239, 1, 2, 3) } };
        assert_eq!(message_line(&heard(Ok(report)), &names(), false), None);
    }
}
