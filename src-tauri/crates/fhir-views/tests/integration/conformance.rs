//! The official SQL-on-FHIR v2 test suite (`shared/conformance/sql-on-fhir-v2`, or `HAUL_SOF_SUITE`): every
//! test of every file, passes printed per file. Rows are compared as a multiset (the suite does not fix row
//! order), numbers by value.

use std::path::PathBuf;

use fhir_views::{View, rows_as_json};
use serde_json::Value;

fn suite_dir() -> PathBuf {
    if let Ok(d) = std::env::var("HAUL_SOF_SUITE") {
        return PathBuf::from(d);
    }
    crate::common::shared_root().join("conformance/sql-on-fhir-v2")
}

/// A value in a form that compares numbers by value.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Number(n) => Value::String(format!("#{}", n.as_f64().unwrap_or(f64::NAN))),
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), canonical(v))).collect()),
        other => other.clone(),
    }
}

fn run(test: &Value, resources: &[Value]) -> Result<(), String> {
    let view = View::from_json(&test["view"], "test");
    let expect_error = test.get("expectError").and_then(Value::as_bool).unwrap_or(false);
    let view = match (view, expect_error) {
        (Err(_), true) => return Ok(()),
        (Err(e), false) => return Err(format!("refused: {e}")),
        (Ok(v), _) => v,
    };
    let mut rows = Vec::new();
    for r in resources {
        match rows_as_json(&view, r.to_string().as_bytes()) {
            Ok(mut more) => rows.append(&mut more),
            Err(_) if expect_error => return Ok(()),
            Err(e) => return Err(format!("error on {}: {e}", r["id"])),
        }
    }
    if expect_error {
        return Err("expected an error, got rows".into());
    }
    // Column order is part of the result: compare it where the test gives columns.
    if let Some(cols) = test.get("expectColumns").and_then(Value::as_array) {
        let names: Vec<&str> = view.columns.iter().map(|c| c.name.as_str()).collect();
        let want: Vec<&str> = cols.iter().filter_map(Value::as_str).collect();
        if names != want {
            return Err(format!("columns {names:?}, expected {want:?}"));
        }
    }
    let mut got: Vec<String> = rows.iter().map(|r| canonical(&Value::Object(r.clone())).to_string()).collect();
    let mut want: Vec<String> =
        test["expect"].as_array().ok_or("no expect")?.iter().map(|r| canonical(r).to_string()).collect();
    got.sort();
    want.sort();
    if got != want { Err(format!("rows differ:\n  got  {got:?}\n  want {want:?}")) } else { Ok(()) }
}

#[test]
fn sql_on_fhir_v2_suite() {
    let dir = suite_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the suite at {}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && !p.ends_with("tests.schema.json"))
        .collect();
    files.sort();
    let (mut passed, mut total) = (0, 0);
    let mut failures = Vec::new();
    for f in &files {
        let suite: Value = serde_json::from_slice(&std::fs::read(f).expect("read")).expect("json");
        let resources = suite["resources"].as_array().cloned().unwrap_or_default();
        let (mut p, mut n) = (0, 0);
        for test in suite["tests"].as_array().expect("tests") {
            n += 1;
            match run(test, &resources) {
                Ok(()) => p += 1,
                Err(why) => failures.push(format!(
                    "{} / {}: {why}",
                    f.file_name().unwrap().to_string_lossy(),
                    test["title"].as_str().unwrap_or("?")
                )),
            }
        }
        println!("{:<28} {p:>3}/{n}", f.file_name().unwrap().to_string_lossy());
        passed += p;
        total += n;
    }
    println!("{:<28} {passed:>3}/{total}", "TOTAL");
    for f in &failures {
        println!("FAILED {f}");
    }
    assert_eq!(total, 134, "the shared suite has 134 tests");
    assert!(failures.is_empty(), "{} of {total} failed", failures.len());
}
