//! Hostile manifests, status answers and origins over real HTTP: wrong counts, extra and escape-laden
//! entries, padding, a second origin that serves status and files and may demand a token, `file://`
//! status URLs, and echoed `Authorization` headers.

use crate::common;

use std::time::Duration;

use bulk_sim::{Faults, RunningSim, SimConfig};
use common::{assertion, config, download, http, jwks, kickoff, manifest, smart_config, start, token_request};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

const ESCAPE_TYPE: &str = "Patient\u{1b}]0;pwned\u{7}\u{1b}[2J";

async fn started(faults: Faults, cfg: SimConfig) -> RunningSim {
    let sim = start(cfg).await;
    sim.set_faults(faults);
    sim
}

/// The sim (it must outlive the downloads) and the manifest of a finished export of `types`.
async fn exported(faults: Faults, types: &str) -> (RunningSim, Value) {
    let sim = started(faults, config(10)).await;
    let (m, _) = manifest(&kickoff(&sim, &format!("$export?_type={types}"), None).await, None).await;
    (sim, m)
}

fn entries(m: &Value, key: &str) -> Vec<Value> {
    m[key].as_array().unwrap().clone()
}

fn url_of(entry: &Value) -> &str {
    entry["url"].as_str().unwrap()
}

fn diagnostics(oo: &Value) -> &str {
    oo["issue"][0]["diagnostics"].as_str().unwrap()
}

#[tokio::test]
async fn the_fault_json_uses_the_agreed_names() {
    let sim = start(config(1)).await;
    let origin = sim.base_url().trim_end_matches("/fhir").to_string();
    let body = json!({
        "html_files": true, "short_bodies": true, "count_off_by": 2, "giant_line_bytes": 10,
        "gzip_bomb_bytes": 20, "files_on_second_origin": true, "status_on_second_origin": true,
        "second_origin_requires_token": true, "manifest_padding_bytes": 30, "manifest_extra_outputs": 4,
        "escape_sequences": true, "trickle_every": {"secs": 0, "nanos": 200_000_000},
        "redirect_files_to_file_scheme": true, "status_file_scheme": true, "echo_authorization": true
    });
    let res = http().post(format!("{origin}/_sim/faults")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let now: Faults = http().get(format!("{origin}/_sim/faults")).send().await.unwrap().json().await.unwrap();
    let expected = Faults {
        html_files: true,
        short_bodies: true,
        count_off_by: 2,
        giant_line_bytes: Some(10),
        gzip_bomb_bytes: Some(20),
        files_on_second_origin: true,
        status_on_second_origin: true,
        second_origin_requires_token: true,
        manifest_padding_bytes: Some(30),
        manifest_extra_outputs: 4,
        escape_sequences: true,
        trickle_every: Some(Duration::from_millis(200)),
        redirect_files_to_file_scheme: true,
        status_file_scheme: true,
        echo_authorization: true,
        ..Faults::default()
    };
    assert_eq!(now, expected);
}

#[tokio::test]
async fn counts_can_be_off() {
    let (_sim, m) = exported(Faults { count_off_by: 3, ..Faults::default() }, "Patient,Condition").await;
    for entry in entries(&m, "output") {
        let lines = download(url_of(&entry), None).await.len() as u64;
        assert_eq!(entry["count"].as_u64().unwrap(), lines + 3, "{}", url_of(&entry));
    }
}

#[tokio::test]
async fn extra_outputs_copy_the_first_entry_and_serve_the_same_file() {
    let (_plain_sim, plain) = exported(Faults::default(), "Patient,Condition").await;
    let (_sim, m) = exported(Faults { manifest_extra_outputs: 3, ..Faults::default() }, "Patient,Condition").await;
    let output = entries(&m, "output");
    let real = entries(&plain, "output").len();
    assert_eq!(output.len(), real + 3);
    let first = &output[0];
    let first_body = http().get(url_of(first)).send().await.unwrap().bytes().await.unwrap();
    for (n, copy) in output[real..].iter().enumerate() {
        assert_eq!(url_of(copy), format!("{}?copy={}", url_of(first), n + 1));
        assert_eq!((&copy["type"], &copy["count"]), (&first["type"], &first["count"]));
        let body = http().get(url_of(copy)).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(body, first_body);
    }
}

#[tokio::test]
async fn padding_makes_the_manifest_at_least_n_bytes() {
    const PADDING: u64 = 2_000_000;
    let sim = started(Faults { manifest_padding_bytes: Some(PADDING), ..Faults::default() }, config(5)).await;
    let status = kickoff(&sim, "$export?_type=Patient", None).await;
    manifest(&status, None).await;
    let res = http().get(&status).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "application/json");
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.len() as u64 >= PADDING);
    let m: Value = serde_json::from_slice(&bytes).unwrap();
    let padding = m["extension"]["padding"].as_str().unwrap();
    assert_eq!(padding.len() as u64, PADDING);
    assert!(padding.bytes().all(|b| b == b'a'));
    assert!(m["extension"]["urn:haul:bulk-sim"].is_object(), "the usual extension stays");
    assert_eq!(entries(&m, "output").len(), 1);
}

#[tokio::test]
async fn escape_sequences_reach_the_manifest_the_first_poll_and_x_progress() {
    let cfg = SimConfig { prepare_time: Duration::from_millis(800), ..config(10) };
    let sim = started(Faults { escape_sequences: true, ..Faults::default() }, cfg).await;
    let status = kickoff(&sim, "$export?_type=Condition,Patient", None).await;
    let res = http().get(&status).send().await.unwrap();
    assert_eq!(res.status(), 500);
    let oo: Value = res.json().await.unwrap();
    assert_eq!(oo["issue"][0]["code"], "transient");
    assert_eq!(diagnostics(&oo), "busy \u{1b}]0;owned\u{7}\u{1b}[2J now");
    let res = http().get(&status).send().await.unwrap();
    assert_eq!(res.status(), 202, "then polling goes on as usual");
    assert_eq!(res.headers()["x-progress"], "working ^[[31mRED^[[0m");

    let (m, _) = manifest(&status, None).await;
    let output = entries(&m, "output");
    let patient = output.iter().find(|o| o["type"] == "Patient").unwrap();
    assert_ne!(url_of(&output[0]), url_of(patient), "Condition comes first, so the target is chosen by type");
    let hostile: Vec<&Value> = output.iter().filter(|o| o["type"] == ESCAPE_TYPE).collect();
    assert_eq!(hostile.len(), 1);
    assert_eq!(url_of(hostile[0]), url_of(patient));
}

#[tokio::test]
async fn the_status_url_can_be_a_file_url() {
    let sim = started(Faults { status_file_scheme: true, ..Faults::default() }, config(1)).await;
    assert_eq!(kickoff(&sim, "$export?_type=Patient", None).await, "file:///tmp/haul-status");
}

#[tokio::test]
async fn the_second_origin_serves_status_and_files_and_can_demand_a_token() {
    let faults = Faults {
        files_on_second_origin: true,
        status_on_second_origin: true,
        second_origin_requires_token: true,
        failing_types: vec!["Condition".into()],
        ..Faults::default()
    };
    let sim = started(faults, config(10)).await;
    let second = sim.second_origin().to_string();
    let status = kickoff(&sim, "$export?_type=Patient,Condition", None).await;
    assert!(status.starts_with(&format!("{second}/fhir/bulkstatus/")), "{status}");
    let res = http().get(&status).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let oo: Value = res.json().await.unwrap();
    assert_eq!(oo["issue"][0]["code"], "login");

    // Open server: any bearer token will do.
    let (m, accepted) = manifest(&status, Some("any-token")).await;
    let (output, error) = (entries(&m, "output"), entries(&m, "error"));
    assert!(output.iter().chain(&error).all(|e| url_of(e).starts_with(&second)), "{m}");
    assert_eq!(http().get(url_of(&output[0])).send().await.unwrap().status(), 401);
    assert_eq!(download(url_of(&output[0]), Some("any-token")).await.len(), 10);
    assert_eq!(download(url_of(&error[0]), Some("any-token")).await.len(), 1);
    assert_eq!(http().delete(&status).bearer_auth("any-token").send().await.unwrap().status(), 202);

    let stats = sim.stats();
    let polls_with_token = accepted + 1;
    // Refused poll + polls + refused file + two files + DELETE.
    assert_eq!(stats.redirected_requests, 1 + polls_with_token + 1 + 2 + 1);
    assert_eq!(stats.redirected_with_authorization, polls_with_token + 2 + 1);
    assert_eq!(stats.status_requests_with_authorization, polls_with_token);
    assert_eq!(stats.deletes_with_authorization, 1);
}

#[tokio::test]
async fn with_smart_the_second_origin_wants_a_valid_token() {
    let faults = Faults { files_on_second_origin: true, second_origin_requires_token: true, ..Faults::default() };
    let sim = started(faults, smart_config(Duration::from_secs(300))).await;
    let client = sim.register_client(jwks("a"), None).unwrap();
    let signed = assertion(Algorithm::ES384, "a", &client, &sim.token_url(), 240, "second-origin");
    let token: Value = token_request(&sim, &signed, "system/*.read").await.json().await.unwrap();
    let token = token["access_token"].as_str().unwrap();
    let status = kickoff(&sim, "$export?_type=Patient", Some(token)).await;
    assert!(!status.starts_with(sim.second_origin()), "status stays on the main origin");
    let (m, accepted) = manifest(&status, Some(token)).await;
    let url = url_of(&entries(&m, "output")[0]).to_string();
    assert!(url.starts_with(sim.second_origin()));
    let res = http().get(&url).bearer_auth("made-up").send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    assert_eq!(download(&url, Some(token)).await.len(), 10);
    let stats = sim.stats();
    assert_eq!(stats.status_requests_with_authorization, accepted + 1, "main-origin polls count too");
    assert_eq!((stats.redirected_requests, stats.redirected_with_authorization), (2, 2));
}

#[tokio::test]
async fn echoed_authorization_reaches_diagnostics_x_progress_and_error_files() {
    const AUTH: &str = "Bearer secret-123";
    let faults = Faults { echo_authorization: true, failing_types: vec!["Condition".into()], ..Faults::default() };
    let sim = started(faults, SimConfig { prepare_time: Duration::from_millis(800), ..config(10) }).await;
    let status = kickoff(&sim, "$export?_type=Patient,Condition", Some("secret-123")).await;
    let res = http().get(&status).bearer_auth("secret-123").send().await.unwrap();
    assert_eq!(res.status(), 500, "the first poll is a transient error");
    let oo: Value = res.json().await.unwrap();
    assert_eq!(oo["issue"][0]["code"], "transient");
    assert!(diagnostics(&oo).contains(AUTH), "{oo}");
    let res = http().get(&status).bearer_auth("secret-123").send().await.unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(res.headers()["x-progress"], format!("working for {AUTH}"));

    let (m, _) = manifest(&status, Some("secret-123")).await;
    let errors = download(url_of(&entries(&m, "error")[0]), None).await;
    assert!(diagnostics(&errors[0]).contains(AUTH), "{}", errors[0]);

    let missing = url_of(&entries(&m, "output")[0]).rsplit_once('/').unwrap().0.to_string() + "/nope.ndjson";
    let res = http().get(missing).bearer_auth("secret-123").send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(diagnostics(&res.json().await.unwrap()).contains(AUTH));
    let refused =
        http().get(format!("{}/Group/unknown/$export", sim.base_url())).bearer_auth("secret-123").send().await.unwrap();
    assert_eq!(refused.status(), 404);
    assert!(diagnostics(&refused.json().await.unwrap()).contains(AUTH));
}
