//! A deterministic synthetic dataset: the same seed and patient count always give the same resources.
//!
//! Nothing is held in memory: every resource is a function of (seed, patient index, kind, ordinal), and the
//! number of resources of each kind a patient has comes from its own random stream, so file sizes and
//! manifest counts are known before a resource is generated.
//!
//! Resources are made per family: `shared` (practitioners, organizations, locations), `clinical` (the patient
//! and their care), `financial` (coverage, claims, explanations of benefit); `vocabulary` holds the code tables;
//! `ids` lists a patient's resource ids without making the resources.

mod clinical;
mod financial;
mod ids;
mod shared;
mod vocabulary;

use serde_json::{Value, json};

use crate::rng::Rng;
use vocabulary::{CITIES, FAMILY, GIVEN};

/// Resource types the generator makes, in the order an export lists them.
pub const TYPES: &[&str] = &[
    "Patient",
    "Practitioner",
    "Organization",
    "Location",
    "Encounter",
    "Condition",
    "Observation",
    "MedicationRequest",
    "Procedure",
    "Immunization",
    "AllergyIntolerance",
    "Coverage",
    "Claim",
    "ExplanationOfBenefit",
    "DocumentReference",
];

/// Types that are not in a patient's compartment: exported at system level only.
pub const SHARED_TYPES: &[&str] = &["Practitioner", "Organization", "Location"];

const STREAM_COUNTS: u64 = 1;
const STREAM_DATA: u64 = 2;
const STREAM_SHARED: u64 = 3;

/// How many of each kind one patient has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatientCounts {
    pub encounters: u64,
    pub conditions: u64,
    pub observations: u64,
    pub medications: u64,
    pub procedures: u64,
    pub immunizations: u64,
    pub allergies: u64,
    pub documents: u64,
}

impl PatientCounts {
    /// Resources of `resource_type` this patient has.
    pub fn of(&self, resource_type: &str) -> u64 {
        match resource_type {
            "Patient" | "Coverage" => 1,
            "Encounter" | "Claim" | "ExplanationOfBenefit" => self.encounters,
            "Condition" => self.conditions,
            "Observation" => self.observations,
            "MedicationRequest" => self.medications,
            "Procedure" => self.procedures,
            "Immunization" => self.immunizations,
            "AllergyIntolerance" => self.allergies,
            "DocumentReference" => self.documents,
            _ => 0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Generated {
    pub seed: u64,
    pub patients: u64,
}

/// 2014-01-01 and 2026-10-31 as days since 1970-01-01: the span clinical dates fall in.
const FIRST_DAY: i64 = 16071;
const LAST_DAY: i64 = 20757;

impl Generated {
    pub fn new(seed: u64, patients: u64) -> Self {
        Self { seed, patients: patients.max(1) }
    }

    pub fn patient_id(i: u64) -> String {
        format!("pat-{i:07}")
    }

    /// The index of a generated patient id, if it is one of ours.
    pub fn patient_index(&self, id: &str) -> Option<u64> {
        let i: u64 = id.strip_prefix("pat-")?.parse().ok()?;
        (i < self.patients).then_some(i)
    }

    pub fn practitioners(&self) -> u64 {
        (self.patients / 50).max(3)
    }

    /// Payers first (3), then providers.
    pub fn organizations(&self) -> u64 {
        3 + (self.patients / 200).max(2)
    }

    pub fn locations(&self) -> u64 {
        self.organizations() - 3
    }

    pub fn shared_count(&self, resource_type: &str) -> u64 {
        match resource_type {
            "Practitioner" => self.practitioners(),
            "Organization" => self.organizations(),
            "Location" => self.locations(),
            _ => 0,
        }
    }

    fn type_rng(&self, resource_type: &str, i: u64) -> Rng {
        let stream = 100 + TYPES.iter().position(|t| *t == resource_type).unwrap_or(0) as u64;
        Rng::derive(self.seed, stream, i)
    }

    pub fn counts(&self, i: u64) -> PatientCounts {
        let mut r = Rng::derive(self.seed, STREAM_COUNTS, i);
        let encounters = r.range(2, 24);
        PatientCounts {
            encounters,
            conditions: r.range(0, 6),
            observations: encounters * r.range(2, 5),
            medications: r.range(0, 8),
            procedures: r.range(0, 5),
            immunizations: r.range(0, 6),
            allergies: r.range(0, 2),
            documents: r.range(0, 3),
        }
    }

    /// Every resource of patient `i` whose type `wanted` accepts, in a fixed order.
    pub fn patient_resources(&self, i: u64, wanted: impl Fn(&str) -> bool, mut out: impl FnMut(&'static str, Value)) {
        let facts = self.patient_facts(i);
        if wanted("Patient") {
            self.patient(&facts, &mut out);
        }
        if wanted("Encounter") {
            self.encounters(&facts, &mut out);
        }
        if wanted("Condition") {
            self.conditions(&facts, &mut out);
        }
        if wanted("Observation") {
            self.observations(&facts, &mut out);
        }
        if wanted("MedicationRequest") {
            self.medication_requests(&facts, &mut out);
        }
        if wanted("Procedure") {
            self.procedures(&facts, &mut out);
        }
        if wanted("Immunization") {
            self.immunizations(&facts, &mut out);
        }
        if wanted("AllergyIntolerance") {
            self.allergies(&facts, &mut out);
        }
        if wanted("Coverage") {
            self.coverage(&facts, &mut out);
        }
        let want_claim = wanted("Claim");
        let want_eob = wanted("ExplanationOfBenefit");
        if want_claim || want_eob {
            self.claims(&facts, want_claim, want_eob, &mut out);
        }
        if wanted("DocumentReference") {
            self.documents(&facts, &mut out);
        }
    }

    fn patient_facts(&self, i: u64) -> PatientFacts {
        let counts = self.counts(i);
        // Facts every type uses come from the patient's base stream, drawn whatever is wanted; each type
        // then has a stream of its own, so `_type=Observation` yields the same Observations as a full export.
        let mut r = Rng::derive(self.seed, STREAM_DATA, i);
        let pid = Self::patient_id(i);
        let subject = json!({"reference": format!("Patient/{pid}")});
        let birth_day = r.range(0, 42_000) as i64 - 24_000;
        let female = r.chance(51);
        let given = *r.pick(GIVEN);
        let family = *r.pick(FAMILY);
        let city = *r.pick(CITIES);
        let payer = r.range(0, 2);
        let provider_org = 3 + r.range(0, self.organizations() - 4);
        let gp = r.range(0, self.practitioners() - 1);

        // Encounter days, sorted, so everything that refers to an encounter happens on its day.
        let mut days: Vec<i64> =
            (0..counts.encounters).map(|_| r.range(FIRST_DAY as u64, LAST_DAY as u64) as i64).collect();
        days.sort_unstable();
        PatientFacts { i, counts, pid, subject, birth_day, female, given, family, city, payer, provider_org, gp, days }
    }
}

/// The facts all of one patient's resources share, drawn once from the patient's base stream.
struct PatientFacts {
    i: u64,
    counts: PatientCounts,
    pid: String,
    /// `{"reference": "Patient/<pid>"}`
    subject: Value,
    birth_day: i64,
    female: bool,
    given: &'static str,
    family: &'static str,
    /// (city, state, postal code)
    city: (&'static str, &'static str, &'static str),
    /// The payer organization's index (0..3).
    payer: u64,
    /// The provider organization's index (after the payers, so 3 and up).
    provider_org: u64,
    /// The general practitioner's index.
    gp: u64,
    /// Encounter days, sorted.
    days: Vec<i64>,
}

impl PatientFacts {
    fn encounter_id(&self, e: u64) -> String {
        let i = self.i;
        format!("enc-{i:07}-{e:03}")
    }

    /// One of the patient's encounters, for a resource that refers to one.
    fn pick_encounter(&self, r: &mut Rng) -> u64 {
        r.range(0, self.counts.encounters - 1)
    }

    fn coverage_id(&self) -> String {
        let i = self.i;
        format!("cov-{i:07}")
    }
}

fn round(v: f64, decimals: u32) -> f64 {
    let f = 10f64.powi(decimals as i32);
    (v * f).round() / f
}

/// A calendar date from days since 1970-01-01.
pub fn date(days: i64) -> String {
    let d = time::Date::from_julian_day(2_440_588 + days as i32).unwrap_or(time::Date::MIN);
    format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
}

/// A FHIR instant on that day (capped at the dataset's last day so nothing is in the future).
fn instant(days: i64, r: &mut Rng) -> String {
    let day = days.min(LAST_DAY);
    format!("{}T{:02}:{:02}:{:02}.{:03}Z", date(day), r.range(0, 23), r.range(0, 59), r.range(0, 59), r.range(0, 999))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_matches_the_counts() {
        let g = Generated::new(42, 20);
        for i in 0..20 {
            let counts = g.counts(i);
            let mut by_type = std::collections::BTreeMap::<&str, u64>::new();
            let mut first = Vec::new();
            g.patient_resources(
                i,
                |_| true,
                |t, v| {
                    *by_type.entry(t).or_default() += 1;
                    assert_eq!(v["resourceType"], t);
                    first.push(v);
                },
            );
            for t in TYPES.iter().filter(|t| !SHARED_TYPES.contains(t)) {
                assert_eq!(by_type.get(t).copied().unwrap_or(0), counts.of(t), "patient {i} type {t}");
            }
            let mut again = Vec::new();
            g.patient_resources(i, |_| true, |_, v| again.push(v));
            assert_eq!(first, again, "same seed, same resources");
        }
    }

    #[test]
    fn filtering_types_does_not_change_what_is_generated() {
        let g = Generated::new(7, 5);
        let mut all_obs = Vec::new();
        g.patient_resources(
            3,
            |_| true,
            |t, v| {
                if t == "Observation" {
                    all_obs.push(v)
                }
            },
        );
        let mut only_obs = Vec::new();
        g.patient_resources(3, |t| t == "Observation", |_, v| only_obs.push(v));
        // Skipping other types must not shift the random draws: the resources are identical.
        assert_eq!(all_obs, only_obs);
    }

    #[test]
    fn references_resolve() {
        let g = Generated::new(1, 30);
        let mut ids = std::collections::HashSet::new();
        let mut refs = Vec::new();
        for t in SHARED_TYPES {
            for k in 0..g.shared_count(t) {
                let v = g.shared(t, k);
                ids.insert(format!("{t}/{}", v["id"].as_str().unwrap()));
                collect_refs(&v, &mut refs);
            }
        }
        for i in 0..30 {
            g.patient_resources(
                i,
                |_| true,
                |t, v| {
                    ids.insert(format!("{t}/{}", v["id"].as_str().unwrap()));
                    collect_refs(&v, &mut refs);
                },
            );
        }
        for r in &refs {
            assert!(ids.contains(r), "dangling reference {r}");
        }
        assert!(refs.len() > 1000);
    }

    fn collect_refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    if k == "reference" {
                        out.push(v.as_str().unwrap().to_string());
                    } else {
                        collect_refs(v, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn dates_are_calendar_dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(FIRST_DAY), "2014-01-01");
        assert_eq!(date(LAST_DAY), "2026-10-31");
    }
}
