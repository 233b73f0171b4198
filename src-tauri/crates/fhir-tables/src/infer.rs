//! Pass one: read a line, check it is a resource of the expected type, and widen the shape with it.
//!
//! The check is `fhir-ndjson`'s line rule (the one export verification and the Files page apply), and
//! the shape is learned in the same walk, as the rule's visitor: a line is parsed once. The same rule
//! decides, in pass two, which lines are written; a line is either accepted by both passes or left
//! out by both, so the Parquet rows are exactly the good lines.

use std::borrow::Cow;

use fhir_ndjson::{Visit, VisitObject, walk_line};

pub use fhir_ndjson::{LineProblem, is_blank};

use crate::shape::{FieldShape, Shape, classify_number};

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
    walk_line(line, resource_type, &mut Learn { shape: root, counts, member: false })
}

/// The visitor that learns: one value's shape.
struct Learn<'s> {
    shape: &'s mut Shape,
    counts: &'s mut InferCounts,
    /// Whether the value is an object's member (its `null` is counted), not an array's item.
    member: bool,
}

/// The visitor that learns an object's members.
struct LearnObject<'s> {
    fields: &'s mut Vec<FieldShape>,
    counts: &'s mut InferCounts,
    /// Where the next key is looked for first: keys come in the order they were first seen.
    guess: usize,
}

impl<'j> Visit<'j> for Learn<'_> {
    type Object<'s>
        = LearnObject<'s>
    where
        Self: 's;
    type Items<'s>
        = Learn<'s>
    where
        Self: 's;

    #[inline]
    fn null(&mut self) {
        if self.member {
            self.counts.null_properties += 1;
        }
        self.shape.observe_null();
    }

    #[inline]
    fn bool(&mut self) {
        self.shape.observe_bool();
    }

    #[inline]
    fn string(&mut self, _raw: &'j [u8]) {
        self.shape.observe_string();
    }

    #[inline]
    fn number(&mut self, text: &'j [u8]) {
        self.shape.observe_number(classify_number(text));
    }

    /// `None` when the shape is JSON text: the walker checks the object, nothing more is learned.
    #[inline]
    fn object(&mut self) -> Option<LearnObject<'_>> {
        let fields = self.shape.enter_object()?;
        Some(LearnObject { fields, counts: &mut *self.counts, guess: 0 })
    }

    #[inline]
    fn array(&mut self) -> Option<Learn<'_>> {
        let item = self.shape.enter_array()?;
        Some(Learn { shape: item, counts: &mut *self.counts, member: false })
    }
}

impl<'j> VisitObject<'j> for LearnObject<'_> {
    type Value<'s>
        = Learn<'s>
    where
        Self: 's;

    /// The field's position in the shape: the walker refuses a position seen twice in one object.
    #[inline]
    fn member(&mut self, key: &Cow<'j, [u8]>) -> usize {
        let index = find_field(self.fields, key, self.guess);
        self.guess = index + 1;
        index
    }

    #[inline]
    fn value(&mut self, index: usize) -> Learn<'_> {
        Learn { shape: &mut self.fields[index].shape, counts: &mut *self.counts, member: true }
    }
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

fn find_field(fields: &mut Vec<FieldShape>, key: &[u8], guess: usize) -> usize {
    match find_from(fields, |f| f.name.as_bytes(), key, guess) {
        Some(i) => i,
        None => {
            let name = String::from_utf8_lossy(key).into_owned();
            fields.push(FieldShape { name, shape: Shape::Null });
            fields.len() - 1
        }
    }
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
        let text = |i: usize| r[i].as_ref().unwrap_err().to_string();
        assert_eq!(r[0], Ok(()));
        assert_eq!(text(1), "resourceType is \"Observation\", expected \"Patient\"");
        assert_eq!(text(2), "no resourceType");
        assert_eq!(text(3), "the key \"id\" appears twice");
        assert!(text(4).starts_with("not valid JSON"));
        assert_eq!(text(5), "not a JSON object");
        assert!(r[6].is_err());
        let mut root = Shape::Null;
        let bad =
            infer_line(b"{\"resourceType\":\"Patient\",\"x\":\"\xff\"}", "Patient", &mut root, &mut Default::default());
        assert!(bad.unwrap_err().to_string().starts_with("not valid UTF-8"));
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

    #[test]
    fn a_line_is_judged_alone_whatever_was_learned_before() {
        // `x` is JSON text after the first two lines, so its objects are not learned: they are checked all the
        // same, and an escaped key is the key it spells.
        let (_, r) = infer(&[
            r#"{"resourceType":"Patient","x":"s"}"#,
            r#"{"resourceType":"Patient","x":{"k":1}}"#,
            r#"{"resourceType":"Patient","x":{"k":1,"k":2}}"#,
            r#"{"resourceType":"Patient","x":[{"k":1,"\u006b":2}]}"#,
            r#"{"resourceType":"Patient","n\u0061me":[{"given":["A"]}],"name":[]}"#,
        ]);
        let problems: Vec<Option<String>> = r.iter().map(|r| r.as_ref().err().map(|p| p.to_string())).collect();
        let twice = |k: &str| Some(format!("the key \"{k}\" appears twice"));
        assert_eq!(problems, [None, None, twice("k"), twice("k"), twice("name")]);
    }
}
