use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use fhir_views::{Format, TablesOptions, View, ViewOutcome, make_tables};

/// The project's shared folder beside the repository (as in CI), or HAUL_SHARED_DIR.
pub fn shared_root() -> PathBuf {
    let shared = std::env::var_os("HAUL_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared"));
    assert!(shared.is_dir(), "the shared folder is missing at {}: set HAUL_SHARED_DIR", shared.display());
    shared
}

pub fn synthea() -> PathBuf {
    shared_root().join("data/synthea-r4")
}

pub fn options(formats: &[Format]) -> TablesOptions {
    TablesOptions { threads: 2, memory_limit: 64 << 20, formats: formats.to_vec(), csv_bom: false }
}

pub fn run(input: &Path, views: &[View], out: &Path, formats: &[Format]) -> Vec<ViewOutcome> {
    make_tables(&[input.to_path_buf()], views, out, &options(formats), &|_| {}, &AtomicBool::new(false)).unwrap()
}

pub fn view(json: serde_json::Value) -> View {
    View::from_json(&json, "test").unwrap()
}

/// Every line of the sample's files of one type, parsed.
pub fn resources(resource_type: &str) -> Vec<serde_json::Value> {
    use std::io::BufRead;
    let f = std::fs::File::open(synthea().join(format!("{resource_type}.ndjson.gz"))).unwrap();
    std::io::BufReader::new(flate2::read::MultiGzDecoder::new(f))
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect()
}

pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("HAUL_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../.venv/bin/python");
    assert!(venv.exists(), "DuckDB, pyarrow and openpyxl are needed: run `bash tests/run.sh` once (it makes .venv)");
    venv
}
