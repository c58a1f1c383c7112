//! The words of `mcast recv` with many groups: which groups they name, and which `--source`s go with each
//! (`--source` after a group argument applies to it alone, before any group to all).

use std::net::IpAddr;

use mcast::multi::{add_subscriptions, is_range, parse_group_list, Subscription, MAX_GROUPS};
use mcast::ErrorKind;

use crate::args::{self, Fail, Parsed};
use crate::recv::OPTS;

/// Whether these words (after `recv`) ask for more than one group: then the many-group mode (`recv_groups`)
/// serves them.
pub fn wanted(words: &[String]) -> bool {
    // Binding each group to its own socket, or one reader for all, is the many-group receiver's layout, for one
    // group too.
    if matches!(args::parse(words, OPTS), Ok(Parsed::Run(m)) if m.flag("--bind-group") || m.flag("--one-reader")) {
        return true;
    }
    let items = scan(words).map(|(items, _)| items).unwrap_or_default();
    let many = items.len() > 1
        || items.first().is_some_and(|(g, _)| {
            parse_group_list(g, None).map(|l| l.len() > 1).unwrap_or(g.contains(',') || is_range(g))
        });
    many
}

/// The group arguments in order, each with the `--source`s that follow it, and the `--source`s given
/// before any group.
type Items = (Vec<(String, Vec<String>)>, Vec<String>);

fn scan(words: &[String]) -> Option<Items> {
    let Ok(Parsed::Run(m)) = args::parse(words, OPTS) else { return None };
    let mut items: Vec<(String, Vec<String>)> = m.positionals.iter().map(|g| (g.clone(), Vec::new())).collect();
    let mut global = Vec::new();
    for (before, v) in m.placed("--source") {
        match before.checked_sub(1).and_then(|i| items.get_mut(i)) {
            Some((_, sources)) => sources.push(v.to_string()),
            None => global.push(v.to_string()),
        }
    }
    Some((items, global))
}

fn parse_source(v: &str) -> Result<IpAddr, Fail> {
    v.parse().map_err(|_| Fail::usage(format!("--source {v}: not an IPv4 or IPv6 address")))
}

/// Every (group, source) the words ask for.
pub fn subscriptions(words: &[String]) -> Result<Vec<Subscription>, Fail> {
    let (items, global) = scan(words).ok_or_else(|| Fail::usage("--source: missing value (--source ADDR)"))?;
    if items.is_empty() {
        return Err(Fail::usage("missing GROUP:PORT (usage: mcast recv GROUP:PORT[,GROUP:PORT...] [OPTIONS])"));
    }
    let global: Vec<IpAddr> = global.iter().map(|s| parse_source(s)).collect::<Result<_, _>>()?;
    let mut subs = Vec::new();
    for (text, own) in &items {
        let groups = parse_group_list(text, None)?;
        let own: Vec<IpAddr> = own.iter().map(|s| parse_source(s)).collect::<Result<_, _>>()?;
        let sources = if own.is_empty() { &global } else { &own };
        // Each argument is capped by itself; the arguments and their sources together are capped here, before
        // the subscriptions grow.
        add_subscriptions(&mut subs, &groups, sources).map_err(|e| match e.kind() {
            ErrorKind::TooMany => Fail::usage(format!(
                "more than {MAX_GROUPS} groups in all (counting each group once per --source): give fewer"
            )),
            // "source 10.0.0.1 is not of the family of [ff15::1]:5000", of the option that gave it.
            _ => Fail::usage(format!("--{e}")),
        })?;
    }
    Ok(subs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn many_groups_select_this_mode() {
        assert!(wanted(&w(&["239.1.1.1-239.1.1.3:5000"])));
        assert!(wanted(&w(&["239.1.1.1:5000,239.1.1.2:5000"])));
        assert!(wanted(&w(&["239.1.1.1:5000", "239.1.1.2:5000", "--iface", "lo"])));
        assert!(!wanted(&w(&["239.1.1.1:5000", "--interval", "2"])), "one group keeps its own mode");
        assert!(!wanted(&w(&["239.1.1.1:5000", "--iface", "lo", "--source", "10.0.0.1"])));
        assert!(!wanted(&w(&["[ff02::1%lo]:5000", "--count", "3"])));
    }

    #[test]
    fn sources_bind_to_the_group_before_them() {
        let subs = subscriptions(&w(&[
            "--source",
            "10.0.0.9",
            "232.1.1.1-232.1.1.2:5000",
            "232.2.2.2:5000",
            "--source",
            "10.0.0.1",
            "--source=10.0.0.2",
            "--iface",
            "lo",
            "239.1.1.1:5000",
        ]))
        .unwrap();
        let pairs: Vec<(String, Option<String>)> =
            subs.iter().map(|s| (s.group.to_string(), s.source.map(|a| a.to_string()))).collect();
        let want = |g: &str, s: &str| (g.to_string(), Some(s.to_string()));
        assert_eq!(
            pairs,
            [
                want("232.1.1.1:5000", "10.0.0.9"),
                want("232.1.1.2:5000", "10.0.0.9"),
                want("232.2.2.2:5000", "10.0.0.1"),
                want("232.2.2.2:5000", "10.0.0.2"),
                want("239.1.1.1:5000", "10.0.0.9"),
            ]
        );
        assert!(matches!(subscriptions(&w(&["239.1.1.1:5000", "--source", "::1"])), Err(Fail::Usage(_))));
        assert!(matches!(subscriptions(&w(&["239.1.1.1:5000", "--source"])), Err(Fail::Usage(_))));
        assert!(matches!(subscriptions(&w(&["--iface", "lo"])), Err(Fail::Usage(_))));
    }
}
