//! The command line, parsed by hand: one small parser that every subcommand shares.
//!
//! A subcommand declares its options as a table of [`Opt`]s; [`parse`] checks the words against it and
//! returns [`Matches`], whose typed getters turn a bad value into a usage error that names the option and
//! the value: `--ttl 300: out of range 0..=255`. `--help`/`-h` is understood everywhere.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How a command ends when it does not succeed.
#[derive(Debug)]
pub enum Fail {
    /// Bad input (an unknown option, a value out of range, a group that is not multicast): exit 2.
    Usage(String),
    /// Something went wrong while running: exit 1.
    Runtime(String),
    /// Exit 1 after output that already said why (e.g. `info` on a unicast address).
    Quiet,
    /// Whoever read our standard output has gone (`| head -1`): stop at once, without a word.
    BrokenPipe,
}

impl Fail {
    /// A usage error.
    pub fn usage(msg: impl fmt::Display) -> Fail {
        Fail::Usage(msg.to_string())
    }

    /// A runtime error.
    pub fn runtime(msg: impl fmt::Display) -> Fail {
        Fail::Runtime(msg.to_string())
    }
}

/// A library error is the user's fault when it is about input (group, interface, range), else the system's.
/// The message is what failed and why (`{:#}`), plus the option that fixes it where the library cannot
/// name one.
impl From<mcast::Error> for Fail {
    fn from(e: mcast::Error) -> Fail {
        match e.kind() {
            mcast::ErrorKind::Os => Fail::Runtime(format!("{e:#}")),
            mcast::ErrorKind::NeedsInterface => Fail::Usage(format!("{e:#}, or give --iface IFACE")),
            _ => Fail::Usage(format!("{e:#}")),
        }
    }
}

/// One option a subcommand accepts.
#[derive(Clone, Copy, Debug)]
pub struct Opt {
    /// The long names, canonical first: `&["--ttl", "--hops"]`. Short forms (`-q`) may be listed too.
    pub names: &'static [&'static str],
    /// The value's placeholder (`"N"`), or `None` for a flag.
    pub value: Option<&'static str>,
}

impl Opt {
    /// A flag: present or not.
    pub const fn flag(names: &'static [&'static str]) -> Opt {
        Opt { names, value: None }
    }

    /// An option that takes a value.
    pub const fn value(names: &'static [&'static str], placeholder: &'static str) -> Opt {
        Opt { names, value: Some(placeholder) }
    }

    fn canonical(&self) -> &'static str {
        self.names[0]
    }
}

/// What the parser found: each option under its canonical name (with the name as typed, for messages), in
/// order, and the positional words.
#[derive(Debug, Default)]
pub struct Matches {
    found: Vec<Found>,
    /// Words that are not options, in order (everything after `--` is one).
    pub positionals: Vec<String>,
}

#[derive(Debug)]
struct Found {
    canonical: &'static str,
    typed: String,
    value: Option<String>,
}

/// What a command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// `--help` or `-h` somewhere: print the help and exit 0.
    Help,
    /// Run with these options.
    Run(Matches),
}

/// Parses `words` (the arguments after the subcommand's name) against `opts`.
pub fn parse(words: &[String], opts: &[Opt]) -> Result<Parsed, Fail> {
    // Help wins wherever it stands before `--`: `mcast send --ttl 999 --help` shows the help.
    if words.iter().take_while(|w| *w != "--").any(|w| w == "--help" || w == "-h") {
        return Ok(Parsed::Help);
    }
    let mut m = Matches::default();
    let mut words = words.iter();
    while let Some(word) = words.next() {
        if word == "--" {
            m.positionals.extend(words.by_ref().cloned());
            break;
        }
        if !is_option(word) {
            m.positionals.push(word.clone());
            continue;
        }
        let (name, inline) = match word.split_once('=') {
            Some((n, v)) if word.starts_with("--") => (n, Some(v.to_string())),
            _ => (word.as_str(), None),
        };
        let opt = opts
            .iter()
            .find(|o| o.names.contains(&name))
            .ok_or_else(|| Fail::usage(format!("unknown option {name} (see --help)")))?;
        let value = match (opt.value, inline) {
            (None, None) => None,
            (None, Some(_)) => return Err(Fail::usage(format!("{name} takes no value"))),
            (Some(_), Some(v)) => Some(v),
            (Some(ph), None) => {
                Some(words.next().cloned().ok_or_else(|| Fail::usage(format!("{name}: missing value ({name} {ph})")))?)
            }
        };
        m.found.push(Found { canonical: opt.canonical(), typed: name.to_string(), value });
    }
    Ok(Parsed::Run(m))
}

/// Parses a subcommand's words; `None` when `--help` was asked for (and has been printed).
pub fn command_line(words: &[String], opts: &[Opt], help: &str) -> Result<Option<Matches>, Fail> {
    match parse(words, opts)? {
        Parsed::Help => {
            crate::output::Out::new().text(help)?;
            Ok(None)
        }
        Parsed::Run(m) => Ok(Some(m)),
    }
}

/// `-x` and `--xyz` are options; `-` alone (stdin, by convention) and negative numbers are not.
fn is_option(word: &str) -> bool {
    word.len() > 1 && word.starts_with('-') && !word[1..].starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

impl Matches {
    /// Whether the flag was given.
    pub fn flag(&self, name: &str) -> bool {
        self.found.iter().any(|f| f.canonical == name)
    }

    /// Which of two opposite flags came last (`--loop`/`--no-loop`): `Some(true)` for `yes`, `None` if neither.
    pub fn last_of(&self, yes: &str, no: &str) -> Option<bool> {
        self.found.iter().rev().find(|f| f.canonical == yes || f.canonical == no).map(|f| f.canonical == yes)
    }

    /// Every value given for a repeatable option, in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.found.iter().filter(move |f| f.canonical == name).filter_map(|f| f.value.as_deref())
    }

    /// The last value given for an option (a later one overrides an earlier one).
    pub fn value(&self, name: &str) -> Option<&str> {
        self.found.iter().rev().find(|f| f.canonical == name).and_then(|f| f.value.as_deref())
    }

    /// The name the user typed for the last occurrence of an option (`--hops` for `--ttl`), for messages.
    fn typed<'a>(&'a self, name: &'a str) -> &'a str {
        self.found.iter().rev().find(|f| f.canonical == name).map_or(name, |f| f.typed.as_str())
    }

    /// The positional words, at least `min` and at most `max` of them; `usage` is the command's one-line
    /// synopsis, quoted in the error (`missing GROUP:PORT (usage: mcast recv GROUP:PORT [OPTIONS])`).
    pub fn positionals(&self, min: usize, max: usize, missing: &str, usage: &str) -> Result<&[String], Fail> {
        let p = &self.positionals;
        if p.len() < min {
            return Err(Fail::usage(format!("missing {missing} (usage: {usage})")));
        }
        if let Some(extra) = p.get(max) {
            return Err(Fail::usage(format!("unexpected argument '{extra}' (usage: {usage})")));
        }
        Ok(p)
    }

    /// The value parsed by its type's `FromStr`; the error names the option and repeats the type's reason.
    pub fn parsed<T: FromStr>(&self, name: &str) -> Result<Option<T>, Fail>
    where
        T::Err: fmt::Display,
    {
        let Some(v) = self.value(name) else { return Ok(None) };
        v.parse().map(Some).map_err(|e| Fail::usage(format!("{} {v}: {e}", self.typed(name))))
    }

    /// An integer in `lo..=hi`.
    pub fn int_in(&self, name: &str, lo: u64, hi: u64) -> Result<Option<u64>, Fail> {
        let Some(v) = self.value(name) else { return Ok(None) };
        let name = self.typed(name);
        let n: u64 = v.parse().map_err(|_| {
            if v.starts_with('-') || v.parse::<i128>().is_ok() {
                Fail::usage(range_error(name, v, lo, hi))
            } else {
                Fail::usage(format!("{name} {v}: not a whole number"))
            }
        })?;
        if n < lo || n > hi {
            return Err(Fail::usage(range_error(name, v, lo, hi)));
        }
        Ok(Some(n))
    }

    /// A duration in seconds, fractions allowed (`0.25`), at most a day.
    pub fn seconds(&self, name: &str) -> Result<Option<Duration>, Fail> {
        const DAY: f64 = 86_400.0;
        let Some(v) = self.value(name) else { return Ok(None) };
        let name = self.typed(name);
        let s: f64 = v.parse().map_err(|_| Fail::usage(format!("{name} {v}: not a number of seconds")))?;
        if !s.is_finite() || !(0.0..=DAY).contains(&s) {
            return Err(Fail::usage(format!("{name} {v}: out of range 0..={DAY} seconds")));
        }
        Ok(Some(Duration::from_secs_f64(s)))
    }
}

fn range_error(name: &str, v: &str, lo: u64, hi: u64) -> String {
    if hi == u64::MAX {
        format!("{name} {v}: must be at least {lo}")
    } else {
        format!("{name} {v}: out of range {lo}..={hi}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: &[Opt] = &[
        Opt::value(&["--ttl", "--hops"], "N"),
        Opt::flag(&["--loop"]),
        Opt::flag(&["--no-loop"]),
        Opt::value(&["--iface"], "IFACE"),
        Opt::flag(&["--quiet", "-q"]),
        Opt::value(&["--interval"], "SECS"),
    ];

    fn run(words: &[&str]) -> Result<Matches, Fail> {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        match parse(&words, OPTS)? {
            Parsed::Run(m) => Ok(m),
            Parsed::Help => panic!("unexpected help"),
        }
    }

    fn usage(words: &[&str]) -> String {
        match run(words) {
            Err(Fail::Usage(m)) => m,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn options_take_values_both_ways_and_aliases_fold() {
        let m = run(&["239.1.2.3:5000", "--hops=7", "hello", "--iface", "eth1", "-q", "--", "--ttl"]).unwrap();
        assert_eq!(m.positionals, ["239.1.2.3:5000", "hello", "--ttl"]);
        assert_eq!(m.int_in("--ttl", 0, 255).unwrap(), Some(7));
        assert_eq!(m.value("--iface"), Some("eth1"));
        assert!(m.flag("--quiet"));
    }

    #[test]
    fn the_last_of_opposite_flags_wins() {
        assert_eq!(run(&["--loop", "--no-loop"]).unwrap().last_of("--loop", "--no-loop"), Some(false));
        assert_eq!(run(&["--no-loop", "--loop"]).unwrap().last_of("--loop", "--no-loop"), Some(true));
        assert_eq!(run(&[]).unwrap().last_of("--loop", "--no-loop"), None);
    }

    #[test]
    fn repeated_values_are_kept_in_order() {
        let m = run(&["--iface", "a", "--iface=b"]).unwrap();
        assert_eq!(m.values("--iface").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(m.value("--iface"), Some("b"));
    }

    #[test]
    fn help_wins_anywhere() {
        let words: Vec<String> = ["--bogus", "--ttl", "300", "-h"].iter().map(|w| w.to_string()).collect();
        assert!(matches!(parse(&words, OPTS), Ok(Parsed::Help)));
        let words: Vec<String> = ["--", "-h"].iter().map(|w| w.to_string()).collect();
        assert!(matches!(parse(&words, OPTS), Ok(Parsed::Run(m)) if m.positionals == ["-h"]));
    }

    #[test]
    fn bad_input_names_the_option_and_value() {
        assert_eq!(usage(&["--bogus"]), "unknown option --bogus (see --help)");
        assert_eq!(usage(&["--ttl"]), "--ttl: missing value (--ttl N)");
        assert_eq!(usage(&["--loop=1"]), "--loop takes no value");
        let m = run(&["--ttl", "300"]).unwrap();
        assert!(matches!(m.int_in("--ttl", 0, 255), Err(Fail::Usage(s)) if s == "--ttl 300: out of range 0..=255"));
        let m = run(&["--ttl", "-1"]).unwrap();
        assert!(matches!(m.int_in("--ttl", 0, 255), Err(Fail::Usage(s)) if s == "--ttl -1: out of range 0..=255"));
        let m = run(&["--hops", "256"]).unwrap();
        assert!(matches!(m.int_in("--ttl", 0, 255), Err(Fail::Usage(s)) if s == "--hops 256: out of range 0..=255"));
        let m = run(&["--ttl", "x"]).unwrap();
        assert!(matches!(m.int_in("--ttl", 0, 255), Err(Fail::Usage(s)) if s == "--ttl x: not a whole number"));
        let m = run(&["--interval", "nan"]).unwrap();
        assert!(matches!(m.seconds("--interval"), Err(Fail::Usage(_))));
        let m = run(&["--interval", "0.25"]).unwrap();
        assert_eq!(m.seconds("--interval").unwrap(), Some(Duration::from_millis(250)));
    }

    #[test]
    fn dash_alone_and_negative_numbers_are_positional() {
        assert_eq!(run(&["-", "-5"]).unwrap().positionals, ["-", "-5"]);
    }
}
