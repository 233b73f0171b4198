//! SMART Backend Services, client side: find the token endpoint, sign a client assertion
//! (`private_key_jwt`), trade it for an access token, cache the token in memory only, and re-authorize
//! once when a server answers 401.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rsa::rand_core::RngCore;
use serde::Deserialize;
use serde_json::{Value, json};
use ts_rs::TS;
use zeroize::Zeroizing;

use crate::error::{HttpError, excerpt};
use crate::http::HttpClient;
use crate::keys::{KeyAlgorithm, KeyError, SigningKey};
use crate::secrets::Secrets;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const DEFAULT_SCOPE: &str = "system/*.read";
/// Assertions live four minutes: inside SMART's five, with room for a server's clock running fast.
const ASSERTION_LIFETIME: i64 = 240;
/// A token is renewed this long before it expires, so a request never leaves with a dying token.
const RENEW_BEFORE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AuthErrorKind {
    /// No token endpoint could be found.
    NoTokenEndpoint,
    /// The token endpoint could not be reached (see the HTTP detail).
    Unreachable,
    /// The token endpoint answered with something that is not OAuth JSON.
    NotOAuth,
    UnknownClient,
    /// The signature did not verify: the server holds another public key for this client.
    WrongKey,
    /// The assertion was expired or not yet valid: the local clock may be off.
    ClockSkew,
    /// The same assertion was used twice.
    Replayed,
    InvalidScope,
    /// Any other refusal; the server's words are in the message.
    Refused,
    /// The signing key itself is unusable.
    Key,
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AuthError {
    pub kind: AuthErrorKind,
    pub message: String,
    pub detail: Option<String>,
}

impl AuthError {
    fn new(kind: AuthErrorKind, message: impl Into<String>, detail: Option<String>) -> Self {
        Self { kind, message: message.into(), detail }
    }
}

impl From<KeyError> for AuthError {
    fn from(e: KeyError) -> Self {
        AuthError::new(AuthErrorKind::Key, e.to_string(), None)
    }
}

impl From<HttpError> for AuthError {
    fn from(e: HttpError) -> Self {
        AuthError::new(AuthErrorKind::Unreachable, e.message, e.detail)
    }
}

/// Finds the token endpoint: `[base]/.well-known/smart-configuration` (relative to the FHIR base, not the
/// host root), else the capability statement's OAuth extension.
pub async fn discover_token_url(http: &HttpClient, base_url: &str) -> Result<String, AuthError> {
    let base = base_url.trim_end_matches('/');
    let well_known = format!("{base}/.well-known/smart-configuration");
    let mut tried = Vec::new();
    match get_json(http, &well_known).await {
        Ok(v) => match v.get("token_endpoint").and_then(Value::as_str) {
            Some(url) => return Ok(url.to_string()),
            None => tried.push(format!("{well_known} has no token_endpoint")),
        },
        Err(why) => tried.push(format!("{well_known}: {why}")),
    }
    let metadata = format!("{base}/metadata");
    match get_json(http, &metadata).await {
        Ok(cs) => {
            let found = cs
                .pointer("/rest/0/security/extension")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|e| e.get("url").and_then(Value::as_str).is_some_and(|u| u.ends_with("oauth-uris")))
                .flat_map(|e| e.get("extension").and_then(Value::as_array).into_iter().flatten())
                .find(|e| e.get("url").and_then(Value::as_str) == Some("token"))
                .and_then(|e| e.get("valueUri").and_then(Value::as_str));
            if let Some(url) = found {
                return Ok(url.to_string());
            }
            tried.push(format!("{metadata} names no token endpoint"));
        }
        Err(why) => tried.push(format!("{metadata}: {why}")),
    }
    Err(AuthError::new(
        AuthErrorKind::NoTokenEndpoint,
        "Haul could not find this server's token endpoint: neither its SMART configuration nor its capability statement names one. Enter the token URL by hand (the server's documentation gives it).",
        Some(tried.join("; ")),
    ))
}

async fn get_json(http: &HttpClient, url: &str) -> Result<Value, String> {
    let res = http.inner.get(url).header("Accept", "application/json").send().await.map_err(|e| e.to_string())?;
    let status = res.status();
    let body = res.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    serde_json::from_slice(&body).map_err(|_| format!("not JSON ({})", excerpt(&body)))
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

struct Cached {
    token: Zeroizing<String>,
    renew_at: Instant,
}

/// Signs in to one server as one client, and keeps the current access token (in memory only).
pub struct BackendAuth {
    http: HttpClient,
    token_url: String,
    client_id: String,
    scope: String,
    key: Arc<SigningKey>,
    cached: tokio::sync::Mutex<Option<Cached>>,
    /// Seconds added to the local clock when signing: only to show what a wrong clock does.
    clock_offset: i64,
    /// Every assertion signed and token received, so server text echoing one can be cleaned.
    secrets: Secrets,
}

impl std::fmt::Debug for BackendAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendAuth")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl BackendAuth {
    pub fn new(
        http: HttpClient,
        token_url: String,
        client_id: String,
        scope: Option<String>,
        key: Arc<SigningKey>,
    ) -> Self {
        let scope = scope.filter(|s| !s.trim().is_empty()).unwrap_or_else(|| DEFAULT_SCOPE.to_string());
        Self {
            http,
            token_url,
            client_id,
            scope,
            key,
            cached: tokio::sync::Mutex::new(None),
            clock_offset: 0,
            secrets: Secrets::default(),
        }
    }

    /// Pretends the local clock is `seconds` off (negative: behind).
    pub fn with_clock_offset(mut self, seconds: i64) -> Self {
        self.clock_offset = seconds;
        self
    }

    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// The assertions and tokens this sign-in has used so far (shared: later ones are added as they come).
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// A signed client assertion, new each time (fresh `jti`).
    pub fn client_assertion(&self) -> Result<String, AuthError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64 + self.clock_offset;
        let mut jti = [0u8; 16];
        rsa::rand_core::OsRng.fill_bytes(&mut jti);
        let jti: String = jti.iter().map(|b| format!("{b:02x}")).collect();
        let alg = match self.key.alg() {
            KeyAlgorithm::RS384 => jsonwebtoken::Algorithm::RS384,
            KeyAlgorithm::ES384 => jsonwebtoken::Algorithm::ES384,
        };
        let mut header = jsonwebtoken::Header::new(alg);
        header.kid = Some(self.key.kid().to_string());
        header.typ = Some("JWT".into());
        let claims = json!({
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "exp": now + ASSERTION_LIFETIME,
            "iat": now,
            "jti": jti,
        });
        let assertion = jsonwebtoken::encode(&header, &claims, &self.key.encoding_key()?)
            .map_err(|e| AuthError::new(AuthErrorKind::Key, format!("Haul could not sign with this key: {e}"), None))?;
        self.secrets.add(&assertion);
        Ok(assertion)
    }

    /// Trades one assertion for a token (no caching): the building block of [`Self::access_token`].
    pub async fn request_token(&self, assertion: &str) -> Result<(Zeroizing<String>, Duration), AuthError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
            ("scope", self.scope.as_str()),
        ];
        let host = url::Url::parse(&self.token_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| self.token_url.clone());
        let res = self
            .http
            .inner
            .post(&self.token_url)
            .header("Accept", "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| AuthError::from(HttpError::from_transport(&e, "an access token", &host)))?;
        let status = res.status();
        let body =
            res.bytes().await.map_err(|e| AuthError::from(HttpError::from_transport(&e, "an access token", &host)))?;
        let scrub = |mut e: AuthError| {
            // A server that echoes the request must not carry the signed assertion into an error message.
            e.detail = e.detail.map(|d| crate::secrets::redact_one(&d, assertion));
            e
        };
        if status.is_success() {
            let parsed: TokenResponse =
                serde_json::from_slice(&body).map_err(|_| scrub(self.not_oauth(status.as_u16(), &body)))?;
            let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(300));
            self.secrets.add(&parsed.access_token);
            return Ok((Zeroizing::new(parsed.access_token), lifetime));
        }
        Err(scrub(self.refusal(status.as_u16(), &body)))
    }

    /// The current access token: the cached one while it is fresh, else a new one.
    pub async fn access_token(&self) -> Result<Zeroizing<String>, AuthError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && Instant::now() < c.renew_at
        {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = self.request_token(&self.client_assertion()?).await?;
        let renew_at = Instant::now() + lifetime.saturating_sub(RENEW_BEFORE.min(lifetime / 2));
        *cached = Some(Cached { token: token.clone(), renew_at });
        Ok(token)
    }

    /// Forgets the cached token (a server said 401).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    /// Sends a request with the bearer token; on 401, signs in again once and resends.
    pub async fn send(
        &self,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<Result<reqwest::Response, reqwest::Error>, AuthError> {
        let token = self.access_token().await?;
        let first = build(&token).send().await;
        match &first {
            Ok(r) if r.status() == reqwest::StatusCode::UNAUTHORIZED => {
                self.invalidate().await;
                let token = self.access_token().await?;
                Ok(build(&token).send().await)
            }
            _ => Ok(first),
        }
    }

    fn not_oauth(&self, status: u16, body: &[u8]) -> AuthError {
        let html = body.trim_ascii_start().starts_with(b"<");
        AuthError::new(
            AuthErrorKind::NotOAuth,
            if html {
                format!(
                    "The token endpoint {} answered with a web page, not an OAuth response. The token URL may be wrong.",
                    self.token_url
                )
            } else {
                format!(
                    "The token endpoint {} answered something that is not an OAuth response. The token URL may be wrong.",
                    self.token_url
                )
            },
            Some(format!("HTTP {status}. Body begins: {}", excerpt(body))),
        )
    }

    /// Reads an RFC 6749 error answer into plain words.
    fn refusal(&self, status: u16, body: &[u8]) -> AuthError {
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return self.not_oauth(status, body);
        };
        let Some(error) = v.get("error").and_then(Value::as_str) else {
            return self.not_oauth(status, body);
        };
        let description = v.get("error_description").and_then(Value::as_str).unwrap_or("");
        let said = if description.is_empty() { error.to_string() } else { format!("{error}: {description}") };
        let detail = Some(format!("HTTP {status}. The server said: {said}"));
        let d = description.to_ascii_lowercase();
        let client = &self.client_id;
        let (kind, message) = if error == "invalid_scope" {
            (
                AuthErrorKind::InvalidScope,
                format!(
                    "The server refused the scope “{}”. Ask its administrators which scopes your client may use (often system/*.read or system/*.rs) and set that in the server's settings.",
                    self.scope
                ),
            )
        } else if d.contains("signature") {
            (
                AuthErrorKind::WrongKey,
                format!(
                    "The server could not verify Haul's signature: the public key it holds for client “{client}” is not the one Haul signed with (kid {}). Give the server this key's public JWKS, or choose the key you registered.",
                    self.key.kid()
                ),
            )
        } else if d.contains("jti") || d.contains("replay") || d.contains("already used") {
            (AuthErrorKind::Replayed, "The server refused a sign-in request it had seen before. Haul signs a new one each time, so another program may be using this client's key; try again.".to_string())
        } else if d.contains("expired")
            || d.contains("not yet valid")
            || d.contains("in the future")
            || d.contains("iat")
            || d.contains("nbf")
            || d.contains("clock")
        {
            (AuthErrorKind::ClockSkew, "The server says Haul's sign-in request has expired or is not valid yet. The clock on this computer may be off: check its date, time and time zone, then try again.".to_string())
        } else if d.contains("unknown client")
            || d.contains("client not found")
            || d.contains("not registered")
            || (error == "invalid_client" && d.contains("unknown"))
        {
            (
                AuthErrorKind::UnknownClient,
                format!(
                    "The server does not know the client ID “{client}”. Check the client ID, or ask the server's administrators to register Haul."
                ),
            )
        } else {
            (AuthErrorKind::Refused, format!("The server refused to sign Haul in ({said})."))
        };
        AuthError::new(kind, message, detail)
    }
}

#[cfg(test)]
mod tests {
    use crate::secrets::redact_one as redact;

    #[test]
    fn echoed_assertions_are_redacted_even_when_cut_short() {
        let jwt = "eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJoYXVsLWNsaWVudCIsInN1YiI6ImhhdWwifQ.c2lnbmF0dXJlLWJ5dGVzLWhlcmU";
        assert_eq!(redact(&format!("echo: {jwt} end"), jwt), "echo: [redacted] end");
        let cut = format!("body begins: client_assertion={}", &jwt[..60]);
        let redacted = redact(&cut, jwt);
        assert!(!redacted.contains("eyJpc3MiOiJoYXVsLWNsaWVudC"), "{redacted}");
        assert!(!redacted.contains("eyJhbGciOiJFUzM4NCJ9"), "{redacted}");
        assert_eq!(redact("nothing here", jwt), "nothing here");
    }
}
