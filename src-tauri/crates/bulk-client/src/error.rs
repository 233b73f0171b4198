//! HTTP failures translated into what a person can act on.

use crate::certificate_problem::certificate_problem;
use crate::http::ProxyName;

/// What went wrong talking to a server, in kinds a UI can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum HttpErrorKind {
    /// The name did not resolve.
    UnknownHost,
    /// Nothing listens at that address, or the network refused.
    Unreachable,
    TimedOut,
    /// TLS could not be set up (certificate problems, mostly).
    Tls,
    /// An HTTP error status (4xx/5xx).
    Status,
    /// The answer is a web page or other non-FHIR content.
    NotFhir,
    /// JSON that is broken or not what the protocol promises.
    BadResponse,
    /// The connection broke while reading the answer.
    Interrupted,
    /// Haul will not send the request at all: the address uses a scheme other than http(s), or is not a
    /// valid address. Not a network failure, and not worth retrying.
    RefusedAddress,
    /// A proxy asked for a user name and password, or refused the ones Haul sent (HTTP 407). Trying again
    /// cannot help until the proxy settings change.
    ProxyRefused,
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HttpError {
    pub kind: HttpErrorKind,
    /// One or two sentences for the user, with what to do next.
    pub message: String,
    /// Technical detail (status line, OperationOutcome text, first bytes of a body) for those who ask.
    pub detail: Option<String>,
    pub status: Option<u16>,
}

impl HttpError {
    pub fn new(kind: HttpErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), detail: None, status: None }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// A proxy's 407: the server's own proxy (named), or the system's.
    pub(crate) fn proxy_refused(proxy: Option<&ProxyName>) -> Self {
        let message = match proxy {
            Some(ProxyName { url, with_credentials: true }) => format!(
                "The proxy {url} refused the proxy user name and password Haul sent (HTTP 407). Check them in this server's network settings; your IT department can tell you which to use."
            ),
            Some(ProxyName { url, with_credentials: false }) => format!(
                "The proxy {url} asks for a user name and password (HTTP 407). Enter them in this server's network settings."
            ),
            None => "This computer's proxy asks for a user name and password (HTTP 407). Set the proxy, with its user name and password, in this server's network settings.".to_string(),
        };
        HttpError::new(HttpErrorKind::ProxyRefused, message)
    }

    /// Classifies a transport failure from reqwest. `what` names the thing being fetched
    /// ("the server's capability statement") and `host` the server, for the sentence.
    pub fn from_transport(err: &reqwest::Error, what: &str, host: &str) -> Self {
        Self::from_transport_via(err, what, host, None)
    }

    /// Like [`Self::from_transport`], for a client that goes through `proxy`: a failure to reach the proxy, or
    /// its refusal, names the proxy rather than the server behind it.
    pub(crate) fn from_transport_via(err: &reqwest::Error, what: &str, host: &str, proxy: Option<&ProxyName>) -> Self {
        // reqwest names the whole address; a storage link's query is a signature, not for messages.
        let chain = match err.url() {
            Some(u) => error_chain(err).replace(u.as_str(), &crate::text::shown_url(u.as_str())),
            None => error_chain(err),
        };
        // hyper-util's tunnel error (a 407 answer to CONNECT) is not a public type: it is known by its words.
        if chain.contains("proxy authorization required") {
            return HttpError::proxy_refused(proxy).with_status(407).with_detail(chain);
        }
        let lower = chain.to_ascii_lowercase();
        if let Some(ProxyName { url, .. }) = proxy
            && !err.is_builder()
            && !err.is_timeout()
            && certificate_problem(err).is_none()
            && (err.is_connect() || lower.contains("dns error") || lower.contains("tunnel error"))
        {
            return HttpError::new(
                HttpErrorKind::Unreachable,
                format!(
                    "Haul could not get through the proxy {url} to {host}. Check the proxy's address in this server's network settings, and that this computer can reach it (VPN?); if it is right, the proxy may not allow connections to {host}: ask your IT department."
                ),
            )
            .with_detail(chain);
        }
        let certificate = certificate_problem(err);
        let (kind, message) = if err.is_builder() {
            (
                HttpErrorKind::RefusedAddress,
                format!(
                    "Haul did not send the request for {what}: the address{} is not an http or https address Haul can use. The server gave an unusable address.",
                    err.url().map(|u| format!(" {}", crate::text::shown_url(u.as_str()))).unwrap_or_default()
                ),
            )
        } else if err.is_redirect() {
            (
                HttpErrorKind::RefusedAddress,
                format!(
                    "{host} sent Haul on to a plain-HTTP address, or round in circles, while Haul was fetching {what}; Haul does not follow it. The server is misconfigured."
                ),
            )
        } else if err.is_timeout() {
            (
                HttpErrorKind::TimedOut,
                format!(
                    "{host} did not answer in time while Haul was fetching {what}. The server may be overloaded or a firewall may be dropping the connection; try again later."
                ),
            )
        } else if lower.contains("dns error")
            || lower.contains("failed to lookup address")
            || lower.contains("name or service not known")
        {
            (
                HttpErrorKind::UnknownHost,
                format!(
                    "The server name “{host}” could not be found. Check the spelling of the address, and that this computer is on the right network (VPN?)."
                ),
            )
        } else if let Some(problem) = certificate {
            (HttpErrorKind::Tls, problem.message(host))
        } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("ssl") {
            (
                HttpErrorKind::Tls,
                format!(
                    "A secure connection to {host} could not be set up. Its certificate may be expired, self-signed or issued for another name; ask the server's administrators."
                ),
            )
        } else if err.is_connect() {
            (
                HttpErrorKind::Unreachable,
                format!(
                    "Nothing answered at {host}. Check the address and port, that the server is running, and that this computer can reach it (VPN, firewall)."
                ),
            )
        } else {
            (
                HttpErrorKind::Interrupted,
                format!(
                    "The connection to {host} broke while Haul was fetching {what}. Try again; if it keeps happening, the network or the server is unstable."
                ),
            )
        };
        HttpError::new(kind, message).with_detail(chain)
    }
}

/// `err: cause: cause`, the way people paste errors into tickets.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// The first bytes of a body, on one line, for the detail view.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let one_line = crate::text::printable(&one_line).into_owned();
    if body.len() > 300 { format!("{one_line}…") } else { one_line }
}

/// Issues quoted from one OperationOutcome, and characters from each: the words are shown and kept with every
/// file a server refuses, so a server's essay (or thousands of empty issues) stays a line.
const QUOTED_ISSUES: usize = 5;
const QUOTED_CHARS: usize = 300;

/// Reads the issues of an OperationOutcome into one line, if the body is one.
pub(crate) fn operation_outcome_text(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    if value.get("resourceType")?.as_str()? != "OperationOutcome" {
        return None;
    }
    let issues = value.get("issue")?.as_array()?;
    let mut parts: Vec<String> = issues
        .iter()
        .take(QUOTED_ISSUES)
        .map(|issue| {
            let severity = issue.get("severity").and_then(|v| v.as_str()).unwrap_or("error");
            let code = issue.get("code").and_then(|v| v.as_str()).unwrap_or("unknown");
            let text = issue
                .get("diagnostics")
                .and_then(|v| v.as_str())
                .or_else(|| issue.pointer("/details/text").and_then(|v| v.as_str()))
                .unwrap_or("");
            let line = format!("{severity} ({code}): {text}");
            let mut cut: String = line.trim_end_matches(": ").chars().take(QUOTED_CHARS).collect();
            if cut.len() < line.trim_end_matches(": ").len() {
                cut.push('…');
            }
            cut
        })
        .collect();
    if issues.len() > QUOTED_ISSUES {
        parts.push(format!("and {} more", issues.len() - QUOTED_ISSUES));
    }
    (!parts.is_empty()).then(|| crate::text::printable(&parts.join("; ")).into_owned())
}
