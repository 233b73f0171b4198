//! Five monthly exports of one group, the server's data changing in between (the simulator's timeline:
//! updates, deletions in `deleted[]`, members joining and leaving, a type failing once, the dataset held by
//! another Haul once). After each merge, the current dataset equals, resource by resource, a full export of
//! the same moment taken separately.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulk_client::{ExportLevel, ExportRequest, HttpClient};
use bulk_sim::{DataSource, Faults, RunningSim, SimConfig};
use export_jobs::dataset::dataset_dir;
use export_jobs::{ExportPlan, ExportRunner, JobOutcome, Pacing, ServerChoice, Since};
use haul_store::{Database, JobState};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

fn runner(root: &Path, datasets: bool) -> ExportRunner {
    let db = Database::open(&root.join("haul.sqlite3")).unwrap();
    let pacing = Pacing {
        min_poll: Duration::from_millis(20),
        max_poll: Duration::from_millis(200),
        retry_base: Duration::from_millis(20),
        ..Pacing::default()
    };
    let runner = ExportRunner::new(Arc::new(Mutex::new(db)), HttpClient::new()).with_pacing(pacing);
    if datasets { runner.with_datasets(root.join("datasets")) } else { runner }
}

async fn export(runner: &ExportRunner, sim: &RunningSim, root: &Path, name: &str, since_last: bool) -> JobOutcome {
    let request = ExportRequest { level: Some(ExportLevel::Group("aco-north".into())), ..Default::default() };
    let plan = ExportPlan {
        out_dir: Some(root.join(name)),
        since: if since_last { Since::LastExport } else { Since::AsRequested },
        ..ExportPlan::new(ServerChoice::Address { fhir_url: sim.base_url(), auth: None }, request)
    };
    let id = {
        let db = runner.database().lock().unwrap();
        plan.create(&db, root).unwrap().job.id
    };
    runner.run(id, Arc::new(|_| {}), CancellationToken::new()).await.unwrap()
}

fn key(v: &Value) -> (String, String) {
    (v["resourceType"].as_str().unwrap().to_string(), v["id"].as_str().unwrap().to_string())
}

/// The resources of an export folder's NDJSON files.
fn folder_contents(dir: &Path) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        // Resource files are `Type.NNN.ndjson`; `log.ndjson` is Haul's own.
        if name.ends_with(".ndjson") && name.starts_with(|c: char| c.is_ascii_uppercase()) {
            for line in std::fs::read_to_string(&path).unwrap().lines().filter(|l| !l.trim().is_empty()) {
                let v: Value = serde_json::from_str(line).unwrap();
                out.insert(key(&v), v);
            }
        }
    }
    out
}

fn dataset_contents(dir: &Path) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    current_dataset::each_resource(dir, &mut |line| {
        let v: Value = serde_json::from_str(&line).unwrap();
        assert!(out.insert(key(&v), v).is_none(), "a resource twice in the dataset");
    })
    .unwrap();
    out
}

fn assert_same(month: u32, dataset: &BTreeMap<(String, String), Value>, full: &BTreeMap<(String, String), Value>) {
    let missing: Vec<_> = full.keys().filter(|k| !dataset.contains_key(*k)).take(5).collect();
    let extra: Vec<_> = dataset.keys().filter(|k| !full.contains_key(*k)).take(5).collect();
    let differ: Vec<_> =
        full.iter().filter(|(k, v)| dataset.get(*k).is_some_and(|d| d != *v)).map(|(k, _)| k).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && differ.is_empty(),
        "month {month}: the dataset ({} resources) differs from a full export ({}): missing {missing:?}, extra {extra:?}, different {differ:?}",
        dataset.len(),
        full.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_months_keep_the_current_dataset_equal_to_a_full_export() {
    let sim = RunningSim::start(SimConfig {
        data: DataSource::Generated { seed: 7, patients: 400 },
        prepare_time: Duration::from_millis(50),
        poll_interval_seconds: 0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (mine, truth) = (tmp.path().join("monthly"), tmp.path().join("truth"));
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::create_dir_all(&truth).unwrap();
    // The analyst's Haul keeps the dataset; a second, separate history takes the full exports to compare with.
    let (monthly, reference) = (runner(&mine, true), runner(&truth, false));

    let first = export(&monthly, &sim, &mine, "month-0", true).await;
    assert_eq!(first.state, JobState::Completed, "{}", first.message);
    assert!(first.message.contains("current dataset now holds"), "{}", first.message);
    assert!(first.message.contains("Flat views kept current in its views folder: "), "{}", first.message);
    let job = monthly.database().lock().unwrap().get_job(first.id).unwrap().unwrap();
    let dataset: PathBuf = dataset_dir(&mine.join("datasets"), &job);
    assert_same(0, &dataset_contents(&dataset), &folder_contents(&mine.join("month-0")));

    let mut fetched_new_members = false;
    for month in 1..=5u32 {
        let changes = sim.advance_timeline().unwrap();
        assert!(!changes.joined["aco-north"].is_empty() && !changes.left["aco-north"].is_empty());
        // In month 2 the server fails the Condition export: that export is no baseline, and the dataset
        // waits; month 3 then asks for everything since month 1.
        if month == 2 {
            sim.set_faults(Faults { failing_types: vec!["Condition".into()], ..Faults::default() });
        }
        // In month 4 another Haul holds the dataset: the export completes, the merge waits; month 5 then
        // rebuilds the dataset from the export folders.
        let held = (month == 4).then(|| current_dataset::Dataset::open(&dataset).unwrap());
        let outcome = export(&monthly, &sim, &mine, &format!("month-{month}"), true).await;
        drop(held);
        sim.set_faults(Faults::default());
        let full = export(&reference, &sim, &truth, &format!("full-{month}"), false).await;
        assert_eq!(full.state, JobState::Completed, "{}", full.message);
        let expected = folder_contents(&truth.join(format!("full-{month}")));
        if month == 2 {
            assert_eq!(outcome.state, JobState::CompletedWithProblems, "{}", outcome.message);
            assert!(!outcome.message.contains("current dataset"), "{}", outcome.message);
            continue;
        }
        assert_eq!(outcome.state, JobState::Completed, "{}", outcome.message);
        let job = monthly.database().lock().unwrap().get_job(outcome.id).unwrap().unwrap();
        assert!(job.request.since.is_some(), "month {month} is incremental");
        if month == 4 {
            assert!(
                outcome.message.contains("was not updated") && outcome.message.contains("is running"),
                "{}",
                outcome.message
            );
            continue;
        }
        let merged = if month == 5 { "was rebuilt from the export folders" } else { "current dataset now holds" };
        assert!(outcome.message.contains(merged), "month {month}: {}", outcome.message);
        fetched_new_members |= outcome.message.contains("their full records were fetched");
        assert!(outcome.message.contains("left the group"), "{}", outcome.message);
        let contents = dataset_contents(&dataset);
        assert_same(month, &contents, &expected);
        // The size told is the whole dataset's, untouched tables included.
        let size = format!("holds {} resources", export_jobs::wording::thousands(contents.len() as u64));
        assert!(outcome.message.contains(&size), "month {month}: {size}: {}", outcome.message);
    }
    assert!(fetched_new_members, "new members' records were never fetched");

    // The flat views kept beside the tables have the rows of the same views made over the last full export.
    let state = current_dataset::read_state(&dataset).unwrap().unwrap();
    assert!(state.views.contains_key("patient") && state.views.contains_key("condition"), "{:?}", state.views);
    let views: Vec<_> = state.views.keys().map(|n| fhir_views::built_in(n).unwrap()).collect();
    let made = fhir_views::make_tables(
        &[truth.join("full-5")],
        &views,
        &tmp.path().join("views of the full export"),
        &Default::default(),
        &|_| {},
        &std::sync::atomic::AtomicBool::new(false),
    )
    .unwrap();
    for outcome in made {
        assert_eq!(state.views[&outcome.view].rows, outcome.rows, "{}", outcome.view);
        assert!(dataset.join("views").join(format!("{}.parquet", outcome.view)).is_file());
    }
}
