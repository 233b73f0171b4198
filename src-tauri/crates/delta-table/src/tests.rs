use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, RecordBatch, StringArray};

use super::*;

/// A Parquet file of `rows` rows with string `columns`.
fn parquet(path: &Path, columns: &[&str], rows: usize) -> PathBuf {
    let values: ArrayRef = Arc::new(StringArray::from((0..rows).map(|i| format!("v{i}")).collect::<Vec<_>>()));
    let batch = RecordBatch::try_from_iter(columns.iter().map(|c| (*c, values.clone()))).unwrap();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    path.to_path_buf()
}

fn commit_lines(dir: &Path, version: u64) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join(format!("T/_delta_log/{version:020}.json"))).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn has(lines: &[Value], action: &str) -> usize {
    lines.iter().filter(|l| l.get(action).is_some()).count()
}

#[tokio::test]
async fn versions_replace_the_data_file_and_record_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let dest = Destination::open_folder(dir.path()).unwrap();
    let staged = dir.path().join("staged.parquet");

    let mut t = DeltaTable::open(&dest, "T").await.unwrap();
    assert_eq!(t.version(), None);
    let e = t.commit(Contents::Replace { file: None }, 1, "WRITE", json!({})).await.unwrap_err();
    assert_eq!(e.code(), "delta_unsupported", "a new table takes its schema from a file: {e}");
    let data = parquet(&staged, &["id"], 3);
    let v = t.commit(Contents::Replace { file: Some(&data) }, 100, "WRITE", json!({})).await;
    assert_eq!(v.unwrap(), 0);
    let first = commit_lines(dir.path(), 0);
    assert_eq!((has(&first, "protocol"), has(&first, "metaData"), has(&first, "add")), (1, 1, 1));
    assert_eq!(t.rows(), Some(3));
    assert_eq!(t.marker(), Some(100));
    let old = t.live_files()[0].clone();
    assert!(dir.path().join("T").join(&old.path).is_file(), "the data file is beside the log");

    // Same schema: no new metaData; the old file is removed from the version, not from the folder.
    let data = parquet(&staged, &["id"], 5);
    t.commit(Contents::Replace { file: Some(&data) }, 200, "MERGE", json!({})).await.unwrap();
    let second = commit_lines(dir.path(), 1);
    assert_eq!((has(&second, "metaData"), has(&second, "remove"), has(&second, "add")), (0, 1, 1));
    assert_eq!(t.rows(), Some(5));
    assert_ne!(t.live_files()[0].path, old.path);
    assert!(dir.path().join("T").join(&old.path).is_file(), "older versions stay readable");

    // A new column: new metaData, same table id.
    let data = parquet(&staged, &["id", "gender"], 2);
    t.commit(Contents::Replace { file: Some(&data) }, 300, "WRITE", json!({})).await.unwrap();
    let third = commit_lines(dir.path(), 2);
    let id = |lines: &[Value]| lines.iter().find_map(|l| l["metaData"]["id"].as_str().map(str::to_string));
    assert_eq!(id(&third), id(&first));
    assert!(third.iter().any(|l| l["metaData"]["schemaString"].as_str().is_some_and(|s| s.contains("gender"))));

    // Emptied: no file, the schema stays.
    t.commit(Contents::Replace { file: None }, 350, "DELETE", json!({})).await.unwrap();
    assert_eq!(has(&commit_lines(dir.path(), 3), "metaData"), 0);
    assert_eq!(t.rows(), Some(0));

    t.commit(Contents::Keep, 400, "MARK", json!({})).await.unwrap();
    let reopened = DeltaTable::open(&dest, "T").await.unwrap();
    assert_eq!((reopened.version(), reopened.marker(), reopened.rows()), (Some(4), Some(400), Some(0)));
}

#[tokio::test]
async fn a_version_written_by_another_program_first_is_a_conflict_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let dest = Destination::open_folder(dir.path()).unwrap();
    let data = parquet(&dir.path().join("staged.parquet"), &["id"], 1);
    let mut t = DeltaTable::open(&dest, "T").await.unwrap();
    t.commit(Contents::Replace { file: Some(&data) }, 1, "WRITE", json!({})).await.unwrap();

    let mut other = DeltaTable::open(&dest, "T").await.unwrap();
    other.commit(Contents::Keep, 2, "MARK", json!({})).await.unwrap();
    let e = t.commit(Contents::Replace { file: Some(&data) }, 2, "WRITE", json!({})).await;
    assert!(matches!(e, Err(DeltaError::Conflict { version: 1, .. })), "{e:?}");
    let files = std::fs::read_dir(dir.path().join("T")).unwrap().count();
    assert_eq!(files, 2, "the log and version 0's file, nothing of the refused commit");
}

#[tokio::test]
async fn tables_with_features_haul_does_not_write_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("T/_delta_log");
    std::fs::create_dir_all(&log).unwrap();
    let v0 = [
        json!({"protocol": {"minReaderVersion": 3, "minWriterVersion": 7, "readerFeatures": ["deletionVectors"]}}),
        json!({"metaData": {"id": "x", "schemaString": "{}", "partitionColumns": []}}),
    ];
    std::fs::write(log.join(format!("{:020}.json", 0)), v0.map(|v| v.to_string()).join("\n")).unwrap();
    let dest = Destination::open_folder(dir.path()).unwrap();
    let e = DeltaTable::open(&dest, "T").await.err().unwrap().to_string();
    assert!(e.contains("reader version 3"), "{e}");

    std::fs::write(log.join(format!("{:020}.json", 0)), "{not json").unwrap();
    let e = DeltaTable::open(&dest, "T").await.err().unwrap();
    assert_eq!(e.code(), "delta_corrupt", "{e}");

    // A commit too large to be one is refused by its listed size, before it is fetched (a sparse file here).
    std::fs::File::create(log.join(format!("{:020}.json", 0))).unwrap().set_len(65 << 20).unwrap();
    let e = DeltaTable::open(&dest, "T").await.err().unwrap();
    assert!(e.code() == "delta_corrupt" && e.to_string().contains("68157440 bytes"), "{e}");
}

#[tokio::test]
async fn a_schema_change_keeps_what_the_table_owner_set_and_writer_rules_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let dest = Destination::open_folder(dir.path()).unwrap();
    let staged = dir.path().join("staged.parquet");
    let mut t = DeltaTable::open(&dest, "T").await.unwrap();
    t.commit(Contents::Replace { file: Some(&parquet(&staged, &["id"], 1)) }, 1, "WRITE", json!({})).await.unwrap();
    // The table's owner names it and checkpoints it every second version (as `ALTER TABLE … SET TBLPROPERTIES`).
    let mut meta = commit_lines(dir.path(), 0).into_iter().find(|l| l.get("metaData").is_some()).unwrap();
    meta["metaData"]["name"] = json!("patients");
    meta["metaData"]["configuration"] = json!({"delta.checkpointInterval": "2", "owner.note": "kept"});
    std::fs::write(dir.path().join(format!("T/_delta_log/{:020}.json", 1)), meta.to_string()).unwrap();

    let mut t = DeltaTable::open(&dest, "T").await.unwrap();
    let data = parquet(&staged, &["id", "gender"], 2);
    assert_eq!(t.commit(Contents::Replace { file: Some(&data) }, 2, "WRITE", json!({})).await.unwrap(), 2);
    let changed = commit_lines(dir.path(), 2).into_iter().find_map(|l| l.get("metaData").cloned()).unwrap();
    assert_eq!(changed["name"], "patients");
    assert_eq!(changed["configuration"], meta["metaData"]["configuration"]);
    assert!(changed["schemaString"].as_str().unwrap().contains("gender"));
    assert!(dir.path().join(format!("T/_delta_log/{:020}.checkpoint.parquet", 2)).is_file(), "the owner's interval");

    // Append-only: replacing the data file would remove one, so Haul refuses and writes nothing.
    let mut append_only = changed.clone();
    append_only["configuration"]["delta.appendOnly"] = json!("true");
    let v3 = json!({ "metaData": append_only }).to_string();
    std::fs::write(dir.path().join(format!("T/_delta_log/{:020}.json", 3)), v3).unwrap();
    let mut t = DeltaTable::open(&dest, "T").await.unwrap();
    let files = std::fs::read_dir(dir.path().join("T")).unwrap().count();
    let e = t.commit(Contents::Replace { file: Some(&data) }, 3, "WRITE", json!({})).await.unwrap_err();
    assert!(e.code() == "delta_unsupported" && e.to_string().contains("append-only"), "{e}");
    assert_eq!(std::fs::read_dir(dir.path().join("T")).unwrap().count(), files, "no file uploaded");
    assert_eq!(DeltaTable::open(&dest, "T").await.unwrap().version(), Some(3));

    // A column invariant Haul would not check.
    let mut invariant = changed;
    invariant["schemaString"] = json!(
        r#"{"type":"struct","fields":[{"name":"id","type":"string","nullable":true,"metadata":{"delta.invariants":"{\"expression\":{\"expression\":\"id IS NOT NULL\"}}"}}]}"#
    );
    let v4 = json!({ "metaData": invariant }).to_string();
    std::fs::write(dir.path().join(format!("T/_delta_log/{:020}.json", 4)), v4).unwrap();
    let mut t = DeltaTable::open(&dest, "T").await.unwrap();
    let e = t.commit(Contents::Replace { file: Some(&data) }, 4, "WRITE", json!({})).await.unwrap_err();
    assert!(e.to_string().contains("invariants"), "{e}");
}

/// The Python of the repository's `.venv` (the `deltalake` package), as `make test` installs it.
fn python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../.venv/bin/python");
    let python = std::env::var_os("HAUL_PYTHON").map(PathBuf::from).unwrap_or(venv);
    assert!(python.exists(), "{} is missing: run `make test` once, which installs it", python.display());
    python
}

#[tokio::test]
async fn every_tenth_version_leaves_a_checkpoint_that_haul_and_delta_rs_start_from_once_older_commits_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let dest = Destination::open_folder(dir.path()).unwrap();
    let staged = dir.path().join("staged.parquet");
    let mut t = DeltaTable::open(&dest, "T").await.unwrap();
    for v in 0..12u64 {
        let data = parquet(&staged, &["id"], v as usize + 1);
        t.commit(Contents::Replace { file: Some(&data) }, 100 + v as i64, "WRITE", json!({})).await.unwrap();
    }
    let log = dir.path().join("T/_delta_log");
    assert!(log.join(format!("{:020}.checkpoint.parquet", 10)).is_file());
    assert!(!log.join(format!("{:020}.checkpoint.parquet", 0)).exists(), "none at version 0");
    let last: Value = serde_json::from_slice(&std::fs::read(log.join("_last_checkpoint")).unwrap()).unwrap();
    assert_eq!((last["version"].as_u64(), last["numOfAddFiles"].as_u64()), (Some(10), Some(1)), "{last}");
    // The checkpoint holds what replaying versions 0 to 10 holds: protocol, metadata, the export, the live
    // file, and the ten files removed on the way (tombstones, for VACUUM).
    let at_10 =
        super::checkpoint::decode(std::fs::read(log.join(format!("{:020}.checkpoint.parquet", 10))).unwrap().into());
    let at_10 = at_10.unwrap();
    let count = |action: &str| at_10.iter().filter(|a| a.get(action).is_some()).count();
    assert_eq!([count("protocol"), count("metaData"), count("txn"), count("add"), count("remove")], [1, 1, 1, 1, 10]);

    let before = (t.version(), t.marker(), t.rows(), t.live_files().into_iter().cloned().collect::<Vec<_>>());
    let state =
        |t: &DeltaTable| (t.version(), t.marker(), t.rows(), t.live_files().into_iter().cloned().collect::<Vec<_>>());
    // A damaged checkpoint, with every commit still there: the commits say the same.
    let checkpoint = log.join(format!("{:020}.checkpoint.parquet", 10));
    let good = std::fs::read(&checkpoint).unwrap();
    std::fs::write(&checkpoint, b"PAR1 damaged").unwrap();
    assert_eq!(state(&DeltaTable::open(&dest, "T").await.unwrap()), before);
    // Readable, but a row is not an action Haul can apply (an add without a path): the same.
    let bad_row = super::checkpoint::encode(&[json!({"add": {"size": 1}})]).unwrap();
    std::fs::write(&checkpoint, bad_row).unwrap();
    assert_eq!(state(&DeltaTable::open(&dest, "T").await.unwrap()), before);
    std::fs::write(&checkpoint, good).unwrap();

    // Spark's log cleanup removes the commits a checkpoint covers; the table reads the same without them.
    for v in 0..10 {
        std::fs::remove_file(log.join(format!("{v:020}.json"))).unwrap();
    }
    let mut reopened = DeltaTable::open(&dest, "T").await.unwrap();
    let after = state(&reopened);
    assert_eq!(after, before);
    assert_eq!((after.0, after.1, after.2), (Some(11), Some(111), Some(12)));
    let data = parquet(&staged, &["id", "gender"], 20);
    assert_eq!(reopened.commit(Contents::Replace { file: Some(&data) }, 200, "WRITE", json!({})).await.unwrap(), 12);

    // delta-rs can only have started from the checkpoint: the commits before it are gone.
    let read = "import json, os, sys\nfrom deltalake import DeltaTable\nt = DeltaTable(sys.argv[1])\n\
                print(json.dumps({'version': t.version(), 'rows': t.to_pyarrow_table().num_rows, \
                'columns': t.schema().to_arrow().names}))\nsys.stdout.flush()\nos._exit(0)";
    let o = std::process::Command::new(python()).args(["-c", read]).arg(dir.path().join("T")).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let read: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(read, json!({"version": 12, "rows": 20, "columns": ["id", "gender"]}));

    // A checkpoint that cannot be read, with its commits gone, is a damaged table, said so.
    std::fs::write(&checkpoint, b"PAR1 damaged").unwrap();
    let e = DeltaTable::open(&dest, "T").await.err().unwrap();
    assert_eq!(e.code(), "delta_corrupt", "{e}");
}

#[tokio::test]
async fn a_checkpoint_delta_rs_wrote_is_where_haul_starts_once_the_commits_it_covers_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let dest = Destination::open_folder(dir.path()).unwrap();
    let staged = dir.path().join("staged.parquet");
    let mut t = DeltaTable::open(&dest, "T").await.unwrap();
    for v in 0..3u64 {
        let data = parquet(&staged, &["id"], v as usize + 1);
        t.commit(Contents::Replace { file: Some(&data) }, 100 + v as i64, "WRITE", json!({})).await.unwrap();
    }
    // delta-rs's own checkpoint of version 2: its columns and types (stats_parsed, deletion vector fields, …).
    let table = dir.path().join("T");
    let write = "import os, sys\nfrom deltalake import DeltaTable\nDeltaTable(sys.argv[1]).create_checkpoint()\n\
                 sys.stdout.flush()\nos._exit(0)";
    let o = std::process::Command::new(python()).args(["-c", write]).arg(&table).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let log = table.join("_delta_log");
    assert!(log.join(format!("{:020}.checkpoint.parquet", 2)).is_file());
    for v in 0..=2 {
        std::fs::remove_file(log.join(format!("{v:020}.json"))).unwrap();
    }

    let mut reopened = DeltaTable::open(&dest, "T").await.unwrap();
    assert_eq!((reopened.version(), reopened.marker(), reopened.rows()), (Some(2), Some(102), Some(3)));
    assert_eq!(reopened.live_files(), t.live_files());
    let data = parquet(&staged, &["id"], 7);
    assert_eq!(reopened.commit(Contents::Replace { file: Some(&data) }, 200, "WRITE", json!({})).await.unwrap(), 3);
    let reopened = DeltaTable::open(&dest, "T").await.unwrap();
    assert_eq!((reopened.version(), reopened.marker(), reopened.rows()), (Some(3), Some(200), Some(7)));
}

#[tokio::test]
async fn vacuum_removes_only_files_versions_older_than_the_retention_removed() {
    let dir = tempfile::tempdir().unwrap();
    let dest = Destination::open_folder(dir.path()).unwrap();
    let staged = dir.path().join("staged.parquet");
    let mut t = DeltaTable::open(&dest, "T").await.unwrap();
    let mut files = Vec::new();
    for (marker, rows) in [(1, 3), (2, 4), (3, 5)] {
        t.commit(Contents::Replace { file: Some(&parquet(&staged, &["id"], rows)) }, marker, "WRITE", json!({}))
            .await
            .unwrap();
        files.push(t.live_files()[0].path.clone());
    }
    // Beside the table's own: a file the log does not know (another writer's, not yet committed).
    std::fs::write(dir.path().join("T/part-unknown.parquet"), b"x").unwrap();
    let exists = |f: &str| dir.path().join("T").join(f).is_file();

    let now = SystemTime::now();
    let fresh = t.vacuum_at(now, false).await.unwrap();
    assert_eq!((fresh.files.len(), fresh.retention_seconds), (0, 7 * 86_400), "removed just now: kept a week");
    let later = now + Duration::from_secs(8 * 86_400);
    let dry = t.vacuum_at(later, true).await.unwrap();
    let mut old = files[..2].to_vec();
    old.sort();
    assert_eq!(dry.files, old);
    assert!(dry.bytes > 0 && files.iter().all(|f| exists(f)), "a dry run removes nothing");
    let done = t.vacuum_at(later, false).await.unwrap();
    assert_eq!((done.files, done.bytes), (old, dry.bytes));
    assert!(!exists(&files[0]) && !exists(&files[1]) && exists(&files[2]) && exists("part-unknown.parquet"));
    let t = DeltaTable::open(&dest, "T").await.unwrap();
    assert_eq!((t.version(), t.rows()), (Some(2), Some(5)), "the log and the live version are untouched");
    assert!(t.vacuum_at(later, false).await.unwrap().files.is_empty(), "twice: nothing more");

    // A tombstone naming a file outside the table is never followed; the owner's retention is kept.
    std::fs::write(dir.path().join("outside.parquet"), b"x").unwrap();
    let mut meta = commit_lines(dir.path(), 0).into_iter().find(|l| l.get("metaData").is_some()).unwrap();
    meta["metaData"]["configuration"] = json!({"delta.deletedFileRetentionDuration": "interval 2 hours"});
    let remove = json!({"remove": {"path": "../outside.parquet", "deletionTimestamp": 0, "dataChange": true}});
    std::fs::write(dir.path().join(format!("T/_delta_log/{:020}.json", 3)), format!("{meta}\n{remove}\n")).unwrap();
    let t = DeltaTable::open(&dest, "T").await.unwrap();
    let v = t.vacuum_at(later, false).await.unwrap();
    assert_eq!((v.files.len(), v.retention_seconds), (0, 7200));
    assert!(dir.path().join("outside.parquet").is_file());

    // Every table under a destination; a retention Haul cannot read (T's) stops before anything is removed,
    // even from a table listed before it (A, whose owner keeps removed files for no time).
    let mut a = DeltaTable::open(&dest, "A").await.unwrap();
    for marker in [1, 2] {
        a.commit(Contents::Replace { file: Some(&parquet(&staged, &["id"], 2)) }, marker, "WRITE", json!({}))
            .await
            .unwrap();
    }
    let a_commits = dir.path().join("A/_delta_log");
    let a_first = std::fs::read_to_string(a_commits.join(format!("{:020}.json", 0))).unwrap();
    let mut a_meta: Value = serde_json::from_str(a_first.lines().find(|l| l.contains("metaData")).unwrap()).unwrap();
    a_meta["metaData"]["configuration"] = json!({"delta.deletedFileRetentionDuration": "interval 0 seconds"});
    std::fs::write(a_commits.join(format!("{:020}.json", 2)), a_meta.to_string()).unwrap();
    let a_files = || std::fs::read_dir(dir.path().join("A")).unwrap().count();
    let before = a_files();
    meta["metaData"]["configuration"] = json!({"delta.deletedFileRetentionDuration": "soon"});
    std::fs::write(dir.path().join(format!("T/_delta_log/{:020}.json", 4)), meta.to_string()).unwrap();
    let e = vacuum_tables(&dest, false).await.unwrap_err();
    assert!(e.code() == "delta_retention" && e.to_string().contains("\"soon\""), "{e}");
    assert_eq!(a_files(), before, "nothing removed from A either");
    // With T readable again, A's removed file goes.
    meta["metaData"]["configuration"] = json!({});
    std::fs::write(dir.path().join(format!("T/_delta_log/{:020}.json", 5)), meta.to_string()).unwrap();
    // As of a moment before A's file was removed, nothing of A is old enough; as of the clock's now, it is.
    let early = vacuum_tables_at(&dest, SystemTime::UNIX_EPOCH, false).await.unwrap();
    assert!(early.iter().all(|v| v.files.is_empty() && v.as_of_ms == 0), "{early:?}");
    assert_eq!(a_files(), before);
    let done = vacuum_tables(&dest, false).await.unwrap();
    assert_eq!(done.iter().map(|v| v.files.len()).collect::<Vec<_>>(), [1, 0], "{done:?}");
    assert!(done[0].as_of_ms > 0);
    assert_eq!(a_files(), before - 1);
}
