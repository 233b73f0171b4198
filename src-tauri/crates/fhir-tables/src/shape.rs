//! The shape of a resource type's JSON, learned from every record (no sampling).
//!
//! A shape is what Parquet needs to know: which keys exist, nested how, holding what. It only
//! ever widens: a key seen once is a column for good, an integer field that later holds `1.5` becomes
//! a decimal, and a field whose values disagree in kind (a string here, an object there) becomes JSON
//! text, which keeps every value exactly. Shapes are serialized so the next export of the same server
//! can start from this one.

use serde::{Deserialize, Serialize};

/// Decimals are stored as Decimal128 with this precision; only the scale varies.
pub const DECIMAL_PRECISION: u8 = 38;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Shape {
    /// Only `null` was seen (or nothing yet).
    Null,
    Bool,
    /// Integers that fit in i64; `digits` is the widest seen, so a later decimal knows its room.
    Int {
        digits: u8,
    },
    /// Exact decimals: Decimal128(38, scale). `int_digits` is the widest integer part seen.
    Decimal {
        scale: u8,
        int_digits: u8,
    },
    /// Strings stay strings: ids, codes, uris, dates (partial dates are legal FHIR), base64.
    String,
    Object {
        fields: Vec<FieldShape>,
    },
    Array {
        item: Box<Shape>,
    },
    /// Kept as JSON text: the values disagree in kind, or cannot be typed exactly.
    Json {
        seen: Vec<JsonKind>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldShape {
    pub name: String,
    pub shape: Shape,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonKind {
    Null,
    Bool,
    Number,
    /// A number too long or too precise for a 38-digit decimal.
    WideNumber,
    String,
    Object,
    Array,
}

impl JsonKind {
    pub fn label(self) -> &'static str {
        match self {
            JsonKind::Null => "null",
            JsonKind::Bool => "true/false",
            JsonKind::Number => "number",
            JsonKind::WideNumber => "number wider than 38 digits",
            JsonKind::String => "string",
            JsonKind::Object => "object",
            JsonKind::Array => "array",
        }
    }
}

/// What a JSON number is, for typing: an i64, an exact decimal, or too wide for either.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum NumberClass {
    Int { digits: u8 },
    Decimal { scale: u8, int_digits: u8 },
    Wide,
}

/// A decimal as an integer mantissa and a scale: `-12.50` is (-1250, 2). Exponents are applied
/// (`1.5e3` is (1500, 0)); `None` when it does not fit 38 digits.
pub fn decimal_parts(text: &[u8]) -> Option<(i128, u8)> {
    let (negative, rest) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let mut mantissa: i128 = 0;
    let mut digits = 0u32;
    let mut scale: i64 = 0;
    let mut in_fraction = false;
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            c @ b'0'..=b'9' => {
                if mantissa != 0 || c != b'0' {
                    digits += 1;
                }
                if digits > u32::from(DECIMAL_PRECISION) {
                    return None;
                }
                mantissa = mantissa * 10 + i128::from(c - b'0');
                if in_fraction {
                    scale += 1;
                }
            }
            b'.' => in_fraction = true,
            b'e' | b'E' => {
                let exp: i64 = std::str::from_utf8(&rest[i + 1..]).ok()?.trim_start_matches('+').parse().ok()?;
                scale -= exp;
                break;
            }
            _ => return None,
        }
        i += 1;
    }
    if scale < 0 {
        let zeros = u32::try_from(-scale).ok()?;
        if digits + zeros > u32::from(DECIMAL_PRECISION) {
            return None;
        }
        mantissa *= 10i128.pow(zeros);
        scale = 0;
    }
    if scale > i64::from(DECIMAL_PRECISION) {
        return None;
    }
    Some((if negative { -mantissa } else { mantissa }, scale as u8))
}

fn count_digits(mut v: u128) -> u8 {
    let mut n = 1;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

pub fn classify_number(text: &[u8]) -> NumberClass {
    let plain = !text.iter().any(|b| matches!(b, b'.' | b'e' | b'E'));
    if plain && let Ok(v) = std::str::from_utf8(text).unwrap_or("x").parse::<i64>() {
        return NumberClass::Int { digits: count_digits(u128::from(v.unsigned_abs())) };
    }
    match decimal_parts(text) {
        Some((mantissa, scale)) => {
            let all = count_digits(mantissa.unsigned_abs());
            NumberClass::Decimal { scale, int_digits: all.saturating_sub(scale) }
        }
        None => NumberClass::Wide,
    }
}

impl Shape {
    /// The kinds of value this shape has seen, for reports and for turning into JSON text.
    pub fn kinds(&self) -> Vec<JsonKind> {
        match self {
            Shape::Null => vec![],
            Shape::Bool => vec![JsonKind::Bool],
            Shape::Int { .. } | Shape::Decimal { .. } => vec![JsonKind::Number],
            Shape::String => vec![JsonKind::String],
            Shape::Object { .. } => vec![JsonKind::Object],
            Shape::Array { .. } => vec![JsonKind::Array],
            Shape::Json { seen } => seen.clone(),
        }
    }

    fn become_json(&mut self, kind: JsonKind) {
        let mut seen = self.kinds();
        seen.push(kind);
        seen.sort();
        seen.dedup();
        *self = Shape::Json { seen };
    }

    fn add_json_kind(seen: &mut Vec<JsonKind>, kind: JsonKind) {
        if let Err(at) = seen.binary_search(&kind) {
            seen.insert(at, kind);
        }
    }

    /// Records a scalar value. Objects and arrays go through [`Shape::enter_object`] and
    /// [`Shape::enter_array`], which also descend.
    pub fn observe_null(&mut self) {
        // A null fits any typed column (as a null); only a Json column notes it.
        if let Shape::Json { seen } = self {
            Self::add_json_kind(seen, JsonKind::Null);
        }
    }

    pub fn observe_bool(&mut self) {
        match self {
            Shape::Null => *self = Shape::Bool,
            Shape::Bool => {}
            Shape::Json { seen } => Self::add_json_kind(seen, JsonKind::Bool),
            _ => self.become_json(JsonKind::Bool),
        }
    }

    pub fn observe_string(&mut self) {
        match self {
            Shape::Null => *self = Shape::String,
            Shape::String => {}
            Shape::Json { seen } => Self::add_json_kind(seen, JsonKind::String),
            _ => self.become_json(JsonKind::String),
        }
    }

    pub fn observe_number(&mut self, class: NumberClass) {
        let merged = match (&*self, class) {
            (Shape::Json { .. }, NumberClass::Wide) => None,
            (Shape::Json { .. }, _) => None,
            (_, NumberClass::Wide) => {
                self.become_json(JsonKind::WideNumber);
                return;
            }
            (Shape::Null, NumberClass::Int { digits }) => Some(Shape::Int { digits }),
            (Shape::Null, NumberClass::Decimal { scale, int_digits }) => Some(Shape::Decimal { scale, int_digits }),
            (Shape::Int { digits: a }, NumberClass::Int { digits: b }) => Some(Shape::Int { digits: *a.max(&b) }),
            (Shape::Int { digits }, NumberClass::Decimal { scale, int_digits }) => {
                Some(Shape::Decimal { scale, int_digits: int_digits.max(*digits) })
            }
            (Shape::Decimal { scale, int_digits }, NumberClass::Int { digits }) => {
                Some(Shape::Decimal { scale: *scale, int_digits: (*int_digits).max(digits) })
            }
            (Shape::Decimal { scale: a, int_digits: ia }, NumberClass::Decimal { scale: b, int_digits: ib }) => {
                Some(Shape::Decimal { scale: *a.max(&b), int_digits: *ia.max(&ib) })
            }
            _ => {
                self.become_json(JsonKind::Number);
                return;
            }
        };
        match merged {
            Some(Shape::Decimal { scale, int_digits }) if u16::from(scale) + u16::from(int_digits) > 38 => {
                *self = Shape::Json { seen: vec![JsonKind::Number, JsonKind::WideNumber] };
            }
            Some(shape) => *self = shape,
            None => {
                if let Shape::Json { seen } = self {
                    let kind = if class == NumberClass::Wide { JsonKind::WideNumber } else { JsonKind::Number };
                    Self::add_json_kind(seen, kind);
                }
            }
        }
    }

    /// Prepares to record an object's keys; `None` when the shape is JSON text (skip the value).
    pub fn enter_object(&mut self) -> Option<&mut Vec<FieldShape>> {
        match self {
            Shape::Null => *self = Shape::Object { fields: Vec::new() },
            Shape::Object { .. } => {}
            Shape::Json { seen } => {
                Self::add_json_kind(seen, JsonKind::Object);
                return None;
            }
            _ => {
                self.become_json(JsonKind::Object);
                return None;
            }
        }
        match self {
            Shape::Object { fields } => Some(fields),
            _ => unreachable!(),
        }
    }

    /// Prepares to record an array's items; `None` when the shape is JSON text (skip the value).
    pub fn enter_array(&mut self) -> Option<&mut Shape> {
        match self {
            Shape::Null => *self = Shape::Array { item: Box::new(Shape::Null) },
            Shape::Array { .. } => {}
            Shape::Json { seen } => {
                Self::add_json_kind(seen, JsonKind::Array);
                return None;
            }
            _ => {
                self.become_json(JsonKind::Array);
                return None;
            }
        }
        match self {
            Shape::Array { item } => Some(item),
            _ => unreachable!(),
        }
    }

    /// Widens `self` so that every value `other` describes fits too. Order of fields: `self`'s
    /// first, then `other`'s new ones, so a remembered schema keeps its column order.
    pub fn widen(&mut self, other: &Shape) {
        match (&mut *self, other) {
            (_, Shape::Null) => {}
            (Shape::Null, o) => *self = o.clone(),
            (Shape::Json { seen }, o) => {
                for k in o.kinds() {
                    Self::add_json_kind(seen, k);
                }
            }
            (_, Shape::Json { seen }) => {
                let mut all = self.kinds();
                all.extend(seen.iter().copied());
                all.sort();
                all.dedup();
                *self = Shape::Json { seen: all };
            }
            (Shape::Bool, Shape::Bool) | (Shape::String, Shape::String) => {}
            (_, Shape::Int { digits }) => self.observe_number(NumberClass::Int { digits: *digits }),
            (_, Shape::Decimal { scale, int_digits }) => {
                self.observe_number(NumberClass::Decimal { scale: *scale, int_digits: *int_digits })
            }
            (Shape::Object { fields }, Shape::Object { fields: theirs }) => {
                for f in theirs {
                    match fields.iter_mut().find(|mine| mine.name == f.name) {
                        Some(mine) => mine.shape.widen(&f.shape),
                        None => fields.push(f.clone()),
                    }
                }
            }
            (Shape::Array { item }, Shape::Array { item: theirs }) => item.widen(theirs),
            (_, o) => {
                let mut all = self.kinds();
                all.extend(o.kinds());
                all.sort();
                all.dedup();
                *self = Shape::Json { seen: all };
            }
        }
    }

    /// The shape as it will be stored: a column that never held a value, or an object that never
    /// held a key, cannot be a typed Parquet column, so it is JSON text (all nulls, or `{}`).
    pub fn for_storage(&self) -> Shape {
        match self {
            Shape::Null => Shape::Json { seen: vec![JsonKind::Null] },
            Shape::Object { fields } if fields.is_empty() => Shape::Json { seen: vec![JsonKind::Object] },
            Shape::Object { fields } => Shape::Object {
                fields: fields
                    .iter()
                    .map(|f| FieldShape { name: f.name.clone(), shape: f.shape.for_storage() })
                    .collect(),
            },
            Shape::Array { item } => Shape::Array { item: Box::new(item.for_storage()) },
            other => other.clone(),
        }
    }

    /// Every column kept as JSON text, with its path (`name[].given`) and the kinds it held.
    pub fn json_columns(&self) -> Vec<(String, Vec<JsonKind>)> {
        let mut out = Vec::new();
        collect_json(self, String::new(), &mut out);
        out
    }
}

fn collect_json(shape: &Shape, path: String, out: &mut Vec<(String, Vec<JsonKind>)>) {
    match shape {
        Shape::Json { seen } => out.push((path, seen.clone())),
        Shape::Object { fields } => {
            for f in fields {
                let p = if path.is_empty() { f.name.clone() } else { format!("{path}.{}", f.name) };
                collect_json(&f.shape, p, out);
            }
        }
        Shape::Array { item } => collect_json(item, format!("{path}[]"), out),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal_parts(b"-12.50"), Some((-1250, 2)));
        assert_eq!(decimal_parts(b"1.5e3"), Some((1500, 0)));
        assert_eq!(decimal_parts(b"1.5E-3"), Some((15, 4)));
        assert_eq!(decimal_parts(b"0.000"), Some((0, 3)));
        assert_eq!(decimal_parts(b"123456789012345678901234567890123456789"), None);
        assert_eq!(decimal_parts(b"1e400"), None);
        assert_eq!(classify_number(b"42"), NumberClass::Int { digits: 2 });
        assert_eq!(classify_number(b"-0.05"), NumberClass::Decimal { scale: 2, int_digits: 0 });
        assert_eq!(classify_number(b"99999999999999999999"), NumberClass::Decimal { scale: 0, int_digits: 20 });
    }

    #[test]
    fn shapes_widen_and_conflicts_become_json() {
        let mut s = Shape::Null;
        s.observe_number(NumberClass::Int { digits: 3 });
        s.observe_number(NumberClass::Decimal { scale: 2, int_digits: 1 });
        assert_eq!(s, Shape::Decimal { scale: 2, int_digits: 3 });
        s.observe_string();
        assert_eq!(s, Shape::Json { seen: vec![JsonKind::Number, JsonKind::String] });

        let mut a = Shape::Object { fields: vec![FieldShape { name: "a".into(), shape: Shape::String }] };
        let b = Shape::Object {
            fields: vec![
                FieldShape { name: "b".into(), shape: Shape::Bool },
                FieldShape { name: "a".into(), shape: Shape::Object { fields: vec![] } },
            ],
        };
        a.widen(&b);
        let Shape::Object { fields } = &a else { panic!() };
        assert_eq!(fields[0].name, "a");
        assert_eq!(fields[0].shape, Shape::Json { seen: vec![JsonKind::String, JsonKind::Object] });
        assert_eq!(fields[1].name, "b");
        assert_eq!(a.json_columns(), vec![("a".to_string(), vec![JsonKind::String, JsonKind::Object])]);
    }
}
