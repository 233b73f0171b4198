//! The simulator over HTTPS with its private CA: trusted only by a client given the CA, both origins served
//! over TLS, and the expired and wrong-name certificates failing for what they are.

use crate::common;

use std::error::Error as _;

use bulk_sim::{Faults, LeafCertificate, RunningSim, SimConfig, SimTls};
use common::config;

async fn start_tls(leaf: LeafCertificate) -> RunningSim {
    RunningSim::start(SimConfig { tls: Some(SimTls { leaf, ..SimTls::default() }), ..config(5) }).await.unwrap()
}

/// A client trusting the platform's roots and the simulator's CA (as Haul does with a CA file).
fn trusting(sim: &RunningSim) -> reqwest::Client {
    let pem = sim.ca_certificate_pem().expect("a TLS simulator has a CA");
    let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).unwrap();
    assert_eq!(certs.len(), 1, "one CA certificate");
    reqwest::Client::builder().tls_certs_merge(certs).no_gzip().build().unwrap()
}

/// The error and its causes, as one line.
fn chain(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

async fn metadata_error(sim: &RunningSim, client: &reqwest::Client) -> String {
    let err = client.get(format!("{}/metadata", sim.base_url())).send().await.expect_err("the handshake must fail");
    chain(&err)
}

#[tokio::test]
async fn plain_http_has_no_ca() {
    let sim = RunningSim::start(config(1)).await.unwrap();
    assert!(sim.base_url().starts_with("http://127.0.0.1:"), "{}", sim.base_url());
    assert_eq!(sim.ca_certificate_pem(), None);
}

#[tokio::test]
async fn an_export_runs_over_https_on_both_origins_for_a_client_that_trusts_the_ca() {
    let sim = start_tls(LeafCertificate::Valid).await;
    assert!(sim.base_url().starts_with("https://127.0.0.1:"), "{}", sim.base_url());
    assert!(sim.second_origin().starts_with("https://127.0.0.1:"), "{}", sim.second_origin());
    let pem = sim.ca_certificate_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    sim.set_faults(Faults { files_on_second_origin: true, ..Faults::default() });

    let client = trusting(&sim);
    let metadata = client.get(format!("{}/metadata", sim.base_url())).send().await.unwrap();
    assert_eq!(metadata.status(), 200);
    let kickoff = client
        .get(format!("{}/$export?_type=Patient", sim.base_url()))
        .header("Accept", "application/fhir+json")
        .header("Prefer", "respond-async")
        .send()
        .await
        .unwrap();
    assert_eq!(kickoff.status(), 202);
    let status_url = kickoff.headers()["content-location"].to_str().unwrap().to_string();
    assert!(status_url.starts_with("https://"), "{status_url}");
    let manifest: serde_json::Value = loop {
        let res = client.get(&status_url).send().await.unwrap();
        if res.status() == 200 {
            break res.json().await.unwrap();
        }
        assert_eq!(res.status(), 202);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let url = manifest["output"][0]["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/", sim.second_origin())), "files on the second origin: {url}");
    let body = client.get(url).send().await.unwrap().text().await.unwrap();
    assert_eq!(body.lines().count(), 5);
    assert_eq!(sim.stats().redirected_requests, 1, "the file came from the second origin, over TLS");
}

#[tokio::test]
async fn a_client_without_the_ca_refuses_the_certificate_as_of_an_unknown_issuer() {
    let sim = start_tls(LeafCertificate::Valid).await;
    let err = metadata_error(&sim, &reqwest::Client::new()).await;
    assert!(err.contains("UnknownIssuer"), "{err}");
    // The simulator keeps serving after a refused handshake.
    assert_eq!(trusting(&sim).get(format!("{}/metadata", sim.base_url())).send().await.unwrap().status(), 200);
    // A plain-HTTP client gets no answer from a TLS port.
    assert!(common::http().get(sim.base_url().replacen("https", "http", 1)).send().await.is_err());
}

#[tokio::test]
async fn the_expired_certificate_fails_as_expired_even_with_the_ca() {
    let sim = start_tls(LeafCertificate::Expired).await;
    let err = metadata_error(&sim, &trusting(&sim)).await;
    assert!(err.contains("certificate expired"), "{err}");
}

#[tokio::test]
async fn the_certificate_for_another_name_fails_as_not_valid_for_the_address() {
    let sim = start_tls(LeafCertificate::ForAnotherName).await;
    let err = metadata_error(&sim, &trusting(&sim)).await;
    assert!(err.contains("not valid for name"), "{err}");
    assert!(err.contains(bulk_sim::OTHER_NAME), "{err}");
}
