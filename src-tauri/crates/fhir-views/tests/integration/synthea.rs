//! The built-in views over the shared Synthea sample: row counts against counts taken independently from the
//! NDJSON (serde_json), and values checked by hand.

use fhir_views::{BUILT_IN, Format, built_in};

use crate::common::{resources, run, synthea};

#[test]
fn built_in_views_make_the_rows_the_sample_holds() {
    let out = tempfile::tempdir().unwrap();
    let views: Vec<_> = BUILT_IN.iter().map(|(n, _)| built_in(n).unwrap()).collect();
    let outcomes = run(&synthea(), &views, out.path(), &[Format::Csv]);
    let rows = |name: &str| outcomes.iter().find(|o| o.view == name).unwrap().rows as usize;
    for o in &outcomes {
        assert!(o.failure.is_none(), "{}: {:?}", o.view, o.failure);
    }
    // One row per resource for the plain views.
    for (view, resource_type) in [
        ("patient", "Patient"),
        ("condition", "Condition"),
        ("observation", "Observation"),
        ("encounter", "Encounter"),
        ("medication_request", "MedicationRequest"),
        ("immunization", "Immunization"),
        ("procedure", "Procedure"),
    ] {
        assert_eq!(rows(view), resources(resource_type).len(), "{view}");
    }
    // One row per item for the claim views.
    let items = |t: &str| -> usize { resources(t).iter().map(|r| r["item"].as_array().map_or(0, Vec::len)).sum() };
    assert_eq!(rows("claim_line"), items("Claim"));
    assert_eq!(rows("eob_line"), items("ExplanationOfBenefit"));
    // No Coverage in the sample: an empty table with its columns.
    assert_eq!(rows("coverage"), 0);
    let header = std::fs::read_to_string(out.path().join("coverage.csv")).unwrap();
    assert!(header.starts_with("id,patient_id,status,type_system"), "{header}");
    assert_eq!(header.lines().count(), 1);
}

#[test]
fn values_read_as_written() {
    let out = tempfile::tempdir().unwrap();
    let views = [built_in("condition").unwrap(), built_in("eob_line").unwrap(), built_in("patient").unwrap()];
    run(&synthea(), &views, out.path(), &[Format::Csv]);
    let mut csv = csv::Reader::from_path(out.path().join("condition.csv")).unwrap();
    let headers = csv.headers().unwrap().clone();
    let first = csv.records().next().unwrap().unwrap();
    let get = |name: &str| first.get(headers.iter().position(|h| h == name).unwrap()).unwrap().to_string();
    // The sample's first Condition, read by eye.
    assert_eq!(get("id"), "a5a38601-b6fe-46b4-a67e-cde9d5957dde");
    assert_eq!(get("patient_id"), "6c5d9ca9-54d7-42f5-bfae-a7c19cd217f2");
    assert_eq!(get("encounter_id"), "17b801ac-58e3-4f6b-8b48-8e33f3a36086");
    assert_eq!(get("code_system"), "http://snomed.info/sct");
    assert_eq!(get("code_code"), "40055000");
    assert_eq!(get("code_display"), "Chronic sinusitis (disorder)");
    assert_eq!(get("clinical_status"), "active");
    assert_eq!(get("verification_status"), "confirmed");
    assert_eq!(get("onset"), "1985-06-18T17:30:49-04:00");
    assert_eq!(get("abatement"), "");

    // The first EOB's Blue Button adjudication amounts (second item, first with adjudications).
    let mut csv = csv::Reader::from_path(out.path().join("eob_line.csv")).unwrap();
    let headers = csv.headers().unwrap().clone();
    let priced = csv
        .records()
        .map(Result::unwrap)
        .find(|r| !r.get(headers.iter().position(|h| h == "submitted").unwrap()).unwrap().is_empty())
        .unwrap();
    let get = |name: &str| priced.get(headers.iter().position(|h| h == name).unwrap()).unwrap().to_string();
    assert_eq!(get("submitted"), "140.52");
    assert_eq!(get("allowed"), "140.52");
    assert_eq!(get("paid"), "112.41600000000001", "decimals as written, not rounded through a float");
    assert_eq!(get("coinsurance"), "28.104000000000003");

    let mut csv = csv::Reader::from_path(out.path().join("patient.csv")).unwrap();
    let headers = csv.headers().unwrap().clone();
    let first = csv.records().next().unwrap().unwrap();
    let get = |name: &str| first.get(headers.iter().position(|h| h == name).unwrap()).unwrap().to_string();
    assert_eq!(get("family"), "Lemke");
    assert_eq!(get("given"), "Abram");
    assert_eq!(get("birth_date"), "1965-01-13");
    assert_eq!(get("mrn"), "6c5d9ca9-54d7-42f5-bfae-a7c19cd217f2");
    assert_eq!(get("zip"), "01027");
}
