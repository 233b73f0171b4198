//! A pull parser for one NDJSON line: the reader under the line rule (`rule`) and both passes of a conversion.
//!
//! It validates exactly what JSON (RFC 8259) requires: structure, string escapes (surrogate pairs
//! included), no control characters in strings, the number grammar, nothing after the value. It
//! hands out raw slices of the line (strings without their quotes, numbers as written) and never
//! builds a value. UTF-8 is checked for the whole line beforehand (`crate::check_utf8`), so it is not
//! checked here.
//!
//! Why not a general-purpose parser: profiles of a conversion showed string scanning and key steps
//! of the parser it replaced (jiter, byte-by-byte near the end of each string) as a third of all
//! work; FHIR lines are mostly short keys and codes, which this scans eight bytes at a time.

use std::fmt;

/// What the next value is, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peek {
    Null,
    True,
    False,
    String,
    Number,
    Array,
    Object,
}

/// What is wrong with a line's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonFault {
    ExpectedValue,
    EndedBeforeValue,
    BadLiteral,
    ControlCharacter,
    EndedInString,
    BadUnicodeEscape,
    LoneSurrogate,
    BadEscape,
    BadNumber,
    /// Nesting past [`MAX_DEPTH`].
    TooDeep,
    ExpectedKey,
    ExpectedColon,
    ExpectedCommaOrBrace,
    ExpectedCommaOrBracket,
    TrailingText,
}

impl JsonFault {
    /// In plain words, as reports show it.
    pub fn text(self) -> &'static str {
        match self {
            JsonFault::ExpectedValue => "expected a value",
            JsonFault::EndedBeforeValue => "the line ended where a value was expected",
            JsonFault::BadLiteral => "expected true, false or null",
            JsonFault::ControlCharacter => "a control character in a string",
            JsonFault::EndedInString => "the line ended inside a string",
            JsonFault::BadUnicodeEscape => "a bad \\u escape",
            JsonFault::LoneSurrogate => "a lone surrogate in a \\u escape",
            JsonFault::BadEscape => "a bad escape in a string",
            JsonFault::BadNumber => "a bad number",
            JsonFault::TooDeep => "nested too deeply",
            JsonFault::ExpectedKey => "expected a key in quotes",
            JsonFault::ExpectedColon => "expected ':' after a key",
            JsonFault::ExpectedCommaOrBrace => "expected ',' or '}' in an object",
            JsonFault::ExpectedCommaOrBracket => "expected ',' or ']' in an array",
            JsonFault::TrailingText => "more text after the value",
        }
    }
}

impl fmt::Display for JsonFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// Why a line is not valid JSON, and where (a byte offset in the line, from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError {
    pub what: JsonFault,
    pub at: usize,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at column {}", self.what, self.at + 1)
    }
}

impl std::error::Error for JsonError {}

/// Nesting deeper than this is refused: the walkers recurse, and a line of 100,000 `[` must not
/// overflow a stack.
pub const MAX_DEPTH: usize = 256;

/// The small steps (`object_next`, `array_next`, …) are `#[inline(always)]`: callers are in other crates
/// (the line rule's walker, the converter's pass two), and left to the inliner they stayed calls (a tenth of
/// pass one).
pub struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    depth: usize,
    /// Whether the last string read held an escape (so its raw bytes are not its text).
    escaped: bool,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// A mask with the high bit set in the byte of the first `"`, `\` or control character in `w`
/// (little endian), and perhaps in later bytes too; only the lowest set byte is reliable.
#[inline(always)]
fn special_bytes(w: u64) -> u64 {
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    zero(w ^ (ONES * u64::from(b'"')))
        | zero(w ^ (ONES * u64::from(b'\\')))
        | (w.wrapping_sub(ONES * 0x20) & !w & HIGHS)
}

/// Where the first `"`, `\\` or control character is at or after `i` (or the end): sixteen bytes at a
/// time with SSE2 (part of every x86-64), then eight at a time, then one by one.
#[inline(always)]
fn find_special(data: &[u8], mut i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        };
        while i + 16 <= data.len() {
            // SAFETY: SSE2 is part of x86-64; the load reads data[i..i + 16], in bounds (checked above).
            let mask = unsafe {
                let v = _mm_loadu_si128(data.as_ptr().add(i).cast::<__m128i>());
                let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
                let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
                // v <= 0x1f, unsigned: max(v, 0x1f) == 0x1f.
                let control = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
                _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control))
            };
            if mask != 0 {
                return i + mask.trailing_zeros() as usize;
            }
            i += 16;
        }
    }
    while let Some(word) = data.get(i..i + 8) {
        let mask = special_bytes(u64::from_le_bytes(word.try_into().expect("8 bytes")));
        if mask != 0 {
            return i + (mask.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = data.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

fn hex_value(data: &[u8], at: usize) -> Option<u32> {
    let digits = data.get(at..at + 4)?;
    let mut v = 0u32;
    for &d in digits {
        v = v * 16 + (d as char).to_digit(16)?;
    }
    Some(v)
}

impl<'a> Parser<'a> {
    pub fn new(data: &'a [u8]) -> Parser<'a> {
        Parser { data, pos: 0, depth: 0, escaped: false }
    }

    /// Whether the last string (or key) read held an escape: its raw bytes are then not its text.
    pub fn last_escaped(&self) -> bool {
        self.escaped
    }

    /// Byte offset of the next unread byte.
    pub fn index(&self) -> usize {
        self.pos
    }

    /// The text from `start` to the current position.
    pub fn slice_from(&self, start: usize) -> &'a [u8] {
        &self.data[start..self.pos]
    }

    fn error<T>(&self, what: JsonFault) -> Result<T, JsonError> {
        Err(JsonError { what, at: self.pos.min(self.data.len()) })
    }

    #[inline(always)]
    fn skip_whitespace(&mut self) {
        while let Some(&b) = self.data.get(self.pos) {
            if b > b' ' || !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return;
            }
            self.pos += 1;
        }
    }

    /// What the next value is; whitespace before it is skipped.
    #[inline]
    pub fn peek(&mut self) -> Result<Peek, JsonError> {
        self.skip_whitespace();
        Ok(match self.data.get(self.pos) {
            Some(b'"') => Peek::String,
            Some(b'{') => Peek::Object,
            Some(b'[') => Peek::Array,
            Some(b'-' | b'0'..=b'9') => Peek::Number,
            Some(b't') => Peek::True,
            Some(b'f') => Peek::False,
            Some(b'n') => Peek::Null,
            Some(_) => return self.error(JsonFault::ExpectedValue),
            None => return self.error(JsonFault::EndedBeforeValue),
        })
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), JsonError> {
        if self.data.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            self.error(JsonFault::BadLiteral)
        }
    }

    pub fn known_null(&mut self) -> Result<(), JsonError> {
        self.literal(b"null")
    }

    pub fn known_bool(&mut self, peek: Peek) -> Result<bool, JsonError> {
        if peek == Peek::True { self.literal(b"true").map(|()| true) } else { self.literal(b"false").map(|()| false) }
    }

    /// A string's raw contents (escapes left as written, checked); the quote is next.
    #[inline]
    pub fn known_bytes(&mut self) -> Result<&'a [u8], JsonError> {
        let start = self.pos + 1;
        let mut i = start;
        let data = self.data;
        self.escaped = false;
        loop {
            i = find_special(data, i);
            match data.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(&data[start..i]);
                }
                Some(b'\\') => {
                    self.escaped = true;
                    i = self.escape(i)?;
                }
                Some(_) => {
                    self.pos = i;
                    return self.error(JsonFault::ControlCharacter);
                }
                None => {
                    self.pos = i;
                    return self.error(JsonFault::EndedInString);
                }
            }
        }
    }

    /// Checks the escape at `at` (a backslash); returns where the string goes on.
    fn escape(&mut self, at: usize) -> Result<usize, JsonError> {
        let fail = |p: &mut Self, what| {
            p.pos = at;
            p.error(what)
        };
        match self.data.get(at + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(at + 2),
            Some(b'u') => {
                let Some(v) = hex_value(self.data, at + 2) else { return fail(self, JsonFault::BadUnicodeEscape) };
                match v {
                    0xD800..=0xDBFF => {
                        // A high surrogate must be followed by an escaped low one.
                        let low = (self.data.get(at + 6..at + 8) == Some(b"\\u"))
                            .then(|| hex_value(self.data, at + 8))
                            .flatten();
                        match low {
                            Some(0xDC00..=0xDFFF) => Ok(at + 12),
                            _ => fail(self, JsonFault::LoneSurrogate),
                        }
                    }
                    0xDC00..=0xDFFF => fail(self, JsonFault::LoneSurrogate),
                    _ => Ok(at + 6),
                }
            }
            _ => fail(self, JsonFault::BadEscape),
        }
    }

    /// A number as written, checked against the JSON grammar.
    pub fn known_number_bytes(&mut self) -> Result<&'a [u8], JsonError> {
        let data = self.data;
        let start = self.pos;
        let mut i = start;
        let digits = |i: &mut usize| {
            let from = *i;
            while data.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i - from
        };
        if data.get(i) == Some(&b'-') {
            i += 1;
        }
        match data.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                digits(&mut i);
            }
            _ => {
                self.pos = i;
                return self.error(JsonFault::BadNumber);
            }
        }
        if data.get(i) == Some(&b'.') {
            i += 1;
            if digits(&mut i) == 0 {
                self.pos = i;
                return self.error(JsonFault::BadNumber);
            }
        }
        if matches!(data.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(data.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if digits(&mut i) == 0 {
                self.pos = i;
                return self.error(JsonFault::BadNumber);
            }
        }
        self.pos = i;
        Ok(&data[start..i])
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH { self.error(JsonFault::TooDeep) } else { Ok(()) }
    }

    #[inline(always)]
    fn key(&mut self) -> Result<&'a [u8], JsonError> {
        if self.data.get(self.pos) != Some(&b'"') {
            return self.error(JsonFault::ExpectedKey);
        }
        let key = self.known_bytes()?;
        self.skip_whitespace();
        if self.data.get(self.pos) != Some(&b':') {
            return self.error(JsonFault::ExpectedColon);
        }
        self.pos += 1;
        Ok(key)
    }

    /// Opens the object whose `{` is next; its first key (raw, as in [`Self::known_bytes`]), or None
    /// when it is empty (and closed).
    #[inline(always)]
    pub fn object_first(&mut self) -> Result<Option<&'a [u8]>, JsonError> {
        self.enter()?;
        self.pos += 1;
        self.skip_whitespace();
        if self.data.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(None);
        }
        self.key().map(Some)
    }

    /// After a member's value: the next key, or None at the object's end (closed).
    #[inline(always)]
    pub fn object_next(&mut self) -> Result<Option<&'a [u8]>, JsonError> {
        self.skip_whitespace();
        match self.data.get(self.pos) {
            Some(b',') => {
                self.pos += 1;
                self.skip_whitespace();
                self.key().map(Some)
            }
            Some(b'}') => {
                self.pos += 1;
                self.depth -= 1;
                Ok(None)
            }
            _ => self.error(JsonFault::ExpectedCommaOrBrace),
        }
    }

    /// Opens the array whose `[` is next; its first item's kind, or None when it is empty (and closed).
    #[inline(always)]
    pub fn array_first(&mut self) -> Result<Option<Peek>, JsonError> {
        self.enter()?;
        self.pos += 1;
        self.skip_whitespace();
        if self.data.get(self.pos) == Some(&b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(None);
        }
        self.peek().map(Some)
    }

    /// After an item: the next item's kind, or None at the array's end (closed).
    #[inline(always)]
    pub fn array_next(&mut self) -> Result<Option<Peek>, JsonError> {
        self.skip_whitespace();
        match self.data.get(self.pos) {
            Some(b',') => {
                self.pos += 1;
                self.peek().map(Some)
            }
            Some(b']') => {
                self.pos += 1;
                self.depth -= 1;
                Ok(None)
            }
            _ => self.error(JsonFault::ExpectedCommaOrBracket),
        }
    }

    /// Passes over the value whose first byte is next, checking it.
    pub fn known_skip(&mut self, peek: Peek) -> Result<(), JsonError> {
        match peek {
            Peek::Null => self.known_null(),
            Peek::True | Peek::False => self.known_bool(peek).map(|_| ()),
            Peek::String => self.known_bytes().map(|_| ()),
            Peek::Number => self.known_number_bytes().map(|_| ()),
            Peek::Array => {
                let mut next = self.array_first()?;
                while let Some(p) = next {
                    self.known_skip(p)?;
                    next = self.array_next()?;
                }
                Ok(())
            }
            Peek::Object => {
                let mut key = self.object_first()?;
                while key.is_some() {
                    let p = self.peek()?;
                    self.known_skip(p)?;
                    key = self.object_next()?;
                }
                Ok(())
            }
        }
    }

    /// Only whitespace may follow the value.
    pub fn finish(&mut self) -> Result<(), JsonError> {
        self.skip_whitespace();
        if self.pos < self.data.len() { self.error(JsonFault::TrailingText) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether our parser takes `text` as one valid JSON value.
    fn accepts(text: &[u8]) -> bool {
        let mut p = Parser::new(text);
        p.peek().and_then(|k| p.known_skip(k)).and_then(|()| p.finish()).is_ok()
    }

    /// Whether serde_json does, decoding strings (so lone surrogates are refused, as they are here).
    fn serde_accepts(text: &[u8]) -> bool {
        serde_json::from_slice::<serde_json::Value>(text).is_ok()
    }

    #[test]
    fn agrees_with_serde_json_on_edge_cases() {
        let cases: &[&str] = &[
            "{}",
            "[]",
            "[1,2]",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" : 1 , \"b\":[ ] }",
            " {\"a\":1} ",
            "{\"a\":1}x",
            "0",
            "-0",
            "01",
            "-",
            "1.",
            "1.5",
            ".5",
            "1e5",
            "1E+5",
            "1e-5",
            "1e",
            "1e+",
            "-1.25e-3",
            "2.",
            "00",
            "\"\"",
            "\"abc\"",
            "\"a\\\"b\"",
            "\"\\u00e9\"",
            "\"\\u00g9\"",
            "\"\\x\"",
            "\"\\/\"",
            "\"a\tb\"",
            "\"\\ud83d\\ude00\"",
            "\"\\ud83d\"",
            "\"\\ude00\"",
            "\"\\ud83dx\"",
            "\"\\ud83d\\u0041\"",
            "\"abc",
            "\"abcdefghijklmnopqrstuvwxyz\"",
            "\"abcdefgh\\\\ijklmnop\"",
            "\"abcdefghijklmn\u{1}op\"",
            "true",
            "false",
            "null",
            "nul",
            "tru",
            "nulll",
            "[true,false,null]",
            "{\"a\"}",
            "{\"a\":}",
            "{a:1}",
            "{\"a\":1 \"b\":2}",
            "[1 2]",
            "",
            " ",
            "[",
            "{",
            "{\"a\":[{\"b\":[1,{\"c\":\"d\"}]}]}",
            "[[[]]]",
            "{\"é\":\"ü\"}",
            "1 2",
            "\"\\u12\"",
            "[-]",
            "[1e5e5]",
            "{\"a\":1}}",
            "[]]",
        ];
        for c in cases {
            assert_eq!(accepts(c.as_bytes()), serde_accepts(c.as_bytes()), "{c:?}");
        }
    }

    #[test]
    fn agrees_with_serde_json_on_every_cut_and_changed_byte() {
        let line = r#"{"resourceType":"Observation","id":"a-1","valueQuantity":{"value":-1.25e3,"unit":"mm[Hg]"},"component":[{"code":{"text":"\u00e9\"\\x"}},{"flag":true,"n":null}],"note":"abcdefghijklmnopqrstuvwxyz0123456789"}"#.as_bytes();
        assert!(accepts(line));
        for cut in 0..line.len() {
            assert_eq!(accepts(&line[..cut]), serde_accepts(&line[..cut]), "cut at {cut}");
        }
        for at in 0..line.len() {
            for b in [b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'0', b'-', b'.', b'e', b' ', b'x', 0x01, b'u'] {
                let mut changed = line.to_vec();
                changed[at] = b;
                assert_eq!(accepts(&changed), serde_accepts(&changed), "{}", String::from_utf8_lossy(&changed));
            }
        }
    }

    #[test]
    fn hands_out_raw_slices_and_refuses_deep_nesting() {
        let mut p = Parser::new(br#"{"a\"b":"x\ny","n":-1.50e2}"#);
        assert_eq!(p.object_first().unwrap(), Some(&br#"a\"b"#[..]));
        assert!(p.last_escaped());
        assert_eq!(p.peek().unwrap(), Peek::String);
        assert_eq!(p.known_bytes().unwrap(), br"x\ny");
        assert!(p.last_escaped());
        assert_eq!(p.object_next().unwrap(), Some(&b"n"[..]));
        assert!(!p.last_escaped());
        assert_eq!(p.peek().unwrap(), Peek::Number);
        assert_eq!(p.known_number_bytes().unwrap(), b"-1.50e2");
        assert_eq!(p.object_next().unwrap(), None);
        p.finish().unwrap();

        let deep = "[".repeat(100_000);
        let mut p = Parser::new(deep.as_bytes());
        let e = p.peek().and_then(|k| p.known_skip(k)).unwrap_err();
        assert_eq!(e.what, JsonFault::TooDeep);
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(accepts(ok.as_bytes()));
    }
}
