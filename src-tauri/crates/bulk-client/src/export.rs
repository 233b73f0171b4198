//! The `$export` request and what comes back, as data: the kickoff URL or `Parameters` body, `Retry-After`,
//! and the completion manifest. (`session` sends them; export-jobs runs the whole job.)

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use ts_rs::TS;

use crate::text::printable;

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
    /// A FHIR instant; only resources changed up to it (`_until`, IG v2; AB2D uses it).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub until: Option<String>,
    /// Azure's `_container`: the storage container the server writes the files into.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub container: Option<String>,
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
        if let Some(until) = &self.until {
            push("_until", until.clone());
        }
        if let Some(container) = &self.container {
            push("_container", container.clone());
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
                let key = if name == "_since" || name == "_until" { "valueInstant" } else { "valueString" };
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
    #[serde(rename = "type", default, deserialize_with = "text_or_empty")]
    pub resource_type: String,
    pub url: String,
    /// Informational: a count Haul cannot read (negative, fractional, text) is no count, not a bad manifest.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "count_or_none")]
    #[ts(type = "number | null")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(type = "unknown")]
    pub extension: Option<Value>,
}

fn text_or_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

fn count_or_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// The longest status or file address Haul follows: real ones (signed storage links included) are under 2 KiB.
pub(crate) const MAX_URL_BYTES: usize = 8 * 1024;
/// The most files one manifest may list. Servers split an export into files of thousands to millions of
/// resources, so a terabyte export lists a few thousand; more is a server misbehaving, and each costs memory
/// and a database row before any is fetched.
pub const MAX_MANIFEST_FILES: usize = 100_000;

/// The completion manifest. `raw` is the body as received (saved once, as `manifest.json`); the members
/// Haul uses are read from it without building a JSON tree of the whole (a large `extension` costs only its
/// bytes).
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub transaction_time: String,
    pub request: String,
    pub requires_access_token: bool,
    pub output: Vec<ManifestFile>,
    pub error: Vec<ManifestFile>,
    pub deleted: Vec<ManifestFile>,
    pub raw: Vec<u8>,
}

/// The members Haul reads; everything else is skipped unparsed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestMembers {
    transaction_time: Option<Value>,
    request: Option<Value>,
    requires_access_token: Option<Value>,
    #[serde(default)]
    output: Option<Vec<ManifestFile>>,
    #[serde(default)]
    error: Option<Vec<ManifestFile>>,
    #[serde(default)]
    deleted: Option<Vec<ManifestFile>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("The server's export manifest is not valid: {0}. The export cannot continue; the server may be misbehaving.")]
pub struct ManifestError(pub String);

impl Manifest {
    pub fn parse(body: &[u8]) -> Result<Self, ManifestError> {
        let members: ManifestMembers = serde_json::from_slice(body).map_err(|e| {
            let what = if e.is_data() { "not a manifest" } else { "not JSON" };
            ManifestError(format!("{what} ({})", printable(&e.to_string())))
        })?;
        let text = |v: &Option<Value>| v.as_ref().and_then(Value::as_str).map(|s| printable(s).into_owned());
        let mut manifest = Manifest {
            transaction_time: text(&members.transaction_time)
                .ok_or_else(|| ManifestError("it has no transactionTime".into()))?,
            // Only shown and kept: a request URL, cut at a length no real one reaches.
            request: text(&members.request).unwrap_or_default().chars().take(MAX_URL_BYTES).collect(),
            // Absent (older HAPI leaves it out while its files need the token): the token goes to files on the
            // server's own origin, the only place it may go anyway.
            requires_access_token: members.requires_access_token.as_ref().and_then(Value::as_bool).unwrap_or(true),
            output: members.output.unwrap_or_default(),
            error: members.error.unwrap_or_default(),
            deleted: members.deleted.unwrap_or_default(),
            raw: body.to_vec(),
        };
        if manifest.transaction_time.len() > 64 {
            return Err(ManifestError("its transactionTime is not a date and time".into()));
        }
        let listed = manifest.output.len() + manifest.error.len() + manifest.deleted.len();
        if listed > MAX_MANIFEST_FILES {
            return Err(ManifestError(format!(
                "it lists {listed} files, more than the {MAX_MANIFEST_FILES} Haul takes from one export (ask for fewer types, or changes since a date)"
            )));
        }
        for f in manifest.output.iter_mut().chain(&mut manifest.error).chain(&mut manifest.deleted) {
            if f.url.len() > MAX_URL_BYTES {
                return Err(ManifestError(format!(
                    "a file URL is {} bytes long, longer than any Haul follows",
                    f.url.len()
                )));
            }
            let ok = url::Url::parse(&f.url).is_ok_and(|u| u.scheme() == "https" || u.scheme() == "http");
            if !ok {
                return Err(ManifestError(format!(
                    "the file URL “{}” is not an absolute http(s) URL",
                    printable(&f.url)
                )));
            }
            // A type name is shown and used in messages: never raw control characters from a server.
            if let std::borrow::Cow::Owned(clean) = printable(&f.resource_type) {
                f.resource_type = clean;
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
        let until = ExportRequest { until: Some("2026-02-01T00:00:00+00:00".into()), ..Default::default() };
        assert!(until.kickoff_url("https://x/fhir").ends_with("&_until=2026-02-01T00%3A00%3A00%2B00%3A00"));
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
        assert_eq!(m.raw, body, "kept as received");
        assert!(Manifest::parse(b"{}").unwrap_err().to_string().contains("no transactionTime"));
        // Absent, the token goes to the server's own origin; said false, it does not.
        assert!(Manifest::parse(br#"{"transactionTime":"t"}"#).unwrap().requires_access_token);
        assert!(
            !Manifest::parse(br#"{"transactionTime":"t","requiresAccessToken":false}"#).unwrap().requires_access_token
        );
        let relative = br#"{"transactionTime":"t","output":[{"type":"Patient","url":"/f/1"}]}"#;
        assert!(Manifest::parse(relative).unwrap_err().0.contains("not an absolute"));
        assert!(Manifest::parse(b"<html>").is_err());
        // An odd count or a missing type loses no export: the count is informational, the type becomes empty.
        let odd = br#"{"transactionTime":"t","output":[{"type":null,"url":"https://x/1","count":-1},
            {"type":"Patient","url":"https://x/2","count":"12"},{"url":"https://x/3","count":2.5}]}"#;
        let m = Manifest::parse(odd).unwrap();
        let counts: Vec<_> = m.output.iter().map(|f| f.count).collect();
        assert_eq!(counts, [None, Some(12), None]);
        assert_eq!((m.output[0].resource_type.as_str(), m.output[2].resource_type.as_str()), ("", ""));
        // Bounds: the number of files, a file URL's length, a transactionTime that is no date.
        let files: Vec<_> =
            (0..=MAX_MANIFEST_FILES).map(|i| json!({"type": "P", "url": format!("https://x/{i}")})).collect();
        let many = json!({"transactionTime": "t", "output": files}).to_string();
        assert!(Manifest::parse(many.as_bytes()).unwrap_err().0.contains("100001 files"));
        let long = json!({"transactionTime": "t", "output": [{"type": "P", "url": format!("https://x/{}", "a".repeat(9000))}]});
        assert!(Manifest::parse(long.to_string().as_bytes()).unwrap_err().0.contains("longer than any Haul follows"));
        let time = json!({"transactionTime": "9".repeat(65)}).to_string();
        assert!(Manifest::parse(time.as_bytes()).unwrap_err().0.contains("not a date"));
        let escapes = br#"{"transactionTime":"t","output":[{"type":"Pat\u001b[2Jient","url":"https://x/f/1"}]}"#;
        assert_eq!(Manifest::parse(escapes).unwrap().output[0].resource_type, "Pat\\u{1b}[2Jient");
        assert!(
            Manifest::parse(br#"{"transactionTime":"t","output":"nope"}"#).unwrap_err().0.contains("not a manifest")
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]
        // Whatever a server sends as a manifest: an answer, never a panic.
        #[test]
        fn any_bytes_parse_or_fail_cleanly(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = Manifest::parse(&body);
        }

        #[test]
        fn manifest_shaped_text_parses_or_fails_cleanly(
            time in "[ -~]{0,30}",
            kind in "\\PC{0,20}",
            url in "(https?|file|ftp)://[a-z.]{0,12}(/[ -~]{0,20})?",
            count in proptest::option::of(proptest::prelude::any::<i64>()),
            extra in "[\\[\\]{}\",:0-9a-z ]{0,40}",
        ) {
            let body = serde_json::json!({"transactionTime": time, "output": [{"type": kind, "url": url, "count": count}]}).to_string();
            if let Ok(m) = Manifest::parse(body.as_bytes()) {
                proptest::prop_assert!(m.output[0].url.starts_with("http"));
                proptest::prop_assert!(!m.output[0].resource_type.chars().any(char::is_control));
            }
            let broken = format!("{{\"transactionTime\":\"t\",\"output\":{extra}}}");
            let _ = Manifest::parse(broken.as_bytes());
        }
    }
}
