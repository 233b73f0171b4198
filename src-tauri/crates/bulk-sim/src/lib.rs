//! A FHIR Bulk Data server simulator with real HTTP on loopback.
//!
//! It serves the server side of the Bulk Data IG so that Haul's protocol code is tested against real
//! sockets, and it misbehaves on request (faults) the way servers in the wild do.
//!
//! Status: this first slice serves the capability statement and the faults the connection test needs.
//! Export kickoff, status, files, SMART auth and generated data are tracked in issue 3.

mod capability;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// How `[base]/metadata` misbehaves, to show the client's handling of servers in the wild.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetadataFault {
    #[default]
    None,
    /// A reverse proxy's HTML error page with status 502.
    ProxyHtml502,
    /// A sign-in web page with status 200 (a portal URL typed instead of the FHIR base).
    LoginPageHtml,
    /// A 404 with an OperationOutcome.
    NotFound,
}

#[derive(Debug, Clone, Default)]
pub struct SimConfig {
    pub metadata_fault: MetadataFault,
}

struct Shared {
    config: SimConfig,
}

/// A running simulator. Dropping it stops the server.
pub struct RunningSim {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl RunningSim {
    /// Starts on `127.0.0.1` at a free port.
    pub async fn start(config: SimConfig) -> std::io::Result<Self> {
        Self::start_on(([127, 0, 0, 1], 0).into(), config).await
    }

    pub async fn start_on(addr: SocketAddr, config: SimConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let app = router(Arc::new(Shared { config }));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            shutdown: Some(tx),
        })
    }

    /// The FHIR base URL, e.g. `http://127.0.0.1:41234/fhir`.
    pub fn base_url(&self) -> String {
        format!("http://{}/fhir", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/fhir/metadata", get(metadata))
        .with_state(shared)
}

const FHIR_JSON: &str = "application/fhir+json";

async fn metadata(State(shared): State<Arc<Shared>>) -> Response {
    match shared.config.metadata_fault {
        MetadataFault::None => fhir_json(StatusCode::OK, capability::statement()),
        MetadataFault::ProxyHtml502 => html(
            StatusCode::BAD_GATEWAY,
            "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
        ),
        MetadataFault::LoginPageHtml => html(
            StatusCode::OK,
            "<!DOCTYPE html><html><head><title>Sign in</title></head><body><form><input name=user><input type=password name=pw></form></body></html>",
        ),
        MetadataFault::NotFound => fhir_json(
            StatusCode::NOT_FOUND,
            operation_outcome("error", "not-found", "Unknown resource type 'metadata'"),
        ),
    }
}

fn fhir_json(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON))],
        body.to_string(),
    )
        .into_response()
}

fn html(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

pub(crate) fn operation_outcome(
    severity: &str,
    code: &str,
    diagnostics: &str,
) -> serde_json::Value {
    serde_json::json!({
        "resourceType": "OperationOutcome",
        "issue": [{ "severity": severity, "code": code, "diagnostics": diagnostics }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn metadata_is_a_bulk_data_capability_statement() {
        let sim = RunningSim::start(SimConfig::default()).await.unwrap();
        let res = reqwest::get(format!("{}/metadata", sim.base_url()))
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], FHIR_JSON);
        let cs: serde_json::Value = res.json().await.unwrap();
        assert_eq!(cs["resourceType"], "CapabilityStatement");
        assert_eq!(
            cs["instantiates"][0],
            "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"
        );
        assert_eq!(cs["fhirVersion"], "4.0.1");
    }

    #[tokio::test]
    async fn metadata_faults_answer_as_configured() {
        for (fault, status, content_type) in [
            (MetadataFault::ProxyHtml502, 502, "text/html; charset=utf-8"),
            (
                MetadataFault::LoginPageHtml,
                200,
                "text/html; charset=utf-8",
            ),
            (MetadataFault::NotFound, 404, FHIR_JSON),
        ] {
            let sim = RunningSim::start(SimConfig {
                metadata_fault: fault,
            })
            .await
            .unwrap();
            let res = reqwest::get(format!("{}/metadata", sim.base_url()))
                .await
                .unwrap();
            assert_eq!(res.status(), status, "{fault:?}");
            assert_eq!(res.headers()["content-type"], content_type, "{fault:?}");
        }
    }

    #[tokio::test]
    async fn dropping_the_handle_stops_the_server() {
        let sim = RunningSim::start(SimConfig::default()).await.unwrap();
        let url = format!("{}/metadata", sim.base_url());
        drop(sim);
        let mut refused = false;
        for _ in 0..50 {
            if reqwest::get(&url).await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(refused, "the port should close after drop");
    }
}
