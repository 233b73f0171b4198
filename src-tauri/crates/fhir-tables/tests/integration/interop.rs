//! Interop: DuckDB and pyarrow (from PyPI; `tests/run.sh` installs them in `.venv`) read Haul's tables,
//! and what they read matches the NDJSON it came from.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("HAUL_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../.venv/bin/python");
    assert!(
        venv.exists(),
        "DuckDB and pyarrow are needed: run `bash tests/run.sh` once (it makes .venv), or set HAUL_PYTHON \
         to a Python that has duckdb and pyarrow"
    );
    venv
}

fn trim_decimal(s: &str) -> String {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s.to_string() }
}

#[test]
fn duckdb_and_pyarrow_read_the_tables_and_agree_with_the_input() {
    let input = common::shared_dir();
    let out = tempfile::tempdir().unwrap();
    let report = common::run(&input, out.path());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/read_parquet.py");
    let run = Command::new(python()).arg(&script).arg(out.path()).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let read: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();

    assert_eq!(read["duckdb"].as_object().unwrap().len(), report.types.len());
    for t in &report.types {
        let lines = common::input_lines(&input.join(format!("{}.ndjson.gz", t.resource_type)));
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        for tool in ["duckdb", "pyarrow"] {
            let got = &read[tool][&t.resource_type];
            assert_eq!(got["rows"], lines.len(), "{tool} {}", t.resource_type);
            assert_eq!(got["first_id"], first["id"], "{tool} {}", t.resource_type);
        }
    }

    let observations = common::input_lines(&input.join("Observation.ndjson.gz"));
    let with_value: serde_json::Value = observations
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|o| o.get("valueQuantity").is_some())
        .unwrap();
    // The value's text as written in the input, not through a float.
    let raw_line = observations.iter().find(|l| l.contains(with_value["id"].as_str().unwrap())).unwrap();
    let at = raw_line.find("\"valueQuantity\":{\"value\":").unwrap() + "\"valueQuantity\":{\"value\":".len();
    let raw_value: String =
        raw_line[at..].chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-').collect();

    let d = &read["duckdb_observation"];
    assert_eq!(d["id"], with_value["id"]);
    assert_eq!(trim_decimal(d["value"].as_str().unwrap()), trim_decimal(&raw_value));
    assert_eq!(d["unit"], with_value["valueQuantity"]["unit"]);
    assert_eq!(d["code"], with_value["code"]["coding"][0]["code"]);
    let issued = fhir_tables::columns::parse_instant(with_value["issued"].as_str().unwrap()).unwrap() / 1000;
    assert_eq!(d["issued_utc"].as_i64().unwrap(), issued);
    let p = &read["pyarrow_observation"];
    assert_eq!(p["id"], with_value["id"]);
    assert_eq!(trim_decimal(p["value"].as_str().unwrap()), trim_decimal(&raw_value));
}
