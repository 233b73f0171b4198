//! What Haul writes, read by what analysts use: Python's csv module and DuckDB (CSV), openpyxl (Excel, typed
//! cells), DuckDB and pyarrow (Parquet). Same row counts everywhere; types checked.

use std::path::Path;
use std::process::Command;

use fhir_views::{Format, TablesOptions, built_in, make_tables};

use crate::common::{python, synthea};

#[test]
fn csv_excel_and_parquet_open_in_their_readers() {
    let out = tempfile::tempdir().unwrap();
    let views = [built_in("patient").unwrap(), built_in("observation").unwrap(), built_in("eob_line").unwrap()];
    let options = TablesOptions {
        threads: 2,
        memory_limit: 64 << 20,
        formats: vec![Format::Parquet, Format::Csv, Format::Xlsx],
        csv_bom: true,
    };
    let outcomes =
        make_tables(&[synthea()], &views, out.path(), &options, &|_| {}, &std::sync::atomic::AtomicBool::new(false))
            .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/read_tables.py");
    let output = Command::new(python()).arg(&script).arg(out.path()).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for o in &outcomes {
        let r = &report[&o.view];
        for reader in ["csv_module", "duckdb_csv", "openpyxl", "duckdb_parquet", "pyarrow"] {
            assert_eq!(r[reader].as_u64(), Some(o.rows), "{} read by {reader}: {r}", o.view);
        }
    }
    // Typed cells: what openpyxl and pyarrow say the columns hold.
    let p = &report["patient"];
    assert_eq!(p["xlsx_types"]["birth_date"], "datetime");
    assert_eq!(p["xlsx_types"]["gender"], "str");
    assert_eq!(p["parquet_types"]["birth_date"], "date32[day]");
    let o = &report["observation"];
    assert_eq!(o["xlsx_types"]["value_number"], "float");
    assert_eq!(o["xlsx_types"]["effective"], "datetime");
    assert_eq!(o["parquet_types"]["value_number"], "decimal128(38, 18)");
    assert_eq!(o["parquet_types"]["effective"], "timestamp[ms, tz=UTC]");
    assert_eq!(o["header_frozen"], "A2", "the header row stays in place");
    assert_eq!(report["patient"]["bom"], true);
    // The same value through all three: a decimal kept exact in Parquet.
    assert_eq!(o["first_value_number"]["parquet"], "181.200000000000000000");
    assert_eq!(o["first_value_number"]["csv"], "181.2");
    assert_eq!(o["first_value_number"]["xlsx"], 181.2);
}
