//! Two monthly runs of one group, the server's data changed in between (the simulator's timeline), then
//! History → the later run → "Compare with another run": the numbers per type, the chart and the patients
//! who joined and left, on screen; and the request's current dataset, both runs merged. Then both runs into one
//! set of Delta tables, and the first run's files removed from the app. The runs are made by the same export
//! engine the app uses, before it opens.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulk_client::{ExportLevel, ExportRequest, HttpClient};
use bulk_sim::{DataSource, RunningSim, SimConfig};
use export_jobs::{ExportPlan, ExportRunner, ServerChoice, Since};
use haul_store::{DataDir, Database, JobState};
use tokio_util::sync::CancellationToken;

use crate::harness::{App, Display, Driver};

async fn export(runner: &ExportRunner, sim: &RunningSim, out: &Path) -> i64 {
    let request = ExportRequest { level: Some(ExportLevel::Group("aco-north".into())), ..Default::default() };
    let plan = ExportPlan {
        out_dir: Some(out.to_path_buf()),
        since: Since::LastExport,
        ..ExportPlan::new(ServerChoice::Address { fhir_url: sim.base_url(), auth: None }, request)
    };
    let id = plan.create(&runner.database().lock().unwrap(), out).unwrap().job.id;
    let outcome = runner.run(id, Arc::new(|_| {}), CancellationToken::new()).await.unwrap();
    assert_eq!(outcome.state, JobState::Completed, "{}", outcome.message);
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "end-to-end: needs Xvfb and tauri-driver; run by `make e2e` and `make test`"]
async fn two_monthly_runs_are_compared_on_the_history_page() {
    let sim = RunningSim::start(SimConfig {
        data: DataSource::Generated { seed: 11, patients: 300 },
        prepare_time: Duration::from_millis(50),
        poll_interval_seconds: 0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let dirs = DataDir::at(data.path());
    let db = Database::open(&dirs.database_path()).unwrap();
    let runner = ExportRunner::new(Arc::new(Mutex::new(db)), HttpClient::new()).with_datasets(dirs.datasets_root());
    let first = export(&runner, &sim, &data.path().join("october")).await;
    let changes = sim.advance_timeline().unwrap();
    let second = export(&runner, &sim, &data.path().join("november")).await;
    let job = runner.database().lock().unwrap().get_job(second).unwrap().unwrap();
    assert!(job.request.since.is_some(), "the second run asks for changes only");

    let display = Display::start();
    let driver = Driver::start(&display, data.path(), "compare");
    let app = driver.launch().await;
    app.click("[data-testid=nav-history]").await;
    app.wait_for_text(&format!("[data-testid=history-status-{first}]"), "Completed").await;
    app.click(&format!("[data-testid=history-row-{second}]")).await;
    // The request's current dataset: both runs merged, where BI tools find it.
    let dataset = app.wait_for_text("[data-testid=current-dataset]", &format!("as of export {second}")).await;
    assert!(dataset.contains("Parquet tables"), "{dataset}");
    let folder = app.wait_for_text("[data-testid=current-dataset-folder]", "Current datasets").await;
    assert!(Path::new(folder.trim()).join("Patient.parquet").exists(), "{folder}");
    app.shot("current-dataset").await;
    // The flat views kept beside the tables, listed with their rows.
    let views = app.wait_for_text("[data-testid=current-dataset-views]", "patient (").await;
    assert!(views.contains("condition (") && views.contains("observation ("), "{views}");
    assert!(Path::new(folder.trim()).join("views").join("patient.parquet").exists(), "{folder}");
    app.execute("document.querySelector('[data-testid=current-dataset-views]').scrollIntoView({block: 'center'})")
        .await;
    // Scrolled for the picture: the views line inside the window, and painted there.
    let in_window = "const r = document.querySelector('[data-testid=current-dataset-views]').getBoundingClientRect();
        return r.top >= 0 && r.bottom <= window.innerHeight;";
    let mut seen = false;
    for _ in 0..20 {
        seen = app.execute(in_window).await == serde_json::json!(true);
        if seen {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "the views line scrolled into the window");
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.shot("current-dataset-views").await;
    app.wait_for("[data-testid=compare-with]").await;
    // The new members' fetch of the later run is its part, not a run to compare with.
    let offered = app.wait_for_text("[data-testid=compare-with]", &format!("{first}: ")).await;
    assert!(!offered.contains(&format!("{}: ", second + 1)), "{offered}");
    app.click("[data-testid=compare-run]").await;
    let table = app.wait_for_text("[data-testid=comparison-table]", "Observation").await;
    assert!(table.contains("Patient"), "{table}");
    app.wait_for_text("[data-testid=comparison-chart]", "→").await;
    let joined = &changes.joined["aco-north"];
    let left = &changes.left["aco-north"];
    let joined_text = app.wait_for_text("[data-testid=patients-joined]", &joined[0]).await;
    assert!(joined_text.contains(&joined.len().to_string()), "{joined_text}");
    let left_text = app.wait_for_text("[data-testid=patients-left]", &left[0]).await;
    assert!(left_text.contains(&left.len().to_string()), "{left_text}");
    app.shot("comparison").await;

    into_delta_tables_then_old_files_removed(&app, [first, second], &data.path().join("lake")).await;
}

/// Both runs into the same Delta tables from History → Convert, the tables' owner keeping replaced files for no
/// time in between (as `ALTER TABLE … SET TBLPROPERTIES` would): the second run merges, the look finds the first
/// run's files, and Remove takes exactly those away while every table still reads the same with delta-rs.
async fn into_delta_tables_then_old_files_removed(app: &App<'_>, runs: [i64; 2], lake: &Path) {
    let mut first_run_files = BTreeSet::new();
    for (n, id) in runs.into_iter().enumerate() {
        app.click("[data-testid=nav-history]").await;
        app.click(&format!("[data-testid=history-row-{id}]")).await;
        app.click("[data-testid=convert-export]").await;
        app.click("[data-testid=convert-output-delta]").await;
        app.type_into("[data-testid=delta-target]", lake.to_str().unwrap()).await;
        app.click("[data-testid=convert-start]").await;
        let said = if n == 0 { "now hold this export" } else { "The changes since the last export were merged" };
        app.wait_for_text("[data-testid=delta-headline]", said).await;
        if n == 0 {
            first_run_files = data_files(lake);
            let set =
                read_tables(&["set-properties", lake.to_str().unwrap(), &table_names(lake).join(","), NO_RETENTION]);
            assert!(set["versions"].as_object().unwrap().values().all(|v| v == 1), "{set}");
            app.click("[data-testid=convert-close]").await;
        }
    }
    let types = table_names(lake).join(",");
    let before = read_tables(&["deltalake", lake.to_str().unwrap(), &types]);
    let files_before = data_files(lake);

    app.click("[data-testid=delta-vacuum-look]").await;
    let found = app.wait_for_text("[data-testid=delta-vacuum-headline]", "belong only to replaced versions").await;
    assert!(found.contains("and these tables keep replaced files for no time"), "{found}");
    let button = app.wait_for_text("[data-testid=delta-vacuum-remove]", "Remove ").await;
    let offered: usize = button.trim_start_matches("Remove ").split(' ').next().unwrap().parse().unwrap();
    assert!(offered > 0 && found.starts_with(&format!("{offered} files (")), "{button} / {found}");
    assert_eq!(data_files(lake), files_before, "looking removes nothing");
    app.shot("delta-old-files-found").await;

    app.click("[data-testid=delta-vacuum-remove]").await;
    let removed = app.wait_for_text("[data-testid=delta-vacuum-headline]", "Removed ").await;
    assert!(removed.starts_with(&format!("Removed {offered} files (")), "{removed}");
    let files_after = data_files(lake);
    assert_eq!(files_after.len(), files_before.len() - offered, "exactly the files offered went");
    assert!(files_after.is_subset(&files_before));
    let gone: BTreeSet<_> = files_before.difference(&files_after).cloned().collect();
    assert!(gone.is_subset(&first_run_files), "only the first run's files went: {gone:?}");
    let after = read_tables(&["deltalake", lake.to_str().unwrap(), &types]);
    assert_eq!(after["tables"], before["tables"], "every table reads the same after the removal");
    assert_eq!(after["versions"], before["versions"]);
    app.shot("delta-old-files-removed").await;
}

/// A table's owner keeping the files a newer version replaced for no time at all.
const NO_RETENTION: &str = "delta.deletedFileRetentionDuration=interval 0 seconds";

/// The tables under `lake`: the folders holding a Delta log.
fn table_names(lake: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(lake)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("_delta_log").is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.iter().any(|n| n == "Patient"), "{names:?}");
    names
}

/// Every data file of every table under `lake` (`Type/name.parquet`).
fn data_files(lake: &Path) -> BTreeSet<String> {
    let mut files = BTreeSet::new();
    for table in table_names(lake) {
        for e in std::fs::read_dir(lake.join(&table)).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if name.ends_with(".parquet") {
                files.insert(format!("{table}/{name}"));
            }
        }
    }
    files
}

/// `tests/delta/read_tables.py` (delta-rs from PyPI, in the `.venv` `make test` installs): a reader not Haul's.
fn read_tables(args: &[&str]) -> serde_json::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("HAUL_PYTHON").map(PathBuf::from).unwrap_or_else(|| root.join(".venv/bin/python"));
    assert!(python.exists(), "{} is missing: run `make test` once, which installs deltalake", python.display());
    let o = Command::new(python).arg(root.join("tests/delta/read_tables.py")).args(args).output().unwrap();
    assert!(o.status.success(), "{}: {}", args[0], String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{}: {e}", args[0]))
}
