//! SMART Backend Services registrations that differ from "a JWKS with Haul's kid", end to end over real HTTP
//! against the simulator, keys in the real OS keychain:
//! - DPC-like: the public key uploaded as PEM with a signed snippet, a key id the server assigns, a long client
//!   token as the client id, RS384 only;
//! - Epic-like: the client registered by JWKS URL, which each assertion names in `jku`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulk_client::{ExportLevel, ExportRequest, HttpClient, KeyAlgorithm};
use bulk_sim::{AuthMode, RunningSim, SimConfig};
use export_jobs::{ExportPlan, ExportRunner, JobEvent, JobOutcome, Pacing};
use haul_store::{AuthKind, Database, JobState, Keychain, Server, ServerInput};
use tokio_util::sync::CancellationToken;

/// A data folder; its keys and servers leave the keychain at the end.
struct Haul {
    dir: tempfile::TempDir,
    db: Arc<Mutex<Database>>,
    kids: Mutex<Vec<String>>,
    servers: Mutex<Vec<i64>>,
}

impl Drop for Haul {
    fn drop(&mut self) {
        let db = self.db.lock().unwrap_or_else(|p| p.into_inner());
        for id in self.servers.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            let _ = db.remove_server(&Keychain, id);
        }
        for kid in self.kids.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            let _ = db.delete_key(&Keychain, &kid);
        }
    }
}

impl Haul {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Mutex::new(Database::open(&dir.path().join("haul.db")).unwrap()));
        Self { dir, db, kids: Mutex::new(Vec::new()), servers: Mutex::new(Vec::new()) }
    }

    fn key(&self, alg: KeyAlgorithm, bits: Option<u32>) -> String {
        let key = self.db.lock().unwrap().generate_key_sized(&Keychain, alg, bits, "registration test").unwrap();
        self.kids.lock().unwrap().push(key.kid.clone());
        key.kid
    }

    fn server(&self, input: ServerInput) -> Server {
        let server = self.db.lock().unwrap().add_server(&input).unwrap();
        self.servers.lock().unwrap().push(server.id);
        server
    }

    async fn export(&self, server: &Server) -> JobOutcome {
        let request = ExportRequest { level: Some(ExportLevel::Group("aco-north".into())), ..Default::default() };
        let mut plan = ExportPlan::for_saved(server.id, request);
        plan.out_dir = Some(self.dir.path().join(format!("export-{}", server.id)));
        let id = plan.create(&self.db.lock().unwrap(), self.dir.path()).unwrap().job.id;
        let pacing = Pacing {
            min_poll: Duration::from_millis(30),
            max_poll: Duration::from_millis(200),
            retry_base: Duration::from_millis(20),
            ..Pacing::default()
        };
        let runner = ExportRunner::new(self.db.clone(), HttpClient::new()).with_pacing(pacing);
        runner.run(id, Arc::new(|_: &JobEvent| {}), CancellationToken::new()).await.unwrap()
    }
}

async fn smart_sim() -> RunningSim {
    RunningSim::start(SimConfig {
        auth: AuthMode::Smart { token_lifetime: Duration::from_secs(300) },
        poll_interval_seconds: 0,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn smart_server(name: &str, sim: &RunningSim, client_id: &str, kid: &str) -> ServerInput {
    ServerInput {
        name: name.into(),
        base_url: sim.base_url(),
        auth: AuthKind::SmartBackend,
        client_id: Some(client_id.into()),
        scope: Some("system/*.read".into()),
        key_kid: Some(kid.into()),
        ..ServerInput::default()
    }
}

#[tokio::test]
async fn a_dpc_like_server_takes_the_pem_the_signed_snippet_and_its_own_key_id() {
    let sim = smart_sim().await;
    let haul = Haul::new();
    let kid = haul.key(KeyAlgorithm::RS384, Some(4096));
    let (pem, signature) = {
        let db = haul.db.lock().unwrap();
        (db.key_public_pem(&kid).unwrap(), db.sign_proof_with_key(&Keychain, &kid, bulk_sim::DPC_SNIPPET.as_bytes()))
    };
    let signature = signature.unwrap();
    assert!(signature.lines().all(|l| l.len() <= 64), "openssl base64's line length: {signature}");

    // The portal checks the signature: one made over other text is refused.
    let other = haul.db.lock().unwrap().sign_proof_with_key(&Keychain, &kid, b"another file").unwrap();
    assert!(sim.register_dpc_client(&pem, &other).unwrap_err().contains("does not match"));
    let (client_token, assigned_kid) = sim.register_dpc_client(&pem, &signature).unwrap();
    assert_ne!(assigned_kid, kid);

    // With Haul's own kid the server does not know the key; with the id it assigned, the export completes.
    let plain = haul.server(smart_server("DPC without its key id", &sim, &client_token, &kid));
    let outcome = haul.export(&plain).await;
    assert_eq!(outcome.state, JobState::Failed, "{outcome:?}");
    let message = format!("{outcome:?}");
    assert!(message.contains("no public key with id"), "the server's words reach the user: {message}");

    let dpc = haul.server(ServerInput {
        assertion_kid: Some(assigned_kid.clone()),
        ..smart_server("DPC", &sim, &client_token, &kid)
    });
    assert_eq!(dpc.assertion_kid.as_deref(), Some(assigned_kid.as_str()));
    let outcome = haul.export(&dpc).await;
    assert_eq!(outcome.state, JobState::Completed, "{outcome:?}");

    // DPC takes RSA only: an elliptic-curve key cannot sign the snippet, and says what to do instead.
    let ec = haul.key(KeyAlgorithm::ES384, None);
    let err = haul.db.lock().unwrap().sign_proof_with_key(&Keychain, &ec, b"x").unwrap_err();
    assert!(err.to_string().contains("Create an RSA key"), "{err}");
}

#[tokio::test]
async fn an_epic_like_server_registered_by_jwks_url_gets_the_url_in_jku() {
    let sim = smart_sim().await;
    let haul = Haul::new();
    let kid = haul.key(KeyAlgorithm::RS384, None);
    let jwks = haul.db.lock().unwrap().key_jwks(&kid).unwrap();
    let url = "https://keys.example.org/haul/jwks.json";
    let client_id = sim.register_client_by_jwks_url(jwks, url).unwrap();

    let without = haul.server(smart_server("Epic without jku", &sim, &client_id, &kid));
    let outcome = haul.export(&without).await;
    assert_eq!(outcome.state, JobState::Failed);
    assert!(format!("{outcome:?}").contains("must name it in jku"), "{outcome:?}");

    let wrong = haul.server(ServerInput {
        jku: Some("https://keys.example.org/other.json".into()),
        ..smart_server("Epic, another URL", &sim, &client_id, &kid)
    });
    assert_eq!(haul.export(&wrong).await.state, JobState::Failed);

    let epic = haul.server(ServerInput { jku: Some(url.into()), ..smart_server("Epic", &sim, &client_id, &kid) });
    let outcome = haul.export(&epic).await;
    assert_eq!(outcome.state, JobState::Completed, "{outcome:?}");
}
