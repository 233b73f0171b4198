//! Checking a downloaded file line by line before it joins the export: each line a resource of the
//! announced type, by the one line rule that Convert and the Files page apply too (`fhir_ndjson::check_line`:
//! UTF-8, strict JSON, an object, no duplicate key, the right `resourceType`). Bad lines leave the file for a
//! quarantine side file, with where they came from and the rule's reason. Gzip bodies (servers that serve
//! `.ndjson.gz` without `Content-Encoding`) are unpacked here.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use fhir_ndjson::{LineProblem, LineReader, check_line, is_blank, is_gzip_magic, line_content};
use serde_json::Value;

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

/// Opens a file decoded (gzip by its magic bytes, as everywhere in Haul); whether it was gzip.
fn open_decoded(path: &Path) -> io::Result<(Box<dyn BufRead>, bool)> {
    let decoded = fhir_ndjson::open(path)?;
    let gzip = decoded.is_gzip();
    Ok((Box::new(BufReader::with_capacity(1 << 20, decoded)), gzip))
}

/// Why a line is not acceptable, by the line rule.
fn check(line: &[u8], expect: Expect<'_>) -> Result<(), LineProblem> {
    check_line(line, expect.resource_type())
}

fn summarize_outcome(line: &[u8], into: &mut IssueSummary) {
    let Ok(v) = serde_json::from_slice::<Value>(line) else { return };
    for issue in v.get("issue").and_then(Value::as_array).into_iter().flatten() {
        match issue.get("severity").and_then(Value::as_str).unwrap_or("error") {
            "warning" => into.warning += 1,
            "information" => into.information += 1,
            _ => {
                into.fatal_or_error += 1;
                if into.first_errors.len() < 5 {
                    let text = issue
                        .get("diagnostics")
                        .and_then(Value::as_str)
                        .or_else(|| issue.pointer("/details/text").and_then(Value::as_str))
                        .unwrap_or("(no text)");
                    into.first_errors.push(text.chars().take(300).collect());
                }
            }
        }
    }
}

fn count_deletions(line: &[u8]) -> u64 {
    let Ok(v) = serde_json::from_slice::<Value>(line) else { return 0 };
    v.get("entry")
        .and_then(Value::as_array)
        .map(|e| e.iter().filter(|x| x.pointer("/request/method").and_then(Value::as_str) == Some("DELETE")).count())
        .unwrap_or(0) as u64
}

/// The checks of [`verify_into`] on bytes as they arrive (the download's own chunks), so a file that is all
/// good needs no second read. Bad lines are only counted here; a file with any is verified again with
/// [`verify_into`], which sets them aside.
pub struct LineChecker {
    expect: OwnedExpect,
    carry: Vec<u8>,
    head: Vec<u8>,
    pub checked: Verified,
}

enum OwnedExpect {
    Resource(String),
    Outcomes,
    Deletions,
}

/// What a [`LineChecker`] found, once the file is complete.
pub struct Checked {
    pub verified: Verified,
    /// The body began with the gzip magic: it needs unpacking, so [`verify_into`] must run.
    pub gzip: bool,
}

impl LineChecker {
    pub fn new(expect: Expect<'_>) -> Self {
        let expect = match expect {
            Expect::Resource(t) => OwnedExpect::Resource(t.to_string()),
            Expect::Outcomes => OwnedExpect::Outcomes,
            Expect::Deletions => OwnedExpect::Deletions,
        };
        Self { expect, carry: Vec::new(), head: Vec::with_capacity(2), checked: Verified::default() }
    }

    pub fn feed(&mut self, mut chunk: &[u8]) {
        if self.head.len() < 2 {
            let n = (2 - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..n]);
        }
        self.checked.bytes += chunk.len() as u64;
        while let Some(pos) = memchr::memchr(b'\n', chunk) {
            if self.carry.is_empty() {
                self.line(&chunk[..pos]);
            } else {
                let mut line = std::mem::take(&mut self.carry);
                line.extend_from_slice(&chunk[..pos]);
                self.line(&line);
                // Keep the allocation for the next split line.
                line.clear();
                self.carry = line;
            }
            chunk = &chunk[pos + 1..];
        }
        self.carry.extend_from_slice(chunk);
    }

    fn line(&mut self, line: &[u8]) {
        let line = line_content(line);
        if is_blank(line) {
            return;
        }
        let checked = &mut self.checked;
        let expect = match &self.expect {
            OwnedExpect::Resource(t) => Expect::Resource(t),
            OwnedExpect::Outcomes => Expect::Outcomes,
            OwnedExpect::Deletions => Expect::Deletions,
        };
        match check(line, expect) {
            Err(_) => checked.bad_lines += 1,
            Ok(()) => {
                checked.resources += 1;
                match expect {
                    Expect::Outcomes => summarize_outcome(line, &mut checked.issues),
                    Expect::Deletions => checked.deletions += count_deletions(line),
                    Expect::Resource(_) => {}
                }
            }
        }
    }

    pub fn finish(mut self) -> Checked {
        let rest = std::mem::take(&mut self.carry);
        self.line(&rest);
        Checked { gzip: is_gzip_magic(&self.head), verified: self.checked }
    }
}

/// Lines of a reader, without their `\n` / `\r\n`, numbered from 1; blank lines skipped (allowed in NDJSON
/// practice, not resources).
fn for_each_line(reader: impl BufRead, mut f: impl FnMut(u64, &[u8]) -> io::Result<()>) -> io::Result<()> {
    let mut lines = LineReader::new(reader);
    while let Some((number, line)) = lines.next_line()? {
        if !is_blank(line) {
            f(number, line)?;
        }
    }
    Ok(())
}

/// Verifies `part` and puts the result at `target`: a rename when every line is good and the body was
/// plain, else a rewrite with only the good lines. Bad lines go to `quarantine` (created only if needed) as
/// `{"file", "line", "error", "text"}` objects. `target` appears only complete (written beside, then renamed).
pub fn verify_into(
    part: &Path,
    target: &Path,
    quarantine: &Path,
    display_name: &str,
    expect: Expect<'_>,
) -> io::Result<Verified> {
    let mut out = Verified::default();
    let mut bad: Vec<(u64, String)> = Vec::new();
    let (reader, gzip) = open_decoded(part)?;
    let mut quarantine_file: Option<BufWriter<File>> = None;
    for_each_line(reader, |number, line| {
        match check(line, expect) {
            Ok(()) => {
                out.resources += 1;
                match expect {
                    Expect::Outcomes => summarize_outcome(line, &mut out.issues),
                    Expect::Deletions => out.deletions += count_deletions(line),
                    Expect::Resource(_) => {}
                }
            }
            Err(problem) => {
                let why = problem.to_string();
                out.bad_lines += 1;
                bad.push((number, why.clone()));
                let w = match &mut quarantine_file {
                    Some(w) => w,
                    None => {
                        if let Some(dir) = quarantine.parent() {
                            std::fs::create_dir_all(dir)?;
                        }
                        quarantine_file.insert(BufWriter::new(File::create(quarantine)?))
                    }
                };
                let text = String::from_utf8_lossy(line);
                let record = serde_json::json!({"file": display_name, "line": number, "error": why, "text": text});
                serde_json::to_writer(&mut *w, &record)?;
                w.write_all(b"\n")?;
            }
        }
        Ok(())
    })?;
    if let Some(mut w) = quarantine_file {
        w.flush()?;
        w.get_ref().sync_all()?;
    }
    let tmp = target.with_extension("ndjson.tmp");
    if out.bad_lines == 0 && !gzip {
        std::fs::rename(part, target)?;
    } else {
        // Second pass: keep the good lines only (the bad ones are in quarantine), decoded.
        let (reader, _) = open_decoded(part)?;
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        let mut next_bad = bad.iter().map(|(n, _)| *n).peekable();
        for_each_line(reader, |number, line| {
            if next_bad.peek() == Some(&number) {
                next_bad.next();
                return Ok(());
            }
            w.write_all(line)?;
            w.write_all(b"\n")
        })?;
        w.flush()?;
        w.get_ref().sync_all()?;
        drop(w);
        std::fs::rename(&tmp, target)?;
        std::fs::remove_file(part)?;
    }
    out.bytes = std::fs::metadata(target)?.len();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(body: &[u8], expect: Expect<'_>) -> (Verified, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("Patient.000.ndjson.part");
        std::fs::write(&part, body).unwrap();
        let target = dir.path().join("Patient.000.ndjson");
        let quarantine = dir.path().join("quarantine/Patient.000.ndjson");
        let v = verify_into(&part, &target, &quarantine, "Patient.000.ndjson", expect).unwrap();
        assert!(!part.exists(), "the part file is gone once verified");
        let q = std::fs::read_to_string(&quarantine).unwrap_or_default();
        (v, std::fs::read_to_string(&target).unwrap(), q)
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
        assert_eq!(text, "{\"resourceType\":\"Patient\",\"id\":\"a\"}\n{\"resourceType\":\"Patient\",\"id\":\"z\"}\n");
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
            let mut c = LineChecker::new(Expect::Resource("Patient"));
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
        let mut c = LineChecker::new(Expect::Resource("Patient"));
        c.feed(&[0x1f]);
        c.feed(&[0x8b, 0]);
        assert!(c.finish().gzip);
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
