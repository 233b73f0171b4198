//! SMART Backend Services against the simulator's token endpoint, over real HTTP.

use std::sync::Arc;
use std::time::Duration;

use bulk_client::{AuthErrorKind, BackendAuth, HttpClient, KeyAlgorithm, SigningKey, discover_token_url};
use bulk_sim::{AuthMode, Faults, RunningSim, SimConfig};

async fn smart_sim() -> RunningSim {
    RunningSim::start(SimConfig {
        auth: AuthMode::Smart { token_lifetime: Duration::from_secs(300) },
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn register(sim: &RunningSim, key: &SigningKey) -> String {
    sim.register_client(key.public_jwks(), None).unwrap()
}

fn auth(sim: &RunningSim, client: &str, key: SigningKey) -> BackendAuth {
    BackendAuth::new(HttpClient::new(), sim.token_url(), client.into(), None, Arc::new(key))
}

#[tokio::test]
async fn discovery_uses_the_fhir_base_then_the_capability_statement() {
    let sim = smart_sim().await;
    let http = HttpClient::new();
    assert_eq!(discover_token_url(&http, &format!("{}/", sim.base_url())).await.unwrap(), sim.token_url());
    sim.set_faults(Faults { no_smart_configuration: true, ..Faults::default() });
    assert_eq!(discover_token_url(&http, &sim.base_url()).await.unwrap(), sim.token_url());

    let open = RunningSim::start(SimConfig::default()).await.unwrap();
    let err = discover_token_url(&http, &open.base_url()).await.unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::NoTokenEndpoint);
    assert!(err.message.contains("Enter the token URL by hand"), "{}", err.message);
}

#[tokio::test]
async fn both_algorithms_get_a_token_that_is_then_reused() {
    let sim = smart_sim().await;
    for alg in [KeyAlgorithm::RS384, KeyAlgorithm::ES384] {
        let key = SigningKey::generate(alg).unwrap();
        let client = register(&sim, &key);
        let auth = auth(&sim, &client, key);
        let before = sim.stats().token_requests;
        let first = auth.access_token().await.unwrap();
        let second = auth.access_token().await.unwrap();
        assert_eq!(*first, *second, "the token is cached");
        assert_eq!(sim.stats().token_requests, before + 1);
        let res = reqwest::Client::new()
            .get(format!("{}/$export?_type=Patient", sim.base_url()))
            .bearer_auth(&*first)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202, "{alg:?}");
    }
}

#[tokio::test]
async fn a_401_signs_in_again_once() {
    let sim = smart_sim().await;
    let key = SigningKey::generate(KeyAlgorithm::ES384).unwrap();
    let client = register(&sim, &key);
    let auth = auth(&sim, &client, key);
    auth.access_token().await.unwrap();
    sim.revoke_tokens();
    let http = reqwest::Client::new();
    let url = format!("{}/Group", sim.base_url());
    let res = auth.send(|t| http.get(&url).bearer_auth(t)).await.unwrap().unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(sim.stats().token_requests, 2);
}

#[tokio::test]
async fn a_wrong_key_is_named_as_such() {
    let sim = smart_sim().await;
    let registered = SigningKey::generate(KeyAlgorithm::ES384).unwrap();
    let client = register(&sim, &registered);
    // Another key that claims the registered key's kid, as after a key was replaced on one side only.
    let other = SigningKey::from_pkcs8_der(
        SigningKey::generate(KeyAlgorithm::ES384).unwrap().private_pkcs8_der(),
        Some(registered.kid().into()),
    )
    .unwrap();
    let err = auth(&sim, &client, other).access_token().await.unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::WrongKey, "{err:?}");
    assert!(err.message.contains("not the one Haul signed with"), "{}", err.message);
    assert!(err.detail.unwrap().contains("signature"));
}

#[tokio::test]
async fn an_unknown_client_is_named() {
    let sim = smart_sim().await;
    let key = SigningKey::generate(KeyAlgorithm::ES384).unwrap();
    let err = auth(&sim, "nobody-registered-me", key).access_token().await.unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::UnknownClient, "{err:?}");
    assert!(err.message.contains("does not know the client ID “nobody-registered-me”"), "{}", err.message);
}

#[tokio::test]
async fn a_clock_that_is_off_is_suspected() {
    let sim = smart_sim().await;
    let key = SigningKey::generate(KeyAlgorithm::RS384).unwrap();
    let client = register(&sim, &key);
    let slow_clock = auth(&sim, &client, key).with_clock_offset(-600);
    let err = slow_clock.access_token().await.unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::ClockSkew, "{err:?}");
    assert!(err.message.contains("clock on this computer may be off"), "{}", err.message);
}

#[tokio::test]
async fn a_replayed_assertion_is_refused_with_its_reason() {
    let sim = smart_sim().await;
    let key = SigningKey::generate(KeyAlgorithm::ES384).unwrap();
    let client = register(&sim, &key);
    let auth = auth(&sim, &client, key);
    let assertion = auth.client_assertion().unwrap();
    auth.request_token(&assertion).await.unwrap();
    let err = auth.request_token(&assertion).await.unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::Replayed, "{err:?}");
    // Each assertion Haul makes is new.
    assert_ne!(auth.client_assertion().unwrap(), auth.client_assertion().unwrap());
}

#[tokio::test]
async fn an_invalid_scope_says_which() {
    let sim = smart_sim().await;
    let key = SigningKey::generate(KeyAlgorithm::ES384).unwrap();
    let client = register(&sim, &key);
    let auth =
        BackendAuth::new(HttpClient::new(), sim.token_url(), client, Some("system/*.write".into()), Arc::new(key));
    let err = auth.access_token().await.unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::InvalidScope);
    assert!(err.message.contains("“system/*.write”"), "{}", err.message);
}

#[tokio::test]
async fn an_unreachable_or_wrong_token_endpoint_is_plain() {
    let sim = smart_sim().await;
    let key = Arc::new(SigningKey::generate(KeyAlgorithm::ES384).unwrap());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let down =
        BackendAuth::new(HttpClient::new(), format!("http://127.0.0.1:{port}/token"), "c".into(), None, key.clone());
    let err = down.access_token().await.unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::Unreachable);
    assert!(err.message.starts_with("Nothing answered at"), "{}", err.message);

    // A FHIR endpoint instead of the token endpoint: JSON, but not OAuth.
    let wrong = BackendAuth::new(HttpClient::new(), format!("{}/Group", sim.base_url()), "c".into(), None, key);
    let err = wrong.access_token().await.unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::NotOAuth, "{err:?}");
    assert!(err.message.contains("The token URL may be wrong"), "{}", err.message);
}
