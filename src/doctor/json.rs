//! A small JSON reader for the output of `nft -j list ruleset`: values, not a streaming API, with a depth
//! limit so hostile text cannot exhaust the stack. Total: any input gives `Some(value)` or `None`.

/// A JSON value. Objects keep their members in order (nft's output is ordered and small).
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Num(f64),
    /// A string, unescaped.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object.
    Obj(Vec<(String, Json)>),
}

/// Nesting deeper than this is refused.
const MAX_DEPTH: usize = 256;

impl Json {
    /// Parses a whole document (surrounding whitespace allowed); `None` if it is not valid JSON.
    pub fn parse(text: &str) -> Option<Json> {
        let mut p = Parser { s: text.as_bytes(), at: 0 };
        let v = p.value(0)?;
        p.ws();
        (p.at == p.s.len()).then_some(v)
    }

    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The elements of an array (empty for anything else).
    pub fn items(&self) -> &[Json] {
        match self {
            Json::Arr(a) => a,
            _ => &[],
        }
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A non-negative integer number.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Num(n) if *n >= 0.0 && n.fract() == 0.0 && *n <= u64::MAX as f64 => Some(*n as u64),
            _ => None,
        }
    }

    /// The only member of a one-member object, as nft writes tagged values (`{"match": {...}}`).
    pub fn tagged(&self) -> Option<(&str, &Json)> {
        match self {
            Json::Obj(m) if m.len() == 1 => m.first().map(|(k, v)| (k.as_str(), v)),
            _ => None,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at.checked_add(word.len())?;
        (self.s.get(self.at..end)? == word).then(|| self.at = end)
    }

    fn value(&mut self, depth: usize) -> Option<Json> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        match self.peek()? {
            b'n' => self.eat(b"null").map(|_| Json::Null),
            b't' => self.eat(b"true").map(|_| Json::Bool(true)),
            b'f' => self.eat(b"false").map(|_| Json::Bool(false)),
            b'"' => self.string().map(Json::Str),
            b'[' => {
                self.at += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.at += 1;
                    return Some(Json::Arr(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.peek()? {
                        b',' => self.at += 1,
                        b']' => {
                            self.at += 1;
                            return Some(Json::Arr(items));
                        }
                        _ => return None,
                    }
                }
            }
            b'{' => {
                self.at += 1;
                let mut members = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.at += 1;
                    return Some(Json::Obj(members));
                }
                loop {
                    self.ws();
                    if self.peek()? != b'"' {
                        return None;
                    }
                    let key = self.string()?;
                    self.ws();
                    self.eat(b":")?;
                    members.push((key, self.value(depth + 1)?));
                    self.ws();
                    match self.peek()? {
                        b',' => self.at += 1,
                        b'}' => {
                            self.at += 1;
                            return Some(Json::Obj(members));
                        }
                        _ => return None,
                    }
                }
            }
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn number(&mut self) -> Option<Json> {
        let start = self.at;
        while matches!(self.peek(), Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')) {
            self.at += 1;
        }
        let text = std::str::from_utf8(self.s.get(start..self.at)?).ok()?;
        text.parse::<f64>().ok().filter(|n| n.is_finite()).map(Json::Num)
    }

    fn string(&mut self) -> Option<String> {
        self.eat(b"\"")?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = self.peek()?;
            self.at += 1;
            match c {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let e = self.peek()?;
                    self.at += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode()?,
                        _ => return None,
                    };
                    let mut tmp = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                }
                0..=0x1f => return None,
                _ => out.push(c),
            }
        }
    }

    /// `\uXXXX`, with a following `\uXXXX` low surrogate when the first is a high one.
    fn unicode(&mut self) -> Option<char> {
        let hi = self.hex4()?;
        if (0xd800..0xdc00).contains(&hi) {
            self.eat(b"\\u")?;
            let lo = self.hex4()?;
            if !(0xdc00..0xe000).contains(&lo) {
                return None;
            }
            return char::from_u32(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00));
        }
        char::from_u32(hi)
    }

    fn hex4(&mut self) -> Option<u32> {
        let end = self.at.checked_add(4)?;
        let text = std::str::from_utf8(self.s.get(self.at..end)?).ok()?;
        let v = u32::from_str_radix(text, 16).ok()?;
        self.at = end;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nft_shaped_documents() {
        let text = r#"{"nftables": [{"metainfo": {"json_schema_version": 1}},
            {"rule": {"family": "inet", "chain": "input", "handle": 7,
              "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}},
                                  "right": 5000}}, {"drop": null}]}}]}"#;
        let v = Json::parse(text).unwrap();
        let rule = v.get("nftables").unwrap().items()[1].get("rule").unwrap();
        assert_eq!(rule.get("handle").and_then(Json::as_u64), Some(7));
        let exprs = rule.get("expr").unwrap().items();
        let (tag, m) = exprs[0].tagged().unwrap();
        assert_eq!(tag, "match");
        assert_eq!(m.get("right").and_then(Json::as_u64), Some(5000));
        assert_eq!(exprs[1].tagged(), Some(("drop", &Json::Null)));
    }

    #[test]
    fn unescapes_strings() {
        assert_eq!(Json::parse(r#""a\"b\\c\u00e9\ud83d\ude00\n""#), Some(Json::Str("a\"b\\cé😀\n".into())));
        assert_eq!(Json::parse("[1.5, -2, true, false, null, {}]").unwrap().items().len(), 6);
    }

    #[test]
    fn refuses_malformed_text_without_panicking() {
        for s in [
            "",
            "{",
            "[1,",
            "[1 2]",
            "{\"a\" 1}",
            "{1: 2}",
            "\"\\x\"",
            "\"\\ud800\"",
            "nul",
            "1e999",
            "\"a",
            "[]]",
            "\"\u{1}\"",
        ] {
            assert_eq!(Json::parse(s), None, "{s:?}");
        }
        let deep = "[".repeat(100_000);
        assert_eq!(Json::parse(&deep), None);
        let nested = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(Json::parse(&nested).is_some());
    }
}
