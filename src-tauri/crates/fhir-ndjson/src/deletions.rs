//! The server's deletions: the `deleted[]` files of an incremental export are transaction Bundles whose
//! entries name a deleted resource in `request.url`. Read here once, for the comparison of two exports and
//! the current dataset's merge.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufReader;
use std::path::Path;

use crate::{Line, LineReader, NdjsonError, find_inputs, line_content, looks_like_type};

/// The resources the NDJSON files in `dir` (a `deleted/` folder) list as deleted, by type. A missing
/// folder lists none; a line that is not a Bundle, or an entry without a readable url, is passed over
/// (the export's verification already counted and reported it). Lines over `max_line` bytes are skipped.
pub fn deleted_resources(dir: &Path, max_line: usize) -> Result<BTreeMap<String, BTreeSet<String>>, NdjsonError> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for input in find_inputs(&[dir.to_path_buf()])? {
        for file in input.files {
            let mut reader =
                LineReader::with_limit(BufReader::with_capacity(1 << 20, crate::open(&file.path)?), max_line);
            while let Some((_, _, line)) = reader.next_at().map_err(|e| NdjsonError::read(&file.path, e))? {
                let Line::Text(raw) = line else { continue };
                let Ok(bundle) = serde_json::from_slice::<serde_json::Value>(line_content(raw)) else { continue };
                let entries = bundle.get("entry").and_then(|e| e.as_array()).into_iter().flatten();
                for url in entries.filter_map(|e| e.pointer("/request/url").and_then(|u| u.as_str())) {
                    if let Some((t, id)) = type_and_id(url) {
                        out.entry(t.to_string()).or_default().insert(id.to_string());
                    }
                }
            }
        }
    }
    Ok(out)
}

/// `Patient/123`, `https://x/fhir/Patient/123` or `Patient/123/_history/2` → (`Patient`, `123`).
pub fn type_and_id(url: &str) -> Option<(&str, &str)> {
    let path = url.split(['?', '#']).next()?;
    let path = match path.find("/_history/") {
        Some(at) => &path[..at],
        None => path,
    };
    let mut parts = path.trim_end_matches('/').rsplit('/');
    let id = parts.next().filter(|s| !s.is_empty())?;
    let resource_type = parts.next().filter(|t| looks_like_type(t))?;
    Some((resource_type, id))
}

#[cfg(test)]
mod tests {
    use super::type_and_id;

    #[test]
    fn deletion_urls_name_type_and_id_in_any_of_their_forms() {
        assert_eq!(type_and_id("Patient/123"), Some(("Patient", "123")));
        assert_eq!(type_and_id("https://x.test/fhir/Observation/o-1"), Some(("Observation", "o-1")));
        assert_eq!(type_and_id("Condition/c9/_history/3"), Some(("Condition", "c9")));
        assert_eq!(type_and_id("nonsense"), None);
        assert_eq!(type_and_id("lower/123"), None);
    }
}
