//! The one rule for a line of a resource file, used by export verification, conversion and the preview.
//!
//! A line is a resource of type T when it is UTF-8, one JSON value (RFC 8259: escapes, surrogate pairs, no
//! control characters in strings, the number grammar, nothing after it) nested at most 256 deep, an object,
//! with no key twice in any object (JSON parsers disagree on which one wins), and a top-level `resourceType`
//! string equal to T. The first fault in the text is the one reported.
//!
//! The rule is one walker over the parser ([`walk_line`]) that tells a [`Visit`]or what it meets, so a caller
//! that wants more than a yes or no (the converter learning a schema) gets it in the same pass; [`check_line`]
//! is the walker with a visitor that only keeps the keys needed to find a duplicate.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::json::{JsonError, JsonFault, Parser, Peek};

/// Why a line is not a resource of its file's type. The Display is the plain sentence reports show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    /// Not UTF-8 from byte `at` (from 0).
    #[error("not valid UTF-8 (at byte {at})")]
    NotUtf8 { at: usize },
    /// Not JSON (a lone surrogate and a control character in a string are JSON faults too).
    #[error("not valid JSON: {0}")]
    NotJson(JsonError),
    /// Nested deeper than [`crate::json::MAX_DEPTH`]; `at` is a byte offset (from 0).
    #[error("not valid JSON: nested too deeply at column {}", .at + 1)]
    TooDeep { at: usize },
    /// Valid JSON, but an array, a string, a number…
    #[error("not a JSON object")]
    NotAnObject,
    #[error("no resourceType")]
    NoResourceType,
    /// `found` is None when the resourceType is not a string.
    #[error("resourceType is {}, expected \"{expected}\"", shown_type(.found))]
    WrongResourceType { found: Option<String>, expected: String },
    /// The same key twice in one object, at any depth.
    #[error("the key \"{key}\" appears twice")]
    DuplicateKey { key: String },
}

/// The walker's own result: a problem boxed, so every step of the recursion returns one word (a bare
/// `LineProblem` is seven).
type Walked<T> = Result<T, Box<LineProblem>>;

impl From<JsonError> for Box<LineProblem> {
    #[cold]
    fn from(e: JsonError) -> Self {
        Box::new(LineProblem::from(e))
    }
}

fn shown_type(found: &Option<String>) -> String {
    match found {
        Some(t) => format!("\"{t}\""),
        None => "not a string".into(),
    }
}

impl From<JsonError> for LineProblem {
    fn from(e: JsonError) -> Self {
        match e.what {
            JsonFault::TooDeep => LineProblem::TooDeep { at: e.at },
            _ => LineProblem::NotJson(e),
        }
    }
}

/// Checks `line` (one line as [`crate::lines`] gives it, not blank) against the rule for a file of
/// `expected_type`.
pub fn check_line(line: &[u8], expected_type: &str) -> Result<(), LineProblem> {
    let mut keys = Vec::new();
    walk_line(line, expected_type, &mut Check { keys: &mut keys })
}

/// Checks a whole line as UTF-8 at once (SIMD); the parser's slices of it are then valid too.
#[inline]
pub fn check_utf8(line: &[u8]) -> Result<&str, LineProblem> {
    // The fast check first; only a bad line pays for finding where it goes wrong (`compat` does that work on
    // every line: 2.4 % of `haul tables`' profile, against 1.9 %).
    match simdutf8::basic::from_utf8(line) {
        Ok(text) => Ok(text),
        Err(_) => simdutf8::compat::from_utf8(line).map_err(|e| LineProblem::NotUtf8 { at: e.valid_up_to() }),
    }
}

/// Whether a string's raw bytes hold an escape. Most keys and codes are short: a plain loop beats a call
/// into memchr there.
#[inline]
pub fn has_escape(raw: &[u8]) -> bool {
    if raw.len() < 32 { raw.contains(&b'\\') } else { memchr::memchr(b'\\', raw).is_some() }
}

/// A string's text from its raw bytes as the parser hands them out (escapes checked): borrowed when it has no
/// escape. (Unchecked input does not panic: a bad escape is kept as written, a lone surrogate becomes U+FFFD.)
pub fn unescaped(raw: &[u8]) -> Cow<'_, [u8]> {
    if !has_escape(raw) {
        return Cow::Borrowed(raw);
    }
    fn hex4(raw: &[u8], at: usize) -> Option<u32> {
        let digits = raw.get(at..at + 4)?;
        digits.iter().try_fold(0u32, |v, &d| Some(v * 16 + (d as char).to_digit(16)?))
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let simple = match raw.get(i + 1) {
            Some(b'"') => Some(b'"'),
            Some(b'\\') => Some(b'\\'),
            Some(b'/') => Some(b'/'),
            Some(b'b') => Some(0x08),
            Some(b'f') => Some(0x0c),
            Some(b'n') => Some(b'\n'),
            Some(b'r') => Some(b'\r'),
            Some(b't') => Some(b'\t'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            i += 2;
            continue;
        }
        let Some(high) = (raw.get(i + 1) == Some(&b'u')).then(|| hex4(raw, i + 2)).flatten() else {
            out.push(b);
            i += 1;
            continue;
        };
        let low = (raw.get(i + 6..i + 8) == Some(b"\\u")).then(|| hex4(raw, i + 8)).flatten();
        let (code, used) = match (high, low) {
            (0xD800..=0xDBFF, Some(low @ 0xDC00..=0xDFFF)) => (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00), 12),
            _ => (high, 6),
        };
        let c = char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER);
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        i += used;
    }
    Cow::Owned(out)
}

/// Members seen in one object, by the number a [`VisitObject`] gave them, to find a key given twice. A bit
/// set: the first 64 in a word, the rest (objects with many keys) in words allocated as needed.
#[derive(Default)]
pub struct SeenKeys {
    low: u64,
    high: Vec<u64>,
}

impl SeenKeys {
    /// Records `index`; false when it was already there.
    #[inline]
    pub fn insert(&mut self, index: usize) -> bool {
        let (word, bit) = if index < 64 {
            (&mut self.low, index)
        } else {
            let at = index / 64 - 1;
            if self.high.len() <= at {
                self.high.resize(at + 1, 0);
            }
            (&mut self.high[at], index % 64)
        };
        let mask = 1u64 << bit;
        let fresh = *word & mask == 0;
        *word |= mask;
        fresh
    }
}

/// What the walker tells about one value of a line (`'j`: the line). Scalars come checked; an object or
/// array is asked for a visitor of its contents, and `None` means "check it, tell me nothing".
pub trait Visit<'j> {
    type Object<'s>: VisitObject<'j>
    where
        Self: 's;
    type Items<'s>: Visit<'j>
    where
        Self: 's;

    fn null(&mut self) {}
    fn bool(&mut self) {}
    /// A string's raw contents (escapes as written, checked).
    fn string(&mut self, _raw: &'j [u8]) {}
    /// A number as written (checked against the grammar).
    fn number(&mut self, _text: &'j [u8]) {}
    fn object(&mut self) -> Option<Self::Object<'_>>;
    /// A visitor for every item of the array, in turn.
    fn array(&mut self) -> Option<Self::Items<'_>>;
}

/// The members of one object.
pub trait VisitObject<'j> {
    type Value<'s>: Visit<'j>
    where
        Self: 's;

    /// Which member `key` (its text, unescaped) is: the same number for the same key, so that the walker
    /// refuses a key given twice. Numbers should be small (they index a bit set up to 64).
    // A Cow, not a slice: a visitor may keep the key, and a borrowed one is the line's own bytes (no copy).
    #[allow(clippy::ptr_arg)]
    fn member(&mut self, key: &Cow<'j, [u8]>) -> usize;
    /// The visitor of member `index`'s value.
    fn value(&mut self, index: usize) -> Self::Value<'_>;
}

/// Walks one line by the rule, telling `visitor` what it holds, and stops at the first fault.
pub fn walk_line<'j, V: Visit<'j>>(line: &'j [u8], expected_type: &str, visitor: &mut V) -> Result<(), LineProblem> {
    check_utf8(line)?;
    walk_json(line, expected_type, visitor).map_err(|p| *p)
}

fn walk_json<'j, V: Visit<'j>>(line: &'j [u8], expected_type: &str, visitor: &mut V) -> Walked<()> {
    let mut p = Parser::new(line);
    let peek = p.peek()?;
    if peek != Peek::Object {
        // What is not JSON says so first.
        p.known_skip(peek)?;
        p.finish()?;
        return Err(Box::new(LineProblem::NotAnObject));
    }
    let found = match visitor.object() {
        Some(mut members) => walk_object(&mut p, &mut members, Some(expected_type))?,
        None => check_object(&mut p, Some(expected_type))?,
    };
    p.finish()?;
    if found { Ok(()) } else { Err(Box::new(LineProblem::NoResourceType)) }
}

/// Walks the object whose `{` is next. With `expected_type` (the top level), checks `resourceType` and
/// returns whether it was there.
fn walk_object<'j, O: VisitObject<'j>>(
    p: &mut Parser<'j>,
    members: &mut O,
    expected_type: Option<&str>,
) -> Walked<bool> {
    let mut seen = SeenKeys::default();
    let mut has_type = false;
    let mut next = p.object_first()?;
    while let Some(raw) = next {
        let key = if p.last_escaped() { Cow::Owned(unescaped(raw).into_owned()) } else { Cow::Borrowed(raw) };
        let index = members.member(&key);
        if !seen.insert(index) {
            return Err(Box::new(LineProblem::DuplicateKey { key: String::from_utf8_lossy(&key).into_owned() }));
        }
        let peek = p.peek()?;
        let mut value = members.value(index);
        match expected_type {
            Some(expected) if *key == *b"resourceType" => {
                if peek != Peek::String {
                    let expected = expected.to_string();
                    return Err(Box::new(LineProblem::WrongResourceType { found: None, expected }));
                }
                let raw = p.known_bytes()?;
                let text = if p.last_escaped() { unescaped(raw) } else { Cow::Borrowed(raw) };
                if *text != *expected.as_bytes() {
                    let found = Some(String::from_utf8_lossy(&text).into_owned());
                    return Err(Box::new(LineProblem::WrongResourceType { found, expected: expected.to_string() }));
                }
                value.string(raw);
                has_type = true;
            }
            _ => walk_value(p, peek, &mut value)?,
        }
        next = p.object_next()?;
    }
    Ok(has_type)
}

/// [`walk_object`] for a visitor that wants to know nothing of this object: it is checked all the same.
fn check_object<'j>(p: &mut Parser<'j>, expected_type: Option<&str>) -> Walked<bool> {
    let mut keys = Vec::new();
    let mut check = Check { keys: &mut keys };
    let mut members = check.object().expect("a check visits every object");
    walk_object(p, &mut members, expected_type)
}

fn walk_value<'j, V: Visit<'j>>(p: &mut Parser<'j>, peek: Peek, v: &mut V) -> Walked<()> {
    match peek {
        Peek::Null => {
            p.known_null()?;
            v.null();
        }
        Peek::True | Peek::False => {
            p.known_bool(peek)?;
            v.bool();
        }
        Peek::String => {
            // Escapes are checked; UTF-8 was checked for the whole line.
            let raw = p.known_bytes()?;
            v.string(raw);
        }
        Peek::Number => {
            let text = p.known_number_bytes()?;
            v.number(text);
        }
        Peek::Array => match v.array() {
            Some(mut items) => walk_items(p, &mut items)?,
            None => walk_items(p, &mut Check { keys: &mut Vec::new() })?,
        },
        Peek::Object => match v.object() {
            Some(mut members) => {
                walk_object(p, &mut members, None)?;
            }
            None => {
                check_object(p, None)?;
            }
        },
    }
    Ok(())
}

fn walk_items<'j, V: Visit<'j>>(p: &mut Parser<'j>, items: &mut V) -> Walked<()> {
    let mut next = p.array_first()?;
    while let Some(peek) = next {
        walk_value(p, peek, items)?;
        next = p.array_next()?;
    }
    Ok(())
}

/// The visitor that only checks: it keeps each open object's keys (one list for the whole line, each object
/// its own tail of it) to number them for [`SeenKeys`].
pub struct Check<'p, 'j> {
    keys: &'p mut Vec<Cow<'j, [u8]>>,
}

/// Past this many keys, an object's keys are looked up by hash (a line of 100,000 keys must not take
/// 100,000² comparisons).
const LINEAR_KEYS: usize = 32;

pub struct CheckObject<'p, 'j> {
    keys: &'p mut Vec<Cow<'j, [u8]>>,
    /// Where this object's keys start in `keys`.
    base: usize,
    by_hash: Option<HashMap<Cow<'j, [u8]>, usize>>,
}

impl<'p, 'j> Visit<'j> for Check<'p, 'j> {
    type Object<'s>
        = CheckObject<'s, 'j>
    where
        Self: 's;
    type Items<'s>
        = Check<'s, 'j>
    where
        Self: 's;

    fn object(&mut self) -> Option<CheckObject<'_, 'j>> {
        let base = self.keys.len();
        Some(CheckObject { keys: &mut *self.keys, base, by_hash: None })
    }

    fn array(&mut self) -> Option<Check<'_, 'j>> {
        Some(Check { keys: &mut *self.keys })
    }
}

impl<'p, 'j> VisitObject<'j> for CheckObject<'p, 'j> {
    type Value<'s>
        = Check<'s, 'j>
    where
        Self: 's;

    fn member(&mut self, key: &Cow<'j, [u8]>) -> usize {
        if let Some(map) = &mut self.by_hash {
            let next = map.len();
            return *map.entry(key.clone()).or_insert(next);
        }
        let mine = &self.keys[self.base..];
        if let Some(i) = mine.iter().position(|k| **k == **key) {
            return i;
        }
        let index = mine.len();
        if index < LINEAR_KEYS {
            self.keys.push(key.clone());
        } else {
            let mut map: HashMap<Cow<'j, [u8]>, usize> = self.keys.drain(self.base..).zip(0..).collect();
            map.insert(key.clone(), index);
            self.by_hash = Some(map);
        }
        index
    }

    fn value(&mut self, _: usize) -> Check<'_, 'j> {
        Check { keys: &mut *self.keys }
    }
}

impl Drop for CheckObject<'_, '_> {
    fn drop(&mut self) {
        self.keys.truncate(self.base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(line: &str) -> Option<String> {
        check_line(line.as_bytes(), "Patient").err().map(|p| p.to_string())
    }

    #[test]
    fn each_kind_of_fault_in_plain_words() {
        assert_eq!(problem(r#"{"resourceType":"Patient","id":"a"}"#), None);
        assert_eq!(problem(r#" {"id":"a", "resourceType" : "Pat\u0069ent"} "#), None);
        assert_eq!(
            problem(r#"{"resourceType":"Observation"}"#).unwrap(),
            r#"resourceType is "Observation", expected "Patient""#
        );
        assert_eq!(problem(r#"{"resourceType":7}"#).unwrap(), r#"resourceType is not a string, expected "Patient""#);
        assert_eq!(problem(r#"{"id":"a"}"#).unwrap(), "no resourceType");
        assert_eq!(problem("[1]").unwrap(), "not a JSON object");
        assert_eq!(problem("[1,]").unwrap(), "not valid JSON: expected a value at column 4");
        assert_eq!(
            problem(r#"{"resourceType":"Patient","id":"a","id":"b"}"#).unwrap(),
            r#"the key "id" appears twice"#
        );
        assert_eq!(
            problem(r#"{"resourceType":"Patient","a":{"x":1,"\u0078":2}}"#).unwrap(),
            r#"the key "x" appears twice"#
        );
        assert_eq!(
            problem(r#"{"resourceType":"Patient","a":[{"b":[{"x":1,"y":{"x":1},"x":2}]}]}"#).unwrap(),
            r#"the key "x" appears twice"#
        );
        assert!(problem(r#"{"resourceType":"Patient","t":"\ud800"}"#).unwrap().contains("lone surrogate"));
        assert!(problem("{\"resourceType\":\"Patient\",\"t\":\"\u{1}\"}").unwrap().contains("control character"));
        let deep = format!(r#"{{"resourceType":"Patient","x":{}1{}}}"#, "[".repeat(300), "]".repeat(300));
        assert_eq!(check_line(deep.as_bytes(), "Patient"), Err(LineProblem::TooDeep { at: 285 }));
        assert_eq!(problem(&deep).unwrap(), "not valid JSON: nested too deeply at column 286");
        assert_eq!(check_line(b"{\"a\":\"\xff\"}", "Patient"), Err(LineProblem::NotUtf8 { at: 6 }));
        assert_eq!(
            problem(r#"{"resourceType":"Patient"} x"#).unwrap(),
            "not valid JSON: more text after the value at column 28"
        );
        // The first fault in the text is the one reported.
        assert_eq!(
            problem(r#"{"resourceType":"Observation","id":"a","id":"b"}"#).unwrap(),
            r#"resourceType is "Observation", expected "Patient""#
        );
        assert_eq!(
            problem(r#"{"id":"a","id":"b","resourceType":"Observation"}"#).unwrap(),
            r#"the key "id" appears twice"#
        );
    }

    #[test]
    fn keys_of_nested_objects_are_their_own_and_large_objects_are_checked_too() {
        // The same key in sibling and nested objects is fine.
        assert_eq!(problem(r#"{"resourceType":"Patient","a":{"id":1},"b":{"id":{"id":2}},"id":"x"}"#), None);
        let many: Vec<String> = (0..100_000).map(|i| format!("\"k{i}\":{i}")).collect();
        let good = format!(r#"{{"resourceType":"Patient",{}}}"#, many.join(","));
        assert_eq!(problem(&good), None);
        let twice = format!(r#"{{"resourceType":"Patient",{},"k500":0}}"#, many.join(","));
        assert_eq!(problem(&twice).unwrap(), r#"the key "k500" appears twice"#);
        let mut seen = SeenKeys::default();
        assert!([0, 63, 64, 1000, 5].iter().all(|&i| seen.insert(i)));
        assert!([0, 63, 64, 1000, 5].iter().all(|&i| !seen.insert(i)));
        assert!(seen.insert(999) && seen.insert(128));
        let nested = format!(r#"{{"resourceType":"Patient","x":{{{}}},"x":1}}"#, many.join(","));
        assert_eq!(problem(&nested).unwrap(), r#"the key "x" appears twice"#);
    }

    #[test]
    fn unescaping_agrees_with_serde_json() {
        for s in [r"plain", r#"a\"b\\c\/d\b\f\n\r\t"#, r"\u00e9\u0041", r"\ud83d\ude00!", r"x\u20ACy"] {
            let want: String = serde_json::from_str(&format!("\"{s}\"")).unwrap();
            assert_eq!(&*unescaped(s.as_bytes()), want.as_bytes(), "{s}");
        }
        assert_eq!(&*unescaped(br"\ud83d"), "\u{fffd}".as_bytes());
    }
}
