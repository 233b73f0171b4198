//! A hostile server and the sign-in token (SMART Backend Services, key in the real OS keychain): the token
//! goes only to the server's origin and to storage origins the user trusts, and a token the server echoes
//! back reaches no file Haul writes, no database row and no message.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulk_client::{ExportLevel, ExportRequest, HttpClient, KeyAlgorithm};
use bulk_sim::{AuthMode, Faults, RunningSim, SimConfig};
use export_jobs::{ExportRunner, JobEvent, Pacing};
use haul_store::{AuthKind, AuthSettings, Database, JobSettings, JobState, Keychain, NewJob, ServerInput};
use tokio_util::sync::CancellationToken;

struct KeyGuard(Arc<Mutex<Database>>, String);
impl Drop for KeyGuard {
    fn drop(&mut self) {
        let _ = self.0.lock().unwrap().delete_key(&Keychain, &self.1);
    }
}

struct Signed {
    dir: tempfile::TempDir,
    db: Arc<Mutex<Database>>,
    runner: ExportRunner,
    kid: String,
    _guard: KeyGuard,
}

fn signed() -> Signed {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Mutex::new(Database::open(&dir.path().join("haul.sqlite3")).unwrap()));
    let key = db.lock().unwrap().generate_key(&Keychain, KeyAlgorithm::ES384, "hostile test").unwrap();
    let guard = KeyGuard(db.clone(), key.kid.clone());
    let pacing = Pacing {
        min_poll: Duration::from_millis(30),
        max_poll: Duration::from_millis(200),
        retry_base: Duration::from_millis(20),
        file_attempts: 2,
        ..Pacing::default()
    };
    let runner = ExportRunner::new(db.clone(), HttpClient::new()).with_pacing(pacing);
    Signed { dir, db, runner, kid: key.kid, _guard: guard }
}

async fn smart_sim(faults: Faults) -> RunningSim {
    RunningSim::start(SimConfig {
        auth: AuthMode::Smart { token_lifetime: Duration::from_secs(300) },
        prepare_time: Duration::from_millis(100),
        poll_interval_seconds: 0,
        faults,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

impl Signed {
    /// A saved server for `sim` (so its trusted origins apply) and a job on it.
    fn job(&self, sim: &RunningSim, name: &str) -> (i64, i64) {
        let jwks = self.db.lock().unwrap().key_jwks(&self.kid).unwrap();
        let client_id = sim.register_client(jwks, None).unwrap();
        let db = self.db.lock().unwrap();
        let server = db
            .add_server(&ServerInput {
                name: name.into(),
                base_url: sim.base_url(),
                auth: AuthKind::SmartBackend,
                client_id: Some(client_id.clone()),
                scope: None,
                key_kid: Some(self.kid.clone()),
                token_url: None,
                trusted_origins: Vec::new(),
                ..ServerInput::default()
            })
            .unwrap();
        let auth = AuthSettings::smart_backend(client_id, self.kid.clone());
        let job = db
            .create_job(&NewJob {
                server_id: Some(server.id),
                fhir_url: sim.base_url(),
                request: ExportRequest {
                    level: Some(ExportLevel::System),
                    types: vec!["Patient".into(), "Observation".into()],
                    ..Default::default()
                },
                settings: JobSettings { auth: Some(auth), ..JobSettings::default() },
                out_dir: self.out(name),
            })
            .unwrap();
        (server.id, job.id)
    }

    fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    async fn run(&self, id: i64, events: &Arc<Mutex<Vec<String>>>) -> export_jobs::JobOutcome {
        let events = events.clone();
        let sink: export_jobs::EventSink = Arc::new(move |e: &JobEvent| {
            events.lock().unwrap().push(serde_json::to_string(e).unwrap());
        });
        self.runner.run(id, sink, CancellationToken::new()).await.unwrap()
    }
}

#[tokio::test]
async fn files_on_another_origin_get_no_token_until_the_user_trusts_it() {
    let s = signed();
    let sim =
        smart_sim(Faults { files_on_second_origin: true, second_origin_requires_token: true, ..Faults::default() })
            .await;
    let (server_id, id) = s.job(&sim, "storage");
    let events = Arc::new(Mutex::new(Vec::new()));
    let o = s.run(id, &events).await;
    assert_eq!(o.state, JobState::Failed, "{}", o.message);
    assert!(o.message.contains(sim.second_origin()), "names the other address: {}", o.message);
    assert!(o.message.contains("Storage addresses trusted with the sign-in token"), "{}", o.message);
    let stats = sim.stats();
    assert!(stats.redirected_requests > 0);
    assert_eq!(stats.redirected_with_authorization, 0, "no token to another origin");
    assert_eq!(stats.deletes, 0);

    // The user trusts the storage address; the same job resumes and the files come.
    {
        let db = s.db.lock().unwrap();
        let server = db.get_server(server_id).unwrap();
        db.update_server(
            &Keychain,
            server_id,
            &ServerInput {
                name: server.name,
                base_url: server.base_url,
                auth: server.auth,
                client_id: server.client_id,
                scope: server.scope,
                key_kid: server.key_kid,
                token_url: server.token_url,
                trusted_origins: vec![sim.second_origin().to_string()],
                ..ServerInput::default()
            },
        )
        .unwrap();
    }
    let o = s.run(id, &events).await;
    assert_eq!(o.state, JobState::Completed, "{}", o.message);
    assert!(sim.stats().redirected_with_authorization > 0, "trusted: the token went along");
}

#[tokio::test]
async fn a_status_url_on_another_origin_gets_no_token() {
    let s = signed();
    let sim =
        smart_sim(Faults { status_on_second_origin: true, second_origin_requires_token: true, ..Faults::default() })
            .await;
    let (_, id) = s.job(&sim, "status");
    let events = Arc::new(Mutex::new(Vec::new()));
    let o = s.run(id, &events).await;
    assert_eq!(o.state, JobState::Failed, "{}", o.message);
    assert!(o.message.contains(sim.second_origin()), "{}", o.message);
    let stats = sim.stats();
    assert!(stats.redirected_requests > 0);
    assert_eq!(stats.redirected_with_authorization, 0, "no token on polls to another origin");
    assert_eq!(stats.status_requests_with_authorization, 0);
}

/// Every file under `dir`, recursively.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[tokio::test]
async fn an_echoed_token_reaches_nothing_haul_writes() {
    let s = signed();
    let sim =
        smart_sim(Faults { echo_authorization: true, failing_types: vec!["Observation".into()], ..Faults::default() })
            .await;
    let (_, id) = s.job(&sim, "echo");
    let events = Arc::new(Mutex::new(Vec::new()));
    let o = s.run(id, &events).await;
    assert_eq!(o.state, JobState::CompletedWithProblems, "{}", o.message);
    let tokens = sim.issued_tokens();
    assert!(!tokens.is_empty());
    // The server did echo it: the error file's summary shows where it was taken out.
    assert!(o.problems.iter().any(|p| p.contains("Bearer [redacted]")), "{:?}", o.problems);
    let mut written: Vec<(String, Vec<u8>)> =
        walk(s.dir.path()).into_iter().map(|p| (p.display().to_string(), std::fs::read(&p).unwrap())).collect();
    written.push(("events".into(), events.lock().unwrap().join("\n").into_bytes()));
    written.push(("outcome".into(), format!("{} {:?} {:?}", o.message, o.problems, o.failure).into_bytes()));
    let row = s.db.lock().unwrap().get_job(id).unwrap().unwrap();
    written.push(("job row".into(), serde_json::to_vec(&row).unwrap()));
    for token in &tokens {
        for (name, bytes) in &written {
            assert!(memchr::memmem::find(bytes, token.as_bytes()).is_none(), "the access token reached {name}");
        }
    }
    let log = std::fs::read_to_string(s.out("echo").join("log.ndjson")).unwrap();
    assert!(log.contains("[redacted]"), "the echo was there, and was cleaned");
}

#[tokio::test]
async fn a_manifest_without_requires_access_token_still_gets_its_files() {
    // Older HAPI: no `requiresAccessToken` in the manifest, while its files need the token.
    let s = signed();
    let sim = smart_sim(Faults { omit_requires_access_token: true, ..Faults::default() }).await;
    let (_, id) = s.job(&sim, "hapi");
    let events = Arc::new(Mutex::new(Vec::new()));
    let o = s.run(id, &events).await;
    assert_eq!(o.state, JobState::Completed, "{}", o.message);
    assert!(sim.stats().file_requests_with_authorization > 0, "the token went to the server's own origin");
}
