//! Issue 13: one rule for one NDJSON line. The same file, holding every kind of bad line, goes through export
//! verification (`verify_into`, and the streaming `LineChecker`), conversion (`fhir_tables::convert`, its
//! bad-lines file) and the Files page (`ndjson_preview`: each row's problem, a check of the whole type, the
//! charts' count). All of them must call the same lines bad, for the same reason, plain or gzipped.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use export_jobs::verify::{Expect, LineChecker, verify_into};
use ndjson_preview::{PreviewFolder, PreviewOptions};

/// (line text, why it is bad: None for a good or blank line). Line numbers are positions here, from 1.
fn lines() -> Vec<(Vec<u8>, Option<&'static str>)> {
    let deep =
        format!(r#"{{"resourceType":"Patient","id":"p11","extension":{}1{}}}"#, "[".repeat(300), "]".repeat(300));
    vec![
        (br#"{"resourceType":"Patient","id":"p1","name":[{"given":["Ann"]}]}"#.to_vec(), None),
        (b"{\"resourceType\":\"Patient\",\"id\":\"\xff\"}".to_vec(), Some("not valid UTF-8 (at byte 32)")),
        (
            br#"{"resourceType":"Patient","id":"#.to_vec(),
            Some("not valid JSON: the line ended where a value was expected at column 32"),
        ),
        (br#"[{"resourceType":"Patient","id":"p4"}]"#.to_vec(), Some("not a JSON object")),
        (b"".to_vec(), None),
        (br#"{"id":"p6"}"#.to_vec(), Some("no resourceType")),
        (
            br#"{"resourceType":"Observation","id":"o7"}"#.to_vec(),
            Some(r#"resourceType is "Observation", expected "Patient""#),
        ),
        (br#"{"resourceType":"Patient","id":"a","id":"b"}"#.to_vec(), Some(r#"the key "id" appears twice"#)),
        (
            br#"{"resourceType":"Patient","id":"p9","name":[{"given":["A"],"given":["B"]}]}"#.to_vec(),
            Some(r#"the key "given" appears twice"#),
        ),
        (
            br#"{"resourceType":"Patient","id":"p10","name":[{"text":"\ud83d"}]}"#.to_vec(),
            Some(r"not valid JSON: a lone surrogate in a \u escape at column 55"),
        ),
        (deep.into_bytes(), Some("not valid JSON: nested too deeply at column 305")),
        (b"{\"resourceType\":\"Patient\",\"id\":\"p12\"}\r".to_vec(), None),
        (b" \t\r".to_vec(), None),
        (
            b"{\"resourceType\":\"Patient\",\"id\":\"p14\x01\"}".to_vec(),
            Some("not valid JSON: a control character in a string at column 36"),
        ),
        // A string here, an object below: Convert keeps `x` as JSON text, and still finds the key given twice.
        (br#"{"resourceType":"Patient","id":"p15","x":"s"}"#.to_vec(), None),
        (br#"{"resourceType":"Patient","id":"p16","x":{"k":1,"k":2}}"#.to_vec(), Some(r#"the key "k" appears twice"#)),
        (br#"{"resourceType":1,"id":"p17"}"#.to_vec(), Some(r#"resourceType is not a string, expected "Patient""#)),
        (br#"{"resourceType":"Patient","id":"a","\u0069d":"b"}"#.to_vec(), Some(r#"the key "id" appears twice"#)),
        (br#"{"resourceType":"Pat\u0069ent","id":"p19"}"#.to_vec(), None),
        // The last line has no newline.
        (br#"{"resourceType":"Patient","id":"p20"}"#.to_vec(), None),
    ]
}

fn file_text() -> Vec<u8> {
    let lines = lines();
    let mut text = Vec::new();
    for (i, (line, _)) in lines.iter().enumerate() {
        text.extend_from_slice(line);
        if i + 1 < lines.len() {
            text.push(b'\n');
        }
    }
    text
}

fn expected() -> Vec<(u64, String)> {
    lines().iter().enumerate().filter_map(|(i, (_, why))| why.map(|w| (i as u64 + 1, w.to_string()))).collect()
}

const GOOD: u64 = 5;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// Export verification: the quarantine file's (line, error).
fn verification(dir: &Path, body: &[u8]) -> Vec<(u64, String)> {
    let part = dir.join("export/Patient.000.ndjson.part");
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::write(&part, body).unwrap();
    let target = dir.join("export/Patient.000.ndjson");
    let quarantine = dir.join("export/quarantine/Patient.000.ndjson");
    let compacting = dir.join("export/Patient.000.ndjson.compacting");
    let (limits, secrets) = (export_jobs::Limits::default(), bulk_client::Secrets::default());
    let disk = export_jobs::limits::DiskGuard::new(dir.to_path_buf(), 0);
    let v = verify_into(&export_jobs::verify::VerifyFile {
        part: &part,
        compacting: &compacting,
        target: &target,
        quarantine: &quarantine,
        name: "Patient.000.ndjson",
        url: "https://x/1",
        expect: Expect::Resource("Patient"),
        limits: &limits,
        secrets: &secrets,
        disk: &disk,
    })
    .unwrap();
    assert_eq!((v.resources, v.bad_lines), (GOOD, expected().len() as u64));
    let kept = std::fs::read_to_string(&target).unwrap();
    assert_eq!(kept.lines().count() as u64, GOOD, "only the good lines are kept: {kept}");
    std::fs::read_to_string(&quarantine)
        .unwrap()
        .lines()
        .map(|l| {
            let r: serde_json::Value = serde_json::from_str(l).unwrap();
            (r["line"].as_u64().unwrap(), r["error"].as_str().unwrap().to_string())
        })
        .collect()
}

/// Conversion: the bad-lines file's (line, problem).
fn conversion(folder: &Path, out: &Path) -> Vec<(u64, String)> {
    let inputs = fhir_tables::find_inputs(&[folder.to_path_buf()]).unwrap();
    assert_eq!(inputs.len(), 1);
    let options = fhir_tables::ConvertOptions { threads: 2, memory_limit: 64 << 20, ..Default::default() };
    let report =
        fhir_tables::convert(&inputs, out, &options, &fhir_tables::Forgetful, &|_| {}, &AtomicBool::new(false))
            .unwrap();
    let t = &report.types[0];
    assert_eq!((t.rows, t.bad_lines, t.blank_lines), (GOOD, expected().len() as u64, 2));
    std::fs::read_to_string(report.bad_lines_file.unwrap())
        .unwrap()
        .lines()
        .map(|l| {
            let b: fhir_tables::BadLine = serde_json::from_str(l).unwrap();
            (b.line, b.problem)
        })
        .collect()
}

/// The Files page: each row's problem (blank rows aside), and the same from a check of the whole type.
fn preview(folder: &Path, cache: &Path) -> Vec<(u64, String)> {
    let no_cancel = AtomicBool::new(false);
    let preview = PreviewFolder::open(folder, PreviewOptions::new(cache.to_path_buf())).unwrap();
    preview.index_type("Patient", &|_| {}, &no_cancel).unwrap();
    let page = preview.page("Patient", 0, 100).unwrap();
    assert_eq!(page.rows.len(), lines().len());
    let blank: Vec<u64> =
        page.rows.iter().filter(|r| r.problem.as_deref() == Some("Blank line")).map(|r| r.line).collect();
    assert_eq!(blank, [5, 13]);
    let from_rows: Vec<(u64, String)> =
        page.rows.iter().filter_map(|r| r.problem.clone().filter(|p| p != "Blank line").map(|p| (r.line, p))).collect();
    let mut from_check = Vec::new();
    let counts =
        preview.check_type("Patient", &mut |b| from_check.push((b.line, b.problem.to_string())), &no_cancel).unwrap();
    // A row that is not a JSON object shows no columns, so its problem goes on with what the line holds.
    assert_eq!(from_rows.len(), from_check.len());
    for ((row_line, row_problem), (line, problem)) in from_rows.iter().zip(&from_check) {
        assert_eq!(row_line, line);
        assert!(row_problem.starts_with(problem.as_str()), "line {line}: {row_problem:?} vs {problem:?}");
    }
    assert_eq!((counts.resources, counts.bad, counts.blank), (GOOD, expected().len() as u64, 2));
    let charts = preview.charts(&|_, _| {}, &no_cancel).unwrap();
    assert_eq!((charts.per_type[0].count, charts.invalid_lines), (GOOD, expected().len() as u64));
    assert_eq!(preview.overview().types[0].count, Some(lines().len() as u64 - 2), "lines less the blank ones");
    from_check
}

#[test]
fn verification_conversion_and_preview_call_the_same_lines_bad_for_the_same_reason() {
    let text = file_text();
    for (name, body) in [("Patient.000.ndjson", text.clone()), ("Patient.000.ndjson.gz", gzip(&text))] {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("input");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join(name), &body).unwrap();

        let verified = verification(dir.path(), &body);
        let converted = conversion(&folder, &dir.path().join("tables"));
        let previewed = preview(&folder, &dir.path().join("cache"));
        assert_eq!(verified, expected(), "{name}: export verification");
        assert_eq!(converted, expected(), "{name}: conversion");
        assert_eq!(previewed, expected(), "{name}: preview");
    }
}

#[test]
fn the_streaming_checker_counts_the_same_lines_whatever_the_chunks() {
    let text = file_text();
    for size in [1, 7, 64, 4096, text.len()] {
        let mut checker = LineChecker::new(Expect::Resource("Patient"), 1 << 20);
        for chunk in text.chunks(size) {
            checker.feed(chunk);
        }
        let checked = checker.finish();
        assert!(!checked.gzip);
        assert_eq!((checked.verified.resources, checked.verified.bad_lines), (GOOD, expected().len() as u64));
    }
    let mut checker = LineChecker::new(Expect::Resource("Patient"), 1 << 20);
    checker.feed(&gzip(&text));
    assert!(checker.finish().gzip, "a gzip body is told by the same magic bytes");
}
