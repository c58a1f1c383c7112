//! Output: lines flushed one by one (a pipe reader sees each datagram at once), a small JSON writer, and
//! the escaping that makes any payload safe to print on a terminal.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::args::Fail;

/// Standard output, one flushed line at a time. A closed pipe becomes [`Fail::BrokenPipe`], so the command
/// ends quietly instead of dying on `SIGPIPE` or panicking in `println!`.
pub struct Out {
    stdout: io::Stdout,
}

impl Out {
    /// The process's standard output.
    pub fn new() -> Out {
        Out { stdout: io::stdout() }
    }

    /// Writes `line` and a newline, and flushes: one `write` for both (continued only if the kernel takes
    /// part of it), with Ctrl-C held back meanwhile, so a reader never sees half a line (`--json` stays
    /// parseable to its last line).
    pub fn line(&mut self, line: &str) -> Result<(), Fail> {
        let mut whole = String::with_capacity(line.len() + 1);
        whole.push_str(line);
        whole.push('\n');
        let mut lock = self.stdout.lock();
        mcast::__private::signal::deferred(|| lock.write_all(whole.as_bytes()).and_then(|()| lock.flush())).map_err(
            |e| {
                if e.kind() == io::ErrorKind::BrokenPipe {
                    Fail::BrokenPipe
                } else {
                    Fail::runtime(format!("writing to standard output: {e}"))
                }
            },
        )
    }

    /// Writes bytes as they are (pipe mode), and flushes.
    pub fn bytes(&mut self, bytes: &[u8]) -> Result<(), Fail> {
        let mut lock = self.stdout.lock();
        mcast::__private::signal::deferred(|| lock.write_all(bytes).and_then(|()| lock.flush())).map_err(|e| {
            if e.kind() == io::ErrorKind::BrokenPipe {
                Fail::BrokenPipe
            } else {
                Fail::runtime(format!("writing to standard output: {e}"))
            }
        })
    }

    /// Writes a block of text (a table, a help page), flushing at the end.
    pub fn text(&mut self, text: &str) -> Result<(), Fail> {
        self.line(text.strip_suffix('\n').unwrap_or(text))
    }
}

/// A JSON object written field by field: `{"type":"datagram","len":5}`.
#[derive(Default)]
pub struct Json {
    buf: String,
}

impl Json {
    /// An empty object.
    pub fn new() -> Json {
        Json { buf: String::from("{") }
    }

    fn key(&mut self, k: &str) -> &mut String {
        if self.buf.len() > 1 {
            self.buf.push(',');
        }
        push_json_str(&mut self.buf, k);
        self.buf.push(':');
        &mut self.buf
    }

    /// A string field.
    pub fn str(mut self, k: &str, v: &str) -> Json {
        push_json_str(self.key(k), v);
        self
    }

    /// A string field, or `null`.
    pub fn opt_str(self, k: &str, v: Option<&str>) -> Json {
        match v {
            Some(s) => self.str(k, s),
            None => self.raw(k, "null"),
        }
    }

    /// An integer field.
    pub fn int(mut self, k: &str, v: impl Into<i128>) -> Json {
        let _ = write!(self.key(k), "{}", v.into());
        self
    }

    /// An integer field, or `null`.
    pub fn opt_int(self, k: &str, v: Option<impl Into<i128>>) -> Json {
        match v {
            Some(n) => self.int(k, n),
            None => self.raw(k, "null"),
        }
    }

    /// A number with a fraction (seconds); JSON has no NaN or infinity, so those become `null`.
    pub fn float(mut self, k: &str, v: f64) -> Json {
        if v.is_finite() {
            let _ = write!(self.key(k), "{v:.6}");
            self
        } else {
            self.raw(k, "null")
        }
    }

    /// A number with a fraction, or `null`.
    pub fn opt_float(self, k: &str, v: Option<f64>) -> Json {
        match v {
            Some(f) => self.float(k, f),
            None => self.raw(k, "null"),
        }
    }

    /// A peer's socket address, spelled as everywhere in the JSON output: `k` is the address alone, `k_port`
    /// its port (`"source":"10.0.0.1","source_port":40000`).
    pub fn peer(self, k: &str, a: std::net::SocketAddr) -> Json {
        let port = format!("{k}_port");
        self.str(k, &a.ip().to_string()).int(&port, a.port())
    }

    /// A group, spelled as everywhere in the JSON output: `"group":"239.1.2.3","port":5000`.
    pub fn group(self, g: mcast::Group) -> Json {
        self.str("group", &g.ip().to_string()).int("port", g.port())
    }

    /// A boolean field.
    pub fn bool(self, k: &str, v: bool) -> Json {
        self.raw(k, if v { "true" } else { "false" })
    }

    /// A field whose value is already JSON (an object or array built elsewhere).
    pub fn raw(mut self, k: &str, json: &str) -> Json {
        self.key(k).push_str(json);
        self
    }

    /// An array of strings.
    pub fn strs<S: AsRef<str>>(self, k: &str, items: impl IntoIterator<Item = S>) -> Json {
        let arr = array(items.into_iter().map(|s| json_str(s.as_ref())));
        self.raw(k, &arr)
    }

    /// The finished object.
    pub fn finish(mut self) -> String {
        self.buf.push('}');
        self.buf
    }
}

/// The plural ending of a count: "s" except for one.
pub fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A JSON array of already-encoded values.
pub fn array(items: impl IntoIterator<Item = String>) -> String {
    let mut s = String::from("[");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&item);
    }
    s.push(']');
    s
}

/// `s` as a JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_json_str(&mut out, s);
    out
}

/// Appends `s` as a JSON string: quotes, backslashes and every control character escaped (RFC 8259 §7).
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The first `max` bytes of a payload as printable ASCII: `\n`, `\t`, `\\`, `\"` and `\xNN` for the rest,
/// so a datagram can never move the cursor or change the terminal's colours. `...` marks a cut.
pub fn preview(bytes: &[u8], max: usize) -> String {
    let mut s = String::with_capacity(bytes.len().min(max) + 5);
    for &b in bytes.iter().take(max) {
        match b {
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    if bytes.len() > max {
        s.push_str("...");
    }
    s
}

/// `text` wrapped to `width` columns, every line after the first indented by `indent` spaces (the first is
/// placed by the caller). Words longer than a line are kept whole.
pub fn wrap(text: &str, indent: usize, width: usize) -> String {
    let mut out = String::new();
    let mut col = indent;
    for word in text.split_whitespace() {
        if col > indent && col + 1 + word.len() > width {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            col = indent;
        } else if col > indent {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += word.len();
    }
    out
}

/// Bytes as lowercase hex, two digits each.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A MAC address as `01:00:5e:01:02:03`.
pub fn mac(m: [u8; 6]) -> String {
    let [a, b, c, d, e, f] = m;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
}

/// Seconds since the Unix epoch, with a fraction.
pub fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Time of day in UTC, `HH:MM:SS.mmm`: enough to line datagrams up, with no time zone database to read.
pub fn time_of_day(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let s = d.as_secs() % 86_400;
    format!("{:02}:{:02}:{:02}.{:03}", s / 3600, s / 60 % 60, s % 60, d.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn json_escapes_what_it_must() {
        let j = Json::new().str("a\"b", "x\\y\n\u{1}é").int("n", -3i64).bool("t", true).opt_int("z", None::<u8>);
        assert_eq!(j.finish(), r#"{"a\"b":"x\\y\n\u0001é","n":-3,"t":true,"z":null}"#);
        assert_eq!(Json::new().strs("l", ["a", "b"]).float("f", f64::NAN).finish(), r#"{"l":["a","b"],"f":null}"#);
    }

    #[test]
    fn previews_are_printable_ascii() {
        assert_eq!(preview(b"hi\x1b[31m\n\"\\\xff", 64), "hi\\x1b[31m\\n\\\"\\\\\\xff");
        assert_eq!(preview(b"abcdef", 3), "abc...");
        assert!(preview(&(0..=255).collect::<Vec<u8>>(), 256).bytes().all(|b| (0x20..0x7f).contains(&b)));
    }

    #[test]
    fn formats_times_macs_and_hex() {
        let t = UNIX_EPOCH + Duration::from_millis(86_400_000 + 3_723_456);
        assert_eq!(time_of_day(t), "01:02:03.456");
        assert_eq!(mac([1, 0, 0x5e, 1, 2, 3]), "01:00:5e:01:02:03");
        assert_eq!(hex(b"\x00\xffA"), "00ff41");
        assert_eq!(wrap("aa bb cc dd", 2, 7), "aa bb\n  cc dd");
    }
}
