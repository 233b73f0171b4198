//! `haul tables` as a user runs it: built-in and own views, three formats, a summary; an invalid view refused
//! with its reason before anything is written (exit 1, not a usage error); a view that stops gives exit 3.

use std::process::Command;

fn haul(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_haul")).args(args).output().unwrap()
}

fn synthea() -> String {
    let shared = std::env::var_os("HAUL_SHARED_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared"));
    shared.join("data/synthea-r4").display().to_string()
}

#[test]
fn makes_tables_from_built_in_and_own_views() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tables");
    let mine = dir.path().join("genders.json");
    std::fs::write(
        &mine,
        r#"{"resourceType":"ViewDefinition","name":"genders","resource":"Patient","select":[{"column":[{"name":"id","path":"id"},{"name":"gender","path":"gender"}]}]}"#,
    )
    .unwrap();
    let o = haul(&[
        "tables",
        &synthea(),
        "--out",
        out.to_str().unwrap(),
        "--views",
        "condition,patient",
        "--view-file",
        mine.to_str().unwrap(),
        "--format",
        "csv,xlsx,parquet",
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("condition            Condition                     639"), "{stdout}");
    assert!(stdout.contains("genders              Patient                       100"), "{stdout}");
    assert!(stdout.contains("3 of 3 views written"), "{stdout}");
    for f in ["condition.csv", "condition.xlsx", "condition.parquet", "patient.csv", "genders.parquet"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    // --list needs neither an input nor --out.
    let list = haul(&["tables", "--list"]);
    assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
    assert!(String::from_utf8_lossy(&list.stdout).contains("eob_line"));
    // Without --list, --out is asked for by name.
    let missing = haul(&["tables", &synthea()]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--out"), "{}", String::from_utf8_lossy(&missing.stderr));
}

#[test]
fn an_invalid_view_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tables");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"resource":"Patient","select":[{"column":[{"name":"x","path":"name.foo()"}]}]}"#).unwrap();
    let o = haul(&[
        "tables",
        &synthea(),
        "--out",
        out.to_str().unwrap(),
        "--views",
        "patient",
        "--view-file",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("bad.json") && stderr.contains("foo() is not supported"), "{stderr}");
    assert!(!out.exists(), "nothing is written when a view is refused");
    let o = haul(&["tables", &synthea(), "--out", out.to_str().unwrap(), "--views", "patients"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no built-in view 'patients'"));
    let o = haul(&["tables", &synthea(), "--out", out.to_str().unwrap(), "--format", "xls"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("'xls' is not a format"));
}

#[test]
fn a_view_that_stops_gives_exit_3_and_the_others_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tables");
    let many = dir.path().join("given.json");
    // Patients have several given names: not a single-valued column.
    std::fs::write(
        &many,
        r#"{"name":"given","resource":"Patient","select":[{"column":[{"name":"g","path":"name.given"}]}]}"#,
    )
    .unwrap();
    let o = haul(&[
        "tables",
        &synthea(),
        "--out",
        out.to_str().unwrap(),
        "--views",
        "patient",
        "--view-file",
        many.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert_eq!(o.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("given: stopped, no file written or replaced") && stdout.contains("resource "), "{stdout}");
    assert!(out.join("patient.csv").is_file() && !out.join("given.csv").exists());
}

#[test]
fn an_address_as_out_is_refused_and_no_folder_named_after_it_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let input = synthea();
    let cases: [(&str, Vec<&str>); 3] = [
        ("tables", vec!["tables", &input, "--views", "patient"]),
        ("convert", vec!["convert", &input]),
        ("export", vec!["export", "--fhir-url", "http://127.0.0.1:9/fhir"]),
    ];
    for (command, mut args) in cases {
        // Object storage is for exports and Delta tables (object_storage.rs, delta_tables.rs); otherwise refused.
        let address = if command == "export" { "ftp://bucket/prefix" } else { "s3://bucket/prefix" };
        args.extend(["--out", address]);
        let o = Command::new(env!("CARGO_BIN_EXE_haul")).current_dir(dir.path()).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{command}: {err}");
        assert!(err.contains("is an address, not a folder"), "{command}: {err}");
        assert!(!dir.path().join("s3:").exists() && !dir.path().join("ftp:").exists(), "{command} made a folder");
    }
    // `haul vacuum` is checked before anything is opened: another URL, a folder not there, nothing given.
    for (target, said) in [
        ("https://lake.example/tables", "cannot write to https:// addresses"),
        ("missing/tables", "There is no Delta table directly under missing/tables"),
        (" ", "Give the folder or storage address"),
    ] {
        let o =
            Command::new(env!("CARGO_BIN_EXE_haul")).current_dir(dir.path()).args(["vacuum", target]).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{target}: {err}");
        assert!(err.contains(said), "{target}: {err}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "vacuum made nothing");
}
