//! The server's deletions: the `deleted[]` files of an incremental export are transaction Bundles whose
//! entries name a deleted resource in `request.url`. Read here once, for the comparison of two exports and
//! the current dataset's merge.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufReader;
use std::path::Path;

use crate::{Line, LineReader, NdjsonError, find_inputs, line_content, looks_like_type};

/// The longest deletion Bundle line read (a Bundle of a million entries is about 60 MB): one rule for the
/// comparison and the current dataset.
pub const MAX_DELETION_LINE: usize = 64 << 20;

#[derive(serde::Deserialize)]
struct DeletionBundle {
    entry: Option<Vec<DeletionEntry>>,
}

#[derive(serde::Deserialize)]
struct DeletionEntry {
    request: Option<DeletionRequest>,
}

#[derive(serde::Deserialize)]
struct DeletionRequest {
    url: Option<String>,
}

/// The resources the NDJSON files in `dir` (a `deleted/` folder) list as deleted, by type. A missing
/// folder lists none; a line that is not a Bundle, or an entry without a readable url, is passed over
/// (the export's verification already counted and reported it). A line over `max_line` bytes is an error:
/// skipping it would keep deleted resources. Bundles are read into typed structs: only the urls are held.
pub fn deleted_resources(dir: &Path, max_line: usize) -> Result<BTreeMap<String, BTreeSet<String>>, NdjsonError> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for input in find_inputs(&[dir.to_path_buf()])? {
        for file in input.files {
            let mut reader =
                LineReader::with_limit(BufReader::with_capacity(1 << 20, crate::open(&file.path)?), max_line);
            while let Some((n, _, line)) = reader.next_at().map_err(|e| NdjsonError::read(&file.path, e))? {
                let raw = match line {
                    Line::Text(raw) => raw,
                    Line::TooLong { length, .. } => {
                        let why =
                            format!("line {n} is {length} bytes, over the {max_line}-byte limit for a deletion Bundle");
                        return Err(NdjsonError::read(&file.path, std::io::Error::other(why)));
                    }
                };
                let Ok(bundle) = serde_json::from_slice::<DeletionBundle>(line_content(raw)) else { continue };
                let urls = bundle.entry.into_iter().flatten().filter_map(|e| e.request?.url);
                for url in urls {
                    if let Some((t, id)) = type_and_id(&url) {
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
