//! Strict JSON checks in one pass over the text, without building a tree. A syntax-only check
//! (serde_json's `RawValue`, or skipping a value) lets through values that strict receivers
//! (Segment's API, Go's `encoding/json`, serde_json's `Value`) refuse with a 400 for the whole
//! batch: numbers outside the double range (`1e400`), lone UTF-16 surrogate escapes (`"\ud800"`)
//! and duplicate keys. Every path that sends user JSON goes through here (docs/design.md §4, issue 12).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// Deepest nesting accepted, as serde_json's own parser.
const MAX_DEPTH: usize = 128;

/// The text is not JSON (or nests deeper than [`MAX_DEPTH`]): nothing in it can be salvaged.
/// Small and `Copy`, so the scan's results stay in registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxError {
    pub what: &'static str,
    /// Byte offset, `None` when the whole text is at fault.
    pub at: Option<usize>,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.at {
            Some(at) => write!(f, "{} at byte {at}", self.what),
            None => f.write_str(self.what),
        }
    }
}

/// A string's content between its quotes, as written.
#[derive(Clone, Copy, Default)]
struct Str<'a> {
    raw: &'a str,
    escaped: bool,
}

impl<'a> Str<'a> {
    fn decoded(self) -> Cow<'a, str> {
        if self.escaped {
            Cow::Owned(unescape(self.raw))
        } else {
            Cow::Borrowed(self.raw)
        }
    }

    fn same(self, other: Str<'_>) -> bool {
        if !self.escaped && !other.escaped {
            self.raw == other.raw
        } else {
            self.decoded() == other.decoded()
        }
    }
}

/// One member of an object: its key, its value's text, and what is wrong with it, if anything.
struct Member<'a> {
    key: Str<'a>,
    value: &'a str,
    fault: Option<String>,
    /// The key already appeared earlier in this object.
    duplicate: bool,
}

struct Scanner<'a> {
    text: &'a str,
    b: &'a [u8],
    pos: usize,
    depth: usize,
    /// The first value-level problem since it was last taken; syntax goes on being checked.
    fault: Option<String>,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Scanner<'a> {
        Scanner { text, b: text.as_bytes(), pos: 0, depth: 0, fault: None }
    }

    #[cold]
    fn syntax<T>(&self, what: &'static str) -> Result<T, SyntaxError> {
        Err(SyntaxError { what, at: Some(self.pos) })
    }

    fn note(&mut self, fault: String) {
        if self.fault.is_none() {
            self.fault = Some(fault);
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.pos) {
            self.pos += 1;
        }
    }

    fn at_end(&mut self) -> Result<(), SyntaxError> {
        self.ws();
        if self.pos == self.b.len() {
            Ok(())
        } else {
            self.syntax("trailing characters")
        }
    }

    fn value(&mut self) -> Result<(), SyntaxError> {
        self.ws();
        match self.b.get(self.pos) {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(drop),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(_) => self.syntax("expected a JSON value"),
            None => self.syntax("unexpected end of input"),
        }
    }

    fn literal(&mut self, word: &str) -> Result<(), SyntaxError> {
        if self.b[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            self.syntax("expected a JSON value")
        }
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.syntax("nesting deeper than 128 levels");
        }
        self.pos += 1;
        Ok(())
    }

    fn array(&mut self) -> Result<(), SyntaxError> {
        self.enter()?;
        self.ws();
        if self.b.get(self.pos) == Some(&b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.value()?;
            self.ws();
            match self.b.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => break,
                _ => return self.syntax("expected ',' or ']'"),
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(())
    }

    /// A nested object: a bad member makes the whole value faulty.
    fn object(&mut self) -> Result<(), SyntaxError> {
        self.members(|s, m| {
            if let Some(fault) = m.fault {
                s.note(fault);
            } else if m.duplicate {
                s.note(format!("duplicate key {:?}", m.key.decoded()));
            }
        })
    }

    /// Scans the object at `pos`, handing each member to `each` once its value is scanned. The
    /// first eight keys are compared in place; a larger object also keeps a set.
    fn members(&mut self, mut each: impl FnMut(&mut Self, Member<'a>)) -> Result<(), SyntaxError> {
        self.enter()?;
        let mut first: [Str<'a>; 8] = [Str::default(); 8];
        let mut count = 0usize;
        let mut more: Option<HashSet<Cow<'a, str>>> = None;
        self.ws();
        if self.b.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.b.get(self.pos) != Some(&b'"') {
                return self.syntax("expected a string key");
            }
            let outer = self.fault.take();
            let key = self.string()?;
            self.ws();
            if self.b.get(self.pos) != Some(&b':') {
                return self.syntax("expected ':'");
            }
            self.pos += 1;
            self.ws();
            let start = self.pos;
            self.value()?;
            let value = &self.text[start..self.pos];
            let fault = std::mem::replace(&mut self.fault, outer);
            let mut duplicate = first[..count.min(8)].iter().any(|k| k.same(key));
            if count >= 8 {
                duplicate |= !more.get_or_insert_with(HashSet::new).insert(key.decoded());
            } else {
                first[count] = key;
            }
            count += 1;
            each(self, Member { key, value, fault, duplicate });
            self.ws();
            match self.b.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => break,
                _ => return self.syntax("expected ',' or '}'"),
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(())
    }

    /// The string at `pos` (a `"`); leaves `pos` after the closing quote.
    #[inline(always)]
    fn string(&mut self) -> Result<Str<'a>, SyntaxError> {
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        loop {
            // Plain bytes first, in a tight loop: most strings have nothing to look at.
            let rest = &self.b[self.pos..];
            let plain = rest.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20).unwrap_or(rest.len());
            self.pos += plain;
            match self.b.get(self.pos) {
                Some(b'"') => {
                    let s = Str { raw: &self.text[start..self.pos], escaped };
                    self.pos += 1;
                    return Ok(s);
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                Some(_) => return self.syntax("control character in a string"),
                None => return self.syntax("unterminated string"),
            }
        }
    }

    #[inline(never)]
    fn escape(&mut self) -> Result<(), SyntaxError> {
        match self.b.get(self.pos + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 2;
                Ok(())
            }
            Some(b'u') => {
                let unit = self.hex4(self.pos + 2)?;
                self.pos += 6;
                let lone = match unit {
                    0xD800..=0xDBFF => {
                        let low = if self.b[self.pos..].starts_with(b"\\u") { self.hex4(self.pos + 2)? } else { 0 };
                        if (0xDC00..=0xDFFF).contains(&low) {
                            self.pos += 6;
                            false
                        } else {
                            true
                        }
                    }
                    0xDC00..=0xDFFF => true,
                    _ => false,
                };
                if lone {
                    self.note(format!("lone surrogate escape \\u{unit:04x} (not valid Unicode) at byte {}", self.pos - 6));
                }
                Ok(())
            }
            _ => self.syntax("invalid escape in a string"),
        }
    }

    fn hex4(&self, at: usize) -> Result<u16, SyntaxError> {
        let digits = self.b.get(at..at + 4).and_then(|d| std::str::from_utf8(d).ok());
        match digits.and_then(|d| u16::from_str_radix(d, 16).ok()) {
            Some(unit) if digits.is_some_and(|d| d.bytes().all(|b| b.is_ascii_hexdigit())) => Ok(unit),
            _ => Err(SyntaxError { what: "invalid \\u escape", at: Some(at) }),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.b.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// RFC 8259 number; parsed as a double only when it could overflow (an exponent, or more
    /// than 308 integer digits), so the common case costs one pass over its digits.
    fn number(&mut self) -> Result<(), SyntaxError> {
        let start = self.pos;
        if self.b[self.pos] == b'-' {
            self.pos += 1;
        }
        let integer_digits = match self.b.get(self.pos) {
            Some(b'0') => {
                self.pos += 1;
                1
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return self.syntax("invalid number"),
        };
        if self.b.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return self.syntax("invalid number");
            }
        }
        let mut exponent = false;
        if let Some(b'e' | b'E') = self.b.get(self.pos) {
            exponent = true;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.b.get(self.pos) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return self.syntax("invalid number");
            }
        }
        if exponent || integer_digits > 308 {
            let text = &self.text[start..self.pos];
            if !text.parse::<f64>().is_ok_and(f64::is_finite) {
                let shown: String = text.chars().take(40).collect();
                let more = if text.len() > 40 { "…" } else { "" };
                self.note(format!("number {shown}{more} is outside the double range at byte {start}"));
            }
        }
        Ok(())
    }
}

/// Decodes a string's content (already checked); a lone surrogate becomes U+FFFD.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let esc = &rest[i + 1..];
        let (ch, used) = match esc.as_bytes().first() {
            Some(b'b') => ('\u{8}', 1),
            Some(b'f') => ('\u{c}', 1),
            Some(b'n') => ('\n', 1),
            Some(b'r') => ('\r', 1),
            Some(b't') => ('\t', 1),
            Some(b'u') => {
                let unit = |s: &str| s.get(1..5).and_then(|h| u32::from_str_radix(h, 16).ok()).unwrap_or(0xFFFD);
                let hi = unit(esc);
                if (0xD800..0xDC00).contains(&hi) && esc.get(5..7) == Some("\\u") {
                    let lo = unit(&esc[6..]);
                    if (0xDC00..0xE000).contains(&lo) {
                        (char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)).unwrap_or('\u{FFFD}'), 11)
                    } else {
                        ('\u{FFFD}', 5)
                    }
                } else {
                    (char::from_u32(hi).unwrap_or('\u{FFFD}'), 5)
                }
            }
            Some(&c) => (c as char, 1),
            None => break,
        };
        out.push(ch);
        rest = &esc[used.min(esc.len())..];
    }
    out.push_str(rest);
    out
}

/// Strictly checks a whole JSON text: `Err` names the first problem (syntax or value).
#[cfg(test)]
pub fn check(text: &str) -> Result<(), String> {
    let mut s = Scanner::new(text);
    s.value().map_err(|e| e.to_string())?;
    s.at_end().map_err(|e| e.to_string())?;
    s.fault.map_or(Ok(()), Err)
}

/// The members of a top-level JSON object, in order, after a strict check of the whole text:
/// (decoded key, the value's text as written). `Err` names the first problem.
pub fn object_members(text: &str) -> Result<Vec<(Cow<'_, str>, &str)>, String> {
    let mut s = Scanner::new(text);
    s.ws();
    if s.b.get(s.pos) != Some(&b'{') {
        return Err("must be a JSON object".into());
    }
    let mut out = Vec::new();
    s.members(|s, m| {
        if let Some(fault) = m.fault {
            s.note(fault);
        } else if m.duplicate {
            s.note(format!("duplicate key {:?}", m.key.decoded()));
        }
        out.push((m.key.decoded(), m.value));
    })
    .map_err(|e| e.to_string())?;
    s.at_end().map_err(|e| e.to_string())?;
    s.fault.map_or(Ok(out), Err)
}

/// The text of a JSON string value (as [`object_members`] returns it), decoded; `None` for any
/// other kind of value.
pub fn string_value(value: &str) -> Option<Cow<'_, str>> {
    let inner = value.strip_prefix('"')?.strip_suffix('"')?;
    Some(if inner.contains('\\') { Cow::Owned(unescape(inner)) } else { Cow::Borrowed(inner) })
}

/// Appends `value` (valid JSON) without the whitespace between tokens.
pub fn write_minified(value: &str, out: &mut Vec<u8>) {
    let b = value.as_bytes();
    let (mut i, mut from) = (0, 0);
    let mut in_string = false;
    while i < b.len() {
        match b[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            b' ' | b'\t' | b'\n' | b'\r' if !in_string => {
                out.extend_from_slice(&b[from..i]);
                from = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.extend_from_slice(&b[from..]);
}

/// User attributes ready to send: the members a strict receiver would refuse are dropped, the
/// rest kept exactly as written.
#[derive(Debug, PartialEq, Eq)]
pub struct Attributes<'a> {
    /// `None` for `null`, `{}`, or when every member was dropped.
    pub text: Option<Cow<'a, str>>,
    /// Members dropped: a value out of the double range or with a lone surrogate (at any depth),
    /// or an earlier duplicate of a key (the last one is kept, as lenient parsers and the SDKs'
    /// own attribute maps do).
    pub dropped: u32,
    /// Why the first dropped member was dropped.
    pub problem: Option<String>,
}

/// Checks user attributes (a JSON object or `null`) in one pass; only when a member must be
/// dropped does a second pass rebuild the object without it. `Err` when the text is not JSON or
/// not an object: then nothing in it can be trusted.
pub fn attributes(text: &str) -> Result<Attributes<'_>, SyntaxError> {
    let mut s = Scanner::new(text);
    s.ws();
    let start = s.pos;
    match s.b.get(s.pos) {
        Some(b'{') => {}
        Some(b'n') => {
            s.literal("null")?;
            s.at_end()?;
            return Ok(Attributes { text: None, dropped: 0, problem: None });
        }
        _ => return Err(SyntaxError { what: "must be a JSON object", at: None }),
    }
    let (mut count, mut dirty) = (0u32, false);
    s.members(|_, m| {
        count += 1;
        dirty |= m.fault.is_some() || m.duplicate;
    })?;
    let end = s.pos;
    s.at_end()?;
    if !dirty {
        let text = (count > 0).then_some(Cow::Borrowed(&text[start..end]));
        return Ok(Attributes { text, dropped: 0, problem: None });
    }
    rebuild(text, start)
}

/// The slow path of [`attributes`]: the text is known to be a well-formed object.
fn rebuild(text: &str, start: usize) -> Result<Attributes<'_>, SyntaxError> {
    let mut s = Scanner::new(text);
    s.pos = start;
    let mut members = Vec::new();
    s.members(|_, m| members.push(m))?;
    let mut last: HashMap<Cow<'_, str>, usize> = HashMap::new();
    for (i, m) in members.iter().enumerate() {
        last.insert(m.key.decoded(), i);
    }
    let mut out = String::from("{");
    let (mut dropped, mut problem) = (0u32, None);
    for (i, m) in members.iter().enumerate() {
        let why = match &m.fault {
            Some(fault) => Some(fault.clone()),
            None if last[&m.key.decoded()] != i => Some("the key appears more than once; the last value is kept".into()),
            None => None,
        };
        match why {
            Some(why) => {
                dropped += 1;
                problem.get_or_insert_with(|| format!("attribute {:?} dropped: {why}", m.key.decoded()));
            }
            None => {
                if out.len() > 1 {
                    out.push(',');
                }
                out.push('"');
                out.push_str(m.key.raw);
                out.push_str("\":");
                out.push_str(m.value);
            }
        }
    }
    out.push('}');
    let text = (out.len() > 2).then_some(Cow::Owned(out));
    Ok(Attributes { text, dropped, problem })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn agrees_with_serde_json_value_on_syntax_and_values() {
        let cases = [
            "{}", "[]", "null", "true", "0", "-0", "1.5e3", "-12.25E-2", "\"a\\u00e9\\ud83d\\ude00\"", "[1,[2,{\"a\":[]}]]",
            " {\"a\" : 1 , \"b\":[ ]} ", "{\"a\":1,}", "[1,]", "01", "1.", ".5", "1e", "+1", "tru", "nul", "\"\\x\"", "\"a\tb\"",
            "{\"a\" 1}", "{1:2}", "[", "\"abc", "1 2", "{\"a\":1}}", "\"\\u12G4\"", "1e400", "-1e400", "1e-400", "\"\\ud800\"",
            "\"\\udc00x\"", "\"\\ud800\\u0041\"", "123456789012345678901234567890", "\"\\/\"", "",
        ];
        for text in cases {
            let ours = check(text).is_ok();
            let serde = serde_json::from_str::<serde_json::Value>(text).is_ok();
            assert_eq!(ours, serde, "{text:?}: ours {:?}", check(text));
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(check(&deep).unwrap_err().contains("nesting"));
        let big = format!("{}0", "9".repeat(309));
        assert!(check(&big).unwrap_err().contains("double range"));
        assert!(check(&"9".repeat(308)).is_ok());
    }

    #[test]
    fn duplicate_keys_at_any_depth_escapes_included() {
        assert!(check(r#"{"a":1,"a":2}"#).unwrap_err().contains("duplicate key \"a\""));
        assert!(check(r#"{"x":{"a":1,"\u0061":2}}"#).unwrap_err().contains("duplicate"));
        assert!(check(r#"[{"a":1},{"a":1}]"#).is_ok());
        let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        assert!(check(&format!("{{{}}}", many.join(","))).is_ok());
        assert!(check(&format!("{{{},\"k3\":0}}", many.join(","))).unwrap_err().contains("k3"));
        assert!(check(&format!("{{{},\"k39\":0}}", many.join(","))).unwrap_err().contains("k39"));
    }

    #[test]
    fn attributes_drop_only_the_bad_members() {
        let ok = attributes(r#" {"plan":"pro","n":12345678901234567890123} "#).unwrap();
        assert_eq!(ok.text.as_deref(), Some(r#"{"plan":"pro","n":12345678901234567890123}"#));
        assert!(matches!(ok.text, Some(Cow::Borrowed(_))));
        assert_eq!(attributes("null").unwrap().text, None);
        assert_eq!(attributes("{ }").unwrap().text, None);
        let a = attributes(r#"{"big":1e400,"plan":"pro","s":"\ud800","deep":{"x":[-1E999]},"k":1,"k":2}"#).unwrap();
        assert_eq!(a.text.as_deref(), Some(r#"{"plan":"pro","k":2}"#));
        assert_eq!(a.dropped, 4);
        assert!(a.problem.unwrap().contains("\"big\""));
        let all = attributes(r#"{"a":1e999}"#).unwrap();
        assert_eq!((all.text, all.dropped), (None, 1));
        for bad in ["[1]", "\"s\"", "{", "{\"a\":1} x", "nulls", "{\"a\":01}"] {
            assert!(attributes(bad).is_err(), "{bad}");
        }
        let out = attributes(r#"{"a":1,"b":1e400}"#).unwrap().text.unwrap();
        assert!(check(&out).is_ok());
    }

    #[test]
    fn members_strings_and_minify() {
        let m = object_members(r#"{"type":"track","n":1.10,"p":{"a" : [1, "x y"]}}"#).unwrap();
        assert_eq!(m.iter().map(|(k, _)| k.as_ref()).collect::<Vec<_>>(), ["type", "n", "p"]);
        assert_eq!(m[1].1, "1.10");
        assert_eq!(string_value(m[0].1).as_deref(), Some("track"));
        assert_eq!(string_value(r#""a\"\u00e9\ud83d\ude00""#).as_deref(), Some("a\"é😀"));
        assert_eq!(string_value("12"), None);
        let mut out = Vec::new();
        write_minified(m[2].1, &mut out);
        assert_eq!(out, br#"{"a":[1,"x y"]}"#);
        assert!(object_members("[1]").is_err());
        assert!(object_members(r#"{"a":1,"a":2}"#).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..Default::default() })]

        /// On token soup, the scanner agrees with serde_json's `Value` except that it also refuses
        /// duplicate keys; and cleaned attributes always pass both.
        #[test]
        fn agrees_with_serde_json_on_random_token_soup(tokens in prop::collection::vec(prop_oneof![
            Just("{"), Just("}"), Just("["), Just("]"),
            Just(","), Just(":"), Just("\"a\""), Just("\"\\u0061\""),
            Just("\"\\ud800\""), Just("\"\\ud83d\\ude00\""), Just("1"),
            Just("1e400"), Just("-"), Just("0"), Just("."),
            Just("e5"), Just("true"), Just("null"), Just(" "),
            Just("\"b\""), Just("\"\\n\""), Just("2.5E-3"),
        ], 0..24)) {
            let text = tokens.concat();
            let serde = serde_json::from_str::<serde_json::Value>(&text);
            match check(&text) {
                Ok(()) => prop_assert!(serde.is_ok(), "{}", text),
                Err(e) if serde.is_ok() => prop_assert!(e.contains("duplicate key"), "{}: {}", text, e),
                Err(_) => {}
            }
            if let Ok(a) = attributes(&text) {
                if let Some(out) = a.text {
                    prop_assert!(check(&out).is_ok(), "{} -> {}", text, out);
                    prop_assert!(out.starts_with('{'), "{}", out);
                }
            }
        }
    }
}
