//! The manual page and the shell completions are generated from the option tables: the committed files must
//! be what the binary generates now, and every option of every command (each of its names) must be in all of
//! them. The options are read from each command's `--help`, the parser's own table as the user sees it.

use std::collections::BTreeSet;
use std::process::Command;

const MCAST: &str = env!("CARGO_BIN_EXE_mcast");

fn mcast(args: &[&str]) -> String {
    let out = Command::new(MCAST).args(args).output().expect("run mcast");
    assert!(out.status.success(), "mcast {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn committed(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const PAGES: &[&str] = &[
    "send",
    "recv",
    "ifaces",
    "info",
    "demo",
    "ping",
    "perf",
    "discover",
    "responder",
    "relay",
    "groups",
    "doctor",
    "igmp watch",
    "igmp query",
    "mld watch",
    "mld query",
];

/// Every option name in a help page's option lines: `--ttl N, -T ... (also --hops)`.
fn option_names(help: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in help.lines() {
        let Some(rest) = line.strip_prefix("  --") else { continue };
        let sig = rest.split("  ").next().unwrap_or(rest);
        let long = sig.split([' ', ',']).next().unwrap_or("");
        names.insert(format!("--{long}"));
        if let Some((_, short)) = sig.split_once(", -") {
            names.insert(format!("-{}", &short[..1]));
        }
    }
    // Aliases are named in the text as "(also --a, --b)", possibly wrapped.
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for part in flat.split("(also ").skip(1) {
        let list = part.split(')').next().unwrap_or("");
        names.extend(list.split(", ").filter(|n| n.starts_with("--")).map(|n| n.to_string()));
    }
    names.remove("--help");
    names
}

#[test]
fn the_committed_manual_and_completions_are_generated_ones() {
    assert_eq!(committed("docs/mcast.1"), mcast(&["__man"]), "docs/mcast.1 is stale: run make generated");
    for (shell, path) in
        [("bash", "completions/mcast.bash"), ("zsh", "completions/_mcast"), ("fish", "completions/mcast.fish")]
    {
        assert_eq!(committed(path), mcast(&["__complete", shell]), "{path} is stale: run make generated");
    }
}

#[test]
fn every_option_is_in_the_manual_and_every_completion() {
    let man = mcast(&["__man"]);
    let bash = mcast(&["__complete", "bash"]);
    let zsh = mcast(&["__complete", "zsh"]);
    let fish = mcast(&["__complete", "fish"]);
    let mut total = 0;
    for page in PAGES {
        let mut args: Vec<&str> = page.split(' ').collect();
        args.push("--help");
        let names = option_names(&mcast(&args));
        assert!(page == &"demo" || !names.is_empty(), "{page}: no options found in its help");
        let section = man.split(&format!(".SS \"mcast {page}\"")).nth(1).expect("a manual section per command");
        let section = section.split(".SS ").next().unwrap_or(section);
        let bash_case = bash.split(&format!("\"{page}\")")).nth(1).expect("a bash case per command");
        let bash_case = bash_case.split(";;").next().unwrap_or(bash_case);
        let zsh_case = zsh.split(&format!("\"{page}\")")).nth(1).expect("a zsh case per command");
        let zsh_case = zsh_case.split(";;").next().unwrap_or(zsh_case);
        let fish_cond = match page.split_once(' ') {
            Some((top, sub)) => {
                format!("'__fish_seen_subcommand_from {top}; and __fish_seen_subcommand_from {sub}'")
            }
            None => format!("'__fish_seen_subcommand_from {page}'"),
        };
        let fish_lines: Vec<&str> = fish.lines().filter(|l| l.contains(&fish_cond)).collect();
        for name in &names {
            total += 1;
            assert!(section.contains(&format!("\\fB{}\\fR", name.replace('-', "\\-"))), "man: {page} {name}");
            assert!(
                bash_case.split_whitespace().any(|w| w.trim_start_matches("opts=").trim_matches('"') == name),
                "bash: {page} {name}"
            );
            assert!(zsh_case.contains(&format!("'{name}[")), "zsh: {page} {name}");
            let fish_word = match name.strip_prefix("--") {
                Some(long) => format!(" -l {long} "),
                None => format!(" -s {} ", &name[1..]),
            };
            assert!(fish_lines.iter().any(|l| l.contains(&fish_word)), "fish: {page} {name}");
        }
    }
    assert!(total > 100, "only {total} options found");
}

#[test]
fn short_options_combine_on_the_command_line() {
    // -qc 2 is -q -c 2; a bad value after a combined short names the short form.
    let out = Command::new(MCAST).args(["recv", "239.1.2.3:5000", "-qc", "0"]).output().expect("run mcast");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "mcast recv: -c 0: must be at least 1\n");
    let out = Command::new(MCAST).args(["perf", "-sw", "lots", "239.1.2.3:5000"]).output().expect("run mcast");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-w lots"), "{out:?}");
}
