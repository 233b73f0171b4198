//! History → an export → "Make tables…": preview a view's first rows, choose two views, Excel and CSV, make
//! them; the files are there and the summary says how many rows; the Files page previews a view too. The
//! export is made by the same engine the app uses, before it opens.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulk_client::{ExportRequest, HttpClient};
use bulk_sim::{DataSource, RunningSim, SimConfig};
use export_jobs::{ExportPlan, ExportRunner, ServerChoice};
use haul_store::{DataDir, Database, JobState};
use tokio_util::sync::CancellationToken;

use crate::harness::{Display, Driver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "end-to-end: needs Xvfb and tauri-driver; run by `make e2e` and `make test`"]
async fn tables_are_made_from_the_history_page() {
    let sim = RunningSim::start(SimConfig {
        data: DataSource::Generated { seed: 5, patients: 120 },
        prepare_time: Duration::from_millis(50),
        poll_interval_seconds: 0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let dirs = DataDir::at(data.path());
    let db = Database::open(&dirs.database_path()).unwrap();
    let runner = ExportRunner::new(Arc::new(Mutex::new(db)), HttpClient::new());
    let out = data.path().join("export");
    let plan = ExportPlan {
        out_dir: Some(out.clone()),
        ..ExportPlan::new(ServerChoice::Address { fhir_url: sim.base_url(), auth: None }, ExportRequest::default())
    };
    let id = plan.create(&runner.database().lock().unwrap(), &out).unwrap().job.id;
    let outcome = runner.run(id, Arc::new(|_| {}), CancellationToken::new()).await.unwrap();
    assert_eq!(outcome.state, JobState::Completed, "{}", outcome.message);

    let display = Display::start();
    let driver = Driver::start(&display, data.path(), "tables");
    let app = driver.launch().await;
    app.click("[data-testid=nav-history]").await;
    app.click(&format!("[data-testid=history-row-{id}]")).await;
    app.click("[data-testid=make-tables]").await;
    app.wait_for("[data-testid=view-condition]").await;
    // The first rows of a view before anything is written.
    app.click("[data-testid=preview-patient]").await;
    let preview = app.wait_for_text("[data-testid=preview-table-patient]", "birth_date").await;
    assert!(preview.contains("The first 20 rows; there are more."), "{preview}");
    app.shot("preview").await;
    app.click("[data-testid=view-patient]").await;
    app.click("[data-testid=view-condition]").await;
    app.click("[data-testid=tables-start]").await;
    let headline = app.wait_for_text("[data-testid=tables-headline]", "2 of 2 views written").await;
    let report = app.wait_for_text("[data-testid=tables-report]", "condition.xlsx").await;
    assert!(report.contains("patient.csv"), "{report}");
    app.shot("tables made").await;
    let tables = out.join("tables");
    for f in ["patient.xlsx", "patient.csv", "condition.xlsx", "condition.csv"] {
        assert!(tables.join(f).is_file(), "{f} in {}", tables.display());
    }
    assert!(!tables.join("patient.parquet").exists(), "only the formats chosen");
    let patients = std::fs::read_to_string(tables.join("patient.csv")).unwrap();
    // 120 patients, a header, and the UTF-8 mark Excel needs.
    assert!(patients.starts_with('\u{feff}'));
    assert_eq!(patients.lines().count(), 121, "{headline}");

    // The Files page shows a view's first rows too.
    app.click("[data-testid=browse-export]").await;
    app.click("[data-testid=files-views-tab]").await;
    app.click("[data-testid=preview-condition]").await;
    let rows = app.wait_for_text("[data-testid=preview-table-condition]", "clinical_status").await;
    assert!(rows.contains("The first 20 rows; there are more."), "{rows}");
    app.shot("files-flat-views").await;
}
