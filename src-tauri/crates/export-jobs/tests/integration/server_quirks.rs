//! Servers as they are, over real HTTP (the simulator's modes after BCDA, AB2D, Oracle Health): files
//! throttled with 429/503 are retried and the whole export slows down; a busy kickoff names the export the
//! server is running; `_until` reaches the server; a resume that cannot help says so.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulk_client::{ExportLevel, ExportRequest, HttpClient};
use bulk_sim::{Faults, RunningSim, SimConfig};
use export_jobs::{ExportRunner, JobError, JobEvent, JobOutcome, Pacing};
use haul_store::{AuthKind, Database, JobSettings, JobState, NewJob, Server, ServerInput};
use tokio_util::sync::CancellationToken;

fn fast() -> Pacing {
    Pacing {
        min_poll: Duration::from_millis(20),
        max_poll: Duration::from_millis(200),
        retry_after_cap: Duration::from_millis(300),
        retry_base: Duration::from_millis(20),
        kickoff_attempts: 3,
        ..Pacing::default()
    }
}

async fn sim_with(faults: Faults, per_file: u64) -> RunningSim {
    RunningSim::start(SimConfig {
        prepare_time: Duration::from_millis(100),
        poll_interval_seconds: 0,
        resources_per_file: per_file,
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
    events: Arc<Mutex<Vec<String>>>,
}

impl Bench {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let db = Database::open(&root.join("haul.sqlite3")).unwrap();
        let runner = ExportRunner::new(Arc::new(Mutex::new(db)), HttpClient::new()).with_pacing(fast());
        Self { _dir: dir, root, runner, events: Default::default() }
    }

    fn create(&self, sim: &RunningSim, request: ExportRequest, parallel: u32, name: &str) -> i64 {
        let db = self.runner.database().lock().unwrap();
        let job = NewJob {
            server_id: None,
            fhir_url: sim.base_url(),
            request,
            settings: JobSettings { parallel, ..JobSettings::default() },
            out_dir: self.root.join(name),
        };
        db.create_job(&job).unwrap().id
    }

    async fn run(&self, id: i64) -> Result<JobOutcome, JobError> {
        let events = self.events.clone();
        let sink: export_jobs::EventSink = Arc::new(move |e: &JobEvent| {
            if let JobEvent::Warning { message } | JobEvent::Waiting { reason: message, .. } = e {
                events.lock().unwrap().push(message.clone());
            }
        });
        self.runner.run(id, sink, CancellationToken::new()).await
    }

    /// A saved server without sign-in at `base_url`.
    fn open_server(&self, name: &str, base_url: &str) -> Server {
        let input = ServerInput {
            name: name.into(),
            base_url: base_url.into(),
            auth: AuthKind::Open,
            ..ServerInput::default()
        };
        self.runner.database().lock().unwrap().add_server(&input).unwrap()
    }

    fn said(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

fn everything() -> ExportRequest {
    ExportRequest { level: Some(ExportLevel::System), ..Default::default() }
}

#[tokio::test]
async fn throttled_files_are_retried_and_the_export_slows_down() {
    let sim = sim_with(
        Faults { file_429_every: Some(4), file_503_every: Some(7), file_retry_after_seconds: 0, ..Faults::default() },
        200,
    )
    .await;
    let b = Bench::new();
    let id = b.create(&sim, everything(), 8, "throttled");
    let o = b.run(id).await.unwrap();
    assert_eq!(o.state, JobState::Completed, "{}", o.message);
    let resources: u64 = o.totals.iter().map(|t| t.resources).sum();
    assert_eq!(resources, sim.resource_counts().values().sum::<u64>(), "nothing lost");
    let stats = sim.stats();
    assert!(stats.files_throttled >= 5, "the server throttled: {}", stats.files_throttled);
    let said = b.said();
    assert!(
        said.iter().any(|m| m.contains("asked Haul to slow down") && m.contains("at once instead of 8")),
        "{said:?}"
    );
}

#[tokio::test]
async fn a_server_that_takes_two_files_at_a_time_gets_them_all() {
    let sim =
        sim_with(Faults { max_concurrent_files: Some(2), file_retry_after_seconds: 1, ..Faults::default() }, 300).await;
    let b = Bench::new();
    let id = b.create(&sim, everything(), 8, "two");
    let o = b.run(id).await.unwrap();
    assert_eq!(o.state, JobState::Completed, "{}", o.message);
    assert!(sim.stats().files_throttled > 0);
    assert!(b.said().iter().any(|m| m.contains("slow down")), "{:?}", b.said());
}

/// Starts export `id` and stops it right after the kickoff, the way a closed window does: the row stays
/// "kicked off" and the server keeps running the export.
async fn leave_running_on_the_server(b: &Bench, id: i64) {
    let kicked = Arc::new(tokio::sync::Notify::new());
    let sink: export_jobs::EventSink = {
        let kicked = kicked.clone();
        Arc::new(move |e: &JobEvent| {
            if matches!(e, JobEvent::KickedOff { .. }) {
                kicked.notify_one();
            }
        })
    };
    let runner = b.runner.clone();
    let running = tokio::spawn(async move { runner.run(id, sink, CancellationToken::new()).await });
    kicked.notified().await;
    running.abort();
    let _ = running.await;
}

#[tokio::test]
async fn a_busy_server_names_the_export_it_is_running() {
    let sim = sim_with(Faults { busy_while_running: true, ..Faults::default() }, 1000).await;
    let b = Bench::new();
    let first = b.create(&sim, everything(), 4, "first");
    leave_running_on_the_server(&b, first).await;
    let second = b.create(&sim, everything(), 4, "second");
    let o = b.run(second).await.unwrap();
    assert_eq!(o.state, JobState::Failed);
    assert!(o.message.contains("still running an earlier export"), "{}", o.message);
    assert!(o.message.contains(&format!("Haul's export {first}")), "{}", o.message);
    assert!(o.message.contains(&format!("haul cancel {first}")), "{}", o.message);
    // Haul's own export is cancelled as itself, not as a stranger's.
    let row = b.runner.database().lock().unwrap().get_job(second).unwrap().unwrap();
    assert_eq!(row.blocked_by, None);
}

#[tokio::test]
async fn an_export_started_elsewhere_that_blocks_this_one_can_be_cancelled_from_haul() {
    let sim = sim_with(Faults { busy_while_running: true, ..Faults::default() }, 1000).await;
    // Another computer (another Haul, with its own history) left an export running on the server.
    let elsewhere = Bench::new();
    let theirs = elsewhere.create(&sim, everything(), 4, "theirs");
    leave_running_on_the_server(&elsewhere, theirs).await;

    let b = Bench::new();
    let ours = b.create(&sim, everything(), 4, "ours");
    let o = b.run(ours).await.unwrap();
    assert_eq!(o.state, JobState::Failed);
    assert!(o.message.contains(&format!("haul cancel {ours} --blocking")), "{}", o.message);
    let blocked_by = b.runner.database().lock().unwrap().get_job(ours).unwrap().unwrap().blocked_by;
    let blocked_by = blocked_by.expect("the export the server runs instead is recorded");
    assert!(blocked_by.starts_with(&sim.base_url()), "{blocked_by}");

    let deletes = sim.stats().deletes;
    assert_eq!(b.runner.cancel_blocking(ours).await.unwrap(), blocked_by);
    assert_eq!(sim.stats().deletes, deletes + 1, "DELETE went to the server's running export");
    assert_eq!(b.runner.database().lock().unwrap().get_job(ours).unwrap().unwrap().blocked_by, None);
    assert!(matches!(b.runner.cancel_blocking(ours).await, Err(JobError::NothingBlocking(_))));

    // The server is free again: the same request now runs to the end.
    let again = b.run(b.create(&sim, everything(), 4, "again")).await.unwrap();
    assert_eq!(again.state, JobState::Completed, "{}", again.message);
}

#[tokio::test]
async fn until_reaches_the_server() {
    let sim = sim_with(Faults::default(), 1000).await;
    let b = Bench::new();
    let all = b.run(b.create(&sim, everything(), 4, "all")).await.unwrap();
    let early = ExportRequest { until: Some("1990-01-01T00:00:00+00:00".into()), ..everything() };
    let none = b.run(b.create(&sim, early, 4, "until")).await.unwrap();
    assert_eq!(all.state, JobState::Completed);
    assert_eq!(none.state, JobState::Completed, "{}", none.message);
    let count = |o: &JobOutcome| o.totals.iter().map(|t| t.resources).sum::<u64>();
    assert!(count(&none) < count(&all), "{} vs {}", count(&none), count(&all));
}

#[tokio::test]
async fn resuming_an_export_whose_files_expired_says_so_instead_of_failing_again() {
    let sim = sim_with(Faults { files_expire_after: Some(Duration::from_millis(1)), ..Faults::default() }, 1000).await;
    let b = Bench::new();
    let id = b.create(&sim, everything(), 4, "expired");
    let o = b.run(id).await.unwrap();
    assert_eq!(o.state, JobState::Failed);
    let requests = sim.stats().file_requests.values().sum::<u32>();
    match b.run(id).await {
        Err(e @ JobError::FilesExpired { .. }) => {
            assert!(e.to_string().contains("Run the same request again as a new export"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.stats().file_requests.values().sum::<u32>(), requests, "nothing asked again");
}

#[tokio::test]
async fn test_connection_runs_the_whole_chain_and_cancels_its_test_export() {
    use export_jobs::probe::{ProbeOutcome, probe, probe_request};
    let sim = sim_with(Faults::default(), 1000).await;
    let b = Bench::new();
    let server = b.open_server("Sim", &sim.base_url());
    let steps = probe(&b.runner, &server, &probe_request()).await.unwrap();
    let outcomes: Vec<ProbeOutcome> = steps.iter().map(|s| s.outcome).collect();
    assert_eq!(outcomes, [ProbeOutcome::Passed, ProbeOutcome::Skipped, ProbeOutcome::Passed], "{steps:?}");
    let stats = sim.stats();
    assert_eq!((stats.kickoffs, stats.deletes), (1, 1), "the test export was cancelled at once");

    // Nothing listening: the first step says so, the others are not guessed.
    let nowhere = b.open_server("Nowhere", "http://127.0.0.1:9/fhir");
    let steps = probe(&b.runner, &nowhere, &probe_request()).await.unwrap();
    let outcomes: Vec<ProbeOutcome> = steps.iter().map(|s| s.outcome).collect();
    assert_eq!(outcomes, [ProbeOutcome::Failed, ProbeOutcome::Skipped, ProbeOutcome::Skipped]);
    assert!(steps[0].message.contains("Nothing answered"), "{}", steps[0].message);

    // A server that refuses the kickoff: the step fails with its words.
    let level_refused = ExportRequest { level: Some(ExportLevel::Group("no-such-group".into())), ..Default::default() };
    let steps = probe(&b.runner, &server, &level_refused).await.unwrap();
    assert_eq!(steps[2].outcome, ProbeOutcome::Failed, "{steps:?}");
}

#[tokio::test]
async fn test_connection_of_a_server_whose_sign_in_is_not_set_up_tries_nothing() {
    use export_jobs::probe::{probe, probe_request};
    let sim = sim_with(Faults::default(), 1000).await;
    let b = Bench::new();
    let input = ServerInput {
        name: "No key yet".into(),
        base_url: sim.base_url(),
        auth: AuthKind::SmartBackend,
        client_id: Some("haul".into()),
        ..ServerInput::default()
    };
    let server = b.runner.database().lock().unwrap().add_server(&input).unwrap();
    let Err(e @ JobError::Plan(_)) = probe(&b.runner, &server, &probe_request()).await else {
        panic!("an incomplete sign-in must stop the test before it starts")
    };
    assert!(e.to_string().contains("no client ID or key yet"), "{e}");
    assert_eq!(sim.stats().kickoffs, 0);
}
