//! Reading an export folder for a comparison: its resource files by type, each resource's id and version,
//! and the deletions the server listed.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{DefaultHasher, Hasher};
use std::io::BufReader;
use std::path::{Path, PathBuf};

use fhir_ndjson::{Line, LineReader, NdjsonError, check_line, find_inputs, line_content};
use serde::Deserialize;

/// Longer lines are not read into memory: they count as bad lines (as the export's own check set them aside).
const MAX_LINE_BYTES: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error(
        "The folder of this export, {}, is not there any more (moved or deleted), so it cannot be compared. Choose another export, or put the folder back.",
        .0.display()
    )]
    FolderGone(PathBuf),
    #[error(transparent)]
    Read(#[from] NdjsonError),
}

/// 64 bits of a stable hash (the same in every run), for ids and versions kept in memory.
pub(crate) fn fingerprint(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    h.write(bytes);
    h.finish()
}

/// The resource files of an export folder by type (not its `error/` or `deleted/` subfolders).
pub(crate) fn inputs(folder: &Path) -> Result<BTreeMap<String, Vec<PathBuf>>, CompareError> {
    if !folder.is_dir() {
        return Err(CompareError::FolderGone(folder.to_path_buf()));
    }
    Ok(find_inputs(&[folder.to_path_buf()])?
        .into_iter()
        .map(|t| (t.resource_type, t.files.into_iter().map(|f| f.path).collect()))
        .collect())
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
    meta: Option<Meta<'a>>,
}

#[derive(Deserialize)]
struct Meta<'a> {
    #[serde(rename = "versionId", borrow)]
    version_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "lastUpdated", borrow)]
    last_updated: Option<std::borrow::Cow<'a, str>>,
}

/// Calls `found(id, version)` for each resource of `file`; returns how many lines were not a resource of
/// `resource_type` (or had no id).
pub(crate) fn each_resource(
    file: &Path,
    resource_type: &str,
    found: &mut dyn FnMut(&str, u64),
) -> Result<u64, CompareError> {
    let mut bad = 0;
    let mut reader =
        LineReader::with_limit(BufReader::with_capacity(1 << 20, fhir_ndjson::open(file)?), MAX_LINE_BYTES);
    while let Some((_, _, line)) = reader.next_at().map_err(|e| NdjsonError::read(file, e))? {
        let Line::Text(raw) = line else {
            bad += 1;
            continue;
        };
        let text = line_content(raw);
        if fhir_ndjson::is_blank(text) {
            continue;
        }
        if check_line(text, resource_type).is_err() {
            bad += 1;
            continue;
        }
        match serde_json::from_slice::<Head<'_>>(text) {
            Ok(Head { id: Some(id), meta }) => {
                let version = match meta {
                    Some(Meta { version_id, last_updated }) if version_id.is_some() || last_updated.is_some() => {
                        let v = format!("{}|{}", version_id.unwrap_or_default(), last_updated.unwrap_or_default());
                        fingerprint(v.as_bytes())
                    }
                    _ => fingerprint(text),
                };
                found(&id, version);
            }
            _ => bad += 1,
        }
    }
    Ok(bad)
}

/// The resources a folder's `deleted/` Bundles list, by type (one rule with the current dataset's merge).
pub(crate) fn deletions_in(folder: &Path) -> Result<BTreeMap<String, BTreeSet<String>>, CompareError> {
    Ok(fhir_ndjson::deleted_resources(&folder.join("deleted"), fhir_ndjson::MAX_DELETION_LINE)?)
}
