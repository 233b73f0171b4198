//! The export engine against the simulator, over real HTTP: the three levels, every fault the simulator
//! can inject, cancel, and resume after an interruption. (SMART flows: export_smart.rs; kill -9 of the
//! real CLI: haul-cli's tests.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulk_client::{ExportLevel, ExportRequest, HttpClient};
use bulk_sim::{Faults, RetryAfter, RunningSim, SimConfig};
use export_jobs::{ExportRunner, JobEvent, JobOutcome, Pacing};
use haul_store::{Database, FileState, JobSettings, JobState, NewJob};
use tokio_util::sync::CancellationToken;

fn fast() -> Pacing {
    Pacing {
        min_poll: Duration::from_millis(20),
        max_poll: Duration::from_millis(200),
        retry_after_cap: Duration::from_millis(300),
        retry_base: Duration::from_millis(20),
        ..Pacing::default()
    }
}

async fn sim_with(faults: Faults) -> RunningSim {
    RunningSim::start(SimConfig {
        prepare_time: Duration::from_millis(150),
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
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let db = Database::open(&root.join("haul.sqlite3")).unwrap();
        let runner = ExportRunner::new(Arc::new(Mutex::new(db)), HttpClient::new()).with_pacing(fast());
        Self { _dir: dir, root, runner, events: Default::default() }
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Database> {
        self.runner.database().lock().unwrap()
    }

    fn create(&self, sim: &RunningSim, request: ExportRequest, settings: JobSettings, name: &str) -> i64 {
        let out_dir = self.root.join(name);
        self.db()
            .create_job(&NewJob { server_id: None, fhir_url: sim.base_url(), request, settings, out_dir })
            .unwrap()
            .id
    }

    fn sink(&self) -> export_jobs::EventSink {
        let events = self.events.clone();
        Arc::new(move |e: &JobEvent| events.lock().unwrap().push(e.clone()))
    }

    async fn run(&self, id: i64) -> JobOutcome {
        self.runner.run(id, self.sink(), CancellationToken::new()).await.unwrap()
    }

    async fn export(&self, sim: &RunningSim, request: ExportRequest) -> JobOutcome {
        let id = self.create(sim, request, JobSettings::default(), "out");
        self.run(id).await
    }

    fn out(&self) -> PathBuf {
        self.root.join("out")
    }

    fn warnings(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                JobEvent::Warning { message } => Some(message.clone()),
                JobEvent::Waiting { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .collect()
    }
}

fn group(id: &str) -> ExportRequest {
    ExportRequest { level: Some(ExportLevel::Group(id.into())), ..Default::default() }
}

fn totals(o: &JobOutcome) -> BTreeMap<String, u64> {
    o.totals.iter().map(|t| (t.resource_type.clone(), t.resources)).collect()
}

/// Resources per type, counted from the files on disk.
fn counted_on_disk(dir: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".ndjson") || name == "log.ndjson" {
            continue;
        }
        let t = name.split('.').next().unwrap().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["resourceType"], t.as_str(), "{name}");
            *out.entry(t.clone()).or_default() += 1;
        }
    }
    out
}

fn log_events(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("log.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["eventId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn system_level_brings_back_everything_the_server_holds() {
    let sim = sim_with(Faults::default()).await;
    let b = Bench::new();
    let o = b.export(&sim, ExportRequest::default()).await;
    assert_eq!(o.state, JobState::Completed, "{}", o.message);
    assert_eq!(totals(&o), sim.resource_counts());
    assert_eq!(counted_on_disk(&b.out()), sim.resource_counts());
    // Types with more than 700 resources came in several files, numbered in manifest order.
    assert!(b.out().join("Observation.001.ndjson").exists());
    assert_eq!(sim.stats().deletes, 1, "DELETE after a successful download");
    let events = log_events(&b.out());
    for wanted in
        ["kickoff", "status_progress", "status_complete", "download_request", "download_complete", "export_complete"]
    {
        assert!(events.iter().any(|e| e == wanted), "log.ndjson lacks {wanted}: {events:?}");
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.out().join("manifest.json")).unwrap()).unwrap();
    assert!(manifest["transactionTime"].is_string(), "the manifest as received");
    assert!(manifest["extension"]["urn:haul:bulk-sim"]["job"].is_string(), "extensions kept");
    assert!(manifest.get("_haul").is_none(), "the manifest is kept as the server sent it");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.out().join("haul-report.json")).unwrap()).unwrap();
    assert_eq!(report["state"], "completed");
    let job = b.db().get_job(o.id).unwrap().unwrap();
    assert!(job.transaction_time.is_some());
    assert!(b.db().job_files(o.id).unwrap().iter().all(|f| f.state == FileState::Verified));
}

#[tokio::test]
async fn group_and_patient_levels_get_rosters_and_post_gets_named_patients() {
    let sim = sim_with(Faults::default()).await;
    let b = Bench::new();
    let id =
        b.create(&sim, group("aco-small-practice"), JobSettings { delete_after: false, ..Default::default() }, "g");
    let g = b.run(id).await;
    assert_eq!(g.state, JobState::Completed, "{}", g.message);
    let all_patients = sim.resource_counts()["Patient"];
    let in_group = totals(&g)["Patient"];
    assert!(in_group > 0 && in_group < all_patients, "{in_group} of {all_patients}");
    assert_eq!(sim.stats().deletes, 0, "--no-delete keeps the files on the server");

    let req = ExportRequest {
        level: Some(ExportLevel::Patient),
        types: vec!["Patient".into(), "Condition".into()],
        patients: vec!["pat-0000001".into(), "Patient/pat-0000002".into()],
        ..Default::default()
    };
    let id = b.create(&sim, req, JobSettings::default(), "p");
    let p = b.run(id).await;
    assert_eq!(p.state, JobState::Completed, "{}", p.message);
    assert_eq!(totals(&p)["Patient"], 2);
    assert!(totals(&p).keys().all(|t| t == "Patient" || t == "Condition"));
}

#[tokio::test]
async fn a_group_typed_by_its_id_gets_its_name_from_the_server() {
    let sim = sim_with(Faults::default()).await;
    let b = Bench::new();
    let o = b.export(&sim, group("aco-north")).await;
    assert_eq!(o.state, JobState::Completed, "{}", o.message);
    let job = b.db().get_job(o.id).unwrap().unwrap();
    assert_eq!(job.settings.group_name.as_deref(), Some("ACO North Regional"));
    // A group the server does not know has no name to learn; the export fails for its own reason.
    let o = b.export(&sim, group("no-such-group")).await;
    assert_eq!(o.state, JobState::Failed);
    assert_eq!(b.db().get_job(o.id).unwrap().unwrap().settings.group_name, None);
}

#[tokio::test]
async fn kickoff_429_waits_and_tries_again() {
    let sim = sim_with(Faults { kickoff_429_times: 2, retry_after: RetryAfter::Seconds(0), ..Faults::default() }).await;
    let b = Bench::new();
    let o = b.export(&sim, group("aco-north")).await;
    assert_eq!(o.state, JobState::Completed, "{}", o.message);
    assert_eq!(sim.stats().kickoffs, 3);
    assert_eq!(b.warnings().iter().filter(|w| w.contains("busy")).count(), 2);
}

#[tokio::test]
async fn absurd_retry_after_values_are_clamped_and_said_so() {
    for retry in [RetryAfter::Hours(10), RetryAfter::UnixTimestamp] {
        let sim = sim_with(Faults { status_429_times: 2, retry_after: retry, ..Faults::default() }).await;
        let b = Bench::new();
        let started = std::time::Instant::now();
        let o = b.export(&sim, group("aco-north")).await;
        assert_eq!(o.state, JobState::Completed, "{}", o.message);
        assert!(started.elapsed() < Duration::from_secs(20));
        let w = b.warnings();
        assert!(w.iter().any(|m| m.contains("asked Haul to wait") && m.contains("instead")), "{retry:?}: {w:?}");
    }
    let sim = sim_with(Faults { status_429_times: 1, retry_after: RetryAfter::HttpDate(0), ..Faults::default() }).await;
    let b = Bench::new();
    assert_eq!(b.export(&sim, group("aco-north")).await.state, JobState::Completed);
}

#[tokio::test]
async fn transient_errors_and_proxy_pages_while_polling_are_waited_out() {
    let sim = sim_with(Faults { status_transient_times: 3, status_html_502_times: 2, ..Faults::default() }).await;
    let b = Bench::new();
    let o = b.export(&sim, group("aco-north")).await;
    assert_eq!(o.state, JobState::Completed, "{}", o.message);
    let w = b.warnings();
    assert_eq!(w.iter().filter(|m| m.contains("temporary problem")).count(), 3, "{w:?}");
    assert_eq!(w.iter().filter(|m| m.contains("proxy")).count(), 2, "{w:?}");
    assert!(log_events(&b.out()).iter().any(|e| e == "status_error"));
}

#[tokio::test]
async fn dropped_connections_resume_with_range_and_lose_nothing() {
    let sim = sim_with(Faults { drop_after_bytes: Some(20_000), drop_times_per_file: 2, ..Faults::default() }).await;
    let b = Bench::new();
    let o = b.export(&sim, ExportRequest::default()).await;
    assert_eq!(o.state, JobState::Completed, "{}", o.message);
    assert_eq!(counted_on_disk(&b.out()), sim.resource_counts());
    let stats = sim.stats();
    // Files longer than the cut were dropped (up to twice) and resumed; short ones came whole at once.
    let retried = stats.file_requests.values().filter(|&&n| n > 1).count();
    assert!(retried >= 5, "{:?}", stats.file_requests);
    assert!(stats.file_requests.values().all(|&n| n <= 3), "{:?}", stats.file_requests);
    let extra_requests: u32 = stats.file_requests.values().map(|n| n - 1).sum();
    let resumed = b
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, JobEvent::FileStarted { resume_from, .. } if *resume_from > 0))
        .count();
    assert_eq!(resumed as u32, extra_requests, "every retry carried on from the bytes already there");
}

#[tokio::test]
async fn a_file_made_again_between_two_requests_comes_whole_not_spliced() {
    // The first answer is cut; by the second the server has made the file again (reversed, a new ETag):
    // the resume's If-Range names the old version, so the server sends the new file whole.
    let faults = Faults { drop_after_bytes: Some(20_000), files_change_at_request: Some(2), ..Faults::default() };
    let sim = sim_with(faults).await;
    let b = Bench::new();
    let o = b.export(&sim, ExportRequest { types: vec!["Patient".into()], ..Default::default() }).await;
    assert_eq!(o.state, JobState::Completed, "{}", o.message);
    let files = b.db().job_files(o.id).unwrap();
    let file = files.iter().find(|f| f.name == "Patient.000.ndjson").unwrap();
    let served_as = file.url.rsplit('/').next().unwrap();
    assert_eq!(sim.stats().file_requests.get(served_as), Some(&2), "cut once, then whole");
    // The simulator writes patients in id order and makes the file again in reverse: the file Haul kept is
    // the new version whole when every id comes before the one above it (a splice would turn back upwards).
    let text = std::fs::read_to_string(b.out().join(&file.name)).unwrap();
    let ids: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.len() > 10 && ids.windows(2).all(|w| w[0] > w[1]), "the new version whole: {:?}", &ids[..3]);
    assert_eq!(counted_on_disk(&b.out()).get("Patient"), sim.resource_counts().get("Patient"));
}

#[tokio::test]
async fn a_resume_with_no_version_to_name_compares_the_bytes_it_held_and_never_splices() {
    // No ETag or Last-Modified (the unchanged file's first answer also comes gzip-encoded on the fly): the
    // resume asks again for the last bytes it holds. The same file continues; a file made again starts over.
    for made_again in [false, true] {
        let faults = Faults {
            // Bytes as sent: gzip-encoded, about ten times as many arrive unpacked.
            drop_after_bytes: Some(2_000),
            no_validators: true,
            files_change_at_request: made_again.then_some(2),
            ..Faults::default()
        };
        let sim = sim_with(faults).await;
        let b = Bench::new();
        let o = b.export(&sim, ExportRequest { types: vec!["Patient".into()], ..Default::default() }).await;
        assert_eq!(o.state, JobState::Completed, "{}", o.message);
        let file = b.db().job_files(o.id).unwrap().into_iter().find(|f| f.name == "Patient.000.ndjson").unwrap();
        let requests = sim.stats().file_requests.get(file.url.rsplit('/').next().unwrap()).copied();
        assert_eq!(requests, Some(if made_again { 3 } else { 2 }), "made again: {made_again}");
        let text = std::fs::read_to_string(b.out().join(&file.name)).unwrap();
        let ids: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_string())
            .collect();
        // In id order as first made, reversed when made again: either way one version, whole.
        let one_version = ids.windows(2).all(|w| if made_again { w[0] > w[1] } else { w[0] < w[1] });
        assert!(ids.len() > 10 && one_version, "made again: {made_again}: {:?}", &ids[..3]);
        assert_eq!(counted_on_disk(&b.out()).get("Patient"), sim.resource_counts().get("Patient"));
    }
}

#[tokio::test]
async fn expired_files_fail_the_export_and_say_which_were_lost() {
    for gone in [false, true] {
        let sim =
            sim_with(Faults { files_expire_after: Some(Duration::ZERO), expired_gone: gone, ..Faults::default() })
                .await;
        let b = Bench::new();
        let o = b.export(&sim, ExportRequest { types: vec!["Patient".into()], ..Default::default() }).await;
        assert_eq!(o.state, JobState::Failed);
        let f = o.failure.unwrap();
        assert_eq!(f.kind, "file_expired");
        assert!(
            f.message.contains("Patient.000.ndjson") && f.message.contains("no longer on the server"),
            "{}",
            f.message
        );
        assert_eq!(sim.stats().deletes, 0, "a failed export's files are not released");
        let said_expiry =
            b.events.lock().unwrap().iter().any(|e| matches!(e, JobEvent::Manifest { expires: Some(_), .. }));
        assert!(said_expiry, "the server's Expires reaches the user");
    }
}

#[tokio::test]
async fn malformed_lines_are_quarantined_and_the_export_says_so() {
    let sim = sim_with(Faults { malformed_lines: 3, ..Faults::default() }).await;
    let b = Bench::new();
    let o = b.export(&sim, group("aco-north")).await;
    assert_eq!(o.state, JobState::CompletedWithProblems);
    assert!(o.problems.iter().any(|p| p.contains("quarantine/Patient.000.ndjson")), "{:?}", o.problems);
    let q = std::fs::read_to_string(b.out().join("quarantine/Patient.000.ndjson")).unwrap();
    let records: Vec<serde_json::Value> = q.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r["line"].as_u64().unwrap() > 0 && r["file"] == "Patient.000.ndjson"));
    // What stayed is valid and matches what the server announced.
    counted_on_disk(&b.out());
    assert!(!o.problems.iter().any(|p| p.contains("announced")), "the count matches once bad lines are out");
    assert!(o.problems.iter().any(|p| p.contains("did not tell the server to delete")), "{:?}", o.problems);
    assert_eq!(sim.stats().deletes, 0, "lines were set aside: the server keeps its copy");
}

#[tokio::test]
async fn failing_types_arrive_as_error_files_and_are_summarized() {
    let sim = sim_with(Faults { failing_types: vec!["Observation".into()], ..Faults::default() }).await;
    let b = Bench::new();
    let o = b.export(&sim, group("aco-north")).await;
    assert_eq!(o.state, JobState::CompletedWithProblems);
    assert!(o.problems.iter().any(|p| p.contains("The Observation export failed")), "{:?}", o.problems);
    assert!(b.out().join("error/OperationOutcome.000.ndjson").exists());
    assert!(!totals(&o).contains_key("Observation"));
}

#[tokio::test]
async fn warnings_from_a_lenient_server_do_not_make_problems() {
    let sim = sim_with(Faults::default()).await;
    let b = Bench::new();
    let req = ExportRequest {
        lenient: true,
        types: vec!["Patient".into()],
        extra: vec![("_vendorThing".into(), "1".into())],
        ..group("aco-north")
    };
    let o = b.export(&sim, req).await;
    assert_eq!(o.state, JobState::Completed, "{:?} {}", o.problems, o.message);
    let text = std::fs::read_to_string(b.out().join("error/OperationOutcome.000.ndjson")).unwrap();
    assert!(text.contains("_vendorThing"), "{text}");
}

#[tokio::test]
async fn refusals_and_server_failures_carry_the_servers_words() {
    let sim = sim_with(Faults::default()).await;
    let b = Bench::new();
    let o = b.export(&sim, ExportRequest { types: vec!["patient".into()], ..Default::default() }).await;
    assert_eq!(o.state, JobState::Failed);
    let f = o.failure.unwrap();
    assert_eq!(f.kind, "refused");
    assert!(f.message.contains("HTTP 400") && f.message.contains("not a resource type"), "{}", f.message);
    assert!(log_events(&b.out()).contains(&"kickoff".to_string()));

    let sim = sim_with(Faults { fail_export: true, ..Faults::default() }).await;
    let b = Bench::new();
    let o = b.export(&sim, group("aco-north")).await;
    assert_eq!(o.state, JobState::Failed);
    assert!(o.message.contains("The export failed on the server"), "{}", o.message);

    let sim = sim_with(Faults::default()).await;
    let b = Bench::new();
    let o = b.export(&sim, group("no-such-group")).await;
    assert_eq!(o.state, JobState::Failed);
    assert!(o.message.contains("HTTP 404"), "{}", o.message);
}

#[tokio::test]
async fn a_status_url_the_server_forgot_fails_plainly() {
    let sim = RunningSim::start(SimConfig {
        prepare_time: Duration::from_secs(30),
        poll_interval_seconds: 0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let b = Bench::new();
    let id = b.create(&sim, group("aco-north"), JobSettings::default(), "out");
    let run = b.run(id);
    let forget = async {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let url = b.db().get_job(id).unwrap().unwrap().status_url;
            if let Some(url) = url {
                reqwest::Client::new().delete(url).send().await.unwrap();
                return;
            }
        }
    };
    let (o, ()) = tokio::join!(run, forget);
    assert_eq!(o.state, JobState::Failed);
    assert!(o.message.contains("no longer knows this export"), "{}", o.message);
}

#[tokio::test]
async fn cancel_stops_downloads_and_tells_the_server() {
    let sim = sim_with(Faults { file_bytes_per_second: Some(200_000), ..Faults::default() }).await;
    let b = Bench::new();
    let id = b.create(&sim, ExportRequest::default(), JobSettings::default(), "out");
    let cancel = CancellationToken::new();
    let events = b.events.clone();
    let trigger = cancel.clone();
    let sink: export_jobs::EventSink = Arc::new(move |e: &JobEvent| {
        if matches!(e, JobEvent::FileProgress { bytes, .. } if *bytes > 50_000) {
            trigger.cancel();
        }
        events.lock().unwrap().push(e.clone());
    });
    let o = b.runner.run(id, sink, cancel).await.unwrap();
    assert_eq!(o.state, JobState::Cancelled);
    assert_eq!(sim.stats().deletes, 1);
    assert_eq!(b.db().get_job(id).unwrap().unwrap().state, JobState::Cancelled);
    let err = b.runner.run(id, b.sink(), CancellationToken::new()).await.unwrap_err();
    assert!(err.to_string().contains("cancelled and cannot be resumed"), "{err}");
}

#[tokio::test]
async fn a_cancel_recorded_elsewhere_stops_a_running_job() {
    let sim = sim_with(Faults { file_bytes_per_second: Some(200_000), ..Faults::default() }).await;
    let b = Bench::new();
    let id = b.create(&sim, ExportRequest::default(), JobSettings::default(), "out");
    let run = b.run(id);
    let other_process = async {
        tokio::time::sleep(Duration::from_millis(600)).await;
        // What `haul cancel` does from another process: the row changes, the runner notices.
        b.runner.cancel(id).await.unwrap()
    };
    let (o, marked) = tokio::join!(run, other_process);
    assert!(marked);
    assert_eq!(o.state, JobState::Cancelled, "{}", o.message);
}

#[tokio::test]
async fn an_interrupted_run_resumes_without_refetching_verified_files() {
    let sim = sim_with(Faults { file_bytes_per_second: Some(150_000), ..Faults::default() }).await;
    let b = Bench::new();
    let id = b.create(&sim, ExportRequest::default(), JobSettings { parallel: 2, ..Default::default() }, "out");
    // Drop the run future once one file is verified and another is part-way: like a killed process,
    // nothing is finished or cleaned up.
    let mid_download = async {
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let events = b.events.lock().unwrap();
            let verified: Vec<u32> = events
                .iter()
                .filter_map(|e| if let JobEvent::FileVerified { seq, .. } = e { Some(*seq) } else { None })
                .collect();
            let partial = events.iter().any(
                |e| matches!(e, JobEvent::FileProgress { seq, bytes, .. } if *bytes > 0 && !verified.contains(seq)),
            );
            if !verified.is_empty() && partial {
                return;
            }
        }
    };
    tokio::select! {
        _ = b.run(id) => panic!("the export finished before it could be interrupted"),
        () = mid_download => {}
    }
    let files = b.db().job_files(id).unwrap();
    let verified: Vec<String> =
        files.iter().filter(|f| f.state == FileState::Verified).map(|f| f.url.clone()).collect();
    assert!(!verified.is_empty() && verified.len() < files.len(), "interrupted mid-download: {files:#?}");
    let before = sim.stats().file_requests;
    sim.set_faults(Faults::default());
    let o = b.run(id).await;
    assert_eq!(o.state, JobState::Completed, "{}", o.message);
    assert_eq!(counted_on_disk(&b.out()), sim.resource_counts());
    let after = sim.stats().file_requests;
    for url in verified {
        let name = url.rsplit('/').next().unwrap();
        assert_eq!(before.get(name), after.get(name), "{name} was verified before and not fetched again");
    }
    assert_eq!(sim.stats().kickoffs, 1, "the saved status URL was used, not a new kickoff");
    let resumed = b
        .events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, JobEvent::FileStarted { resume_from, .. } if *resume_from > 0));
    assert!(resumed, "a partial file resumed with Range");
}

#[tokio::test]
async fn one_runner_per_job() {
    let sim = sim_with(Faults { file_bytes_per_second: Some(200_000), ..Faults::default() }).await;
    let b = Bench::new();
    let id = b.create(&sim, ExportRequest::default(), JobSettings::default(), "out");
    let cancel = CancellationToken::new();
    let first = b.runner.run(id, b.sink(), cancel.clone());
    let second = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let err = b.runner.run(id, b.sink(), CancellationToken::new()).await.unwrap_err();
        cancel.cancel();
        err
    };
    let (first, err) = tokio::join!(first, second);
    assert!(matches!(err, export_jobs::JobError::AlreadyRunning(n) if n == id), "{err}");
    assert!(err.to_string().contains("already running"));
    assert_eq!(first.unwrap().state, JobState::Cancelled);
}

#[tokio::test]
async fn a_file_complete_on_disk_but_not_yet_noted_is_not_downloaded_again() {
    let sim = sim_with(Faults::default()).await;
    let b = Bench::new();
    let settings = JobSettings { delete_after: false, ..Default::default() };
    let id = b.create(&sim, ExportRequest { types: vec!["Patient".into()], ..Default::default() }, settings, "out");
    assert_eq!(b.run(id).await.state, JobState::Completed);
    // Put the job back where a process killed after the last byte, before noting it, leaves it.
    let target = b.out().join("Patient.000.ndjson");
    let original = std::fs::read(&target).unwrap();
    std::fs::rename(&target, b.out().join("Patient.000.ndjson.part")).unwrap();
    {
        let db = b.db();
        db.conn().execute("UPDATE exports SET state = 'downloading' WHERE id = ?1", [id]).unwrap();
        db.set_file_state(id, 0, FileState::Downloading, original.len() as u64).unwrap();
    }
    let o = b.run(id).await;
    assert_eq!(o.state, JobState::Completed, "{}", o.message);
    assert_eq!(std::fs::read(&target).unwrap(), original);
    assert_eq!(totals(&o)["Patient"], sim.resource_counts()["Patient"]);
    let started: Vec<u64> = b
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| if let JobEvent::FileStarted { resume_from, .. } = e { Some(*resume_from) } else { None })
        .collect();
    assert_eq!(started.last(), Some(&(original.len() as u64)), "asked only for what comes after the last byte");
}
