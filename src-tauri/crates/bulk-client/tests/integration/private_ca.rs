//! Servers behind a private certificate authority, over real HTTPS against the simulator: what a user without
//! the CA is told, that adding the CA file is enough, and the expired and wrong-name certificates named as
//! such even with the CA trusted.

use bulk_client::{CaBundleError, HttpClient, HttpErrorKind, NetworkSettings, NetworkSetupError, fetch_summary};
use bulk_sim::{LeafCertificate, RunningSim, SimConfig, SimTls};

async fn sim_with(leaf: LeafCertificate) -> RunningSim {
    RunningSim::start(SimConfig { tls: Some(SimTls { leaf, ..SimTls::default() }), ..SimConfig::default() })
        .await
        .unwrap()
}

fn trusting_ca_of(sim: &RunningSim) -> HttpClient {
    let settings =
        NetworkSettings { extra_roots_pem: Some(sim.ca_certificate_pem().unwrap().into_bytes()), ..Default::default() };
    HttpClient::configured(&settings).unwrap()
}

/// `127.0.0.1:PORT`, as the messages name the server.
fn host_of(sim: &RunningSim) -> String {
    url::Url::parse(&sim.base_url()).unwrap().authority().to_string()
}

#[tokio::test]
async fn without_the_ca_the_user_is_told_to_add_their_organisations_ca_file() {
    let sim = sim_with(LeafCertificate::Valid).await;
    let err = fetch_summary(&HttpClient::new(), &sim.base_url()).await.unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Tls, "{err:?}");
    assert_eq!(
        err.message,
        "This server's certificate is signed by an authority this computer does not trust. If your organisation uses its own certificate authority, add the CA certificate file your IT department gives you in the server's settings."
    );
    assert!(err.detail.unwrap().contains("UnknownIssuer"), "the technical cause stays in the detail");
}

#[tokio::test]
async fn with_the_ca_file_the_server_is_reached() {
    let sim = sim_with(LeafCertificate::Valid).await;
    let summary = fetch_summary(&trusting_ca_of(&sim), &sim.base_url()).await.unwrap();
    assert_eq!(summary.software.as_deref(), Some("Haul Bulk Data simulator"));
}

#[tokio::test]
async fn an_expired_certificate_is_named_as_expired() {
    let sim = sim_with(LeafCertificate::Expired).await;
    let err = fetch_summary(&trusting_ca_of(&sim), &sim.base_url()).await.unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Tls, "{err:?}");
    assert!(err.message.starts_with(&format!("The certificate of {} has expired", host_of(&sim))), "{}", err.message);
    assert!(err.message.contains("administrators must renew it"), "{}", err.message);
}

#[tokio::test]
async fn a_certificate_for_another_name_says_so_and_which() {
    let sim = sim_with(LeafCertificate::ForAnotherName).await;
    let err = fetch_summary(&trusting_ca_of(&sim), &sim.base_url()).await.unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Tls, "{err:?}");
    assert!(
        err.message.starts_with(&format!(
            "The certificate of {} is for another name ({}), not for the address Haul connected to.",
            host_of(&sim),
            bulk_sim::OTHER_NAME
        )),
        "{}",
        err.message
    );
    assert!(err.message.contains("Check the address"), "{}", err.message);
}

#[tokio::test]
async fn an_unknown_authority_is_still_unknown_with_another_organisations_ca() {
    let ours = sim_with(LeafCertificate::Valid).await;
    let theirs = sim_with(LeafCertificate::Valid).await;
    let err = fetch_summary(&trusting_ca_of(&theirs), &ours.base_url()).await.unwrap_err();
    assert!(err.message.contains("authority this computer does not trust"), "{}", err.message);
}

#[test]
fn a_file_that_holds_no_certificate_is_refused_before_any_connection() {
    let settings = NetworkSettings { extra_roots_pem: Some(b"not a certificate".to_vec()), ..Default::default() };
    assert!(matches!(
        HttpClient::configured(&settings),
        Err(NetworkSetupError::CaCertificates(CaBundleError::NoCertificate))
    ));
}
