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

/// One option a subcommand accepts: its names, its value, and the words `--help`, the manual page and the
/// shell completions give it. The one definition feeds the parser and everything generated from it.
#[derive(Clone, Copy, Debug)]
pub struct Opt {
    /// The canonical long name, `--ttl`; empty for a heading line in the help.
    pub long: &'static str,
    /// The short form, `-T`, if any.
    pub short: Option<char>,
    /// Other long names that mean the same (`--hops`), older spellings kept working.
    pub aliases: &'static [&'static str],
    /// The value's placeholder (`"N"`), or `None` for a flag.
    pub value: Option<&'static str>,
    /// What it does, one paragraph (wrapped when printed); for a heading, the heading.
    pub help: &'static str,
}

impl Opt {
    /// A flag: present or not.
    pub const fn flag(long: &'static str, help: &'static str) -> Opt {
        Opt { long, short: None, aliases: &[], value: None, help }
    }

    /// An option that takes a value.
    pub const fn value(long: &'static str, placeholder: &'static str, help: &'static str) -> Opt {
        Opt { long, short: None, aliases: &[], value: Some(placeholder), help }
    }

    /// A heading between groups of options in the help ("Sender options:"); the parser skips it.
    pub const fn heading(text: &'static str) -> Opt {
        Opt { long: "", short: None, aliases: &[], value: None, help: text }
    }

    /// The same option with a short form.
    pub const fn short(self, c: char) -> Opt {
        Opt { short: Some(c), ..self }
    }

    /// The same option with other long names.
    pub const fn alias(self, aliases: &'static [&'static str]) -> Opt {
        Opt { aliases, ..self }
    }

    /// The same option with this command's own words for it.
    pub const fn help(self, help: &'static str) -> Opt {
        Opt { help, ..self }
    }

    /// Whether this entry is a heading, not an option.
    pub fn is_heading(&self) -> bool {
        self.long.is_empty()
    }

    fn named(&self, name: &str) -> bool {
        !self.is_heading() && (self.long == name || self.aliases.contains(&name))
    }

    /// The left column of its help line: `--ttl N, -T`.
    pub fn signature(&self) -> String {
        let mut s = self.long.to_string();
        if let Some(v) = self.value {
            s.push(' ');
            s.push_str(v);
        }
        if let Some(c) = self.short {
            s.push_str(&format!(", -{c}"));
        }
        s
    }

    /// Its help text with the aliases named: "... (also --hops)".
    pub fn full_help(&self) -> String {
        if self.aliases.is_empty() {
            self.help.to_string()
        } else {
            format!("{} (also {})", self.help, self.aliases.join(", "))
        }
    }
}

/// The column where option descriptions start in `--help`.
const HELP_COLUMN: usize = 23;
/// The width `--help` wraps to.
const HELP_WIDTH: usize = 108;

/// The option lines of a help page, from the table: `  --ttl N, -T        TTL ...`, wrapped.
pub fn render_options(opts: &[Opt]) -> String {
    let mut s = String::new();
    for o in opts {
        if o.is_heading() {
            s.push_str(o.help);
            s.push('\n');
            continue;
        }
        let sig = o.signature();
        s.push_str("  ");
        s.push_str(&sig);
        if sig.len() + 3 > HELP_COLUMN {
            s.push('\n');
            s.push_str(&" ".repeat(HELP_COLUMN));
        } else {
            s.push_str(&" ".repeat(HELP_COLUMN - 2 - sig.len()));
        }
        s.push_str(&crate::output::wrap(&o.full_help(), HELP_COLUMN, HELP_WIDTH));
        s.truncate(s.trim_end().len());
        s.push('\n');
    }
    s.push_str("  -h, --help           this help\n");
    s
}

/// A command's help page: its text with the line `{options}` replaced by the table's option lines.
pub fn render_help(help: &str, opts: &[Opt]) -> String {
    help.replace("{options}\n", &render_options(opts))
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
    /// How many positional words came before it.
    after: usize,
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

/// Parses `words` (the arguments after the subcommand's name) against `opts`. Long options take their value
/// as the next word or after `=`; short ones combine (`-qc 2`, `-qc2`), the last of a group may take a value.
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
        if !is_option(word, opts) {
            m.positionals.push(word.clone());
            continue;
        }
        if !word.starts_with("--") {
            shorts(word, opts, &mut words, &mut m)?;
            continue;
        }
        let (name, inline) = match word.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (word.as_str(), None),
        };
        let opt = opts
            .iter()
            .find(|o| o.named(name))
            .ok_or_else(|| Fail::usage(format!("unknown option {name} (see --help)")))?;
        let value = match (opt.value, inline) {
            (None, None) => None,
            (None, Some(_)) => return Err(Fail::usage(format!("{name} takes no value"))),
            (Some(_), Some(v)) => Some(v),
            (Some(ph), None) => Some(next_value(name, ph, &mut words)?),
        };
        m.found.push(Found { canonical: opt.long, after: m.positionals.len(), typed: name.to_string(), value });
    }
    Ok(Parsed::Run(m))
}

/// One word of short options, `-q`, `-qc 2` or `-c2`.
fn shorts<'a>(
    word: &str,
    opts: &[Opt],
    rest: &mut impl Iterator<Item = &'a String>,
    m: &mut Matches,
) -> Result<(), Fail> {
    let body = &word[1..];
    for (i, c) in body.char_indices() {
        let typed = format!("-{c}");
        let opt = opts
            .iter()
            .find(|o| !o.is_heading() && o.short == Some(c))
            .ok_or_else(|| Fail::usage(format!("unknown option {typed} (see --help)")))?;
        let Some(ph) = opt.value else {
            m.found.push(Found { canonical: opt.long, after: m.positionals.len(), typed, value: None });
            continue;
        };
        let inline = &body[i + c.len_utf8()..];
        let value = if inline.is_empty() { next_value(&typed, ph, rest)? } else { inline.to_string() };
        m.found.push(Found { canonical: opt.long, after: m.positionals.len(), typed, value: Some(value) });
        return Ok(());
    }
    Ok(())
}

fn next_value<'a>(name: &str, placeholder: &str, rest: &mut impl Iterator<Item = &'a String>) -> Result<String, Fail> {
    rest.next().cloned().ok_or_else(|| Fail::usage(format!("{name}: missing value ({name} {placeholder})")))
}

/// Parses a subcommand's words; `None` when `--help` was asked for (and has been printed).
pub fn command_line(words: &[String], opts: &[Opt], help: &str) -> Result<Option<Matches>, Fail> {
    match parse(words, opts)? {
        Parsed::Help => {
            crate::output::Out::new().text(&render_help(help, opts))?;
            Ok(None)
        }
        Parsed::Run(m) => Ok(Some(m)),
    }
}

/// `-x` and `--xyz` are options; `-` alone (stdin, by convention) and negative numbers are not, unless the
/// table has that digit as a short option (`-4`).
fn is_option(word: &str, opts: &[Opt]) -> bool {
    let Some(first) = word.strip_prefix('-').and_then(|r| r.chars().next()) else { return false };
    if first.is_ascii_digit() || first == '.' {
        return opts.iter().any(|o| o.short == Some(first));
    }
    true
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

    /// Every value given for a repeatable option, each with how many positional words came before it (so a
    /// value can belong to the positional it follows).
    pub fn placed<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (usize, &'a str)> + 'a {
        self.found.iter().filter(move |f| f.canonical == name).filter_map(|f| Some((f.after, f.value.as_deref()?)))
    }

    /// The last value given for an option (a later one overrides an earlier one).
    pub fn value(&self, name: &str) -> Option<&str> {
        self.found.iter().rev().find(|f| f.canonical == name).and_then(|f| f.value.as_deref())
    }

    /// The name the user typed for the last occurrence of an option (`--hops` for `--ttl`), for messages.
    pub fn typed<'a>(&'a self, name: &'a str) -> &'a str {
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

    /// A size in bytes in `lo..=hi`: a whole number, or with a binary unit (`64K`, `1M`, `2G`, also `KiB`, `MB`).
    pub fn bytes(&self, name: &str, lo: u64, hi: u64) -> Result<Option<u64>, Fail> {
        let Some(v) = self.value(name) else { return Ok(None) };
        let name = self.typed(name);
        let n = parse_bytes(v).ok_or_else(|| Fail::usage(format!("{name} {v}: not a size (1400, 64K, 8M, 1G)")))?;
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

/// `1400`, `64K`, `64k`, `8M`, `8MiB`, `8MB`, `1G`: K, M and G are powers of 1024, as for buffer sizes.
pub fn parse_bytes(v: &str) -> Option<u64> {
    let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let n: u64 = v[..digits].parse().ok()?;
    let shift = match v[digits..].to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
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
        Opt::value("--ttl", "N", "").alias(&["--hops"]),
        Opt::flag("--loop", ""),
        Opt::flag("--no-loop", ""),
        Opt::value("--iface", "IFACE", ""),
        Opt::flag("--quiet", "").short('q'),
        Opt::value("--interval", "SECS", ""),
        Opt::value("--count", "N", "").short('c'),
        Opt::flag("--ipv4", "").short('4'),
        Opt::value("--size", "BYTES", ""),
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
        let m = run(&["-4", "-5"]).unwrap();
        assert!(m.flag("--ipv4"));
        assert_eq!(m.positionals, ["-5"]);
    }

    #[test]
    fn short_options_combine() {
        let m = run(&["-qc", "2", "g"]).unwrap();
        assert!(m.flag("--quiet"));
        assert_eq!(m.value("--count"), Some("2"));
        assert_eq!(m.positionals, ["g"]);
        let m = run(&["-qc7"]).unwrap();
        assert_eq!(m.value("--count"), Some("7"));
        assert_eq!(usage(&["-qx"]), "unknown option -x (see --help)");
        assert_eq!(usage(&["-qc"]), "-c: missing value (-c N)");
        let m = run(&["-c", "300"]).unwrap();
        assert!(matches!(m.int_in("--count", 1, 255), Err(Fail::Usage(s)) if s == "-c 300: out of range 1..=255"));
    }

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_bytes("1400"), Some(1400));
        assert_eq!(parse_bytes("64K"), Some(65_536));
        assert_eq!(parse_bytes("8MiB"), Some(8 << 20));
        assert_eq!(parse_bytes("1g"), Some(1 << 30));
        assert_eq!(parse_bytes("1.5M"), None);
        assert_eq!(parse_bytes("M"), None);
        assert_eq!(parse_bytes("99999999999999999999G"), None);
        let m = run(&["--size", "2K"]).unwrap();
        assert_eq!(m.bytes("--size", 0, 65_507).unwrap(), Some(2048));
        let m = run(&["--size", "64K"]).unwrap();
        assert!(
            matches!(m.bytes("--size", 0, 65_507), Err(Fail::Usage(s)) if s == "--size 64K: out of range 0..=65507")
        );
    }

    #[test]
    fn help_lines_come_from_the_table() {
        let help = render_help("Options:\n{options}\nEnd\n", OPTS);
        assert!(help.contains("  --ttl N              (also --hops)"), "{help}");
        assert!(help.contains("  --quiet, -q"), "{help}");
        assert!(help.ends_with("  --loop\n  --no-loop\n") || help.contains("  --loop\n"), "{help}");
        assert!(help.ends_with("  -h, --help           this help\nEnd\n"), "{help}");
    }
}
