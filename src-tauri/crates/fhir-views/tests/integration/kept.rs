//! A view kept current over a table that changes (`keep_views_current`, as a current dataset keeps its views):
//! the view rows of unchanged table row groups are copied from the previous file, the others evaluated, and the
//! file is the same, row for row and in order, as the view made whole over the new table.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use arrow::array::{BooleanArray, RecordBatch, RecordBatchReader};
use fhir_tables::table_writer::TableWriter;
use fhir_views::{KeptView, Reuse, TablesOptions, View};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::properties::WriterProperties;
use serde_json::json;

const PER_GROUP: usize = 150;

/// `n` Observations as `haul convert` writes them: one table.
fn converted(dir: &Path, n: usize) -> PathBuf {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let lines: Vec<String> = (0..n)
        .map(|i| {
            json!({"resourceType": "Observation", "id": format!("o{i}"), "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": format!("{}-{}", 1000 + i % 37, i % 9),
                    "display": "A measure"}]},
                "subject": {"reference": format!("Patient/p{}", i % 50)},
                "effectiveDateTime": format!("2026-{:02}-{:02}T08:30:00Z", 1 + i % 12, 1 + i % 28),
                "valueQuantity": {"value": i as f64 / 4.0, "unit": "mg"}})
            .to_string()
        })
        .collect();
    std::fs::write(input.join("Observation.ndjson"), lines.join("\n")).unwrap();
    let inputs = fhir_tables::find_inputs(&[input]).unwrap();
    let out = dir.join("converted");
    let options = fhir_tables::ConvertOptions { threads: 2, memory_limit: 32 << 20, zstd_level: 3 };
    let cancel = AtomicBool::new(false);
    fhir_tables::convert(&inputs, &out, &options, &fhir_tables::Forgetful, &|_| {}, &cancel).unwrap();
    out.join("Observation.parquet")
}

/// The table written again with a row group per `PER_GROUP` rows; `edit` may change a group's rows. The same
/// rows give the same bytes, as the merge's copied row groups keep theirs.
fn regrouped(from: &Path, to: &Path, edit: &dyn Fn(usize, RecordBatch) -> RecordBatch) -> usize {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(from).unwrap())
        .unwrap()
        .with_batch_size(PER_GROUP)
        .build()
        .unwrap();
    let schema = reader.schema();
    let props = WriterProperties::builder().set_max_row_group_row_count(None).build();
    let mut writer = TableWriter::new(std::fs::File::create(to).unwrap(), schema, props, 1, 2).unwrap();
    for (g, batch) in reader.enumerate() {
        writer.write(edit(g, batch.unwrap())).unwrap();
    }
    let groups = writer.row_groups();
    writer.close().unwrap();
    groups
}

fn keep(view: &View, table: &Path, previous: Option<&Path>, out: &Path) -> (PathBuf, Reuse) {
    let kept = [KeptView { view, table, previous }];
    let opts = TablesOptions { threads: 2, memory_limit: 32 << 20, ..Default::default() };
    let mut made = fhir_views::keep_views_current(&kept, out, &opts, &AtomicBool::new(false)).unwrap();
    let (outcome, reuse) = made.remove(0);
    assert!(outcome.failure.is_none(), "{outcome:?}");
    (outcome.files[0].clone(), reuse)
}

fn all_rows(path: &Path) -> RecordBatch {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap().build().unwrap();
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    arrow::compute::concat_batches(&schema, &batches).unwrap()
}

#[test]
fn unchanged_row_groups_reuse_their_view_rows_and_the_file_equals_the_view_made_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let source = converted(dir, 1_000);
    let view = fhir_views::built_in("observation").unwrap();
    let (before, after) = (dir.join("before.parquet"), dir.join("after.parquet"));
    let groups = regrouped(&source, &before, &|_, b| b);
    assert_eq!(groups, 7, "1,000 rows in groups of {PER_GROUP}");
    // Month two: row group 2 loses every other row; the others are as they were.
    let every_other = |b: RecordBatch| {
        let keep: BooleanArray = (0..b.num_rows()).map(|i| Some(i % 2 == 0)).collect();
        arrow::compute::filter_record_batch(&b, &keep).unwrap()
    };
    regrouped(&source, &after, &|g, b| if g == 2 { every_other(b) } else { b });

    let (first, reuse) = keep(&view, &before, None, &dir.join("v1"));
    assert_eq!(reuse, Reuse { reused_groups: 0, derived_groups: 0, computed_groups: 7 });
    let (kept, reuse) = keep(&view, &after, Some(&first), &dir.join("v2"));
    assert_eq!(reuse, Reuse { reused_groups: 6, derived_groups: 0, computed_groups: 1 });
    let (whole, _) = keep(&view, &after, None, &dir.join("v3"));
    let (kept_rows, whole_rows) = (all_rows(&kept), all_rows(&whole));
    assert_eq!(kept_rows.num_rows(), 1_000 - 75);
    assert_eq!(kept_rows, whole_rows, "the kept view is the view made whole, row for row, in order");

    // Kept once more with nothing changed: everything reused, the same rows.
    let (again, reuse) = keep(&view, &after, Some(&kept), &dir.join("v4"));
    assert_eq!(reuse, Reuse { reused_groups: 7, derived_groups: 0, computed_groups: 0 });
    assert_eq!(all_rows(&again), whole_rows);
}

#[test]
fn a_previous_file_of_another_definition_or_not_kept_is_not_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let source = converted(dir, 400);
    let table = dir.join("t.parquet");
    regrouped(&source, &table, &|_, b| b);
    let view = fhir_views::built_in("observation").unwrap();
    let (first, _) = keep(&view, &table, None, &dir.join("v1"));

    let mut definition: serde_json::Value = serde_json::from_str(&view.definition).unwrap();
    definition["select"][0]["column"][0]["name"] = json!("observation_id");
    let changed = View::from_json(&definition, "observation").unwrap();
    let (_, reuse) = keep(&changed, &table, Some(&first), &dir.join("v2"));
    assert_eq!(reuse.reused_groups, 0, "another definition's rows are not reused");

    // A file `haul tables` made (no list of sources in its footer) is not followed either.
    let opts = TablesOptions { threads: 2, memory_limit: 32 << 20, ..Default::default() };
    let made = dir.join("tables");
    fhir_views::make_tables(&[dir.join("in")], &[view], &made, &opts, &|_| {}, &AtomicBool::new(false)).unwrap();
    let view = fhir_views::built_in("observation").unwrap();
    let (kept, reuse) = keep(&view, &table, Some(&made.join("observation.parquet")), &dir.join("v3"));
    assert_eq!(reuse.reused_groups, 0);
    assert_eq!(all_rows(&kept), all_rows(&first));
}

#[test]
fn row_groups_that_give_no_rows_are_followed_too_and_the_previous_file_may_be_the_output_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let source = converted(dir, 1_000);
    let (before, after) = (dir.join("before.parquet"), dir.join("after.parquet"));
    regrouped(&source, &before, &|_, b| b);
    let first_row = |b: RecordBatch| b.slice(0, 1);
    regrouped(&source, &after, &|g, b| if g == 2 { first_row(b) } else { b });
    // Rows from table row groups 0 and 4 only: the others make none.
    let definition = json!({"resourceType": "ViewDefinition", "name": "few", "resource": "Observation",
        "select": [{"column": [{"name": "id", "path": "id"}]}], "where": [{"path": "id = 'o3' or id = 'o700'"}]});
    let view = View::from_json(&definition, "few").unwrap();
    let out = dir.join("views");
    let (file, _) = keep(&view, &before, None, &out);
    let (again, reuse) = keep(&view, &after, Some(&file), &out);
    assert_eq!(again, file, "written over the file it reused");
    assert_eq!(reuse, Reuse { reused_groups: 6, derived_groups: 0, computed_groups: 1 });
    let (whole, _) = keep(&view, &after, None, &dir.join("whole"));
    let rows = all_rows(&again);
    assert_eq!(rows.num_rows(), 2);
    assert_eq!(rows, all_rows(&whole));
}

/// `before` written again as a merge writes it when table row group 2 lost ten rows (changed) and 3 its first
/// five (deleted): 0 and 1 as they were, the rows of 2 and 3 that stayed as one row group, 4 to 6 as they were,
/// then the ten changed ones, amended; the footer names the row group of kept rows.
fn merged(before: &Path, after: &Path) {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(before).unwrap())
        .unwrap()
        .with_batch_size(PER_GROUP)
        .build()
        .unwrap();
    let schema = reader.schema();
    let groups: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    let props = WriterProperties::builder().set_max_row_group_row_count(None).build();
    let mut writer = TableWriter::new(std::fs::File::create(after).unwrap(), schema.clone(), props, 1, 2).unwrap();
    let stays: BooleanArray = (0..PER_GROUP).map(|i| Some(!(10..20).contains(&i))).collect();
    let kept_of_2 = arrow::compute::filter_record_batch(&groups[2], &stays).unwrap();
    let kept = arrow::compute::concat_batches(&schema, &[kept_of_2, groups[3].slice(5, PER_GROUP - 5)]).unwrap();
    for batch in [&groups[0], &groups[1], &kept, &groups[4], &groups[5], &groups[6]] {
        writer.write(batch.clone()).unwrap();
    }
    let changed = groups[2].slice(10, 10);
    let status = schema.index_of("status").unwrap();
    let mut columns = changed.columns().to_vec();
    columns[status] = std::sync::Arc::new(arrow::array::StringArray::from(vec!["amended"; 10]));
    writer.write(RecordBatch::try_new(schema.clone(), columns).unwrap()).unwrap();
    let previous = fhir_views::kept::row_group_fingerprints(before, &AtomicBool::new(false)).unwrap();
    let kept_rows = fhir_views::KeptRows { previous, groups: vec![(2, 2, 4)] };
    writer.append_key_value_metadata(parquet::file::metadata::KeyValue::new(
        fhir_views::KEPT_ROWS_KEY.to_string(),
        serde_json::to_string(&kept_rows).unwrap(),
    ));
    writer.close().unwrap();
}

#[test]
fn rows_a_merge_kept_take_their_view_rows_from_the_previous_file_by_id_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let source = converted(dir, 1_000);
    let (before, after) = (dir.join("before.parquet"), dir.join("after.parquet"));
    regrouped(&source, &before, &|_, b| b);
    merged(&before, &after);
    // Two rows a resource (its code and its system), none for two resources the merge kept.
    let definition = json!({"resourceType": "ViewDefinition", "name": "codes", "resource": "Observation",
        "select": [{"column": [{"name": "id", "path": "id"}, {"name": "status", "path": "status"}]},
            {"forEach": "code.coding.code | code.coding.system", "column": [{"name": "part", "path": "$this"}]}],
        "where": [{"path": "id != 'o305' and id != 'o460'"}]});
    let view = View::from_json(&definition, "codes").unwrap();
    let out = dir.join("views");
    let (file, _) = keep(&view, &before, None, &out);
    let (again, reuse) = keep(&view, &after, Some(&file), &out);
    assert_eq!(reuse, Reuse { reused_groups: 5, derived_groups: 1, computed_groups: 1 });
    let (whole, _) = keep(&view, &after, None, &dir.join("whole"));
    let rows = all_rows(&again);
    assert_eq!(rows.num_rows(), 2 * (1_000 - 5 - 2));
    assert_eq!(rows, all_rows(&whole), "the same rows in the same order as the view made whole");

    // Without the resource's id among its columns, a view's kept rows are evaluated again.
    let definition = json!({"resourceType": "ViewDefinition", "name": "statuses", "resource": "Observation",
        "select": [{"column": [{"name": "status", "path": "status"}]}]});
    let view = View::from_json(&definition, "statuses").unwrap();
    let (file, _) = keep(&view, &before, None, &out);
    let (again, reuse) = keep(&view, &after, Some(&file), &out);
    assert_eq!(reuse, Reuse { reused_groups: 5, derived_groups: 0, computed_groups: 2 });
    let (whole, _) = keep(&view, &after, None, &dir.join("whole"));
    assert_eq!(all_rows(&again), all_rows(&whole));
}
