//! The manifest of a finished export, serialized once, with the hostile edits that `Faults` asks for:
//! wrong counts, extra and escape-laden entries, file URLs on the second origin, and padding.

use axum::body::Bytes;
use serde_json::{Map, Value, json};

use crate::{Faults, Sim, hostile};

/// One NDJSON output file as written.
pub(super) struct OutputFile {
    pub resource_type: String,
    pub name: String,
    pub count: u64,
}

/// What the export produced, before it is described.
pub(super) struct Contents<'a> {
    pub transaction_time: &'a str,
    pub request_url: &'a str,
    pub output: Vec<OutputFile>,
    /// Names of OperationOutcome files.
    pub error: Vec<String>,
    /// Names of Bundle files of deletions.
    pub deleted: Vec<String>,
}

pub(super) struct Manifest {
    pub body: Bytes,
    /// Output file names in manifest order, without the hostile copies.
    pub output_files: Vec<String>,
}

pub(super) fn render(
    sim: &Sim,
    job_id: &str,
    faults: &Faults,
    contents: Contents<'_>,
) -> Result<Manifest, serde_json::Error> {
    let origin = if faults.files_on_second_origin { &sim.second_origin } else { &sim.origin };
    let url = |name: &str| format!("{origin}/files/{job_id}/{name}");
    let mut output: Vec<Value> = contents
        .output
        .iter()
        .map(|f| {
            json!({"type": f.resource_type, "url": url(&f.name), "count": f.count.saturating_add(faults.count_off_by)})
        })
        .collect();
    if let Some(first) = output.first().cloned() {
        let first_url = first["url"].as_str().unwrap_or_default().to_string();
        for n in 1..=faults.manifest_extra_outputs {
            let mut copy = first.clone();
            copy["url"] = Value::from(format!("{first_url}?copy={n}"));
            output.push(copy);
        }
    }
    if faults.escape_sequences
        && let Some(mut entry) = contents
            .output
            .iter()
            .position(|f| f.resource_type == "Patient")
            .or((!contents.output.is_empty()).then_some(0))
            .map(|i| output[i].clone())
    {
        entry["type"] = Value::from(hostile::ESCAPE_TYPE);
        output.push(entry);
    }
    let error: Vec<Value> =
        contents.error.iter().map(|name| json!({"type": "OperationOutcome", "url": url(name)})).collect();
    let deleted: Vec<Value> = contents.deleted.iter().map(|name| json!({"type": "Bundle", "url": url(name)})).collect();
    let mut manifest = Map::new();
    manifest.insert("transactionTime".into(), Value::from(contents.transaction_time));
    manifest.insert("request".into(), Value::from(contents.request_url));
    if !faults.omit_requires_access_token {
        manifest.insert("requiresAccessToken".into(), Value::from(sim.requires_access_token()));
    }
    manifest.insert("output".into(), Value::from(output));
    manifest.insert("error".into(), Value::from(error));
    manifest.insert("deleted".into(), Value::from(deleted));
    manifest.insert("extension".into(), json!({"urn:haul:bulk-sim": {"job": job_id}}));
    let body = match faults.manifest_padding_bytes {
        Some(padding) => serialize_padded(manifest, padding)?,
        None => serde_json::to_vec(&manifest)?,
    };
    let output_files = contents.output.into_iter().map(|f| f.name).collect();
    Ok(Manifest { body: Bytes::from(body), output_files })
}

/// Serializes `manifest` with `"padding": "aaa…"` (`padding` bytes) added to its `extension` object. The
/// padding is written straight into the output, not put in a `Value` first, which would hold it twice.
fn serialize_padded(mut manifest: Map<String, Value>, padding: u64) -> Result<Vec<u8>, serde_json::Error> {
    let extension = match manifest.remove("extension") {
        Some(Value::Object(e)) => e,
        _ => Map::new(),
    };
    let mut out = Vec::with_capacity(padding as usize + 64 * 1024);
    serde_json::to_writer(&mut out, &manifest)?;
    out.pop(); // `}`, reopened to add `extension`
    if !manifest.is_empty() {
        out.push(b',');
    }
    out.extend_from_slice(b"\"extension\":");
    serde_json::to_writer(&mut out, &extension)?;
    out.pop(); // `}`, reopened to add `padding`
    if !extension.is_empty() {
        out.push(b',');
    }
    out.extend_from_slice(b"\"padding\":\"");
    out.resize(out.len() + padding as usize, b'a');
    out.extend_from_slice(b"\"}}");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_lands_in_the_extension_and_the_json_stays_valid() {
        let mut manifest = Map::new();
        manifest.insert("output".into(), json!([]));
        manifest.insert("extension".into(), json!({"urn:x": 1}));
        let bytes = serialize_padded(manifest, 5).unwrap();
        let parsed: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(parsed, json!({"output": [], "extension": {"urn:x": 1, "padding": "aaaaa"}}));

        let bytes = serialize_padded(Map::new(), 3).unwrap();
        let parsed: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(parsed, json!({"extension": {"padding": "aaa"}}));
    }
}
