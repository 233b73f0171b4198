//! The simulator's CapabilityStatement: instantiates the Bulk Data one, lists `$export` where it runs,
//! and (with SMART on) names the token endpoint in the standard OAuth extension.

use serde_json::{Value, json};

use crate::Sim;

const EXPORT_DEF: &str = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export";
const PATIENT_EXPORT_DEF: &str = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export";
const GROUP_EXPORT_DEF: &str = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export";

pub fn statement(sim: &Sim) -> Value {
    let mut rest = json!({
        "mode": "server",
        "operation": [{ "name": "export", "definition": EXPORT_DEF }],
        "resource": [
            { "type": "Patient", "operation": [{ "name": "export", "definition": PATIENT_EXPORT_DEF }] },
            {
                "type": "Group",
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchParam": [
                    {"name": "name", "type": "string"},
                    {"name": "identifier", "type": "token"}
                ],
                "operation": [{ "name": "export", "definition": GROUP_EXPORT_DEF }]
            }
        ]
    });
    if sim.smart() {
        rest["security"] = json!({
            "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}]}],
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
