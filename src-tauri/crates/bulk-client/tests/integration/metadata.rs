//! `fetch_summary` against the simulator over real HTTP on loopback.

use bulk_client::{HttpClient, HttpErrorKind, fetch_summary};
use bulk_sim::{MetadataFault, RunningSim, SimConfig};

async fn sim(fault: MetadataFault) -> RunningSim {
    RunningSim::start(SimConfig::with_metadata_fault(fault)).await.unwrap()
}

#[tokio::test]
async fn a_bulk_data_server_is_recognised() {
    let sim = sim(MetadataFault::None).await;
    // A trailing slash on the base must not double up.
    let summary = fetch_summary(&HttpClient::new(), &format!("{}/", sim.base_url())).await.unwrap();
    assert_eq!(summary.software.as_deref(), Some("Haul Bulk Data simulator"));
    assert_eq!(summary.fhir_version.as_deref(), Some("4.0.1"));
    assert!(summary.instantiates_bulk_data);
    assert_eq!(summary.export_levels, ["system", "patient", "group"]);
}

#[tokio::test]
async fn a_server_that_is_down_gets_plain_words() {
    // Bind and release a port so that nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = fetch_summary(&HttpClient::new(), &format!("http://127.0.0.1:{port}/fhir")).await.unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Unreachable, "{err:?}");
    assert_eq!(
        err.message,
        format!(
            "Nothing answered at 127.0.0.1:{port}. Check the address and port, that the server is running, and that this computer can reach it (VPN, firewall)."
        )
    );
    assert!(err.detail.is_some());
}

#[tokio::test]
async fn an_unknown_host_is_named() {
    let err = fetch_summary(&HttpClient::new(), "http://no-such-host.invalid/fhir").await.unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::UnknownHost, "{err:?}");
    assert!(err.message.contains("“no-such-host.invalid” could not be found"), "{}", err.message);
}

#[tokio::test]
async fn a_proxy_error_page_is_not_a_stack_trace() {
    let sim = sim(MetadataFault::ProxyHtml502).await;
    let err = fetch_summary(&HttpClient::new(), &sim.base_url()).await.unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Status);
    assert_eq!(err.status, Some(502));
    assert!(err.message.contains("answered with an error page (HTTP 502), not FHIR"), "{}", err.message);
    assert!(err.detail.unwrap().contains("502 Bad Gateway"));
}

#[tokio::test]
async fn a_web_page_is_recognised_as_not_fhir() {
    let sim = sim(MetadataFault::LoginPageHtml).await;
    let err = fetch_summary(&HttpClient::new(), &sim.base_url()).await.unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::NotFhir);
    assert!(err.message.contains("web page (HTML), not FHIR"), "{}", err.message);
}

#[tokio::test]
async fn a_404_suggests_checking_the_base_url_and_keeps_the_outcome() {
    let sim = sim(MetadataFault::NotFound).await;
    let err = fetch_summary(&HttpClient::new(), &sim.base_url()).await.unwrap_err();
    assert_eq!(err.status, Some(404));
    assert!(err.message.contains("Check that the address is the FHIR base URL"), "{}", err.message);
    assert!(err.detail.unwrap().contains("error (not-found): Unknown resource type 'metadata'"));
}
