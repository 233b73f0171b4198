//! Bad views are refused before any work, naming the file and the problem; a resource a view cannot evaluate
//! stops that view only (resource id and line named) and replaces no earlier file; an empty input is an empty
//! table with its columns.

use std::io::Write;

use fhir_views::{Format, View, ViewFileError, read_view_file};
use serde_json::json;

use crate::common::{run, view};

fn refused(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.json");
    std::fs::write(&path, text).unwrap();
    let err = read_view_file(&path).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("mine.json"), "the file is named: {message}");
    message
}

#[test]
fn invalid_views_say_why_and_name_their_file() {
    assert!(matches!(read_view_file(std::path::Path::new("/nonexistent/v.json")), Err(ViewFileError::Read { .. })));
    assert!(refused("{ not json").contains("not valid JSON"));
    let m = refused(r#"{"resource": "Patinet", "select": [{"column": [{"name": "id", "path": "id"}]}]}"#);
    assert!(m.contains("'Patinet' is not a FHIR resource type"), "{m}");
    let m = refused(r#"{"resource": "Patient", "select": [{"column": [{"name": "a", "path": "name.soundex()"}]}]}"#);
    assert!(m.contains("soundex() is not supported"), "{m}");
    let m = refused(
        r#"{"resource": "Patient", "select": [{"column": [{"name": "a", "path": "id"}]}, {"forEach": "name", "column": [{"name": "a", "path": "family"}]}]}"#,
    );
    assert!(m.contains("'a' is used twice"), "{m}");
    let m = refused(r#"{"resource": "Patient", "select": [{"column": [{"name": "a", "path": "name.where(use = "}]}]}"#);
    assert!(m.contains("column 'a' path"), "{m}");
    let m = refused(r#"{"resource": "Patient", "select": [{"column": [{"name": "a", "path": "%nope"}]}]}"#);
    assert!(m.contains("%nope"), "{m}");
}

fn write_lines(dir: &std::path::Path, name: &str, lines: &[&str]) {
    let mut f = std::fs::File::create(dir.join(name)).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

#[test]
fn a_resource_the_view_cannot_evaluate_stops_that_view_only() {
    let input = tempfile::tempdir().unwrap();
    write_lines(
        input.path(),
        "Patient.ndjson",
        &[
            r#"{"resourceType":"Patient","id":"p1","name":[{"family":"A"}]}"#,
            r#"{"resourceType":"Patient","id":"p2","name":[{"family":"B"},{"family":"C"}]}"#,
        ],
    );
    let out = tempfile::tempdir().unwrap();
    // An earlier run's file stays as it was.
    std::fs::write(out.path().join("families.csv"), "earlier\n").unwrap();
    let bad = View::from_json(
        &json!({"name": "families", "resource": "Patient", "select": [{"column": [{"name": "family", "path": "name.family"}]}]}),
        "x",
    )
    .unwrap();
    let good =
        view(json!({"name": "ids", "resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}]}));
    let outcomes = run(input.path(), &[bad, good], out.path(), &[Format::Csv, Format::Parquet, Format::Xlsx]);
    let failure = outcomes[0].failure.as_ref().expect("the view stops");
    assert_eq!(failure.resource_id.as_deref(), Some("p2"));
    assert_eq!(failure.line, Some(2));
    assert!(failure.message.contains("'family' gives 2 values"), "{}", failure.message);
    assert!(failure.to_string().contains("Patient.ndjson line 2"), "{failure}");
    assert_eq!(std::fs::read_to_string(out.path().join("families.csv")).unwrap(), "earlier\n");
    assert!(!out.path().join("families.parquet").exists());
    let names: Vec<String> =
        std::fs::read_dir(out.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.ends_with(".partial")), "no half-written file is left: {names:?}");
    assert!(outcomes[1].failure.is_none());
    assert_eq!(outcomes[1].rows, 2);
    assert_eq!(std::fs::read_to_string(out.path().join("ids.csv")).unwrap(), "id\r\np1\r\np2\r\n");
}

#[test]
fn no_resources_of_the_type_make_an_empty_table_with_columns() {
    let input = tempfile::tempdir().unwrap();
    write_lines(input.path(), "Patient.ndjson", &[r#"{"resourceType":"Patient","id":"p1"}"#]);
    let out = tempfile::tempdir().unwrap();
    let v = view(json!({"name": "obs", "resource": "Observation", "select": [{"column": [
        {"name": "id", "path": "id", "type": "id"}, {"name": "v", "path": "value.ofType(Quantity).value", "type": "decimal"}]}]}));
    let outcomes = run(input.path(), &[v], out.path(), &[Format::Csv, Format::Parquet, Format::Xlsx]);
    assert_eq!(outcomes[0].rows, 0);
    assert!(outcomes[0].failure.is_none());
    assert_eq!(std::fs::read_to_string(out.path().join("obs.csv")).unwrap(), "id,v\r\n");
    let file = std::fs::File::open(out.path().join("obs.parquet")).unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
    use parquet::file::reader::FileReader;
    let schema = reader.metadata().file_metadata().schema_descr();
    assert_eq!(schema.columns().iter().map(|c| c.name().to_string()).collect::<Vec<_>>(), ["id", "v"]);
    assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
}

#[test]
fn unreadable_lines_are_passed_over_and_counted() {
    let input = tempfile::tempdir().unwrap();
    write_lines(
        input.path(),
        "Patient.ndjson",
        &[r#"{"resourceType":"Patient","id":"p1"}"#, "{ broken", "", r#"{"resourceType":"Patient","id":"p3"}"#],
    );
    let out = tempfile::tempdir().unwrap();
    let v = view(json!({"name": "ids", "resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}]}));
    let outcomes = run(input.path(), &[v], out.path(), &[Format::Csv]);
    assert_eq!(outcomes[0].rows, 2);
    assert!(
        outcomes[0].notes.iter().any(|n| n.contains("1 line was") && n.contains("line 2")),
        "{:?}",
        outcomes[0].notes
    );
}

#[test]
fn values_that_do_not_fit_their_type_are_said() {
    let input = tempfile::tempdir().unwrap();
    write_lines(
        input.path(),
        "Patient.ndjson",
        &[
            r#"{"resourceType":"Patient","id":"p1","birthDate":"1970-06"}"#,
            r#"{"resourceType":"Patient","id":"p2","birthDate":"1971-02-03"}"#,
        ],
    );
    let out = tempfile::tempdir().unwrap();
    let v = view(json!({"name": "born", "resource": "Patient", "select": [{"column": [
        {"name": "id", "path": "id"}, {"name": "birth", "path": "birthDate", "type": "date"}]}]}));
    let outcomes = run(input.path(), &[v], out.path(), &[Format::Csv, Format::Parquet]);
    // CSV keeps the partial date as written; Parquet's DATE cannot hold it and the summary says so.
    assert_eq!(
        std::fs::read_to_string(out.path().join("born.csv")).unwrap(),
        "id,birth\r\np1,1970-06\r\np2,1971-02-03\r\n"
    );
    assert!(
        outcomes[0].notes.iter().any(|n| n.contains("1 value of column 'birth'") && n.contains("1970-06")),
        "{:?}",
        outcomes[0].notes
    );
}

#[test]
fn a_view_past_a_sheets_rows_goes_on_to_more_sheets() {
    use fhir_views::output::TableFile;
    use fhir_views::output::xlsx::XlsxFile;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.xlsx");
    let v =
        view(json!({"resource": "Patient", "select": [{"column": [{"name": "n", "path": "id", "type": "integer"}]}]}));
    let mut file = Box::new(XlsxFile::with_rows_per_sheet(&path, "many", &v.columns, 4).unwrap());
    let rows = (0..10).map(|i| vec![fhir_views::OutValue::Int(i)]).collect();
    file.write(&fhir_views::output::RowBlock { count: 10, rows, batch: None }).unwrap();
    let notes = (file as Box<dyn TableFile>).finish().unwrap();
    assert!(notes[0].contains("4 sheets of up to 3 rows"), "{notes:?}");
    let check = "import openpyxl,sys; wb=openpyxl.load_workbook(sys.argv[1]); \
                 print([ (ws.title, [c.value for c in ws['A']]) for ws in wb.worksheets])";
    let out = std::process::Command::new(crate::common::python()).args(["-c", check]).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("('many', ['n', 0, 1, 2])") && text.contains("('many (4)', ['n', 9])"), "{text}");
}

/// `path = 'text'` has a shortcut (compared in place, issue 17's speed work): it must answer as the general
/// comparison does, for one string, several, none, a non-string, a date, and the literal on the left.
#[test]
fn comparing_with_a_text_literal_answers_as_the_general_comparison() {
    let view = fhir_views::View::from_json(
        &serde_json::json!({
            "resource": "Patient",
            "select": [{"column": [
                {"name": "female", "path": "gender = 'female'", "type": "boolean"},
                {"name": "not_male", "path": "gender != 'male'", "type": "boolean"},
                {"name": "left", "path": "'female' = gender", "type": "boolean"},
                {"name": "two_givens", "path": "name.given = 'Ann'", "type": "boolean"},
                {"name": "one_given", "path": "name.given.first() = 'Ann'", "type": "boolean"},
                {"name": "missing", "path": "maritalStatus.text = 'x'", "type": "boolean"},
                {"name": "number", "path": "multipleBirthInteger = '2'", "type": "boolean"},
                {"name": "flag", "path": "active = 'true'", "type": "boolean"},
                {"name": "same_day", "path": "birthDate = '1980-02-03'", "type": "boolean"},
                {"name": "via_where", "path": "name.where(use = 'official').family", "type": "string"}
            ]}]
        }),
        "literal",
    )
    .unwrap();
    let line = br#"{"resourceType":"Patient","id":"p","gender":"female","active":true,"multipleBirthInteger":2,"birthDate":"1980-02-03","name":[{"use":"usual","family":"A","given":["Ann","Bea"]},{"use":"official","family":"B"}]}"#;
    let rows = fhir_views::rows_as_json(&view, line).unwrap();
    let r = &rows[0];
    let get = |k: &str| r[k].clone();
    use serde_json::Value;
    assert_eq!(get("female"), Value::Bool(true));
    assert_eq!(get("not_male"), Value::Bool(true));
    assert_eq!(get("left"), Value::Bool(true));
    assert_eq!(get("two_givens"), Value::Bool(false), "two values against one: not equal");
    assert_eq!(get("one_given"), Value::Bool(true));
    assert_eq!(get("missing"), Value::Null, "nothing compared: empty");
    assert_eq!(get("number"), Value::Bool(false), "an integer is not the text '2'");
    assert_eq!(get("flag"), Value::Bool(false), "a boolean is not the text 'true'");
    assert_eq!(get("via_where"), Value::String("B".into()));
    assert_eq!(get("same_day"), Value::Bool(true));
}
