//! `haul convert --format delta`: two months of one group's exports into Delta tables, in a folder, S3 (moto),
//! Azure Blob (Azurite) and GCS (tests/storage/gcs_front.py), read back by readers that are not Haul: the
//! `deltalake` package (delta-rs) everywhere, and Apache Spark, which reads exactly the Parquet files the table's
//! log lists as live (local, and from S3 fetched first with boto3). After the second, incremental month
//! (changes, `deleted[]`, members joining and leaving) every table holds exactly what a full export of that
//! moment holds; and after twelve months in S3, with the commits a checkpoint covers removed, still does.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bulk_sim::{RunningSim, SimConfig};
use serde_json::Value;

use super::storage_servers::{Haul, Storage, python, repo_root, text};

/// Type → id → `meta.lastUpdated`.
type Contents = BTreeMap<String, BTreeMap<String, Option<String>>>;

/// The resources of an export folder's NDJSON files (`Type.NNN.ndjson` at its top).
fn folder_contents(dir: &Path) -> Contents {
    let mut out = Contents::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".ndjson") && name.starts_with(|c: char| c.is_ascii_uppercase()) {
            for line in std::fs::read_to_string(&path).unwrap().lines().filter(|l| !l.trim().is_empty()) {
                let v: Value = serde_json::from_str(line).unwrap();
                let t = v["resourceType"].as_str().unwrap().to_string();
                let updated = v["meta"]["lastUpdated"].as_str().map(str::to_string);
                out.entry(t).or_default().insert(v["id"].as_str().unwrap().to_string(), updated);
            }
        }
    }
    out
}

/// What `tests/delta/read_tables.py` reads with `engine` (deltalake or spark).
fn read_back(storage: &Storage, engine: &str, root: &str, types: &[&String]) -> Value {
    read_tables(storage, &[engine, root, &types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(",")])
}

/// Several reads in one reader process, in order: Spark's JVM starts once for all of them.
fn read_many(storage: &Storage, reads: &[(&str, &str, &[&String])]) -> Vec<Value> {
    let jobs: Vec<[String; 3]> = reads
        .iter()
        .map(|(engine, root, types)| {
            [engine.to_string(), root.to_string(), types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(",")]
        })
        .collect();
    match read_tables(storage, &["many", &serde_json::to_string(&jobs).unwrap()]) {
        Value::Array(results) if results.len() == reads.len() => results,
        other => panic!("one result per read was expected: {other}"),
    }
}

fn read_tables(storage: &Storage, args: &[&str]) -> Value {
    let script = repo_root().join("tests/delta/read_tables.py");
    let engine = args[0];
    let o =
        Command::new(python()).arg(script).args(args).envs(storage.env.iter().map(|(k, v)| (k, v))).output().unwrap();
    assert!(o.status.success(), "{engine}: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{engine}: {e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn tables_of(read: &Value) -> Contents {
    serde_json::from_value(read["tables"].clone()).unwrap()
}

fn assert_same(what: &str, tables: &Contents, expected: &Contents) {
    for (t, ids) in expected {
        let got = tables.get(t).cloned().unwrap_or_default();
        let missing: Vec<_> = ids.keys().filter(|id| !got.contains_key(*id)).take(3).collect();
        let extra: Vec<_> = got.keys().filter(|id| !ids.contains_key(*id)).take(3).collect();
        let older: Vec<_> = ids.iter().filter(|(id, u)| got.get(*id).is_some_and(|g| g != *u)).take(3).collect();
        assert!(
            missing.is_empty() && extra.is_empty() && older.is_empty(),
            "{what}: {t} holds {} rows, the full export {}: missing {missing:?}, extra {extra:?}, other versions {older:?}",
            got.len(),
            ids.len()
        );
    }
    for (t, got) in tables.iter().filter(|(t, _)| !expected.contains_key(*t)) {
        assert!(got.is_empty(), "{what}: {t} holds {} rows, the full export none", got.len());
    }
}

fn export(haul: &Haul, storage: &Storage, base: &str, out: &Path, since_last: bool) {
    let out = out.to_str().unwrap();
    let mut args = vec!["export", "--fhir-url", base, "--group", "aco-north", "--out", out];
    if since_last {
        args.extend(["--since", "auto"]);
    }
    let o = haul.run(storage, &args);
    assert!(o.status.success(), "{}", text(&o));
}

fn convert(haul: &Haul, storage: &Storage, folder: &Path, target: &str) -> Value {
    let args = ["convert", folder.to_str().unwrap(), "--format", "delta", "--out", target, "--json"];
    let o = haul.run(storage, &args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A simulator of `patients` generated patients whose data changes when its timeline advances.
async fn simulator(seed: u64, patients: u64) -> RunningSim {
    let config = SimConfig {
        data: bulk_sim::DataSource::Generated { seed, patients },
        prepare_time: Duration::from_millis(50),
        poll_interval_seconds: 0,
        ..SimConfig::default()
    };
    RunningSim::start(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_months_into_delta_tables_hold_exactly_the_current_resources() {
    let storage = Storage::moto();
    let sim = simulator(5, 160).await;
    let base = sim.base_url();
    let haul = Haul::new();
    let root = tempfile::tempdir().unwrap();
    let local = root.path().join("delta");
    let local = local.to_str().unwrap();
    let s3 = format!("{}/lake", storage.root);

    // Month 0: a full export, written as version 0 of every table.
    let m0 = root.path().join("month-0");
    export(&haul, &storage, &base, &m0, false);
    let expected = folder_contents(&m0);
    let types: Vec<&String> = expected.keys().collect();
    for target in [local, s3.as_str()] {
        let report = convert(&haul, &storage, &m0, target);
        assert_eq!(report["incremental"], false);
        assert!(report["tables"].as_array().unwrap().iter().all(|t| t["version"] == 0), "{report}");
        let read = read_back(&storage, "deltalake", target, &types);
        assert_same(&format!("month 0, deltalake, {target}"), &tables_of(&read), &expected);
    }

    // Flat views as Delta tables, from the full export: one row per patient, one per condition.
    let views = format!("{local}-views");
    let args = ["tables", m0.to_str().unwrap(), "--views", "patient,condition", "--format", "delta", "--out", &views];
    let o = haul.run(&storage, &args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (patient, condition) = ("patient".to_string(), "condition".to_string());
    let read = read_back(&storage, "deltalake", &views, &[&patient, &condition]);
    let rows = tables_of(&read);
    assert_eq!(rows["patient"].keys().collect::<Vec<_>>(), expected["Patient"].keys().collect::<Vec<_>>());
    assert_eq!(rows["condition"].len(), expected["Condition"].len());

    // Spark (one JVM for both reads) reads the resource tables, and the views' typed columns (dates,
    // millisecond UTC timestamps, decimals, booleans) as the deltalake package does, value for value.
    let view_names = [&patient, &condition];
    let [spark, by_spark] =
        read_many(&storage, &[("spark", local, &types), ("spark-rows", &views, &view_names)]).try_into().unwrap();
    assert_same("month 0, Spark", &tables_of(&spark), &expected);
    let first_patient = expected["Patient"].keys().next().unwrap();
    let gender = |m0: &Path| -> Value {
        let text = std::fs::read_to_string(m0.join("Patient.000.ndjson")).unwrap();
        let line = text.lines().find(|l| l.contains(&format!("\"id\":\"{first_patient}\""))).unwrap();
        serde_json::from_str::<Value>(line).unwrap()["gender"].clone()
    };
    assert_eq!(spark["values"]["Patient"][first_patient], gender(&m0), "a value Spark read");
    let by_deltalake = read_back(&storage, "deltalake-rows", &views, &[&patient, &condition]);
    assert_eq!(by_spark["rows"], by_deltalake["rows"], "Spark and deltalake read the view tables alike");
    let spark_types = &by_spark["types"];
    assert_eq!(spark_types["patient"]["birth_date"], "date", "{spark_types}");
    assert_eq!(spark_types["condition"]["onset"], "timestamp", "{spark_types}");
    let onsets = by_spark["rows"]["condition"].as_array().unwrap().iter().filter(|r| r["onset"].is_string()).count();
    assert!(onsets > 0, "conditions with an onset: {}", by_spark["rows"]["condition"]);

    // Month 1: the server's data changes; the incremental export is merged into the same tables.
    let changes = sim.advance_timeline().unwrap();
    assert!(!changes.left["aco-north"].is_empty() && !changes.joined["aco-north"].is_empty());
    let m1 = root.path().join("month-1");
    export(&haul, &storage, &base, &m1, true);
    assert!(m1.join("deleted").is_dir(), "the incremental export lists deletions");
    let truth = root.path().join("truth-1");
    export(&haul, &storage, &base, &truth, false);
    let expected = folder_contents(&truth);
    let mut all_types: Vec<&String> = expected.keys().collect();
    all_types.extend(types.iter().copied().filter(|t| !expected.contains_key(*t)));
    for target in [local, s3.as_str()] {
        let report = convert(&haul, &storage, &m1, target);
        assert_eq!(report["incremental"], true, "{report}");
        assert!(report["left"].as_u64().unwrap() > 0, "members who left were taken out: {report}");
        let changed: u64 =
            report["tables"].as_array().unwrap().iter().filter_map(|t| t["change"]["changed"].as_u64()).sum();
        let deleted: u64 =
            report["tables"].as_array().unwrap().iter().filter_map(|t| t["change"]["deleted"].as_u64()).sum();
        assert!(changed > 0 && deleted > 0, "{report}");
        let read = read_back(&storage, "deltalake", target, &all_types);
        assert_same(&format!("month 1, deltalake, {target}"), &tables_of(&read), &expected);
        assert!(read["versions"].as_object().unwrap().values().all(|v| v == 1), "one commit per export: {read}");
    }
    // The S3 tables too: Spark reads the live files the log in the bucket lists (fetched as they are: the s3a
    // connector is a jar these machines cannot get).
    let [spark, spark_s3] =
        read_many(&storage, &[("spark", local, &all_types), ("spark", &s3, &all_types)]).try_into().unwrap();
    assert_same("month 1, Spark", &tables_of(&spark), &expected);
    assert_same("month 1, Spark, S3", &tables_of(&spark_s3), &expected);

    // A view's rows are not resources: an export of changes only does not make view tables.
    let args = ["tables", m1.to_str().unwrap(), "--views", "patient", "--format", "delta", "--out", &views];
    let o = haul.run(&storage, &args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("from full exports only"), "{}", text(&o));

    // The same export again changes nothing; an older one is refused, and nothing is written.
    let again = convert(&haul, &storage, &m1, local);
    assert!(again["tables"].as_array().unwrap().iter().all(|t| t["version"].is_null()), "{again}");
    let o = haul.run(&storage, &["convert", m0.to_str().unwrap(), "--format", "delta", "--out", local]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("already holds a later export"), "{}", text(&o));
    let read = read_back(&storage, "deltalake", local, &all_types);
    assert!(read["versions"].as_object().unwrap().values().all(|v| v == 1), "{read}");

    // An incremental export whose baseline was never converted leaves a gap: refused in plain words.
    let o = haul.run(&storage, &["convert", m1.to_str().unwrap(), "--format", "delta", "--out", &format!("{s3}-new")]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("Convert the full export this chain starts from first"), "{}", text(&o));
}

/// The same two months into Delta tables in Azure Blob (Azurite) and in GCS (its XML API in front of moto), read
/// back by the `deltalake` package: the log's create-only commits and the merge's rewrites work there as in S3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_months_into_delta_tables_in_azure_and_gcs_hold_exactly_the_current_resources() {
    let stores = [Storage::azurite(), Storage::gcs()];
    let sim = simulator(7, 80).await;
    let base = sim.base_url();
    let haul = Haul::new();
    let root = tempfile::tempdir().unwrap();
    let lake = |s: &Storage| format!("{}/lake", s.root);

    let m0 = root.path().join("month-0");
    export(&haul, &stores[0], &base, &m0, false);
    let expected = folder_contents(&m0);
    let types: Vec<&String> = expected.keys().collect();
    for s in &stores {
        let report = convert(&haul, s, &m0, &lake(s));
        assert!(report["tables"].as_array().unwrap().iter().all(|t| t["version"] == 0), "{}: {report}", s.kind);
        let read = read_back(s, "deltalake", &lake(s), &types);
        assert_same(&format!("month 0, {}", s.kind), &tables_of(&read), &expected);
    }

    // Each table's owner asks for a checkpoint after every version: delta-rs commits version 1 and checkpoints
    // it, so Haul starts from delta-rs's checkpoint in this storage and writes its own after version 2. The
    // owner also keeps removed files for no time, so that a VACUUM after month 1 removes month 0's.
    let type_list = types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(",");
    let properties = "delta.checkpointInterval=1,delta.deletedFileRetentionDuration=interval 0 seconds";
    for s in &stores {
        let set = read_tables(s, &["set-properties", &lake(s), &type_list, properties]);
        assert!(set["versions"].as_object().unwrap().values().all(|v| v == 1), "{}: {set}", s.kind);
    }

    sim.advance_timeline().unwrap();
    let m1 = root.path().join("month-1");
    export(&haul, &stores[0], &base, &m1, true);
    let truth = root.path().join("truth-1");
    export(&haul, &stores[0], &base, &truth, false);
    let expected = folder_contents(&truth);
    let mut all_types: Vec<&String> = expected.keys().collect();
    all_types.extend(types.iter().copied().filter(|t| !expected.contains_key(*t)));
    for s in &stores {
        let report = convert(&haul, s, &m1, &lake(s));
        assert_eq!(report["incremental"], true, "{}: {report}", s.kind);
        vacuum_as_delta_rs_would(&haul, s, &lake(s), &type_list);
        let read = read_back(s, "deltalake", &lake(s), &all_types);
        assert_same(&format!("month 1, {}", s.kind), &tables_of(&read), &expected);
        let versions = read["versions"].as_object().unwrap();
        assert!(types.iter().all(|t| versions[t.as_str()] == 2), "{}: {read}", s.kind);
        let objects = s.objects("lake");
        for t in &types {
            let checkpoint = format!("{t}/_delta_log/{:020}.checkpoint.parquet", 2);
            assert!(objects.contains_key(&checkpoint), "{}: no {checkpoint}", s.kind);
            let last: Value = serde_json::from_slice(&objects[&format!("{t}/_delta_log/_last_checkpoint")]).unwrap();
            assert_eq!(last["version"], 2, "{}: {t}: {last}", s.kind);
        }
        // The same export again finds every change already in the table: no commit.
        let again = convert(&haul, s, &m1, &lake(s));
        assert!(again["tables"].as_array().unwrap().iter().all(|t| t["version"].is_null()), "{}: {again}", s.kind);
    }
}

/// `haul vacuum` of the tables under `lake` (their retention none): a dry run lists, per table, the files
/// delta-rs's own VACUUM would remove (month 0's) and removes nothing; the real one removes exactly those.
fn vacuum_as_delta_rs_would(haul: &Haul, storage: &Storage, lake: &str, type_list: &str) {
    let by_delta_rs = read_tables(storage, &["vacuum-dry-run", lake, type_list]);
    let prefix = lake.rsplit('/').next().unwrap();
    let listed = |args: &[&str]| -> BTreeMap<String, Value> {
        let o = haul.run(storage, args);
        assert!(o.status.success(), "{}", text(&o));
        let tables: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
        tables.into_iter().map(|t| (t["table"].as_str().unwrap().rsplit('/').next().unwrap().to_string(), t)).collect()
    };
    let dry = listed(&["vacuum", lake, "--dry-run", "--json"]);
    let before = storage.objects(prefix);
    for t in type_list.split(',') {
        assert_eq!(dry[t]["files"], by_delta_rs[t], "{}: {t}", storage.kind);
        let files = dry[t]["files"].as_array().unwrap();
        assert!(!files.is_empty(), "{}: month 0's file of {t}", storage.kind);
        let kept = files.iter().all(|f| before.contains_key(&format!("{t}/{}", f.as_str().unwrap())));
        assert!(kept, "{}: {t}: a dry run removes nothing", storage.kind);
    }
    // The same dry run as people read it: a line per table, a total, and a table kept for no time said so.
    let o = haul.run(storage, &["vacuum", lake, "--dry-run"]);
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    let files: usize = dry.values().map(|v| v["files"].as_array().unwrap().len()).sum();
    let total = format!("Would remove {files} files (");
    assert!(said.contains(&total) && said.contains("nothing was removed."), "{said}");
    assert!(said.contains("kept: the current version's files (the table keeps replaced files for no time)"), "{said}");
    assert_eq!(storage.objects(prefix).len(), before.len(), "{}: a dry run removes nothing", storage.kind);
    let done = listed(&["vacuum", lake, "--json"]);
    let after = storage.objects(prefix);
    for (t, v) in &done {
        assert_eq!(v["files"], dry[t]["files"], "{}: {t}", storage.kind);
        for f in v["files"].as_array().unwrap() {
            let name = format!("{t}/{}", f.as_str().unwrap());
            assert!(before.contains_key(&name) && !after.contains_key(&name), "{}: {name} removed", storage.kind);
        }
    }
    assert_eq!(before.len() - after.len(), done.values().map(|v| v["files"].as_array().unwrap().len()).sum::<usize>());
}

/// A year of monthly exports into Delta tables in S3: the tenth version leaves a checkpoint there, Spark's log
/// cleanup then removes the commits it covers, and the twelfth month still converts, and reads back (delta-rs
/// can only start from Haul's checkpoint), exactly as a full export of that moment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_of_months_into_s3_checkpoints_and_survives_the_log_cleanup() {
    let storage = Storage::moto();
    let sim = simulator(11, 24).await;
    let base = sim.base_url();
    let haul = Haul::new();
    let root = tempfile::tempdir().unwrap();
    let lake = format!("{}/year", storage.root);
    let month = |n: usize| root.path().join(format!("month-{n:02}"));

    export(&haul, &storage, &base, &month(0), false);
    let from_the_start: Vec<String> = folder_contents(&month(0)).into_keys().collect();
    convert(&haul, &storage, &month(0), &lake);
    for n in 1..=10 {
        sim.advance_timeline().unwrap();
        export(&haul, &storage, &base, &month(n), true);
        convert(&haul, &storage, &month(n), &lake);
    }
    let objects = storage.objects("year");
    for t in &from_the_start {
        let checkpoint = format!("{t}/_delta_log/{:020}.checkpoint.parquet", 10);
        assert!(objects.contains_key(&checkpoint), "{checkpoint} in {:?}", objects.keys().collect::<Vec<_>>());
        let last: Value = serde_json::from_slice(&objects[&format!("{t}/_delta_log/_last_checkpoint")]).unwrap();
        assert_eq!(last["version"], 10, "{t}: {last}");
    }

    // Spark's log cleanup: the commits before the checkpoint go.
    let cleanup = format!(
        "import boto3; s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:{}', aws_access_key_id='test', \
         aws_secret_access_key='test', region_name='us-east-1')\n\
         for t in {from_the_start:?}:\n    \
             for v in range(10): s3.delete_object(Bucket='haul-test', Key=f'year/{{t}}/_delta_log/{{v:020}}.json')",
        storage.port
    );
    storage.python(&cleanup);
    assert!(!storage.objects("year").keys().any(|k| k.ends_with(&format!("{:020}.json", 0))));

    sim.advance_timeline().unwrap();
    export(&haul, &storage, &base, &month(11), true);
    let report = convert(&haul, &storage, &month(11), &lake);
    assert!(report["tables"].as_array().unwrap().iter().any(|t| t["version"] == 11), "{report}");
    let truth = root.path().join("truth");
    export(&haul, &storage, &base, &truth, false);
    let expected = folder_contents(&truth);
    let mut types: Vec<&String> = expected.keys().collect();
    types.extend(from_the_start.iter().filter(|t| !expected.contains_key(*t)));
    let read = read_back(&storage, "deltalake", &lake, &types);
    assert_same("month 11, after the log cleanup", &tables_of(&read), &expected);
    for t in &from_the_start {
        assert_eq!(read["versions"][t], 11, "{t}: {read}");
    }
}
