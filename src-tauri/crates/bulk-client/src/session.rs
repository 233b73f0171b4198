//! Talking `$export` to one server: kickoff, one status poll at a time, file downloads, DELETE.
//!
//! Each call does one HTTP exchange (plus one re-authorization on 401) and says what happened in types;
//! waiting, retrying and remembering are the job runner's (export-jobs), which knows the clock and the disk.

use std::sync::Arc;
use std::time::SystemTime;

use reqwest::header::{self, HeaderMap};
use reqwest::{RequestBuilder, Response, StatusCode};

use crate::answers::is_transient_outcome;
pub(crate) use crate::answers::{Capped, detail_of, read_capped, read_small, refusal, refuse_unusable};
use crate::download::DownloadLimits;
use crate::error::{excerpt, operation_outcome_text};
use crate::export::{ExportRequest, MAX_URL_BYTES, Manifest, RetryAfter, parse_retry_after_capped};
use crate::origins::TokenOrigins;
use crate::secrets::Secrets;
use crate::{AuthError, HttpClient, HttpError, HttpErrorKind, SignIn};

const FHIR_JSON: &str = "application/fhir+json";

/// What kind of failure, for a UI to branch on and a runner to decide whether to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ExportErrorKind {
    /// The network or the server's transport failed (see the HTTP detail); usually worth another try.
    Network,
    /// Signing in failed.
    Auth,
    /// The server refused the request (4xx), with its OperationOutcome in the detail.
    Refused,
    /// The server failed (5xx, not transient).
    ServerFailed,
    /// The status URL no longer knows the export (deleted, expired, or never existed).
    StatusGone,
    /// A file is no longer on the server.
    FileExpired,
    /// The server answered something the protocol does not allow.
    Protocol,
    /// The server would not continue a file where it broke off (a 416, or a body from another offset):
    /// the file must be downloaded again from the start.
    ResumeRejected,
    /// Past one of Haul's limits (a file's size or time, the manifest's size): not retried.
    LimitExceeded,
    /// The server asked Haul to slow down (429, or 503 for a file): try again after `retry_after`, and ask
    /// less at once.
    Throttled,
    /// The server's certificate was refused (unknown authority, expired, another name): trying again
    /// cannot help until a setting or the certificate changes.
    Certificate,
    /// A proxy wants a user name and password, or refused the ones sent (407): not retried until the
    /// server's proxy settings change.
    ProxyRefused,
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ExportError {
    pub kind: ExportErrorKind,
    pub message: String,
    pub detail: Option<String>,
    pub status: Option<u16>,
    /// The wait the server asked for (clamped), when it said.
    pub retry_after: Option<RetryAfter>,
}

impl ExportError {
    pub fn new(kind: ExportErrorKind, message: impl Into<String>, detail: Option<String>) -> Self {
        Self { kind, message: message.into(), detail, status: None, retry_after: None }
    }

    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Worth trying again after a pause (a broken connection, a 5xx page from a proxy, a request to slow
    /// down).
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ExportErrorKind::Network | ExportErrorKind::Throttled)
            || (self.kind == ExportErrorKind::ServerFailed
                && self.status.is_some_and(|s| s == 502 || s == 503 || s == 504))
    }
}

impl From<AuthError> for ExportError {
    fn from(e: AuthError) -> Self {
        ExportError::new(ExportErrorKind::Auth, e.message, e.detail)
    }
}

impl From<HttpError> for ExportError {
    fn from(e: HttpError) -> Self {
        let kind = match e.kind {
            HttpErrorKind::Status => ExportErrorKind::ServerFailed,
            HttpErrorKind::NotFhir | HttpErrorKind::BadResponse | HttpErrorKind::RefusedAddress => {
                ExportErrorKind::Protocol
            }
            HttpErrorKind::Tls => ExportErrorKind::Certificate,
            HttpErrorKind::ProxyRefused => ExportErrorKind::ProxyRefused,
            _ => ExportErrorKind::Network,
        };
        ExportError { kind, message: e.message, detail: e.detail, status: e.status, retry_after: None }
    }
}

/// The answer to a kickoff.
#[derive(Debug, Clone, PartialEq)]
pub enum Kickoff {
    /// 202: the export runs; poll here.
    Accepted { status_url: String },
    /// 429: another export is running or the server is busy; try again after the wait.
    Busy { retry_after: Option<RetryAfter>, said: Option<String> },
}

/// The answer to one status poll.
#[derive(Debug, Clone, PartialEq)]
pub enum Poll {
    /// 202: still working. `progress` is the server's `X-Progress` text.
    InProgress { progress: Option<String>, retry_after: Option<RetryAfter> },
    /// Not an answer, but not a failure either: 429, a transient OperationOutcome, a proxy's 502/503/504 page.
    TryLater { reason: String, retry_after: Option<RetryAfter>, detail: Option<String> },
    /// 200: the manifest. `expires` is the `Expires` header, if any.
    Complete { manifest: Box<Manifest>, expires: Option<String> },
}

/// One FHIR server, with or without SMART Backend Services.
#[derive(Clone, Debug)]
pub struct ExportSession {
    pub(crate) http: HttpClient,
    base_url: String,
    auth: Option<Arc<SignIn>>,
    retry_after_cap: std::time::Duration,
    /// Where the token may go: the server's origin and the storage origins trusted for it.
    origins: TokenOrigins,
    pub(crate) limits: DownloadLimits,
    /// The largest manifest accepted.
    manifest_cap: u64,
    /// Secrets to clean out of server text (the sign-in's, or an empty set).
    secrets: Secrets,
}

/// The largest completion manifest Haul reads by default: far above real ones (a manifest of 200,000
/// files is ~40 MB), bounded against a server that sends without end.
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;

impl ExportSession {
    pub fn new(http: HttpClient, base_url: &str, auth: Option<Arc<SignIn>>) -> Self {
        let secrets: Secrets = auth.as_ref().map(|a| a.secrets().clone()).unwrap_or_default();
        secrets.add_all(&http.proxy_secrets);
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            origins: TokenOrigins::new(base_url, &[]),
            auth,
            retry_after_cap: crate::export::MAX_RETRY_AFTER,
            limits: DownloadLimits::default(),
            manifest_cap: MAX_MANIFEST_BYTES,
            secrets,
        }
    }

    /// Storage origins the user trusts with this server's token (besides the server's own origin).
    pub fn with_trusted_origins(mut self, trusted: &[String]) -> Self {
        self.origins = TokenOrigins::new(&self.base_url, trusted);
        self
    }

    /// Stall detection, a deadline and a size limit for file downloads.
    pub fn with_download_limits(mut self, limits: DownloadLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The largest manifest accepted (bytes).
    pub fn with_manifest_cap(mut self, bytes: u64) -> Self {
        self.manifest_cap = bytes;
        self
    }

    /// The secrets this session's sign-in has used, to clean out of anything written.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Signs in now (when the session signs in at all): proof that the server accepts these credentials.
    pub async fn check_sign_in(&self) -> Result<(), ExportError> {
        match &self.auth {
            Some(auth) => auth.access_token().await.map(drop).map_err(|e| self.scrub(e.into())),
            None => Ok(()),
        }
    }

    /// Whether the session signs in at all.
    pub(crate) fn signed_in(&self) -> bool {
        self.auth.is_some()
    }

    /// Whether `url` may receive the token (the server's origin or a trusted one).
    pub(crate) fn token_allowed(&self, url: &str) -> bool {
        self.origins.allows(url)
    }

    /// An error with every secret taken out of its words.
    pub(crate) fn scrub(&self, mut e: ExportError) -> ExportError {
        if !self.secrets.is_empty() {
            e.message = self.secrets.redact(&e.message);
            e.detail = e.detail.map(|d| self.secrets.redact(&d));
        }
        e
    }

    fn scrub_text(&self, text: String) -> String {
        if self.secrets.is_empty() { text } else { self.secrets.redact(&text) }
    }

    /// A 401/403 from an address Haul sent no token to: the server's files or status live elsewhere.
    pub(crate) fn foreign_refusal(&self, url: &str, status: StatusCode) -> Option<ExportError> {
        if !matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) || self.auth.is_none() {
            return None;
        }
        let origin = self.origins.foreign_origin(url)?;
        Some(
            ExportError::new(
                ExportErrorKind::Refused,
                format!(
                    "This server keeps its export at {origin}, a different address than the FHIR server, and that address asked for a sign-in (HTTP {}). Haul sends your access token only to the server's own address. If {origin} belongs to the same organisation, add it to the server's “Storage addresses trusted with the sign-in token” and resume the export.",
                    status.as_u16()
                ),
                Some(format!("HTTP {} from {}", status.as_u16(), crate::text::shown_url(url))),
            )
            .with_status(status.as_u16()),
        )
    }

    /// The longest `Retry-After` honoured; longer ones are clamped (and reported as such).
    pub fn with_retry_after_cap(mut self, cap: std::time::Duration) -> Self {
        self.retry_after_cap = cap;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub(crate) fn host(&self) -> String {
        url::Url::parse(&self.base_url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default()
    }

    /// Sends with the bearer token when signed in (re-authorizing once on 401), bare otherwise.
    pub(crate) async fn send(
        &self,
        url: &str,
        with_token: bool,
        what: &str,
        build: impl Fn(Option<&str>) -> RequestBuilder,
    ) -> Result<Response, ExportError> {
        refuse_unusable(url, what)?;
        self.refuse_downgrade(url, what)?;
        let with_token = with_token && self.origins.allows(url);
        let result = match (&self.auth, with_token) {
            (Some(auth), true) => auth.send(|token| build(Some(token))).await?,
            _ => build(None).send().await,
        };
        let response = result.map_err(|e| ExportError::from(self.http.transport_error(&e, what, &self.host())))?;
        match self.http.proxy_refusal(response.status()) {
            Some(refused) => Err(refused.into()),
            None => Ok(response),
        }
    }

    /// A server-given address (the status, a file, a redirect) as Haul uses it. Plain HTTP on the HTTPS
    /// server's own host becomes HTTPS on the server's port: a server behind a proxy that ends TLS often names
    /// itself `http://`. Plain HTTP to another host from an HTTPS server is refused ([`Self::refuse_downgrade`]).
    pub(crate) fn secured(&self, url: &str, what: &str) -> Result<String, ExportError> {
        let (Ok(base), Ok(mut target)) = (url::Url::parse(&self.base_url), url::Url::parse(url)) else {
            return Ok(url.to_string());
        };
        let same_host = target.host_str() == base.host_str() && matches!(target.port(), None | Some(80));
        if base.scheme() == "https" && target.scheme() == "http" && same_host && !crate::origins::is_loopback(&target) {
            let upgraded = target.set_scheme("https").is_ok() && target.set_port(base.port()).is_ok();
            if upgraded {
                return Ok(target.to_string());
            }
        }
        self.refuse_downgrade(url, what)?;
        Ok(url.to_string())
    }

    /// A plain-HTTP address away from this computer while the server itself is HTTPS (a manifest's file, a
    /// redirect, a status address): health data would cross the network unencrypted, and could be altered.
    fn refuse_downgrade(&self, url: &str, what: &str) -> Result<(), ExportError> {
        let server_https = self.base_url.starts_with("https:");
        let Ok(target) = url::Url::parse(url) else { return Ok(()) };
        if !server_https || target.scheme() != "http" || crate::origins::is_loopback(&target) {
            return Ok(());
        }
        Err(ExportError::new(
            ExportErrorKind::Protocol,
            format!(
                "The server pointed Haul at a plain-HTTP address for {what} ({}), while the server itself uses HTTPS. Haul does not move health data unencrypted, so it stopped here; the server is misconfigured.",
                target.origin().ascii_serialization()
            ),
            None,
        ))
    }

    pub(crate) fn retry_after(&self, headers: &HeaderMap) -> Option<RetryAfter> {
        let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?;
        parse_retry_after_capped(value, SystemTime::now(), self.retry_after_cap)
    }

    /// Starts the export.
    pub async fn kickoff(&self, request: &ExportRequest) -> Result<Kickoff, ExportError> {
        match self.kickoff_once(request).await {
            Ok(Kickoff::Busy { retry_after, said }) => {
                Ok(Kickoff::Busy { retry_after, said: said.map(|s| self.scrub_text(s)) })
            }
            other => other.map_err(|e| self.scrub(e)),
        }
    }

    async fn kickoff_once(&self, request: &ExportRequest) -> Result<Kickoff, ExportError> {
        let url = request.kickoff_url(&self.base_url);
        let client = &self.http.inner;
        let response = self
            .send(&url, true, "the export kickoff", |token| {
                let mut b = if request.uses_post() {
                    client
                        .post(&url)
                        .header(header::CONTENT_TYPE, FHIR_JSON)
                        .body(serde_json::to_vec(&request.parameters()).unwrap_or_default())
                } else {
                    client.get(&url)
                };
                // One Prefer header: some servers read only the first.
                let prefer = if request.lenient { "respond-async, handling=lenient" } else { "respond-async" };
                b = b.header(header::ACCEPT, FHIR_JSON).header("Prefer", prefer);
                if let Some(t) = token {
                    b = b.bearer_auth(t);
                }
                b
            })
            .await?;
        let status = response.status();
        let headers = response.headers().clone();
        if status == StatusCode::ACCEPTED {
            let location = headers.get(header::CONTENT_LOCATION).and_then(|v| v.to_str().ok()).map(str::trim);
            let Some(location) = location.filter(|l| !l.is_empty()) else {
                return Err(ExportError::new(
                    ExportErrorKind::Protocol,
                    "The server accepted the export but did not say where to follow it (no Content-Location header). Haul cannot continue; the server is not following the Bulk Data specification.",
                    Some("HTTP 202 without Content-Location".into()),
                ));
            };
            // Absolute per the IG; a relative one is resolved against the kickoff URL rather than refused.
            let status_url = url::Url::parse(&url)
                .and_then(|u| u.join(location))
                .map(|u| u.to_string())
                .unwrap_or_else(|_| location.to_string());
            refuse_unusable(&status_url, "the export status")?;
            let status_url = self.secured(&status_url, "the export status")?;
            if status_url.len() > MAX_URL_BYTES || self.secrets.whole_in(status_url.as_bytes()) {
                // Kept with the job and shown; a sign-in secret in it would be stored and sent on.
                return Err(ExportError::new(
                    ExportErrorKind::Protocol,
                    "The server accepted the export but named a status address Haul does not use (longer than 8 KiB, or holding Haul's sign-in token). The server may be misbehaving.",
                    None,
                ));
            }
            return Ok(Kickoff::Accepted { status_url });
        }
        let body = read_small(response).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Ok(Kickoff::Busy { retry_after: self.retry_after(&headers), said: operation_outcome_text(&body) });
        }
        Err(refusal("start the export", status, &body))
    }

    /// Asks once how the export is doing.
    pub async fn poll(&self, status_url: &str) -> Result<Poll, ExportError> {
        match self.poll_once(status_url).await {
            Ok(Poll::InProgress { progress, retry_after }) => {
                Ok(Poll::InProgress { progress: progress.map(|p| self.scrub_text(p)), retry_after })
            }
            Ok(Poll::TryLater { reason, retry_after, detail }) => Ok(Poll::TryLater {
                reason: self.scrub_text(reason),
                retry_after,
                detail: detail.map(|d| self.scrub_text(d)),
            }),
            other => other.map_err(|e| self.scrub(e)),
        }
    }

    async fn poll_once(&self, status_url: &str) -> Result<Poll, ExportError> {
        let client = &self.http.inner;
        let response = self
            .send(status_url, true, "the export status", |token| {
                let b = client.get(status_url).header(header::ACCEPT, "application/json");
                if let Some(t) = token { b.bearer_auth(t) } else { b }
            })
            .await;
        let response = match response {
            Ok(r) => r,
            // A dropped connection while polling is the network's fault, not the export's.
            Err(e) if e.is_retryable() => {
                return Ok(Poll::TryLater { reason: e.message, retry_after: None, detail: e.detail });
            }
            Err(e) => return Err(e),
        };
        let status = response.status();
        let headers = response.headers().clone();
        let retry_after = self.retry_after(&headers);
        match status {
            StatusCode::ACCEPTED => {
                let progress = headers
                    .get("x-progress")
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).chars().take(200).collect::<String>())
                    .map(|s| crate::text::printable(&s).into_owned())
                    .filter(|s| !s.trim().is_empty());
                Ok(Poll::InProgress { progress, retry_after })
            }
            StatusCode::OK => {
                let body = match read_capped(response, self.manifest_cap).await {
                    Ok(b) => b,
                    Err(Capped::Over) => {
                        return Err(ExportError::new(
                            ExportErrorKind::LimitExceeded,
                            format!(
                                "The server's export manifest is larger than {} MB, Haul's limit for a manifest. The export cannot be read; ask the server's operators, or export fewer types or patients at a time.",
                                self.manifest_cap >> 20
                            ),
                            None,
                        )
                        .with_status(200));
                    }
                    Err(Capped::Transport(e)) => {
                        let e = self.http.transport_error(&e, "the export manifest", &self.host());
                        return Ok(Poll::TryLater { reason: e.message, retry_after: None, detail: e.detail });
                    }
                };
                let mut manifest = Manifest::parse(&body).map_err(|e| {
                    ExportError::new(ExportErrorKind::Protocol, e.to_string(), Some(excerpt(&body))).with_status(200)
                })?;
                let files = manifest.output.iter().chain(&manifest.error).chain(&manifest.deleted);
                if files.into_iter().any(|f| self.secrets.whole_in(f.url.as_bytes())) {
                    // Such an address would carry the token to whatever origin it names, and be stored.
                    return Err(ExportError::new(
                        ExportErrorKind::Protocol,
                        "The server's export manifest lists a file address holding Haul's sign-in token. Haul does not fetch or keep it; the server may be misbehaving.",
                        None,
                    )
                    .with_status(200));
                }
                manifest.request = self.scrub_text(std::mem::take(&mut manifest.request));
                for f in manifest.output.iter_mut().chain(&mut manifest.error).chain(&mut manifest.deleted) {
                    f.url = self.secured(&f.url, "an export file").map_err(|e| e.with_status(200))?;
                }
                let expires = headers.get(header::EXPIRES).and_then(|v| v.to_str().ok()).map(str::to_string);
                Ok(Poll::Complete { manifest: Box::new(manifest), expires })
            }
            StatusCode::TOO_MANY_REQUESTS => Ok(Poll::TryLater {
                reason: "The server asked Haul to poll less often (HTTP 429).".into(),
                retry_after,
                detail: None,
            }),
            _ => {
                if let Some(e) = self.foreign_refusal(status_url, status) {
                    return Err(e);
                }
                let body = read_small(response).await;
                if is_transient_outcome(&body) {
                    return Ok(Poll::TryLater {
                        reason: "The server reported a temporary problem and asked to be asked again.".into(),
                        retry_after,
                        detail: Some(format!(
                            "HTTP {}: {}",
                            status.as_u16(),
                            operation_outcome_text(&body).unwrap_or_default()
                        )),
                    });
                }
                let fhir = operation_outcome_text(&body).is_some();
                if !fhir && matches!(status.as_u16(), 502..=504) {
                    return Ok(Poll::TryLater {
                        reason: format!(
                            "A proxy in front of the server answered HTTP {} (the server may be restarting).",
                            status.as_u16()
                        ),
                        retry_after,
                        detail: Some(format!("Body begins: {}", excerpt(&body))),
                    });
                }
                if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
                    return Err(ExportError::new(
                        ExportErrorKind::StatusGone,
                        "The server no longer knows this export: it was cancelled, expired, or removed. Start a new export.",
                        Some(detail_of(status, &body)),
                    )
                    .with_status(status.as_u16()));
                }
                Err(refusal("finish the export", status, &body))
            }
        }
    }

    /// `DELETE` on the status URL: cancels a running export, or lets the server drop the files.
    pub async fn delete(&self, status_url: &str) -> Result<(), ExportError> {
        self.delete_once(status_url).await.map_err(|e| self.scrub(e))
    }

    async fn delete_once(&self, status_url: &str) -> Result<(), ExportError> {
        let client = &self.http.inner;
        let response = self
            .send(status_url, true, "the export cancellation", |token| {
                let b = client.delete(status_url).header(header::ACCEPT, FHIR_JSON);
                if let Some(t) = token { b.bearer_auth(t) } else { b }
            })
            .await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        if let Some(e) = self.foreign_refusal(status_url, status) {
            return Err(e);
        }
        let body = read_small(response).await;
        if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            // Already gone: what DELETE wanted.
            return Ok(());
        }
        Err(refusal("cancel or release the export", status, &body))
    }
}

impl ExportSession {
    /// A plain FHIR read (`Accept: application/fhir+json`), signed in when the session is.
    pub(crate) async fn get_json(&self, url: &str, what: &str) -> Result<Response, ExportError> {
        let client = &self.http.inner;
        self.send(url, true, what, |token| {
            let b = client.get(url).header(header::ACCEPT, FHIR_JSON);
            if let Some(t) = token { b.bearer_auth(t) } else { b }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_on_the_servers_own_host_is_upgraded_and_elsewhere_refused() {
        let session = ExportSession::new(HttpClient::new(), "https://ehr.test:8443/fhir", None);
        let secured = |url: &str| session.secured(url, "an export file");
        assert_eq!(secured("http://ehr.test/status/1").unwrap(), "https://ehr.test:8443/status/1");
        assert_eq!(secured("https://files.test/1").unwrap(), "https://files.test/1");
        assert_eq!(secured("http://127.0.0.1:9/x").unwrap(), "http://127.0.0.1:9/x");
        let e = secured("http://files.test/1?sig=abc").unwrap_err();
        assert!(e.message.contains("plain-HTTP address") && !e.message.contains("sig="), "{}", e.message);
        let plain = ExportSession::new(HttpClient::new(), "http://127.0.0.1:8080/fhir", None);
        assert_eq!(plain.secured("http://127.0.0.1:8080/s", "x").unwrap(), "http://127.0.0.1:8080/s");
    }
}
