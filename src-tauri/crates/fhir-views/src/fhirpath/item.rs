//! What a FHIRPath collection holds: parts of the resource (objects stay nodes of the line's tree; primitives
//! are read as they are reached) and values made by the expression.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::decimal::Decimal;
use crate::doc::{Doc, Node, NodeId};
use crate::temporal::{Temporal, TemporalKind};

/// A FHIRPath collection. (A SmallVec of two inline items was tried: fewer allocations, but moving the larger
/// collections cost more than it saved, measured with tables_bench.)
pub type Items<'a> = smallvec::SmallVec<[Item<'a>; 1]>;

/// A FHIR type known from where the value was found (`valueQuantity` → `Quantity`), or None.
pub type TypeTag = Option<&'static str>;

#[derive(Debug, Clone)]
pub enum Item<'a> {
    Object(NodeId, TypeTag),
    Bool(bool),
    Int(i64),
    Decimal(Decimal),
    Str(Cow<'a, str>, TypeTag),
    Temporal(Temporal),
}

/// The types a choice element's name may end with (`value[x]` → `valueQuantity`), FHIR R4 and R5, with the
/// FHIR type each suffix names.
const CHOICE_TYPES: &[&str] = &[
    "base64Binary",
    "boolean",
    "canonical",
    "code",
    "date",
    "dateTime",
    "decimal",
    "id",
    "instant",
    "integer",
    "integer64",
    "markdown",
    "oid",
    "positiveInt",
    "string",
    "time",
    "unsignedInt",
    "uri",
    "url",
    "uuid",
    "Address",
    "Age",
    "Annotation",
    "Attachment",
    "CodeableConcept",
    "CodeableReference",
    "Coding",
    "ContactPoint",
    "Count",
    "Distance",
    "Duration",
    "HumanName",
    "Identifier",
    "Money",
    "Period",
    "Quantity",
    "Range",
    "Ratio",
    "RatioRange",
    "Reference",
    "SampledData",
    "Signature",
    "Timing",
    "ContactDetail",
    "Contributor",
    "DataRequirement",
    "Expression",
    "ParameterDefinition",
    "RelatedArtifact",
    "TriggerDefinition",
    "UsageContext",
    "Dosage",
    "Meta",
];

/// `Quantity` for the suffix `Quantity`, `dateTime` for `DateTime`.
pub fn choice_type(suffix: &[u8]) -> TypeTag {
    let first = *suffix.first()?;
    if !first.is_ascii_uppercase() {
        return None;
    }
    CHOICE_TYPES.iter().copied().find(|t| {
        t.len() == suffix.len() && t.as_bytes()[0].eq_ignore_ascii_case(&first) && t.as_bytes()[1..] == suffix[1..]
    })
}

const STRING_TYPES: &[&str] =
    &["string", "code", "id", "uri", "url", "canonical", "markdown", "oid", "uuid", "base64Binary", "xhtml"];
const INTEGER_TYPES: &[&str] = &["integer", "positiveInt", "unsignedInt", "integer64"];

fn is_integer_type(t: &str) -> bool {
    INTEGER_TYPES.iter().any(|x| x.eq_ignore_ascii_case(t))
}

/// Pushes the items a JSON node stands for: an array's elements, nothing for null.
pub fn push_node<'a>(doc: &Doc<'a>, id: NodeId, tag: TypeTag, out: &mut Items<'a>) {
    match doc.node(id) {
        Node::Null => {}
        Node::Bool(b) => out.push(Item::Bool(b)),
        Node::Number(n) => {
            let text = doc.number(n);
            let integer = !text.contains(['.', 'e', 'E']) && tag.is_none_or(|t| t != "decimal");
            match text.parse::<i64>() {
                Ok(i) if integer => out.push(Item::Int(i)),
                _ => {
                    if let Some(d) = Decimal::parse(text) {
                        out.push(Item::Decimal(d));
                    }
                }
            }
        }
        Node::Str(raw, escaped) => out.push(Item::Str(doc.str_text(raw, escaped), tag)),
        Node::Array { .. } => {
            for &child in doc.items(id) {
                push_node(doc, child, tag, out);
            }
        }
        Node::Object { .. } => out.push(Item::Object(id, tag)),
        // Never reached: a raw node's key matches no name of the view, and only names lead to values.
        Node::Raw(_) => debug_assert!(false, "a passed-over value was reached by name"),
    }
}

impl<'a> Item<'a> {
    /// The item as a date, dateTime or time, when it is one: made so, typed so, or a string that reads as one
    /// (`kind` says which to try for an untyped string).
    pub fn temporal(&self, kind: Option<TemporalKind>) -> Option<Temporal> {
        match self {
            Item::Temporal(t) => Some(*t),
            Item::Str(s, tag) => {
                let kind = match *tag {
                    Some("date") => TemporalKind::Date,
                    Some("dateTime" | "instant") => TemporalKind::DateTime,
                    Some("time") => TemporalKind::Time,
                    Some(_) => return None,
                    None => kind.unwrap_or(if s.contains(':') && !s.contains('-') {
                        TemporalKind::Time
                    } else if s.contains('T') {
                        TemporalKind::DateTime
                    } else {
                        TemporalKind::Date
                    }),
                };
                Temporal::parse(s, kind)
            }
            _ => None,
        }
    }

    pub(super) fn is_temporal_typed(&self) -> bool {
        matches!(self, Item::Temporal(_))
            || matches!(self, Item::Str(_, Some("date" | "dateTime" | "instant" | "time")))
    }

    pub fn number(&self) -> Option<Decimal> {
        match self {
            Item::Int(i) => Some(Decimal::from_int(*i)),
            Item::Decimal(d) => Some(*d),
            _ => None,
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Item::Str(s, _) => Some(s),
            _ => None,
        }
    }

    /// Whether the item is of the FHIR or System type `name` (`ofType()`, `is()`). An untyped string is any
    /// string-like type, and a date type when it reads as one.
    pub fn is_type(&self, doc: &Doc<'a>, name: &str) -> bool {
        let same = |t: &str| t.eq_ignore_ascii_case(name);
        match self {
            Item::Object(_, Some(t)) | Item::Str(_, Some(t)) => same(t),
            Item::Object(id, None) => doc.get(*id, "resourceType").and_then(|r| doc.text(r)).is_some_and(|r| r == name),
            Item::Str(s, None) => {
                STRING_TYPES.iter().any(|t| same(t))
                    || (["date", "dateTime", "instant", "time"].iter().any(|t| same(t))
                        && self.temporal(None).is_some()
                        && !s.is_empty())
            }
            Item::Bool(_) => same("boolean"),
            Item::Int(_) => is_integer_type(name),
            Item::Decimal(_) => same("decimal"),
            Item::Temporal(t) => match t.kind {
                TemporalKind::Date => same("date"),
                TemporalKind::DateTime => same("dateTime") || same("instant"),
                TemporalKind::Time => same("time"),
            },
        }
    }

    /// FHIRPath `=` on two single items: None when it cannot be known (dates of different precision).
    pub fn equals(&self, other: &Item<'a>, doc: &Doc<'a>) -> Option<bool> {
        if let (Some(a), Some(b)) = (self.number(), other.number()) {
            return Some(a == b);
        }
        if self.is_temporal_typed() || other.is_temporal_typed() {
            let (a, b) = self.temporal_pair(other)?;
            return a.compare(&b).map(Ordering::is_eq);
        }
        Some(match (self, other) {
            (Item::Str(a, _), Item::Str(b, _)) => a == b,
            (Item::Bool(a), Item::Bool(b)) => a == b,
            (Item::Object(a, _), Item::Object(b, _)) => doc.to_json(*a) == doc.to_json(*b),
            _ => false,
        })
    }

    fn temporal_pair(&self, other: &Item<'a>) -> Option<(Temporal, Temporal)> {
        let a = self.temporal(None)?;
        let b = other.temporal(Some(a.kind))?;
        // An untyped side reads as the typed side's kind (a birthDate string against a date constant).
        let a = if matches!(self, Item::Str(_, None)) { self.temporal(Some(b.kind))? } else { a };
        Some((a, b))
    }

    /// FHIRPath `<`, `>`…: Err when the two cannot be compared at all, Ok(None) when it is unknown.
    pub fn compare(&self, other: &Item<'a>) -> Result<Option<Ordering>, String> {
        if let (Some(a), Some(b)) = (self.number(), other.number()) {
            return Ok(a.partial_cmp(&b));
        }
        if self.is_temporal_typed() || other.is_temporal_typed() {
            return Ok(self.temporal_pair(other).and_then(|(a, b)| a.compare(&b)));
        }
        match (self, other) {
            (Item::Str(a, _), Item::Str(b, _)) => Ok(Some(a.cmp(b))),
            _ => Err("these two values cannot be compared (a number with a text, say)".into()),
        }
    }

    /// As JSON, for output and tests.
    pub fn to_json(&self, doc: &Doc<'a>) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Item::Object(id, _) => doc.to_json(*id),
            Item::Bool(b) => Value::Bool(*b),
            Item::Int(i) => Value::from(*i),
            Item::Decimal(d) => serde_json::from_str(&d.to_string()).unwrap_or(Value::Null),
            Item::Str(s, _) => Value::String(s.to_string()),
            Item::Temporal(t) => Value::String(t.to_string()),
        }
    }

    /// Owned, to outlive the line it was read from.
    pub fn into_owned(self) -> Item<'static> {
        match self {
            Item::Str(s, t) => Item::Str(Cow::Owned(s.into_owned()), t),
            Item::Object(id, t) => Item::Object(id, t),
            Item::Bool(b) => Item::Bool(b),
            Item::Int(i) => Item::Int(i),
            Item::Decimal(d) => Item::Decimal(d),
            Item::Temporal(t) => Item::Temporal(t),
        }
    }
}
