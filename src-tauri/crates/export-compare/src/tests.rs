use std::path::Path;

use super::*;

fn patient(id: &str, version: &str) -> String {
    format!(r#"{{"resourceType":"Patient","id":"{id}","meta":{{"versionId":"{version}"}}}}"#)
}

fn write(folder: &Path, name: &str, lines: &[String]) {
    std::fs::create_dir_all(folder.join(name).parent().unwrap()).unwrap();
    std::fs::write(folder.join(name), lines.join("\n") + "\n").unwrap();
}

fn row<'a>(c: &'a Comparison, t: &str) -> &'a TypeComparison {
    c.types.iter().find(|r| r.resource_type == t).unwrap()
}

#[test]
fn two_full_exports_show_who_joined_who_left_and_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("october"), dir.path().join("november"));
    write(&a, "Patient.000.ndjson", &[patient("p1", "1"), patient("p2", "1"), patient("p3", "1")]);
    write(&a, "Observation.000.ndjson", &[r#"{"resourceType":"Observation","id":"o1","status":"final"}"#.into()]);
    // p1 unchanged, p2 changed, p3 left, p4 joined; o1 changed (no meta: told by its content); a bad line.
    write(&b, "Patient.000.ndjson", &[patient("p1", "1"), patient("p2", "2"), patient("p4", "1"), "{oops".into()]);
    write(&b, "Observation.000.ndjson", &[r#"{"resourceType":"Observation","id":"o1","status":"amended"}"#.into()]);
    let c = compare(&a, &b, false).unwrap();
    let p = row(&c, "Patient");
    assert_eq!((p.before, p.after, p.added, p.changed, p.removed, p.deleted), (3, 3, 1, 1, 1, 0));
    assert_eq!((c.patients_joined.clone(), c.patients_left.clone()), (vec!["p4".to_string()], vec!["p3".to_string()]));
    assert_eq!(row(&c, "Observation").changed, 1);
    assert_eq!(c.bad_lines, 1);
}

#[test]
fn an_incremental_export_is_read_as_changes_and_its_deletions_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("full"), dir.path().join("since"));
    write(&a, "Patient.000.ndjson", &[patient("p1", "1"), patient("p2", "1")]);
    write(&a, "Condition.000.ndjson", &[r#"{"resourceType":"Condition","id":"c1"}"#.into()]);
    write(&b, "Patient.000.ndjson", &[patient("p2", "2"), patient("p5", "1")]);
    let deletions = r#"{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"DELETE","url":"Condition/c1"}},{"request":{"method":"DELETE","url":"https://x.test/fhir/Condition/c2/_history/4"}}]}"#;
    write(&b, "deleted/Bundle.000.ndjson", &[deletions.into()]);
    let c = compare(&a, &b, true).unwrap();
    assert!(c.incremental);
    let p = row(&c, "Patient");
    assert_eq!((p.added, p.changed, p.removed), (1, 1, 0), "p1 is absent because unchanged, not gone");
    assert_eq!(c.patients_left_count, 0);
    let cond = row(&c, "Condition");
    assert_eq!((cond.before, cond.after, cond.deleted, cond.removed), (1, 0, 1, 0), "c1 deleted");
    assert_eq!(cond.deleted_not_held, 1, "c2 was never there");
    assert_eq!(p.after, 3, "p1 and p2 stay, p5 joins");
}

#[test]
fn with_the_groups_members_kept_beside_both_exports_joined_and_left_are_the_groups_word() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("full"), dir.path().join("since"));
    write(&a, "Patient.000.ndjson", &[patient("p1", "1"), patient("p2", "1")]);
    // p3 joined without a change to their record, so the incremental export does not hold them.
    write(&b, "Patient.000.ndjson", &[patient("p2", "2")]);
    std::fs::write(a.join(crate::GROUP_MEMBERS_FILE), r#"["p1","p2"]"#).unwrap();
    std::fs::write(b.join(crate::GROUP_MEMBERS_FILE), r#"["p2","p3"]"#).unwrap();
    let c = compare(&a, &b, true).unwrap();
    assert_eq!((c.patients_joined.clone(), c.patients_joined_count), (vec!["p3".to_string()], 1));
    assert_eq!((c.patients_left.clone(), c.patients_left_count), (vec!["p1".to_string()], 1));
}

#[test]
fn new_members_records_fetched_beside_an_incremental_export_count_as_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, extra) = (dir.path().join("full"), dir.path().join("since"), dir.path().join("since new members"));
    write(&a, "Patient.000.ndjson", &[patient("p1", "1")]);
    write(&b, "Patient.000.ndjson", &[patient("p1", "2")]);
    // p7 joined; the same p1 again in the new members' folder counts once.
    write(&extra, "Patient.000.ndjson", &[patient("p7", "1"), patient("p1", "2")]);
    let c = crate::compare_with(&a, &b, &[extra.as_path()], true).unwrap();
    let p = row(&c, "Patient");
    assert_eq!((p.before, p.after, p.added, p.changed), (1, 2, 1, 1));
}

#[test]
fn a_folder_that_is_gone_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let e = compare(&dir.path().join("moved"), dir.path(), false).unwrap_err();
    assert!(e.to_string().contains("is not there any more"), "{e}");
}
