use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;

use current_dataset::{Dataset, DatasetError, Update};
use fhir_tables::ConvertOptions;

use crate::world::{World, assert_same, dataset_contents, write_export};

fn options() -> ConvertOptions {
    ConvertOptions { threads: 2, memory_limit: 64 << 20, zstd_level: 1 }
}

pub fn full_update(w: &World, dir: &std::path::Path, export_id: i64) -> Update {
    let state: Vec<_> = w.state().into_values().collect();
    Update {
        export_id,
        transaction_time: crate::world::stamp(w.month, 59),
        full: true,
        since: None,
        folders: vec![write_export(&dir.join(format!("export-{export_id}")), &state, &[])],
        members: Some(w.members.clone()),
        joined: 0,
    }
}

/// The incremental export of the month just passed, and the new members' full records.
pub fn incremental_update(w: &World, before: &BTreeSet<String>, dir: &std::path::Path, export_id: i64) -> Update {
    let joined: BTreeSet<String> = w.members.difference(before).cloned().collect();
    let changes = write_export(
        &dir.join(format!("export-{export_id}")),
        &w.changed_since(w.month - 1),
        &w.deleted_since(w.month - 1),
    );
    let history = write_export(&dir.join(format!("export-{export_id}-new-members")), &w.records_of(&joined), &[]);
    Update {
        export_id,
        transaction_time: crate::world::stamp(w.month, 59),
        full: false,
        since: Some(crate::world::stamp(w.month - 1, 59)),
        folders: vec![changes, history],
        members: Some(w.members.clone()),
        joined: joined.len() as u64,
    }
}

#[test]
fn three_months_of_changes_leave_the_dataset_equal_to_a_full_export_each_month() {
    let tmp = tempfile::tempdir().unwrap();
    let exports = tmp.path().join("exports");
    let data = tmp.path().join("dataset");
    let cancel = AtomicBool::new(false);
    let mut w = World::new(40, 6);
    let mut dataset = Dataset::open(&data).unwrap();
    dataset.apply(&full_update(&w, &exports, 1), &options(), &cancel).unwrap();
    assert_same(&dataset_contents(&data), &w.state());

    for month in 1..=3u32 {
        let before = w.members.clone();
        // Month 2 brings a field the tables never had: the Observation table widens.
        w.advance(month == 2);
        let update = incremental_update(&w, &before, &exports, 1 + month as i64);
        let report = dataset.apply(&update, &options(), &cancel).unwrap();
        assert_same(&dataset_contents(&data), &w.state());
        let obs = report.tables.iter().find(|t| t.resource_type == "Observation").unwrap();
        assert!(obs.changed > 0 && obs.added > 0 && obs.deleted > 0, "month {month}: {obs:?}");
        assert_eq!(obs.widened, month == 2, "month {month}: {obs:?}");
        assert!(!obs.rewritten, "a new element widens the table in place: {obs:?}");
        assert_eq!(report.left, 1, "month {month}: the member who left is found from the two member lists");
        let left_rows: u64 = report.tables.iter().map(|t| t.left_with_patient).sum();
        assert!(left_rows > 0, "month {month}: the leaver's resources were taken out: {report:?}");
        // The new members' records repeat what the incremental export already had: used once.
        assert!(report.tables.iter().any(|t| t.duplicates > 0) || month == 1, "month {month}: {report:?}");
        assert_eq!(dataset.state().applied.len(), 1 + month as usize);
        let rows: u64 = dataset.state().tables.values().sum();
        assert_eq!(rows, w.state().len() as u64);
    }
    readers_agree(&data, &w.state());
    // The state survives reopening.
    drop(dataset);
    let dataset = Dataset::open(&data).unwrap();
    assert_eq!(dataset.state().last().unwrap().export_id, 4);
}

#[test]
fn an_incremental_export_that_does_not_follow_the_dataset_is_refused_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cancel = AtomicBool::new(false);
    let mut w = World::new(8, 2);
    let mut dataset = Dataset::open(&tmp.path().join("d")).unwrap();
    dataset.apply(&full_update(&w, tmp.path(), 1), &options(), &cancel).unwrap();
    let before = w.members.clone();
    w.advance(false);
    let mut update = incremental_update(&w, &before, tmp.path(), 3);
    update.since = Some("2026-01-05T00:00:00Z".into());
    let err = dataset.apply(&update, &options(), &cancel).unwrap_err();
    assert!(matches!(err, DatasetError::Gap { .. }), "{err}");
    update.since = Some(crate::world::stamp(0, 59));
    update.transaction_time = "2020-01-01T00:00:00Z".into();
    let err = dataset.apply(&update, &options(), &cancel).unwrap_err();
    assert!(matches!(err, DatasetError::Backwards { .. }), "{err}");
    assert_eq!(dataset.state().applied.len(), 1);
    assert!(!tmp.path().join("d").join(".next").exists(), "a refused update leaves no staging behind");
}

#[test]
fn a_second_writer_is_told_the_dataset_is_busy() {
    let tmp = tempfile::tempdir().unwrap();
    let _first = Dataset::open(tmp.path()).unwrap();
    assert!(matches!(Dataset::open(tmp.path()), Err(DatasetError::Busy(_))));
}

#[test]
fn a_full_export_replaces_the_dataset_and_drops_types_it_no_longer_has() {
    let tmp = tempfile::tempdir().unwrap();
    let cancel = AtomicBool::new(false);
    let w = World::new(6, 2);
    let mut dataset = Dataset::open(&tmp.path().join("d")).unwrap();
    dataset.apply(&full_update(&w, tmp.path(), 1), &options(), &cancel).unwrap();
    let patients_only: Vec<_> = w.state().into_values().filter(|v| v["resourceType"] == "Patient").collect();
    let mut update = full_update(&w, tmp.path(), 2);
    update.folders = vec![write_export(&tmp.path().join("patients-only"), &patients_only, &[])];
    dataset.apply(&update, &options(), &cancel).unwrap();
    assert_eq!(dataset.state().tables.keys().collect::<Vec<_>>(), vec!["Patient"]);
    assert!(!tmp.path().join("d").join("Observation.parquet").exists());
}

#[test]
fn a_value_of_another_kind_rewrites_the_table_through_json_and_keeps_every_value() {
    let tmp = tempfile::tempdir().unwrap();
    let cancel = AtomicBool::new(false);
    let obs = |id: &str, value: serde_json::Value, day: u32| {
        serde_json::json!({"resourceType": "Observation", "id": id, "meta": {"lastUpdated": format!("2026-03-{day:02}T00:00:00Z")},
            "valueQuantity": {"value": value}})
    };
    let first = write_export(&tmp.path().join("e1"), &[obs("a", 1.into(), 1), obs("b", 2.into(), 1)], &[]);
    let second = write_export(&tmp.path().join("e2"), &[obs("b", "two".into(), 2)], &[]);
    let mut dataset = Dataset::open(&tmp.path().join("d")).unwrap();
    let full = Update {
        export_id: 1,
        transaction_time: "2026-03-01T12:00:00Z".into(),
        full: true,
        since: None,
        folders: vec![first],
        members: None,
        joined: 0,
    };
    dataset.apply(&full, &options(), &cancel).unwrap();
    let incremental = Update {
        export_id: 2,
        transaction_time: "2026-03-02T12:00:00Z".into(),
        full: false,
        since: Some("2026-03-01T12:00:00Z".into()),
        folders: vec![second],
        ..full
    };
    let report = dataset.apply(&incremental, &options(), &cancel).unwrap();
    assert!(report.tables[0].widened && report.tables[0].rewritten, "{report:?}");
    let contents = dataset_contents(&tmp.path().join("d"));
    let value = |id: &str| contents[&("Observation".to_string(), id.to_string())]["valueQuantity"]["value"].clone();
    assert_eq!((value("a"), value("b")), (serde_json::json!(1), serde_json::json!("two")));
}

/// DuckDB and pyarrow (from PyPI; `tests/run.sh` puts them in `.venv`) read every table, every column,
/// with the rows and ids of the state: the merge's row groups (appended raw or encoded anew) are plain Parquet.
fn readers_agree(dataset: &std::path::Path, state: &std::collections::BTreeMap<(String, String), serde_json::Value>) {
    let python = std::env::var_os("HAUL_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../.venv/bin/python"));
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/read_dataset.py");
    let run = std::process::Command::new(&python).arg(script).arg(dataset).output().unwrap_or_else(|e| {
        panic!(
            "{} could not run ({e}): run `bash tests/run.sh` once (it makes .venv), or set HAUL_PYTHON",
            python.display()
        )
    });
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let read: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let mut expected: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for (t, _) in state.keys() {
        *expected.entry(t.as_str()).or_default() += 1;
    }
    for tool in ["duckdb", "pyarrow"] {
        for (t, rows) in &expected {
            assert_eq!(read[tool][t]["rows"], *rows, "{tool} {t}: {read}");
            assert_eq!(read[tool][t]["ids"], *rows, "{tool} {t}: {read}");
        }
    }
}

#[test]
fn a_missed_month_is_caught_up_by_a_rebuild_from_the_export_folders_and_a_broken_chain_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (exports, data) = (tmp.path().join("exports"), tmp.path().join("dataset"));
    let cancel = AtomicBool::new(false);
    let mut w = World::new(30, 4);
    let mut chain = vec![full_update(&w, &exports, 1)];
    let mut dataset = Dataset::open(&data).unwrap();
    dataset.apply(&chain[0], &options(), &cancel).unwrap();
    for month in 1..=3u32 {
        let before = w.members.clone();
        w.advance(false);
        chain.push(incremental_update(&w, &before, &exports, 1 + month as i64));
        // Month 2 is never merged (the dataset was busy, say).
        if month != 2 {
            let applied = dataset.apply(chain.last().unwrap(), &options(), &cancel);
            assert_eq!(applied.is_err(), month == 3, "month {month}: {applied:?}");
        }
    }
    // Month 3 continues from month 2, which the dataset never got: a broken chain first (month 2 left out)...
    let broken = [chain[0].clone(), chain[1].clone(), chain[3].clone()];
    assert!(matches!(dataset.rebuild(&broken, &options(), &cancel), Err(DatasetError::Gap { .. })));
    assert_eq!(dataset.state().last().unwrap().export_id, 2, "a failed rebuild leaves the dataset as it was");
    assert!(!data.join(".rebuild").exists());
    // ...then the whole chain: the dataset equals the world of month 3.
    dataset.rebuild(&chain, &options(), &cancel).unwrap();
    assert_same(&dataset_contents(&data), &w.state());
    assert_eq!(dataset.state().applied.iter().map(|a| a.export_id).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    drop(dataset);
    assert_same(&dataset_contents(&data), &w.state());
}
