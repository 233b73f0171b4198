//! Corporate networks over real sockets: a server reached through the simulator's proxy (credentials for the
//! proxy alone, a wrong password named as the proxy's), and a server that asks for a client certificate.

use bulk_client::{HttpClient, HttpErrorKind, NetworkSettings, ProxySettings, fetch_summary};
use bulk_sim::{RunningSim, SimConfig, SimProxy, SimTls, foreign_client_identity_pem};
use zeroize::Zeroizing;

fn through(proxy: &SimProxy, password: &str, ca: Option<String>) -> HttpClient {
    HttpClient::configured(&NetworkSettings {
        extra_roots_pem: ca.map(String::into_bytes),
        proxy: Some(ProxySettings {
            url: proxy.url(),
            username: Some("nurse".into()),
            password: Some(Zeroizing::new(password.into())),
        }),
        client_identity_pem: None,
    })
    .unwrap()
}

#[tokio::test]
async fn plain_and_tls_servers_are_reached_through_the_proxy_which_alone_sees_the_credentials() {
    let proxy = SimProxy::start("nurse", "proxy-pass-4711").await.unwrap();
    let plain = RunningSim::start(SimConfig::default()).await.unwrap();
    let summary = fetch_summary(&through(&proxy, "proxy-pass-4711", None), &plain.base_url()).await.unwrap();
    assert!(!summary.export_levels.is_empty(), "{summary:?}");
    assert_eq!(proxy.stats().forwarded, 1, "{:?}", proxy.stats());

    let tls = RunningSim::start(SimConfig { tls: Some(SimTls::default()), ..SimConfig::default() }).await.unwrap();
    fetch_summary(&through(&proxy, "proxy-pass-4711", tls.ca_certificate_pem()), &tls.base_url()).await.unwrap();
    let stats = proxy.stats();
    assert_eq!((stats.tunnels, stats.refused), (1, 0), "{stats:?}");
    assert_eq!(stats.with_credentials, 2, "{stats:?}");
    assert_eq!(plain.stats().proxy_authorization_seen + tls.stats().proxy_authorization_seen, 0);
}

#[tokio::test]
async fn a_wrong_proxy_password_is_the_proxys_refusal_naming_the_proxy() {
    let proxy = SimProxy::start("nurse", "right").await.unwrap();
    let plain = RunningSim::start(SimConfig::default()).await.unwrap();
    let tls = RunningSim::start(SimConfig { tls: Some(SimTls::default()), ..SimConfig::default() }).await.unwrap();
    for (sim, ca) in [(&plain, None), (&tls, tls.ca_certificate_pem())] {
        let err = fetch_summary(&through(&proxy, "wrong", ca), &sim.base_url()).await.unwrap_err();
        assert_eq!(err.kind, HttpErrorKind::ProxyRefused, "{err:?}");
        assert!(err.message.contains(&proxy.url()) && err.message.contains("refused the proxy user name"), "{err}");
        assert!(!err.message.contains("wrong") && !err.detail.unwrap_or_default().contains("wrong"));
    }
    assert_eq!(proxy.stats().refused, 2);
}

#[tokio::test]
async fn a_proxy_that_does_not_answer_is_named() {
    let gone = SimProxy::start("a", "b").await.unwrap();
    let url = gone.url();
    drop(gone);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let tls = RunningSim::start(SimConfig { tls: Some(SimTls::default()), ..SimConfig::default() }).await.unwrap();
    let http = HttpClient::configured(&NetworkSettings {
        extra_roots_pem: tls.ca_certificate_pem().map(String::into_bytes),
        proxy: Some(ProxySettings { url: url.clone(), username: None, password: None }),
        client_identity_pem: None,
    })
    .unwrap();
    let err = fetch_summary(&http, &tls.base_url()).await.unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Unreachable, "{err:?}");
    assert!(err.message.contains(&format!("through the proxy {url}")), "{err}");
}

fn with_identity(sim: &RunningSim, identity: Option<String>) -> HttpClient {
    HttpClient::configured(&NetworkSettings {
        extra_roots_pem: sim.ca_certificate_pem().map(String::into_bytes),
        proxy: None,
        client_identity_pem: identity.map(Zeroizing::new),
    })
    .unwrap()
}

#[tokio::test]
async fn a_server_that_asks_for_a_client_certificate_lets_in_its_own_and_says_why_it_refuses_others() {
    let tls = SimTls { require_client_certificate: true, ..SimTls::default() };
    let sim = RunningSim::start(SimConfig { tls: Some(tls), ..SimConfig::default() }).await.unwrap();
    fetch_summary(&with_identity(&sim, sim.client_identity_pem()), &sim.base_url()).await.unwrap();

    let err = fetch_summary(&with_identity(&sim, None), &sim.base_url()).await.unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Tls, "{err:?}");
    assert!(err.message.contains("asks for a client certificate"), "{err:?}");

    let err =
        fetch_summary(&with_identity(&sim, Some(foreign_client_identity_pem())), &sim.base_url()).await.unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Tls, "{err:?}");
    assert!(err.message.contains("refused the client certificate"), "{err:?}");
}
