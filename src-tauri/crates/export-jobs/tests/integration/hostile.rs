//! A broken or hostile server, over real HTTP (the simulator's hostile modes): no DELETE unless the copy is
//! whole, web pages and gzip bombs refused, stalls noticed, unusable addresses named, server text made safe
//! to print, free disk kept. (Sign-in cases, the token's origins and echoes: hostile_smart.rs; memory with a
//! gigabyte line: hostile_memory.rs.)

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulk_client::{DownloadLimits, ExportLevel, ExportRequest, HttpClient};
use bulk_sim::{Faults, RunningSim, SimConfig};
use export_jobs::{ExportRunner, JobEvent, JobOutcome, Limits, Pacing};
use haul_store::{Database, FileState, JobSettings, JobState, NewJob};
use tokio_util::sync::CancellationToken;

fn fast() -> Pacing {
    Pacing {
        min_poll: Duration::from_millis(20),
        max_poll: Duration::from_millis(200),
        retry_after_cap: Duration::from_millis(300),
        retry_base: Duration::from_millis(20),
        file_attempts: 2,
        poll_failures: 3,
        ..Pacing::default()
    }
}

async fn sim_with(faults: Faults) -> RunningSim {
    RunningSim::start(SimConfig {
        prepare_time: Duration::from_millis(100),
        poll_interval_seconds: 0,
        resources_per_file: 700,
        faults,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

struct Bench {
    _dir: tempfile::TempDir,
    root: PathBuf,
    runner: ExportRunner,
    events: Arc<Mutex<Vec<JobEvent>>>,
}

impl Bench {
    fn new(limits: Limits) -> Self {
        Self::paced(limits, fast())
    }

    fn paced(limits: Limits, pacing: Pacing) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let db = Database::open(&root.join("haul.sqlite3")).unwrap();
        let runner =
            ExportRunner::new(Arc::new(Mutex::new(db)), HttpClient::new()).with_pacing(pacing).with_limits(limits);
        Self { _dir: dir, root, runner, events: Default::default() }
    }

    fn out(&self) -> PathBuf {
        self.root.join("out")
    }

    async fn export(&self, sim: &RunningSim, request: ExportRequest) -> JobOutcome {
        let id = {
            let db = self.runner.database().lock().unwrap();
            let job = NewJob {
                server_id: None,
                fhir_url: sim.base_url(),
                request,
                settings: JobSettings::default(),
                out_dir: self.out(),
            };
            db.create_job(&job).unwrap().id
        };
        self.run(id).await
    }

    async fn run(&self, id: i64) -> JobOutcome {
        let events = self.events.clone();
        let sink: export_jobs::EventSink = Arc::new(move |e: &JobEvent| events.lock().unwrap().push(e.clone()));
        self.runner.run(id, sink, CancellationToken::new()).await.unwrap()
    }

    fn said(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                JobEvent::Warning { message } | JobEvent::FileFailed { message, .. } => Some(message.clone()),
                JobEvent::Waiting { reason, .. } => Some(reason.clone()),
                JobEvent::Finished { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }

    fn files(&self, id: i64) -> Vec<haul_store::FileRecord> {
        self.runner.database().lock().unwrap().job_files(id).unwrap()
    }
}

fn patients_only() -> ExportRequest {
    ExportRequest { level: Some(ExportLevel::System), types: vec!["Patient".into()], ..Default::default() }
}

#[tokio::test]
async fn a_web_page_instead_of_ndjson_is_a_lost_file_and_no_delete() {
    let sim = sim_with(Faults { html_files: true, ..Faults::default() }).await;
    let b = Bench::new(Limits::default());
    let o = b.export(&sim, patients_only()).await;
    assert_eq!(o.state, JobState::Failed, "{}", o.message);
    assert!(o.message.contains("web page"), "{}", o.message);
    assert!(o.message.contains("did not tell the server to delete"), "{}", o.message);
    assert_eq!(sim.stats().deletes, 0, "the server keeps the only complete copy");
    assert!(!b.out().join("Patient.000.ndjson").exists(), "no empty file looks verified");
    assert!(b.files(o.id).iter().all(|f| f.state == FileState::Failed && f.error_kind.as_deref() == Some("protocol")));
    // A web page is not retried: the server answered, just not with the file.
    assert_eq!(sim.stats().file_requests.values().sum::<u32>(), 1);
}

#[tokio::test]
async fn an_export_kept_in_progress_past_the_wait_stops_resumable_and_not_cancelled() {
    let sim = RunningSim::start(SimConfig {
        prepare_time: Duration::from_secs(3600),
        poll_interval_seconds: 0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let b = Bench::paced(Limits::default(), Pacing { max_wait: Duration::from_millis(400), ..fast() });
    let o = b.export(&sim, patients_only()).await;
    assert_eq!(o.state, JobState::Failed, "{}", o.message);
    assert!(o.message.contains("still says the export is being prepared"), "{}", o.message);
    assert!(o.message.contains("not cancelled"), "{}", o.message);
    assert!(sim.stats().status_polls >= 2, "it asked until the wait ran out");
    assert_eq!(sim.stats().deletes, 0, "the server's export is left alone");
    let job = b.runner.database().lock().unwrap().get_job(o.id).unwrap().unwrap();
    assert_eq!(job.failure.map(|f| f.kind).as_deref(), Some("still_in_progress"));
    assert!(job.status_url.is_some(), "kept, so resuming asks again");
}

#[tokio::test]
async fn a_truncated_body_is_retried_then_lost_and_no_delete() {
    let sim = sim_with(Faults { short_bodies: true, ..Faults::default() }).await;
    let b = Bench::new(Limits::default());
    let o = b.export(&sim, patients_only()).await;
    assert_eq!(o.state, JobState::Failed, "{}", o.message);
    assert_eq!(sim.stats().deletes, 0);
    assert!(!b.out().join("Patient.000.ndjson").exists());
    assert!(b.said().iter().any(|m| m.contains("tries again")), "retried: {:?}", b.said());
}

#[tokio::test]
async fn a_count_that_disagrees_keeps_the_servers_copy() {
    let sim = sim_with(Faults { count_off_by: 5, ..Faults::default() }).await;
    let b = Bench::new(Limits::default());
    let o = b.export(&sim, patients_only()).await;
    assert_eq!(o.state, JobState::CompletedWithProblems, "{}", o.message);
    assert!(o.problems.iter().any(|p| p.contains("announced")), "{:?}", o.problems);
    assert!(o.problems.iter().any(|p| p.contains("did not tell the server to delete")), "{:?}", o.problems);
    assert_eq!(sim.stats().deletes, 0);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.out().join("haul-report.json")).unwrap()).unwrap();
    assert_eq!(report["state"], "completed_with_problems");
    assert!(report["files"][0]["expected"].as_u64().unwrap() > report["files"][0]["resources"].as_u64().unwrap());
}

#[tokio::test]
async fn a_line_past_the_limit_is_set_aside_by_reference_and_a_gzip_bomb_is_refused() {
    let sim =
        sim_with(Faults { gzip_bomb_bytes: Some(64 << 20), giant_line_bytes: Some(3 << 20), ..Faults::default() })
            .await;
    let b = Bench::new(bomb_limits());
    let o = b.export(&sim, ExportRequest::default()).await;
    assert_eq!(o.state, JobState::Failed, "{}", o.message);
    assert_eq!(sim.stats().deletes, 0);
    let files = b.files(o.id);
    let kinds: Vec<(String, Option<String>)> =
        files.iter().filter(|f| f.state == FileState::Failed).map(|f| (f.name.clone(), f.error_kind.clone())).collect();
    assert!(kinds.iter().any(|(_, k)| k.as_deref() == Some("unpacks_too_far")), "{kinds:?}");
    // The giant line was the whole of its file: a file without one resource is not NDJSON.
    assert!(kinds.iter().any(|(_, k)| k.as_deref() == Some("not_ndjson")), "{kinds:?}");
    assert!(files.iter().filter(|f| f.state == FileState::Verified).count() > 3, "the other files arrived");
    assert!(b.said().iter().any(|m| m.contains("unpacks to more than")), "{:?}", b.said());
    assert!(b.said().iter().any(|m| m.contains("Haul's limit for one line")), "{:?}", b.said());
}

fn bomb_limits() -> Limits {
    let download = DownloadLimits { max_inflate_ratio: 20, inflate_floor_bytes: 4 << 20, ..DownloadLimits::default() };
    Limits { max_line_bytes: 1 << 20, download, ..Limits::default() }
}

/// The bomb sent as a transfer encoding (`Content-Encoding: gzip`), which an HTTP client unpacks by itself
/// unless told not to: the same bound holds, and it is stopped as it arrives.
#[tokio::test]
async fn a_gzip_bomb_sent_gzip_encoded_is_stopped_as_it_arrives() {
    let sim = sim_with(Faults { gzip_bomb_bytes: Some(256 << 20), gzip_bomb_encoded: true, ..Faults::default() }).await;
    let b = Bench::new(bomb_limits());
    let o = b.export(&sim, ExportRequest::default()).await;
    assert_eq!(o.state, JobState::Failed, "{}", o.message);
    assert_eq!(sim.stats().deletes, 0);
    let files = b.files(o.id);
    let bomb = files.iter().find(|f| f.state == FileState::Failed).expect("the bomb's file failed");
    assert_eq!(bomb.error_kind.as_deref(), Some("limit_exceeded"), "{:?}", bomb.error);
    assert!(bomb.error.as_deref().unwrap_or_default().contains("zip bomb"), "{:?}", bomb.error);
    assert_eq!(files.iter().filter(|f| f.state == FileState::Failed).count(), 1, "the other files arrived");
    let part_bytes: u64 =
        std::fs::read_dir(b.out()).unwrap().flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum();
    assert!(part_bytes < 64 << 20, "stopped near the bound, not at 256 MB: {part_bytes} bytes in the folder");
}

#[tokio::test]
async fn a_trickling_file_is_reported_as_stalled_and_given_up() {
    let sim = sim_with(Faults { trickle_every: Some(Duration::from_millis(400)), ..Faults::default() }).await;
    let limits = Limits {
        download: DownloadLimits {
            stall_window: Duration::from_secs(1),
            stall_bytes: 100,
            ..DownloadLimits::default()
        },
        ..Limits::default()
    };
    let b = Bench::new(limits);
    let started = std::time::Instant::now();
    let o = b.export(&sim, patients_only()).await;
    assert_eq!(o.state, JobState::Failed, "{}", o.message);
    assert!(started.elapsed() < Duration::from_secs(20), "not hours: {:?}", started.elapsed());
    let said = b.said();
    assert!(said.iter().any(|m| m.contains("stalled") && m.contains("tries again")), "live: {said:?}");
    assert!(o.message.contains("stalled"), "{}", o.message);
    // The second try resumed where the first stopped.
    assert!(b.files(o.id)[0].attempts >= 2);
    assert_eq!(sim.stats().deletes, 0);
}

#[tokio::test]
async fn a_file_scheme_redirect_is_named_and_not_retried() {
    let sim = sim_with(Faults { redirect_files_to_file_scheme: true, ..Faults::default() }).await;
    let b = Bench::new(Limits::default());
    let o = b.export(&sim, patients_only()).await;
    assert_eq!(o.state, JobState::Failed);
    assert!(o.message.contains("file:///etc/passwd") && o.message.contains("only follows http"), "{}", o.message);
    assert!(!o.message.contains("broke"), "not a broken connection: {}", o.message);
    assert_eq!(sim.stats().file_requests.values().sum::<u32>(), 1, "not retried");
}

#[tokio::test]
async fn a_file_scheme_status_url_fails_the_kickoff_plainly() {
    let sim = sim_with(Faults { status_file_scheme: true, ..Faults::default() }).await;
    let b = Bench::new(Limits::default());
    let o = b.export(&sim, patients_only()).await;
    assert_eq!(o.state, JobState::Failed);
    assert!(o.message.contains("file:///tmp/haul-status"), "{}", o.message);
    assert_eq!(sim.stats().kickoffs, 1, "not retried");
    assert_eq!(sim.stats().status_polls, 0);
}

#[tokio::test]
async fn a_manifest_past_the_cap_fails_plainly() {
    let sim = sim_with(Faults { manifest_padding_bytes: Some(100 << 20), ..Faults::default() }).await;
    let b = Bench::new(Limits::default());
    let o = b.export(&sim, patients_only()).await;
    assert_eq!(o.state, JobState::Failed);
    assert!(o.message.contains("larger than 64 MB"), "{}", o.message);
    assert!(!b.out().join("manifest.json").exists());
}

#[tokio::test]
async fn a_large_manifest_under_the_cap_is_stored_once_as_received() {
    let sim = sim_with(Faults { manifest_extra_outputs: 2000, ..Faults::default() }).await;
    let b = Bench::new(Limits::default());
    let o = b.export(&sim, patients_only()).await;
    assert_eq!(o.state, JobState::Completed, "{}", o.message);
    assert_eq!(b.files(o.id).len(), 2001);
    let on_disk = std::fs::read(b.out().join("manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&on_disk).unwrap();
    assert_eq!(manifest["output"].as_array().unwrap().len(), 2001, "the server's bytes");
    assert!(manifest.get("_haul").is_none());
    let db = b.runner.database().lock().unwrap();
    let kept = db.manifest_json(o.id).unwrap().unwrap();
    assert!(kept.len() < 1000, "the database keeps what resuming needs, not the manifest: {} bytes", kept.len());
}

#[tokio::test]
async fn server_text_reaches_the_user_without_escape_sequences() {
    let sim = sim_with(Faults { escape_sequences: true, ..Faults::default() }).await;
    let b = Bench::new(Limits::default());
    let o = b.export(&sim, patients_only()).await;
    let mut texts = b.said();
    texts.push(o.message.clone());
    texts.extend(o.problems.clone());
    texts.extend(b.files(o.id).iter().map(|f| format!("{} {}", f.resource_type, f.error.clone().unwrap_or_default())));
    assert!(texts.iter().any(|t| t.contains("\\u{1b}")), "the escape is shown, visibly: {texts:?}");
    for t in &texts {
        assert!(!t.chars().any(|c| c.is_control()), "a control character reached the user: {t:?}");
    }
    assert!(b.files(o.id).iter().all(|f| !f.name.contains('\u{1b}') && !f.name.contains(';')));
}

#[tokio::test]
async fn a_nearly_full_disk_stops_the_job_before_writing_and_resumes_after() {
    let sim = sim_with(Faults::default()).await;
    let b = Bench::new(Limits { min_free_disk_bytes: u64::MAX / 4, ..Limits::default() });
    let o = b.export(&sim, patients_only()).await;
    assert_eq!(o.state, JobState::Failed);
    assert!(o.message.contains("stopped before the disk filled"), "{}", o.message);
    assert_eq!(o.failure.as_ref().unwrap().kind, "disk_full");
    assert!(sim.stats().file_requests.is_empty(), "nothing was fetched");
    assert!(b.files(o.id).iter().all(|f| f.state != FileState::Verified && f.state != FileState::Failed));
    // With space again, the same job carries on.
    let again = ExportRunner::new(b.runner.database().clone(), HttpClient::new()).with_pacing(fast());
    let events: export_jobs::EventSink = Arc::new(|_| {});
    let o = again.run(o.id, events, CancellationToken::new()).await.unwrap();
    assert_eq!(o.state, JobState::Completed, "{}", o.message);
}

#[tokio::test]
async fn a_file_past_its_deadline_is_given_up_without_retrying() {
    let sim = sim_with(Faults { trickle_every: Some(Duration::from_millis(20)), ..Faults::default() }).await;
    let limits = Limits {
        download: DownloadLimits { deadline: Some(Duration::from_secs(1)), ..DownloadLimits::default() },
        ..Limits::default()
    };
    let b = Bench::new(limits);
    let o = b.export(&sim, patients_only()).await;
    assert_eq!(o.state, JobState::Failed, "{}", o.message);
    assert!(o.message.contains("took longer than the 1.0 s allowed"), "{}", o.message);
    let files = b.files(o.id);
    assert_eq!(files[0].error_kind.as_deref(), Some("limit_exceeded"));
    assert_eq!(files[0].attempts, 1, "a limit is not retried");
}

#[tokio::test]
async fn a_crash_while_taking_out_bad_lines_fetches_the_file_again() {
    let sim = sim_with(Faults { malformed_lines: 2, ..Faults::default() }).await;
    let b = Bench::new(Limits::default());
    let o = b.export(&sim, patients_only()).await;
    assert_eq!(o.state, JobState::CompletedWithProblems, "{}", o.message);
    let before = sim.stats().file_requests.values().sum::<u32>();
    // As if the process had died midway through compaction: the file is `.compacting`, its row `downloaded`.
    let name = "Patient.000.ndjson";
    std::fs::rename(b.out().join(name), b.out().join(format!("{name}.compacting"))).unwrap();
    {
        let db = b.runner.database().lock().unwrap();
        // Back to `downloading` the way a resume gets there (only a failed job is reopened).
        db.finish_job(o.id, JobState::Failed, &[], None).unwrap();
        db.reopen_job(o.id, &[]).unwrap();
        db.set_file_state(o.id, 0, FileState::Downloaded, 0).unwrap();
    }
    let o = b.run(o.id).await;
    assert_eq!(o.state, JobState::CompletedWithProblems, "{}", o.message);
    assert_eq!(sim.stats().file_requests.values().sum::<u32>(), before + 1, "that file, downloaded again");
    assert!(!b.out().join(format!("{name}.compacting")).exists());
    let kept = std::fs::read_to_string(b.out().join(name)).unwrap();
    assert_eq!(kept.lines().count() as u64, b.files(o.id)[0].resources.unwrap());
}
