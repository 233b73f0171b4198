//! Pass one: read a line, check it is a resource of the expected type, and widen the shape with it.
//!
//! The same checks decide, in pass two, which lines are written; a line is either accepted by both
//! passes or left out by both, so the Parquet rows are exactly the good lines.

use std::borrow::Cow;

use crate::json::{JsonError, Parser, Peek};

use crate::shape::{FieldShape, Shape, classify_number};

/// Why a line is not a resource of the file's type. The text is shown to people as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem(pub String);

impl From<JsonError> for LineProblem {
    fn from(e: JsonError) -> Self {
        LineProblem(format!("not valid JSON: {e}"))
    }
}

/// Keys seen in one object, to refuse a duplicate key (JSON parsers disagree on which one wins).
#[derive(Default)]
pub(crate) struct SeenKeys {
    low: u64,
    high: Vec<usize>,
}

impl SeenKeys {
    /// Records `index`; false when it was already there.
    pub(crate) fn insert(&mut self, index: usize) -> bool {
        if index < 64 {
            let bit = 1u64 << index;
            let fresh = self.low & bit == 0;
            self.low |= bit;
            fresh
        } else if self.high.contains(&index) {
            false
        } else {
            self.high.push(index);
            true
        }
    }
}

/// Counts kept while inferring, for the report.
#[derive(Debug, Default, Clone, Copy)]
pub struct InferCounts {
    /// `"key": null` inside an object: legal JSON, not legal FHIR; stored as absent.
    pub null_properties: u64,
}

/// Checks `line` (one NDJSON line, without its newline) and widens `root` with it.
pub fn infer_line(
    line: &[u8],
    resource_type: &str,
    root: &mut Shape,
    counts: &mut InferCounts,
) -> Result<(), LineProblem> {
    check_utf8(line)?;
    let mut j = Parser::new(line);
    let peek = j.peek()?;
    if peek != Peek::Object {
        j.known_skip(peek)?;
        j.finish()?;
        return Err(LineProblem("not a JSON object".into()));
    }
    let Some(fields) = root.enter_object() else {
        return Err(LineProblem("the resource shape is not an object".into()));
    };
    let found = infer_object(&mut j, fields, counts, Some(resource_type))?;
    j.finish()?;
    match found {
        Some(true) => Ok(()),
        _ => Err(LineProblem("no resourceType".into())),
    }
}

/// Whether a string's raw bytes hold an escape. Most keys and codes are short: a plain loop beats a
/// call into memchr there.
pub(crate) fn has_escape(raw: &[u8]) -> bool {
    if raw.len() < 32 { raw.contains(&b'\\') } else { memchr::memchr(b'\\', raw).is_some() }
}

/// Checks a whole line as UTF-8 at once (SIMD); the parser's slices of it are then valid too.
pub fn check_utf8(line: &[u8]) -> Result<&str, LineProblem> {
    simdutf8::compat::from_utf8(line).map_err(|e| LineProblem(format!("not valid UTF-8 (at byte {})", e.valid_up_to())))
}

/// A key as the parser hands it out (raw bytes between the quotes), unescaped when it has escapes.
/// Lines are checked as UTF-8 before parsing, so raw keys need no second check.
pub(crate) fn key_bytes(raw: &[u8]) -> Result<Cow<'_, [u8]>, LineProblem> {
    if !has_escape(raw) {
        return Ok(Cow::Borrowed(raw));
    }
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    let text: String = serde_json::from_slice(&quoted).map_err(|e| LineProblem(format!("not valid JSON: {e}")))?;
    Ok(Cow::Owned(text.into_bytes()))
}

/// Byte equality for keys, inlined: keys are short, and a call into `memcmp` per key was a tenth of the run.
#[inline(always)]
pub(crate) fn same_key(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // Two overlapping loads cover any length in their range.
    fn word8(s: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"))
    }
    fn word4(s: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(s[at..at + 4].try_into().expect("4 bytes"))
    }
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4),
        8..=16 => word8(a, 0) == word8(b, 0) && word8(a, n - 8) == word8(b, n - 8),
        _ => a == b,
    }
}

/// Where `key` is among `names`, looking at `guess` (the one after the last key found) and on from
/// there first: keys come in the order they were first seen, absent ones skipped.
#[inline]
pub(crate) fn find_from<T>(names: &[T], name: impl Fn(&T) -> &[u8], key: &[u8], guess: usize) -> Option<usize> {
    let guess = guess.min(names.len());
    if let Some(i) = names[guess..].iter().position(|n| same_key(name(n), key)) {
        return Some(guess + i);
    }
    names[..guess].iter().position(|n| same_key(name(n), key))
}

fn find_known(fields: &[FieldShape], key: &[u8], guess: usize) -> Option<usize> {
    find_from(fields, |f| f.name.as_bytes(), key, guess)
}

fn find_field(fields: &mut Vec<FieldShape>, key: &[u8], guess: usize) -> usize {
    match find_known(fields, key, guess) {
        Some(i) => i,
        None => {
            let name = String::from_utf8_lossy(key).into_owned();
            fields.push(FieldShape { name, shape: Shape::Null });
            fields.len() - 1
        }
    }
}

/// Walks an object whose `{` is next. With `resource_type`, checks the top-level `resourceType`
/// and returns whether it was present.
fn infer_object(
    j: &mut Parser,
    fields: &mut Vec<FieldShape>,
    counts: &mut InferCounts,
    resource_type: Option<&str>,
) -> Result<Option<bool>, LineProblem> {
    let mut seen = SeenKeys::default();
    let mut has_type = false;
    let mut guess = 0;
    let mut key = j.object_first()?;
    while let Some(k) = key {
        // Names never hold escapes, so a raw key that matches one is that key; others are unescaped.
        let index = match find_known(fields, k, guess) {
            Some(i) => i,
            None => find_field(fields, &key_bytes(k)?, guess),
        };
        guess = index + 1;
        if !seen.insert(index) {
            return Err(LineProblem(format!("the key \"{}\" appears twice", fields[index].name)));
        }
        let peek = j.peek()?;
        if let Some(expected) = resource_type
            && fields[index].name == "resourceType"
        {
            let got = if peek == Peek::String { key_bytes(j.known_bytes()?)? } else { Cow::Borrowed(&b""[..]) };
            if *got != *expected.as_bytes() {
                let shown = if peek == Peek::String {
                    format!("\"{}\"", String::from_utf8_lossy(&got))
                } else {
                    "not a string".into()
                };
                return Err(LineProblem(format!("resourceType is {shown}, expected \"{expected}\"")));
            }
            fields[index].shape.observe_string();
            has_type = true;
        } else {
            if peek == Peek::Null {
                counts.null_properties += 1;
            }
            infer_value(j, peek, &mut fields[index].shape, counts)?;
        }
        key = j.object_next()?;
    }
    Ok(resource_type.map(|_| has_type))
}

fn infer_value(j: &mut Parser, peek: Peek, shape: &mut Shape, counts: &mut InferCounts) -> Result<(), LineProblem> {
    match peek {
        Peek::Null => {
            j.known_null()?;
            shape.observe_null();
        }
        Peek::True | Peek::False => {
            j.known_bool(peek)?;
            shape.observe_bool();
        }
        Peek::String => {
            // Escapes are checked; UTF-8 was checked for the whole line.
            j.known_bytes()?;
            shape.observe_string();
        }
        Peek::Array => match shape.enter_array() {
            Some(item) => {
                let mut next = j.array_first()?;
                while let Some(p) = next {
                    infer_value(j, p, item, counts)?;
                    next = j.array_next()?;
                }
            }
            None => j.known_skip(peek)?,
        },
        Peek::Object => match shape.enter_object() {
            Some(fields) => {
                infer_object(j, fields, counts, None)?;
            }
            None => j.known_skip(peek)?,
        },
        Peek::Number => {
            let text = j.known_number_bytes()?;
            shape.observe_number(classify_number(text));
        }
    }
    Ok(())
}

/// Whether a line holds nothing but whitespace (skipped, not an error: many writers end with one).
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| b.is_ascii_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::JsonKind;

    fn infer(lines: &[&str]) -> (Shape, Vec<Result<(), LineProblem>>) {
        let mut root = Shape::Null;
        let mut counts = InferCounts::default();
        let results = lines.iter().map(|l| infer_line(l.as_bytes(), "Patient", &mut root, &mut counts)).collect();
        (root, results)
    }

    #[test]
    fn keys_compare_by_every_byte() {
        let words = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abcde",
            "abcdefg",
            "abcdefgh",
            "abcdefghi",
            "abcdefghijklmnop",
            "abcdefghijklmnopq",
        ];
        for w in words {
            assert!(same_key(w.as_bytes(), w.as_bytes()));
            for i in 0..w.len() {
                let mut other = w.as_bytes().to_vec();
                other[i] ^= 1;
                assert!(!same_key(w.as_bytes(), &other), "{w} at {i}");
            }
            assert!(!same_key(w.as_bytes(), format!("{w}x").as_bytes()));
        }
    }

    #[test]
    fn checks_each_line() {
        let (_, r) = infer(&[
            r#"{"resourceType":"Patient","id":"a"}"#,
            r#"{"resourceType":"Observation","id":"a"}"#,
            r#"{"id":"a"}"#,
            r#"{"resourceType":"Patient","id":"a","id":"b"}"#,
            r#"{"resourceType":"Patient","id":"a"} x"#,
            r#"[1]"#,
            r#"{"resourceType":"Patient","id":"a"#,
        ]);
        assert_eq!(r[0], Ok(()));
        assert_eq!(r[1], Err(LineProblem("resourceType is \"Observation\", expected \"Patient\"".into())));
        assert_eq!(r[2], Err(LineProblem("no resourceType".into())));
        assert_eq!(r[3], Err(LineProblem("the key \"id\" appears twice".into())));
        assert!(r[4].as_ref().unwrap_err().0.starts_with("not valid JSON"));
        assert_eq!(r[5], Err(LineProblem("not a JSON object".into())));
        assert!(r[6].is_err());
        let mut root = Shape::Null;
        let bad =
            infer_line(b"{\"resourceType\":\"Patient\",\"x\":\"\xff\"}", "Patient", &mut root, &mut Default::default());
        assert!(bad.unwrap_err().0.starts_with("not valid UTF-8"));
    }

    #[test]
    fn learns_nested_shapes_and_conflicts() {
        let (shape, r) = infer(&[
            r#"{"resourceType":"Patient","name":[{"given":["A"]}],"x":"s","n":1}"#,
            r#"{"resourceType":"Patient","x":{"a":1},"n":2.50,"active":true}"#,
        ]);
        assert!(r.iter().all(|r| r.is_ok()));
        let Shape::Object { fields } = shape else { panic!() };
        let names: Vec<_> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["resourceType", "name", "x", "n", "active"]);
        assert_eq!(fields[2].shape, Shape::Json { seen: vec![JsonKind::String, JsonKind::Object] });
        assert_eq!(fields[3].shape, Shape::Decimal { scale: 2, int_digits: 1 });
        assert_eq!(fields[4].shape, Shape::Bool);
    }
}
