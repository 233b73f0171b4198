//! Servers behind their organisation's own certificate authority, end to end over real HTTPS against the
//! simulator: without the CA the export fails saying what to add; with the server's CA file set the same job
//! resumes and completes, its sign-in included; a CA file that has gone stops the job in plain words. The
//! client-secret case uses the real OS keychain (`make test` runs inside dbus-run-session with gnome-keyring).
//! "Test the whole connection" and Group search of a saved server go through its CA file as exports do.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulk_client::{ExportLevel, ExportRequest, HttpClient, SecretStyle};
use bulk_sim::{AuthMode, RunningSim, SimConfig, SimTls};
use export_jobs::{ExportPlan, ExportRunner, JobError, JobEvent, JobOutcome, Pacing};
use haul_store::{AuthKind, Database, JobState, Keychain, Server, ServerInput};
use tokio_util::sync::CancellationToken;

const UNTRUSTED: &str = "This server's certificate is signed by an authority this computer does not trust. If your organisation uses its own certificate authority, add the CA certificate file your IT department gives you in the server's settings.";

async fn tls_sim(auth: AuthMode) -> RunningSim {
    RunningSim::start(SimConfig {
        auth,
        prepare_time: Duration::from_millis(100),
        poll_interval_seconds: 0,
        tls: Some(SimTls::default()),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// A data folder with its database; saved servers (and their keychain entries) are removed at the end.
struct Haul {
    dir: tempfile::TempDir,
    db: Arc<Mutex<Database>>,
    servers: Mutex<Vec<i64>>,
}

impl Drop for Haul {
    fn drop(&mut self) {
        let db = self.db.lock().unwrap_or_else(|p| p.into_inner());
        for id in self.servers.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            let _ = db.remove_server(&Keychain, id);
        }
    }
}

impl Haul {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Mutex::new(Database::open(&dir.path().join("haul.db")).unwrap()));
        Self { dir, db, servers: Mutex::new(Vec::new()) }
    }

    fn server(&self, input: ServerInput) -> Server {
        let server = self.db.lock().unwrap().add_server(&input).unwrap();
        self.servers.lock().unwrap().push(server.id);
        server
    }

    /// The simulator's CA, saved as the file an IT department hands out.
    fn ca_file(&self, sim: &RunningSim) -> PathBuf {
        let path = self.dir.path().join("organisation-ca.pem");
        std::fs::write(&path, sim.ca_certificate_pem().unwrap()).unwrap();
        path
    }

    fn set_ca_file(&self, server: &Server, path: &Path) {
        let saved = self.db.lock().unwrap().set_server_ca_file(server.id, Some(path)).unwrap();
        assert_eq!(saved.ca_file.as_deref(), path.to_str());
    }

    fn plan(&self, server: &Server, folder: &str) -> i64 {
        let request = ExportRequest { level: Some(ExportLevel::System), ..Default::default() };
        let mut plan = ExportPlan::for_saved(server.id, request);
        plan.out_dir = Some(self.dir.path().join(folder));
        plan.create(&self.db.lock().unwrap(), self.dir.path()).unwrap().job.id
    }

    fn runner(&self) -> ExportRunner {
        ExportRunner::new(self.db.clone(), HttpClient::new())
    }

    /// The server as saved now (after its CA file was set).
    fn saved(&self, server: &Server) -> Server {
        self.db.lock().unwrap().get_server(server.id).unwrap()
    }

    async fn run(&self, id: i64) -> Result<JobOutcome, JobError> {
        let pacing = Pacing {
            min_poll: Duration::from_millis(20),
            max_poll: Duration::from_millis(200),
            retry_base: Duration::from_millis(20),
            ..Pacing::default()
        };
        let runner = ExportRunner::new(self.db.clone(), HttpClient::new()).with_pacing(pacing);
        runner.run(id, Arc::new(|_: &JobEvent| {}), CancellationToken::new()).await
    }
}

fn open_server(name: &str, sim: &RunningSim) -> ServerInput {
    ServerInput { name: name.into(), base_url: sim.base_url(), auth: AuthKind::Open, ..ServerInput::default() }
}

#[tokio::test]
async fn an_export_fails_in_plain_words_without_the_ca_and_completes_once_the_servers_ca_file_is_set() {
    let haul = Haul::new();
    let sim = tls_sim(AuthMode::Open).await;
    assert!(sim.base_url().starts_with("https://"));
    let server = haul.server(open_server("Hospital", &sim));
    let id = haul.plan(&server, "hospital");

    let failed = haul.run(id).await.unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.message, UNTRUSTED);
    assert_eq!(sim.stats().kickoffs, 0, "nothing reached the server");

    haul.set_ca_file(&server, &haul.ca_file(&sim));
    let done = haul.run(id).await.unwrap();
    assert_eq!(done.state, JobState::Completed, "{}", done.message);
    let resources: u64 = done.totals.iter().map(|t| t.resources).sum();
    assert_eq!(resources, sim.resource_counts().values().sum::<u64>());
    assert_eq!(sim.stats().kickoffs, 1);
}

#[tokio::test]
async fn the_sign_in_goes_through_the_servers_ca_as_well() {
    let haul = Haul::new();
    let sim = tls_sim(AuthMode::ClientSecret {
        token_lifetime: Duration::from_secs(300),
        style: bulk_sim::SecretStyle::Basic,
        required_scope: None,
    })
    .await;
    let (client_id, secret) = sim.register_secret_client();
    let input = ServerInput {
        auth: AuthKind::ClientSecret,
        client_id: Some(client_id),
        secret_style: Some(SecretStyle::Basic),
        ..open_server("Payer", &sim)
    };
    let server = haul.server(input);
    haul.db.lock().unwrap().set_server_secret(&Keychain, server.id, &secret).unwrap();
    haul.set_ca_file(&server, &haul.ca_file(&sim));

    let id = haul.plan(&server, "payer");
    let done = haul.run(id).await.unwrap();
    assert_eq!(done.state, JobState::Completed, "{}", done.message);
    assert!(sim.stats().token_requests >= 1, "signed in at the token endpoint over HTTPS");
}

#[tokio::test]
async fn a_ca_file_that_has_gone_stops_the_job_saying_which_and_what_to_do() {
    let haul = Haul::new();
    let sim = tls_sim(AuthMode::Open).await;
    let server = haul.server(open_server("Clinic", &sim));
    let file = haul.ca_file(&sim);
    haul.set_ca_file(&server, &file);
    std::fs::remove_file(&file).unwrap();

    let id = haul.plan(&server, "clinic");
    let Err(JobError::Server { message, .. }) = haul.run(id).await else { panic!("the job must not start") };
    assert!(message.starts_with("Haul cannot find the CA certificate file"), "{message}");
    assert!(message.contains("organisation-ca.pem"), "{message}");
    assert!(message.contains("choose it again there (or remove it)"), "{message}");
    assert_eq!(sim.stats().kickoffs, 0);
}

#[tokio::test]
async fn test_the_whole_connection_fails_at_the_capability_step_without_the_ca_and_passes_with_it() {
    use export_jobs::probe::{ProbeOutcome, ProbeStepName, probe, probe_request};
    let haul = Haul::new();
    let sim = tls_sim(AuthMode::Open).await;
    let server = haul.server(open_server("Hospital", &sim));

    let steps = probe(&haul.runner(), &server, &probe_request()).await.unwrap();
    let outcomes: Vec<(ProbeStepName, ProbeOutcome)> = steps.iter().map(|s| (s.step, s.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            (ProbeStepName::Capability, ProbeOutcome::Failed),
            (ProbeStepName::SignIn, ProbeOutcome::Skipped),
            (ProbeStepName::Kickoff, ProbeOutcome::Skipped)
        ],
        "{steps:?}"
    );
    assert_eq!(steps[0].message, UNTRUSTED);
    assert_eq!(sim.stats().kickoffs, 0);

    haul.set_ca_file(&server, &haul.ca_file(&sim));
    let steps = probe(&haul.runner(), &haul.saved(&server), &probe_request()).await.unwrap();
    let outcomes: Vec<ProbeOutcome> = steps.iter().map(|s| s.outcome).collect();
    assert_eq!(outcomes, [ProbeOutcome::Passed, ProbeOutcome::Skipped, ProbeOutcome::Passed], "{steps:?}");
    let stats = sim.stats();
    assert_eq!((stats.kickoffs, stats.deletes), (1, 1), "the test export reached the server and was cancelled");
}

#[tokio::test]
async fn test_the_whole_connection_with_a_ca_file_that_has_gone_says_which_file_and_sends_nothing() {
    use export_jobs::probe::{ProbeOutcome, probe, probe_request};
    let haul = Haul::new();
    let sim = tls_sim(AuthMode::Open).await;
    let server = haul.server(open_server("Clinic", &sim));
    let file = haul.ca_file(&sim);
    haul.set_ca_file(&server, &file);
    std::fs::remove_file(&file).unwrap();

    let steps = probe(&haul.runner(), &haul.saved(&server), &probe_request()).await.unwrap();
    assert_eq!(steps[0].outcome, ProbeOutcome::Failed, "{steps:?}");
    let message = &steps[0].message;
    assert!(
        message.contains("organisation-ca.pem") && message.ends_with("(or remove it), then try again."),
        "{message}"
    );
    assert_eq!(sim.stats().kickoffs, 0);
}

#[tokio::test]
async fn a_saved_servers_session_searches_groups_through_its_ca_file() {
    let haul = Haul::new();
    let sim = tls_sim(AuthMode::Open).await;
    let server = haul.server(open_server("Hospital", &sim));

    let untrusted = haul.runner().session_for_server(&server).await.unwrap().search_groups(None, None).await;
    assert_eq!(untrusted.unwrap_err().message, UNTRUSTED);

    haul.set_ca_file(&server, &haul.ca_file(&sim));
    let session = haul.runner().session_for_server(&haul.saved(&server)).await.unwrap();
    let page = session.search_groups(None, None).await.unwrap();
    assert!(!page.groups.is_empty(), "the simulator's groups arrived over HTTPS");
}
