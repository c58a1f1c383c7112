//! Every tool refuses bad arguments the same way: exit status 2 and one line on standard error that names
//! the command, with nothing on standard output. Run inside an empty namespace of their own (no root needed),
//! so that an argument wrongly accepted could not put traffic anywhere.
mod common;

use common::cli::sandboxed;
use common::root::Sandbox;

const CASES: &[(&str, &[&str], &str)] = &[
    // (command, arguments, a word the message must contain)
    ("ping", &[], "GROUP:PORT"),
    ("ping", &["239.1.1.1"], "no port"),
    ("ping", &["10.0.0.1:5000"], "not a multicast"),
    ("ping", &["239.1.1.1:5000", "--count", "0"], "--count"),
    ("ping", &["239.1.1.1:5000", "--interval", "0"], "--interval"),
    ("ping", &["239.1.1.1:5000", "--ttl", "256"], "--ttl"),
    ("ping", &["239.1.1.1:5000", "--bogus"], "--bogus"),
    ("ping", &["239.1.1.1:5000", "--iface", "nosuchif0"], "nosuchif0"),
    ("ping", &["--serve", "239.1.1.1:5000", "--interval", "1"], "--interval"),
    ("ping", &["239.1.1.1:5000", "--timeout", "1"], "--timeout"),
    ("ping", &["239.1.1.1:5000", "extra"], "extra"),
    ("perf", &["239.1.1.1:5000", "--rate", "fast"], "rate"),
    ("perf", &["239.1.1.1:5000", "--size", "10"], "--size"),
    ("perf", &["239.1.1.1:5000", "--size", "70000"], "--size"),
    ("perf", &["239.1.1.1:5000", "--count", "5", "--time", "1"], "--count"),
    ("perf", &["239.1.1.1:5000", "--path", "pigeon"], "--path"),
    ("perf", &["239.1.1.1:5000", "--timeout", "1"], "--timeout"),
    ("perf", &["--serve", "239.1.1.1:5000", "--rate", "1M"], "--rate"),
    ("perf", &["--serve", "239.1.1.1:5000", "--buffer", "lots"], "--buffer"),
    ("perf", &["[ff02::1]:5000"], "interface"),
    ("perf", &["239.1.1.1:5000", "--max-sessions", "5"], "--max-sessions"),
    ("perf", &["--serve", "239.1.1.1:5000", "--max-sessions", "0"], "--max-sessions"),
    ("perf", &["--serve", "239.1.1.1:5000", "--max-sessions", "65537"], "--max-sessions"),
    ("discover", &["239.1.1.1:5000", "--max-ttl", "300"], "--max-ttl"),
    ("discover", &["239.1.1.1:5000", "--wait", "0"], "--wait"),
    ("discover", &["239.1.1.1:5000", "--wait", "soon"], "--wait"),
    ("discover", &["224.0.0.1:5000", "239.1.1.1:5000"], "unexpected"),
    ("responder", &["239.1.1.1:5000", "--name", ""], "--name"),
    ("responder", &["239.1.1.1:5000", "--count", "-1"], "--count"),
    ("responder", &["239.1.1.1:5000", "--timeout", "-3"], "--timeout"),
    ("relay", &["239.1.1.1:5000"], "TO_GROUP"),
    ("relay", &["239.1.1.1:5000", "192.0.2.1:5000"], "not a multicast"),
    ("relay", &["239.1.1.1:5000", "239.1.1.2:5000", "--drop", "2"], "--drop"),
    ("relay", &["239.1.1.1:5000", "239.1.1.2:5000", "--reorder", "abc"], "--reorder"),
    ("relay", &["239.1.1.1:5000", "239.1.1.2:5000", "--duplicate", "150%"], "--duplicate"),
    ("relay", &["239.1.1.1:5000", "239.1.1.2:5000", "--delay", "-5"], "--delay"),
    ("relay", &["239.1.1.1:5000", "239.1.1.2:5000", "--seed", "x"], "--seed"),
    ("relay", &["239.1.1.1:5000", "239.1.1.2:5000", "--out-iface", "lo", "--out-iface", "lo"], "--out-iface"),
];

#[test]
fn every_tool_refuses_bad_arguments_with_status_2_and_one_line() {
    let Some(sandbox) = Sandbox::new() else { return };
    for (cmd, args, word) in CASES {
        let mut argv = vec![*cmd];
        argv.extend_from_slice(args);
        let out = sandboxed(&sandbox, &argv);
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let what = format!("mcast {}", argv.join(" "));
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{what}: one line, got {stderr:?}");
        assert!(stderr.starts_with(&format!("mcast {cmd}: ")), "{what}: {stderr:?}");
        assert!(stderr.contains(word), "{what}: {stderr:?} should mention {word:?}");
        assert!(stdout.is_empty(), "{what}: nothing on standard output, got {stdout:?}");
    }
}

#[test]
fn every_tool_has_help() {
    let Some(sandbox) = Sandbox::new() else { return };
    for cmd in ["ping", "perf", "discover", "responder", "relay"] {
        let out = sandboxed(&sandbox, &[cmd, "--help"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{cmd} --help: {}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.starts_with(&format!("mcast {cmd}: ")), "{cmd}: {stdout}");
        assert!(stdout.contains("Usage:") && stdout.contains("Exit status"), "{cmd}");
    }
}
