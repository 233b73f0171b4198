//! Client-secret sign-in (HTTP Basic as BCDA and AB2D, form fields and a required scope as Azure Entra ID)
//! and a static bearer token, over real HTTP.

use crate::common;

use std::time::Duration;

use bulk_sim::{AuthMode, RunningSim, SecretStyle, SimConfig};
use common::{config, download, http, kickoff, kickoff_status, manifest, start};
use serde_json::{Value, json};

const ENTRA_SCOPE: &str = "https://fhir.example/.default";

async fn secret_sim(style: SecretStyle, required_scope: Option<&str>) -> RunningSim {
    start(SimConfig {
        auth: AuthMode::ClientSecret {
            token_lifetime: Duration::from_secs(300),
            style,
            required_scope: required_scope.map(str::to_string),
        },
        ..config(5)
    })
    .await
}

async fn smart_configuration(sim: &RunningSim) -> reqwest::Response {
    http().get(format!("{}/.well-known/smart-configuration", sim.base_url())).send().await.unwrap()
}

/// A token request with HTTP Basic credentials (when given) and these form fields.
async fn token_request(sim: &RunningSim, basic: Option<(&str, &str)>, form: &[(&str, &str)]) -> reqwest::Response {
    let mut req = http().post(sim.token_url()).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    req.send().await.unwrap()
}

/// The status and RFC 6749 `error` of a refused token request.
async fn refusal(res: reqwest::Response) -> (u16, String, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    (status, body["error"].as_str().unwrap().to_string(), body["error_description"].as_str().unwrap().to_string())
}

/// The form of a `client_secret_post` token request.
fn posted_form<'a>(id: &'a str, secret: &'a str, scope: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)];
    fields.extend(scope.map(|s| ("scope", s)));
    fields
}

async fn access_token(res: reqwest::Response) -> String {
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 300);
    body["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn basic_client_secret_issues_tokens_that_open_the_export_and_refuses_wrong_secrets_and_styles() {
    let sim = secret_sim(SecretStyle::Basic, None).await;
    let (id, secret) = sim.register_secret_client();
    let (other_id, other_secret) = sim.register_secret_client();
    assert_ne!((&id, &secret), (&other_id, &other_secret), "clients are generated afresh");
    let conf: Value = smart_configuration(&sim).await.json().await.unwrap();
    assert_eq!(conf["token_endpoint"], sim.token_url());
    assert_eq!(conf["token_endpoint_auth_methods_supported"], json!(["client_secret_basic"]));
    assert_eq!(kickoff_status(&sim).await.status(), 401);

    let grant = [("grant_type", "client_credentials"), ("audience", "https://bcda.example")];
    let token = access_token(token_request(&sim, Some((id.as_str(), secret.as_str())), &grant).await).await;
    assert_eq!(sim.stats().token_form_fields, ["audience", "grant_type"]);
    let status = kickoff(&sim, "$export?_type=Patient", Some(&token)).await;
    let (m, _) = manifest(&status, Some(&token)).await;
    assert_eq!(m["requiresAccessToken"], true);
    let url = m["output"][0]["url"].as_str().unwrap();
    assert_eq!(http().get(url).send().await.unwrap().status(), 401, "files need the token");
    assert_eq!(download(url, Some(&token)).await.len(), 5);

    let res = token_request(&sim, Some((id.as_str(), "not-the-secret")), &grant).await;
    assert!(res.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    assert_eq!(refusal(res).await.1, "invalid_client");
    let res = token_request(&sim, Some((id.as_str(), other_secret.as_str())), &grant).await;
    assert_eq!(refusal(res).await.0, 401, "another client's secret");
    let posted = [("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", secret.as_str())];
    let (status, error, why) = refusal(token_request(&sim, None, &posted).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_client"));
    assert!(why.contains("client_secret_basic"), "{why}");
    let (status, error, _) = refusal(token_request(&sim, None, &[("grant_type", "client_credentials")]).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_client"));

    sim.revoke_tokens();
    let res = http().get(format!("{}/$export", sim.base_url())).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 401, "revoked like a SMART token");
}

#[tokio::test]
async fn posted_client_secret_with_a_required_scope_like_entra() {
    let sim = secret_sim(SecretStyle::Post, Some(ENTRA_SCOPE)).await;
    let (id, secret) = sim.register_secret_client();
    let conf: Value = smart_configuration(&sim).await.json().await.unwrap();
    assert_eq!(conf["token_endpoint_auth_methods_supported"], json!(["client_secret_post"]));

    let mut good = posted_form(&id, &secret, Some(ENTRA_SCOPE));
    good.push(("resource", "https://fhir.example"));
    let token = access_token(token_request(&sim, None, &good).await).await;
    assert_eq!(sim.stats().token_form_fields, ["client_id", "client_secret", "grant_type", "resource", "scope"]);
    kickoff(&sim, "$export?_type=Patient", Some(&token)).await;

    let (status, error, _) = refusal(token_request(&sim, None, &posted_form(&id, &secret, None)).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_scope"), "scope missing");
    let (status, error, _) =
        refusal(token_request(&sim, None, &posted_form(&id, &secret, Some("system/*.read"))).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_scope"), "another scope");
    let (status, error, _) =
        refusal(token_request(&sim, None, &posted_form(&id, "wrong", Some(ENTRA_SCOPE))).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_client"), "wrong secret");
    let basic = [("grant_type", "client_credentials"), ("scope", ENTRA_SCOPE)];
    let (status, error, why) = refusal(token_request(&sim, Some((id.as_str(), secret.as_str())), &basic).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_client"), "wrong style");
    assert!(why.contains("client_secret_post"), "{why}");
}

#[tokio::test]
async fn a_static_bearer_token_is_the_only_key_and_there_is_no_token_endpoint() {
    const TOKEN: &str = "static-api-key-123";
    let sim = start(SimConfig { auth: AuthMode::StaticBearer { token: TOKEN.into() }, ..config(5) }).await;
    assert!(sim.issued_tokens().contains(&TOKEN.to_string()));
    assert_eq!(smart_configuration(&sim).await.status(), 404);
    let res = token_request(&sim, None, &[("grant_type", "client_credentials")]).await;
    assert_eq!(res.status(), 404);

    let export = format!("{}/$export?_type=Patient", sim.base_url());
    let groups = format!("{}/Group", sim.base_url());
    for url in [&export, &groups] {
        assert_eq!(http().get(url).send().await.unwrap().status(), 401, "{url} without a token");
        let res = http().get(url).bearer_auth("static-api-key-12").send().await.unwrap();
        assert_eq!(res.status(), 401, "{url} with another token");
        let oo: Value = res.json().await.unwrap();
        assert_eq!(oo["resourceType"], "OperationOutcome");
    }
    assert_eq!(http().get(&groups).bearer_auth(TOKEN).send().await.unwrap().status(), 200);
    let status = kickoff(&sim, "$export?_type=Patient", Some(TOKEN)).await;
    assert_eq!(http().get(&status).send().await.unwrap().status(), 401, "status needs the token");
    let (m, _) = manifest(&status, Some(TOKEN)).await;
    assert_eq!(m["requiresAccessToken"], true);
    let url = m["output"][0]["url"].as_str().unwrap();
    assert_eq!(http().get(url).send().await.unwrap().status(), 401, "files need the token");
    assert_eq!(download(url, Some(TOKEN)).await.len(), 5);
}
