//! Authorization, server side: the client registries (SMART clients by JWKS, secret clients by a shared
//! secret), discovery, the token endpoint (SMART's `private_key_jwt` in `assertion`, client secrets in
//! `client_secret`), and bearer checks for every mode.

mod assertion;
mod client_secret;
mod registrations;

pub use registrations::DPC_SNIPPET;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::faults::TokenAnswerFault;
use crate::{AuthMode, SecretStyle, Sim, outcome};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientRegistration {
    pub client_id: String,
    pub jwks: Value,
    /// Scopes the client may ask for (space separated); `None` allows any `system/` read scope.
    pub scope: Option<String>,
    /// DPC-like: public keys uploaded as PEM, each under the key id the server assigned (kid, PEM). Such a
    /// client signs with RS384 only, and `jwks` is empty.
    #[serde(default)]
    pub pem_keys: Vec<(String, String)>,
    /// Epic-like: registered by JWKS URL. An assertion must name it in `jku`; one that names another is
    /// refused (as is a `jku` from a client registered without one).
    #[serde(default)]
    pub jwks_url: Option<String>,
}

#[derive(Default)]
pub struct AuthState {
    clients: Mutex<HashMap<String, ClientRegistration>>,
    /// Client id → secret, for `AuthMode::ClientSecret`.
    secrets: Mutex<HashMap<String, String>>,
    tokens: Mutex<HashMap<String, Token>>,
    seen_jti: Mutex<HashSet<String>>,
    next_client: Mutex<u64>,
}

struct Token {
    expires: SystemTime,
}

impl AuthState {
    pub fn register(&self, jwks: Value, scope: Option<String>) -> Result<String, String> {
        let client_id = {
            let mut next = self.next_client.lock().unwrap();
            *next += 1;
            format!("haul-client-{:04}", *next)
        };
        self.register_as(&client_id, jwks, scope)?;
        Ok(client_id)
    }

    /// Registers (or replaces) a client under a chosen id.
    pub fn register_as(&self, client_id: &str, jwks: Value, scope: Option<String>) -> Result<(), String> {
        if client_id.trim().is_empty() {
            return Err("the client id is empty".into());
        }
        let set: JwkSet = serde_json::from_value(jwks.clone()).map_err(|e| format!("not a JWKS: {e}"))?;
        if set.keys.is_empty() {
            return Err("the JWKS has no keys".into());
        }
        for key in &set.keys {
            if key.common.key_id.is_none() {
                return Err("every key in the JWKS needs a kid".into());
            }
            DecodingKey::from_jwk(key).map_err(|e| format!("unusable key: {e}"))?;
        }
        self.clients.lock().unwrap().insert(client_id.to_string(), ClientRegistration::by_jwks(client_id, jwks, scope));
        Ok(())
    }

    fn client(&self, client_id: &str) -> Option<ClientRegistration> {
        self.clients.lock().unwrap().get(client_id).cloned()
    }

    /// Records an assertion's `iss/jti`; false when it was seen before (a replay).
    fn first_use_of_jti(&self, key: &str) -> bool {
        self.seen_jti.lock().unwrap().insert(key.to_string())
    }

    /// A new secret client: a UUID-shaped id (as BCDA and Entra hand out) and a random secret.
    pub fn register_secret(&self) -> (String, String) {
        let (a, b) = (random_u64(), random_u64());
        let client_id = format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        );
        let secret = random_text(32);
        self.secrets.lock().unwrap().insert(client_id.clone(), secret.clone());
        (client_id, secret)
    }

    fn secret_matches(&self, client_id: &str, secret: &str) -> bool {
        self.secrets.lock().unwrap().get(client_id).is_some_and(|s| s == secret)
    }

    fn issue(&self, lifetime: Duration) -> String {
        let token = random_text(24);
        self.tokens.lock().unwrap().insert(token.clone(), Token { expires: SystemTime::now() + lifetime });
        token
    }

    /// Every token still known (tests look for them where they must not be).
    pub fn issued(&self) -> Vec<String> {
        self.tokens.lock().unwrap().keys().cloned().collect()
    }

    pub fn revoke_all(&self) {
        self.tokens.lock().unwrap().clear();
    }

    fn valid(&self, token: &str) -> bool {
        self.tokens.lock().unwrap().get(token).is_some_and(|t| t.expires > SystemTime::now())
    }
}

/// Unpredictable enough for test tokens: the std hasher's per-process random keys plus the clock.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.finish()
}

/// `bytes` random bytes (rounded up to whole `u64`s), URL-safe base64.
fn random_text(bytes: usize) -> String {
    let raw: Vec<u8> = (0..bytes.div_ceil(8)).flat_map(|_| random_u64().to_le_bytes()).collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

pub fn token_url(sim: &Sim) -> String {
    format!("{}/auth/token", sim.origin)
}

pub async fn smart_configuration(State(sim): State<Arc<Sim>>) -> Response {
    let not_found = || {
        outcome::response(StatusCode::NOT_FOUND, "error", "not-found", "This server does not use SMART authorization")
    };
    if sim.faults().no_smart_configuration {
        return not_found();
    }
    let body = match &sim.config.auth {
        AuthMode::Smart { .. } | AuthMode::Optional { .. } => json!({
            "issuer": sim.origin,
            "token_endpoint": token_url(&sim),
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "grant_types_supported": ["client_credentials"],
            "scopes_supported": ["system/*.read", "system/*.rs"],
            "capabilities": ["client-confidential-asymmetric"]
        }),
        AuthMode::ClientSecret { style, required_scope, .. } => {
            let method = match style {
                SecretStyle::Basic => "client_secret_basic",
                SecretStyle::Post => "client_secret_post",
            };
            let mut body = json!({
                "issuer": sim.origin,
                "token_endpoint": token_url(&sim),
                "token_endpoint_auth_methods_supported": [method],
                "grant_types_supported": ["client_credentials"],
                "capabilities": ["client-confidential-symmetric"]
            });
            if let Some(scope) = required_scope {
                body["scopes_supported"] = json!([scope]);
            }
            body
        }
        AuthMode::Open | AuthMode::StaticBearer { .. } => return not_found(),
    };
    axum::Json(body).into_response()
}

/// `POST /_sim/register` with a JWKS (optionally `{"jwks": …, "scope": …}`): registers a client over HTTP,
/// for scripts and tests driving a running simulator (the app's demo server registers in-process and does not
/// mount this route). Answers `{"client_id": …}`.
pub async fn register_endpoint(State(sim): State<Arc<Sim>>, axum::Json(body): axum::Json<Value>) -> Response {
    let (jwks, scope) = match body.get("jwks") {
        Some(jwks) => (jwks.clone(), body.get("scope").and_then(Value::as_str).map(str::to_string)),
        None => (body, None),
    };
    match sim.auth.register(jwks, scope) {
        Ok(client_id) => (StatusCode::CREATED, axum::Json(json!({ "client_id": client_id }))).into_response(),
        Err(e) => oauth_error(StatusCode::BAD_REQUEST, "invalid_client_metadata", &e),
    }
}

/// A token request's form fields in the order sent.
pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    fn parse(body: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of field `name`.
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The field names, sorted and without repeats.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.0.iter().map(|(k, _)| k.clone()).collect();
        names.sort();
        names.dedup();
        names
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, axum::Json(json!({ "error": error, "error_description": description }))).into_response()
}

/// `POST /auth/token`: the form is read by hand rather than by `Form`, so that fields the simulator does not
/// know (`audience`, `resource`, …) are still recorded for tests.
pub async fn token(State(sim): State<Arc<Sim>>, headers: HeaderMap, uri: axum::http::Uri, body: Bytes) -> Response {
    let fault = sim.faults().token_answer;
    if fault == TokenAnswerFault::Redirect && uri.query().is_none() {
        sim.stats().token_requests += 1;
        let to = format!("{}?moved=1", token_url(&sim));
        return (StatusCode::TEMPORARY_REDIRECT, [(axum::http::header::LOCATION, to)]).into_response();
    }
    let granted = granting(&sim, &headers, &body).await;
    if fault == TokenAnswerFault::Normal || granted.status() != StatusCode::OK {
        return granted;
    }
    faulty_grant(granted, fault).await
}

/// A granted token's answer as `fault` changes it.
async fn faulty_grant(granted: Response, fault: TokenAnswerFault) -> Response {
    if fault == TokenAnswerFault::Endless {
        let chunk = Bytes::from(vec![b' '; 64 * 1024]);
        let endless = futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
        return (StatusCode::OK, axum::body::Body::from_stream(endless)).into_response();
    }
    let Ok(bytes) = axum::body::to_bytes(granted.into_body(), 1 << 20).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    answer["expires_in"] = match fault {
        TokenAnswerFault::AbsurdLifetime => json!(u64::MAX),
        _ => json!(answer["expires_in"].as_u64().unwrap_or(300).to_string()),
    };
    axum::Json(answer).into_response()
}

async fn granting(sim: &Arc<Sim>, headers: &HeaderMap, body: &Bytes) -> Response {
    let sim = sim.clone();
    let form = FormFields::parse(body);
    {
        let mut stats = sim.stats();
        stats.token_requests += 1;
        stats.token_form_fields = form.names();
    }
    match &sim.config.auth {
        AuthMode::Smart { token_lifetime } | AuthMode::Optional { token_lifetime } => {
            assertion::token(&sim, &form, *token_lifetime)
        }
        AuthMode::ClientSecret { token_lifetime, style, required_scope } => {
            let rules = client_secret::SecretRules {
                style: *style,
                required_scope: required_scope.as_deref(),
                token_lifetime: *token_lifetime,
            };
            client_secret::token(&sim, headers, &form, &rules)
        }
        AuthMode::StaticBearer { .. } => crate::not_found().await,
        AuthMode::Open => {
            oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "This server does not use SMART authorization")
        }
    }
}

/// Checks the bearer token of a request as the auth mode asks; `Err` is the 401 to send.
pub fn check_bearer(sim: &Sim, headers: &HeaderMap) -> Result<(), Box<Response>> {
    match &sim.config.auth {
        AuthMode::Open => Ok(()),
        AuthMode::Optional { .. } if !headers.contains_key(header::AUTHORIZATION) => Ok(()),
        AuthMode::StaticBearer { token } => match bearer_token(headers) {
            None => Err(unauthorized("invalid_request", "This server requires a bearer token")),
            Some(t) if t == token => Ok(()),
            Some(_) => Err(unauthorized("invalid_token", "The access token is not the one this server accepts")),
        },
        AuthMode::Smart { .. } | AuthMode::Optional { .. } | AuthMode::ClientSecret { .. } => {
            match bearer_token(headers) {
                None => Err(unauthorized("invalid_request", "This server requires a bearer token")),
                Some(t) if sim.auth.valid(t) => Ok(()),
                Some(_) => Err(unauthorized("invalid_token", "The access token is unknown or has expired")),
            }
        }
    }
}

/// Like [`check_bearer`], but a bearer token must come whatever the mode: a valid one when the server
/// issues or fixes tokens, any one when the server is open (there is nothing to check it against).
pub fn require_bearer(sim: &Sim, headers: &HeaderMap) -> Result<(), Box<Response>> {
    if bearer_token(headers).is_none() {
        return Err(unauthorized("invalid_request", "This endpoint requires a bearer token"));
    }
    check_bearer(sim, headers)
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
}

fn unauthorized(error: &str, why: &str) -> Box<Response> {
    let mut response = outcome::response(StatusCode::UNAUTHORIZED, "error", "login", why);
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer error=\"{error}\"")) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    Box::new(response)
}
