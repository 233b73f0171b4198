//! The `/_sim/*` test and benchmark routes are mounted only when `SimConfig::control_routes` is on; the app's
//! demo server runs with them off, and its Bulk Data endpoints and in-process registration must not notice.

use crate::common;

use std::time::Duration;

use bulk_sim::{AuthMode, Faults, RunningSim, SimConfig};
use common::{all_outputs, assertion, config, http, jwks, kickoff, kickoff_status, manifest, start, token_request};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

/// Every control route, as (method, path on the main origin).
const CONTROL_ROUTES: &[(&str, &str)] = &[
    ("GET", "/_sim/faults"),
    ("POST", "/_sim/faults"),
    ("GET", "/_sim/stats"),
    ("POST", "/_sim/register"),
    ("POST", "/_sim/timeline/advance"),
];

async fn call(sim: &RunningSim, method: &str, path: &str, body: &Value) -> reqwest::Response {
    let url = format!("{}{path}", sim.base_url().trim_end_matches("/fhir"));
    let req = match method {
        "GET" => http().get(url),
        _ => http().post(url).json(body),
    };
    req.send().await.unwrap()
}

#[tokio::test]
async fn without_control_routes_they_answer_404_and_bulk_data_still_works() {
    // Configured as the app's demo server: open, SMART sign-in optional, no control routes.
    let sim = start(SimConfig {
        auth: AuthMode::Optional { token_lifetime: Duration::from_secs(300) },
        control_routes: false,
        ..config(10)
    })
    .await;
    for (method, path) in CONTROL_ROUTES {
        let body = if *path == "/_sim/register" { jwks("a") } else { json!({"kickoff_429_times": 5}) };
        let res = call(&sim, method, path, &body).await;
        assert_eq!(res.status(), 404, "{method} {path}");
        let oo: Value = res.json().await.unwrap();
        assert_eq!(oo["resourceType"], "OperationOutcome", "{method} {path}");
    }

    // The Bulk Data endpoints work, and the refused faults did not apply (no 429 at kickoff).
    assert_eq!(http().get(format!("{}/metadata", sim.base_url())).send().await.unwrap().status(), 200);
    let (m, _) = manifest(&kickoff(&sim, "$export?_type=Patient", None).await, None).await;
    assert_eq!(all_outputs(&m, None).await["Patient"].len(), 10);

    // In-process registration (how the app registers demo keys) still works, and signing in with it.
    sim.register_client_as("demo-test", jwks("a")).unwrap();
    let signed = assertion(Algorithm::ES384, "a", "demo-test", &sim.token_url(), 240, "demo-1");
    let res = token_request(&sim, &signed, "system/*.read").await;
    assert_eq!(res.status(), 200);
    let token: Value = res.json().await.unwrap();
    kickoff(&sim, "$export?_type=Patient", token["access_token"].as_str()).await;
    assert_eq!(sim.stats().kickoffs, 2);
}

#[tokio::test]
async fn with_control_routes_faults_stats_and_registration_work() {
    assert!(SimConfig::default().control_routes, "on by default, for tests and `haul sim`");
    let sim = start(config(10)).await;

    let res = call(&sim, "POST", "/_sim/faults", &json!({"kickoff_429_times": 1})).await;
    assert_eq!(res.status(), 204);
    let faults: Faults = call(&sim, "GET", "/_sim/faults", &Value::Null).await.json().await.unwrap();
    assert_eq!(faults, Faults { kickoff_429_times: 1, ..Faults::default() });
    assert_eq!(kickoff_status(&sim).await.status(), 429, "the faults sent over HTTP apply");

    let res = call(&sim, "GET", "/_sim/stats", &Value::Null).await;
    assert_eq!(res.status(), 200);
    let stats: Value = res.json().await.unwrap();
    assert_eq!(stats["kickoffs"], 1);

    let res = call(&sim, "POST", "/_sim/register", &jwks("a")).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert!(body["client_id"].as_str().is_some_and(|id| !id.is_empty()));
}
