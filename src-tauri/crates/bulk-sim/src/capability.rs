//! The simulator's CapabilityStatement: instantiates the Bulk Data one, lists every resource type the data
//! source serves (clients such as smart-fetch export only the types listed), puts `$export` where the IG
//! does (system, Patient, Group), and names the token endpoint in the standard OAuth extension when there is one.

use serde_json::{Value, json};

use crate::{AuthMode, Sim};

const EXPORT_DEF: &str = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export";
const PATIENT_EXPORT_DEF: &str = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export";
const GROUP_EXPORT_DEF: &str = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export";
const SECURITY_SERVICE: &str = "http://terminology.hl7.org/CodeSystem/restful-security-service";

pub fn statement(sim: &Sim) -> Value {
    let mut rest = json!({
        "mode": "server",
        "operation": [{ "name": "export", "definition": EXPORT_DEF }],
        "resource": resources(sim.source.types())
    });
    if sim.issues_tokens() {
        let service = if matches!(sim.config.auth, AuthMode::ClientSecret { .. }) { "OAuth" } else { "SMART-on-FHIR" };
        rest["security"] = json!({
            "service": [{"coding": [{"system": SECURITY_SERVICE, "code": service}]}],
            "extension": [{
                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                "extension": [{"url": "token", "valueUri": crate::auth::token_url(sim)}]
            }]
        });
    }
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-01",
        "kind": "instance",
        "publisher": "Haul",
        "instantiates": ["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"],
        "software": { "name": "Haul Bulk Data simulator", "version": env!("CARGO_PKG_VERSION") },
        "implementation": { "description": "Haul's built-in Bulk Data server simulator", "url": sim.base_url() },
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [rest]
    })
}

/// One entry per type served, Patient and Group always (their `$export` routes exist whatever the data).
/// Only Group lists interactions: it is the one type the simulator also reads and searches.
fn resources(mut types: Vec<String>) -> Vec<Value> {
    for always in ["Patient", "Group"] {
        if !types.iter().any(|t| t == always) {
            types.push(always.to_string());
        }
    }
    types
        .iter()
        .map(|t| match t.as_str() {
            "Patient" => {
                json!({ "type": "Patient", "operation": [{ "name": "export", "definition": PATIENT_EXPORT_DEF }] })
            }
            "Group" => json!({
                "type": "Group",
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchParam": [
                    {"name": "name", "type": "string"},
                    {"name": "identifier", "type": "token"}
                ],
                "operation": [{ "name": "export", "definition": GROUP_EXPORT_DEF }]
            }),
            other => json!({ "type": other }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_type_is_listed_once_with_patient_and_group_always() {
        let listed = resources(vec!["Observation".into(), "Patient".into()]);
        let types: Vec<&str> = listed.iter().map(|r| r["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["Observation", "Patient", "Group"]);
        assert_eq!(listed[1]["operation"][0]["definition"], PATIENT_EXPORT_DEF);
        assert_eq!(listed[2]["operation"][0]["definition"], GROUP_EXPORT_DEF);
        assert!(listed[0].get("operation").is_none());
    }
}
