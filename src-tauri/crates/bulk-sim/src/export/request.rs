//! A kickoff's parameters (query or `Parameters` body) parsed and checked: `_outputFormat`, `_since`, `_until`,
//! `_type`, `_elements`, `patient`, `includeAssociatedData`, `_typeFilter`.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Level;

const NDJSON_FORMATS: &[&str] = &["application/fhir+ndjson", "application/ndjson", "ndjson"];

/// A kickoff's parameters once parsed and checked.
pub(super) struct ExportRequest {
    pub(super) since: Option<OffsetDateTime>,
    /// `_until` (AB2D): only resources last updated at or before it.
    pub(super) until: Option<OffsetDateTime>,
    pub(super) types: Option<Vec<String>>,
    pub(super) elements: Vec<String>,
    pub(super) patients: Option<HashSet<String>>,
    pub(super) type_filters: Vec<TypeFilter>,
    /// Things a lenient request asked for that the server ignored: reported in `error[]`.
    pub(super) ignored: Vec<String>,
}

pub(super) struct TypeFilter {
    pub(super) resource_type: String,
    pub(super) params: Vec<(String, String)>,
}

/// `Parameters` → (name, value) pairs; any `value[x]` is read as text.
pub(super) fn parameters_from_body(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("The POST body is not JSON: {e}"))?;
    if value.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Err("The POST body must be a FHIR Parameters resource".into());
    }
    let mut out = Vec::new();
    for p in value.get("parameter").and_then(Value::as_array).into_iter().flatten() {
        let Some(name) = p.get("name").and_then(Value::as_str) else {
            return Err("Every parameter needs a name".into());
        };
        let text = p.as_object().and_then(|o| {
            o.iter().find(|(k, _)| k.starts_with("value")).and_then(|(k, v)| match v {
                Value::String(s) => Some(s.clone()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Number(n) => Some(n.to_string()),
                Value::Object(o) if k == "valueReference" => {
                    o.get("reference").and_then(Value::as_str).map(str::to_string)
                }
                _ => None,
            })
        });
        match text {
            Some(t) => out.push((name.to_string(), t)),
            None => return Err(format!("Parameter {name} has no value this server understands")),
        }
    }
    Ok(out)
}

pub(super) fn parse_request(
    params: &[(String, String)],
    level: Level,
    post: bool,
    lenient: bool,
) -> Result<ExportRequest, String> {
    let mut joined: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (k, v) in params {
        joined.entry(k.as_str()).or_default().push(v.clone());
    }
    // Repeated parameters mean the same as one comma-joined value.
    let list = |name: &str| -> Vec<String> {
        joined
            .get(name)
            .into_iter()
            .flatten()
            .flat_map(|v| v.split(',').map(|s| s.trim().to_string()).collect::<Vec<_>>())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let mut ignored = Vec::new();
    for name in joined.keys() {
        let known = [
            "_outputFormat",
            "_since",
            "_until",
            "_type",
            "_elements",
            "patient",
            "includeAssociatedData",
            "_typeFilter",
        ];
        if !known.contains(name) {
            if lenient {
                ignored.push(format!("The parameter {name} is not supported and was ignored"));
            } else {
                return Err(format!("The parameter {name} is not supported by this server"));
            }
        }
    }
    if let Some(format) = joined.get("_outputFormat").and_then(|v| v.last())
        && !NDJSON_FORMATS.contains(&format.as_str())
    {
        return Err(format!("_outputFormat {format} is not supported; use application/fhir+ndjson"));
    }
    let instant = |name: &str| -> Result<Option<OffsetDateTime>, String> {
        match joined.get(name).and_then(|v| v.last()) {
            Some(s) => OffsetDateTime::parse(s, &Rfc3339)
                .map(Some)
                .map_err(|_| format!("{name} must be a FHIR instant such as 2024-01-01T00:00:00Z, not {s}")),
            None => Ok(None),
        }
    };
    let since = instant("_since")?;
    let until = instant("_until")?;
    let types = list("_type");
    for t in &types {
        if !is_type_name(t) {
            return Err(format!("_type lists {t}, which is not a resource type"));
        }
    }
    let elements = list("_elements");
    for e in &elements {
        let ok = match e.split_once('.') {
            Some((t, el)) => is_type_name(t) && !el.is_empty(),
            None => e.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        };
        if !ok {
            return Err(format!("_elements entry {e} is not an element name"));
        }
    }
    let patients = list("patient");
    let patients = if patients.is_empty() {
        None
    } else {
        if !post {
            return Err("The patient parameter can only be sent with POST".into());
        }
        if matches!(level, Level::System) {
            return Err("The patient parameter is not allowed at system level".into());
        }
        Some(patients.into_iter().map(|p| p.trim_start_matches("Patient/").to_string()).collect())
    };
    for value in list("includeAssociatedData") {
        if lenient {
            ignored.push(format!("includeAssociatedData={value} is not supported and was ignored"));
        } else {
            return Err(format!("includeAssociatedData={value} is not supported by this server"));
        }
    }
    let mut type_filters = Vec::new();
    for raw in joined.get("_typeFilter").into_iter().flatten().flat_map(|v| split_type_filters(v)) {
        match parse_type_filter(&raw) {
            Ok(f) => type_filters.push(f),
            Err(e) if lenient => ignored.push(format!("_typeFilter {raw} was ignored: {e}")),
            Err(e) => return Err(format!("_typeFilter {raw} is not supported: {e}")),
        }
    }
    Ok(ExportRequest {
        since,
        until,
        types: (!types.is_empty()).then_some(types),
        elements,
        patients,
        type_filters,
        ignored,
    })
}

fn is_type_name(t: &str) -> bool {
    t.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && t.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Splits `A?x=1,B?y=2` at the commas that start a new `Type?` (commas inside a query stay).
fn split_type_filters(value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in value.split(',') {
        let starts_new = part.split_once('?').is_some_and(|(t, _)| is_type_name(t));
        match out.last_mut() {
            Some(last) if !starts_new => {
                last.push(',');
                last.push_str(part);
            }
            _ => out.push(part.to_string()),
        }
    }
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

const FILTER_PARAMS: &[&str] = &["category", "clinical-status", "code", "status"];

pub(super) fn parse_type_filter(raw: &str) -> Result<TypeFilter, String> {
    let (resource_type, query) = raw.split_once('?').ok_or("it must look like Type?param=value")?;
    if !is_type_name(resource_type) {
        return Err(format!("{resource_type} is not a resource type"));
    }
    let mut params = Vec::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k == "_include" || k == "_sort" || k == "_revinclude" {
            return Err(format!("{k} is not allowed in _typeFilter"));
        }
        if !FILTER_PARAMS.contains(&k.as_ref()) {
            return Err(format!("this server filters only on {}", FILTER_PARAMS.join(", ")));
        }
        params.push((k.into_owned(), v.into_owned()));
    }
    if params.is_empty() {
        return Err("it has no search parameters".into());
    }
    Ok(TypeFilter { resource_type: resource_type.to_string(), params })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn repeated_parameters_join_like_commas() {
        let r = parse_request(
            &pairs(&[("_type", "Patient"), ("_type", "Observation,Condition")]),
            Level::System,
            false,
            false,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.types.unwrap(), ["Patient", "Observation", "Condition"]);
    }

    #[test]
    fn bad_parameters_are_refused_unless_lenient() {
        let err = |p: &[(&str, &str)], level| parse_request(&pairs(p), level, false, false).err().unwrap();
        assert!(err(&[("_outputFormat", "text/csv")], Level::System).contains("_outputFormat"));
        assert!(err(&[("_since", "yesterday")], Level::System).contains("FHIR instant"));
        assert!(err(&[("_until", "2024-13-01")], Level::System).contains("_until must be a FHIR instant"));
        assert!(err(&[("_type", "observation")], Level::System).contains("not a resource type"));
        assert!(err(&[("patient", "Patient/1")], Level::Patient).contains("POST"));
        assert!(err(&[("_typeFilter", "Observation?_sort=date")], Level::System).contains("_sort"));
        assert!(err(&[("_typeFilter", "Observation?value-quantity=5")], Level::System).contains("filters only on"));
        assert!(err(&[("_foo", "1")], Level::System).contains("not supported"));
        let lenient = parse_request(
            &pairs(&[("_typeFilter", "Observation?value-quantity=5"), ("_foo", "1")]),
            Level::System,
            false,
            true,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(lenient.ignored.len(), 2);
        assert!(parse_request(&pairs(&[("patient", "p1")]), Level::System, true, false).is_err());
        for f in NDJSON_FORMATS {
            assert!(parse_request(&pairs(&[("_outputFormat", f)]), Level::System, false, false).is_ok(), "{f}");
        }
    }

    #[test]
    fn type_filters_split_only_between_types() {
        assert_eq!(
            split_type_filters("Observation?category=laboratory,vital-signs,Condition?clinical-status=active"),
            ["Observation?category=laboratory,vital-signs", "Condition?clinical-status=active"]
        );
    }
}
