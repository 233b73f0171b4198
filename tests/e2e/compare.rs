//! Two monthly runs of one group, the server's data changed in between (the simulator's timeline), then
//! History → the later run → "Compare with another run": the numbers per type, the chart and the patients
//! who joined and left, on screen; and the request's current dataset, both runs merged. The runs are made by
//! the same export engine the app uses, before it opens.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulk_client::{ExportLevel, ExportRequest, HttpClient};
use bulk_sim::{DataSource, RunningSim, SimConfig};
use export_jobs::{ExportPlan, ExportRunner, ServerChoice, Since};
use haul_store::{DataDir, Database, JobState};
use tokio_util::sync::CancellationToken;

use crate::harness::{Display, Driver};

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
}
