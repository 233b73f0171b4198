//! Two exports from the history compared (export-compare over their folders), for the History page and
//! `haul compare`: which is earlier, whether they are runs of one dataset, whether the later asked for changes
//! only.

use export_compare::{CompareError, Comparison};
use haul_store::{Database, DbError, JobRecord};

use crate::plan::describe_level;

#[derive(Debug, thiserror::Error)]
pub enum ComparisonError {
    #[error("There is no export {0} in Haul's history.")]
    NoSuchExport(i64),
    #[error("Choose two different exports to compare.")]
    Same,
    #[error(
        "Exports {first} and {second} are not of the same server and level or group ({first_what} and {second_what}), so comparing them says nothing. Compare two runs of one export."
    )]
    OtherDataset { first: i64, second: i64, first_what: String, second_what: String },
    #[error(transparent)]
    Compare(#[from] CompareError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The earlier and the later export (by their order in the history) and their comparison.
pub struct Compared {
    pub earlier: JobRecord,
    pub later: JobRecord,
    pub comparison: Comparison,
}

/// Compares exports `a` and `b` (in either order). Reads both folders: run it off the UI thread.
pub fn compare_exports(db: &Database, a: i64, b: i64) -> Result<Compared, ComparisonError> {
    let (earlier, later) = pick(db, a, b)?;
    compare_picked(earlier, later)
}

/// The earlier and the later of exports `a` and `b`, checked to be runs of one dataset: the part that needs
/// the database (the folders are read by [`compare_picked`], without it).
pub fn pick(db: &Database, a: i64, b: i64) -> Result<(JobRecord, JobRecord), ComparisonError> {
    if a == b {
        return Err(ComparisonError::Same);
    }
    let job = |id: i64| db.get_job(id)?.ok_or(ComparisonError::NoSuchExport(id));
    let (earlier, later) = (job(a.min(b))?, job(a.max(b))?);
    // One saved server is one server even when its address changed (the demo's changes at every start).
    let same_server = match (earlier.server_id, later.server_id) {
        (Some(a), Some(b)) => a == b,
        _ => earlier.fhir_url.trim_end_matches('/') == later.fhir_url.trim_end_matches('/'),
    };
    let same = same_server && earlier.request.level() == later.request.level();
    if !same {
        return Err(ComparisonError::OtherDataset {
            first: earlier.id,
            second: later.id,
            first_what: describe_level(&earlier.request),
            second_what: describe_level(&later.request),
        });
    }
    Ok((earlier, later))
}

/// Reads both folders and compares them.
pub fn compare_picked(earlier: JobRecord, later: JobRecord) -> Result<Compared, ComparisonError> {
    let incremental = later.request.since.is_some();
    let comparison = export_compare::compare(earlier.out_dir.as_ref(), later.out_dir.as_ref(), incremental)?;
    Ok(Compared { earlier, later, comparison })
}
