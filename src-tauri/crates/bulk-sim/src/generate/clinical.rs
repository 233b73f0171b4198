//! The patient and their care: Patient, Encounter, Condition, Observation, MedicationRequest, Procedure,
//! Immunization, AllergyIntolerance, DocumentReference.

use serde_json::{Value, json};

use super::vocabulary::{
    ALLERGIES, CONDITIONS, ENCOUNTERS, LABS, MEDICATIONS, NOTE_BASE64, PROCEDURES, STREETS, VACCINES, VITALS,
};
use super::{Generated, PatientFacts, date, instant, round};

impl Generated {
    /// The Patient resource itself.
    pub(super) fn patient(&self, facts: &PatientFacts, out: &mut impl FnMut(&'static str, Value)) {
        let (i, gp, birth_day, female, given, family) =
            (facts.i, facts.gp, facts.birth_day, facts.female, facts.given, facts.family);
        let ((city, state, zip), pid, days) = (facts.city, &facts.pid, &facts.days);
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

    /// One Encounter per encounter day.
    pub(super) fn encounters(&self, facts: &PatientFacts, out: &mut impl FnMut(&'static str, Value)) {
        let (i, gp, provider_org, counts) = (facts.i, facts.gp, facts.provider_org, &facts.counts);
        let (subject, days) = (&facts.subject, &facts.days);
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
                    "id": facts.encounter_id(e),
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

    /// Diagnoses, each made at one of the encounters.
    pub(super) fn conditions(&self, facts: &PatientFacts, out: &mut impl FnMut(&'static str, Value)) {
        let (i, counts, subject, days) = (facts.i, &facts.counts, &facts.subject, &facts.days);
        let mut r = self.type_rng("Condition", i);
        for c in 0..counts.conditions {
            let e = facts.pick_encounter(&mut r);
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
                "encounter": {"reference": format!("Encounter/{}", facts.encounter_id(e))},
                "onsetDateTime": format!("{}T09:00:00Z", date(day)),
                "recordedDate": format!("{}T09:30:00Z", date(day))
            });
            if resolved {
                cond["abatementDateTime"] = json!(format!("{}T09:00:00Z", date(day + r.range(10, 400) as i64)));
            }
            out("Condition", cond);
        }
    }

    /// Vitals and labs, spread evenly over the encounters.
    pub(super) fn observations(&self, facts: &PatientFacts, out: &mut impl FnMut(&'static str, Value)) {
        let (i, counts, subject, days) = (facts.i, &facts.counts, &facts.subject, &facts.days);
        let mut r = self.type_rng("Observation", i);
        for o in 0..counts.observations {
            let e = o * counts.encounters / counts.observations.max(1);
            let day = days[e as usize];
            let lab = r.chance(40);
            let (code, display, unit, lo, hi, decimals) = if lab { *r.pick(LABS) } else { *r.pick(VITALS) };
            let value = round(lo + (hi - lo) * r.unit(), decimals);
            let (cat, cat_display) = if lab { ("laboratory", "Laboratory") } else { ("vital-signs", "Vital Signs") };
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
                    "encounter": {"reference": format!("Encounter/{}", facts.encounter_id(e))},
                    "effectiveDateTime": format!("{}T10:{:02}:00Z", date(day), r.range(0, 59)),
                    "issued": instant(day, &mut r),
                    "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
                }),
            );
        }
    }

    /// Prescriptions by the general practitioner.
    pub(super) fn medication_requests(&self, facts: &PatientFacts, out: &mut impl FnMut(&'static str, Value)) {
        let (i, gp, counts) = (facts.i, facts.gp, &facts.counts);
        let (subject, days) = (&facts.subject, &facts.days);
        let mut r = self.type_rng("MedicationRequest", i);
        for m in 0..counts.medications {
            let e = facts.pick_encounter(&mut r);
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
                    "encounter": {"reference": format!("Encounter/{}", facts.encounter_id(e))},
                    "authoredOn": format!("{}T11:00:00Z", date(day)),
                    "requester": {"reference": format!("Practitioner/prac-{gp:05}")},
                    "dosageInstruction": [{"sequence": 1, "text": "Take as directed", "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}}]
                }),
            );
        }
    }

    /// Procedures, each at one of the encounters.
    pub(super) fn procedures(&self, facts: &PatientFacts, out: &mut impl FnMut(&'static str, Value)) {
        let (i, counts, subject, days) = (facts.i, &facts.counts, &facts.subject, &facts.days);
        let mut r = self.type_rng("Procedure", i);
        for p in 0..counts.procedures {
            let e = facts.pick_encounter(&mut r);
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
                    "encounter": {"reference": format!("Encounter/{}", facts.encounter_id(e))},
                    "performedPeriod": {"start": format!("{}T13:00:00Z", date(day)), "end": format!("{}T13:40:00Z", date(day))}
                }),
            );
        }
    }

    /// Vaccinations, each at one of the encounters.
    pub(super) fn immunizations(&self, facts: &PatientFacts, out: &mut impl FnMut(&'static str, Value)) {
        let (i, counts, subject, days) = (facts.i, &facts.counts, &facts.subject, &facts.days);
        let mut r = self.type_rng("Immunization", i);
        for v in 0..counts.immunizations {
            let e = facts.pick_encounter(&mut r);
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
                    "encounter": {"reference": format!("Encounter/{}", facts.encounter_id(e))},
                    "occurrenceDateTime": format!("{}T10:30:00Z", date(day)),
                    "primarySource": true
                }),
            );
        }
    }

    /// Allergies, recorded at the first encounter.
    pub(super) fn allergies(&self, facts: &PatientFacts, out: &mut impl FnMut(&'static str, Value)) {
        let (i, counts, subject, days) = (facts.i, &facts.counts, &facts.subject, &facts.days);
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

    /// Clinical notes, each from one of the encounters.
    pub(super) fn documents(&self, facts: &PatientFacts, out: &mut impl FnMut(&'static str, Value)) {
        let (i, gp, counts) = (facts.i, facts.gp, &facts.counts);
        let (subject, days) = (&facts.subject, &facts.days);
        let mut r = self.type_rng("DocumentReference", i);
        for d in 0..counts.documents {
            let e = facts.pick_encounter(&mut r);
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
                    "context": {"encounter": [{"reference": format!("Encounter/{}", facts.encounter_id(e))}]}
                }),
            );
        }
    }
}
