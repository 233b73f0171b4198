//! The app's program started by the system's scheduler (`haul-desktop --run-scheduled ID`): no window, the
//! schedule's export runs again as changes since the last one, and the schedule records how it went. Needs no
//! display, so it runs with the other Rust tests (not `#[ignore]`d).

use std::path::PathBuf;
use std::process::Command;

use bulk_client::{ExportLevel, ExportRequest};
use bulk_sim::{RunningSim, SimConfig};
use haul_store::{Database, JobSettings, JobState, NewJob, RunOutcome};

#[tokio::test(flavor = "multi_thread")]
async fn the_scheduler_runs_the_app_without_a_window_and_the_schedule_records_it() {
    let sim = RunningSim::start(SimConfig { poll_interval_seconds: 0, ..SimConfig::default() }).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let db = Database::open(&data.path().join("haul.db")).unwrap();
    // The export being repeated, as a finished run left it.
    let first = db
        .create_job(&NewJob {
            server_id: None,
            fhir_url: sim.base_url(),
            request: ExportRequest { level: Some(ExportLevel::Group("aco-north".into())), ..Default::default() },
            settings: JobSettings::default(),
            out_dir: data.path().join("first"),
        })
        .unwrap();
    db.conn()
        .execute("UPDATE exports SET transaction_time = '2026-01-01T00:00:00Z' WHERE id = ?1", [first.id])
        .unwrap();
    db.finish_job(first.id, JobState::Completed, &[], None).unwrap();
    // Its folder is still there: an export whose folder is gone is no starting point.
    std::fs::create_dir_all(data.path().join("first")).unwrap();
    let schedule = db.add_schedule(first.id, "monthly", "06:00").unwrap();

    let run = |args: &[&str]| {
        Command::new(crate::harness::APP)
            .args(args)
            .env("HAUL_DATA_DIR", data.path())
            .env_remove("DISPLAY")
            .output()
            .unwrap()
    };
    let out = run(&["--run-scheduled", &schedule.id.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let after = db.get_schedule(schedule.id).unwrap().unwrap();
    assert_eq!(after.last_outcome, Some(RunOutcome::Completed), "{after:?}");
    let job = db.get_job(after.last_job_id.unwrap()).unwrap().unwrap();
    assert_eq!(job.schedule_id, Some(schedule.id));
    assert_eq!(job.request.since.as_deref(), Some("2026-01-01T00:00:00Z"), "changes since the repeated export");
    assert!(PathBuf::from(&job.out_dir).join("manifest.json").exists());

    let out = run(&["--run-scheduled", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("takes the schedule's number"));
}
