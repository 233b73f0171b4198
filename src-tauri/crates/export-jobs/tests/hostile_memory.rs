//! Memory stays flat whatever a server sends: a gigabyte line with no newline and a gzip body inflating to a
//! gigabyte of NUL bytes, under the default limits. Its own test binary, so the process's peak resident size
//! (VmHWM) is this test's alone (the simulator runs in the same process and streams without holding).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulk_client::{ExportLevel, ExportRequest, HttpClient};
use bulk_sim::{Faults, RunningSim, SimConfig};
use export_jobs::{ExportRunner, JobEvent, Pacing};
use haul_store::{Database, FileState, JobSettings, JobState, NewJob};
use tokio_util::sync::CancellationToken;

/// Peak resident memory of this process so far, in bytes (Linux; `None` elsewhere).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[tokio::test]
async fn a_gigabyte_line_and_a_gzip_bomb_leave_memory_flat() {
    let sim = RunningSim::start(SimConfig {
        prepare_time: Duration::from_millis(50),
        poll_interval_seconds: 0,
        faults: Faults { gzip_bomb_bytes: Some(1 << 30), giant_line_bytes: Some(1 << 30), ..Faults::default() },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(&dir.path().join("haul.sqlite3")).unwrap();
    let pacing =
        Pacing { min_poll: Duration::from_millis(20), retry_base: Duration::from_millis(20), ..Pacing::default() };
    let runner = ExportRunner::new(Arc::new(Mutex::new(db)), HttpClient::new()).with_pacing(pacing);
    let id = {
        let db = runner.database().lock().unwrap();
        let job = NewJob {
            server_id: None,
            fhir_url: sim.base_url(),
            request: ExportRequest {
                level: Some(ExportLevel::System),
                types: vec!["Patient".into(), "Observation".into()],
                ..Default::default()
            },
            settings: JobSettings::default(),
            out_dir: dir.path().join("out"),
        };
        db.create_job(&job).unwrap().id
    };
    let before = peak_rss();
    let started = std::time::Instant::now();
    let sink: export_jobs::EventSink = Arc::new(|_: &JobEvent| {});
    let o = runner.run(id, sink, CancellationToken::new()).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(o.state, JobState::Failed, "two files refused: {}", o.message);
    let files = runner.database().lock().unwrap().job_files(id).unwrap();
    let kinds: Vec<Option<String>> =
        files.iter().filter(|f| f.state == FileState::Failed).map(|f| f.error_kind.clone()).collect();
    assert!(kinds.contains(&Some("unpacks_too_far".into())), "{kinds:?}");
    assert!(kinds.contains(&Some("not_ndjson".into())), "{kinds:?}");
    assert_eq!(sim.stats().deletes, 0);
    if let (Some(before), Some(peak)) = (before, peak_rss()) {
        eprintln!(
            "peak RSS {:.1} MB (before the export {:.1} MB); 1 GiB line + 1 GiB gzip bomb in {:.1} s",
            peak as f64 / 1e6,
            before as f64 / 1e6,
            elapsed.as_secs_f64()
        );
        assert!(peak < 120_000_000, "peak RSS {peak} bytes: memory must not grow with what a server sends");
    }
}
