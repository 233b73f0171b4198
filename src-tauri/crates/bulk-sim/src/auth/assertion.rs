//! SMART Backend Services' token request: a `private_key_jwt` client assertion (RS384 or ES384) verified
//! against the client's registered JWKS.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Value, json};

use super::registrations::{jku_problem, pem_key};
use super::{FormFields, oauth_error, token_url};
use crate::Sim;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest an assertion may live: SMART says `exp` no more than five minutes ahead.
const MAX_ASSERTION_LIFETIME: u64 = 300;

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    exp: u64,
    jti: Option<String>,
}

pub fn token(sim: &Sim, form: &FormFields, token_lifetime: Duration) -> Response {
    let bad = |error: &str, description: &str| oauth_error(StatusCode::BAD_REQUEST, error, description);
    let unauthorized = |description: &str| oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description);

    if form.get("grant_type") != Some("client_credentials") {
        return bad("unsupported_grant_type", "grant_type must be client_credentials");
    }
    if form.get("client_assertion_type") != Some(ASSERTION_TYPE) {
        return bad(
            "invalid_request",
            "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        );
    }
    let Some(assertion) = form.get("client_assertion") else {
        return bad("invalid_request", "client_assertion is missing");
    };
    let Some(scope) = form.get("scope").map(str::trim).filter(|s| !s.is_empty()) else {
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
    let Some(client) = sim.auth.client(&claimed_iss) else {
        return unauthorized(&format!("unknown client: {claimed_iss}"));
    };
    let Some(kid) = header.kid.as_deref() else {
        return unauthorized("the JWT header has no kid");
    };
    if let Some(problem) = jku_problem(&client, header.jku.as_deref()) {
        return unauthorized(&problem);
    }
    let key = if client.pem_keys.is_empty() {
        match jwks_key(&client.jwks, kid, header.alg) {
            Ok(k) => k,
            Err(why) => return unauthorized(&why),
        }
    } else {
        match pem_key(&client, kid, header.alg) {
            Ok(k) => k,
            Err(why) => return unauthorized(&why),
        }
    };
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[token_url(sim)]);
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
                ErrorKind::InvalidAudience => format!("aud must be the token endpoint URL {}", token_url(sim)),
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
    if !sim.auth.first_use_of_jti(&format!("{}/{jti}", claims.iss)) {
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

/// The registered JWK with `kid`, usable for `alg`.
fn jwks_key(jwks: &Value, kid: &str, alg: Algorithm) -> Result<DecodingKey, String> {
    let set: JwkSet = serde_json::from_value(jwks.clone()).unwrap_or(JwkSet { keys: vec![] });
    let Some(jwk) = set.keys.iter().find(|k| k.common.key_id.as_deref() == Some(kid)) else {
        return Err(format!("no registered key has kid {kid}"));
    };
    if !alg_fits_key(alg, jwk) {
        return Err(format!("the key {kid} cannot verify {alg:?} signatures"));
    }
    DecodingKey::from_jwk(jwk).map_err(|e| format!("registered key {kid} is unusable: {e}"))
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
