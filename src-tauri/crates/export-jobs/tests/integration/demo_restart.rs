//! The demo server (the simulator inside the app) comes back on a new port after a restart and keeps no
//! exports. A job it was preparing is found again by its saved server, not its old address, and asked again of
//! the new one; cancelling such a job does not call the old address (issue 18).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulk_client::{ExportRequest, HttpClient};
use bulk_sim::{RunningSim, SimConfig};
use export_jobs::{ExportRunner, JobEvent, Pacing};
use haul_store::{Database, JobSettings, JobState, NewJob};
use tokio_util::sync::CancellationToken;

async fn demo(prepare: Duration) -> RunningSim {
    RunningSim::start(SimConfig { prepare_time: prepare, poll_interval_seconds: 0, ..SimConfig::default() })
        .await
        .unwrap()
}

struct App {
    _dir: tempfile::TempDir,
    runner: ExportRunner,
    events: Arc<Mutex<Vec<JobEvent>>>,
}

impl App {
    /// The app's first start: the demo server at `sim`, and an export of everything from it.
    fn start(sim: &RunningSim) -> (App, i64) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("haul.sqlite3")).unwrap();
        db.sync_demo_server(&sim.base_url()).unwrap();
        let server = db.list_servers().unwrap().into_iter().find(|s| s.builtin).unwrap();
        let job = db
            .create_job(&NewJob {
                server_id: Some(server.id),
                fhir_url: sim.base_url(),
                request: ExportRequest::default(),
                settings: JobSettings::default(),
                out_dir: dir.path().join("out"),
            })
            .unwrap();
        let pacing =
            Pacing { min_poll: Duration::from_millis(20), max_poll: Duration::from_millis(200), ..Pacing::default() };
        let runner = ExportRunner::new(Arc::new(Mutex::new(db)), HttpClient::new()).with_pacing(pacing);
        (App { _dir: dir, runner, events: Default::default() }, job.id)
    }

    fn sink(&self) -> export_jobs::EventSink {
        let events = self.events.clone();
        Arc::new(move |e: &JobEvent| events.lock().unwrap().push(e.clone()))
    }

    /// Runs the job until the server has it (its status URL saved), then stops as a closed window does.
    async fn run_until_kicked_off(&self, id: i64) {
        let kicked_off = async {
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if self.runner.database().lock().unwrap().get_job(id).unwrap().unwrap().status_url.is_some() {
                    return;
                }
            }
        };
        tokio::select! {
            _ = self.runner.run(id, self.sink(), CancellationToken::new()) => panic!("finished before the restart"),
            () = kicked_off => {}
        }
    }
}

#[tokio::test]
async fn an_export_begun_on_the_demo_server_resumes_after_a_restart() {
    let first = demo(Duration::from_secs(3)).await;
    let (app, id) = App::start(&first);
    app.run_until_kicked_off(id).await;
    let old = first.base_url();
    drop(first);

    // The app starts again: a new demo server, on another port, knowing no exports.
    let second = demo(Duration::from_millis(50)).await;
    app.runner.database().lock().unwrap().sync_demo_server(&second.base_url()).unwrap();
    let outcome =
        tokio::time::timeout(Duration::from_secs(60), app.runner.run(id, app.sink(), CancellationToken::new()))
            .await
            .expect("it does not retry the old address for ever")
            .unwrap();
    assert_eq!(outcome.state, JobState::Completed, "{}", outcome.message);
    let job = app.runner.database().lock().unwrap().get_job(id).unwrap().unwrap();
    assert_eq!(job.fhir_url, second.base_url());
    assert!(job.status_url.unwrap().starts_with(&second.base_url()), "not {old}");
    assert_eq!(second.stats().kickoffs, 1, "asked again of the new demo server");
    let said = app
        .events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, JobEvent::Warning { message } if message.contains("demo server was restarted")));
    assert!(said, "the user is told why the export starts over");
    let resources: u64 = outcome.totals.iter().map(|t| t.resources).sum();
    assert_eq!(resources, second.resource_counts().values().sum::<u64>());
}

#[tokio::test]
async fn cancelling_it_after_a_restart_is_not_an_error() {
    let first = demo(Duration::from_secs(3)).await;
    let (app, id) = App::start(&first);
    app.run_until_kicked_off(id).await;
    drop(first);
    let second = demo(Duration::from_millis(50)).await;
    app.runner.database().lock().unwrap().sync_demo_server(&second.base_url()).unwrap();
    // The old address answers nothing: no DELETE is sent to it, and the cancel stands.
    let cancelled = tokio::time::timeout(Duration::from_secs(10), app.runner.cancel(id)).await.unwrap().unwrap();
    assert!(cancelled);
    let job = app.runner.database().lock().unwrap().get_job(id).unwrap().unwrap();
    assert_eq!(job.state, JobState::Cancelled);
}
