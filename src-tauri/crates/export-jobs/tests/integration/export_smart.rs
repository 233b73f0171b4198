//! Exports from a SMART Backend Services server: the key comes from the real OS keychain (`make test` runs
//! this inside dbus-run-session with gnome-keyring), tokens from the simulator's token endpoint.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulk_client::{ExportLevel, ExportRequest, HttpClient, KeyAlgorithm};
use bulk_sim::{AuthMode, Faults, RunningSim, SimConfig};
use export_jobs::{ExportRunner, JobEvent, Pacing};
use haul_store::{AuthSettings, Database, JobSettings, JobState, Keychain, NewJob};
use tokio_util::sync::CancellationToken;

struct KeyGuard(Arc<Mutex<Database>>, String);
impl Drop for KeyGuard {
    fn drop(&mut self) {
        let _ = self.0.lock().unwrap().delete_key(&Keychain, &self.1);
    }
}

async fn smart_sim(faults: Faults) -> RunningSim {
    RunningSim::start(SimConfig {
        auth: AuthMode::Smart { token_lifetime: Duration::from_secs(300) },
        prepare_time: Duration::from_millis(300),
        poll_interval_seconds: 0,
        faults,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// A job that signs in as `client_id` with key `kid`.
fn signed_job(
    db: &Mutex<Database>,
    sim: &RunningSim,
    level: ExportLevel,
    client_id: &str,
    kid: &str,
    out: std::path::PathBuf,
) -> i64 {
    let auth = AuthSettings::smart_backend(client_id, kid);
    db.lock()
        .unwrap()
        .create_job(&NewJob {
            server_id: None,
            fhir_url: sim.base_url(),
            request: ExportRequest { level: Some(level), ..Default::default() },
            settings: JobSettings { auth: Some(auth), ..JobSettings::default() },
            out_dir: out,
        })
        .unwrap()
        .id
}

fn fast() -> Pacing {
    Pacing {
        min_poll: Duration::from_millis(30),
        max_poll: Duration::from_millis(200),
        retry_base: Duration::from_millis(20),
        ..Pacing::default()
    }
}

#[tokio::test]
async fn smart_exports_sign_in_reauthorize_and_keep_tokens_off_other_origins() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Mutex::new(Database::open(&dir.path().join("haul.sqlite3")).unwrap()));
    let key = db.lock().unwrap().generate_key(&Keychain, KeyAlgorithm::ES384, "smart export test").unwrap();
    let _guard = KeyGuard(db.clone(), key.kid.clone());
    let runner = ExportRunner::new(db.clone(), HttpClient::new()).with_pacing(fast());

    for (case, level, faults) in [
        ("group", ExportLevel::Group("aco-north".into()), Faults::default()),
        ("patient", ExportLevel::Patient, Faults::default()),
        // Files on another origin (storage): reached without the token. No smart-configuration: the token
        // URL comes from the capability statement.
        (
            "redirected",
            ExportLevel::System,
            Faults { redirect_files: true, no_smart_configuration: true, ..Faults::default() },
        ),
    ] {
        let sim = smart_sim(faults).await;
        let jwks = db.lock().unwrap().key_jwks(&key.kid).unwrap();
        let client_id = sim.register_client(jwks, None).unwrap();
        let job_id = signed_job(&db, &sim, level, &client_id, &key.kid, dir.path().join(case));
        // Revoke every token right after kickoff: the next request gets 401 and Haul signs in again once.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let sink: export_jobs::EventSink = Arc::new(move |e: &JobEvent| {
            if matches!(e, JobEvent::KickedOff { .. }) {
                let _ = tx.send(());
            }
        });
        let run = runner.run(job_id, sink, CancellationToken::new());
        let watcher = async {
            if rx.recv().await.is_some() {
                sim.revoke_tokens();
            }
        };
        let (outcome, ()) = tokio::join!(run, watcher);
        let o = outcome.unwrap();
        assert_eq!(o.state, JobState::Completed, "{case}: {}", o.message);
        let stats = sim.stats();
        assert!(stats.token_requests >= 2, "{case}: re-authorized after the 401 ({})", stats.token_requests);
        if case == "redirected" {
            assert!(stats.redirected_requests > 0);
            assert_eq!(stats.redirected_with_authorization, 0, "no token to another origin");
        } else {
            assert!(stats.file_requests_with_authorization > 0, "requiresAccessToken: the files got the token");
        }
        // No secret on disk: the job row and the folder name the key, never hold it or a token.
        let row = db.lock().unwrap().get_job(job_id).unwrap().unwrap();
        let text = serde_json::to_string(&row).unwrap();
        assert!(!text.contains("eyJ"), "no JWT in the job row");
        let log = std::fs::read_to_string(dir.path().join(case).join("log.ndjson")).unwrap();
        assert!(!log.contains("eyJ") && !log.contains("Bearer"), "no token in log.ndjson");
    }
}

#[tokio::test]
async fn a_missing_key_stops_the_job_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Mutex::new(Database::open(&dir.path().join("haul.sqlite3")).unwrap()));
    let sim = smart_sim(Faults::default()).await;
    let job_id = signed_job(&db, &sim, ExportLevel::System, "x", "no-such-kid", dir.path().join("out"));
    let runner = ExportRunner::new(db.clone(), HttpClient::new()).with_pacing(fast());
    let err = runner.run(job_id, Arc::new(|_: &JobEvent| {}), CancellationToken::new()).await.unwrap_err();
    assert!(err.to_string().contains("no-such-kid"), "{err}");
    assert_eq!(sim.stats().kickoffs, 0);
    assert_eq!(db.lock().unwrap().get_job(job_id).unwrap().unwrap().state, JobState::Created, "still resumable");
}

#[tokio::test]
async fn a_demo_server_with_optional_sign_in_serves_both_kinds_of_client() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Mutex::new(Database::open(&dir.path().join("haul.sqlite3")).unwrap()));
    let key = db.lock().unwrap().generate_key(&Keychain, KeyAlgorithm::ES384, "optional sign-in test").unwrap();
    let _guard = KeyGuard(db.clone(), key.kid.clone());
    let sim = RunningSim::start(SimConfig {
        auth: AuthMode::Optional { token_lifetime: Duration::from_secs(300) },
        prepare_time: Duration::from_millis(100),
        poll_interval_seconds: 0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let runner = ExportRunner::new(db.clone(), HttpClient::new()).with_pacing(fast());
    let quiet: export_jobs::EventSink = Arc::new(|_: &JobEvent| {});

    // Without sign-in: open.
    let open = db
        .lock()
        .unwrap()
        .create_job(&NewJob {
            server_id: None,
            fhir_url: sim.base_url(),
            request: ExportRequest { level: Some(ExportLevel::Group("aco-north".into())), ..Default::default() },
            settings: JobSettings::default(),
            out_dir: dir.path().join("open"),
        })
        .unwrap();
    let o = runner.run(open.id, quiet.clone(), CancellationToken::new()).await.unwrap();
    assert_eq!(o.state, JobState::Completed, "{}", o.message);
    assert_eq!(sim.stats().token_requests, 0);

    // With sign-in: a registered key gets a token, and it is used.
    let jwks = db.lock().unwrap().key_jwks(&key.kid).unwrap();
    let client_id = sim.register_client(jwks, None).unwrap();
    let signed =
        signed_job(&db, &sim, ExportLevel::Group("aco-north".into()), &client_id, &key.kid, dir.path().join("signed"));
    let o = runner.run(signed, quiet, CancellationToken::new()).await.unwrap();
    assert_eq!(o.state, JobState::Completed, "{}", o.message);
    assert!(sim.stats().token_requests >= 1);
    assert!(sim.stats().file_requests_with_authorization > 0);

    // A bad token is refused even though no token at all would pass.
    let res =
        reqwest::Client::new().get(format!("{}/Group", sim.base_url())).bearer_auth("forged").send().await.unwrap();
    assert_eq!(res.status(), 401);
}
