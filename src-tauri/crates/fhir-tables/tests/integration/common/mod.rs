use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use fhir_tables::{ConversionReport, ConvertOptions, Forgetful, SchemaMemory, convert, find_inputs};
use jiter::{Jiter, Peek};

pub fn shared_dir() -> PathBuf {
    // The project's shared folder sits beside the repository (as in CI); HAUL_SHARED_DIR points elsewhere.
    let shared = std::env::var_os("HAUL_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared"));
    let dir = shared.join("data/synthea-r4");
    assert!(
        dir.is_dir(),
        "the Synthea sample is missing at {}: set HAUL_SHARED_DIR to the shared folder",
        dir.display()
    );
    dir
}

pub fn run(input: &Path, out: &Path) -> ConversionReport {
    run_with(input, out, &Forgetful)
}

pub fn run_with(input: &Path, out: &Path, memory: &dyn SchemaMemory) -> ConversionReport {
    let inputs = find_inputs(&[input.to_path_buf()]).unwrap();
    let options = ConvertOptions { threads: 2, memory_limit: 64 << 20, ..ConvertOptions::default() };
    convert(&inputs, out, &options, memory, &|_| {}, &AtomicBool::new(false)).unwrap()
}

/// Every row of a table as JSON lines.
pub fn rows(path: &Path) -> Vec<String> {
    let mut rows = Vec::new();
    fhir_tables::rebuild::read_back(path, &mut |r| rows.push(r)).unwrap();
    rows
}

/// JSON in a form where equal resources are equal text: keys sorted, strings re-escaped one way,
/// decimals without trailing zeros (`1.50` and `1.5` are the same value). Written here, apart from
/// the crate's own number code, so a fault there cannot hide itself.
pub fn canonical(json: &str) -> String {
    let mut j = Jiter::new(json.as_bytes());
    let peek = j.peek().unwrap();
    let mut out = String::new();
    value(&mut j, peek, &mut out);
    j.finish().unwrap();
    out
}

fn value(j: &mut Jiter, peek: Peek, out: &mut String) {
    match peek {
        Peek::Null => {
            j.known_null().unwrap();
            out.push_str("null");
        }
        Peek::True | Peek::False => out.push_str(if j.known_bool(peek).unwrap() { "true" } else { "false" }),
        Peek::String => out.push_str(&serde_json::to_string(j.known_str().unwrap()).unwrap()),
        Peek::Array => {
            out.push('[');
            let mut next = j.known_array().unwrap();
            let mut first = true;
            while let Some(p) = next {
                if !first {
                    out.push(',');
                }
                first = false;
                value(j, p, out);
                next = j.array_step().unwrap();
            }
            out.push(']');
        }
        Peek::Object => {
            let mut entries: Vec<(String, String)> = Vec::new();
            let mut key = j.known_object().unwrap().map(str::to_owned);
            while let Some(k) = key {
                let p = j.peek().unwrap();
                let mut v = String::new();
                value(j, p, &mut v);
                entries.push((k, v));
                key = j.next_key().unwrap().map(str::to_owned);
            }
            entries.sort();
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap());
                out.push(':');
                out.push_str(v);
            }
            out.push('}');
        }
        _ => {
            let text = std::str::from_utf8(j.known_number_bytes(peek).unwrap()).unwrap().to_string();
            assert!(!text.contains(['e', 'E']), "exponents are not in the test data: {text}");
            let mut t = text.as_str();
            if t.contains('.') {
                t = t.trim_end_matches('0').trim_end_matches('.');
            }
            out.push_str(if t == "-0" { "0" } else { t });
        }
    }
}

/// The lines of an NDJSON or NDJSON.gz file.
pub fn input_lines(path: &Path) -> Vec<String> {
    use std::io::Read;
    let bytes = std::fs::read(path).unwrap();
    let mut text = String::new();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_string(&mut text).unwrap();
    } else {
        text = String::from_utf8(bytes).unwrap();
    }
    text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect()
}
