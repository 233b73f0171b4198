//! Hostile server text: the terminal escape sequences of `Faults::escape_sequences`, and the echo of the
//! request's `Authorization` header (`Faults::echo_authorization`). A client must neither print the first
//! raw nor show, log or store the second.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;

use crate::{FHIR_JSON, Sim, outcome};

/// The `type` of the extra manifest entry: sets the terminal's title, then clears the screen.
pub const ESCAPE_TYPE: &str = "Patient\u{1b}]0;pwned\u{7}\u{1b}[2J";
/// The `diagnostics` of the first status poll's transient OperationOutcome.
pub const ESCAPE_DIAGNOSTICS: &str = "busy \u{1b}]0;owned\u{7}\u{1b}[2J now";
/// `X-Progress` in caret notation: the `http` crate refuses control bytes (below 0x20 but tab, and 0x7f) in
/// header values, and hyper would not send them, so ESC cannot travel in a header. The C1 byte 0x9b (CSI)
/// could, but one-byte CSI is not what servers send; this visible text is the nearest honest stand-in.
pub const ESCAPE_PROGRESS: &str = "working ^[[31mRED^[[0m";

/// The longest OperationOutcome the echo rewrites; the simulator's are a few hundred bytes.
const OUTCOME_LIMIT: usize = 1 << 20;

/// The request's `Authorization` value as text (lossy: an echo needs no exact bytes).
pub fn authorization(headers: &HeaderMap) -> Option<String> {
    headers.get(header::AUTHORIZATION).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// `text` with the echoed header value appended.
pub fn echoed(text: &str, authorization: &str) -> String {
    format!("{text} (request Authorization: {authorization})")
}

/// `X-Progress` while preparing: the job's own progress unless a hostile fault replaces it.
pub fn progress(own: String, escape: bool, echo: Option<&str>) -> String {
    match (escape, echo) {
        (false, None) => own,
        (true, None) => ESCAPE_PROGRESS.to_string(),
        (false, Some(auth)) => format!("working for {auth}"),
        (true, Some(auth)) => format!("{ESCAPE_PROGRESS} for {auth}"),
    }
}

/// The first status poll of an export under `escape_sequences` or `echo_authorization`: a transient error
/// (the echo middleware adds the header value to its diagnostics).
pub fn first_poll_outcome(escape: bool) -> Response {
    let diagnostics = if escape { ESCAPE_DIAGNOSTICS } else { "The server is busy; try again shortly" };
    outcome::response(StatusCode::INTERNAL_SERVER_ERROR, "error", "transient", diagnostics)
}

/// Middleware on both origins: while `echo_authorization` is on, every OperationOutcome sent as an error
/// answer gets the request's `Authorization` value in each issue's `diagnostics`. A middleware rather than
/// a parameter of every handler, so that no refusal (401, 404, 429, 5xx) is left out.
pub async fn echo_authorization(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let auth = authorization(request.headers());
    let response = next.run(request).await;
    match auth {
        Some(auth) if is_error_outcome(&response) && sim.faults().echo_authorization => {
            echo_into_outcome(response, &auth).await
        }
        _ => response,
    }
}

fn is_error_outcome(response: &Response) -> bool {
    let fhir = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes() == FHIR_JSON.as_bytes());
    fhir && (response.status().is_client_error() || response.status().is_server_error())
}

async fn echo_into_outcome(response: Response, auth: &str) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, OUTCOME_LIMIT).await else {
        let why = echoed("The error answer could not be read", auth);
        return outcome::response(parts.status, "error", "exception", &why);
    };
    let Ok(mut outcome) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if let Some(issues) = outcome.get_mut("issue").and_then(Value::as_array_mut) {
        for issue in issues {
            let own = issue.get("diagnostics").and_then(Value::as_str).unwrap_or("");
            issue["diagnostics"] = Value::from(echoed(own, auth));
        }
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(outcome.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_shows_what_each_fault_asks_for() {
        assert_eq!(progress("Writing".into(), false, None), "Writing");
        assert_eq!(progress("Writing".into(), true, None), ESCAPE_PROGRESS);
        assert_eq!(progress("Writing".into(), false, Some("Bearer abc")), "working for Bearer abc");
        assert_eq!(progress("Writing".into(), true, Some("Bearer abc")), format!("{ESCAPE_PROGRESS} for Bearer abc"));
    }

    #[test]
    fn the_escape_progress_is_a_valid_header_value_and_raw_escape_is_not() {
        assert!(axum::http::HeaderValue::from_str(ESCAPE_PROGRESS).is_ok());
        assert!(axum::http::HeaderValue::from_bytes(b"working \x1b[31m").is_err());
    }
}
