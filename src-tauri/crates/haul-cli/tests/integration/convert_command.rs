//! `haul convert` as a user runs it: a folder in, tables and a report out, bad input refused in plain words.

use std::process::Command;

fn haul(data: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_haul"));
    c.env("HAUL_DATA_DIR", data);
    c
}

#[test]
fn converts_a_folder_reports_bad_lines_and_remembers_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("export");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(
        input.join("manifest.json"),
        r#"{"transactionTime":"2026-11-01T00:00:00Z","request":"https://ehr.example/fhir/Group/7/$export","output":[]}"#,
    )
    .unwrap();
    std::fs::write(
        input.join("Patient.000.ndjson"),
        "{\"resourceType\":\"Patient\",\"id\":\"a\",\"birthDate\":\"1970\"}\nnot json\n{\"resourceType\":\"Patient\",\"id\":\"b\"}\n",
    )
    .unwrap();
    std::fs::write(
        input.join("Observation.000.ndjson"),
        "{\"resourceType\":\"Observation\",\"id\":\"o\",\"valueQuantity\":{\"value\":1.25}}\n",
    )
    .unwrap();
    let out = dir.path().join("tables");
    let run = haul(&dir.path().join("data")).arg("convert").arg(&input).arg("--out").arg(&out).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(3), "{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("Converted 3 resources of 2 types"), "{stdout}");
    assert!(stdout.contains("1 bad line was left out"), "{stdout}");
    assert!(stdout.contains("Patient.000.ndjson:2: not valid JSON"), "{stdout}");
    assert!(out.join("Patient.parquet").exists() && out.join("Observation.parquet").exists());

    // The second conversion of the same server starts from the remembered schema.
    let run = haul(&dir.path().join("data"))
        .args(["convert", "--json", "--types", "Observation", "--out"])
        .arg(dir.path().join("again"))
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["types"].as_array().unwrap().len(), 1);
    assert_eq!(report["types"][0]["schemaRecalled"], true);
}

#[test]
fn bad_input_gets_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let run = haul(dir.path()).arg("convert").arg(&empty).arg("--out").arg(dir.path().join("o")).output().unwrap();
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("There are no NDJSON files"));

    std::fs::write(empty.join("Patient.ndjson"), "{\"resourceType\":\"Patient\"}\n").unwrap();
    let run = haul(dir.path())
        .args(["convert", "--types", "Observation", "--out"])
        .arg(dir.path().join("o"))
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("No files of type Observation here; the types present are: Patient."), "{err}");
}
