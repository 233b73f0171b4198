//! Export jobs as rows: every step of a job is written here before the runner acts on it, so a process
//! killed at any moment can be resumed.

use rusqlite::{OptionalExtension, Row, params};

use crate::jobs::{FileKind, FileRecord, FileState, JobFailure, JobRecord, JobState, NewFile, NewJob, TypeTotal};
use crate::{Database, DbError};
use bulk_client::ExportLevel;

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
/// A cancel recorded by another process survives the running job's next step, in one of two forms: the start
/// of a `CASE` that keeps a cancelled job's state while the row's other columns are recorded (close it with the
/// new state and `END`), or a condition that leaves a cancelled job's row as it is.
const KEEP_CANCEL: &str = "CASE WHEN state = 'cancelled' THEN state ELSE ";
const NOT_CANCELLED: &str = "state != 'cancelled'";

pub(crate) fn level_parts(level: &ExportLevel) -> (&'static str, Option<&str>) {
    match level {
        ExportLevel::System => ("system", None),
        ExportLevel::Patient => ("patient", None),
        ExportLevel::Group(id) => ("group", Some(id.as_str())),
    }
}

/// The `_type` list in one canonical form, for matching earlier exports.
pub fn types_key(types: &[String]) -> String {
    let mut t: Vec<&str> = types.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
    t.sort_unstable();
    t.dedup();
    t.join(",")
}

pub(crate) const JOB_COLUMNS: &str = "id, server_id, fhir_url, request_json, settings_json, out_dir, state, status_url, progress, \
     transaction_time, expires, problems_json, error_kind, error_message, error_detail, created_at, kicked_off_at, \
     completed_at, updated_at, blocked_by, schedule_id";

pub(crate) fn job_from_row(r: &Row<'_>) -> rusqlite::Result<JobRecord> {
    let json_err = |i: usize, e: serde_json::Error| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    };
    let request: String = r.get(3)?;
    let settings: String = r.get(4)?;
    let problems: String = r.get(11)?;
    let error_kind: Option<String> = r.get(12)?;
    Ok(JobRecord {
        id: r.get(0)?,
        server_id: r.get(1)?,
        fhir_url: r.get(2)?,
        request: serde_json::from_str(&request).map_err(|e| json_err(3, e))?,
        settings: serde_json::from_str(&settings).map_err(|e| json_err(4, e))?,
        out_dir: r.get(5)?,
        state: JobState::parse(&r.get::<_, String>(6)?),
        status_url: r.get(7)?,
        progress: r.get(8)?,
        transaction_time: r.get(9)?,
        expires: r.get(10)?,
        problems: serde_json::from_str(&problems).map_err(|e| json_err(11, e))?,
        failure: match error_kind {
            Some(kind) => Some(JobFailure { kind, message: r.get(13)?, detail: r.get(14)? }),
            None => None,
        },
        created_at: r.get(15)?,
        kicked_off_at: r.get(16)?,
        completed_at: r.get(17)?,
        updated_at: r.get(18)?,
        blocked_by: r.get(19)?,
        schedule_id: r.get(20)?,
    })
}

fn file_from_row(r: &Row<'_>) -> rusqlite::Result<FileRecord> {
    Ok(FileRecord {
        seq: r.get(0)?,
        kind: FileKind::parse(&r.get::<_, String>(1)?),
        resource_type: r.get(2)?,
        url: r.get(3)?,
        name: r.get(4)?,
        expected_count: r.get::<_, Option<i64>>(5)?.map(|n| n as u64),
        state: FileState::parse(&r.get::<_, String>(6)?),
        bytes_done: r.get::<_, i64>(7)? as u64,
        resources: r.get::<_, Option<i64>>(8)?.map(|n| n as u64),
        bad_lines: r.get::<_, i64>(9)? as u64,
        attempts: r.get(10)?,
        error: r.get(11)?,
        error_kind: r.get(12)?,
    })
}

impl Database {
    pub fn create_job(&self, job: &NewJob) -> Result<JobRecord, DbError> {
        let (level, group) = level_parts(job.request.level());
        let request = serde_json::to_string(&job.request).expect("requests serialize");
        let settings = serde_json::to_string(&job.settings).expect("settings serialize");
        self.conn()
            .execute(
                "INSERT INTO exports (server_id, fhir_url, level, group_id, request_json, settings_json, types_key, \
                 out_dir, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'created')",
                params![
                    job.server_id,
                    job.fhir_url.trim_end_matches('/'),
                    level,
                    group,
                    request,
                    settings,
                    types_key(&job.request.types),
                    job.out_dir.to_string_lossy()
                ],
            )
            .map_err(|e| self.error(e))?;
        let id = self.conn().last_insert_rowid();
        Ok(self.get_job(id)?.expect("the row just inserted"))
    }

    pub fn get_job(&self, id: i64) -> Result<Option<JobRecord>, DbError> {
        self.conn()
            .query_row(&format!("SELECT {JOB_COLUMNS} FROM exports WHERE id = ?1"), [id], job_from_row)
            .optional()
            .map_err(|e| self.error(e))
    }

    /// Newest first.
    pub fn list_jobs(&self, limit: u32) -> Result<Vec<JobRecord>, DbError> {
        let mut stmt = self
            .conn()
            .prepare(&format!("SELECT {JOB_COLUMNS} FROM exports ORDER BY id DESC LIMIT ?1"))
            .map_err(|e| self.error(e))?;
        let rows = stmt.query_map([limit], job_from_row).map_err(|e| self.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.error(e))
    }

    /// The job that polls `status_url`, if Haul started it (a busy server may name the export it is running).
    pub fn job_by_status_url(&self, status_url: &str) -> Result<Option<JobRecord>, DbError> {
        self.conn()
            .query_row(
                &format!("SELECT {JOB_COLUMNS} FROM exports WHERE status_url = ?1 ORDER BY id DESC LIMIT 1"),
                [status_url],
                job_from_row,
            )
            .optional()
            .map_err(|e| self.error(e))
    }

    /// Jobs a killed process left behind: started, not finished.
    pub fn interrupted_jobs(&self) -> Result<Vec<JobRecord>, DbError> {
        let mut stmt = self
            .conn()
            .prepare(&format!(
                "SELECT {JOB_COLUMNS} FROM exports WHERE state IN ('created', 'kicked_off', 'downloading') ORDER BY id"
            ))
            .map_err(|e| self.error(e))?;
        let rows = stmt.query_map([], job_from_row).map_err(|e| self.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.error(e))
    }

    pub fn job_state(&self, id: i64) -> Result<Option<JobState>, DbError> {
        self.conn()
            .query_row("SELECT state FROM exports WHERE id = ?1", [id], |r| r.get::<_, String>(0))
            .optional()
            .map(|s| s.map(|s| JobState::parse(&s)))
            .map_err(|e| self.error(e))
    }

    /// Records the status URL; false if the job was cancelled meanwhile (from another process). A cancelled job
    /// stays cancelled, here and in `set_manifest`: the runner stops and tells the server.
    pub fn set_kicked_off(&self, id: i64, status_url: &str) -> Result<bool, DbError> {
        self.conn()
            .execute(
                &format!(
                    "UPDATE exports SET state = {KEEP_CANCEL}'kicked_off' END, status_url = ?2, \
                     kicked_off_at = {NOW}, updated_at = {NOW} WHERE id = ?1"
                ),
                params![id, status_url],
            )
            .map_err(|e| self.error(e))?;
        self.still_running(id)
    }

    /// False for a job cancelled (by any process).
    fn still_running(&self, id: i64) -> Result<bool, DbError> {
        Ok(self.job_state(id)? != Some(JobState::Cancelled))
    }

    pub fn set_progress(&self, id: i64, progress: Option<&str>) -> Result<(), DbError> {
        self.conn()
            .execute(
                &format!("UPDATE exports SET progress = ?2, updated_at = {NOW} WHERE id = ?1"),
                params![id, progress],
            )
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Records the manifest and its files in one transaction, and moves the job to `downloading`; false if the
    /// job was cancelled meanwhile (its state kept).
    pub fn set_manifest(
        &mut self,
        id: i64,
        manifest_json: &str,
        transaction_time: &str,
        expires: Option<&str>,
        files: &[NewFile],
    ) -> Result<bool, DbError> {
        let path = self.path().to_path_buf();
        let err = |e| crate::db::classify(&path, e);
        let tx = self.conn_mut().transaction().map_err(err)?;
        tx.execute(
            &format!(
                "UPDATE exports SET state = {KEEP_CANCEL}'downloading' END, manifest_json = ?2, \
                 transaction_time = ?3, expires = ?4, progress = NULL, updated_at = {NOW} WHERE id = ?1"
            ),
            params![id, manifest_json, transaction_time, expires],
        )
        .map_err(err)?;
        tx.execute("DELETE FROM export_files WHERE export_id = ?1", [id]).map_err(err)?;
        for (seq, f) in files.iter().enumerate() {
            tx.execute(
                "INSERT INTO export_files (export_id, seq, kind, resource_type, url, name, expected_count, state) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending')",
                params![
                    id,
                    seq as i64,
                    f.kind.as_str(),
                    f.resource_type,
                    f.url,
                    f.name,
                    f.expected_count.map(|n| n as i64)
                ],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        self.still_running(id)
    }

    pub fn manifest_json(&self, id: i64) -> Result<Option<String>, DbError> {
        self.conn()
            .query_row("SELECT manifest_json FROM exports WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.error(e))
    }

    pub fn job_files(&self, id: i64) -> Result<Vec<FileRecord>, DbError> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT seq, kind, resource_type, url, name, expected_count, state, bytes_done, resources, bad_lines, \
                 attempts, error, error_kind FROM export_files WHERE export_id = ?1 ORDER BY seq",
            )
            .map_err(|e| self.error(e))?;
        let rows = stmt.query_map([id], file_from_row).map_err(|e| self.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.error(e))
    }

    pub fn set_file_state(&self, id: i64, seq: u32, state: FileState, bytes_done: u64) -> Result<(), DbError> {
        self.conn()
            .execute(
                "UPDATE export_files SET state = ?3, bytes_done = ?4 WHERE export_id = ?1 AND seq = ?2",
                params![id, seq, state.as_str(), bytes_done as i64],
            )
            .map(drop)
            .map_err(|e| self.error(e))
    }

    pub fn add_file_attempt(&self, id: i64, seq: u32) -> Result<(), DbError> {
        self.conn()
            .execute(
                "UPDATE export_files SET attempts = attempts + 1 WHERE export_id = ?1 AND seq = ?2",
                params![id, seq],
            )
            .map(drop)
            .map_err(|e| self.error(e))
    }

    pub fn set_file_verified(
        &self,
        id: i64,
        seq: u32,
        bytes: u64,
        resources: u64,
        bad_lines: u64,
    ) -> Result<(), DbError> {
        self.conn()
            .execute(
                "UPDATE export_files SET state = 'verified', bytes_done = ?3, resources = ?4, bad_lines = ?5, error = NULL \
                 WHERE export_id = ?1 AND seq = ?2",
                params![id, seq, bytes as i64, resources as i64, bad_lines as i64],
            )
            .map(drop)
            .map_err(|e| self.error(e))
    }

    pub fn set_file_failed(&self, id: i64, seq: u32, failure: &JobFailure) -> Result<(), DbError> {
        self.conn()
            .execute(
                "UPDATE export_files SET state = 'failed', error = ?3, error_kind = ?4 WHERE export_id = ?1 AND seq = ?2",
                params![id, seq, failure.message, failure.kind],
            )
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// A failed job's files that may be tried again (not the expired ones), back to pending; the job back to
    /// `downloading`. Used by resume. Only a job still failed: one cancelled meanwhile stays as it is.
    pub fn reopen_job(&self, id: i64, retry_files: &[u32]) -> Result<(), DbError> {
        let conn = self.conn();
        let tx = conn.unchecked_transaction().map_err(|e| self.error(e))?;
        let reopened = tx
            .execute(
                &format!(
                    "UPDATE exports SET state = CASE WHEN manifest_json IS NOT NULL THEN 'downloading' \
                     WHEN status_url IS NOT NULL THEN 'kicked_off' ELSE 'created' END, error_kind = NULL, \
                     error_message = NULL, error_detail = NULL, problems_json = '[]', completed_at = NULL, \
                     updated_at = {NOW} WHERE id = ?1 AND state = 'failed'"
                ),
                [id],
            )
            .map_err(|e| self.error(e))?;
        if reopened > 0 {
            for seq in retry_files {
                tx.execute(
                    "UPDATE export_files SET state = 'pending', error = NULL WHERE export_id = ?1 AND seq = ?2",
                    params![id, seq],
                )
                .map_err(|e| self.error(e))?;
            }
        }
        tx.commit().map_err(|e| self.error(e))
    }

    /// Starts a job over at another address of its server: back to `created` with `fhir_url`, nothing of the
    /// earlier export kept (its status URL, manifest, files, problems). For the built-in demo server, which
    /// comes back on a new port after a restart and keeps no exports.
    pub fn restart_job_at(&self, id: i64, fhir_url: &str) -> Result<(), DbError> {
        let conn = self.conn();
        let tx = conn.unchecked_transaction().map_err(|e| self.error(e))?;
        // A job cancelled meanwhile (by another process) stays cancelled, with its rows.
        let restarted = tx
            .execute(
                &format!(
                    "UPDATE exports SET state = 'created', fhir_url = ?2, status_url = NULL, progress = NULL, \
                     manifest_json = NULL, transaction_time = NULL, expires = NULL, problems_json = '[]', \
                     error_kind = NULL, error_message = NULL, error_detail = NULL, blocked_by = NULL, \
                     kicked_off_at = NULL, completed_at = NULL, updated_at = {NOW} WHERE id = ?1 AND {NOT_CANCELLED}"
                ),
                params![id, fhir_url],
            )
            .map_err(|e| self.error(e))?;
        if restarted > 0 {
            tx.execute("DELETE FROM export_files WHERE export_id = ?1", [id]).map_err(|e| self.error(e))?;
        }
        tx.commit().map_err(|e| self.error(e))
    }

    /// The end of a job. `failure` is recorded for `failed`. A cancel (from any process) is never overwritten:
    /// a job cancelled elsewhere may fail here a moment later, because the server already dropped it.
    pub fn finish_job(
        &self,
        id: i64,
        state: JobState,
        problems: &[String],
        failure: Option<&JobFailure>,
    ) -> Result<(), DbError> {
        let problems = serde_json::to_string(problems).expect("strings serialize");
        self.conn()
            .execute(
                &format!(
                    "UPDATE exports SET state = ?2, problems_json = ?3, error_kind = ?4, error_message = ?5, \
                     error_detail = ?6, progress = NULL, completed_at = {NOW}, updated_at = {NOW} \
                     WHERE id = ?1 AND {NOT_CANCELLED}"
                ),
                params![
                    id,
                    state.as_str(),
                    problems,
                    failure.map(|f| f.kind.as_str()),
                    failure.map(|f| f.message.as_str()),
                    failure.and_then(|f| f.detail.as_deref())
                ],
            )
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Records (or, with `None`, clears) the export the server is running instead of job `id`.
    pub fn set_blocked_by(&self, id: i64, status_url: Option<&str>) -> Result<(), DbError> {
        self.conn()
            .execute("UPDATE exports SET blocked_by = ?2 WHERE id = ?1", params![id, status_url])
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Keeps the group's name the server gave, for an export that was started without one (the user typed
    /// the group's id); a name already kept stays.
    pub fn set_group_name(&self, id: i64, name: &str) -> Result<(), DbError> {
        self.conn()
            .execute(
                "UPDATE exports SET settings_json = json_set(settings_json, '$.groupName', ?2) \
                 WHERE id = ?1 AND json_extract(settings_json, '$.groupName') IS NULL",
                params![id, name],
            )
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Marks a job cancelled (a runner in any process notices within a second). False if it had finished.
    pub fn request_cancel(&self, id: i64) -> Result<bool, DbError> {
        let n = self
            .conn()
            .execute(
                &format!(
                    "UPDATE exports SET state = 'cancelled', progress = NULL, completed_at = {NOW}, updated_at = {NOW} \
                     WHERE id = ?1 AND state IN ('created', 'kicked_off', 'downloading', 'failed')"
                ),
                [id],
            )
            .map_err(|e| self.error(e))?;
        Ok(n > 0)
    }

    /// Records how many deleted resources a verified `deleted[]` file lists.
    pub fn set_file_deletions(&self, id: i64, seq: u32, deletions: u64) -> Result<(), DbError> {
        self.conn()
            .execute(
                "UPDATE export_files SET deletions = ?3 WHERE export_id = ?1 AND seq = ?2",
                params![id, seq, deletions as i64],
            )
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Resources the server reported deleted since `_since` (the verified lines of the manifest's `deleted[]`
    /// files): an incremental export's deletions, to show and to apply.
    pub fn deletion_count(&self, id: i64) -> Result<u64, DbError> {
        self.conn()
            .query_row(
                "SELECT COALESCE(SUM(deletions), 0) FROM export_files WHERE export_id = ?1 AND kind = 'deleted' \
                 AND state = 'verified'",
                [id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.error(e))
    }

    /// Verified output per resource type (error and deleted files are not resources of the export).
    pub fn type_totals(&self, id: i64) -> Result<Vec<TypeTotal>, DbError> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT resource_type, COUNT(*), COALESCE(SUM(resources), 0), COALESCE(SUM(bytes_done), 0) \
                 FROM export_files WHERE export_id = ?1 AND kind = 'output' GROUP BY resource_type ORDER BY resource_type",
            )
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(TypeTotal {
                    resource_type: r.get(0)?,
                    files: r.get(1)?,
                    resources: r.get::<_, i64>(2)? as u64,
                    bytes: r.get::<_, i64>(3)? as u64,
                })
            })
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::JobSettings;
    use std::path::PathBuf;

    fn new_job(types: &[&str], group: Option<&str>) -> NewJob {
        NewJob {
            server_id: None,
            fhir_url: "https://ehr.test/fhir".into(),
            request: bulk_client::ExportRequest {
                level: Some(group.map_or(ExportLevel::Patient, |g| ExportLevel::Group(g.into()))),
                types: types.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
            settings: JobSettings::default(),
            out_dir: PathBuf::from("/tmp/x"),
        }
    }

    #[test]
    fn a_job_walks_its_states_and_keeps_its_files() {
        let mut db = Database::open_in_memory().unwrap();
        let job = db.create_job(&new_job(&["Patient"], Some("g1"))).unwrap();
        assert_eq!(job.state, JobState::Created);
        assert_eq!(db.interrupted_jobs().unwrap().len(), 1);
        db.set_kicked_off(job.id, "https://ehr.test/status/1").unwrap();
        let files = [NewFile {
            kind: FileKind::Output,
            resource_type: "Patient".into(),
            url: "https://ehr.test/f/1".into(),
            name: "Patient.000.ndjson".into(),
            expected_count: Some(3),
        }];
        db.set_manifest(job.id, "{}", "2026-11-01T00:00:00Z", None, &files).unwrap();
        db.set_file_verified(job.id, 0, 300, 3, 0).unwrap();
        db.finish_job(job.id, JobState::Completed, &[], None).unwrap();
        let done = db.get_job(job.id).unwrap().unwrap();
        assert_eq!(done.state, JobState::Completed);
        assert_eq!(done.transaction_time.as_deref(), Some("2026-11-01T00:00:00Z"));
        assert_eq!(db.type_totals(job.id).unwrap()[0].resources, 3);
        assert!(db.interrupted_jobs().unwrap().is_empty());
        assert!(!db.request_cancel(job.id).unwrap(), "a completed job cannot be cancelled");
    }

    #[test]
    fn a_cancel_recorded_while_the_job_runs_survives_its_next_steps() {
        let mut db = Database::open_in_memory().unwrap();
        let job = db.create_job(&new_job(&["Patient"], Some("g1"))).unwrap();
        assert!(db.request_cancel(job.id).unwrap());
        assert!(!db.set_kicked_off(job.id, "https://ehr.test/status/1").unwrap(), "the runner is told to stop");
        let kicked = db.get_job(job.id).unwrap().unwrap();
        assert_eq!(kicked.state, JobState::Cancelled);
        assert_eq!(kicked.status_url.as_deref(), Some("https://ehr.test/status/1"), "kept, to tell the server");
        assert!(!db.set_manifest(job.id, "{}", "2026-11-01T00:00:00Z", None, &[]).unwrap(), "said: stop");
        db.finish_job(job.id, JobState::Failed, &[], None).unwrap();
        db.reopen_job(job.id, &[]).unwrap();
        db.restart_job_at(job.id, "http://127.0.0.1:9/fhir").unwrap();
        let kept = db.get_job(job.id).unwrap().unwrap();
        assert_eq!((kept.state, kept.status_url.is_some()), (JobState::Cancelled, true));
        // A job not cancelled moves on as before.
        let other = db.create_job(&new_job(&["Patient"], Some("g1"))).unwrap();
        assert!(db.set_kicked_off(other.id, "https://ehr.test/status/2").unwrap());
        assert_eq!(db.get_job(other.id).unwrap().unwrap().state, JobState::KickedOff);
        assert!(db.set_manifest(other.id, "{}", "2026-11-01T00:00:00Z", None, &[]).unwrap());
        assert_eq!(db.get_job(other.id).unwrap().unwrap().state, JobState::Downloading);
        // A failed job is reopened by a resume; a demo job restarted at the server's new address.
        db.finish_job(other.id, JobState::Failed, &[], None).unwrap();
        db.reopen_job(other.id, &[]).unwrap();
        assert_eq!(db.get_job(other.id).unwrap().unwrap().state, JobState::Downloading);
        db.restart_job_at(other.id, "http://127.0.0.1:9/fhir").unwrap();
        assert_eq!(db.get_job(other.id).unwrap().unwrap().state, JobState::Created);
    }

    #[test]
    fn a_group_name_learned_later_fills_a_gap_and_never_replaces_one_kept() {
        let db = Database::open_in_memory().unwrap();
        let typed = db.create_job(&new_job(&["Patient"], Some("aco-north"))).unwrap();
        db.set_group_name(typed.id, "ACO North Regional").unwrap();
        assert_eq!(db.get_job(typed.id).unwrap().unwrap().settings.group_name.as_deref(), Some("ACO North Regional"));
        let mut picked = new_job(&["Patient"], Some("aco-south"));
        picked.settings.group_name = Some("ACO South".into());
        let picked = db.create_job(&picked).unwrap();
        db.set_group_name(picked.id, "Something else").unwrap();
        assert_eq!(db.get_job(picked.id).unwrap().unwrap().settings.group_name.as_deref(), Some("ACO South"));
    }
}
