//! A FHIR Bulk Data server simulator with real HTTP on loopback.
//!
//! It serves the server side of the Bulk Data IG (v2.0.0) and of SMART Backend Services so that Haul's
//! protocol code is tested against real sockets, and it misbehaves on request (see [`Faults`]) the way
//! servers in the wild do, and the way hostile ones would. Three uses: in-process from tests (random port), `haul sim` on the command
//! line, and the app's built-in demo server.
//!
//! Data comes from a deterministic generator ([`DataSource::Generated`]) or a folder of NDJSON files
//! ([`DataSource::Folder`]). An export is prepared by writing its files to a private temporary folder while
//! the status endpoint answers 202, then served from disk, so serving is never the client's bottleneck.
//!
//! Generated data can change between exports: [`RunningSim::advance_timeline`] moves it on by one epoch of
//! updates, creations, deletions and group membership changes, so incremental exports find real changes.

mod auth;
mod capability;
mod control;
mod export;
mod faults;
mod files;
pub mod generate;
mod groups;
mod hostile;
mod outcome;
mod proxy;
mod rng;
mod second_origin;
mod source;
mod timeline;
mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use auth::{ClientRegistration, DPC_SNIPPET};
pub use faults::{Faults, MetadataFault, RetryAfter, TokenAnswerFault};
pub use proxy::{ProxyStats, SimProxy};
pub use timeline::{EpochChanges, ResourceChange};
pub use tls::{LeafCertificate, OTHER_NAME, SimTls, foreign_client_identity_pem};

/// Where the simulator's resources come from.
#[derive(Debug, Clone)]
pub enum DataSource {
    /// The deterministic generator: the same seed and count always give the same data.
    Generated { seed: u64, patients: u64 },
    /// A folder of `Type*.ndjson` / `.ndjson.gz` files, such as a Synthea export. Group membership comes
    /// from the folder's Group resources and from references to Patient. A folder's data has no timeline: it
    /// stays as it is ([`RunningSim::advance_timeline`] refuses it).
    Folder(PathBuf),
}

/// Authorization: none, SMART Backend Services with a client registry, client secrets, or one fixed token.
#[derive(Debug, Clone)]
pub enum AuthMode {
    Open,
    Smart {
        /// Lifetime of issued access tokens.
        token_lifetime: Duration,
    },
    /// Open to everyone, and SMART sign-in works too: a request that carries a bearer token must carry a
    /// valid one. The app's demo server runs this way, so sign-in can be tried without an account.
    Optional {
        token_lifetime: Duration,
    },
    /// A client credentials grant authenticated by a client secret, as BCDA, AB2D and Azure Entra ID take it
    /// (clients from [`RunningSim::register_secret_client`]). The tokens it issues are checked like SMART ones.
    ClientSecret {
        token_lifetime: Duration,
        style: SecretStyle,
        /// The one scope a token request must ask for (e.g. `https://fhir.example/.default`, as Entra);
        /// `None` takes any scope or none.
        required_scope: Option<String>,
    },
    /// Every FHIR request needs `Authorization: Bearer <token>` with this token: an API key handed out by a
    /// portal. No token endpoint, no SMART discovery.
    StaticBearer {
        token: String,
    },
}

/// Where a secret client puts its credentials in the token request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretStyle {
    /// `Authorization: Basic base64(client_id:client_secret)` (`client_secret_basic`; BCDA, AB2D).
    Basic,
    /// `client_id` and `client_secret` form fields (`client_secret_post`; Azure Entra ID).
    Post,
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub data: DataSource,
    pub auth: AuthMode,
    /// Resources per NDJSON file before a type is split into another file.
    pub resources_per_file: u64,
    /// The status endpoint answers 202 at least this long after kickoff.
    pub prepare_time: Duration,
    /// The `Retry-After` (seconds) sent with 202 while preparing.
    pub poll_interval_seconds: u64,
    /// Refuse kickoffs without `Prefer: respond-async` or with an `Accept` other than FHIR JSON (400).
    pub strict_headers: bool,
    pub faults: Faults,
    /// Mount the test and benchmark routes: `/_sim/faults`, `/_sim/stats` and `/_sim/register` (a client
    /// registered over HTTP), `/_sim/timeline/advance`. On by default, for tests and `haul sim`; the app's demo server turns them off,
    /// since anyone who can reach its port could otherwise change its faults or register clients. Off, they
    /// are not mounted at all (404); `RunningSim`'s methods work either way.
    pub control_routes: bool,
    /// Serve both origins over HTTPS with a certificate from a private CA made at start (base URLs become
    /// `https://…`; trust it with [`RunningSim::ca_certificate_pem`]). `None`: plain HTTP.
    pub tls: Option<SimTls>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            data: DataSource::Generated { seed: 42, patients: 100 },
            auth: AuthMode::Open,
            resources_per_file: 10_000,
            prepare_time: Duration::from_millis(0),
            poll_interval_seconds: 1,
            strict_headers: false,
            faults: Faults::default(),
            control_routes: true,
            tls: None,
        }
    }
}

impl SimConfig {
    /// Kept for the connection-test fault tests: an open generated server whose metadata misbehaves.
    pub fn with_metadata_fault(fault: MetadataFault) -> Self {
        let mut config = Self::default();
        config.faults.metadata = fault;
        config
    }
}

/// What happened, for tests that check the client's behaviour (e.g. that no file was fetched twice).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub kickoffs: u32,
    pub status_polls: u32,
    pub deletes: u32,
    pub token_requests: u32,
    /// Requests per file name (on either origin, redirects not counted).
    pub file_requests: HashMap<String, u32>,
    /// Requests that arrived at the second origin (files and status alike, refused ones too), and how
    /// many of them carried `Authorization`.
    pub redirected_requests: u32,
    pub redirected_with_authorization: u32,
    /// File requests on the main origin that carried `Authorization`.
    pub file_requests_with_authorization: u32,
    /// Status polls and DELETEs, on either origin and refused ones too, that carried `Authorization`.
    pub status_requests_with_authorization: u32,
    pub deletes_with_authorization: u32,
    /// File requests answered 429 or 503 by `Faults::file_429_every`, `file_503_every` or
    /// `max_concurrent_files` (not counted in `file_requests`).
    pub files_throttled: u32,
    /// The form field names of the last token request, sorted (e.g. to see an `audience` or `resource` sent).
    pub token_form_fields: Vec<String>,
    /// Requests on either origin that carried `Proxy-Authorization`: a proxy's credentials reaching the server.
    pub proxy_authorization_seen: u32,
}

pub(crate) struct Sim {
    pub config: SimConfig,
    pub faults: Mutex<Faults>,
    pub stats: Mutex<Stats>,
    pub source: source::Source,
    pub auth: auth::AuthState,
    pub jobs: export::Jobs,
    /// `http://127.0.0.1:PORT` (`https://` with `SimConfig::tls`) of the main origin and of the redirect origin.
    pub origin: String,
    pub second_origin: String,
    pub work_dir: tempfile::TempDir,
    pub next_id: AtomicU64,
    /// File requests so far, for `Faults::file_429_every` and `file_503_every`.
    pub file_request_number: AtomicU64,
    /// File bodies streaming now, for `Faults::max_concurrent_files` (shared with the bodies, which count
    /// themselves out when they end or are dropped).
    pub streaming_files: Arc<AtomicU32>,
    /// The `transactionTime` of the last export that completed, for `Faults::default_since_last`.
    pub last_transaction_time: Mutex<Option<OffsetDateTime>>,
    /// How the generated data has changed since start: empty until the first `advance_timeline`.
    pub timeline: Mutex<timeline::Timeline>,
}

impl Sim {
    pub fn base_url(&self) -> String {
        format!("{}/fhir", self.origin)
    }

    /// The token endpoint issues tokens (and the capability statement names it).
    pub fn issues_tokens(&self) -> bool {
        matches!(self.config.auth, AuthMode::Smart { .. } | AuthMode::Optional { .. } | AuthMode::ClientSecret { .. })
    }

    /// What the manifest's `requiresAccessToken` says: files need the bearer token.
    pub fn requires_access_token(&self) -> bool {
        !matches!(self.config.auth, AuthMode::Open)
    }

    pub fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn stats(&self) -> std::sync::MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn timeline(&self) -> std::sync::MutexGuard<'_, timeline::Timeline> {
        self.timeline.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running simulator. Dropping it stops the server and removes its files.
pub struct RunningSim {
    sim: Arc<Sim>,
    shutdown: Vec<oneshot::Sender<()>>,
    /// The private CA's certificate, when serving HTTPS.
    ca_pem: Option<String>,
    /// A client certificate and key (PEM) the private CA issued, when serving HTTPS.
    client_identity_pem: Option<String>,
}

impl RunningSim {
    /// Starts on `127.0.0.1` at a free port (and a second free port for the redirect origin).
    pub async fn start(config: SimConfig) -> std::io::Result<Self> {
        Self::start_on(([127, 0, 0, 1], 0).into(), config).await
    }

    pub async fn start_on(addr: SocketAddr, config: SimConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let second = TcpListener::bind(SocketAddr::new(addr.ip(), 0)).await?;
        let certificates = config.tls.map(tls::issue).transpose()?;
        let scheme = if certificates.is_some() { "https" } else { "http" };
        let origin = format!("{scheme}://{}", listener.local_addr()?);
        let second_origin = format!("{scheme}://{}", second.local_addr()?);
        let source = source::Source::load(&config.data).map_err(std::io::Error::other)?;
        let sim = Arc::new(Sim {
            faults: Mutex::new(config.faults.clone()),
            config,
            stats: Mutex::new(Stats::default()),
            source,
            auth: auth::AuthState::default(),
            jobs: export::Jobs::default(),
            origin,
            second_origin,
            work_dir: work_dir()?,
            next_id: AtomicU64::new(1),
            file_request_number: AtomicU64::new(0),
            streaming_files: Arc::new(AtomicU32::new(0)),
            last_transaction_time: Mutex::new(None),
            timeline: Mutex::new(timeline::Timeline::default()),
        });
        let mut shutdown = Vec::new();
        for (listener, app) in [(listener, router(sim.clone())), (second, second_origin::router(sim.clone()))] {
            let (tx, rx) = oneshot::channel::<()>();
            shutdown.push(tx);
            match &certificates {
                Some(c) => serve(tls::TlsListener::new(listener, c.acceptor.clone())?, app, rx),
                None => serve(listener, app, rx),
            }
        }
        let client_identity_pem = certificates.as_ref().map(|c| c.client_identity_pem.clone());
        Ok(Self { sim, shutdown, ca_pem: certificates.map(|c| c.ca_pem), client_identity_pem })
    }

    /// The PEM certificate of the private CA that issued the server's certificate (`SimConfig::tls`), for a
    /// client to trust; `None` over plain HTTP.
    pub fn ca_certificate_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    /// A client certificate with its private key (PEM) issued by the private CA (`SimConfig::tls`): the one a
    /// server with [`SimTls::require_client_certificate`] lets in. `None` over plain HTTP.
    pub fn client_identity_pem(&self) -> Option<String> {
        self.client_identity_pem.clone()
    }

    /// The FHIR base URL, e.g. `http://127.0.0.1:41234/fhir` (`https://…` with `SimConfig::tls`).
    pub fn base_url(&self) -> String {
        self.sim.base_url()
    }

    /// The token endpoint (SMART and client-secret modes).
    pub fn token_url(&self) -> String {
        auth::token_url(&self.sim)
    }

    pub fn second_origin(&self) -> &str {
        &self.sim.second_origin
    }

    /// Registers a client by its public JWKS; returns the client id.
    pub fn register_client(&self, jwks: serde_json::Value, scope: Option<String>) -> Result<String, String> {
        self.sim.auth.register(jwks, scope)
    }

    /// Registers a client under a chosen id (replacing one of that id): how the app's demo server gets its
    /// registrations back after a restart.
    pub fn register_client_as(&self, client_id: &str, jwks: serde_json::Value) -> Result<(), String> {
        self.sim.auth.register_as(client_id, jwks, None)
    }

    /// Registers a client the way DPC does: its RSA public key as PEM and the base64 signature of
    /// [`DPC_SNIPPET`]. Returns the client token (the assertion's `iss` and `sub`) and the key id assigned
    /// (the assertion's `kid`); the client must sign with RS384.
    pub fn register_dpc_client(&self, public_pem: &str, snippet_signature: &str) -> Result<(String, String), String> {
        self.sim.auth.register_dpc(public_pem, snippet_signature)
    }

    /// Registers a client by a JWKS URL, as Epic's backend apps are: the assertion must carry `jku` equal to
    /// `jwks_url`; the keys are `jwks` (what that URL would serve).
    pub fn register_client_by_jwks_url(&self, jwks: serde_json::Value, jwks_url: &str) -> Result<String, String> {
        self.sim.auth.register_by_jwks_url(jwks, jwks_url)
    }

    /// Registers a client for [`AuthMode::ClientSecret`]: returns its generated id and random secret.
    pub fn register_secret_client(&self) -> (String, String) {
        self.sim.auth.register_secret()
    }

    /// The access tokens issued and not revoked, and the static bearer token: what a test looks for in
    /// everything the client wrote.
    pub fn issued_tokens(&self) -> Vec<String> {
        let mut tokens = self.sim.auth.issued();
        if let AuthMode::StaticBearer { token } = &self.sim.config.auth {
            tokens.push(token.clone());
        }
        tokens
    }

    /// Forgets every access token issued so far (the next request with one gets 401).
    pub fn revoke_tokens(&self) {
        self.sim.auth.revoke_all();
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.sim.faults() = faults;
    }

    pub fn stats(&self) -> Stats {
        self.sim.stats().clone()
    }

    /// Resources the data source holds now, per type (what a full system-level export returns). Once the
    /// timeline has advanced this walks the whole dataset.
    pub fn resource_counts(&self) -> std::collections::BTreeMap<String, u64> {
        self.sim.source.counts(&self.sim.timeline().epochs())
    }

    /// Moves the generated data on by one epoch (1, 2, …) and returns what changed. The epoch is stamped with
    /// the current time (whole milliseconds), strictly after the previous epoch and after every
    /// `transactionTime` handed out so far, so `_since` = an earlier export's `transactionTime` finds exactly
    /// the later changes. Per epoch, decided from the seed: about 5% of Patients and of the other resources of
    /// patients' compartments get a new version, about 1% of the latter are deleted, about 3% of patients gain
    /// an Observation, and in groups defined by buckets (`aco-*`, `diabetes-registry`) about 4% of non-members
    /// join and 3% of members leave. Also `POST /_sim/timeline/advance` with control routes on.
    ///
    /// Blocks for a few milliseconds (to step past the last stamp) and walks every patient's resource ids.
    /// Refused for a folder source, whose data does not change.
    pub fn advance_timeline(&self) -> Result<EpochChanges, String> {
        timeline::advance(&self.sim)
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.sim.jobs.cancel_all();
        for tx in self.shutdown.drain(..) {
            let _ = tx.send(());
        }
    }
}

/// Serves `app` on `listener` (plain TCP or TLS) until `stop` fires or its sender is dropped.
fn serve<L>(listener: L, app: Router, stop: oneshot::Receiver<()>)
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop.await;
            })
            .await;
    });
}

fn router(sim: Arc<Sim>) -> Router {
    let router = Router::new()
        .route("/fhir/metadata", get(metadata))
        .route("/fhir/.well-known/smart-configuration", get(auth::smart_configuration))
        .route("/auth/token", post(auth::token))
        .route("/fhir/$export", get(export::kickoff_system).post(export::kickoff_system))
        .route("/fhir/Patient/$export", get(export::kickoff_patient).post(export::kickoff_patient))
        .route("/fhir/Group/{id}/$export", get(export::kickoff_group).post(export::kickoff_group))
        .route("/fhir/bulkstatus/{id}", get(export::status).delete(export::delete))
        .route("/fhir/Group", get(groups::search))
        .route("/fhir/Group/{id}", get(groups::read))
        .route("/files/{job}/{name}", get(files::main_origin));
    let router = if sim.config.control_routes { router.merge(control::routes()) } else { router };
    router
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(sim.clone(), hostile::echo_authorization))
        .layer(axum::middleware::from_fn_with_state(sim.clone(), proxy::count_proxy_authorization))
        .with_state(sim)
}

pub(crate) const FHIR_JSON: &str = "application/fhir+json";

async fn metadata(State(sim): State<Arc<Sim>>) -> Response {
    let fault = sim.faults().metadata;
    match fault {
        MetadataFault::None => fhir_json(StatusCode::OK, capability::statement(&sim)),
        MetadataFault::ProxyHtml502 => outcome::proxy_html_502(),
        MetadataFault::LoginPageHtml => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))],
            "<!DOCTYPE html><html><head><title>Sign in</title></head><body><form><input name=user><input type=password name=pw></form></body></html>",
        )
            .into_response(),
        MetadataFault::NotFound => {
            outcome::response(StatusCode::NOT_FOUND, "error", "not-found", "Unknown resource type 'metadata'")
        }
    }
}

pub(crate) async fn not_found() -> Response {
    outcome::response(StatusCode::NOT_FOUND, "error", "not-found", "No such endpoint on this server")
}

pub(crate) fn fhir_json(status: StatusCode, body: serde_json::Value) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON))], body.to_string()).into_response()
}

/// The folder a simulator writes its export files to, named after this process so that folders left by processes
/// that were killed (an app closed by the test driver, a benchmark stopped midway) can be found and removed: a
/// simulator's files can reach gigabytes, and a temp dir is only cleaned when its owner exits normally.
fn work_dir() -> std::io::Result<tempfile::TempDir> {
    let pid = std::process::id();
    remove_orphaned_work_dirs(&std::env::temp_dir());
    tempfile::Builder::new().prefix(&format!("haul-sim-{pid}-")).tempdir()
}

/// Removes `haul-sim-<pid>-*` folders whose process is gone. Only where `/proc` tells which processes live;
/// elsewhere nothing is removed.
fn remove_orphaned_work_dirs(temp: &std::path::Path) {
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(temp) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("haul-sim-")) else { continue };
        let Some(pid) = rest.split_once('-').and_then(|(pid, _)| pid.parse::<u32>().ok()) else { continue };
        if !proc.join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod work_dir_tests {
    use super::remove_orphaned_work_dirs;

    #[test]
    fn folders_of_dead_processes_go_and_live_ones_stay() {
        let temp = tempfile::tempdir().unwrap();
        let dead = temp.path().join("haul-sim-4000000000-abc");
        let live = temp.path().join(format!("haul-sim-{}-def", std::process::id()));
        let other = temp.path().join("haul-sim-notapid");
        for dir in [&dead, &live, &other] {
            std::fs::create_dir_all(dir.join("job-00001")).unwrap();
        }
        remove_orphaned_work_dirs(temp.path());
        assert!(!dead.exists() || !std::path::Path::new("/proc/self").exists());
        assert!(live.exists());
        assert!(other.exists());
    }
}
