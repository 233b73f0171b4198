//! Corporate networks end to end over real sockets against the simulator: an export through a proxy that
//! asks for a user name and password (the password from the OS keychain, seen by the proxy only), a wrong
//! proxy password stopping the job in words that name the proxy, and a server that asks for a client
//! certificate (the certificate from the keychain). `make test` runs these inside dbus-run-session with
//! gnome-keyring.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulk_client::{ExportLevel, ExportRequest, HttpClient};
use bulk_sim::{RunningSim, SimConfig, SimProxy, SimTls};
use export_jobs::{ExportPlan, ExportRunner, JobEvent, JobOutcome, Pacing};
use haul_store::{AuthKind, Database, JobState, Keychain, ProxyInput, Server, ServerInput};
use tokio_util::sync::CancellationToken;

const PROXY_PASSWORD: &str = "proxy-secret-for-the-keychain-31337";

async fn sim(tls: Option<SimTls>) -> RunningSim {
    RunningSim::start(SimConfig {
        prepare_time: Duration::from_millis(50),
        poll_interval_seconds: 0,
        tls,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// A data folder and database; its servers (and their keychain entries) are removed at the end.
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

    /// An open server at `sim`, trusting its CA when it serves HTTPS.
    fn server(&self, name: &str, sim: &RunningSim) -> Server {
        let input =
            ServerInput { name: name.into(), base_url: sim.base_url(), auth: AuthKind::Open, ..ServerInput::default() };
        let db = self.db.lock().unwrap();
        let server = db.add_server(&input).unwrap();
        self.servers.lock().unwrap().push(server.id);
        if let Some(ca) = sim.ca_certificate_pem() {
            let path = self.dir.path().join(format!("{name}-ca.pem"));
            std::fs::write(&path, ca).unwrap();
            db.set_server_ca_file(server.id, Some(&path)).unwrap();
        }
        server
    }

    fn set_proxy(&self, server: &Server, proxy: &SimProxy, password: &str) {
        let input = ProxyInput { url: proxy.url(), username: Some("nurse".into()), password: Some(password.into()) };
        self.db.lock().unwrap().set_server_proxy(&Keychain, server.id, Some(&input)).unwrap();
    }

    fn plan(&self, server: &Server, folder: &str) -> i64 {
        let request = ExportRequest { level: Some(ExportLevel::System), ..Default::default() };
        let mut plan = ExportPlan::for_saved(server.id, request);
        plan.out_dir = Some(self.dir.path().join(folder));
        plan.create(&self.db.lock().unwrap(), self.dir.path()).unwrap().job.id
    }

    async fn run(&self, id: i64) -> JobOutcome {
        let pacing = Pacing {
            min_poll: Duration::from_millis(20),
            max_poll: Duration::from_millis(200),
            retry_base: Duration::from_millis(20),
            ..Pacing::default()
        };
        let runner = ExportRunner::new(self.db.clone(), HttpClient::new()).with_pacing(pacing);
        runner.run(id, Arc::new(|_: &JobEvent| {}), CancellationToken::new()).await.unwrap()
    }

    /// Every file Haul wrote (database, export folders), for secrets that must not be there.
    fn assert_nowhere_on_disk(&self, secrets: &[&str]) {
        let mut stack = vec![self.dir.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let bytes = std::fs::read(&path).unwrap();
                for s in secrets {
                    assert!(!bytes.windows(s.len()).any(|w| w == s.as_bytes()), "{s} found in {}", path.display());
                }
            }
        }
    }
}

#[tokio::test]
async fn an_export_goes_through_the_proxy_whose_password_reaches_the_proxy_only() {
    let haul = Haul::new();
    let proxy = SimProxy::start("nurse", PROXY_PASSWORD).await.unwrap();
    for (name, sim) in [("plain", sim(None).await), ("tls", sim(Some(SimTls::default())).await)] {
        let server = haul.server(name, &sim);
        haul.set_proxy(&server, &proxy, PROXY_PASSWORD);
        let done = haul.run(haul.plan(&server, name)).await;
        assert_eq!(done.state, JobState::Completed, "{name}: {}", done.message);
        let resources: u64 = done.totals.iter().map(|t| t.resources).sum();
        assert_eq!(resources, sim.resource_counts().values().sum::<u64>(), "{name}");
        let stats = sim.stats();
        assert_eq!(stats.proxy_authorization_seen, 0, "{name}: the server never sees the proxy's credentials");
        assert_eq!(stats.file_requests_with_authorization + stats.status_requests_with_authorization, 0, "{name}");
    }
    let stats = proxy.stats();
    assert!(stats.forwarded > 0 && stats.tunnels > 0, "{stats:?}");
    assert_eq!(stats.refused, 0, "{stats:?}");
    assert_eq!(stats.with_credentials, stats.requests, "{stats:?}");
    // Nor the `Proxy-Authorization` value, in whatever file.
    let encoded = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("nurse:{PROXY_PASSWORD}"))
    };
    haul.assert_nowhere_on_disk(&[PROXY_PASSWORD, &encoded]);
}

#[tokio::test]
async fn a_wrong_proxy_password_stops_the_job_in_words_that_name_the_proxy() {
    let haul = Haul::new();
    let proxy = SimProxy::start("nurse", PROXY_PASSWORD).await.unwrap();
    let sim = sim(Some(SimTls::default())).await;
    let server = haul.server("hospital", &sim);
    haul.set_proxy(&server, &proxy, "an-old-password-0000");
    let id = haul.plan(&server, "hospital");
    let failed = haul.run(id).await;
    assert_eq!(failed.state, JobState::Failed);
    assert!(failed.message.contains(&format!("The proxy {}", proxy.url())), "{}", failed.message);
    assert!(failed.message.contains("refused the proxy user name and password"), "{}", failed.message);
    assert_eq!(sim.stats().kickoffs, 0, "nothing reached the server");

    // IT gives the new password; the same job then completes.
    haul.set_proxy(&server, &proxy, PROXY_PASSWORD);
    let done = haul.run(id).await;
    assert_eq!(done.state, JobState::Completed, "{}", done.message);
    haul.assert_nowhere_on_disk(&[PROXY_PASSWORD, "an-old-password-0000"]);
}

#[tokio::test]
async fn a_server_that_asks_for_a_client_certificate_gets_the_saved_one() {
    let haul = Haul::new();
    let sim = sim(Some(SimTls { require_client_certificate: true, ..SimTls::default() })).await;
    let server = haul.server("gateway", &sim);
    let id = haul.plan(&server, "gateway");
    let failed = haul.run(id).await;
    assert_eq!(failed.state, JobState::Failed);
    assert!(failed.message.contains("asks for a client certificate"), "{}", failed.message);

    let identity = sim.client_identity_pem().unwrap();
    let file = haul.dir.path().join("client.pem");
    std::fs::write(&file, &identity).unwrap();
    let saved = haul.db.lock().unwrap().set_server_client_certificate(&Keychain, server.id, Some(&file), None).unwrap();
    assert_eq!(saved.client_certificate.unwrap().subject, "CN=Haul test client");
    std::fs::remove_file(&file).unwrap();
    let done = haul.run(id).await;
    assert_eq!(done.state, JobState::Completed, "{}", done.message);
    let key_line = identity.split("PRIVATE KEY-----").nth(1).unwrap().lines().nth(1).unwrap().to_string();
    haul.assert_nowhere_on_disk(&[&key_line]);
}
