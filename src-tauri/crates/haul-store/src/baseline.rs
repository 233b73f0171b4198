//! The starting point of "since the last export": the newest export of the same request whose every file
//! arrived and verified, with the reasons newer ones were passed over. A wrong baseline loses data silently
//! (changes between its true and its claimed point in time are never asked for), so every doubt falls back
//! to an older baseline, or to a full export, and says why.

use rusqlite::params;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use ts_rs::TS;

use crate::job_rows::types_key;
use crate::jobs::{JobRecord, JobState};
use crate::{Database, DbError};
use bulk_client::ExportRequest;

/// How far ahead of this computer's clock a server's `transactionTime` may be before it is not believed.
const CLOCK_TOLERANCE: time::Duration = time::Duration::minutes(5);

/// The export an incremental one continues from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Baseline {
    #[ts(type = "number")]
    pub export_id: i64,
    /// The `_since` to send: the export's `transactionTime` (or its `_until`, when it asked for one earlier).
    pub since: String,
    /// When that export was started (what the user remembers it by).
    pub exported_at: String,
}

/// What "since the last export" found: the baseline (none: a full export) and, in words, why newer exports
/// of the same request were not used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct BaselineChoice {
    pub baseline: Option<Baseline>,
    pub passed_over: Vec<String>,
}

/// Who an export is for: the saved server (one server even when its address changes), or, for an address
/// given on the command line, the address and the client it signed in as. Two clients of one address (BCDA's
/// one API for every ACO) see different data, so one's export is never the other's baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportScope<'a> {
    Saved(i64),
    Address { fhir_url: &'a str, client_id: Option<&'a str> },
}

impl ExportScope<'_> {
    fn holds(&self, job: &JobRecord) -> bool {
        match *self {
            ExportScope::Saved(id) => job.server_id == Some(id),
            ExportScope::Address { client_id, .. } => {
                job.server_id.is_none() && job.settings.auth.as_ref().and_then(|a| a.client_id.as_deref()) == client_id
            }
        }
    }
}

/// Two requests export the same thing: the same level, group and types, and the same filters, elements,
/// patients and associated data. For baselines here, and for comparisons (export-jobs).
pub fn same_request(a: &ExportRequest, b: &ExportRequest) -> bool {
    a.level() == b.level() && types_key(&a.types) == types_key(&b.types) && shape(a) == shape(b)
}

/// [`same_request`] as text: equal for two requests exactly when they are the same request (it names the
/// current dataset the exports of one request keep up to date).
pub fn request_key(request: &ExportRequest) -> String {
    let level = serde_json::to_string(request.level()).expect("levels serialize");
    let shape = serde_json::to_string(&shape(request)).expect("strings serialize");
    format!("{level}|{}|{shape}", types_key(&request.types))
}

impl ExportScope<'_> {
    /// Who the export is for, as text (for [`request_key`]'s companions).
    pub fn key(&self) -> String {
        match *self {
            ExportScope::Saved(id) => format!("server {id}"),
            ExportScope::Address { fhir_url, client_id } => format!("{fhir_url} as {}", client_id.unwrap_or("")),
        }
    }
}

/// The parts of a request that change what an export holds, in one comparable form: two exports continue
/// each other only if these are equal (the level, group and types are compared in SQL).
fn shape(request: &ExportRequest) -> Vec<Vec<String>> {
    let sorted = |items: &[String]| {
        let mut v: Vec<String> = items.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        v.sort();
        v.dedup();
        v
    };
    let patients: Vec<String> =
        request.patients.iter().map(|p| p.trim().trim_start_matches("Patient/").to_string()).collect();
    vec![
        sorted(&request.type_filters),
        sorted(&request.elements),
        sorted(&patients),
        sorted(&request.include_associated_data),
    ]
}

fn parse(instant: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(instant, &Rfc3339).ok()
}

/// "1 Oct 2026" from a stored timestamp (UTC), for sentences.
pub fn day_of(stamp: &str) -> String {
    match parse(stamp) {
        Some(t) => format!("{} {} {}", t.day(), &format!("{}", t.month())[..3], t.year()),
        None => stamp.to_string(),
    }
}

/// "1 Oct 2026 14:03 UTC" from a FHIR instant, for sentences.
pub fn moment_of(instant: &str) -> String {
    match parse(instant) {
        Some(t) => {
            let t = t.to_offset(time::UtcOffset::UTC);
            format!("{} {:02}:{:02} UTC", day_of(instant), t.hour(), t.minute())
        }
        None => instant.to_string(),
    }
}

/// Why `job`, taken on its own, is no starting point for changes since it: not every file arrived, its folder
/// is gone, or the server dated it in the future. (A clock that went backwards shows only beside the exports
/// before it.) `None`: it is one, as far as it alone can tell.
pub fn unusable_alone(job: &JobRecord, now: OffsetDateTime) -> Option<String> {
    let day = day_of(&job.created_at);
    if job.state != JobState::Completed {
        return Some(format!(
            "The export of {day} (number {}) is not used as the starting point: not all of it arrived ({}), so what it missed is asked for again.",
            job.id,
            job.state.label()
        ));
    }
    // What it held is no longer on this computer: continuing from it would leave that month out.
    if !std::path::Path::new(&job.out_dir).is_dir() {
        return Some(format!(
            "The export of {day} (number {}) is not used as the starting point: its folder {} was deleted or moved. Move it back to continue from it; otherwise this export starts from an earlier one, or asks for everything.",
            job.id, job.out_dir
        ));
    }
    let time = job.transaction_time.as_deref().and_then(parse);
    if time.is_some_and(|t| t > now + CLOCK_TOLERANCE) {
        return Some(format!(
            "The export of {day} (number {}) is not used as the starting point: the server dated it {}, which is in the future by this computer's clock, so the server's clock may be wrong.",
            job.id,
            job.transaction_time.as_deref().unwrap_or_default()
        ));
    }
    None
}

/// The `_since` that continues from `job`: its `transactionTime`, or its `_until` when it asked for an earlier
/// one (it then covers changes up to that, not up to its transactionTime). `None` before it finished.
pub fn since_of(job: &JobRecord) -> Option<String> {
    let time = parse(job.transaction_time.as_deref()?)?;
    let until = job.request.until.as_deref().and_then(parse).filter(|u| *u < time);
    match until {
        Some(_) => job.request.until.clone(),
        None => job.transaction_time.clone(),
    }
}

impl Database {
    /// The baseline for an incremental export of `request` for `scope` (see the module comment).
    pub fn baseline_for(&self, scope: ExportScope<'_>, request: &ExportRequest) -> Result<BaselineChoice, DbError> {
        self.baseline_at(scope, request, OffsetDateTime::now_utc())
    }

    pub(crate) fn baseline_at(
        &self,
        scope: ExportScope<'_>,
        request: &ExportRequest,
        now: OffsetDateTime,
    ) -> Result<BaselineChoice, DbError> {
        let wanted = shape(request);
        let candidates: Vec<JobRecord> = self
            .finished_jobs_like(scope, request)?
            .into_iter()
            .filter(|job| scope.holds(job) && shape(&job.request) == wanted)
            .collect();
        let mut choice = BaselineChoice::default();
        // Newest first (by when Haul started them, which a server's clock cannot disturb).
        for (index, job) in candidates.iter().enumerate() {
            if let Some(why) = unusable_alone(job, now) {
                choice.passed_over.push(why);
                continue;
            }
            let day = day_of(&job.created_at);
            let Some(time) = job.transaction_time.as_deref().and_then(parse) else { continue };
            // An older complete export the server dated later: the server's clock went backwards, and neither
            // date can be trusted to have missed nothing.
            let later_before = candidates[index + 1..].iter().find(|older| {
                older.state == JobState::Completed
                    && older.transaction_time.as_deref().and_then(parse).is_some_and(|t| t > time)
            });
            if let Some(older) = later_before {
                choice.passed_over.push(format!(
                    "The server dated the export of {day} (number {}) earlier than the export of {} (number {}) before it: its clock went backwards, so no earlier export is a safe starting point. This export asks for everything.",
                    job.id,
                    day_of(&older.created_at),
                    older.id
                ));
                return Ok(choice);
            }
            let since = since_of(job).unwrap_or_default();
            choice.baseline = Some(Baseline { export_id: job.id, since, exported_at: job.created_at.clone() });
            return Ok(choice);
        }
        Ok(choice)
    }

    /// Finished exports (completed, with or without problems) of the same level, group and types, newest
    /// first: of the saved server (at any address it had), or at the address.
    fn finished_jobs_like(&self, scope: ExportScope<'_>, request: &ExportRequest) -> Result<Vec<JobRecord>, DbError> {
        let (level, group) = crate::job_rows::level_parts(request.level());
        let (server_id, url) = match scope {
            ExportScope::Saved(id) => (Some(id), None),
            ExportScope::Address { fhir_url, .. } => (None, Some(fhir_url.trim_end_matches('/'))),
        };
        let sql = format!(
            "SELECT {} FROM exports WHERE (server_id = ?1 OR fhir_url = ?2) AND level = ?3 AND group_id IS ?4 \
             AND types_key = ?5 AND state IN ('completed', 'completed_with_problems') \
             AND transaction_time IS NOT NULL ORDER BY id DESC",
            crate::job_rows::JOB_COLUMNS
        );
        let mut stmt = self.conn().prepare(&sql).map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map(params![server_id, url, level, group, types_key(&request.types)], crate::job_rows::job_from_row)
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.error(e))
    }
}

#[cfg(test)]
#[path = "baseline_tests.rs"]
mod tests;
