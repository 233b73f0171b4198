//! What a folder holds before anything is indexed: its types and files, and what its manifest says (Haul's own
//! `manifest.json`, or a server's as saved by another tool), with the problems an export left behind.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;
use ts_rs::TS;

/// Where a type's resource count comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum CountSource {
    /// Haul's own count of each downloaded file, or the server's `count` in the manifest.
    Manifest,
    /// Lines counted by the index (blank lines left out).
    Counted,
    /// Not known yet: the files are still being indexed.
    Pending,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TypeSummary {
    pub resource_type: String,
    /// File names, relative to the folder.
    pub files: Vec<String>,
    /// Size on disk (compressed for `.gz`).
    #[ts(type = "number")]
    pub bytes: u64,
    pub compressed: bool,
    #[ts(type = "number | null")]
    pub count: Option<u64>,
    pub count_source: CountSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum ProblemKind {
    /// An OperationOutcome file the server listed under `error`.
    ErrorFile,
    /// Lines Haul set aside while verifying a download (not valid NDJSON, or the wrong type).
    Quarantine,
    /// A file the manifest lists that did not arrive whole.
    FileFailed,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FolderProblem {
    pub kind: ProblemKind,
    pub file: String,
    /// Lines in the file (outcomes, set-aside lines); 0 where that does not apply.
    #[ts(type = "number")]
    pub lines: u64,
    pub message: String,
    /// The first few messages in the file, as written.
    pub samples: Vec<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FolderOverview {
    pub folder: String,
    pub types: Vec<TypeSummary>,
    /// Whether a `manifest.json` was found (exports from other tools may have none).
    pub has_manifest: bool,
    pub transaction_time: Option<String>,
    /// The kick-off request as the manifest records it.
    pub request: Option<String>,
    /// The request's parameters (`_type`, `_since`, …), decoded.
    pub parameters: Vec<(String, String)>,
    pub problems: Vec<FolderProblem>,
}

/// Counts per type from a manifest: Haul's own per-file counts (`_haul.files`, what was verified) first, else
/// the server's `output[].count` when every file of the type has one.
pub(crate) fn manifest_counts(manifest: &Value, resource_type: &str) -> Option<u64> {
    if let Some(files) = manifest["_haul"]["files"].as_array() {
        let mine: Vec<&Value> = files.iter().filter(|f| f["type"] == resource_type).collect();
        if !mine.is_empty() && mine.iter().all(|f| f["resources"].is_u64() && f["state"] == "verified") {
            return Some(mine.iter().filter_map(|f| f["resources"].as_u64()).sum());
        }
        return None;
    }
    let outputs: Vec<&Value> = manifest["output"].as_array()?.iter().filter(|o| o["type"] == resource_type).collect();
    if outputs.is_empty() || !outputs.iter().all(|o| o["count"].is_u64()) {
        return None;
    }
    Some(outputs.iter().filter_map(|o| o["count"].as_u64()).sum())
}

pub(crate) fn read_manifest(folder: &Path) -> Option<Value> {
    let bytes = std::fs::read(folder.join("manifest.json")).ok()?;
    serde_json::from_slice::<Value>(&bytes).ok().filter(Value::is_object)
}

/// `_type=Patient,Observation&_since=…` from a request URL, percent-decoded.
pub(crate) fn parameters(request: &str) -> Vec<(String, String)> {
    let Some((_, query)) = request.split_once('?') else { return Vec::new() };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Error files, set-aside lines and files that did not arrive.
pub(crate) fn problems(folder: &Path, manifest: Option<&Value>) -> Vec<FolderProblem> {
    let mut out = Vec::new();
    for (dir, kind) in [("error", ProblemKind::ErrorFile), ("quarantine", ProblemKind::Quarantine)] {
        let Ok(entries) = std::fs::read_dir(folder.join(dir)) else { continue };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
        paths.sort();
        for path in paths {
            let name = format!("{dir}/{}", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default());
            let (lines, samples) = summarize_lines(&path, kind);
            let message = match kind {
                ProblemKind::ErrorFile => format!("The server reported {} in {name}.", count(lines, "problem")),
                _ if lines == 1 => format!("1 line was set aside in {name}: it was not a valid resource."),
                _ => format!("{} were set aside in {name}: they were not valid resources.", count(lines, "line")),
            };
            out.push(FolderProblem { kind, file: name, lines, message, samples });
        }
    }
    if let Some(files) = manifest.and_then(|m| m["_haul"]["files"].as_array()) {
        for f in files.iter().filter(|f| f["error"].is_string()) {
            let file = f["file"].as_str().unwrap_or("").to_string();
            let message = format!("{file} did not arrive whole: {}", f["error"].as_str().unwrap_or(""));
            out.push(FolderProblem { kind: ProblemKind::FileFailed, file, lines: 0, message, samples: Vec::new() });
        }
    }
    out
}

/// Counts lines (streaming, any size) and keeps the first few messages: an outcome's diagnostics or details,
/// a set-aside line's first bytes.
fn summarize_lines(path: &Path, kind: ProblemKind) -> (u64, Vec<String>) {
    let Ok(input) = fhir_ndjson::open(path) else { return (0, Vec::new()) };
    let mut reader = fhir_ndjson::LineReader::new(std::io::BufReader::new(input));
    let (mut lines, mut samples) = (0u64, Vec::new());
    while let Ok(Some((_, line))) = reader.next_line() {
        if fhir_ndjson::is_blank(line) {
            continue;
        }
        lines += 1;
        if samples.len() < 3 {
            let sample = match kind {
                ProblemKind::ErrorFile => outcome_text(line),
                _ => None,
            };
            samples.push(sample.unwrap_or_else(|| first_chars(line, 160)));
        }
    }
    (lines, samples)
}

fn outcome_text(line: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(line).ok()?;
    let texts: Vec<String> =
        v["issue"]
            .as_array()?
            .iter()
            .filter_map(|i| {
                i["diagnostics"].as_str().or_else(|| i["details"]["text"].as_str()).map(str::to_string).or_else(|| {
                    i["code"].as_str().map(|c| format!("{}: {c}", i["severity"].as_str().unwrap_or("issue")))
                })
            })
            .collect();
    (!texts.is_empty()).then(|| texts.join("; "))
}

/// The first `n` characters of a line, for showing a line that is not valid JSON.
pub fn first_chars(line: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(&line[..line.len().min(n * 4)]);
    let trimmed = text.trim_end();
    let mut out: String = trimmed.chars().take(n).collect();
    if trimmed.chars().count() > n {
        out.push('…');
    }
    out
}

/// `1 problem`, `3 problems`, `1,200 lines`.
fn count(n: u64, noun: &str) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if n == 1 { format!("1 {noun}") } else { format!("{grouped} {noun}s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_decoded() {
        let p =
            parameters("https://x/fhir/Group/g1/$export?_type=Patient%2CObservation&_since=2024-01-01T00%3A00%3A00Z&x");
        assert_eq!(
            p,
            [
                ("_type".to_string(), "Patient,Observation".to_string()),
                ("_since".to_string(), "2024-01-01T00:00:00Z".to_string()),
                ("x".to_string(), String::new())
            ]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
    }

    #[test]
    fn counts_come_from_haul_then_the_server() {
        let haul = serde_json::json!({"output": [{"type": "Patient", "count": 7}],
            "_haul": {"files": [{"type": "Patient", "resources": 5, "state": "verified"},
                                {"type": "Patient", "resources": 4, "state": "verified"}]}});
        assert_eq!(manifest_counts(&haul, "Patient"), Some(9));
        let server = serde_json::json!({"output": [{"type": "Patient", "count": 7}, {"type": "Patient", "count": 1},
                                                   {"type": "Observation"}]});
        assert_eq!(manifest_counts(&server, "Patient"), Some(8));
        assert_eq!(manifest_counts(&server, "Observation"), None);
    }
}
