//! SMART Backend Services over real HTTP: discovery, tokens with RS384 and ES384, RFC 6749 errors, expiry,
//! and registering a client over HTTP.

use crate::common;

use std::time::Duration;

use bulk_sim::RunningSim;
use common::{assertion, download, http, jwks, kickoff, kickoff_status, manifest, smart_config, start, token_request};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

#[tokio::test]
async fn smart_discovery_and_a_full_flow_with_both_algorithms() {
    let sim = start(smart_config(Duration::from_secs(300))).await;
    let conf: Value = http()
        .get(format!("{}/.well-known/smart-configuration", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(conf["token_endpoint"], sim.token_url());
    assert_eq!(conf["token_endpoint_auth_signing_alg_values_supported"], json!(["RS384", "ES384"]));
    let cs: Value = http().get(format!("{}/metadata", sim.base_url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(cs["rest"][0]["security"]["extension"][0]["extension"][0]["valueUri"], sim.token_url());

    // Without a token: 401 everywhere that matters.
    assert_eq!(kickoff_status(&sim).await.status(), 401);
    let client = sim.register_client(jwks("a"), None).unwrap();
    for (alg, jti) in [(Algorithm::RS384, "j-rs"), (Algorithm::ES384, "j-es")] {
        let res = token_request(&sim, &assertion(alg, "a", &client, &sim.token_url(), 240, jti), "system/*.read").await;
        assert_eq!(res.status(), 200, "{alg:?}");
        let token: Value = res.json().await.unwrap();
        assert_eq!(token["token_type"], "bearer");
        assert_eq!(token["expires_in"], 300);
        let t = token["access_token"].as_str().unwrap();
        let status = kickoff(&sim, "$export?_type=Patient", Some(t)).await;
        assert_eq!(http().get(&status).send().await.unwrap().status(), 401, "status needs the token too");
        let (m, _) = manifest(&status, Some(t)).await;
        assert_eq!(m["requiresAccessToken"], true);
        let url = m["output"][0]["url"].as_str().unwrap();
        assert_eq!(http().get(url).send().await.unwrap().status(), 401, "files need the token");
        assert_eq!(download(url, Some(t)).await.len(), 10);
    }
}

async fn token_error(sim: &RunningSim, assertion: &str, scope: &str) -> (u16, String, String) {
    let res = token_request(sim, assertion, scope).await;
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    (status, body["error"].as_str().unwrap().to_string(), body["error_description"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn bad_assertions_get_rfc6749_errors() {
    let sim = start(smart_config(Duration::from_secs(300))).await;
    let client = sim.register_client(jwks("a"), None).unwrap();
    let aud = sim.token_url();

    let (s, e, d) =
        token_error(&sim, &assertion(Algorithm::RS384, "b", &client, &aud, 240, "1"), "system/*.read").await;
    assert_eq!((s, e.as_str()), (401, "invalid_client"));
    assert!(d.contains("signature"), "{d}");
    let (_, e, d) =
        token_error(&sim, &assertion(Algorithm::ES384, "b", &client, &aud, 240, "2"), "system/*.read").await;
    assert_eq!(e, "invalid_client");
    assert!(d.contains("signature"), "{d}");

    let (_, e, d) =
        token_error(&sim, &assertion(Algorithm::RS384, "a", &client, &aud, -30, "3"), "system/*.read").await;
    assert_eq!(e, "invalid_client");
    assert!(d.contains("expired"), "{d}");

    let (_, _, d) =
        token_error(&sim, &assertion(Algorithm::RS384, "a", &client, &aud, 3600, "4"), "system/*.read").await;
    assert!(d.contains("five minutes"), "{d}");

    let (_, _, d) =
        token_error(&sim, &assertion(Algorithm::RS384, "a", "stranger", &aud, 240, "5"), "system/*.read").await;
    assert!(d.contains("unknown client"), "{d}");

    let (_, _, d) = token_error(
        &sim,
        &assertion(Algorithm::RS384, "a", &client, "https://elsewhere/token", 240, "6"),
        "system/*.read",
    )
    .await;
    assert!(d.contains("aud"), "{d}");

    let good = assertion(Algorithm::ES384, "a", &client, &aud, 240, "7");
    assert_eq!(token_request(&sim, &good, "system/*.rs").await.status(), 200);
    let (_, e, d) = token_error(&sim, &good, "system/*.rs").await;
    assert_eq!(e, "invalid_client");
    assert!(d.contains("jti was already used"), "{d}");

    let (s, e, _) =
        token_error(&sim, &assertion(Algorithm::ES384, "a", &client, &aud, 240, "8"), "system/*.write").await;
    assert_eq!((s, e.as_str()), (400, "invalid_scope"));
}

#[tokio::test]
async fn tokens_expire() {
    let sim = start(smart_config(Duration::from_secs(1))).await;
    let client = sim.register_client(jwks("a"), None).unwrap();
    let res =
        token_request(&sim, &assertion(Algorithm::ES384, "a", &client, &sim.token_url(), 240, "x"), "system/*.read")
            .await;
    let token: Value = res.json().await.unwrap();
    let t = token["access_token"].as_str().unwrap();
    kickoff(&sim, "$export?_type=Patient", Some(t)).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let res = http().get(format!("{}/$export", sim.base_url())).bearer_auth(t).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
}

#[tokio::test]
async fn a_client_registers_over_http() {
    let sim = start(smart_config(Duration::from_secs(300))).await;
    let res = http()
        .post(format!("{}/_sim/register", sim.base_url().trim_end_matches("/fhir")))
        .json(&jwks("a"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let client = body["client_id"].as_str().unwrap();
    let res =
        token_request(&sim, &assertion(Algorithm::RS384, "a", client, &sim.token_url(), 200, "r"), "system/*.read")
            .await;
    assert_eq!(res.status(), 200);
    let res = http()
        .post(format!("{}/_sim/register", sim.base_url().trim_end_matches("/fhir")))
        .json(&json!({"keys": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}
