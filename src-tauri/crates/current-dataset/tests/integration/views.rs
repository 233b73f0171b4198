//! Flat views kept in the dataset's `views/`: after every update each equals the same view made by
//! `haul tables`' engine over a full export of that month; a view whose table did not change is kept as it was;
//! a view no longer asked for, or one that cannot be evaluated, leaves no stale file.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use arrow::datatypes::DataType;
use arrow::util::display::array_value_to_string;
use current_dataset::{Dataset, Update};
use fhir_tables::ConvertOptions;
use fhir_views::{TablesOptions, View};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::json;

use crate::months::{full_update, incremental_update};
use crate::world::{World, dataset_contents, stamp, write_export};

fn options() -> ConvertOptions {
    ConvertOptions { threads: 2, memory_limit: 64 << 20, zstd_level: 1 }
}

fn built_in(names: &[&str]) -> Vec<View> {
    names.iter().map(|n| fhir_views::built_in(n).unwrap()).collect()
}

/// A view's rows as text, sorted: the rows are compared as a set (a merged table's order is its own).
fn rows_of(path: &Path) -> Vec<String> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap().build().unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        for i in 0..batch.num_rows() {
            let cells: Vec<String> = batch.columns().iter().map(|c| cell(c, i)).collect();
            rows.push(cells.join("|"));
        }
    }
    rows.sort();
    rows
}

/// A cell as text; UTC timestamps without their zone (the formatter knows only offsets by name).
fn cell(column: &arrow::array::ArrayRef, i: usize) -> String {
    match column.data_type() {
        DataType::Timestamp(unit, Some(_)) => {
            let plain = arrow::compute::cast(column, &DataType::Timestamp(*unit, None)).unwrap();
            array_value_to_string(plain.as_ref(), i).unwrap()
        }
        _ => array_value_to_string(column.as_ref(), i).unwrap(),
    }
}

/// Each view made from scratch over a full export of the world now, as `haul tables` makes it.
fn expected(w: &World, views: &[View], dir: &Path) -> Vec<(String, Vec<String>)> {
    let resources: Vec<_> = w.state().into_values().collect();
    let export = write_export(&dir.join("full"), &resources, &[]);
    let out = dir.join("tables");
    let opts = TablesOptions { threads: 2, memory_limit: 64 << 20, ..Default::default() };
    fhir_views::make_tables(&[export], views, &out, &opts, &|_| {}, &AtomicBool::new(false)).unwrap();
    views.iter().map(|v| (v.name.clone(), rows_of(&out.join(format!("{}.parquet", v.name))))).collect()
}

fn assert_views(data: &Path, w: &World, views: &[View], scratch: &Path, when: &str) {
    for (name, rows) in expected(w, views, scratch) {
        let kept = rows_of(&data.join("views").join(format!("{name}.parquet")));
        assert!(!rows.is_empty(), "{when}: {name} has rows to compare");
        assert_eq!(kept, rows, "{when}: the dataset's view {name} differs from the view of a full export");
    }
    std::fs::remove_dir_all(scratch).unwrap();
}

#[test]
fn kept_views_equal_the_views_of_a_full_export_every_month_and_after_a_rebuild() {
    let tmp = tempfile::tempdir().unwrap();
    let (exports, data, scratch) = (tmp.path().join("exports"), tmp.path().join("dataset"), tmp.path().join("s"));
    let cancel = AtomicBool::new(false);
    let names = ["patient", "condition", "observation", "encounter"];
    let views = built_in(&names);
    let mut w = World::new(30, 5);
    let mut chain = vec![full_update(&w, &exports, 1)];
    let mut dataset = Dataset::open(&data).unwrap();
    dataset.keep_views(built_in(&names));
    let report = dataset.apply(&chain[0], &options(), &cancel).unwrap();
    // The world has no Encounter: no view file for a type the dataset does not hold.
    assert_eq!(
        report.views.iter().map(|v| v.view.as_str()).collect::<Vec<_>>(),
        ["condition", "observation", "patient"]
    );
    assert!(!data.join("views").join("encounter.parquet").exists());
    let present = &views[..3];
    assert_views(&data, &w, present, &scratch, "month 0");
    let mut derived = 0;
    for month in 1..=2u32 {
        let before = w.members.clone();
        w.advance(month == 2);
        chain.push(incremental_update(&w, &before, &exports, 1 + month as i64));
        let report = dataset.apply(chain.last().unwrap(), &options(), &cancel).unwrap();
        assert!(report.views.iter().all(|v| v.recomputed && v.failure.is_none()), "month {month}: {report:?}");
        derived += report.views.iter().map(|v| v.derived_groups).sum::<usize>();
        let rows: u64 = dataset.state().views["observation"].rows;
        assert_eq!(rows, report.views.iter().find(|v| v.view == "observation").unwrap().rows);
        assert_views(&data, &w, present, &scratch, &format!("month {month}"));
    }
    assert!(derived > 0, "the rows the merges kept took their view rows from the previous files");
    // A rebuild from the export folders computes the views once, from the rebuilt tables.
    let report = dataset.rebuild(&chain, &options(), &cancel).unwrap();
    assert_eq!(report.views.len(), 3, "{report:?}");
    assert_views(&data, &w, present, &scratch, "after the rebuild");
    assert!(!data.join(".next").exists(), "nothing left in staging");
}

/// An incremental export that changes one Observation and nothing else (no member list: nobody leaves).
fn one_change(w: &World, dir: &Path, export_id: i64, since: &str) -> Update {
    let (_, mut obs) = w.state().into_iter().find(|((t, _), _)| t == "Observation").unwrap();
    obs["status"] = json!("amended");
    obs["meta"]["lastUpdated"] = json!(stamp(w.month + 1, 1));
    Update {
        export_id,
        transaction_time: stamp(w.month + 1, 59),
        full: false,
        since: Some(since.to_string()),
        folders: vec![write_export(&dir.join(format!("export-{export_id}")), &[obs], &[])],
        members: None,
        joined: 0,
    }
}

#[test]
fn a_view_whose_table_did_not_change_is_kept_and_views_no_longer_asked_for_or_failing_are_taken_out() {
    let tmp = tempfile::tempdir().unwrap();
    let (exports, data) = (tmp.path().join("exports"), tmp.path().join("dataset"));
    let cancel = AtomicBool::new(false);
    let w = World::new(12, 3);
    let mut dataset = Dataset::open(&data).unwrap();
    dataset.keep_views(built_in(&["patient", "condition", "observation"]));
    let first = full_update(&w, &exports, 1);
    dataset.apply(&first, &options(), &cancel).unwrap();
    let patient_file = data.join("views").join("patient.parquet");
    let patient_bytes = std::fs::read(&patient_file).unwrap();

    let update = one_change(&w, &exports, 2, &first.transaction_time);
    let report = dataset.apply(&update, &options(), &cancel).unwrap();
    // The size is the whole dataset's, not only that of the table the update touched.
    assert_eq!(report.tables.len(), 1, "{report:?}");
    assert_eq!(report.rows, dataset.state().tables.values().sum::<u64>());
    assert!(report.rows > report.tables[0].after, "{report:?}");
    let recomputed: BTreeSet<&str> = report.views.iter().filter(|v| v.recomputed).map(|v| v.view.as_str()).collect();
    assert_eq!(recomputed, BTreeSet::from(["observation"]), "{report:?}");
    assert_eq!(std::fs::read(&patient_file).unwrap(), patient_bytes, "an untouched view's file is not rewritten");

    // The patient view's definition changes (a newer built-in, say), condition is no longer asked for, and a
    // view of the user's cannot be evaluated: a column that yields two values per resource.
    let mut patient = fhir_views::built_in("patient").unwrap();
    let mut def: serde_json::Value = serde_json::from_str(&patient.definition).unwrap();
    def["description"] = json!("A newer description");
    patient = View::from_json(&def, "patient").unwrap();
    let two_values = json!({"resourceType": "ViewDefinition", "name": "two_values", "resource": "Observation",
        "select": [{"column": [{"name": "both", "path": "id | status"}]}]});
    let failing = View::from_json(&two_values, "two_values").unwrap();
    dataset.keep_views(vec![patient, fhir_views::built_in("observation").unwrap(), failing]);
    let update = one_change(&w, &exports, 3, &update.transaction_time);
    let report = dataset.apply(&update, &options(), &cancel).unwrap();
    let by_name = |n: &str| report.views.iter().find(|v| v.view == n).unwrap().clone();
    assert!(by_name("patient").recomputed, "a changed definition is computed again: {report:?}");
    assert!(by_name("two_values").failure.as_deref().unwrap().contains("two_values"), "{report:?}");
    assert!(!data.join("views").join("condition.parquet").exists(), "a view no longer asked for is taken out");
    assert!(!data.join("views").join("two_values.parquet").exists());
    assert!(!data.join(".next").exists());
    let kept: Vec<&String> = dataset.state().views.keys().collect();
    assert_eq!(kept, ["observation", "patient"]);
    // The update itself went through: the tables are at export 3.
    assert_eq!(dataset.state().last().unwrap().export_id, 3);
}

#[test]
fn after_a_small_change_the_view_rows_of_the_row_groups_the_merge_copied_are_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let (exports, data, scratch) = (tmp.path().join("exports"), tmp.path().join("dataset"), tmp.path().join("s"));
    let cancel = AtomicBool::new(false);
    // Small row groups (a 32 MB limit) over 90,000 Observations: the table has several.
    let small = ConvertOptions { threads: 2, memory_limit: 32 << 20, zstd_level: 1 };
    let w = World::new(1000, 120);
    let mut dataset = Dataset::open(&data).unwrap();
    dataset.keep_views(built_in(&["observation"]));
    let first = full_update(&w, &exports, 1);
    dataset.apply(&first, &small, &cancel).unwrap();
    let table = std::fs::File::open(data.join("Observation.parquet")).unwrap();
    let groups = parquet::file::reader::SerializedFileReader::new(table).unwrap();
    use parquet::file::reader::FileReader;
    assert!(groups.metadata().num_row_groups() >= 3, "{} row groups", groups.metadata().num_row_groups());

    let report = dataset.apply(&one_change(&w, &exports, 2, &first.transaction_time), &small, &cancel).unwrap();
    let obs = report.views.iter().find(|v| v.view == "observation").unwrap();
    assert!(obs.recomputed && obs.reused_groups >= 2 && obs.computed_groups >= 1, "{obs:?}");
    // The row group that lost the changed Observation: its other rows (in row groups of a merge's size) take
    // their view rows from the previous file.
    assert!(obs.derived_groups >= 1, "{obs:?}");
    // The kept view equals the view made over the dataset's resources written out as an export.
    let resources: Vec<_> = dataset_contents(&data).into_values().collect();
    let export = write_export(&scratch.join("now"), &resources, &[]);
    let opts = TablesOptions { threads: 2, memory_limit: 64 << 20, ..Default::default() };
    let views = built_in(&["observation"]);
    fhir_views::make_tables(&[export], &views, &scratch.join("t"), &opts, &|_| {}, &cancel).unwrap();
    let made = rows_of(&scratch.join("t").join("observation.parquet"));
    assert_eq!(made.len(), w.state().keys().filter(|(t, _)| t == "Observation").count());
    assert_eq!(rows_of(&data.join("views").join("observation.parquet")), made);
    assert!(made.iter().any(|r| r.contains("amended")), "the changed Observation's new status is in the view");
}
