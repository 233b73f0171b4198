//! Resources outside any patient's compartment (exported at system level only): Practitioner,
//! Organization (payers first, then providers), Location.

use serde_json::{Value, json};

use super::vocabulary::{CITIES, FAMILY, GIVEN, PAYERS};
use super::{FIRST_DAY, Generated, LAST_DAY, STREAM_SHARED, instant};
use crate::rng::Rng;

impl Generated {
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
}
