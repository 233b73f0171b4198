//! Sign-in methods besides SMART Backend Services, end to end over real HTTP against the simulator: a client
//! ID and secret (HTTP Basic and form fields, a scope and extra token parameters, a token renewed after a
//! 401) and a bearer token given by hand. Secrets come from the real OS keychain (`make test` runs this
//! inside dbus-run-session with gnome-keyring) and must not reach the job row or the export folder.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulk_client::{ExportLevel, ExportRequest, HttpClient, SecretStyle};
use bulk_sim::{AuthMode, RunningSim, SimConfig};
use export_jobs::{EventSink, ExportPlan, ExportRunner, JobEvent, JobOutcome, Pacing};
use haul_store::{
    AuthKind, AuthSettings, Database, JobSettings, JobState, Keychain, NewJob, SecretRef, Server, ServerInput,
};
use tokio_util::sync::CancellationToken;

fn fast() -> Pacing {
    Pacing {
        min_poll: Duration::from_millis(30),
        max_poll: Duration::from_millis(200),
        retry_base: Duration::from_millis(20),
        ..Pacing::default()
    }
}

async fn sim(auth: AuthMode) -> RunningSim {
    RunningSim::start(SimConfig {
        auth,
        prepare_time: Duration::from_millis(200),
        poll_interval_seconds: 0,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn sim_style(style: SecretStyle) -> bulk_sim::SecretStyle {
    match style {
        SecretStyle::Basic => bulk_sim::SecretStyle::Basic,
        SecretStyle::Post => bulk_sim::SecretStyle::Post,
    }
}

/// A data folder with its database, and the servers' keychain entries removed at the end.
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

    /// A saved server and, when given, its secret in the keychain.
    fn server(&self, input: ServerInput, secret: Option<&str>) -> Server {
        let db = self.db.lock().unwrap();
        let server = db.add_server(&input).unwrap();
        self.servers.lock().unwrap().push(server.id);
        match secret {
            Some(s) => db.set_server_secret(&Keychain, server.id, s).unwrap(),
            None => server,
        }
    }

    fn plan(&self, server: &Server, folder: &str) -> i64 {
        let request = ExportRequest { level: Some(ExportLevel::Group("aco-north".into())), ..Default::default() };
        let mut plan = ExportPlan::for_saved(server.id, request);
        plan.out_dir = Some(self.dir.path().join(folder));
        plan.create(&self.db.lock().unwrap(), self.dir.path()).unwrap().job.id
    }

    fn runner(&self) -> ExportRunner {
        ExportRunner::new(self.db.clone(), HttpClient::new()).with_pacing(fast())
    }

    async fn run(&self, id: i64) -> JobOutcome {
        self.runner().run(id, Arc::new(|_: &JobEvent| {}), CancellationToken::new()).await.unwrap()
    }

    /// Runs job `id`, revoking every token the moment the export is kicked off: the next request gets 401.
    async fn run_revoking_after_kickoff(&self, id: i64, sim: &RunningSim) -> JobOutcome {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let sink: EventSink = Arc::new(move |e: &JobEvent| {
            if matches!(e, JobEvent::KickedOff { .. }) {
                let _ = tx.send(());
            }
        });
        let runner = self.runner();
        let run = runner.run(id, sink, CancellationToken::new());
        let revoke = async {
            if rx.recv().await.is_some() {
                sim.revoke_tokens();
            }
        };
        let (outcome, ()) = tokio::join!(run, revoke);
        outcome.unwrap()
    }

    /// Fails if any of `secrets` is in the job's row or anywhere in its export folder.
    fn assert_no_secret_on_disk(&self, id: i64, folder: &str, secrets: &[String]) {
        let row = self.db.lock().unwrap().get_job(id).unwrap().unwrap();
        let mut places = vec![("the job row".to_string(), serde_json::to_vec(&row).unwrap())];
        all_files(&self.dir.path().join(folder), &mut places);
        assert!(places.iter().any(|(p, _)| p.ends_with("log.ndjson")), "the folder has the export's log");
        for (place, bytes) in &places {
            for secret in secrets.iter().filter(|s| s.len() >= 8) {
                let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
                assert!(!found, "a secret ({}…) is in {place}", &secret[..4]);
            }
        }
    }
}

fn all_files(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
}

fn secret_server(name: &str, sim: &RunningSim, client_id: &str, style: SecretStyle) -> ServerInput {
    ServerInput {
        name: name.into(),
        base_url: sim.base_url(),
        auth: AuthKind::ClientSecret,
        client_id: Some(client_id.into()),
        secret_style: Some(style),
        ..ServerInput::default()
    }
}

#[tokio::test]
async fn client_secret_exports_run_end_to_end_in_both_styles_and_sign_in_again_after_a_401() {
    let haul = Haul::new();
    for style in [SecretStyle::Basic, SecretStyle::Post] {
        let sim = sim(AuthMode::ClientSecret {
            token_lifetime: Duration::from_secs(300),
            style: sim_style(style),
            required_scope: None,
        })
        .await;
        let (client_id, secret) = sim.register_secret_client();
        let name = format!("BCDA {}", style.as_str());
        let server = haul.server(secret_server(&name, &sim, &client_id, style), Some(&secret));
        let folder = style.as_str();
        let id = haul.plan(&server, folder);
        let o = haul.run_revoking_after_kickoff(id, &sim).await;
        assert_eq!(o.state, JobState::Completed, "{style:?}: {}", o.message);
        let stats = sim.stats();
        assert!(stats.token_requests >= 2, "{style:?}: signed in again after the 401 ({})", stats.token_requests);
        assert!(stats.file_requests_with_authorization > 0, "{style:?}: the files got the token");
        let expected: &[&str] = match style {
            SecretStyle::Basic => &["grant_type"],
            SecretStyle::Post => &["client_id", "client_secret", "grant_type"],
        };
        assert_eq!(stats.token_form_fields, expected, "{style:?}: no scope unless one is set");
        // The job names where the secret is, never the secret.
        let row = haul.db.lock().unwrap().get_job(id).unwrap().unwrap();
        let auth = row.settings.auth.unwrap();
        assert_eq!(auth.secret, Some(SecretRef::Keychain { server_id: server.id }));
        let mut secrets = sim.issued_tokens();
        secrets.push(secret.clone());
        haul.assert_no_secret_on_disk(id, folder, &secrets);
    }
}

#[tokio::test]
async fn a_scope_and_extra_token_parameters_reach_the_token_endpoint() {
    let haul = Haul::new();
    let scope = "https://fhir.example.test/.default";
    let sim = sim(AuthMode::ClientSecret {
        token_lifetime: Duration::from_secs(300),
        style: bulk_sim::SecretStyle::Post,
        required_scope: Some(scope.into()),
    })
    .await;
    let (client_id, secret) = sim.register_secret_client();
    let input = ServerInput {
        scope: Some(scope.into()),
        token_params: vec![
            ("audience".into(), "https://api.example.test".into()),
            ("resource".into(), "https://fhir.example.test".into()),
        ],
        ..secret_server("Azure", &sim, &client_id, SecretStyle::Post)
    };
    let server = haul.server(input, Some(&secret));
    let id = haul.plan(&server, "azure");
    let o = haul.run(id).await;
    assert_eq!(o.state, JobState::Completed, "{}", o.message);
    assert_eq!(
        sim.stats().token_form_fields,
        ["audience", "client_id", "client_secret", "grant_type", "resource", "scope"]
    );
}

#[tokio::test]
async fn a_wrong_secret_or_style_fails_in_plain_words_without_the_secret() {
    let haul = Haul::new();
    let sim = sim(AuthMode::ClientSecret {
        token_lifetime: Duration::from_secs(300),
        style: bulk_sim::SecretStyle::Basic,
        required_scope: None,
    })
    .await;
    let (client_id, _) = sim.register_secret_client();
    let wrong = "not-the-registered-secret-2f7c1e";
    let server = haul.server(secret_server("Wrong", &sim, &client_id, SecretStyle::Basic), Some(wrong));
    let id = haul.plan(&server, "wrong");
    let o = haul.run(id).await;
    assert_eq!(o.state, JobState::Failed);
    assert!(o.message.contains(&format!("refused the client ID “{client_id}” and its secret")), "{}", o.message);
    assert!(o.message.contains("client_secret_post"), "names the other style as a possible cause: {}", o.message);
    assert!(!o.message.contains(wrong), "{}", o.message);
    assert_eq!(sim.stats().kickoffs, 0, "nothing sent to the FHIR server without a token");
    haul.assert_no_secret_on_disk(id, "wrong", &[wrong.to_string()]);

    // The right secret, sent as form fields to a server that wants HTTP Basic: the style is named.
    let (client_id, secret) = sim.register_secret_client();
    let server = haul.server(secret_server("Post to Basic", &sim, &client_id, SecretStyle::Post), Some(&secret));
    let o = haul.run(haul.plan(&server, "style")).await;
    assert_eq!(o.state, JobState::Failed);
    assert!(o.message.contains("client_secret_basic"), "{}", o.message);
}

#[tokio::test]
async fn a_pasted_bearer_token_exports_and_a_refused_one_is_named() {
    let haul = Haul::new();
    let token = "gateway-api-key-5e1d7a9c3b";
    let sim = sim(AuthMode::StaticBearer { token: token.into() }).await;
    let bearer = |name: &str| ServerInput {
        name: name.into(),
        base_url: sim.base_url(),
        auth: AuthKind::BearerToken,
        ..ServerInput::default()
    };
    let server = haul.server(bearer("Gateway"), Some(token));
    let id = haul.plan(&server, "bearer");
    let o = haul.run(id).await;
    assert_eq!(o.state, JobState::Completed, "{}", o.message);
    assert_eq!(sim.stats().token_requests, 0, "no token endpoint");
    haul.assert_no_secret_on_disk(id, "bearer", &[token.to_string()]);

    let wrong = "expired-api-key-000000000";
    let server = haul.server(bearer("Gateway, expired"), Some(wrong));
    let id = haul.plan(&server, "refused");
    let o = haul.run(id).await;
    assert_eq!(o.state, JobState::Failed);
    assert!(o.message.contains("refused the bearer token"), "{}", o.message);
    assert!(o.message.contains("cannot renew"), "{}", o.message);
    assert!(!o.message.contains(wrong), "{}", o.message);
    let failure = o.failure.unwrap();
    assert!(!failure.detail.unwrap_or_default().contains(wrong));
}

#[tokio::test]
async fn a_missing_secret_stops_the_export_before_anything_is_sent() {
    let haul = Haul::new();
    let sim = sim(AuthMode::StaticBearer { token: "never-sent-token-123".into() }).await;
    let server = haul.server(
        ServerInput {
            name: "No token yet".into(),
            base_url: sim.base_url(),
            auth: AuthKind::BearerToken,
            ..ServerInput::default()
        },
        None,
    );
    let request = ExportRequest { level: Some(ExportLevel::System), ..Default::default() };
    let err = ExportPlan::for_saved(server.id, request.clone())
        .create(&haul.db.lock().unwrap(), haul.dir.path())
        .unwrap_err();
    assert!(err.to_string().contains("bearer token, and none is saved"), "{err}");
    assert!(err.to_string().contains("Servers page"), "{err}");

    // A job that reads its secret from an environment variable that is not set (the command line's).
    let auth = AuthSettings::bearer_token(SecretRef::Environment { variable: "HAUL_TEST_UNSET_TOKEN_VAR".into() });
    let job = haul
        .db
        .lock()
        .unwrap()
        .create_job(&NewJob {
            server_id: None,
            fhir_url: sim.base_url(),
            request,
            settings: JobSettings { auth: Some(auth), ..JobSettings::default() },
            out_dir: haul.dir.path().join("env"),
        })
        .unwrap();
    let err = haul.runner().run(job.id, Arc::new(|_: &JobEvent| {}), CancellationToken::new()).await.unwrap_err();
    assert!(err.to_string().contains("HAUL_TEST_UNSET_TOKEN_VAR, which is not set"), "{err}");
    assert_eq!(sim.stats().kickoffs, 0);
    let state = haul.db.lock().unwrap().get_job(job.id).unwrap().unwrap().state;
    assert_eq!(state, JobState::Created, "still resumable once the variable is set");
}
