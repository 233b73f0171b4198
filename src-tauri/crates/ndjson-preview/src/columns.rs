//! The columns a person wants to see first for each common resource type, read from a resource's JSON.

use serde_json::Value;

/// Column headings for a type; every table starts with `id`.
pub fn headings(resource_type: &str) -> Vec<&'static str> {
    let mut h = vec!["id"];
    h.extend_from_slice(match resource_type {
        "Patient" => &["Name", "Gender", "Birth date"],
        "Observation" => &["Code", "Value", "Effective", "Subject"],
        "Condition" => &["Code", "Clinical status", "Onset"],
        "Encounter" => &["Class", "Period", "Type"],
        "MedicationRequest" => &["Medication", "Status", "Authored on"],
        "ExplanationOfBenefit" | "Claim" => &["Type", "Billable period", "Total"],
        _ => &["Last updated"],
    });
    h
}

/// The cells of one resource, in the order of [`headings`] (after `id`). Missing elements give "".
pub fn cells(resource_type: &str, r: &Value) -> Vec<String> {
    match resource_type {
        "Patient" => vec![human_name(&r["name"]), text(&r["gender"]), text(&r["birthDate"])],
        "Observation" => {
            vec![codeable(&r["code"]), observation_value(r), date_x(r, "effective"), reference(&r["subject"])]
        }
        "Condition" => vec![codeable(&r["code"]), codeable(&r["clinicalStatus"]), date_x(r, "onset")],
        "Encounter" => vec![encounter_class(&r["class"]), period(&r["period"]), first(&r["type"], codeable)],
        "MedicationRequest" => vec![medication(r), text(&r["status"]), date(&r["authoredOn"])],
        "ExplanationOfBenefit" => vec![codeable(&r["type"]), period(&r["billablePeriod"]), eob_total(&r["total"])],
        "Claim" => vec![codeable(&r["type"]), period(&r["billablePeriod"]), money(&r["total"])],
        _ => vec![date(&r["meta"]["lastUpdated"])],
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

fn first(v: &Value, f: fn(&Value) -> String) -> String {
    match v {
        Value::Array(items) => items.first().map(f).unwrap_or_default(),
        other => f(other),
    }
}

/// A CodeableConcept as people read it: its text, else the first coding's display, else its code.
pub fn codeable(v: &Value) -> String {
    if let Some(t) = v["text"].as_str() {
        return t.to_string();
    }
    coding(&v["coding"][0])
}

fn coding(c: &Value) -> String {
    c["display"].as_str().or_else(|| c["code"].as_str()).unwrap_or_default().to_string()
}

fn encounter_class(v: &Value) -> String {
    // R4 has a Coding here; R5 a list of CodeableConcepts.
    match v {
        Value::Array(_) => first(v, codeable),
        _ => coding(v),
    }
}

fn human_name(names: &Value) -> String {
    let Some(list) = names.as_array() else { return String::new() };
    let name = list.iter().find(|n| n["use"] == "official").or_else(|| list.first());
    let Some(n) = name else { return String::new() };
    if let Some(t) = n["text"].as_str() {
        return t.to_string();
    }
    let mut parts: Vec<&str> =
        n["given"].as_array().map(|g| g.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    if let Some(f) = n["family"].as_str() {
        parts.push(f);
    }
    parts.join(" ")
}

/// A date or date-time shortened for a table cell: `2011-02-02 16:30` (the full value is in the resource view).
pub fn date(v: &Value) -> String {
    let Some(s) = v.as_str() else { return String::new() };
    if s.len() >= 16 && s.as_bytes()[10] == b'T' { format!("{} {}", &s[..10], &s[11..16]) } else { s.to_string() }
}

fn period(v: &Value) -> String {
    let (start, end) = (date(&v["start"]), date(&v["end"]));
    match (start.is_empty(), end.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!("{start} –"),
        (true, false) => format!("– {end}"),
        (false, false) => {
            // The same day twice reads better once: "2011-02-02 16:30 – 17:00".
            if start.len() == 16 && end.len() == 16 && start[..10] == end[..10] {
                format!("{start} – {}", &end[11..])
            } else {
                format!("{start} – {end}")
            }
        }
    }
}

/// A choice-of-type date (`effectiveDateTime`, `onsetPeriod`, …).
fn date_x(r: &Value, prefix: &str) -> String {
    let Some(obj) = r.as_object() else { return String::new() };
    for (key, v) in obj {
        let Some(kind) = key.strip_prefix(prefix) else { continue };
        return match kind {
            "DateTime" | "Instant" | "Date" => date(v),
            "Period" => period(v),
            "String" => text(v),
            "Age" => quantity(v),
            "Timing" => date(&v["event"][0]),
            _ => continue,
        };
    }
    String::new()
}

fn quantity(v: &Value) -> String {
    let value = match &v["value"] {
        Value::Number(n) => n.to_string(),
        _ => return String::new(),
    };
    let comparator = v["comparator"].as_str().unwrap_or("");
    match v["unit"].as_str().or_else(|| v["code"].as_str()) {
        Some(unit) => format!("{comparator}{value} {unit}"),
        None => format!("{comparator}{value}"),
    }
}

fn value_x(r: &Value) -> Option<String> {
    let obj = r.as_object()?;
    for (key, v) in obj {
        let Some(kind) = key.strip_prefix("value") else { continue };
        let shown = match kind {
            "Quantity" => quantity(v),
            "CodeableConcept" => codeable(v),
            "String" | "Boolean" | "Integer" | "Time" => text(v),
            "DateTime" => date(v),
            "Period" => period(v),
            "Range" => format!("{} – {}", quantity(&v["low"]), quantity(&v["high"])),
            "Ratio" => format!("{} / {}", quantity(&v["numerator"]), quantity(&v["denominator"])),
            "SampledData" => "(sampled data)".to_string(),
            _ => continue,
        };
        return Some(shown);
    }
    None
}

/// An Observation's value, or its components' (blood pressure: "Systolic 120 mm[Hg] · Diastolic 80 mm[Hg]").
fn observation_value(r: &Value) -> String {
    if let Some(v) = value_x(r) {
        return v;
    }
    let Some(components) = r["component"].as_array() else {
        return if r["dataAbsentReason"].is_object() { codeable(&r["dataAbsentReason"]) } else { String::new() };
    };
    components
        .iter()
        .filter_map(|c| {
            let value = value_x(c)?;
            let name = codeable(&c["code"]);
            let short = name.split_whitespace().next().unwrap_or("").to_string();
            Some(if short.is_empty() { value } else { format!("{short} {value}") })
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

fn reference(v: &Value) -> String {
    v["reference"].as_str().or_else(|| v["display"].as_str()).unwrap_or_default().to_string()
}

fn medication(r: &Value) -> String {
    if r["medicationCodeableConcept"].is_object() {
        return codeable(&r["medicationCodeableConcept"]);
    }
    if r["medicationReference"].is_object() {
        let m = &r["medicationReference"];
        return m["display"].as_str().map(str::to_string).unwrap_or_else(|| reference(m));
    }
    // R5: medication is a CodeableReference.
    let m = &r["medication"];
    if m["concept"].is_object() { codeable(&m["concept"]) } else { reference(&m["reference"]) }
}

fn money(v: &Value) -> String {
    let value = match &v["value"] {
        Value::Number(n) => n.to_string(),
        _ => return String::new(),
    };
    match v["currency"].as_str() {
        Some(c) => format!("{value} {c}"),
        None => value,
    }
}

/// An EOB's total: the "submitted" amount when there is one (what was billed), else the first.
fn eob_total(v: &Value) -> String {
    let Some(totals) = v.as_array() else { return String::new() };
    let submitted = totals.iter().find(|t| t["category"]["coding"][0]["code"] == "submitted");
    submitted.or_else(|| totals.first()).map(|t| money(&t["amount"])).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn observation_cells_read_like_a_chart() {
        let r = json!({"resourceType": "Observation", "code": {"coding": [{"display": "Body Height"}]},
            "effectiveDateTime": "2011-02-02T16:30:49-05:00", "valueQuantity": {"value": 181.2, "unit": "cm"},
            "subject": {"reference": "Patient/p1"}});
        assert_eq!(cells("Observation", &r), ["Body Height", "181.2 cm", "2011-02-02 16:30", "Patient/p1"]);
        let bp = json!({"component": [
            {"code": {"text": "Systolic blood pressure"}, "valueQuantity": {"value": 120, "unit": "mm[Hg]"}},
            {"code": {"text": "Diastolic blood pressure"}, "valueQuantity": {"value": 80, "unit": "mm[Hg]"}}]});
        assert_eq!(observation_value(&bp), "Systolic 120 mm[Hg] · Diastolic 80 mm[Hg]");
    }

    #[test]
    fn names_periods_and_totals() {
        let p = json!({"name": [{"use": "nickname", "text": "Bob"}, {"use": "official", "given": ["Robert", "J"], "family": "Smith"}],
            "gender": "male", "birthDate": "1970-01-02"});
        assert_eq!(cells("Patient", &p), ["Robert J Smith", "male", "1970-01-02"]);
        let e = json!({"class": {"code": "AMB"}, "period": {"start": "2020-01-01T10:00:00Z", "end": "2020-01-01T10:15:00Z"},
            "type": [{"text": "Checkup"}]});
        assert_eq!(cells("Encounter", &e), ["AMB", "2020-01-01 10:00 – 10:15", "Checkup"]);
        let eob = json!({"total": [{"category": {"coding": [{"code": "benefit"}]}, "amount": {"value": 5, "currency": "USD"}},
            {"category": {"coding": [{"code": "submitted"}]}, "amount": {"value": 129.16, "currency": "USD"}}]});
        assert_eq!(eob_total(&eob["total"]), "129.16 USD");
        assert_eq!(cells("Basic", &json!({"meta": {"lastUpdated": "2024-05-06T07:08:09Z"}})), ["2024-05-06 07:08"]);
        assert_eq!(cells("Patient", &json!({"name": "not a list", "gender": 3})), ["", "3", ""]);
    }
}
