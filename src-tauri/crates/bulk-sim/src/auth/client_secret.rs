//! Client-secret sign-in, as BCDA and AB2D (HTTP Basic) and Azure Entra ID (form fields) take it: a client
//! credentials grant authenticated by a shared secret, optionally with one required scope
//! (`https://fhir.example/.default` on Entra).

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;

use super::{FormFields, oauth_error};
use crate::{SecretStyle, Sim};

/// How the token endpoint is told which secret style it takes.
pub struct SecretRules<'a> {
    pub style: SecretStyle,
    pub required_scope: Option<&'a str>,
    pub token_lifetime: Duration,
}

/// The credentials a request carried, by where they came.
struct Presented {
    basic: Option<Result<(String, String), String>>,
    posted: Option<(Option<String>, String)>,
}

pub fn token(sim: &Sim, headers: &HeaderMap, form: &FormFields, rules: &SecretRules<'_>) -> Response {
    let invalid_client = |why: &str| invalid_client(rules.style, why);
    if form.get("grant_type") != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "grant_type must be client_credentials");
    }
    let presented = Presented {
        basic: basic_credentials(headers),
        posted: form.get("client_secret").map(|s| (form.get("client_id").map(str::to_string), s.to_string())),
    };
    let (client_id, secret) = match (rules.style, presented.basic, presented.posted) {
        // RFC 6749 §2.3: a client must not use more than one authentication method in a request.
        (_, Some(_), Some(_)) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the client authenticated twice (HTTP Basic and form fields); use one method",
            );
        }
        (SecretStyle::Basic, Some(Ok(credentials)), None) => credentials,
        (SecretStyle::Basic, Some(Err(why)), None) => return invalid_client(&why),
        (SecretStyle::Basic, None, Some(_)) => {
            return invalid_client(
                "this server takes the client secret in HTTP Basic (client_secret_basic), not in form fields",
            );
        }
        (SecretStyle::Post, None, Some((Some(id), secret))) => (id, secret),
        (SecretStyle::Post, None, Some((None, _))) => return invalid_client("client_id is missing"),
        (SecretStyle::Post, Some(_), None) => {
            return invalid_client(
                "this server takes client_id and client_secret as form fields (client_secret_post), not HTTP Basic",
            );
        }
        (_, None, None) => return invalid_client("client authentication is missing"),
    };
    if !sim.auth.secret_matches(&client_id, &secret) {
        return invalid_client("unknown client or wrong client secret");
    }
    let scope = form.get("scope").map(str::trim).filter(|s| !s.is_empty());
    if let Some(required) = rules.required_scope {
        let Some(asked) = scope else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                &format!("scope is missing; this server requires {required}"),
            );
        };
        if asked.split_whitespace().ne([required]) {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", &format!("scope must be {required}"));
        }
    }
    let access_token = sim.auth.issue(rules.token_lifetime);
    let mut body = json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": rules.token_lifetime.as_secs(),
    });
    if let Some(scope) = scope {
        body["scope"] = scope.into();
    }
    axum::Json(body).into_response()
}

/// `invalid_client` (401); for HTTP Basic, RFC 6749 §5.2 asks for the `WWW-Authenticate` challenge.
fn invalid_client(style: SecretStyle, why: &str) -> Response {
    let mut response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", why);
    if style == SecretStyle::Basic {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"bulk-sim\""));
    }
    response
}

/// `Authorization: Basic base64(id:secret)`: `None` without one, `Err` when it cannot be read.
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), String>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    Some(match decoded.as_deref().and_then(|text| text.split_once(':')) {
        Some((id, secret)) => Ok((id.to_string(), secret.to_string())),
        None => Err("the HTTP Basic credentials are not base64 of client_id:client_secret".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_read_and_bad_ones_refused() {
        let mut headers = HeaderMap::new();
        assert!(basic_credentials(&headers).is_none());
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic YWJjOmQ6ZWY="));
        assert_eq!(basic_credentials(&headers), Some(Ok(("abc".into(), "d:ef".into()))));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert!(matches!(basic_credentials(&headers), Some(Err(_))));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert!(basic_credentials(&headers).is_none());
    }
}
