//! The token endpoint's side of OAuth 2.0 client credentials (RFC 6749 §4.4), whatever proves the client
//! (a signed assertion, a client secret): posting the form, reading a token or an RFC 6749 error answer, and
//! keeping the token in memory until shortly before it expires. What an error means is the caller's to say,
//! since the likely causes differ with the proof.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::excerpt;
use crate::http::HttpClient;
use crate::smart::{AuthError, AuthErrorKind};

/// A token is renewed this long before it expires, so a request never leaves with a dying token.
const RENEW_BEFORE: Duration = Duration::from_secs(30);
/// The lifetime assumed when a server gives no `expires_in` (RFC 6749 makes it optional).
const ASSUMED_LIFETIME: Duration = Duration::from_secs(300);
/// The lifetimes a server's `expires_in` is held within: a zero would mean a new token for every request, and
/// an absurd one would keep a revoked token for ever (and overflow the clock).
const SHORTEST_LIFETIME: Duration = Duration::from_secs(10);
const LONGEST_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// A token answer is a few kilobytes; more is not one, and is not read.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// An RFC 6749 §5.2 error answer.
#[derive(Debug, Clone)]
pub(crate) struct OAuthRefusal {
    pub status: u16,
    pub error: String,
    pub description: String,
}

impl OAuthRefusal {
    /// The server's words: `error: description`.
    pub fn said(&self) -> String {
        let said = if self.description.is_empty() {
            self.error.clone()
        } else {
            format!("{}: {}", self.error, self.description)
        };
        crate::text::printable(&said).into_owned()
    }

    pub fn detail(&self) -> String {
        format!("HTTP {}. The server said: {}", self.status, self.said())
    }

    /// The description in lower case, for recognising what it says.
    pub fn lower_description(&self) -> String {
        self.description.to_ascii_lowercase()
    }
}

/// What a token endpoint answered.
pub(crate) enum TokenAnswer {
    Token {
        token: Zeroizing<String>,
        lifetime: Duration,
    },
    Refused(OAuthRefusal),
    /// Neither a token nor an RFC 6749 error (a web page, a proxy's answer, an empty body).
    NotOAuth {
        status: u16,
        body: Vec<u8>,
    },
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    /// A number of seconds; some servers send it as a string or with a fraction.
    expires_in: Option<Value>,
}

/// The token's lifetime from `expires_in`, held within sane bounds; anything but a number is no lifetime.
fn lifetime(expires_in: Option<&Value>) -> Duration {
    let seconds = match expires_in {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match seconds.filter(|s| s.is_finite()) {
        Some(s) => Duration::from_secs_f64(s.clamp(SHORTEST_LIFETIME.as_secs_f64(), LONGEST_LIFETIME.as_secs_f64())),
        None => ASSUMED_LIFETIME,
    }
}

/// Posts a client-credentials form to `token_url`, with HTTP Basic credentials when given.
pub(crate) async fn post_form(
    http: &HttpClient,
    token_url: &str,
    form: &[(&str, &str)],
    authorization: Option<&str>,
) -> Result<TokenAnswer, AuthError> {
    let host = url::Url::parse(token_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| token_url.to_string());
    let transport = |e: &reqwest::Error| AuthError::from(http.transport_error(e, "an access token", &host));
    // No redirects: a 307 or 308 would post the form (a client secret, a signed assertion) again, wherever it
    // points, perhaps in the clear.
    let mut request =
        http.files.post(token_url).header("Accept", "application/json").form(form).timeout(Duration::from_secs(120));
    if let Some(value) = authorization {
        request = request.header(reqwest::header::AUTHORIZATION, value);
    }
    let res = request.send().await.map_err(|e| transport(&e))?;
    if let Some(refused) = http.proxy_refusal(res.status()) {
        return Err(refused.into());
    }
    let status = res.status().as_u16();
    if res.status().is_redirection() {
        let to = res.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok()).unwrap_or("");
        return Err(AuthError::new(
            AuthErrorKind::NotOAuth,
            format!(
                "The token endpoint {token_url} sent Haul on to another address (HTTP {status}). Haul does not send sign-in credentials on to where a server points; if that address is the right token URL, enter it instead."
            ),
            Some(format!("Location: {}", crate::text::printable(&to.chars().take(500).collect::<String>()))),
        ));
    }
    let body = match crate::session::read_capped(res, MAX_ANSWER_BYTES).await {
        Ok(body) => body,
        Err(crate::session::Capped::Transport(e)) => return Err(transport(&e)),
        Err(crate::session::Capped::Over) => {
            return Err(AuthError::new(
                AuthErrorKind::NotOAuth,
                format!(
                    "The token endpoint {token_url} answered with more than {} KiB, which is not an OAuth response. The token URL may be wrong.",
                    MAX_ANSWER_BYTES / 1024
                ),
                Some(format!("HTTP {status}")),
            ));
        }
    };
    if (200..300).contains(&status) {
        return Ok(match serde_json::from_slice::<TokenResponse>(&body) {
            Ok(parsed) => TokenAnswer::Token {
                token: Zeroizing::new(parsed.access_token),
                lifetime: lifetime(parsed.expires_in.as_ref()),
            },
            Err(_) => TokenAnswer::NotOAuth { status, body },
        });
    }
    let refusal = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
        let error = v.get("error").and_then(Value::as_str)?.to_string();
        // Quoted in messages, kept with the job: a sentence or two, not whatever length a server sends.
        let description: String =
            v.get("error_description").and_then(Value::as_str).unwrap_or("").chars().take(1000).collect();
        let error: String = error.chars().take(200).collect();
        Some(OAuthRefusal { status, error, description })
    });
    Ok(match refusal {
        Some(r) => TokenAnswer::Refused(r),
        None => TokenAnswer::NotOAuth { status, body },
    })
}

/// The token endpoint answered something that is not OAuth: most often the token URL is wrong.
pub(crate) fn not_oauth(token_url: &str, status: u16, body: &[u8]) -> AuthError {
    let answered = if body.trim_ascii_start().starts_with(b"<") {
        "answered with a web page, not an OAuth response"
    } else {
        "answered something that is not an OAuth response"
    };
    AuthError::new(
        AuthErrorKind::NotOAuth,
        format!("The token endpoint {token_url} {answered}. The token URL may be wrong."),
        Some(format!("HTTP {status}. Body begins: {}", excerpt(body))),
    )
}

struct Cached {
    token: Zeroizing<String>,
    renew_at: Instant,
}

/// The current access token of one sign-in, in memory only.
#[derive(Default)]
pub(crate) struct TokenCache(tokio::sync::Mutex<Option<Cached>>);

impl TokenCache {
    /// The cached token while it is fresh, else a new one from `fetch` (one fetch at a time: concurrent
    /// downloads that all find the token stale wait for the same new one).
    pub async fn get_or_fetch<F, Fut>(&self, fetch: F) -> Result<Zeroizing<String>, AuthError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(Zeroizing<String>, Duration), AuthError>>,
    {
        let mut cached = self.0.lock().await;
        if let Some(c) = cached.as_ref()
            && Instant::now() < c.renew_at
        {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = fetch().await?;
        let now = Instant::now();
        let renew_at = now.checked_add(lifetime.saturating_sub(RENEW_BEFORE.min(lifetime / 2))).unwrap_or(now);
        *cached = Some(Cached { token: token.clone(), renew_at });
        Ok(token)
    }

    pub async fn clear(&self) {
        *self.0.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_is_kept_until_shortly_before_it_expires() {
        let cache = TokenCache::default();
        let long = cache.get_or_fetch(|| async { Ok((Zeroizing::new("first".to_string()), Duration::from_secs(300))) });
        assert_eq!(long.await.unwrap().as_str(), "first");
        let again =
            cache.get_or_fetch(|| async { Ok((Zeroizing::new("second".to_string()), Duration::from_secs(300))) });
        assert_eq!(again.await.unwrap().as_str(), "first", "fresh: kept");
        cache.clear().await;
        // A token living under a second is renewed at its half-life, so it is already due here.
        let short = cache.get_or_fetch(|| async { Ok((Zeroizing::new("third".to_string()), Duration::ZERO)) });
        assert_eq!(short.await.unwrap().as_str(), "third");
        let after = cache.get_or_fetch(|| async { Ok((Zeroizing::new("fourth".to_string()), Duration::ZERO)) });
        assert_eq!(after.await.unwrap().as_str(), "fourth", "an expired token is renewed");
    }

    #[test]
    fn a_lifetime_is_a_number_of_seconds_within_bounds_however_it_is_written() {
        let of = |v: Value| lifetime(Some(&v));
        assert_eq!(of(serde_json::json!(3600)), Duration::from_secs(3600));
        assert_eq!(of(serde_json::json!("3600")), Duration::from_secs(3600));
        assert_eq!(of(serde_json::json!(299.5)), Duration::from_secs_f64(299.5));
        assert_eq!(of(serde_json::json!(u64::MAX)), LONGEST_LIFETIME);
        assert_eq!(of(serde_json::json!(0)), SHORTEST_LIFETIME);
        assert_eq!(of(serde_json::json!(-5)), SHORTEST_LIFETIME);
        assert_eq!(of(serde_json::json!("soon")), ASSUMED_LIFETIME);
        assert_eq!(lifetime(None), ASSUMED_LIFETIME);
    }

    #[test]
    fn the_servers_words_are_quoted_printable() {
        let r = OAuthRefusal { status: 401, error: "invalid_client".into(), description: "bad\u{1b}[31m".into() };
        assert_eq!(r.said(), "invalid_client: bad\\u{1b}[31m");
        assert!(r.detail().starts_with("HTTP 401. The server said: invalid_client"));
        let bare = OAuthRefusal { status: 400, error: "invalid_scope".into(), description: String::new() };
        assert_eq!(bare.said(), "invalid_scope");
    }
}
