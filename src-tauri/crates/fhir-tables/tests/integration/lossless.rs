//! The proof: the whole shared Synthea sample goes to Parquet and comes back resource by resource.

use crate::common;

use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

#[test]
fn every_synthea_resource_comes_back_from_parquet_unchanged() {
    let input = common::shared_dir();
    let out = tempfile::tempdir().unwrap();
    let report = common::run(&input, out.path());

    assert_eq!(report.bad_lines, 0, "{:?}", report.bad_line_examples);
    assert_eq!(report.types.len(), 18);
    let total: u64 = report.types.iter().map(|t| t.rows).sum();
    assert_eq!(total, 38971);

    let mut compared = 0;
    for t in &report.types {
        let source = input.join(format!("{}.ndjson.gz", t.resource_type));
        let expected = common::input_lines(&source);
        let table = std::path::PathBuf::from(t.output_file.as_ref().unwrap());
        let got = common::rows(&table);
        assert_eq!(got.len(), expected.len(), "{}", t.resource_type);
        assert_eq!(t.rows as usize, expected.len());
        for (i, (a, b)) in expected.iter().zip(&got).enumerate() {
            let (a, b) = (common::canonical(a), common::canonical(b));
            assert!(a == b, "{} line {}: differs after Parquet\n in: {a}\nout: {b}", t.resource_type, i + 1);
            compared += 1;
        }
    }
    assert_eq!(compared, 38971);

    // Typed columns where the data allows it: decimals exact, instants also as UTC timestamps.
    let obs = std::fs::File::open(out.path().join("Observation.parquet")).unwrap();
    let schema = ParquetRecordBatchReaderBuilder::try_new(obs).unwrap().schema().clone();
    let DataType::Struct(q) = schema.field_with_name("valueQuantity").unwrap().data_type() else { panic!() };
    assert!(matches!(q.find("value").unwrap().1.data_type(), DataType::Decimal128(38, _)));
    assert!(matches!(schema.field_with_name("issued_utc").unwrap().data_type(), DataType::Timestamp(_, Some(_))));
    assert_eq!(schema.field_with_name("effectiveDateTime").unwrap().data_type(), &DataType::Utf8);
    let patient = std::fs::File::open(out.path().join("Patient.parquet")).unwrap();
    let schema = ParquetRecordBatchReaderBuilder::try_new(patient).unwrap().schema().clone();
    assert_eq!(schema.field_with_name("birthDate").unwrap().data_type(), &DataType::Utf8);
}
