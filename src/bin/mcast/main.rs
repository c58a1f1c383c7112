//! `mcast`: send, receive and explain IP multicast from the command line.
//!
//! Thin on purpose: each subcommand parses its words ([`args`]), calls the library, and prints text or
//! JSON ([`output`]). A new subcommand is one file here and one line in [`COMMANDS`].
//!
//! Exit status: 0 success, 1 runtime error, 2 usage error (bad option, value, group or interface), 130 or 143
//! when SIGINT or SIGTERM stopped a command (after its summary). Every error is one line on standard error:
//! `mcast send: --ttl 300: out of range 0..=255`.
#![deny(unsafe_code)]

mod args;
mod demo;
mod discover;
mod doctor;
mod groups;
mod ifaces;
mod igmp;
mod info;
mod manual;
mod mld;
mod output;
mod perf;
mod perf_lines;
mod ping;
mod ping_lines;
mod query;
mod recv;
mod recv_groups;
mod recv_groups_print;
mod recv_print;
mod recv_words;
mod relay;
mod responder;
mod send;
mod send_print;
mod tools;
mod vocab;
mod watch;
mod watch_lines;
mod watch_summary;

use std::io::Write;

use args::Fail;

/// A subcommand: its name, what it does in a few words, and its entry point (which gets the words after
/// its name).
struct Command {
    name: &'static str,
    summary: &'static str,
    run: fn(&[String]) -> Result<(), Fail>,
    help: &'static str,
    opts: &'static [args::Opt],
}

const COMMANDS: &[Command] = &[
    Command { name: "send", summary: send::SUMMARY, run: send::run, help: send::HELP, opts: send::OPTS },
    Command { name: "recv", summary: recv::SUMMARY, run: recv::run, help: recv::HELP, opts: recv::OPTS },
    Command { name: "ifaces", summary: ifaces::SUMMARY, run: ifaces::run, help: ifaces::HELP, opts: ifaces::OPTS },
    Command { name: "info", summary: info::SUMMARY, run: info::run, help: info::HELP, opts: info::OPTS },
    Command { name: "demo", summary: demo::SUMMARY, run: demo::run, help: demo::HELP, opts: demo::OPTS },
    Command { name: "ping", summary: ping::SUMMARY, run: ping::run, help: ping::HELP, opts: ping::OPTS },
    Command { name: "perf", summary: perf::SUMMARY, run: perf::run, help: perf::HELP, opts: perf::OPTS },
    Command {
        name: "discover",
        summary: discover::SUMMARY,
        run: discover::run,
        help: discover::HELP,
        opts: discover::OPTS,
    },
    Command {
        name: "responder",
        summary: responder::SUMMARY,
        run: responder::run,
        help: responder::HELP,
        opts: responder::OPTS,
    },
    Command { name: "relay", summary: relay::SUMMARY, run: relay::run, help: relay::HELP, opts: relay::OPTS },
    Command { name: "groups", summary: groups::SUMMARY, run: groups::run, help: groups::HELP, opts: groups::OPTS },
    Command { name: "doctor", summary: doctor::SUMMARY, run: doctor::run, help: doctor::HELP, opts: doctor::OPTS },
    Command { name: "igmp", summary: igmp::SUMMARY, run: igmp::run, help: igmp::HELP, opts: &[] },
    Command { name: "mld", summary: mld::SUMMARY, run: mld::run, help: mld::HELP, opts: &[] },
];

fn usage() -> String {
    let mut s = String::from(
        "mcast: send, receive and explain IP multicast (IPv4 and IPv6 over UDP)\n\n\
         Usage: mcast COMMAND [ARGS...] [OPTIONS]\n\nCommands:\n",
    );
    for c in COMMANDS {
        s.push_str(&format!("  {:<8} {}\n", c.name, c.summary));
    }
    s.push_str(
        "  help     help on a command (mcast help recv; or mcast recv --help)\n\n\
         Options: -h, --help (this text), -V, --version\n\
         Exit status: 0 success, 1 runtime error, 2 usage error (one line on standard error says which);\n\
         130 (SIGINT, Ctrl-C) or 143 (SIGTERM) when a signal stopped the command, after its summary.\n\n\
         Examples:\n  \
           mcast demo                                   sender and receiver on this host, IPv4 and IPv6\n  \
           mcast recv 239.1.2.3:5000 --iface eth0       print each datagram sent to the group\n  \
           mcast send 239.1.2.3:5000 --iface eth0 hi    send one\n  \
           mcast info 224.0.0.251                       what this address is\n",
    );
    s
}

/// Every page of help: each command's, with `igmp` and `mld` replaced by their subcommands'.
fn pages() -> Vec<manual::Page> {
    let mut pages = Vec::new();
    for c in COMMANDS {
        let nested = match c.name {
            "igmp" => Some(("igmp watch", igmp::WATCH_HELP, "igmp query", igmp::QUERY_HELP)),
            "mld" => Some(("mld watch", mld::WATCH_HELP, "mld query", mld::QUERY_HELP)),
            _ => None,
        };
        match nested {
            Some((watch, watch_help, query, query_help)) => {
                pages.push(manual::Page { name: watch, summary: c.summary, help: watch_help, opts: watch::OPTS });
                pages.push(manual::Page { name: query, summary: c.summary, help: query_help, opts: query::OPTS });
            }
            None => pages.push(manual::Page { name: c.name, summary: c.summary, help: c.help, opts: c.opts }),
        }
    }
    pages
}

/// Runs the command line; returns the subcommand's name (for error messages) and the outcome.
fn dispatch(argv: &[String]) -> (&'static str, Result<(), Fail>) {
    let Some((first, rest)) = argv.split_first() else {
        return ("", Err(Fail::usage("missing command (try mcast --help)")));
    };
    let print = |text: &str| output::Out::new().text(text);
    match first.as_str() {
        "-h" | "--help" => ("", print(&usage())),
        "-V" | "--version" => ("", print(&format!("mcast {}", mcast::VERSION))),
        // Not listed: what `make` writes to docs/mcast.1 and completions/.
        "__man" => ("", print(&manual::man(&pages()))),
        "__complete" => {
            ("", manual::completion(&pages(), rest.first().map_or("", |s| s.as_str())).and_then(|t| print(&t)))
        }
        "help" => match rest.first() {
            None => ("", print(&usage())),
            Some(name) => match COMMANDS.iter().find(|c| c.name == name) {
                Some(c) => (c.name, print(&args::render_help(c.help, c.opts))),
                None => ("", Err(unknown_command(name))),
            },
        },
        name => match COMMANDS.iter().find(|c| c.name == name) {
            Some(c) => (c.name, (c.run)(rest)),
            None => ("", Err(unknown_command(name))),
        },
    }
}

fn unknown_command(name: &str) -> Fail {
    let names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
    Fail::usage(format!("unknown command '{name}' (commands: {}, help)", names.join(", ")))
}

fn main() {
    // A word that is not UTF-8 can be neither an option, a group nor an interface name.
    let argv: Result<Vec<String>, Fail> = std::env::args_os()
        .skip(1)
        .enumerate()
        .map(|(i, a)| {
            a.into_string().map_err(|a| Fail::usage(format!("argument {} ({a:?}) is not valid UTF-8", i + 1)))
        })
        .collect();
    let (name, result) = match argv {
        Ok(argv) => dispatch(&argv),
        Err(e) => ("", Err(e)),
    };
    let prefix = if name.is_empty() { "mcast".to_string() } else { format!("mcast {name}") };
    let mut code = match result {
        Ok(()) | Err(Fail::BrokenPipe) => 0,
        Err(Fail::Quiet) => 1,
        Err(Fail::Runtime(msg)) => {
            let _ = writeln!(std::io::stderr(), "{prefix}: {msg}");
            1
        }
        Err(Fail::Usage(msg)) => {
            let _ = writeln!(std::io::stderr(), "{prefix}: {msg}");
            2
        }
    };
    // A command that caught SIGINT/SIGTERM stopped early and printed its summary; it ends with the status a
    // shell gives a process the signal ended, so a script can tell an interruption from a run to completion.
    if code != 2 {
        code = mcast::__private::signal::exit_status().unwrap_or(code);
    }
    std::process::exit(code);
}
