//! Checking a downloaded file line by line before it joins the export: each line a resource of the
//! announced type, by the one line rule that Convert and the Files page apply too (`fhir_ndjson::check_line`:
//! UTF-8, strict JSON, an object, no duplicate key, the right `resourceType`). Bad lines leave the file for a
//! quarantine side file, with where they came from and the rule's reason. Gzip bodies (servers that serve
//! `.ndjson.gz` without `Content-Encoding`) are unpacked here.

mod checker;
mod elements;
mod rewrite;

use std::path::Path;

use bulk_client::Secrets;
use fhir_ndjson::{LineProblem, check_line};

pub use checker::{Checked, LineChecker};

use crate::limits::{DiskFull, DiskGuard, Limits};
use elements::{Lenient, LenientText};

/// What a file held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    /// Good lines (resources).
    pub resources: u64,
    /// Lines quarantined.
    pub bad_lines: u64,
    /// Size of the verified file written.
    pub bytes: u64,
    /// For OperationOutcome files: issues by severity, and the first few texts.
    pub issues: IssueSummary,
    /// For deleted files: `DELETE` entries across the Bundles.
    pub deletions: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueSummary {
    pub fatal_or_error: u64,
    pub warning: u64,
    pub information: u64,
    /// Up to five error texts, for the summary.
    pub first_errors: Vec<String>,
}

/// What a line is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect<'a> {
    /// An output file: every line must be this resource type.
    Resource(&'a str),
    /// An `error[]` file: OperationOutcomes.
    Outcomes,
    /// A `deleted[]` file: Bundles.
    Deletions,
}

impl Expect<'_> {
    /// The resource type every line must be.
    fn resource_type(&self) -> &str {
        match self {
            Expect::Resource(t) => t,
            Expect::Outcomes => "OperationOutcome",
            Expect::Deletions => "Bundle",
        }
    }
}

/// Why a line is not acceptable, by the line rule.
fn check(line: &[u8], expect: Expect<'_>) -> Result<(), LineProblem> {
    match check_line(line, expect.resource_type()) {
        // A manifest entry that names no type: its file may hold any resource (every other rule still holds).
        Err(LineProblem::WrongResourceType { found: Some(_), .. }) if expect.resource_type().is_empty() => Ok(()),
        checked => checked,
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct Issue {
    severity: LenientText,
    diagnostics: LenientText,
    details: Lenient<IssueDetails>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct IssueDetails {
    text: LenientText,
}

/// Counts an OperationOutcome line's issues by severity (keeping the first few texts), one issue at a time.
fn summarize_outcome(line: &[u8], into: &mut IssueSummary) {
    elements::each_element(line, "issue", |issue: Lenient<Issue>| {
        let issue = issue.0.unwrap_or_default();
        match issue.severity.0.as_deref().unwrap_or("error") {
            "warning" => into.warning += 1,
            "information" => into.information += 1,
            _ => {
                into.fatal_or_error += 1;
                if into.first_errors.len() < 5 {
                    let text = issue.diagnostics.0.or_else(|| issue.details.0.and_then(|d| d.text.0));
                    let text: String = text.as_deref().unwrap_or("(no text)").chars().take(300).collect();
                    into.first_errors.push(bulk_client::printable(&text).into_owned());
                }
            }
        }
    });
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct Entry {
    request: Lenient<EntryRequest>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct EntryRequest {
    method: LenientText,
}

/// The DELETE entries of a deleted-resources Bundle line, one entry at a time.
fn count_deletions(line: &[u8]) -> u64 {
    let mut deleted = 0;
    elements::each_element(line, "entry", |e: Lenient<Entry>| {
        if e.0.and_then(|e| e.request.0).and_then(|r| r.method.0).as_deref() == Some("DELETE") {
            deleted += 1;
        }
    });
    deleted
}

/// Why a file was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Reading or writing the export folder failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The disk reached the space Haul keeps free: the job stops, the download stays for a resume.
    #[error(transparent)]
    DiskFull(#[from] DiskFull),
    /// Not one line is a resource: a web page, an error text, binary data. The file counts as not downloaded.
    #[error(
        "The file is not NDJSON: none of its {} is a {what} (the first: {first}). Haul kept none of it.",
        crate::wording::count(*.bad, "line")
    )]
    NotNdjson { bad: u64, what: String, first: String },
    /// A gzip body that unpacks past the limit.
    #[error(
        "The file unpacks to more than {} (from {} as sent), past Haul's limit: it is not a real export file. Haul stopped unpacking and kept none of it.",
        crate::wording::bytes(*.limit), crate::wording::bytes(*.packed)
    )]
    UnpacksTooFar { packed: u64, limit: u64 },
    /// A body that starts as gzip and does not unpack (cut short, or damaged): the server's file, not the disk.
    #[error("The file is gzip that does not unpack ({reason}); Haul kept none of it.")]
    BrokenGzip { reason: String },
}

impl VerifyError {
    /// A code for the file's failure (stored with it, and shown to the UI).
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::Io(_) => "disk",
            VerifyError::DiskFull(_) => "disk_full",
            VerifyError::NotNdjson { .. } => "not_ndjson",
            VerifyError::UnpacksTooFar { .. } => "unpacks_too_far",
            VerifyError::BrokenGzip { .. } => "broken_gzip",
        }
    }
}

/// One downloaded file to verify into place.
pub struct VerifyFile<'a> {
    /// The download (`.part`).
    pub part: &'a Path,
    /// Where it is taken while bad lines are removed in place (see [`crate::ExportFolder::compacting`]).
    pub compacting: &'a Path,
    /// The verified file.
    pub target: &'a Path,
    /// Where bad lines go (created only if needed).
    pub quarantine: &'a Path,
    /// The file's name in the export, and where it came from, for quarantine records.
    pub name: &'a str,
    pub url: &'a str,
    pub expect: Expect<'a>,
    pub limits: &'a Limits,
    /// Secrets to take out of what is written from the server's error files and bad lines.
    pub secrets: &'a Secrets,
    pub disk: &'a DiskGuard,
}

/// Verifies a downloaded file and puts the result at `target`: a rename when every line is good and the
/// body was plain; else the bad lines go to quarantine and the good ones stay, in place for a plain body
/// (no second copy on disk), unpacked beside it for a gzip body. `target` appears only complete.
pub fn verify_into(file: &VerifyFile<'_>) -> Result<Verified, VerifyError> {
    let result = rewrite::verify(file);
    if result.is_err() {
        // Nothing half-done stays to look like a result; the download itself stays only for a disk-full stop
        // (to be resumed), not for a file that was refused. A `.compacting` left by such a stop tells the
        // resume to fetch that file again (its lines have moved).
        let _ = std::fs::remove_file(file.target.with_extension("ndjson.tmp"));
        if !matches!(result, Err(VerifyError::DiskFull(_)) | Err(VerifyError::Io(_))) {
            let _ = std::fs::remove_file(file.part);
            let _ = std::fs::remove_file(file.compacting);
            let _ = std::fs::remove_file(file.target);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulk_client::DownloadLimits;
    use serde_json::Value;

    #[test]
    fn gzip_that_does_not_unpack_is_the_servers_fault_and_not_kept() {
        for body in [&[0x1f, 0x8b][..], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5]] {
            let (result, _dir) = attempt(body, Expect::Resource("Patient"), &Limits::default(), &Secrets::default());
            assert!(matches!(result, Err(VerifyError::BrokenGzip { .. })), "{body:?}: {result:?}");
        }
    }

    #[test]
    fn a_file_whose_manifest_entry_names_no_type_takes_any_resource() {
        let body = b"{\"resourceType\":\"Patient\",\"id\":\"a\"}\n{\"resourceType\":\"Observation\"}\n[1]\n";
        let (v, _, q) = run(body, Expect::Resource(""));
        assert_eq!((v.resources, v.bad_lines), (2, 1), "{q}");
    }

    #[test]
    fn outcomes_and_deletions_are_counted_one_element_at_a_time() {
        let issues = vec!["{}"; 100_000].join(",");
        let line = format!(r#"{{"resourceType":"OperationOutcome","issue":[{issues},{{"severity":"warning"}}]}}"#);
        let mut summary = IssueSummary::default();
        summarize_outcome(line.as_bytes(), &mut summary);
        assert_eq!((summary.fatal_or_error, summary.warning), (100_000, 1));
        assert_eq!(summary.first_errors, vec!["(no text)"; 5]);
        let bundle = r#"{"resourceType":"Bundle","entry":[{"request":{"method":"DELETE","url":"Patient/1"}},
            {"request":{"method":"PUT"}},{"fullUrl":"x"},{"request":{"method":"DELETE"}}]}"#;
        assert_eq!(count_deletions(bundle.as_bytes()), 2);
        // Odd issues count as errors, as before: a severity that is no text, details that are text, null.
        let odd = r#"{"resourceType":"OperationOutcome","issue":[{"severity":5,"details":"x"},null,
            {"severity":"error","diagnostics":"kept"},{"severity":"information"}]}"#;
        let mut summary = IssueSummary::default();
        summarize_outcome(odd.as_bytes(), &mut summary);
        assert_eq!((summary.fatal_or_error, summary.information), (3, 1));
        assert_eq!(summary.first_errors, ["(no text)", "(no text)", "kept"]);
    }

    #[test]
    fn a_quarantine_growing_past_the_free_space_haul_keeps_stops_the_file() {
        // One bad line of control bytes: 12 MB received, 72 MB in the quarantine (each byte escaped as \u0001).
        let mut body = b"{\"resourceType\":\"Patient\",\"id\":\"a\"}\n".to_vec();
        body.extend(std::iter::repeat_n(1u8, 12 << 20));
        body.push(b'\n');
        let (result, _dir) =
            attempt_keeping(&body, Expect::Resource("Patient"), &Limits::default(), &Secrets::default(), u64::MAX);
        assert!(matches!(result, Err(VerifyError::DiskFull(_))), "{result:?}");
        // With room, the same file verifies.
        let (result, _dir) =
            attempt_keeping(&body, Expect::Resource("Patient"), &Limits::default(), &Secrets::default(), 0);
        assert_eq!(result.unwrap().bad_lines, 1);
    }

    use std::io::Write;

    fn attempt(
        body: &[u8],
        expect: Expect<'_>,
        limits: &Limits,
        secrets: &Secrets,
    ) -> (Result<Verified, VerifyError>, tempfile::TempDir) {
        attempt_keeping(body, expect, limits, secrets, 0)
    }

    /// [`attempt`] on a disk that must keep `keep` bytes free.
    fn attempt_keeping(
        body: &[u8],
        expect: Expect<'_>,
        limits: &Limits,
        secrets: &Secrets,
        keep: u64,
    ) -> (Result<Verified, VerifyError>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("Patient.000.ndjson.part");
        std::fs::write(&part, body).unwrap();
        let target = dir.path().join("Patient.000.ndjson");
        let quarantine = dir.path().join("quarantine/Patient.000.ndjson");
        let compacting = dir.path().join("Patient.000.ndjson.compacting");
        let disk = DiskGuard::new(dir.path().into(), keep);
        let file = VerifyFile {
            part: &part,
            compacting: &compacting,
            target: &target,
            quarantine: &quarantine,
            name: "Patient.000.ndjson",
            url: "https://x/1",
            expect,
            limits,
            secrets,
            disk: &disk,
        };
        let result = verify_into(&file);
        if !matches!(result, Err(VerifyError::DiskFull(_))) {
            assert!(!part.exists() && !compacting.exists(), "neither the download nor the scratch file stays");
        } else {
            assert!(part.exists() || compacting.exists(), "a disk-full stop leaves what the resume starts from");
        }
        (result, dir)
    }

    fn run(body: &[u8], expect: Expect<'_>) -> (Verified, String, String) {
        let (v, dir) = attempt(body, expect, &Limits::default(), &Secrets::default());
        let v = v.unwrap();
        let q = std::fs::read_to_string(dir.path().join("quarantine/Patient.000.ndjson")).unwrap_or_default();
        (v, std::fs::read_to_string(dir.path().join("Patient.000.ndjson")).unwrap(), q)
    }

    #[test]
    fn good_files_are_renamed_untouched() {
        let body = b"{\"resourceType\":\"Patient\",\"id\":\"a\"}\n{\"resourceType\":\"Patient\",\"id\":\"b\"}\n";
        let (v, text, q) = run(body, Expect::Resource("Patient"));
        assert_eq!((v.resources, v.bad_lines, v.bytes), (2, 0, body.len() as u64));
        assert_eq!(text.as_bytes(), body);
        assert!(q.is_empty());
    }

    #[test]
    fn bad_lines_are_quarantined_with_their_line_numbers() {
        let body = b"{\"resourceType\":\"Patient\",\"id\":\"a\"}\r\n{\"resourceType\":\"Patient\", \n\n[1]\n{\"resourceType\":\"Observation\"}\n{\"id\":\"x\"}\n\xff\xfe\n{\"resourceType\":\"Patient\",\"id\":\"z\"}";
        let (v, text, q) = run(body, Expect::Resource("Patient"));
        assert_eq!((v.resources, v.bad_lines), (2, 5));
        // Lines before the first bad one stay as they were (CRLF and all); the rest move down over the gaps.
        assert_eq!(
            text,
            "{\"resourceType\":\"Patient\",\"id\":\"a\"}\r\n{\"resourceType\":\"Patient\",\"id\":\"z\"}\n"
        );
        let records: Vec<Value> = q.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let lines: Vec<u64> = records.iter().map(|r| r["line"].as_u64().unwrap()).collect();
        assert_eq!(lines, [2, 4, 5, 6, 7]);
        // The line rule's words: the same as in Convert's bad-lines report and on the Files page.
        assert_eq!(records[2]["error"], "resourceType is \"Observation\", expected \"Patient\"");
        assert_eq!(records[3]["error"], "no resourceType");
        assert!(records[4]["error"].as_str().unwrap().contains("UTF-8"));
        assert_eq!(records[0]["file"], "Patient.000.ndjson");
    }

    #[test]
    fn the_streaming_checker_agrees_with_the_full_pass_whatever_the_chunking() {
        let body = b"{\"resourceType\":\"Patient\",\"id\":\"a\"}\r\n{\"resourceType\":\"Patient\", \n\n[1]\n{\"resourceType\":\"Observation\"}\n{\"resourceType\":\"Patient\",\"id\":\"z\"}";
        let (full, _, _) = run(body, Expect::Resource("Patient"));
        for size in [1, 2, 3, 7, 64, body.len()] {
            let mut c = LineChecker::new(Expect::Resource("Patient"), 1 << 20);
            for chunk in body.chunks(size) {
                c.feed(chunk);
            }
            let checked = c.finish();
            assert!(!checked.gzip);
            assert_eq!(
                (checked.verified.resources, checked.verified.bad_lines),
                (full.resources, full.bad_lines),
                "chunks of {size}"
            );
            assert_eq!(checked.verified.bytes, body.len() as u64);
        }
        let mut c = LineChecker::new(Expect::Resource("Patient"), 1 << 20);
        c.feed(&[0x1f]);
        c.feed(&[0x8b, 0]);
        assert!(c.finish().gzip);
    }

    #[test]
    fn long_lines_are_set_aside_by_reference_and_the_checker_agrees() {
        let limits = Limits { max_line_bytes: 100, ..Limits::default() };
        let good = b"{\"resourceType\":\"Patient\",\"id\":\"a\"}\n";
        let mut body = good.to_vec();
        body.extend(std::iter::repeat_n(b'x', 5000));
        body.push(b'\n');
        body.extend_from_slice(good);
        body.extend(std::iter::repeat_n(b'y', 300));
        let (v, dir) = attempt(&body, Expect::Resource("Patient"), &limits, &Secrets::default());
        let v = v.unwrap();
        assert_eq!((v.resources, v.bad_lines), (2, 2));
        let text = std::fs::read(dir.path().join("Patient.000.ndjson")).unwrap();
        assert_eq!(text, [good.as_slice(), good].concat());
        let q = std::fs::read_to_string(dir.path().join("quarantine/Patient.000.ndjson")).unwrap();
        let records: Vec<Value> = q.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(records[0]["offset"], good.len());
        assert_eq!(records[0]["length"], 5000);
        assert_eq!(records[0]["head"].as_str().unwrap().len(), fhir_ndjson::HEAD_BYTES);
        assert_eq!(records[0]["url"], "https://x/1");
        assert!(records[0].get("text").is_none(), "the line itself is not copied");
        assert_eq!(records[1]["length"], 300);
        for size in [1, 7, 64, 4096] {
            // The streaming checker carries short lines only: a longer one hands the file to the full pass.
            let mut c = LineChecker::new(Expect::Resource("Patient"), 100);
            body.chunks(size).for_each(|chunk| c.feed(chunk));
            let checked = c.finish();
            assert!(!checked.complete && !checked.is_clean(), "chunks of {size}");
            assert_eq!(checked.verified.bytes, body.len() as u64);
        }
    }

    #[test]
    fn a_file_without_one_resource_is_refused_not_verified_empty() {
        let page = b"<!DOCTYPE html>\n<html><body>\n<form>Sign in</form>\n</body></html>\n";
        let (result, dir) = attempt(page, Expect::Resource("Patient"), &Limits::default(), &Secrets::default());
        let e = result.unwrap_err();
        assert_eq!(e.code(), "not_ndjson");
        assert!(e.to_string().contains("none of its 4 lines is a Patient"), "{e}");
        assert!(!dir.path().join("Patient.000.ndjson").exists(), "no empty file looks verified");
        assert!(!dir.path().join("quarantine").join("Patient.000.ndjson").exists());
    }

    #[test]
    fn gzip_bombs_stop_at_the_limit() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..8 {
            gz.write_all(&zeros).unwrap();
        }
        let limits = Limits {
            max_line_bytes: 1 << 16,
            download: DownloadLimits {
                max_inflate_ratio: 10,
                inflate_floor_bytes: 1 << 20,
                ..DownloadLimits::default()
            },
            ..Limits::default()
        };
        let (result, dir) = attempt(&gz.finish().unwrap(), Expect::Resource("Patient"), &limits, &Secrets::default());
        let e = result.unwrap_err();
        assert_eq!(e.code(), "unpacks_too_far", "{e}");
        assert!(
            std::fs::read_dir(dir.path()).unwrap().flatten().all(|e| e.file_name() == "quarantine"),
            "nothing kept"
        );
    }

    #[test]
    fn echoed_secrets_leave_error_files_and_quarantine() {
        let secrets = Secrets::default();
        secrets.add("tok-0123456789abcdef0123");
        let body = b"{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\",\"code\":\"processing\",\"diagnostics\":\"Authorization: Bearer tok-0123456789abcdef0123\"}]}\n{\"resourceType\":\"Patient\",\"x\":\"tok-0123456789abcdef0123\"}\n";
        let (v, dir) = attempt(body, Expect::Outcomes, &Limits::default(), &secrets);
        let v = v.unwrap();
        assert_eq!((v.resources, v.bad_lines), (1, 1));
        for entry in walk(dir.path()) {
            let text = std::fs::read_to_string(&entry).unwrap();
            assert!(!text.contains("tok-0123456789abcdef0123"), "{}: {text}", entry.display());
        }
        assert_eq!(v.issues.first_errors, ["Authorization: Bearer [redacted]"]);
    }

    fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.path().is_dir() { out.extend(walk(&e.path())) } else { out.push(e.path()) }
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 500, ..Default::default() })]
        // Whatever bytes a server sends, in whatever chunks: the checker and the full pass agree, nothing
        // panics, and no line over the limit is held.
        #[test]
        fn the_checker_and_the_full_pass_agree_on_any_bytes(
            lines in proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just(b"{\"resourceType\":\"Patient\",\"id\":\"a\"}".to_vec()),
                proptest::strategy::Just(b"{\"resourceType\":\"Patient\",\"id\":\"a\"}\r".to_vec()),
                proptest::strategy::Just(Vec::new()),
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            ], 0..12),
            chunk in 1usize..50,
            max_line in 1usize..120,
        ) {
            let body = lines.join(&b'\n');
            let limits = Limits { max_line_bytes: max_line, ..Limits::default() };
            let (full, _dir) = attempt(&body, Expect::Resource("Patient"), &limits, &Secrets::default());
            let mut c = LineChecker::new(Expect::Resource("Patient"), max_line);
            body.chunks(chunk).for_each(|piece| c.feed(piece));
            let streamed = c.finish();
            if streamed.gzip || !streamed.complete {
                return Ok(());
            }
            match full {
                Ok(v) => proptest::prop_assert_eq!((v.resources, v.bad_lines), (streamed.verified.resources, streamed.verified.bad_lines)),
                Err(VerifyError::NotNdjson { bad, .. }) => {
                    proptest::prop_assert_eq!(streamed.verified.resources, 0);
                    proptest::prop_assert_eq!(bad, streamed.verified.bad_lines);
                }
                Err(e) => proptest::prop_assert!(false, "{e}"),
            }
        }
    }

    #[test]
    fn gzip_bodies_are_unpacked() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"{\"resourceType\":\"Patient\",\"id\":\"a\"}\n").unwrap();
        let (v, text, _) = run(&gz.finish().unwrap(), Expect::Resource("Patient"));
        assert_eq!(v.resources, 1);
        assert_eq!(text, "{\"resourceType\":\"Patient\",\"id\":\"a\"}\n");
    }

    #[test]
    fn outcomes_and_deletions_are_summarized() {
        let oo = br#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":"Claim failed"},{"severity":"warning","code":"informational"}]}"#;
        let (v, _, _) = run(oo, Expect::Outcomes);
        assert_eq!((v.issues.fatal_or_error, v.issues.warning), (1, 1));
        assert_eq!(v.issues.first_errors, ["Claim failed"]);
        let del = br#"{"resourceType":"Bundle","entry":[{"request":{"method":"DELETE","url":"Patient/1"}},{"request":{"method":"DELETE","url":"Patient/2"}}]}"#;
        let (v, _, _) = run(del, Expect::Deletions);
        assert_eq!(v.deletions, 2);
    }
}
