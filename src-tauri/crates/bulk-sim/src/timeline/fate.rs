//! What each epoch does to one resource: nothing, an update, or its deletion; and which patients gain a new
//! resource. Each decision is a function of (seed, epoch, type, id), so it is made again, identically, wherever
//! a resource is met.

use serde_json::{Value, json};

use super::{Epoch, Epochs};
use crate::generate::SHARED_TYPES;
use crate::rng::Rng;

const STREAM_FATE: u64 = 0x7100;
const STREAM_CREATE: u64 = 0x7101;
const STREAM_READING: u64 = 0x7102;

/// Per mille of a patient's compartment (Patients aside) deleted at each epoch, and of it updated. Patients
/// are updated at the same rate and never deleted: an export without them would dangle.
const DELETED_PER_MILLE: u64 = 10;
const UPDATED_PER_MILLE: u64 = 50;
/// Percent of patients who gain a resource at each epoch.
const CREATED_PERCENT: u64 = 3;

/// The type of the resources epochs create.
pub const CREATED_TYPE: &str = "Observation";

/// Marks every update with the epoch that made it, a visible change on every type.
const REVISION_URL: &str = "urn:haul:bulk-sim:revision";

enum Event {
    Updated,
    Deleted,
}

/// What epoch `epoch` does to the resource of type `resource_type` and id `id` (keys from `Rng::name_key`).
fn event(seed: u64, epoch: u64, resource_type: &str, type_key: u64, id_key: u64) -> Option<Event> {
    // Practitioners, organizations and locations are shared by patients: they stay as generated.
    if SHARED_TYPES.contains(&resource_type) {
        return None;
    }
    let roll = Rng::keyed(seed, STREAM_FATE, &[epoch, type_key, id_key]).next_u64() % 1000;
    if resource_type == "Patient" {
        return (roll < UPDATED_PER_MILLE).then_some(Event::Updated);
    }
    match roll {
        r if r < DELETED_PER_MILLE => Some(Event::Deleted),
        r if r < DELETED_PER_MILLE + UPDATED_PER_MILLE => Some(Event::Updated),
        _ => None,
    }
}

/// Where a resource stands after some epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// There, updated last in epoch `revised` (`None`: as it came to be).
    Live { revised: Option<u64> },
    /// Deleted in that epoch.
    Deleted(u64),
}

/// The standing after epoch `upto` of a resource that came to be in epoch `born` (0: the generated data).
pub fn standing(seed: u64, born: u64, upto: u64, resource_type: &str, id: &str) -> Standing {
    let (type_key, id_key) = (Rng::name_key(resource_type), Rng::name_key(id));
    let mut revised = None;
    for e in born + 1..=upto {
        match event(seed, e, resource_type, type_key, id_key) {
            Some(Event::Deleted) => return Standing::Deleted(e),
            Some(Event::Updated) => revised = Some(e),
            None => {}
        }
    }
    Standing::Live { revised }
}

/// The resource as it stands after the epochs of `at`, or `None` once deleted; `born` as for [`standing`].
pub fn current(seed: u64, at: &Epochs, born: u64, resource_type: &str, mut resource: Value) -> Option<Value> {
    if at.is_empty() {
        return Some(resource);
    }
    let id = resource.get("id").and_then(Value::as_str).unwrap_or_default();
    match standing(seed, born, at.latest(), resource_type, id) {
        Standing::Deleted(_) => None,
        Standing::Live { revised: None } => Some(resource),
        Standing::Live { revised: Some(e) } => {
            revise(&mut resource, resource_type, at.get(e));
            Some(resource)
        }
    }
}

/// An update made in `epoch`: a new version, and a change a reader can see. Only the latest update is applied,
/// to the resource as it came to be: each change is complete in itself.
fn revise(resource: &mut Value, resource_type: &str, epoch: &Epoch) {
    let e = epoch.number;
    let Some(r) = resource.as_object_mut() else { return };
    if !r.get("meta").is_some_and(Value::is_object) {
        r.insert("meta".into(), json!({}));
    }
    if let Some(meta) = r.get_mut("meta").and_then(Value::as_object_mut) {
        meta.insert("versionId".into(), json!((e + 1).to_string()));
        meta.insert("lastUpdated".into(), json!(epoch.instant()));
    }
    let id = r.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
    match resource_type {
        "Patient" => {
            let email = json!({"system": "email", "value": format!("{id}.e{e}@mail.example.org"), "use": "home"});
            match r.get_mut("telecom").and_then(Value::as_array_mut) {
                Some(telecom) => telecom.push(email),
                None => {
                    r.insert("telecom".into(), json!([email]));
                }
            }
        }
        "Observation" => {
            r.insert("status".into(), json!("amended"));
        }
        "MedicationRequest" if r.get("status") == Some(&json!("active")) => {
            r.insert("status".into(), json!("completed"));
        }
        "DocumentReference" => {
            r.insert("docStatus".into(), json!("amended"));
        }
        "Condition" | "Procedure" | "Immunization" | "AllergyIntolerance" => {
            r.insert("note".into(), json!([{"time": epoch.instant(), "text": format!("Reviewed (revision {e})")}]));
        }
        _ => {}
    }
    let revision = json!({"url": REVISION_URL, "valueInteger": e});
    match r.get_mut("extension").and_then(Value::as_array_mut) {
        Some(extensions) => extensions.push(revision),
        None => {
            r.insert("extension".into(), json!([revision]));
        }
    }
}

/// Whether patient `i` gains a new resource in epoch `e`.
pub fn creates(seed: u64, e: u64, i: u64) -> bool {
    Rng::keyed(seed, STREAM_CREATE, &[e, i]).chance(CREATED_PERCENT)
}

/// The id of the resource patient `patient_id` gains in epoch `e`.
pub fn created_id(e: u64, patient_id: &str) -> String {
    format!("obs-e{e}-{patient_id}")
}

/// (LOINC code, display, unit, low, high): vital signs a new reading may be.
const READINGS: &[(&str, &str, &str, f64, f64)] = &[
    ("8867-4", "Heart rate", "/min", 55.0, 100.0),
    ("8480-6", "Systolic blood pressure", "mm[Hg]", 100.0, 150.0),
    ("29463-7", "Body weight", "kg", 50.0, 110.0),
    ("8310-5", "Body temperature", "Cel", 36.1, 37.8),
];

/// The vital sign patient `i` gains in `epoch`, as it was created.
fn created(seed: u64, epoch: &Epoch, i: u64, patient_id: &str) -> Value {
    let mut r = Rng::keyed(seed, STREAM_READING, &[epoch.number, i]);
    let (code, display, unit, lo, hi) = *r.pick(READINGS);
    let value = ((lo + (hi - lo) * r.unit()) * 10.0).round() / 10.0;
    let when = epoch.instant();
    json!({
        "resourceType": "Observation",
        "id": created_id(epoch.number, patient_id),
        "meta": {"versionId": "1", "lastUpdated": when},
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs", "display": "Vital Signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}], "text": display},
        "subject": {"reference": format!("Patient/{patient_id}")},
        "effectiveDateTime": when,
        "issued": when,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
    })
}

/// The resources patient `i` gained in the epochs of `at`, as they stand now (later updates applied, deleted
/// ones left out).
pub fn additions(seed: u64, at: &Epochs, i: u64, patient_id: &str, mut out: impl FnMut(Value)) {
    for e in 1..=at.latest() {
        if creates(seed, e, i)
            && let Some(v) = current(seed, at, e, CREATED_TYPE, created(seed, at.get(e), i, patient_id))
        {
            out(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use time::OffsetDateTime;

    fn epochs(n: u64) -> Epochs {
        let start = OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap();
        Epochs(Arc::new(
            (1..=n).map(|number| Epoch { number, stamp: start + time::Duration::days(number as i64) }).collect(),
        ))
    }

    #[test]
    fn about_one_in_twenty_is_updated_and_one_in_a_hundred_deleted_per_epoch() {
        let (mut updated, mut deleted, mut patients_updated) = (0, 0, 0);
        for k in 0..20_000 {
            let id = format!("obs-{k:07}-0001");
            match event(42, 1, "Observation", Rng::name_key("Observation"), Rng::name_key(&id)) {
                Some(Event::Updated) => updated += 1,
                Some(Event::Deleted) => deleted += 1,
                None => {}
            }
            match event(42, 1, "Patient", Rng::name_key("Patient"), Rng::name_key(&format!("pat-{k:07}"))) {
                Some(Event::Updated) => patients_updated += 1,
                Some(Event::Deleted) => panic!("patients are never deleted"),
                None => {}
            }
            assert!(standing(42, 0, 9, "Practitioner", &id) == Standing::Live { revised: None }, "shared ones stay");
        }
        assert!((800..1200).contains(&updated), "{updated}");
        assert!((140..260).contains(&deleted), "{deleted}");
        assert!((800..1200).contains(&patients_updated), "{patients_updated}");
        let created = (0..20_000).filter(|&i| creates(42, 1, i)).count();
        assert!((450..750).contains(&created), "{created}");
    }

    #[test]
    fn the_latest_update_applies_and_a_deletion_is_final() {
        let at = epochs(6);
        let mut seen_revised = false;
        let mut seen_deleted = false;
        for k in 0..400 {
            let id = format!("cond-{k:07}-000");
            let base =
                json!({"resourceType": "Condition", "id": id, "meta": {"lastUpdated": "2020-01-01T00:00:00.000Z"}});
            match standing(42, 0, 6, "Condition", &id) {
                Standing::Deleted(e) => {
                    seen_deleted = true;
                    assert!(current(42, &at, 0, "Condition", base).is_none());
                    assert!(matches!(standing(42, 0, e - 1, "Condition", &id), Standing::Live { .. }));
                }
                Standing::Live { revised: Some(e) } => {
                    seen_revised = true;
                    let now = current(42, &at, 0, "Condition", base).unwrap();
                    assert_eq!(now["meta"]["versionId"], (e + 1).to_string());
                    assert_eq!(now["meta"]["lastUpdated"], at.get(e).instant());
                    assert_eq!(now["extension"][0]["valueInteger"], e);
                    assert_eq!(now["note"].as_array().unwrap().len(), 1);
                }
                Standing::Live { revised: None } => {
                    assert_eq!(current(42, &at, 0, "Condition", base.clone()), Some(base))
                }
            }
        }
        assert!(seen_revised && seen_deleted);
    }

    #[test]
    fn created_resources_refer_to_their_patient_and_change_later_like_others() {
        let at = epochs(10);
        let (mut made, mut revised) = (0, 0);
        for i in 0..100 {
            let pid = format!("pat-{i:07}");
            additions(42, &at, i, &pid, |v| {
                made += 1;
                assert_eq!(v["subject"]["reference"], format!("Patient/{pid}"));
                let id = v["id"].as_str().unwrap();
                let born: u64 = id.strip_prefix("obs-e").unwrap().split('-').next().unwrap().parse().unwrap();
                assert!(creates(42, born, i));
                assert!(v["valueQuantity"]["value"].as_f64().is_some());
                if v["meta"]["versionId"] != "1" {
                    revised += 1;
                    assert_eq!(v["status"], "amended");
                }
            });
        }
        assert!((10..60).contains(&made), "10 epochs at 3% of 100 patients: {made}");
        assert!(revised > 0, "some were updated after they were created");
        assert!(current(42, &Epochs::default(), 0, "Patient", json!({"id": "x"})).is_some());
    }
}
