//! Two exports of one dataset (a server and a request, run again a month later) side by side: per resource
//! type, what the later one added, changed and deleted, and what the earlier one had that the later one no
//! longer has; and the patients who joined or left (a group's members come and go).
//!
//! Folders are read as Haul writes them: `Type.NNN.ndjson` (gzipped or not) for resources, `deleted/` for
//! the server's deletion Bundles. A resource is known by its type and id; whether it changed is told by its
//! `meta.versionId` and `meta.lastUpdated` when it has them, else by a fingerprint of the whole line. Memory
//! holds one type of the earlier export at a time, as 64-bit fingerprints of ids (16 bytes a resource), and
//! the ids of patients only.

mod read;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde::Serialize;
use ts_rs::TS;

pub use read::CompareError;
use read::{deletions_in, each_resource, fingerprint};

/// The group's members when an export finished (a JSON list of patient ids), written by the export engine
/// where the server lets the Group be read. With it in both folders, who joined and left is the Group's own
/// word (an incremental export holds only the patients whose record changed).
pub const GROUP_MEMBERS_FILE: &str = "group-members.json";

/// How many patient ids a comparison lists by name (the counts are always complete).
pub const LISTED_PATIENTS: usize = 1000;

/// One resource type in both exports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TypeComparison {
    pub resource_type: String,
    /// Resources in the earlier export, and after the later one (for an incremental later export: the earlier
    /// ones plus those it added, less those it deleted).
    #[ts(type = "number")]
    pub before: u64,
    #[ts(type = "number")]
    pub after: u64,
    /// In the later export and not in the earlier one.
    #[ts(type = "number")]
    pub added: u64,
    /// In both, in another version.
    #[ts(type = "number")]
    pub changed: u64,
    /// Listed in the later export's deletions and held by the earlier one.
    #[ts(type = "number")]
    pub deleted: u64,
    /// Listed in the later export's deletions but not held by the earlier one (created since, or of patients
    /// it did not cover): they change nothing between the two.
    #[ts(type = "number")]
    pub deleted_not_held: u64,
    /// In the earlier export only, without a deletion (a full later export no longer has them: out of the
    /// group, or out of the request's filters). Always 0 when the later export is incremental.
    #[ts(type = "number")]
    pub removed: u64,
}

/// The comparison of an earlier and a later export.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Comparison {
    pub types: Vec<TypeComparison>,
    /// Patients in the later export and not in the earlier one (up to [`LISTED_PATIENTS`]).
    pub patients_joined: Vec<String>,
    #[ts(type = "number")]
    pub patients_joined_count: u64,
    /// Patients in the earlier export and not in a full later one (up to [`LISTED_PATIENTS`]).
    pub patients_left: Vec<String>,
    #[ts(type = "number")]
    pub patients_left_count: u64,
    /// Lines that are not a resource of their file's type (skipped, as Convert does).
    #[ts(type = "number")]
    pub bad_lines: u64,
    /// The later export holds only what changed since the earlier one's time (`_since`): absence means
    /// "unchanged", not "gone".
    pub incremental: bool,
}

/// Compares the export in `before` with the later one in `after`. `incremental`: the later one asked for
/// changes only (`_since`), so a resource it does not hold is unchanged rather than gone.
pub fn compare(before: &Path, after: &Path, incremental: bool) -> Result<Comparison, CompareError> {
    compare_with(before, after, &[], incremental)
}

/// [`compare`], with folders whose resources count as part of the later export: an incremental group
/// export's new members' full records, fetched as an export of their own.
pub fn compare_with(
    before: &Path,
    after: &Path,
    also_after: &[&Path],
    incremental: bool,
) -> Result<Comparison, CompareError> {
    let before_inputs = read::inputs(before)?;
    let mut after_inputs = read::inputs(after)?;
    for extra in also_after {
        for (t, files) in read::inputs(extra)? {
            after_inputs.entry(t).or_default().extend(files);
        }
    }
    let deleted = deletions_in(after)?;
    let mut out = Comparison { incremental, ..Comparison::default() };
    let types: BTreeSet<&str> = before_inputs
        .keys()
        .chain(after_inputs.keys())
        .map(String::as_str)
        .chain(deleted.keys().map(String::as_str))
        .collect();
    for resource_type in types {
        let mut row = TypeComparison { resource_type: resource_type.to_string(), ..TypeComparison::default() };
        // The earlier export's resources of this type: id fingerprint → version fingerprint.
        let mut earlier: HashMap<u64, u64> = HashMap::new();
        let mut earlier_patients: BTreeMap<u64, String> = BTreeMap::new();
        for file in before_inputs.get(resource_type).into_iter().flatten() {
            out.bad_lines += each_resource(file, resource_type, &mut |id, version| {
                earlier.insert(fingerprint(id.as_bytes()), version);
                if resource_type == "Patient" {
                    earlier_patients.insert(fingerprint(id.as_bytes()), id.to_string());
                }
            })?;
        }
        row.before = earlier.len() as u64;
        let mut seen_after: HashMap<u64, ()> = HashMap::new();
        for file in after_inputs.get(resource_type).into_iter().flatten() {
            out.bad_lines += each_resource(file, resource_type, &mut |id, version| {
                let key = fingerprint(id.as_bytes());
                if seen_after.insert(key, ()).is_some() {
                    return; // the same resource twice in one export counts once
                }
                match earlier.get(&key) {
                    None => {
                        row.added += 1;
                        if resource_type == "Patient" {
                            out.patients_joined_count += 1;
                            if out.patients_joined.len() < LISTED_PATIENTS {
                                out.patients_joined.push(id.to_string());
                            }
                        }
                    }
                    Some(old) if *old != version => row.changed += 1,
                    Some(_) => {}
                }
            })?;
        }
        let gone: &BTreeSet<String> = deleted.get(resource_type).unwrap_or(&EMPTY);
        let gone_keys: BTreeSet<u64> = gone.iter().map(|id| fingerprint(id.as_bytes())).collect();
        row.deleted = gone_keys.iter().filter(|k| earlier.contains_key(k)).count() as u64;
        row.deleted_not_held = gone_keys.len() as u64 - row.deleted;
        row.after = if incremental {
            // The later export holds changes only: after them, the data set is the earlier one plus what was
            // added, less what was deleted from it.
            (row.before + row.added).saturating_sub(row.deleted)
        } else {
            seen_after.len() as u64
        };
        if !incremental {
            for key in earlier.keys().filter(|k| !seen_after.contains_key(k) && !gone_keys.contains(k)) {
                row.removed += 1;
                if let Some(id) = earlier_patients.get(key) {
                    out.patients_left_count += 1;
                    if out.patients_left.len() < LISTED_PATIENTS {
                        out.patients_left.push(id.clone());
                    }
                }
            }
        }
        out.types.push(row);
    }
    out.patients_joined.sort();
    out.patients_left.sort();
    if let (Some(then), Some(now)) = (members_of(before), members_of(after)) {
        let list = |ids: Vec<&String>| ids.into_iter().take(LISTED_PATIENTS).cloned().collect::<Vec<_>>();
        out.patients_joined_count = now.difference(&then).count() as u64;
        out.patients_joined = list(now.difference(&then).collect());
        out.patients_left_count = then.difference(&now).count() as u64;
        out.patients_left = list(then.difference(&now).collect());
    }
    Ok(out)
}

/// The folder's [`GROUP_MEMBERS_FILE`], if it has a readable one.
pub fn members_of(folder: &Path) -> Option<BTreeSet<String>> {
    let bytes = std::fs::read(folder.join(GROUP_MEMBERS_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

static EMPTY: BTreeSet<String> = BTreeSet::new();

#[cfg(test)]
mod tests;
