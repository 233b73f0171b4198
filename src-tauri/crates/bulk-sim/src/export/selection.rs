//! Which resources and elements an export keeps: `_typeFilter` matching, `_since` and `_until`, and `_elements`
//! subsetting.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::request::TypeFilter;

const SUBSETTED: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";

fn codings_match(value: Option<&Value>, wanted: &str) -> bool {
    let (system, code) = match wanted.split_once('|') {
        Some((s, c)) => (Some(s), c),
        None => (None, wanted),
    };
    let concepts: Vec<&Value> = match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => return false,
    };
    concepts.iter().any(|cc| {
        cc.get("coding").and_then(Value::as_array).into_iter().flatten().any(|c| {
            c.get("code").and_then(Value::as_str) == Some(code)
                && system.is_none_or(|s| s.is_empty() || c.get("system").and_then(Value::as_str) == Some(s))
        })
    })
}

pub(super) fn matches_filter(resource: &Value, f: &TypeFilter) -> bool {
    f.params.iter().all(|(k, v)| {
        v.split(',').any(|one| match k.as_str() {
            "category" => codings_match(resource.get("category"), one),
            "clinical-status" => codings_match(resource.get("clinicalStatus"), one),
            "code" => codings_match(resource.get("code"), one),
            "status" => resource.get("status").and_then(Value::as_str) == Some(one),
            _ => false,
        })
    })
}

fn last_updated(resource: &Value) -> Option<OffsetDateTime> {
    resource.pointer("/meta/lastUpdated").and_then(Value::as_str).and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
}

/// `_since`: a resource without a readable `meta.lastUpdated` is left out, since it cannot be shown to be new.
pub(super) fn updated_after(resource: &Value, since: OffsetDateTime) -> bool {
    last_updated(resource).is_some_and(|t| t > since)
}

/// `_until`, mirroring `_since`: inclusive, and a resource without `meta.lastUpdated` is left out.
pub(super) fn updated_until(resource: &Value, until: OffsetDateTime) -> bool {
    last_updated(resource).is_some_and(|t| t <= until)
}

pub(super) fn subset(resource: Value, resource_type: &str, elements: &[String]) -> Value {
    let Value::Object(map) = resource else { return resource };
    let keep = |k: &str| {
        matches!(k, "resourceType" | "id" | "meta")
            || elements.iter().any(|e| match e.split_once('.') {
                Some((t, el)) => t == resource_type && el == k,
                None => e == k,
            })
    };
    let mut out: serde_json::Map<String, Value> = map.into_iter().filter(|(k, _)| keep(k)).collect();
    let meta = out.entry("meta").or_insert_with(|| json!({}));
    let tags = meta.as_object_mut().map(|m| m.entry("tag").or_insert_with(|| json!([])));
    if let Some(Value::Array(tags)) = tags {
        tags.push(json!({"system": SUBSETTED, "code": "SUBSETTED"}));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::export::request::parse_type_filter;

    #[test]
    fn filters_and_subsetting() {
        let obs = json!({"resourceType": "Observation", "id": "o", "meta": {"lastUpdated": "2020-01-01T00:00:00Z"},
            "status": "final", "category": [{"coding": [{"system": "s", "code": "laboratory"}]}], "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]}, "subject": {"reference": "Patient/p"}});
        let f = parse_type_filter("Observation?category=vital-signs,laboratory&code=http://loinc.org|718-7").unwrap();
        assert!(matches_filter(&obs, &f));
        assert!(!matches_filter(&obs, &parse_type_filter("Observation?status=amended").unwrap()));
        let s = subset(obs.clone(), "Observation", &["status".into(), "Patient.gender".into()]);
        assert_eq!(
            s.as_object().unwrap().keys().cloned().collect::<Vec<_>>(),
            ["id", "meta", "resourceType", "status"]
        );
        assert_eq!(s["meta"]["tag"][0]["code"], "SUBSETTED");
        let since = OffsetDateTime::parse("2019-06-01T00:00:00Z", &Rfc3339).unwrap();
        assert!(updated_after(&obs, since));
        assert!(!updated_after(&obs, OffsetDateTime::parse("2021-06-01T00:00:00+02:00", &Rfc3339).unwrap()));
        let exactly = OffsetDateTime::parse("2020-01-01T00:00:00Z", &Rfc3339).unwrap();
        assert!(updated_until(&obs, exactly), "_until is inclusive");
        assert!(!updated_until(&obs, since));
        assert!(!updated_until(&json!({"resourceType": "Patient"}), exactly));
    }
}
