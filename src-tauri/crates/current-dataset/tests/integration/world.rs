//! A small changing world for the tests: patients in a group, their Observations and Conditions, changing
//! month by month; exports of it written as Haul writes export folders.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

pub struct World {
    pub month: u32,
    /// (type, id) → (resource, patient).
    pub resources: BTreeMap<(String, String), (Value, String)>,
    pub members: BTreeSet<String>,
    /// Deletions with the month they happened.
    pub deletions: Vec<(u32, String, String)>,
    pub patients: u32,
}

pub fn stamp(month: u32, n: u32) -> String {
    format!("2026-{:02}-{:02}T10:00:{:02}.000Z", month + 1, 1 + n % 27, n % 60)
}

impl World {
    pub fn new(patients: u32, per_patient: u32) -> World {
        let mut w =
            World { month: 0, resources: BTreeMap::new(), members: BTreeSet::new(), deletions: Vec::new(), patients };
        for p in 0..patients {
            let pid = format!("p{p}");
            w.put("Patient", &pid, &pid, json!({"name": [{"family": format!("Family{p}")}], "gender": "female"}), 0, p);
            for k in 0..per_patient {
                let id = format!("o-{p}-{k}");
                let body = json!({"status": "final", "subject": {"reference": format!("Patient/{pid}")},
                    "valueQuantity": {"value": k as f64 + 0.5, "unit": "mg"}});
                w.put("Observation", &id, &pid, body, 0, k);
            }
            w.put(
                "Condition",
                &format!("c-{p}"),
                &pid,
                json!({"subject": {"reference": format!("Patient/{pid}")}, "code": {"text": "x"}}),
                0,
                p,
            );
            if p % 4 != 0 {
                w.members.insert(pid);
            }
        }
        w
    }

    fn put(&mut self, t: &str, id: &str, patient: &str, mut body: Value, month: u32, n: u32) {
        let o = body.as_object_mut().unwrap();
        o.insert("resourceType".into(), json!(t));
        o.insert("id".into(), json!(id));
        o.insert("meta".into(), json!({"lastUpdated": stamp(month, n), "versionId": month.to_string()}));
        self.resources.insert((t.into(), id.into()), (body, patient.into()));
    }

    /// A month passes: every 7th resource changes, every 11th Observation is deleted, a new Observation for
    /// every 5th patient, two patients join and one leaves. `widen` adds a field no resource had before.
    pub fn advance(&mut self, widen: bool) {
        self.month += 1;
        let m = self.month;
        let keys: Vec<_> = self.resources.keys().cloned().collect();
        for (n, key) in keys.iter().enumerate() {
            let n = n as u32;
            if key.0 == "Observation" && (n + m).is_multiple_of(11) {
                self.resources.remove(key);
                self.deletions.push((m, key.0.clone(), key.1.clone()));
            } else if (n + m).is_multiple_of(7) {
                let (mut body, patient) = self.resources[key].clone();
                body["meta"] = json!({"lastUpdated": stamp(m, n), "versionId": m.to_string()});
                if key.0 == "Observation" {
                    body["status"] = json!("amended");
                    if widen {
                        body["note"] = json!([{"text": format!("corrected in month {m}")}]);
                    }
                }
                self.resources.insert(key.clone(), (body, patient));
            }
        }
        for p in (0..self.patients).filter(|p| p % 5 == (m % 5)) {
            let pid = format!("p{p}");
            let body = json!({"status": "preliminary", "subject": {"reference": format!("Patient/{pid}")}});
            self.put("Observation", &format!("new-{m}-{p}"), &pid, body, m, p);
        }
        let outside: Vec<String> =
            (0..self.patients).map(|p| format!("p{p}")).filter(|p| !self.members.contains(p)).collect();
        for p in outside.iter().take(2) {
            self.members.insert(p.clone());
        }
        if let Some(leaver) = self.members.iter().nth(m as usize).cloned() {
            self.members.remove(&leaver);
        }
    }

    /// The group's resources now: what a full export returns and what the dataset must equal.
    pub fn state(&self) -> BTreeMap<(String, String), Value> {
        self.resources
            .iter()
            .filter(|(_, (_, patient))| self.members.contains(patient))
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect()
    }

    /// Resources of `patients` (all of them, any time): the new members' full records.
    pub fn records_of(&self, patients: &BTreeSet<String>) -> Vec<Value> {
        self.resources.values().filter(|(_, p)| patients.contains(p)).map(|(v, _)| v.clone()).collect()
    }

    /// Changed since the start of month `since_month` (exclusive of earlier months), for current members.
    pub fn changed_since(&self, since_month: u32) -> Vec<Value> {
        let month = |v: &Value| v["meta"]["versionId"].as_str().unwrap().parse::<u32>().unwrap();
        self.state().into_values().filter(|v| month(v) > since_month).collect()
    }

    pub fn deleted_since(&self, since_month: u32) -> Vec<(String, String)> {
        self.deletions.iter().filter(|(m, ..)| *m > since_month).map(|(_, t, id)| (t.clone(), id.clone())).collect()
    }
}

/// Writes an export folder: `Type.001.ndjson` per type, `deleted/` Bundle.
pub fn write_export(dir: &Path, resources: &[Value], deleted: &[(String, String)]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let mut by_type: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for r in resources {
        by_type.entry(r["resourceType"].as_str().unwrap().to_string()).or_default().push(r);
    }
    for (t, rs) in by_type {
        let mut f = std::fs::File::create(dir.join(format!("{t}.001.ndjson"))).unwrap();
        for r in rs {
            writeln!(f, "{r}").unwrap();
        }
    }
    if !deleted.is_empty() {
        std::fs::create_dir_all(dir.join("deleted")).unwrap();
        let entries: Vec<Value> = deleted
            .iter()
            .map(|(t, id)| json!({"request": {"method": "DELETE", "url": format!("{t}/{id}")}}))
            .collect();
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
        std::fs::write(dir.join("deleted").join("Bundle.001.ndjson"), format!("{bundle}\n")).unwrap();
    }
    dir.to_path_buf()
}

/// Every resource of the dataset, read back from Parquet, by (type, id).
pub fn dataset_contents(dir: &Path) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    current_dataset::each_resource(dir, &mut |line| {
        let v: Value = serde_json::from_str(&line).unwrap();
        let key = (v["resourceType"].as_str().unwrap().to_string(), v["id"].as_str().unwrap().to_string());
        assert!(out.insert(key.clone(), v).is_none(), "{key:?} twice in the dataset");
    })
    .unwrap();
    out
}

/// Compares two states resource by resource, naming the first few differences.
pub fn assert_same(actual: &BTreeMap<(String, String), Value>, expected: &BTreeMap<(String, String), Value>) {
    let missing: Vec<_> = expected.keys().filter(|k| !actual.contains_key(*k)).take(5).collect();
    let extra: Vec<_> = actual.keys().filter(|k| !expected.contains_key(*k)).take(5).collect();
    let differ: Vec<_> =
        expected.iter().filter(|(k, v)| actual.get(*k).is_some_and(|a| a != *v)).map(|(k, _)| k).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && differ.is_empty(),
        "dataset differs from the full export: missing {missing:?}, extra {extra:?}, different {differ:?}"
    );
}
