//! SMART Backend Services, server side: discovery, a client registry (client id → JWKS), the token
//! endpoint that verifies `private_key_jwt` assertions (RS384, ES384), and bearer checks.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{AuthMode, Sim, outcome};

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest an assertion may live: SMART says `exp` no more than five minutes ahead.
const MAX_ASSERTION_LIFETIME: u64 = 300;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientRegistration {
    pub client_id: String,
    pub jwks: Value,
    /// Scopes the client may ask for (space separated); `None` allows any `system/` read scope.
    pub scope: Option<String>,
}

#[derive(Default)]
pub struct AuthState {
    clients: Mutex<HashMap<String, ClientRegistration>>,
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
        self.clients
            .lock()
            .unwrap()
            .insert(client_id.to_string(), ClientRegistration { client_id: client_id.to_string(), jwks, scope });
        Ok(())
    }

    fn issue(&self, lifetime: Duration) -> String {
        let mut bytes = [0u8; 24];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&random_u64().to_le_bytes());
        }
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
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

pub fn token_url(sim: &Sim) -> String {
    format!("{}/auth/token", sim.origin)
}

pub async fn smart_configuration(State(sim): State<Arc<Sim>>) -> Response {
    if !sim.smart() || sim.faults().no_smart_configuration {
        return outcome::response(
            StatusCode::NOT_FOUND,
            "error",
            "not-found",
            "This server does not use SMART authorization",
        );
    }
    axum::Json(json!({
        "issuer": sim.origin,
        "token_endpoint": token_url(&sim),
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": ["system/*.read", "system/*.rs"],
        "capabilities": ["client-confidential-asymmetric"]
    }))
    .into_response()
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

#[derive(Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
    scope: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    exp: u64,
    jti: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, axum::Json(json!({ "error": error, "error_description": description }))).into_response()
}

pub async fn token(State(sim): State<Arc<Sim>>, Form(form): Form<TokenForm>) -> Response {
    sim.stats().token_requests += 1;
    let (AuthMode::Smart { token_lifetime } | AuthMode::Optional { token_lifetime }) = sim.config.auth else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "This server does not use SMART authorization");
    };
    let bad = |error: &str, description: &str| oauth_error(StatusCode::BAD_REQUEST, error, description);
    let unauthorized = |description: &str| oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description);

    if form.grant_type.as_deref() != Some("client_credentials") {
        return bad("unsupported_grant_type", "grant_type must be client_credentials");
    }
    if form.client_assertion_type.as_deref() != Some(ASSERTION_TYPE) {
        return bad(
            "invalid_request",
            "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        );
    }
    let Some(assertion) = form.client_assertion.as_deref() else {
        return bad("invalid_request", "client_assertion is missing");
    };
    let Some(scope) = form.scope.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return bad("invalid_scope", "scope is missing");
    };

    let header = match jsonwebtoken::decode_header(assertion) {
        Ok(h) => h,
        Err(e) => return unauthorized(&format!("client_assertion is not a JWT: {e}")),
    };
    if header.alg != Algorithm::RS384 && header.alg != Algorithm::ES384 {
        return unauthorized(&format!("alg {:?} is not supported; use RS384 or ES384", header.alg));
    }
    // Who claims to be signing: read before verification only to find their keys.
    let Some(claimed_iss) = unverified_claim(assertion, "iss") else {
        return unauthorized("client_assertion has no iss claim");
    };
    let Some(client) = sim.auth.clients.lock().unwrap().get(&claimed_iss).cloned() else {
        return unauthorized(&format!("unknown client: {claimed_iss}"));
    };
    let Some(kid) = header.kid.as_deref() else {
        return unauthorized("the JWT header has no kid");
    };
    let set: JwkSet = serde_json::from_value(client.jwks.clone()).unwrap_or(JwkSet { keys: vec![] });
    let Some(jwk) = set.keys.iter().find(|k| k.common.key_id.as_deref() == Some(kid)) else {
        return unauthorized(&format!("no registered key has kid {kid}"));
    };
    if !alg_fits_key(header.alg, jwk) {
        return unauthorized(&format!("the key {kid} cannot verify {:?} signatures", header.alg));
    }
    let key = match DecodingKey::from_jwk(jwk) {
        Ok(k) => k,
        Err(e) => return unauthorized(&format!("registered key {kid} is unusable: {e}")),
    };
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[token_url(&sim)]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.leeway = 0;
    let claims = match jsonwebtoken::decode::<Claims>(assertion, &key, &validation) {
        Ok(data) => data.claims,
        Err(e) => {
            use jsonwebtoken::errors::ErrorKind;
            let why = match e.kind() {
                ErrorKind::InvalidSignature => {
                    "signature verification failed: the assertion was not signed by the registered key".to_string()
                }
                ErrorKind::ExpiredSignature => "the client assertion has expired (exp is in the past)".to_string(),
                ErrorKind::InvalidAudience => format!("aud must be the token endpoint URL {}", token_url(&sim)),
                other => format!("invalid client assertion: {other:?}"),
            };
            return unauthorized(&why);
        }
    };
    if claims.sub != claims.iss {
        return unauthorized("iss and sub must both be the client id");
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    if claims.exp > now + MAX_ASSERTION_LIFETIME {
        return unauthorized("exp is more than five minutes in the future");
    }
    let Some(jti) = claims.jti else {
        return unauthorized("the client assertion has no jti");
    };
    if !sim.auth.seen_jti.lock().unwrap().insert(format!("{}/{jti}", claims.iss)) {
        return unauthorized("jti was already used: each assertion must be new");
    }
    if let Some(bad_scope) = scope.split_whitespace().find(|s| !scope_allowed(s, client.scope.as_deref())) {
        return bad("invalid_scope", &format!("scope {bad_scope} is not granted to this client"));
    }
    let access_token = sim.auth.issue(token_lifetime);
    axum::Json(json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": token_lifetime.as_secs(),
        "scope": scope
    }))
    .into_response()
}

fn unverified_claim(jwt: &str, name: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value.get(name)?.as_str().map(str::to_string)
}

fn alg_fits_key(alg: Algorithm, jwk: &Jwk) -> bool {
    use jsonwebtoken::jwk::AlgorithmParameters::*;
    matches!((alg, &jwk.algorithm), (Algorithm::RS384, RSA(_)) | (Algorithm::ES384, EllipticCurve(_)))
}

/// Read scopes only: `system/*.read`, `system/*.rs`, `system/Type.read` … (and within the client's grant).
fn scope_allowed(scope: &str, granted: Option<&str>) -> bool {
    let Some(rest) = scope.strip_prefix("system/") else { return false };
    let Some((_, access)) = rest.split_once('.') else { return false };
    if !(access == "read" || access == "rs" || access == "r" || access == "s") {
        return false;
    }
    granted.is_none_or(|g| g.split_whitespace().any(|s| s == scope))
}

/// Checks the bearer token of a request when the server uses SMART; `Err` is the 401 to send.
pub fn check_bearer(sim: &Sim, headers: &HeaderMap) -> Result<(), Box<Response>> {
    if !sim.smart() {
        return Ok(());
    }
    if matches!(sim.config.auth, AuthMode::Optional { .. }) && !headers.contains_key(header::AUTHORIZATION) {
        return Ok(());
    }
    match bearer_token(headers) {
        None => Err(unauthorized("invalid_request", "This server requires a bearer token (SMART Backend Services)")),
        Some(t) if sim.auth.valid(t) => Ok(()),
        Some(_) => Err(unauthorized("invalid_token", "The access token is unknown or has expired")),
    }
}

/// Like [`check_bearer`], but a bearer token must come whatever the mode: a valid one in the SMART modes,
/// any one when the server is open (there is nothing to check it against).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_system_read_scopes_are_granted() {
        assert!(scope_allowed("system/*.read", None));
        assert!(scope_allowed("system/Patient.rs", None));
        assert!(!scope_allowed("system/*.write", None));
        assert!(!scope_allowed("user/*.read", None));
        assert!(!scope_allowed("launch", None));
        assert!(scope_allowed("system/Patient.read", Some("system/Patient.read system/Group.read")));
        assert!(!scope_allowed("system/*.read", Some("system/Patient.read")));
    }
}
