//! `GET [base]/metadata`: what server is this, and does it speak Bulk Data?

use serde::Serialize;
use serde_json::Value;
use ts_rs::TS;

use crate::error::{HttpError, HttpErrorKind, excerpt, operation_outcome_text};
use crate::http::HttpClient;

/// The canonical URL of the Bulk Data CapabilityStatement a conformant server instantiates.
pub const BULK_DATA_CAPABILITY: &str = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data";

/// Capability statements of big servers run to megabytes; more than this is not a capability statement.
const MAX_METADATA_BYTES: usize = 20 * 1024 * 1024;

/// What "Test connection" shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ServerSummary {
    /// `software.name`, else `implementation.description`, else the publisher.
    pub software: Option<String>,
    pub software_version: Option<String>,
    pub fhir_version: Option<String>,
    /// The server says it instantiates the Bulk Data CapabilityStatement.
    pub instantiates_bulk_data: bool,
    /// Export operations it lists: "system", "patient", "group".
    pub export_levels: Vec<String>,
}

/// Fetches and summarises `[base]/metadata`.
pub async fn fetch_summary(http: &HttpClient, base_url: &str) -> Result<ServerSummary, HttpError> {
    let url = format!("{}/metadata", base_url.trim_end_matches('/'));
    let host = url::Url::parse(&url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
        })
        .unwrap_or_else(|| base_url.to_string());
    let what = "the server's capability statement";
    let response = http
        .inner
        .get(&url)
        .header(reqwest::header::ACCEPT, "application/fhir+json")
        .send()
        .await
        .map_err(|e| http.transport_error(&e, what, &host))?;
    if let Some(refused) = http.proxy_refusal(response.status()) {
        return Err(refused);
    }
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let body = read_limited(response, MAX_METADATA_BYTES).await.map_err(|e| http.transport_error(&e, what, &host))?;
    let looks_html = content_type.contains("html") || body.trim_ascii_start().starts_with(b"<");

    if !status.is_success() {
        let status_line = format!("HTTP {} from GET {url}", status.as_u16());
        let mut err = if looks_html {
            HttpError::new(
                HttpErrorKind::Status,
                format!(
                    "{host} answered with an error page (HTTP {}), not FHIR. A proxy or gateway in front of the server may be failing, or the address is not a FHIR base URL.",
                    status.as_u16()
                ),
            )
        } else if status.as_u16() == 404 {
            HttpError::new(
                HttpErrorKind::Status,
                format!(
                    "{host} has no capability statement at {url} (HTTP 404). Check that the address is the FHIR base URL; it often ends in /fhir, /r4 or /api/FHIR/R4."
                ),
            )
        } else if status.as_u16() == 401 || status.as_u16() == 403 {
            HttpError::new(
                HttpErrorKind::Status,
                format!(
                    "{host} refused to show its capability statement without authorization (HTTP {}). Set up SMART Backend Services for this server.",
                    status.as_u16()
                ),
            )
        } else {
            HttpError::new(
                HttpErrorKind::Status,
                format!(
                    "{host} answered HTTP {} {} to the capability statement request.",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                )
                .trim_end()
                .to_string(),
            )
        };
        err.status = Some(status.as_u16());
        let detail = match operation_outcome_text(&body) {
            Some(outcome) => format!("{status_line}. OperationOutcome: {outcome}"),
            None => format!("{status_line}. Body begins: {}", excerpt(&body)),
        };
        return Err(err.with_detail(detail));
    }

    if looks_html {
        return Err(HttpError::new(
            HttpErrorKind::NotFhir,
            format!("{host} answered with a web page (HTML), not FHIR. The address may point at a website or a sign-in page rather than the FHIR base URL."),
        )
        .with_detail(format!("Content-Type: {content_type}. Body begins: {}", excerpt(&body))));
    }
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        HttpError::new(
            HttpErrorKind::BadResponse,
            format!("{host} answered, but not with valid JSON, so it is probably not a FHIR server."),
        )
        .with_detail(format!("{e}. Content-Type: {content_type}. Body begins: {}", excerpt(&body)))
    })?;
    summarize(&value).map_err(|found| {
        HttpError::new(
            HttpErrorKind::BadResponse,
            format!("{host} answered with {found} where a FHIR CapabilityStatement was expected. Check that the address is the FHIR base URL."),
        )
        .with_detail(format!("Body begins: {}", excerpt(&body)))
    })
}

async fn read_limited(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    Ok(body)
}

/// Reads a CapabilityStatement; `Err` names what the JSON was instead.
pub fn summarize(cs: &Value) -> Result<ServerSummary, String> {
    match cs.get("resourceType").and_then(Value::as_str) {
        Some("CapabilityStatement") => {}
        Some(other) => return Err(format!("a FHIR {other}")),
        None => return Err("JSON that is not a FHIR resource".to_string()),
    }
    let text = |pointer: &str| cs.pointer(pointer).and_then(Value::as_str).map(str::to_string);
    let software =
        text("/software/name").or_else(|| text("/implementation/description")).or_else(|| text("/publisher"));
    let instantiates_bulk_data = cs.get("instantiates").and_then(Value::as_array).is_some_and(|list| {
        list.iter().filter_map(Value::as_str).any(|u| u.split('|').next() == Some(BULK_DATA_CAPABILITY))
    });

    let mut export_levels = Vec::new();
    let exports = |ops: Option<&Value>| {
        ops.and_then(Value::as_array).is_some_and(|ops| {
            ops.iter().any(|op| {
                let name = op.get("name").and_then(Value::as_str).unwrap_or("");
                let def = op.get("definition").and_then(Value::as_str).unwrap_or("");
                name.ends_with("export") || def.contains("export")
            })
        })
    };
    for rest in cs.get("rest").and_then(Value::as_array).into_iter().flatten() {
        if exports(rest.get("operation")) {
            export_levels.push("system".to_string());
        }
        for resource in rest.get("resource").and_then(Value::as_array).into_iter().flatten() {
            let level = match resource.get("type").and_then(Value::as_str) {
                Some("Patient") => "patient",
                Some("Group") => "group",
                _ => continue,
            };
            if exports(resource.get("operation")) {
                export_levels.push(level.to_string());
            }
        }
    }
    export_levels.dedup();
    Ok(ServerSummary {
        software,
        software_version: text("/software/version"),
        fhir_version: text("/fhirVersion"),
        instantiates_bulk_data,
        export_levels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_plain_fhir_server_is_not_bulk_data() {
        let s = summarize(&json!({
            "resourceType": "CapabilityStatement",
            "fhirVersion": "4.0.1",
            "implementation": {"description": "Some EHR"},
            "rest": [{"resource": [{"type": "Patient"}]}]
        }))
        .unwrap();
        assert_eq!(s.software.as_deref(), Some("Some EHR"));
        assert!(!s.instantiates_bulk_data);
        assert!(s.export_levels.is_empty());
    }

    #[test]
    fn a_versioned_canonical_counts() {
        let s = summarize(&json!({
            "resourceType": "CapabilityStatement",
            "instantiates": [format!("{BULK_DATA_CAPABILITY}|2.0.0")]
        }))
        .unwrap();
        assert!(s.instantiates_bulk_data);
    }

    #[test]
    fn other_json_is_named() {
        assert_eq!(summarize(&json!({"resourceType": "Bundle"})).unwrap_err(), "a FHIR Bundle");
        assert_eq!(summarize(&json!({"hello": 1})).unwrap_err(), "JSON that is not a FHIR resource");
    }
}
