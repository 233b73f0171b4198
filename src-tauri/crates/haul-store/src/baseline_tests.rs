use bulk_client::{ExportLevel, ExportRequest};
use time::macros::datetime;

use super::*;
use crate::jobs::{JobSettings, NewJob};

const URL: &str = "https://ehr.test/fhir";
const NOW: OffsetDateTime = datetime!(2026-12-01 09:00 UTC);

fn request(types: &[&str], group: &str) -> ExportRequest {
    ExportRequest {
        level: Some(ExportLevel::Group(group.into())),
        types: types.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// A finished export of `request`, dated `time` by the server.
fn finished(db: &Database, request: &ExportRequest, time: &str, state: JobState) -> i64 {
    let job = db
        .create_job(&NewJob {
            server_id: None,
            fhir_url: URL.into(),
            request: request.clone(),
            settings: JobSettings::default(),
            out_dir: std::env::temp_dir(),
        })
        .unwrap();
    db.conn().execute("UPDATE exports SET transaction_time = ?2 WHERE id = ?1", (job.id, time)).unwrap();
    db.finish_job(job.id, state, &[], None).unwrap();
    job.id
}

fn scope(url: &str) -> ExportScope<'_> {
    ExportScope::Address { fhir_url: url, client_id: None }
}

fn since(choice: &BaselineChoice) -> Option<&str> {
    choice.baseline.as_ref().map(|b| b.since.as_str())
}

#[test]
fn the_newest_complete_export_of_the_same_request_is_the_baseline() {
    let db = Database::open_in_memory().unwrap();
    let r = request(&["Patient", "Observation"], "g1");
    let october = finished(&db, &r, "2026-10-01T14:03:00Z", JobState::Completed);
    finished(&db, &r, "2026-11-01T00:00:00Z", JobState::Failed);
    // Types in another order, a trailing slash: the same request.
    let choice =
        db.baseline_at(scope("https://ehr.test/fhir/"), &request(&["Observation", "Patient"], "g1"), NOW).unwrap();
    assert_eq!(choice.baseline.as_ref().map(|b| b.export_id), Some(october));
    assert_eq!(since(&choice), Some("2026-10-01T14:03:00Z"));
    assert!(choice.passed_over.is_empty(), "a failed export is no candidate at all: {:?}", choice.passed_over);
    for other in [request(&["Patient"], "g1"), request(&["Patient", "Observation"], "g2")] {
        assert_eq!(db.baseline_at(scope(URL), &other, NOW).unwrap(), BaselineChoice::default());
    }
}

#[test]
fn filters_elements_patients_and_associated_data_must_match_too() {
    let db = Database::open_in_memory().unwrap();
    let plain = request(&["Observation"], "g1");
    let labs = ExportRequest { type_filters: vec!["Observation?category=laboratory".into()], ..plain.clone() };
    finished(&db, &labs, "2026-10-01T00:00:00Z", JobState::Completed);
    assert_eq!(
        db.baseline_at(scope(URL), &plain, NOW).unwrap().baseline,
        None,
        "labs only is no baseline for everything"
    );
    assert!(db.baseline_at(scope(URL), &labs, NOW).unwrap().baseline.is_some());
    for differs in [
        ExportRequest { elements: vec!["id".into()], ..labs.clone() },
        ExportRequest { patients: vec!["p1".into()], ..labs.clone() },
        ExportRequest { include_associated_data: vec!["LatestProvenanceResources".into()], ..labs.clone() },
    ] {
        assert_eq!(db.baseline_at(scope(URL), &differs, NOW).unwrap().baseline, None, "{differs:?}");
    }
    let same_patients = ExportRequest { patients: vec!["Patient/p1".into(), "p2".into()], ..plain.clone() };
    finished(&db, &same_patients, "2026-10-02T00:00:00Z", JobState::Completed);
    let reordered = ExportRequest { patients: vec!["p2".into(), "p1".into()], ..plain };
    assert!(db.baseline_at(scope(URL), &reordered, NOW).unwrap().baseline.is_some());
}

#[test]
fn an_export_with_problems_is_passed_over_and_the_one_before_it_used() {
    let db = Database::open_in_memory().unwrap();
    let r = request(&[], "g1");
    let october = finished(&db, &r, "2026-10-01T00:00:00Z", JobState::Completed);
    let november = finished(&db, &r, "2026-11-01T00:00:00Z", JobState::CompletedWithProblems);
    let choice = db.baseline_at(scope(URL), &r, NOW).unwrap();
    assert_eq!(choice.baseline.map(|b| b.export_id), Some(october));
    assert_eq!(choice.passed_over.len(), 1);
    assert!(choice.passed_over[0].contains(&format!("number {november}")), "{:?}", choice.passed_over);
    assert!(choice.passed_over[0].contains("asked for again"), "{:?}", choice.passed_over);
}

#[test]
fn a_server_clock_in_the_future_or_going_backwards_is_not_trusted() {
    let db = Database::open_in_memory().unwrap();
    let r = request(&[], "g1");
    let october = finished(&db, &r, "2026-10-01T00:00:00Z", JobState::Completed);
    finished(&db, &r, "2027-06-01T00:00:00Z", JobState::Completed);
    let choice = db.baseline_at(scope(URL), &r, NOW).unwrap();
    assert_eq!(choice.baseline.map(|b| b.export_id), Some(october));
    assert!(choice.passed_over[0].contains("in the future"), "{:?}", choice.passed_over);

    // The newest complete export dated before an older one: everything is asked for.
    let db = Database::open_in_memory().unwrap();
    finished(&db, &r, "2026-11-01T00:00:00Z", JobState::Completed);
    finished(&db, &r, "2026-10-15T00:00:00Z", JobState::Completed);
    let choice = db.baseline_at(scope(URL), &r, NOW).unwrap();
    assert_eq!(choice.baseline, None);
    assert!(choice.passed_over[0].contains("clock went backwards"), "{:?}", choice.passed_over);
}

#[test]
fn an_export_that_asked_for_until_continues_from_its_until() {
    let db = Database::open_in_memory().unwrap();
    let r = request(&[], "g1");
    let capped = ExportRequest { until: Some("2026-09-30T00:00:00Z".into()), ..r.clone() };
    finished(&db, &capped, "2026-10-01T00:00:00Z", JobState::Completed);
    assert_eq!(since(&db.baseline_at(scope(URL), &r, NOW).unwrap()), Some("2026-09-30T00:00:00Z"));
}

#[test]
fn another_client_of_the_same_address_is_no_baseline_and_a_saved_server_keeps_its_own_across_addresses() {
    let db = Database::open_in_memory().unwrap();
    let r = request(&[], "all");
    finished(&db, &r, "2026-10-01T00:00:00Z", JobState::Completed);
    // The same address signed in as another client (BCDA: one API for every ACO).
    let other = ExportScope::Address { fhir_url: URL, client_id: Some("aco-b") };
    assert_eq!(db.baseline_at(other, &r, NOW).unwrap().baseline, None);
    // A saved server's runs count wherever its address was (the demo's changes at every start).
    let saved = db
        .add_server(&crate::ServerInput {
            name: "S".into(),
            base_url: "https://ehr.test/fhir".into(),
            ..crate::ServerInput::default()
        })
        .unwrap();
    let id = finished(&db, &r, "2026-10-02T00:00:00Z", JobState::Completed);
    db.conn()
        .execute(
            "UPDATE exports SET server_id = ?2, fhir_url = 'http://127.0.0.1:9/fhir' WHERE id = ?1",
            (id, saved.id),
        )
        .unwrap();
    let choice = db.baseline_at(ExportScope::Saved(saved.id), &r, NOW).unwrap();
    assert_eq!(choice.baseline.map(|b| b.export_id), Some(id));
}

#[test]
fn an_export_whose_folder_was_deleted_or_moved_is_no_starting_point() {
    let db = Database::open_in_memory().unwrap();
    let r = request(&["Patient"], "g1");
    let september = finished(&db, &r, "2026-09-01T00:00:00Z", JobState::Completed);
    let october = finished(&db, &r, "2026-10-01T00:00:00Z", JobState::Completed);
    let gone = std::env::temp_dir().join(format!("haul-moved-away-{october}-{}", std::process::id()));
    db.conn().execute("UPDATE exports SET out_dir = ?2 WHERE id = ?1", (october, gone.display().to_string())).unwrap();
    let choice = db.baseline_at(scope(URL), &r, NOW).unwrap();
    assert_eq!(choice.baseline.as_ref().map(|b| b.export_id), Some(september));
    assert!(choice.passed_over[0].contains("was deleted or moved"), "{:?}", choice.passed_over);
}
