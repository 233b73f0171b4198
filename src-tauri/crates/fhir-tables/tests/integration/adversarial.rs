//! Inputs that break samplers and in-memory readers.

use crate::common;

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use arrow::datatypes::DataType;
use fhir_tables::{ConvertError, ConvertOptions, Forgetful, MemoryError, SchemaMemory, Shape, convert, find_inputs};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn schema_of(path: &std::path::Path) -> arrow::datatypes::SchemaRef {
    let f = std::fs::File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(f).unwrap().schema().clone()
}

fn write_lines(path: &std::path::Path, lines: impl Iterator<Item = String>) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for l in lines {
        f.write_all(l.as_bytes()).unwrap();
        f.write_all(b"\n").unwrap();
    }
}

#[test]
fn a_key_first_seen_after_row_100000_is_a_column() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    write_lines(
        &input.join("Patient.ndjson"),
        (0..100_050).map(|i| {
            if i == 100_010 {
                format!(r#"{{"resourceType":"Patient","id":"p{i}","late":{{"note":"here"}}}}"#)
            } else {
                format!(r#"{{"resourceType":"Patient","id":"p{i}"}}"#)
            }
        }),
    );
    let report = common::run(&input, &dir.path().join("out"));
    let t = &report.types[0];
    assert_eq!(t.rows, 100_050);
    let table = dir.path().join("out/Patient.parquet");
    assert!(matches!(schema_of(&table).field_with_name("late").unwrap().data_type(), DataType::Struct(_)));
    let rows = common::rows(&table);
    assert_eq!(rows[100_010], r#"{"resourceType":"Patient","id":"p100010","late":{"note":"here"}}"#);
    assert_eq!(rows[100_011], r#"{"resourceType":"Patient","id":"p100011"}"#);
}

#[test]
fn a_field_that_is_a_string_here_and_an_object_there_is_json_text_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let lines = [
        r#"{"resourceType":"Observation","id":"1","valueX":"text","n":1}"#,
        r#"{"resourceType":"Observation","id":"2","valueX":{"value":1.50,"unit":"mg"},"n":2.25}"#,
        r#"{"resourceType":"Observation","id":"3","valueX":[true,null]}"#,
    ];
    write_lines(&input.join("Observation.000.ndjson"), lines.iter().map(|s| s.to_string()));
    let report = common::run(&input, &dir.path().join("out"));
    let t = &report.types[0];
    assert_eq!(t.json_columns.len(), 1);
    assert_eq!(t.json_columns[0].path, "valueX");
    assert_eq!(t.json_columns[0].kinds, ["string", "object", "array"]);
    let table = dir.path().join("out/Observation.parquet");
    let schema = schema_of(&table);
    assert_eq!(schema.field_with_name("valueX").unwrap().data_type(), &DataType::Utf8);
    assert_eq!(schema.field_with_name("n").unwrap().data_type(), &DataType::Decimal128(38, 2));
    let rows = common::rows(&table);
    assert_eq!(rows[0], r#"{"resourceType":"Observation","id":"1","valueX":"text","n":1.00}"#);
    assert_eq!(rows[1], r#"{"resourceType":"Observation","id":"2","valueX":{"value":1.50,"unit":"mg"},"n":2.25}"#);
    assert_eq!(rows[2], r#"{"resourceType":"Observation","id":"3","valueX":[true,null]}"#);
}

#[test]
fn a_field_null_for_the_first_50000_rows_still_gets_its_type() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    write_lines(
        &input.join("Patient.ndjson"),
        (0..50_010).map(|i| {
            let v = if i < 50_000 { "null".to_string() } else { (i % 2 == 0).to_string() };
            format!(r#"{{"resourceType":"Patient","id":"p{i}","deceasedBoolean":{v}}}"#)
        }),
    );
    let report = common::run(&input, &dir.path().join("out"));
    assert_eq!(report.types[0].null_properties, 50_000);
    let table = dir.path().join("out/Patient.parquet");
    assert_eq!(schema_of(&table).field_with_name("deceasedBoolean").unwrap().data_type(), &DataType::Boolean);
    let rows = common::rows(&table);
    assert_eq!(rows[0], r#"{"resourceType":"Patient","id":"p0"}"#);
    assert_eq!(rows[50_001], r#"{"resourceType":"Patient","id":"p50001","deceasedBoolean":false}"#);
}

#[test]
fn a_20_mb_resource_converts_within_the_memory_settings() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let data: String = (0..20 << 20).map(|i| (b'A' + (i % 26) as u8) as char).collect();
    let big = format!(
        r#"{{"resourceType":"DocumentReference","id":"big","content":[{{"attachment":{{"contentType":"application/pdf","data":"{data}"}}}}]}}"#
    );
    let small = r#"{"resourceType":"DocumentReference","id":"small"}"#.to_string();
    write_lines(&input.join("DocumentReference.ndjson"), [small.clone(), big.clone(), small].into_iter());
    let report = common::run(&input, &dir.path().join("out"));
    assert_eq!(report.types[0].rows, 3);
    let rows = common::rows(&dir.path().join("out/DocumentReference.parquet"));
    assert_eq!(rows[1], big);
}

#[test]
fn empty_files_and_a_file_of_only_bad_lines_are_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("Patient.ndjson"), "").unwrap();
    std::fs::write(input.join("Condition.ndjson"), "\n\n").unwrap();
    let mut bad =
        b"not json\n{\"resourceType\":\"Patient\",\"id\":\"x\"}\n{\"resourceType\":\"Encounter\",\"id\":\"\xff\"}\n"
            .to_vec();
    bad.extend_from_slice(b"{\"resourceType\":\"Encounter\",\"id\":\"a\",\"id\":\"b\"}\n");
    std::fs::write(input.join("Encounter.ndjson"), bad).unwrap();
    let report = common::run(&input, &dir.path().join("out"));
    assert_eq!(report.types.len(), 3);
    for t in &report.types {
        assert_eq!(t.rows, 0);
        assert!(t.output_file.is_none());
    }
    let enc = report.types.iter().find(|t| t.resource_type == "Encounter").unwrap();
    assert_eq!(enc.bad_lines, 4);
    assert_eq!(report.types.iter().find(|t| t.resource_type == "Condition").unwrap().blank_lines, 2);
    assert_eq!(report.bad_lines, 4);
    let problems: Vec<(u64, &str)> = report.bad_line_examples.iter().map(|b| (b.line, b.problem.as_str())).collect();
    assert_eq!(problems[1], (2, "resourceType is \"Patient\", expected \"Encounter\""));
    assert!(problems[0].1.starts_with("not valid JSON"), "{problems:?}");
    assert!(problems[2].1.starts_with("not valid UTF-8"), "{problems:?}");
    assert_eq!(problems[3], (4, "the key \"id\" appears twice"));
    assert!(report.bad_line_examples[0].file.ends_with("Encounter.ndjson"));
    let file = std::fs::read_to_string(report.bad_lines_file.unwrap()).unwrap();
    assert_eq!(file.lines().count(), 4);
    assert!(!dir.path().join("out/Encounter.parquet").exists());
}

#[test]
fn bad_lines_among_good_ones_are_left_out_and_their_keys_do_not_become_columns() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 0..1000 {
        writeln!(gz, r#"{{"resourceType":"Procedure","id":"{i}"}}"#).unwrap();
        if i == 500 {
            writeln!(gz, r#"{{"resourceType":"Procedure","id":"bad","onlyInBadLine":1,"#).unwrap();
        }
    }
    std::fs::write(input.join("Procedure.ndjson.gz"), gz.finish().unwrap()).unwrap();
    let report = common::run(&input, &dir.path().join("out"));
    let t = &report.types[0];
    assert_eq!((t.rows, t.bad_lines), (1000, 1));
    assert_eq!(report.bad_line_examples[0].line, 502);
    let schema = schema_of(&dir.path().join("out/Procedure.parquet"));
    assert!(schema.field_with_name("onlyInBadLine").is_err());
}

/// Schemas remembered in memory, as the app does in SQLite.
#[derive(Default)]
struct Remembered(Mutex<std::collections::HashMap<String, Shape>>);

impl SchemaMemory for Remembered {
    fn recall(&self, t: &str) -> Result<Option<Shape>, MemoryError> {
        Ok(self.0.lock().unwrap().get(t).cloned())
    }
    fn remember(&self, t: &str, shape: &Shape) -> Result<(), MemoryError> {
        self.0.lock().unwrap().insert(t.to_string(), shape.clone());
        Ok(())
    }
}

#[test]
fn a_remembered_schema_only_widens_so_months_append() {
    let dir = tempfile::tempdir().unwrap();
    let memory = Remembered::default();
    let month1 = dir.path().join("m1");
    std::fs::create_dir(&month1).unwrap();
    std::fs::write(
        month1.join("Observation.ndjson"),
        "{\"resourceType\":\"Observation\",\"id\":\"a\",\"valueInteger\":3,\"status\":\"final\"}\n",
    )
    .unwrap();
    let r1 = common::run_with(&month1, &dir.path().join("o1"), &memory);
    assert!(!r1.types[0].schema_recalled);

    let month2 = dir.path().join("m2");
    std::fs::create_dir(&month2).unwrap();
    std::fs::write(
        month2.join("Observation.ndjson"),
        "{\"resourceType\":\"Observation\",\"note\":[{\"text\":\"n\"}],\"id\":\"b\",\"valueInteger\":3.5}\n",
    )
    .unwrap();
    let r2 = common::run_with(&month2, &dir.path().join("o2"), &memory);
    let t = &r2.types[0];
    assert!(t.schema_recalled);
    assert_eq!(t.new_columns, ["note", "note[].text"]);
    assert_eq!(t.widened_columns, ["valueInteger"]);
    let names =
        |p: &str| -> Vec<String> { schema_of(&dir.path().join(p)).fields().iter().map(|f| f.name().clone()).collect() };
    assert_eq!(names("o1/Observation.parquet"), ["resourceType", "id", "valueInteger", "status"]);
    // Month 1's columns first, in month 1's order; `status` kept though month 2 has none.
    assert_eq!(names("o2/Observation.parquet"), ["resourceType", "id", "valueInteger", "status", "note"]);
}

/// A memory whose database fails on every call.
struct Broken;

impl SchemaMemory for Broken {
    fn recall(&self, _: &str) -> Result<Option<Shape>, MemoryError> {
        Err(MemoryError("the database is locked".into()))
    }
    fn remember(&self, _: &str, _: &Shape) -> Result<(), MemoryError> {
        Err(MemoryError("the disk is full".into()))
    }
}

#[test]
fn a_memory_that_fails_costs_the_conversion_nothing_and_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    write_lines(&input.join("Patient.ndjson"), (0..3).map(|i| format!(r#"{{"resourceType":"Patient","id":"{i}"}}"#)));
    let report = common::run_with(&input, &dir.path().join("out"), &Broken);
    assert_eq!(report.types[0].rows, 3);
    assert!(!report.types[0].schema_recalled);
    assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
    assert!(report.warnings[0].contains("could not be read (the database is locked)"), "{:?}", report.warnings);
    assert!(report.warnings[1].contains("could not be remembered: the disk is full"), "{:?}", report.warnings);
}

#[test]
fn cancelling_replaces_nothing_and_bad_settings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    write_lines(&input.join("Patient.ndjson"), (0..10).map(|i| format!(r#"{{"resourceType":"Patient","id":"{i}"}}"#)));
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("Patient.parquet"), "earlier").unwrap();
    let inputs = find_inputs(std::slice::from_ref(&input)).unwrap();
    let err =
        convert(&inputs, &out, &ConvertOptions::default(), &Forgetful, &|_| {}, &AtomicBool::new(true)).unwrap_err();
    assert!(matches!(err, ConvertError::Cancelled));
    assert_eq!(std::fs::read_to_string(out.join("Patient.parquet")).unwrap(), "earlier");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);

    let tiny = ConvertOptions { memory_limit: 1 << 20, ..ConvertOptions::default() };
    let err = convert(&inputs, &out, &tiny, &Forgetful, &|_| {}, &AtomicBool::new(false)).unwrap_err();
    assert_eq!(err.to_string(), "Invalid setting: the memory limit must be at least 32 MB");
    let none = find_inputs(&[dir.path().join("out")]).unwrap_err();
    assert!(none.to_string().starts_with("There are no NDJSON files"), "{none}");
}

#[test]
fn escapes_whitespace_and_nesting_are_read_as_json_says() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let deep = format!(r#"{{"resourceType":"Patient","id":"deep","x":{}1{}}}"#, "[".repeat(300), "]".repeat(300));
    let lines = [
        // Escapes anywhere, a surrogate pair, a key written with an escape, spaces around everything.
        r#"{"resourceType":"Pat\u0069ent","id":"a","name":[{"text":"Zo\u00eb \"Z\" \ud83d\ude00 \\ / \n"}]}"#
            .to_string(),
        r#" { "resourceType" : "Patient" , "id" : "b" , "n\u0061me" : [ { "text" : "B" } ] } "#.to_string(),
        // Bad: a lone surrogate, a control character in a string, a bad number, nesting past 256.
        r#"{"resourceType":"Patient","id":"c","name":[{"text":"\ud83d"}]}"#.to_string(),
        "{\"resourceType\":\"Patient\",\"id\":\"d\u{1}\"}".to_string(),
        r#"{"resourceType":"Patient","id":"e","n":01}"#.to_string(),
        deep,
    ];
    write_lines(&input.join("Patient.ndjson"), lines.into_iter());
    let report = common::run(&input, &dir.path().join("out"));
    let t = &report.types[0];
    assert_eq!((t.rows, t.bad_lines), (2, 4), "{:?}", report.bad_line_examples);
    let problems: Vec<(u64, &str)> = report.bad_line_examples.iter().map(|b| (b.line, b.problem.as_str())).collect();
    assert!(problems[0].1.contains("lone surrogate"), "{problems:?}");
    assert!(problems[1].1.contains("control character"), "{problems:?}");
    assert!(problems[2].1.starts_with("not valid JSON"), "{problems:?}");
    assert!(problems[3].1.contains("nested too deeply"), "{problems:?}");
    assert_eq!(problems.iter().map(|p| p.0).collect::<Vec<_>>(), [3, 4, 5, 6]);
    let rows = common::rows(&dir.path().join("out/Patient.parquet"));
    assert_eq!(rows[0], r#"{"resourceType":"Patient","id":"a","name":[{"text":"Zoë \"Z\" 😀 \\ / \n"}]}"#);
    assert_eq!(rows[1], r#"{"resourceType":"Patient","id":"b","name":[{"text":"B"}]}"#);
}
