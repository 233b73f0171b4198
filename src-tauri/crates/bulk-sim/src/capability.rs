//! The simulator's CapabilityStatement: instantiates the Bulk Data one and lists `$export` where it runs.

use serde_json::{Value, json};

const EXPORT_DEF: &str = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export";
const PATIENT_EXPORT_DEF: &str =
    "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export";
const GROUP_EXPORT_DEF: &str = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export";

pub fn statement() -> Value {
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-01",
        "kind": "instance",
        "publisher": "Haul",
        "instantiates": ["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"],
        "software": { "name": "Haul Bulk Data simulator", "version": env!("CARGO_PKG_VERSION") },
        "implementation": { "description": "Haul's built-in Bulk Data server simulator" },
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "operation": [{ "name": "export", "definition": EXPORT_DEF }],
            "resource": [
                { "type": "Patient", "operation": [{ "name": "export", "definition": PATIENT_EXPORT_DEF }] },
                { "type": "Group", "operation": [{ "name": "export", "definition": GROUP_EXPORT_DEF }] }
            ]
        }]
    })
}
