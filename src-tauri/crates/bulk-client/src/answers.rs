//! Reading a server's answers within bounds, and its refusals in words: the bodies Haul reads whole are capped
//! before they are read, and what a server says is quoted short.

use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::error::{excerpt, operation_outcome_text};
use crate::session::{ExportError, ExportErrorKind};

/// Refuses, before sending, an address that is not http(s): a server that points Haul at `file:`, `ftp:`
/// or `data:` gets a plain error, not a retried "connection broke".
pub(crate) fn refuse_unusable(url: &str, what: &str) -> Result<(), ExportError> {
    let usable = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
    if usable {
        return Ok(());
    }
    Err(ExportError::new(
        ExportErrorKind::Protocol,
        format!(
            "The server pointed Haul at “{}” for {what}. Haul only follows http and https addresses, so it stopped here; the server is misconfigured or not to be trusted.",
            crate::text::printable(url)
        ),
        None,
    ))
}

pub(crate) enum Capped {
    Over,
    Transport(reqwest::Error),
}

/// A body of at most `cap` bytes, read as it comes (a `Content-Length` over the cap is refused unread).
pub(crate) async fn read_capped(mut response: Response, cap: u64) -> Result<Vec<u8>, Capped> {
    if response.content_length().is_some_and(|l| l > cap) {
        return Err(Capped::Over);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Capped::Transport)? {
        if (body.len() + chunk.len()) as u64 > cap {
            return Err(Capped::Over);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Up to 64 KiB of an error body: enough for any OperationOutcome, bounded against a misbehaving server.
pub(crate) async fn read_small(mut response: Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() > 64 * 1024 {
            break;
        }
    }
    body
}

pub(crate) fn detail_of(status: StatusCode, body: &[u8]) -> String {
    match operation_outcome_text(body) {
        Some(oo) => format!("HTTP {}. The server said: {oo}", status.as_u16()),
        None if body.is_empty() => format!("HTTP {}", status.as_u16()),
        None => format!("HTTP {}. Body begins: {}", status.as_u16(), excerpt(body)),
    }
}

/// A refusal or failure, with the server's own words (its OperationOutcome) in the message when it gave them.
pub(crate) fn refusal(doing: &str, status: StatusCode, body: &[u8]) -> ExportError {
    let said = operation_outcome_text(body);
    let code = status.as_u16();
    let (kind, lead) = if status.is_client_error() {
        (ExportErrorKind::Refused, format!("The server refused to {doing} (HTTP {code})."))
    } else {
        (ExportErrorKind::ServerFailed, format!("The server failed to {doing} (HTTP {code})."))
    };
    let message = match (&said, body.trim_ascii_start().starts_with(b"<")) {
        (Some(oo), _) => format!("{lead} It said: {oo}"),
        (None, true) => format!(
            "{lead} It answered with a web page instead of FHIR; the address may point at a proxy or sign-in page."
        ),
        (None, false) => lead,
    };
    ExportError::new(kind, message, Some(detail_of(status, body))).with_status(code)
}

/// An OperationOutcome whose issues are all `transient`: the IG's "try again later".
pub(crate) fn is_transient_outcome(body: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<Value>(body) else { return false };
    if v.get("resourceType").and_then(Value::as_str) != Some("OperationOutcome") {
        return false;
    }
    let issues = v.get("issue").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    !issues.is_empty() && issues.iter().all(|i| i.get("code").and_then(Value::as_str) == Some("transient"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_outcomes_are_told_apart() {
        let t = br#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient"}]}"#;
        let f = br#"{"resourceType":"OperationOutcome","issue":[{"severity":"fatal","code":"exception"}]}"#;
        assert!(is_transient_outcome(t));
        assert!(!is_transient_outcome(f));
        assert!(!is_transient_outcome(b"<html>502</html>"));
    }

    #[test]
    fn refusals_carry_the_servers_words_quoted_short() {
        let body = br#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"Unknown type Foo"}]}"#;
        let e = refusal("start the export", StatusCode::BAD_REQUEST, body);
        assert_eq!(e.kind, ExportErrorKind::Refused);
        assert!(e.message.contains("Unknown type Foo"), "{}", e.message);
        let e = refusal("start the export", StatusCode::INTERNAL_SERVER_ERROR, b"<html>oops</html>");
        assert_eq!(e.kind, ExportErrorKind::ServerFailed);
        assert!(e.message.contains("web page"));
        // Thousands of issues, or one essay: five issues of at most 300 characters are quoted.
        let issue = serde_json::json!({"severity": "error", "code": "invalid", "diagnostics": "x".repeat(10_000)});
        let body = serde_json::json!({"resourceType": "OperationOutcome", "issue": vec![issue; 2000]}).to_string();
        let e = refusal("send a file", StatusCode::BAD_REQUEST, body.as_bytes());
        assert!(e.message.ends_with("and 1995 more"), "{}", &e.message[e.message.len() - 40..]);
        assert!(e.message.len() < 2_000, "{}", e.message.len());
        assert!(e.detail.unwrap().len() < 2_000);
    }
}
