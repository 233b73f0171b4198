//! Helpers shared by the simulator's tests over real HTTP: plain reqwest requests, and SMART keys and assertions.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bulk_sim::{AuthMode, DataSource, RunningSim, SimConfig};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// No automatic decompression: tests look at what the server really sent.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_gzip().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

pub fn config(patients: u64) -> SimConfig {
    SimConfig { data: DataSource::Generated { seed: 42, patients }, ..SimConfig::default() }
}

pub async fn start(config: SimConfig) -> RunningSim {
    RunningSim::start(config).await.unwrap()
}

/// Kicks off (GET) and returns the status URL.
pub async fn kickoff(sim: &RunningSim, path_and_query: &str, token: Option<&str>) -> String {
    let mut req = http()
        .get(format!("{}/{path_and_query}", sim.base_url()))
        .header("Accept", "application/fhir+json")
        .header("Prefer", "respond-async");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    res.headers()["content-location"].to_str().unwrap().to_string()
}

/// Polls until the manifest arrives; counts the 202s.
pub async fn manifest(status_url: &str, token: Option<&str>) -> (Value, u32) {
    let mut accepted = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut req = http().get(status_url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        match res.status().as_u16() {
            202 => {
                accepted += 1;
                assert!(res.headers().contains_key("x-progress"));
                assert!(res.headers().contains_key("retry-after"));
            }
            200 => return (res.json().await.unwrap(), accepted),
            other => panic!("status {other}: {}", res.text().await.unwrap()),
        }
        assert!(Instant::now() < deadline, "export never completed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn download(url: &str, token: Option<&str>) -> Vec<Value> {
    let mut req = http().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    assert_eq!(res.headers()["content-type"], "application/fhir+ndjson");
    let text = res.text().await.unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

/// Downloads every output file; resources per type.
pub async fn all_outputs(manifest: &Value, token: Option<&str>) -> BTreeMap<String, Vec<Value>> {
    let mut by_type: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for out in manifest["output"].as_array().unwrap() {
        let t = out["type"].as_str().unwrap();
        let resources = download(out["url"].as_str().unwrap(), token).await;
        assert_eq!(resources.len() as u64, out["count"].as_u64().unwrap(), "count of {}", out["url"]);
        for r in &resources {
            assert_eq!(r["resourceType"], t);
        }
        by_type.entry(t.to_string()).or_default().extend(resources);
    }
    by_type
}

pub async fn kickoff_status(sim: &RunningSim) -> reqwest::Response {
    http().get(format!("{}/$export?_type=Patient", sim.base_url())).send().await.unwrap()
}

// ---- SMART Backend Services ----

pub const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys");

pub fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{KEYS}/{name}")).unwrap()
}

pub fn jwks(set: &str) -> Value {
    serde_json::from_slice(&key_file(&format!("jwks-{set}.json"))).unwrap()
}

pub fn assertion(alg: Algorithm, set: &str, client_id: &str, aud: &str, exp_in: i64, jti: &str) -> String {
    let (kid, key) = match alg {
        Algorithm::RS384 => ("rsa-test", EncodingKey::from_rsa_pem(&key_file(&format!("rs384-{set}.pem"))).unwrap()),
        _ => ("ec-test", EncodingKey::from_ec_pem(&key_file(&format!("es384-{set}.pem"))).unwrap()),
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    header.typ = Some("JWT".into());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let claims = json!({"iss": client_id, "sub": client_id, "aud": aud, "exp": now + exp_in, "jti": jti});
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

pub async fn token_request(sim: &RunningSim, assertion: &str, scope: &str) -> reqwest::Response {
    http()
        .post(sim.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap()
}

pub fn smart_config(lifetime: Duration) -> SimConfig {
    SimConfig { auth: AuthMode::Smart { token_lifetime: lifetime }, ..config(10) }
}
