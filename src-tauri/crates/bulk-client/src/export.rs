//! The `$export` request and what comes back, as data: the kickoff URL or `Parameters` body, `Retry-After`,
//! and the completion manifest. (`session` sends them; export-jobs runs the whole job.)

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use ts_rs::TS;

/// Where the export runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", tag = "kind", content = "groupId")]
#[ts(export)]
pub enum ExportLevel {
    /// `[base]/$export`: everything the server holds.
    System,
    /// `[base]/Patient/$export`: all patients' data.
    Patient,
    /// `[base]/Group/[id]/$export`: one roster.
    Group(String),
}

/// An export as the user asked for it. Lists are sent comma-joined, the form every server accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
#[ts(export)]
pub struct ExportRequest {
    pub level: Option<ExportLevel>,
    pub output_format: Option<String>,
    /// A FHIR instant; only resources changed after it.
    pub since: Option<String>,
    pub types: Vec<String>,
    pub elements: Vec<String>,
    /// Patient ids or `Patient/id` references (POST only).
    pub patients: Vec<String>,
    /// `Type?query` strings.
    pub type_filters: Vec<String>,
    pub include_associated_data: Vec<String>,
    /// Ask the server to ignore what it does not support (`Prefer: handling=lenient`).
    pub lenient: bool,
    /// Send POST with `Parameters` even without `patient`.
    pub post: bool,
    /// Extra parameters for servers with their own (name, value).
    pub extra: Vec<(String, String)>,
}

impl ExportRequest {
    pub fn level(&self) -> &ExportLevel {
        self.level.as_ref().unwrap_or(&ExportLevel::System)
    }

    /// POST is needed for `patient`, and used when asked.
    pub fn uses_post(&self) -> bool {
        self.post || !self.patients.is_empty()
    }

    fn path(&self) -> String {
        match self.level() {
            ExportLevel::System => "$export".into(),
            ExportLevel::Patient => "Patient/$export".into(),
            ExportLevel::Group(id) => {
                format!("Group/{}/$export", url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>())
            }
        }
    }

    /// (name, value) pairs, GET or POST alike (except `patient`, which only POST carries).
    fn pairs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut push = |name: &str, value: String| out.push((name.to_string(), value));
        push("_outputFormat", self.output_format.clone().unwrap_or_else(|| "application/fhir+ndjson".into()));
        if let Some(since) = &self.since {
            push("_since", since.clone());
        }
        if !self.types.is_empty() {
            push("_type", self.types.join(","));
        }
        if !self.elements.is_empty() {
            push("_elements", self.elements.join(","));
        }
        if !self.include_associated_data.is_empty() {
            push("includeAssociatedData", self.include_associated_data.join(","));
        }
        for f in &self.type_filters {
            push("_typeFilter", f.clone());
        }
        for (k, v) in &self.extra {
            push(k, v.clone());
        }
        out
    }

    /// The kickoff URL: with the query for GET, bare for POST.
    pub fn kickoff_url(&self, base_url: &str) -> String {
        let url = format!("{}/{}", base_url.trim_end_matches('/'), self.path());
        if self.uses_post() {
            return url;
        }
        let query: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(self.pairs()).finish();
        format!("{url}?{query}")
    }

    /// The `Parameters` body for POST.
    pub fn parameters(&self) -> Value {
        let mut parameter: Vec<Value> = self
            .pairs()
            .into_iter()
            .map(|(name, value)| {
                let key = if name == "_since" { "valueInstant" } else { "valueString" };
                json!({"name": name, key: value})
            })
            .collect();
        for p in &self.patients {
            let reference = if p.starts_with("Patient/") { p.clone() } else { format!("Patient/{p}") };
            parameter.push(json!({"name": "patient", "valueReference": {"reference": reference}}));
        }
        json!({"resourceType": "Parameters", "parameter": parameter})
    }

    /// What the request looks like, for an expert to check before it is sent.
    pub fn describe(&self, base_url: &str) -> String {
        if self.uses_post() {
            let body = serde_json::to_string_pretty(&self.parameters()).unwrap_or_default();
            format!("POST {}\n\n{body}", self.kickoff_url(base_url))
        } else {
            format!("GET {}", self.kickoff_url(base_url))
        }
    }
}

/// The longest wait Haul accepts from a server; longer (or absurd) values are clamped and reported.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// A server's `Retry-After`, read and made sane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter {
    pub wait: Duration,
    /// The server asked for longer than [`MAX_RETRY_AFTER`] (or for a time in the past): `wait` is clamped.
    pub clamped_from: Option<Duration>,
}

/// Reads `Retry-After` as delta-seconds or an HTTP-date; `None` if it is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<RetryAfter> {
    parse_retry_after_capped(value, now, MAX_RETRY_AFTER)
}

/// [`parse_retry_after`] with another ceiling (tests use short ones).
pub fn parse_retry_after_capped(value: &str, now: SystemTime, cap: Duration) -> Option<RetryAfter> {
    let value = value.trim();
    let asked = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let when = httpdate::parse_http_date(value).ok()?;
        when.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(if asked > cap {
        RetryAfter { wait: cap, clamped_from: Some(asked) }
    } else {
        RetryAfter { wait: asked, clamped_from: None }
    })
}

/// One file of a manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ManifestFile {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(type = "number | null")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(type = "unknown")]
    pub extension: Option<Value>,
}

/// The completion manifest. Unknown members are kept in `raw`, so `manifest.json` is saved as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub transaction_time: String,
    pub request: String,
    pub requires_access_token: bool,
    pub output: Vec<ManifestFile>,
    pub error: Vec<ManifestFile>,
    pub deleted: Vec<ManifestFile>,
    pub raw: Value,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("The server's export manifest is not valid: {0}. The export cannot continue; the server may be misbehaving.")]
pub struct ManifestError(pub String);

impl Manifest {
    pub fn parse(body: &[u8]) -> Result<Self, ManifestError> {
        let raw: Value = serde_json::from_slice(body).map_err(|e| ManifestError(format!("not JSON ({e})")))?;
        let text = |name: &str| raw.get(name).and_then(Value::as_str).map(str::to_string);
        let files = |name: &str| -> Result<Vec<ManifestFile>, ManifestError> {
            match raw.get(name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(v) => {
                    serde_json::from_value(v.clone()).map_err(|e| ManifestError(format!("“{name}” is malformed ({e})")))
                }
            }
        };
        let manifest = Manifest {
            transaction_time: text("transactionTime")
                .ok_or_else(|| ManifestError("it has no transactionTime".into()))?,
            request: text("request").unwrap_or_default(),
            requires_access_token: raw.get("requiresAccessToken").and_then(Value::as_bool).unwrap_or(false),
            output: files("output")?,
            error: files("error")?,
            deleted: files("deleted")?,
            raw: raw.clone(),
        };
        for f in manifest.output.iter().chain(&manifest.error).chain(&manifest.deleted) {
            let ok = url::Url::parse(&f.url).is_ok_and(|u| u.scheme() == "https" || u.scheme() == "http");
            if !ok {
                return Err(ManifestError(format!("the file URL “{}” is not an absolute http(s) URL", f.url)));
            }
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_requests_carry_their_parameters_in_the_query() {
        let req = ExportRequest {
            level: Some(ExportLevel::Group("aco north".into())),
            since: Some("2026-01-01T00:00:00Z".into()),
            types: vec!["Patient".into(), "Observation".into()],
            type_filters: vec!["Observation?category=laboratory".into()],
            ..Default::default()
        };
        assert!(!req.uses_post());
        assert_eq!(
            req.kickoff_url("https://ehr.test/fhir/"),
            "https://ehr.test/fhir/Group/aco+north/$export?_outputFormat=application%2Ffhir%2Bndjson&_since=2026-01-01T00%3A00%3A00Z&_type=Patient%2CObservation&_typeFilter=Observation%3Fcategory%3Dlaboratory"
        );
    }

    #[test]
    fn patients_make_it_a_post_with_parameters() {
        let req = ExportRequest {
            level: Some(ExportLevel::Patient),
            patients: vec!["p1".into(), "Patient/p2".into()],
            since: Some("2026-01-01T00:00:00Z".into()),
            ..Default::default()
        };
        assert!(req.uses_post());
        assert_eq!(req.kickoff_url("https://ehr.test/fhir"), "https://ehr.test/fhir/Patient/$export");
        let p = req.parameters();
        assert_eq!(p["resourceType"], "Parameters");
        let params = p["parameter"].as_array().unwrap();
        assert!(params.iter().any(|x| x["name"] == "_since" && x["valueInstant"] == "2026-01-01T00:00:00Z"));
        let refs: Vec<&str> = params
            .iter()
            .filter(|x| x["name"] == "patient")
            .map(|x| x["valueReference"]["reference"].as_str().unwrap())
            .collect();
        assert_eq!(refs, ["Patient/p1", "Patient/p2"]);
        assert!(req.describe("https://ehr.test/fhir").starts_with("POST https://ehr.test/fhir/Patient/$export\n\n{"));
    }

    #[test]
    fn retry_after_in_both_forms_clamped_when_absurd() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(parse_retry_after("5", now), Some(RetryAfter { wait: Duration::from_secs(5), clamped_from: None }));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(parse_retry_after(&date, now).unwrap().wait, Duration::from_secs(30));
        let hours = parse_retry_after("36000", now).unwrap();
        assert_eq!((hours.wait, hours.clamped_from), (MAX_RETRY_AFTER, Some(Duration::from_secs(36000))));
        let unix = parse_retry_after("1800000000", now).unwrap();
        assert_eq!(unix.wait, MAX_RETRY_AFTER, "a Unix timestamp sent as seconds is clamped");
        assert_eq!(
            parse_retry_after(&httpdate::fmt_http_date(now - Duration::from_secs(60)), now).unwrap().wait,
            Duration::ZERO
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn manifests_keep_what_they_carry() {
        let body =
            br#"{"transactionTime":"2026-11-01T00:00:00Z","request":"https://x/$export","requiresAccessToken":true,
            "output":[{"type":"Patient","url":"https://x/f/1","count":3,"extension":{"a":1}}],
            "error":[{"type":"OperationOutcome","url":"https://x/e/1"}],"extension":{"urn:x":{"y":2}}}"#;
        let m = Manifest::parse(body).unwrap();
        assert!(m.requires_access_token);
        assert_eq!(m.output[0].count, Some(3));
        assert_eq!(m.output[0].extension, Some(json!({"a": 1})));
        assert!(m.deleted.is_empty());
        assert_eq!(m.raw["extension"]["urn:x"]["y"], 2);
        assert!(Manifest::parse(b"{}").unwrap_err().to_string().contains("no transactionTime"));
        let relative = br#"{"transactionTime":"t","output":[{"type":"Patient","url":"/f/1"}]}"#;
        assert!(Manifest::parse(relative).unwrap_err().0.contains("not an absolute"));
        assert!(Manifest::parse(b"<html>").is_err());
    }
}
