//! Two exports from the history compared (export-compare over their folders), for the History page and
//! `haul compare`: which is earlier, whether they are runs of one dataset, whether the later asked for changes
//! only.

use std::path::{Path, PathBuf};

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
    #[error(
        "Exports {first} and {second} asked for different things (resource types, filters, elements or patients), so their differences would only show that. Compare two runs of one request."
    )]
    OtherRequest { first: i64, second: i64 },
    /// The earlier one holds changes only: what it lacks is unknown, so nothing can be said to be new.
    #[error(
        "Export {0} holds only changes since an earlier export, so it cannot be the starting point of a comparison. Compare with a full export of the same request."
    )]
    EarlierIsIncremental(i64),
    #[error(
        "Export {later} asked for changes since {since}, later than export {earlier}'s data ({earlier_time}): changes in between are in neither. Compare export {later} with the export it continues from."
    )]
    Gap { earlier: i64, later: i64, since: String, earlier_time: String },
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
    let extra = new_members_of(db, &later);
    compare_picked(earlier, later, extra)
}

/// The folder of `later`'s new members' records (an incremental group export's own export of them), when
/// every file of it arrived: they are part of that run.
pub fn new_members_of(db: &Database, later: &JobRecord) -> Option<PathBuf> {
    let jobs = db.list_jobs(100_000).ok()?;
    jobs.into_iter()
        .find(|j| j.settings.new_members_of == Some(later.id) && j.state == haul_store::JobState::Completed)
        .map(|j| PathBuf::from(j.out_dir))
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
    if !haul_store::same_request(&earlier.request, &later.request) {
        return Err(ComparisonError::OtherRequest { first: earlier.id, second: later.id });
    }
    if changes_since(&earlier).is_some() {
        return Err(ComparisonError::EarlierIsIncremental(earlier.id));
    }
    if let (Some(since), Some(time)) = (changes_since(&later), earlier.transaction_time.as_deref().and_then(instant))
        && since > time
    {
        return Err(ComparisonError::Gap {
            earlier: earlier.id,
            later: later.id,
            since: later.request.since.clone().unwrap_or_default(),
            earlier_time: earlier.transaction_time.clone().unwrap_or_default(),
        });
    }
    Ok((earlier, later))
}

fn instant(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// When an export asked for changes only, since when (an AB2D full export's early `_since` is not that).
fn changes_since(job: &JobRecord) -> Option<time::OffsetDateTime> {
    job.request.since.as_deref().filter(|s| !crate::quirks::is_full_export_since(s)).and_then(instant)
}

/// Reads both folders (and the later run's new members' records, see [`new_members_of`]) and compares them.
pub fn compare_picked(
    earlier: JobRecord,
    later: JobRecord,
    later_new_members: Option<PathBuf>,
) -> Result<Compared, ComparisonError> {
    let incremental = changes_since(&later).is_some();
    let also: Vec<&Path> = later_new_members.iter().map(PathBuf::as_path).collect();
    let comparison =
        export_compare::compare_with(earlier.out_dir.as_ref(), later.out_dir.as_ref(), &also, incremental)?;
    Ok(Compared { earlier, later, comparison })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use bulk_client::{ExportLevel, ExportRequest};
    use haul_store::{JobSettings, NewJob};

    use super::*;

    fn job(db: &Database, request: ExportRequest, time: &str) -> i64 {
        let job = db
            .create_job(&NewJob {
                server_id: None,
                fhir_url: "https://x.test/fhir".into(),
                request,
                settings: JobSettings::default(),
                out_dir: PathBuf::from("/tmp/x"),
            })
            .unwrap();
        db.conn().execute("UPDATE exports SET transaction_time = ?2 WHERE id = ?1", (job.id, time)).unwrap();
        job.id
    }

    fn group(since: Option<&str>, types: &[&str]) -> ExportRequest {
        ExportRequest {
            level: Some(ExportLevel::Group("g".into())),
            since: since.map(str::to_string),
            types: types.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn only_runs_of_one_request_without_a_gap_are_compared() {
        let db = Database::open_in_memory().unwrap();
        let october = job(&db, group(None, &["Patient"]), "2026-10-01T00:00:00Z");
        let observations = job(&db, group(None, &["Observation"]), "2026-10-15T00:00:00Z");
        assert!(matches!(pick(&db, october, observations), Err(ComparisonError::OtherRequest { .. })));
        let november = job(&db, group(Some("2026-10-01T00:00:00Z"), &["Patient"]), "2026-11-01T00:00:00Z");
        assert!(pick(&db, october, november).is_ok(), "changes since October's data: no gap");
        let december = job(&db, group(Some("2026-11-01T00:00:00Z"), &["Patient"]), "2026-12-01T00:00:00Z");
        let e = pick(&db, october, december).unwrap_err();
        assert!(matches!(e, ComparisonError::Gap { .. }), "{e}");
        let e = pick(&db, november, december).unwrap_err();
        assert!(matches!(e, ComparisonError::EarlierIsIncremental(id) if id == november), "{e}");
        // AB2D's full exports carry an early _since: they are full all the same.
        let ab2d_full = job(&db, group(Some("2020-01-01T00:00:00+00:00"), &["Patient"]), "2026-12-02T00:00:00Z");
        assert!(pick(&db, october, ab2d_full).is_ok());
        assert!(changes_since(&db.get_job(ab2d_full).unwrap().unwrap()).is_none());
    }
}
