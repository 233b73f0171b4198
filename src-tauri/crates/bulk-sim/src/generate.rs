//! A deterministic synthetic dataset: the same seed and patient count always give the same resources.
//!
//! Nothing is held in memory: every resource is a function of (seed, patient index, kind, ordinal), and the
//! number of resources of each kind a patient has comes from its own random stream, so file sizes and
//! manifest counts are known before a resource is generated.

use serde_json::{Value, json};

use crate::rng::Rng;

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

    /// Shared (non-patient) resource number `k` of a type.
    pub fn shared(&self, resource_type: &str, k: u64) -> Value {
        let mut r = Rng::derive(self.seed, STREAM_SHARED, k.wrapping_mul(31) + resource_type.len() as u64);
        let updated = instant(r.range(FIRST_DAY as u64, LAST_DAY as u64) as i64, &mut r);
        match resource_type {
            "Practitioner" => {
                let (given, family) = (r.pick(GIVEN), r.pick(FAMILY));
                json!({
                    "resourceType": "Practitioner",
                    "id": format!("prac-{k:05}"),
                    "meta": {"lastUpdated": updated},
                    "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": format!("{}", 1_000_000_000 + k * 7919 % 999_999_999)}],
                    "active": true,
                    "name": [{"family": family, "given": [given], "prefix": ["Dr."]}],
                    "gender": if r.chance(50) { "female" } else { "male" }
                })
            }
            "Organization" if k < 3 => {
                let (name, code) = PAYERS[k as usize];
                json!({
                    "resourceType": "Organization",
                    "id": format!("org-{k:04}"),
                    "meta": {"lastUpdated": updated},
                    "identifier": [{"system": "urn:oid:2.16.840.1.113883.6.300", "value": code}],
                    "active": true,
                    "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "pay", "display": "Payer"}]}],
                    "name": name
                })
            }
            "Organization" => {
                let (city, state, zip) = *r.pick(CITIES);
                json!({
                    "resourceType": "Organization",
                    "id": format!("org-{k:04}"),
                    "meta": {"lastUpdated": updated},
                    "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": format!("{}", 1_200_000_000 + k * 104_729 % 99_999_999)}],
                    "active": true,
                    "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "prov", "display": "Healthcare Provider"}]}],
                    "name": format!("{city} {}", r.pick(&["Medical Center", "Community Clinic", "Family Practice", "General Hospital"])),
                    "address": [{"city": city, "state": state, "postalCode": zip, "country": "US"}]
                })
            }
            "Location" => {
                let (city, state, zip) = *r.pick(CITIES);
                json!({
                    "resourceType": "Location",
                    "id": format!("loc-{k:04}"),
                    "meta": {"lastUpdated": updated},
                    "status": "active",
                    "name": format!("{city} campus"),
                    "address": {"city": city, "state": state, "postalCode": zip, "country": "US"},
                    "managingOrganization": {"reference": format!("Organization/org-{:04}", k + 3)}
                })
            }
            other => json!({"resourceType": other, "id": format!("{k}")}),
        }
    }

    /// Every resource of patient `i` whose type `wanted` accepts, in a fixed order.
    pub fn patient_resources(&self, i: u64, wanted: impl Fn(&str) -> bool, mut out: impl FnMut(&'static str, Value)) {
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
        let (city, state, zip) = *r.pick(CITIES);
        let payer = r.range(0, 2);
        let provider_org = 3 + r.range(0, self.organizations() - 4);
        let gp = r.range(0, self.practitioners() - 1);

        // Encounter days, sorted, so everything that refers to an encounter happens on its day.
        let mut days: Vec<i64> =
            (0..counts.encounters).map(|_| r.range(FIRST_DAY as u64, LAST_DAY as u64) as i64).collect();
        days.sort_unstable();
        let enc_id = |e: u64| format!("enc-{i:07}-{e:03}");

        if wanted("Patient") {
            let mut r = self.type_rng("Patient", i);
            let updated = instant(days[days.len() - 1], &mut r);
            out(
                "Patient",
                json!({
                    "resourceType": "Patient",
                    "id": pid,
                    "meta": {"lastUpdated": updated},
                    "identifier": [{
                        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR", "display": "Medical Record Number"}]},
                        "system": "urn:oid:1.2.36.146.595.217.0.1",
                        "value": format!("MRN{:08}", i * 7 + 1000)
                    }],
                    "active": true,
                    "name": [{"use": "official", "family": family, "given": [given]}],
                    "telecom": [{"system": "phone", "value": format!("555-{:03}-{:04}", i % 1000, (i * 37) % 10_000), "use": "home"}],
                    "gender": if female { "female" } else { "male" },
                    "birthDate": date(birth_day),
                    "address": [{"line": [format!("{} {} Street", 10 + i % 990, r.pick(STREETS))], "city": city, "state": state, "postalCode": zip, "country": "US"}],
                    "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "en-US", "display": "English (United States)"}]}}],
                    "generalPractitioner": [{"reference": format!("Practitioner/prac-{gp:05}")}]
                }),
            );
        }
        if wanted("Encounter") {
            let mut r = self.type_rng("Encounter", i);
            for e in 0..counts.encounters {
                let (class, class_display, code, display) = *r.pick(ENCOUNTERS);
                let day = days[e as usize];
                let hour = r.range(7, 18);
                let start = format!("{}T{hour:02}:{:02}:00Z", date(day), r.range(0, 59));
                let end = format!("{}T{:02}:{:02}:00Z", date(day), hour + 1, r.range(0, 59));
                out(
                    "Encounter",
                    json!({
                        "resourceType": "Encounter",
                        "id": enc_id(e),
                        "meta": {"lastUpdated": instant(day + r.range(0, 30) as i64, &mut r)},
                        "status": "finished",
                        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": class, "display": class_display},
                        "type": [{"coding": [{"system": "http://snomed.info/sct", "code": code, "display": display}], "text": display}],
                        "subject": subject,
                        "participant": [{"individual": {"reference": format!("Practitioner/prac-{gp:05}")}}],
                        "period": {"start": start, "end": end},
                        "location": [{"location": {"reference": format!("Location/loc-{:04}", provider_org - 3)}}],
                        "serviceProvider": {"reference": format!("Organization/org-{provider_org:04}")}
                    }),
                );
            }
        }
        let pick_enc = |r: &mut Rng| r.range(0, counts.encounters - 1);
        if wanted("Condition") {
            let mut r = self.type_rng("Condition", i);
            for c in 0..counts.conditions {
                let e = pick_enc(&mut r);
                let (code, display) = *r.pick(CONDITIONS);
                let resolved = r.chance(35);
                let day = days[e as usize];
                let mut cond = json!({
                    "resourceType": "Condition",
                    "id": format!("cond-{i:07}-{c:03}"),
                    "meta": {"lastUpdated": instant(day + r.range(0, 60) as i64, &mut r)},
                    "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": if resolved { "resolved" } else { "active" }}]},
                    "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
                    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis", "display": "Encounter Diagnosis"}]}],
                    "code": {"coding": [{"system": "http://snomed.info/sct", "code": code, "display": display}], "text": display},
                    "subject": subject,
                    "encounter": {"reference": format!("Encounter/{}", enc_id(e))},
                    "onsetDateTime": format!("{}T09:00:00Z", date(day)),
                    "recordedDate": format!("{}T09:30:00Z", date(day))
                });
                if resolved {
                    cond["abatementDateTime"] = json!(format!("{}T09:00:00Z", date(day + r.range(10, 400) as i64)));
                }
                out("Condition", cond);
            }
        }
        if wanted("Observation") {
            let mut r = self.type_rng("Observation", i);
            for o in 0..counts.observations {
                let e = o * counts.encounters / counts.observations.max(1);
                let day = days[e as usize];
                let lab = r.chance(40);
                let (code, display, unit, lo, hi, decimals) = if lab { *r.pick(LABS) } else { *r.pick(VITALS) };
                let value = round(lo + (hi - lo) * r.unit(), decimals);
                let (cat, cat_display) =
                    if lab { ("laboratory", "Laboratory") } else { ("vital-signs", "Vital Signs") };
                out(
                    "Observation",
                    json!({
                        "resourceType": "Observation",
                        "id": format!("obs-{i:07}-{o:04}"),
                        "meta": {"lastUpdated": instant(day + r.range(0, 3) as i64, &mut r)},
                        "status": "final",
                        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": cat, "display": cat_display}]}],
                        "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}], "text": display},
                        "subject": subject,
                        "encounter": {"reference": format!("Encounter/{}", enc_id(e))},
                        "effectiveDateTime": format!("{}T10:{:02}:00Z", date(day), r.range(0, 59)),
                        "issued": instant(day, &mut r),
                        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
                    }),
                );
            }
        }
        if wanted("MedicationRequest") {
            let mut r = self.type_rng("MedicationRequest", i);
            for m in 0..counts.medications {
                let e = pick_enc(&mut r);
                let day = days[e as usize];
                let (code, display) = *r.pick(MEDICATIONS);
                out(
                    "MedicationRequest",
                    json!({
                        "resourceType": "MedicationRequest",
                        "id": format!("medrx-{i:07}-{m:03}"),
                        "meta": {"lastUpdated": instant(day + r.range(0, 90) as i64, &mut r)},
                        "status": if r.chance(60) { "active" } else { "completed" },
                        "intent": "order",
                        "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": code, "display": display}], "text": display},
                        "subject": subject,
                        "encounter": {"reference": format!("Encounter/{}", enc_id(e))},
                        "authoredOn": format!("{}T11:00:00Z", date(day)),
                        "requester": {"reference": format!("Practitioner/prac-{gp:05}")},
                        "dosageInstruction": [{"sequence": 1, "text": "Take as directed", "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}}]
                    }),
                );
            }
        }
        if wanted("Procedure") {
            let mut r = self.type_rng("Procedure", i);
            for p in 0..counts.procedures {
                let e = pick_enc(&mut r);
                let day = days[e as usize];
                let (code, display) = *r.pick(PROCEDURES);
                out(
                    "Procedure",
                    json!({
                        "resourceType": "Procedure",
                        "id": format!("proc-{i:07}-{p:03}"),
                        "meta": {"lastUpdated": instant(day + r.range(0, 20) as i64, &mut r)},
                        "status": "completed",
                        "code": {"coding": [{"system": "http://snomed.info/sct", "code": code, "display": display}], "text": display},
                        "subject": subject,
                        "encounter": {"reference": format!("Encounter/{}", enc_id(e))},
                        "performedPeriod": {"start": format!("{}T13:00:00Z", date(day)), "end": format!("{}T13:40:00Z", date(day))}
                    }),
                );
            }
        }
        if wanted("Immunization") {
            let mut r = self.type_rng("Immunization", i);
            for v in 0..counts.immunizations {
                let e = pick_enc(&mut r);
                let day = days[e as usize];
                let (code, display) = *r.pick(VACCINES);
                out(
                    "Immunization",
                    json!({
                        "resourceType": "Immunization",
                        "id": format!("imm-{i:07}-{v:03}"),
                        "meta": {"lastUpdated": instant(day + r.range(0, 10) as i64, &mut r)},
                        "status": "completed",
                        "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": code, "display": display}], "text": display},
                        "patient": subject,
                        "encounter": {"reference": format!("Encounter/{}", enc_id(e))},
                        "occurrenceDateTime": format!("{}T10:30:00Z", date(day)),
                        "primarySource": true
                    }),
                );
            }
        }
        if wanted("AllergyIntolerance") {
            let mut r = self.type_rng("AllergyIntolerance", i);
            for a in 0..counts.allergies {
                let day = days[0];
                let (code, display) = *r.pick(ALLERGIES);
                out(
                    "AllergyIntolerance",
                    json!({
                        "resourceType": "AllergyIntolerance",
                        "id": format!("allergy-{i:07}-{a:02}"),
                        "meta": {"lastUpdated": instant(day + r.range(0, 700) as i64, &mut r)},
                        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]},
                        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": "confirmed"}]},
                        "type": "allergy",
                        "category": [if code == "91935009" { "food" } else { "medication" }],
                        "criticality": "low",
                        "code": {"coding": [{"system": "http://snomed.info/sct", "code": code, "display": display}], "text": display},
                        "patient": subject,
                        "recordedDate": format!("{}T08:00:00Z", date(day))
                    }),
                );
            }
        }
        let coverage_id = format!("cov-{i:07}");
        if wanted("Coverage") {
            let mut r = self.type_rng("Coverage", i);
            out(
                "Coverage",
                json!({
                    "resourceType": "Coverage",
                    "id": coverage_id,
                    "meta": {"lastUpdated": instant(days[0], &mut r)},
                    "status": "active",
                    "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HIP", "display": "health insurance plan policy"}]},
                    "subscriberId": format!("SUB{:09}", i * 13 + 7),
                    "beneficiary": subject,
                    "relationship": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": "self"}]},
                    "period": {"start": date(days[0] - 365)},
                    "payor": [{"reference": format!("Organization/org-{payer:04}")}]
                }),
            );
        }
        let want_claim = wanted("Claim");
        let want_eob = wanted("ExplanationOfBenefit");
        if want_claim || want_eob {
            // One stream for both: a Claim and its ExplanationOfBenefit share their lines and amounts.
            let mut r = self.type_rng("Claim", i);
            for e in 0..counts.encounters {
                let day = days[e as usize];
                let (_, _, code, display) = *r.pick(ENCOUNTERS);
                let lines = r.range(1, 4);
                let items: Vec<(u64, f64)> = (1..=lines).map(|n| (n, round(40.0 + 900.0 * r.unit(), 2))).collect();
                let total = round(items.iter().map(|(_, v)| v).sum::<f64>(), 2);
                let period =
                    json!({"start": format!("{}T09:00:00Z", date(day)), "end": format!("{}T10:00:00Z", date(day))});
                let updated = instant(day + r.range(1, 45) as i64, &mut r);
                let claim_id = format!("claim-{i:07}-{e:03}");
                let item_json = |with_adjudication: bool| -> Vec<Value> {
                    items
                        .iter()
                        .map(|(n, v)| {
                            let mut item = json!({
                                "sequence": n,
                                "productOrService": {"coding": [{"system": "http://snomed.info/sct", "code": code, "display": display}], "text": display},
                                "servicedDate": date(day),
                                "net": {"value": v, "currency": "USD"}
                            });
                            if with_adjudication {
                                item["adjudication"] = json!([{
                                    "category": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/adjudication", "code": "benefit"}]},
                                    "amount": {"value": round(v * 0.8, 2), "currency": "USD"}
                                }]);
                            }
                            item
                        })
                        .collect()
                };
                let claim_type = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": if code == "32485007" { "institutional" } else { "professional" }}]});
                if want_claim {
                    out(
                        "Claim",
                        json!({
                            "resourceType": "Claim",
                            "id": claim_id,
                            "meta": {"lastUpdated": updated},
                            "status": "active",
                            "type": claim_type,
                            "use": "claim",
                            "patient": subject,
                            "billablePeriod": period,
                            "created": format!("{}T10:00:00Z", date(day)),
                            "provider": {"reference": format!("Organization/org-{provider_org:04}")},
                            "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
                            "insurance": [{"sequence": 1, "focal": true, "coverage": {"reference": format!("Coverage/{coverage_id}")}}],
                            "item": item_json(false),
                            "total": {"value": total, "currency": "USD"}
                        }),
                    );
                }
                if want_eob {
                    out(
                        "ExplanationOfBenefit",
                        json!({
                            "resourceType": "ExplanationOfBenefit",
                            "id": format!("eob-{i:07}-{e:03}"),
                            "meta": {"lastUpdated": updated},
                            "status": "active",
                            "type": claim_type,
                            "use": "claim",
                            "patient": subject,
                            "billablePeriod": period,
                            "created": format!("{}T10:00:00Z", date(day)),
                            "insurer": {"reference": format!("Organization/org-{payer:04}")},
                            "provider": {"reference": format!("Organization/org-{provider_org:04}")},
                            "claim": {"reference": format!("Claim/{claim_id}")},
                            "outcome": "complete",
                            "insurance": [{"focal": true, "coverage": {"reference": format!("Coverage/{coverage_id}")}}],
                            "item": item_json(true),
                            "total": [
                                {"category": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/adjudication", "code": "submitted"}]}, "amount": {"value": total, "currency": "USD"}},
                                {"category": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/adjudication", "code": "benefit"}]}, "amount": {"value": round(total * 0.8, 2), "currency": "USD"}}
                            ],
                            "payment": {"amount": {"value": round(total * 0.8, 2), "currency": "USD"}}
                        }),
                    );
                }
            }
        }
        if wanted("DocumentReference") {
            let mut r = self.type_rng("DocumentReference", i);
            for d in 0..counts.documents {
                let e = pick_enc(&mut r);
                let day = days[e as usize];
                out(
                    "DocumentReference",
                    json!({
                        "resourceType": "DocumentReference",
                        "id": format!("doc-{i:07}-{d:02}"),
                        "meta": {"lastUpdated": instant(day + r.range(0, 5) as i64, &mut r)},
                        "status": "current",
                        "type": {"coding": [{"system": "http://loinc.org", "code": "34117-2", "display": "History and physical note"}]},
                        "category": [{"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category", "code": "clinical-note", "display": "Clinical Note"}]}],
                        "subject": subject,
                        "date": instant(day, &mut r),
                        "author": [{"reference": format!("Practitioner/prac-{gp:05}")}],
                        "content": [{"attachment": {"contentType": "text/plain", "data": NOTE_BASE64}}],
                        "context": {"encounter": [{"reference": format!("Encounter/{}", enc_id(e))}]}
                    }),
                );
            }
        }
    }
}

/// "Patient seen for follow-up. Vitals stable. Continue current plan." in base64.
const NOTE_BASE64: &str = "UGF0aWVudCBzZWVuIGZvciBmb2xsb3ctdXAuIFZpdGFscyBzdGFibGUuIENvbnRpbnVlIGN1cnJlbnQgcGxhbi4=";

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

const GIVEN: &[&str] = &[
    "Maria", "James", "Aisha", "Chen", "Olivia", "Mateo", "Fatima", "Liam", "Priya", "Noah", "Sofia", "Kwame", "Emma",
    "Hiroshi", "Zara", "Lucas",
];
const FAMILY: &[&str] = &[
    "Garcia", "Smith", "Okafor", "Nguyen", "Johnson", "Patel", "Kowalski", "Brown", "Haddad", "Silva", "Müller",
    "O'Brien", "Tanaka", "Jensen", "Rossi", "Williams",
];
const STREETS: &[&str] = &["Oak", "Maple", "Cedar", "Elm", "Pine", "Lake", "Hill", "Main"];
const CITIES: &[(&str, &str, &str)] = &[
    ("Boston", "MA", "02118"),
    ("Worcester", "MA", "01608"),
    ("Springfield", "MA", "01103"),
    ("Hartford", "CT", "06103"),
    ("Providence", "RI", "02903"),
    ("Portland", "ME", "04101"),
];
const PAYERS: [(&str, &str); 3] =
    [("Blue Plains Health Plan", "BPHP"), ("Medicare", "CMS"), ("Acme Mutual Insurance", "ACME")];
const ENCOUNTERS: &[(&str, &str, &str, &str)] = &[
    ("AMB", "ambulatory", "185349003", "Encounter for check up"),
    ("AMB", "ambulatory", "390906007", "Follow-up encounter"),
    ("AMB", "ambulatory", "185345009", "Encounter for symptom"),
    ("EMER", "emergency", "50849002", "Emergency room admission"),
    ("IMP", "inpatient encounter", "32485007", "Hospital admission"),
];
const CONDITIONS: &[(&str, &str)] = &[
    ("44054006", "Diabetes mellitus type 2"),
    ("38341003", "Hypertensive disorder, systemic arterial"),
    ("195967001", "Asthma"),
    ("55822004", "Hyperlipidemia"),
    ("13645005", "Chronic obstructive pulmonary disease"),
    ("444814009", "Viral sinusitis"),
    ("10509002", "Acute bronchitis"),
    ("162864005", "Body mass index 30+ - obesity"),
    ("35489007", "Depressive disorder"),
    ("271737000", "Anemia"),
];
/// (LOINC, display, UCUM unit, low, high, decimals)
type Measure = (&'static str, &'static str, &'static str, f64, f64, u32);
const VITALS: &[Measure] = &[
    ("8867-4", "Heart rate", "/min", 52.0, 110.0, 0),
    ("8480-6", "Systolic blood pressure", "mm[Hg]", 98.0, 165.0, 0),
    ("8462-4", "Diastolic blood pressure", "mm[Hg]", 58.0, 100.0, 0),
    ("29463-7", "Body weight", "kg", 48.0, 130.0, 1),
    ("8302-2", "Body height", "cm", 150.0, 198.0, 1),
    ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", 18.0, 41.0, 1),
    ("8310-5", "Body temperature", "Cel", 36.1, 38.4, 1),
];
const LABS: &[Measure] = &[
    ("2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", 68.0, 210.0, 0),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.6, 10.5, 1),
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 140.0, 290.0, 0),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 10.5, 17.5, 1),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 1.9, 2),
];
const MEDICATIONS: &[(&str, &str)] = &[
    ("860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet"),
    ("314076", "lisinopril 10 MG Oral Tablet"),
    ("197361", "amlodipine 5 MG Oral Tablet"),
    ("617314", "atorvastatin 10 MG Oral Tablet"),
    ("895994", "120 ACTUAT Fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler"),
    ("308182", "Amoxicillin 250 MG Oral Capsule"),
    ("310965", "Ibuprofen 200 MG Oral Tablet"),
];
const PROCEDURES: &[(&str, &str)] = &[
    ("73761001", "Colonoscopy"),
    ("430193006", "Medication Reconciliation (procedure)"),
    ("171207006", "Depression screening"),
    ("710824005", "Assessment of health and social care needs (procedure)"),
    ("127783003", "Spirometry (procedure)"),
    ("252160004", "Standard pregnancy test"),
];
const VACCINES: &[(&str, &str)] = &[
    ("140", "Influenza, seasonal, injectable, preservative free"),
    ("208", "SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, 30 mcg/0.3mL dose"),
    ("115", "Tdap"),
    ("113", "Td (adult) preservative free"),
    ("133", "Pneumococcal conjugate PCV 13"),
];
const ALLERGIES: &[(&str, &str)] = &[
    ("91936005", "Allergy to penicillin"),
    ("91935009", "Allergy to peanuts"),
    ("300916003", "Latex allergy"),
    ("418689008", "Allergy to grass pollen"),
];

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
