//! What pays for the care: Coverage, Claim and ExplanationOfBenefit.

use serde_json::{Value, json};

use super::vocabulary::ENCOUNTERS;
use super::{Generated, PatientFacts, date, instant, round};

impl Generated {
    /// The patient's one insurance policy, with their payer.
    pub(super) fn coverage(&self, facts: &PatientFacts, out: &mut impl FnMut(&'static str, Value)) {
        let (i, payer, coverage_id) = (facts.i, facts.payer, facts.coverage_id());
        let (subject, days) = (&facts.subject, &facts.days);
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

    /// A Claim and its ExplanationOfBenefit per encounter (each only if wanted).
    pub(super) fn claims(
        &self,
        facts: &PatientFacts,
        want_claim: bool,
        want_eob: bool,
        out: &mut impl FnMut(&'static str, Value),
    ) {
        let (i, payer, provider_org, coverage_id) = (facts.i, facts.payer, facts.provider_org, facts.coverage_id());
        let (counts, subject, days) = (&facts.counts, &facts.subject, &facts.days);
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
}
