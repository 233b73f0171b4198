//! SMART Backend Services, client side: find the token endpoint, sign a client assertion
//! (`private_key_jwt`), trade it for an access token, cache the token in memory only, and re-authorize
//! once when a server answers 401. The sign-in errors (`AuthError`) are every sign-in method's.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rsa::rand_core::RngCore;
use serde_json::{Value, json};
use ts_rs::TS;
use zeroize::Zeroizing;

use crate::error::{HttpError, excerpt};
use crate::http::HttpClient;
use crate::keys::{KeyAlgorithm, KeyError, SigningKey};
use crate::secrets::Secrets;
use crate::token_endpoint::{OAuthRefusal, TokenAnswer, TokenCache, not_oauth, post_form};

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const DEFAULT_SCOPE: &str = "system/*.read";
/// Assertions live four minutes: inside SMART's five, with room for a server's clock running fast.
const ASSERTION_LIFETIME: i64 = 240;

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
    /// The server refused the client ID and secret (client_secret_basic or client_secret_post).
    WrongSecret,
    /// A bearer token given by hand was refused: wrong, expired or revoked (it cannot be renewed).
    TokenRefused,
    /// The signature did not verify: the server holds another public key for this client.
    WrongKey,
    /// The server refused the assertion's times (expired, not yet valid): the local clock may be off.
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
    pub(crate) fn new(kind: AuthErrorKind, message: impl Into<String>, detail: Option<String>) -> Self {
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
            Some(url) => return encrypted_token_url(url),
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
                return encrypted_token_url(url);
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

/// A token endpoint the server names, if credentials may go there: over HTTPS, or plain HTTP on this machine
/// (a test server, a local gateway). A server could otherwise have a client secret sent in the clear.
fn encrypted_token_url(url: &str) -> Result<String, AuthError> {
    let parsed = url::Url::parse(url).ok();
    let loopback = parsed.as_ref().is_some_and(crate::origins::is_loopback);
    match parsed.as_ref().map(url::Url::scheme) {
        Some("https") => Ok(url.to_string()),
        Some("http") if loopback => Ok(url.to_string()),
        _ => Err(AuthError::new(
            AuthErrorKind::NoTokenEndpoint,
            "The server names a token endpoint that is not an HTTPS address, and Haul sends sign-in credentials only over an encrypted connection. Enter the token URL by hand if the server's documentation gives an HTTPS one.",
            Some(format!("token endpoint: {}", crate::text::printable(&url.chars().take(500).collect::<String>()))),
        )),
    }
}

/// The discovery documents are small (a CapabilityStatement is rarely over a megabyte); more is not read.
const MAX_DISCOVERY_BYTES: u64 = 20 << 20;

async fn get_json(http: &HttpClient, url: &str) -> Result<Value, String> {
    let res = http.inner.get(url).header("Accept", "application/json").send().await.map_err(|e| e.to_string())?;
    let status = res.status();
    if !status.is_success() {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    let body = crate::session::read_capped(res, MAX_DISCOVERY_BYTES).await.map_err(|e| match e {
        crate::session::Capped::Over => format!("larger than {} MB", MAX_DISCOVERY_BYTES >> 20),
        crate::session::Capped::Transport(e) => e.to_string(),
    })?;
    serde_json::from_slice(&body).map_err(|_| format!("not JSON ({})", excerpt(&body)))
}

/// Signs in to one server as one client, and keeps the current access token (in memory only).
pub struct BackendAuth {
    http: HttpClient,
    token_url: String,
    client_id: String,
    scope: String,
    key: Arc<SigningKey>,
    cache: TokenCache,
    /// Seconds added to the local clock when signing: only to show what a wrong clock does.
    clock_offset: i64,
    /// The `kid` the server knows the key by, when it assigned its own (DPC); else the key's.
    assertion_kid: Option<String>,
    /// The JWKS URL registered with the server, sent as `jku` so it knows where to fetch the key.
    jku: Option<String>,
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
            cache: TokenCache::default(),
            clock_offset: 0,
            assertion_kid: None,
            jku: None,
            secrets: Secrets::default(),
        }
    }

    /// How the server registered the client, when it differs from Haul's defaults: a key id it assigned
    /// (sent as `kid`) and a JWKS URL (sent as `jku`). Blank values count as none.
    pub fn with_registration(mut self, assertion_kid: Option<String>, jku: Option<String>) -> Self {
        let given = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        self.assertion_kid = given(assertion_kid);
        self.jku = given(jku);
        self
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
        header.kid = Some(self.assertion_kid.clone().unwrap_or_else(|| self.key.kid().to_string()));
        header.jku = self.jku.clone();
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
        let scrub = |mut e: AuthError| {
            // A server that echoes the request must not carry the signed assertion into an error message (its
            // words are quoted in the message too).
            e.message = crate::secrets::redact_one(&e.message, assertion);
            e.detail = e.detail.map(|d| crate::secrets::redact_one(&d, assertion));
            e
        };
        match post_form(&self.http, &self.token_url, &form, None).await? {
            TokenAnswer::Token { token, lifetime } => {
                self.secrets.add(&token);
                Ok((token, lifetime))
            }
            TokenAnswer::Refused(r) => Err(scrub(self.refusal(&r))),
            TokenAnswer::NotOAuth { status, body } => Err(scrub(not_oauth(&self.token_url, status, &body))),
        }
    }

    /// The current access token: the cached one while it is fresh, else a new one.
    pub async fn access_token(&self) -> Result<Zeroizing<String>, AuthError> {
        self.cache.get_or_fetch(|| async { self.request_token(&self.client_assertion()?).await }).await
    }

    /// Forgets the cached token (a server said 401).
    pub async fn invalidate(&self) {
        self.cache.clear().await;
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

    /// Reads an RFC 6749 error answer into plain words: a cause is named only when the server's words
    /// point to it.
    fn refusal(&self, r: &OAuthRefusal) -> AuthError {
        let said = r.said();
        let d = r.lower_description();
        let client = &self.client_id;
        let (kind, message) = if r.error == "invalid_scope" {
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
        } else if says_replayed(&d) {
            (
                AuthErrorKind::Replayed,
                format!(
                    "The server says it has seen this sign-in request before ({said}). Haul signs a new one each time; try again, and if it keeps happening, ask whether another program uses this client's key."
                ),
            )
        } else if mentions_registration(&d) {
            (
                AuthErrorKind::Refused,
                format!(
                    "The server refused to sign Haul in: {said}. The registration of client “{client}” may have expired or been withdrawn; ask the server's administrators."
                ),
            )
        } else if says_unknown_client(&r.error, &d) {
            (
                AuthErrorKind::UnknownClient,
                format!(
                    "The server does not know the client ID “{client}”. Check the client ID, or ask the server's administrators to register Haul."
                ),
            )
        } else if says_assertion_time_is_off(&d) {
            (
                AuthErrorKind::ClockSkew,
                format!(
                    "The server says Haul's sign-in request has expired or is not valid yet ({said}). The clock on this computer may be off: check its date, time and time zone, then try again."
                ),
            )
        } else if r.error == "invalid_jti" || mentions_word(&d, "jti") {
            (
                AuthErrorKind::Refused,
                format!(
                    "The server refused the sign-in request's identifier (jti): {said}. Ask the server's administrators what it expects."
                ),
            )
        } else {
            (AuthErrorKind::Refused, format!("The server refused to sign Haul in ({said})."))
        };
        AuthError::new(kind, message, Some(r.detail()))
    }
}

/// `word` as a whole word of `text` (so "iat" is not found in "negotiate").
pub(crate) fn mentions_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric() && c != '_').any(|w| w == word)
}

fn says_replayed(d: &str) -> bool {
    d.contains("replay") || d.contains("already used") || d.contains("seen before") || d.contains("reused")
}

fn mentions_registration(d: &str) -> bool {
    d.contains("registration") || (d.contains("registered client") && d.contains("expired"))
}

pub(crate) fn says_unknown_client(error: &str, d: &str) -> bool {
    d.contains("unknown client")
        || d.contains("client not found")
        || d.contains("not registered")
        || (error == "invalid_client" && d.contains("unknown"))
}

/// The assertion's times (`exp`, `iat`, `nbf`) were refused: what a wrong local clock causes.
fn says_assertion_time_is_off(d: &str) -> bool {
    d.contains("not yet valid")
        || d.contains("in the future")
        || d.contains("clock")
        || ["iat", "nbf", "exp"].iter().any(|w| mentions_word(d, w))
        || (d.contains("expired") && ["assertion", "jwt", "token"].iter().any(|w| d.contains(w)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{AuthErrorKind, BackendAuth, encrypted_token_url};

    #[test]
    fn credentials_go_to_a_discovered_token_endpoint_only_over_https_or_on_this_machine() {
        for ok in
            ["https://auth.example.org/token", "http://127.0.0.1:8080/token", "http://localhost/t", "http://[::1]/t"]
        {
            assert_eq!(encrypted_token_url(ok).unwrap(), ok);
        }
        for refused in ["http://auth.example.org/token", "ftp://auth.example.org/token", "/token", ""] {
            let e = encrypted_token_url(refused).unwrap_err();
            assert_eq!(e.kind, AuthErrorKind::NoTokenEndpoint, "{refused}");
            assert!(e.message.contains("not an HTTPS address"), "{refused}: {}", e.message);
        }
    }
    use crate::keys::{KeyAlgorithm, SigningKey};
    use crate::secrets::redact_one as redact;
    use crate::token_endpoint::OAuthRefusal;

    fn refused(error: &str, description: &str) -> super::AuthError {
        let key = Arc::new(SigningKey::generate(KeyAlgorithm::ES384).unwrap());
        let auth =
            BackendAuth::new(crate::HttpClient::new(), "https://auth.test/token".into(), "haul".into(), None, key);
        auth.refusal(&OAuthRefusal { status: 400, error: error.into(), description: description.into() })
    }

    #[test]
    fn an_expired_registration_is_not_blamed_on_the_clock() {
        let e = refused("invalid_grant", "Client registration has expired");
        assert_eq!(e.kind, AuthErrorKind::Refused, "{e:?}");
        assert!(!e.message.contains("clock"), "{}", e.message);
        assert!(e.message.contains("Client registration has expired"), "says what the server said: {}", e.message);
        assert!(e.message.contains("registration of client “haul” may have expired"), "{}", e.message);
        // An assertion that expired still points at the clock.
        let e = refused("invalid_client", "the client assertion has expired (exp is in the past)");
        assert_eq!(e.kind, AuthErrorKind::ClockSkew, "{e:?}");
        assert!(e.message.contains("clock on this computer may be off"), "{}", e.message);
        // "iat" inside another word is not a time claim.
        let e = refused("invalid_request", "could not negotiate the appropriate parameters");
        assert_eq!(e.kind, AuthErrorKind::Refused, "{e:?}");
    }

    #[test]
    fn invalid_jti_is_a_replay_only_when_the_server_says_so() {
        let e = refused("invalid_jti", "jti must be at most 255 characters");
        assert_eq!(e.kind, AuthErrorKind::Refused, "{e:?}");
        assert!(!e.message.contains("another program"), "{}", e.message);
        assert!(!e.message.contains("seen this sign-in request before"), "{}", e.message);
        assert!(e.message.contains("jti must be at most 255 characters"), "{}", e.message);
        let e = refused("invalid_jti", "");
        assert_eq!(e.kind, AuthErrorKind::Refused, "{e:?}");
        assert!(!e.message.contains("another program"), "{}", e.message);
        let e = refused("invalid_jti", "jti replay detected");
        assert_eq!(e.kind, AuthErrorKind::Replayed, "{e:?}");
        assert!(e.message.contains("jti replay detected"), "{}", e.message);
    }

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
