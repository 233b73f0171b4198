//! Client-secret sign-in against the simulator's token endpoint, over real HTTP: both styles, the token
//! kept until it is due, a new one after `invalidate`, and a refusal's words.

use std::time::Duration;

use bulk_client::{AuthErrorKind, ClientSecretAuth, HttpClient, SecretStyle, SignIn, discover_token_url};
use bulk_sim::{AuthMode, RunningSim, SimConfig};
use zeroize::Zeroizing;

async fn secret_sim(style: bulk_sim::SecretStyle) -> RunningSim {
    RunningSim::start(SimConfig {
        auth: AuthMode::ClientSecret { token_lifetime: Duration::from_secs(300), style, required_scope: None },
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn auth(sim: &RunningSim, id: &str, secret: &str, style: SecretStyle) -> ClientSecretAuth {
    ClientSecretAuth::new(HttpClient::new(), sim.token_url(), id.into(), Zeroizing::new(secret.into()), style)
}

#[tokio::test]
async fn both_styles_get_a_token_that_is_kept_until_it_is_due() {
    for (ours, theirs) in
        [(SecretStyle::Basic, bulk_sim::SecretStyle::Basic), (SecretStyle::Post, bulk_sim::SecretStyle::Post)]
    {
        let sim = secret_sim(theirs).await;
        // The token endpoint is found the way SMART's is.
        assert_eq!(discover_token_url(&HttpClient::new(), &sim.base_url()).await.unwrap(), sim.token_url());
        let (id, secret) = sim.register_secret_client();
        let sign_in = SignIn::from(auth(&sim, &id, &secret, ours));
        let first = sign_in.access_token().await.unwrap();
        assert_eq!(sign_in.access_token().await.unwrap(), first, "{ours:?}: cached");
        assert_eq!(sim.stats().token_requests, 1, "{ours:?}");
        sign_in.invalidate().await;
        assert_ne!(sign_in.access_token().await.unwrap(), first, "{ours:?}: a new token after a 401");
        assert_eq!(sim.stats().token_requests, 2, "{ours:?}");
        assert_eq!(sign_in.secrets().redact(&format!("secret {secret}")), "secret [redacted]");
    }
}

#[tokio::test]
async fn a_wrong_secret_and_a_wrong_style_are_told_apart_from_the_servers_words() {
    let sim = secret_sim(bulk_sim::SecretStyle::Basic).await;
    let (id, secret) = sim.register_secret_client();
    let err = auth(&sim, &id, "not-the-secret", SecretStyle::Basic).access_token().await.unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::WrongSecret, "{err:?}");
    assert!(err.message.contains("The client ID or secret is wrong, or this server wants them as form fields"));
    assert!(err.detail.unwrap().starts_with("HTTP 401"));
    let err = auth(&sim, &id, &secret, SecretStyle::Post).access_token().await.unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::WrongSecret, "{err:?}");
    assert!(err.message.contains("client_secret_basic"), "{}", err.message);
    assert!(!err.message.contains(&secret) && !err.detail.unwrap_or_default().contains(&secret));
}

#[tokio::test]
async fn a_token_endpoint_that_redirects_rambles_or_gives_absurd_lifetimes_is_survived() {
    use bulk_sim::{Faults, TokenAnswerFault};
    let sim = secret_sim(bulk_sim::SecretStyle::Post).await;
    let (id, secret) = sim.register_secret_client();
    let with = |fault| sim.set_faults(Faults { token_answer: fault, ..Faults::default() });

    // A lifetime past any clock is held to a day (it used to overflow the clock and panic); one written as text
    // is read as the number it is.
    for fault in [TokenAnswerFault::AbsurdLifetime, TokenAnswerFault::LifetimeAsText] {
        with(fault);
        let sign_in = SignIn::from(auth(&sim, &id, &secret, SecretStyle::Post));
        let before = sim.stats().token_requests;
        let token = sign_in.access_token().await.unwrap_or_else(|e| panic!("{fault:?}: {e:?}"));
        assert_eq!(sign_in.access_token().await.unwrap(), token, "{fault:?}: kept");
        assert_eq!(sim.stats().token_requests, before + 1, "{fault:?}");
    }

    // A redirect would post the secret again wherever it points: not followed, and said.
    with(TokenAnswerFault::Redirect);
    let before = sim.stats().token_requests;
    let err = auth(&sim, &id, &secret, SecretStyle::Post).access_token().await.unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::NotOAuth, "{err:?}");
    assert!(err.message.contains("sent Haul on to another address (HTTP 307)"), "{}", err.message);
    assert!(err.detail.as_deref().unwrap_or_default().contains("?moved=1"), "{err:?}");
    assert_eq!(sim.stats().token_requests, before + 1, "the redirect was not followed");

    // An answer that never ends is read no further than 64 KiB.
    with(TokenAnswerFault::Endless);
    let started = std::time::Instant::now();
    let err = auth(&sim, &id, &secret, SecretStyle::Post).access_token().await.unwrap_err();
    assert!(err.message.contains("answered with more than 64 KiB"), "{}", err.message);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}
