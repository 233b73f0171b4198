//! Schedules: an export repeated by the operating system's scheduler (os-schedule), each run a new export
//! of "only what changed since the last one". Stored here with how the last run went; the scheduler itself
//! only knows to run `haul run-scheduled ID`.

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;
use ts_rs::TS;

use crate::{Database, DbError};

/// How a scheduled run ended, for History and the next start of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum RunOutcome {
    Completed,
    CompletedWithProblems,
    Failed,
    /// The previous run of the same schedule was still going: this one did nothing.
    Skipped,
}

impl RunOutcome {
    fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Completed => "completed",
            RunOutcome::CompletedWithProblems => "completed_with_problems",
            RunOutcome::Failed => "failed",
            RunOutcome::Skipped => "skipped",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "completed" => RunOutcome::Completed,
            "completed_with_problems" => RunOutcome::CompletedWithProblems,
            "failed" => RunOutcome::Failed,
            "skipped" => RunOutcome::Skipped,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Schedule {
    #[ts(type = "number")]
    pub id: i64,
    /// The export it repeats.
    #[ts(type = "number")]
    pub export_id: i64,
    /// `daily`, `weekly` or `monthly` (os-schedule's `Cadence`).
    pub cadence: String,
    /// `HH:MM`, local time.
    pub at: String,
    pub created_at: String,
    pub last_run_at: Option<String>,
    #[ts(type = "number | null")]
    pub last_job_id: Option<i64>,
    pub last_outcome: Option<RunOutcome>,
    pub last_message: Option<String>,
}

impl Schedule {
    /// What the desktop notification says about a failed run, the next time the app opens.
    pub fn failure_notice(&self) -> (String, String) {
        let what = self.last_message.as_deref().unwrap_or("It did not say why.");
        let when = self.last_run_at.as_deref().map(|t| t.get(..16).unwrap_or(t).replace('T', " ")).unwrap_or_default();
        (
            format!("Scheduled export {} failed", self.id),
            format!(
                "The {} run of export {} on {when} UTC failed: {what} History has the details.",
                self.cadence, self.export_id
            ),
        )
    }
}

const COLUMNS: &str =
    "id, export_id, cadence, at_time, created_at, last_run_at, last_job_id, last_outcome, last_message";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Schedule> {
    Ok(Schedule {
        id: r.get(0)?,
        export_id: r.get(1)?,
        cadence: r.get(2)?,
        at: r.get(3)?,
        created_at: r.get(4)?,
        last_run_at: r.get(5)?,
        last_job_id: r.get(6)?,
        last_outcome: r.get::<_, Option<String>>(7)?.as_deref().and_then(RunOutcome::parse),
        last_message: r.get(8)?,
    })
}

impl Database {
    /// Records a schedule repeating export `export_id` (the caller has checked `cadence` and `at`).
    pub fn add_schedule(&self, export_id: i64, cadence: &str, at: &str) -> Result<Schedule, DbError> {
        self.conn()
            .execute(
                "INSERT INTO schedules (export_id, cadence, at_time) VALUES (?1, ?2, ?3)",
                params![export_id, cadence, at],
            )
            .map_err(|e| self.error(e))?;
        let id = self.conn().last_insert_rowid();
        Ok(self.get_schedule(id)?.expect("just inserted"))
    }

    pub fn get_schedule(&self, id: i64) -> Result<Option<Schedule>, DbError> {
        self.conn()
            .query_row(&format!("SELECT {COLUMNS} FROM schedules WHERE id = ?1"), [id], from_row)
            .optional()
            .map_err(|e| self.error(e))
    }

    pub fn list_schedules(&self) -> Result<Vec<Schedule>, DbError> {
        let mut stmt =
            self.conn().prepare(&format!("SELECT {COLUMNS} FROM schedules ORDER BY id")).map_err(|e| self.error(e))?;
        let rows = stmt.query_map([], from_row).map_err(|e| self.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.error(e))
    }

    /// Removes a schedule; false if there was none. Its past runs stay in the history.
    pub fn remove_schedule(&self, id: i64) -> Result<bool, DbError> {
        self.conn().execute("DELETE FROM schedules WHERE id = ?1", [id]).map(|n| n > 0).map_err(|e| self.error(e))
    }

    /// Marks export `job_id` as a run of schedule `schedule_id`.
    pub fn set_job_schedule(&self, job_id: i64, schedule_id: i64) -> Result<(), DbError> {
        self.conn()
            .execute("UPDATE exports SET schedule_id = ?2 WHERE id = ?1", params![job_id, schedule_id])
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Records how a run of schedule `id` ended. A failure is "not seen" until the app has told the user.
    pub fn record_scheduled_run(
        &self,
        id: i64,
        job_id: Option<i64>,
        outcome: RunOutcome,
        message: &str,
    ) -> Result<(), DbError> {
        self.conn()
            .execute(
                "UPDATE schedules SET last_run_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), \
                 last_job_id = COALESCE(?2, last_job_id), last_outcome = ?3, last_message = ?4, failure_seen = ?5 \
                 WHERE id = ?1",
                params![id, job_id, outcome.as_str(), message, outcome != RunOutcome::Failed],
            )
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Schedules whose last run failed and that the app has not told the user about; marks them told.
    pub fn take_unseen_failures(&self) -> Result<Vec<Schedule>, DbError> {
        let mut stmt = self
            .conn()
            .prepare(&format!("SELECT {COLUMNS} FROM schedules WHERE failure_seen = 0 ORDER BY id"))
            .map_err(|e| self.error(e))?;
        let failed: Vec<Schedule> = stmt
            .query_map([], from_row)
            .map_err(|e| self.error(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.error(e))?;
        self.conn()
            .execute("UPDATE schedules SET failure_seen = 1 WHERE failure_seen = 0", [])
            .map_err(|e| self.error(e))?;
        Ok(failed)
    }

    /// The schedule export `job_id` ran for, if it was a scheduled run.
    pub fn schedule_of_job(&self, job_id: i64) -> Result<Option<i64>, DbError> {
        self.conn()
            .query_row("SELECT schedule_id FROM exports WHERE id = ?1", [job_id], |r| r.get(0))
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_keeps_its_last_run_and_a_failure_is_told_once() {
        let db = Database::open_in_memory().unwrap();
        db.conn()
            .execute(
                "INSERT INTO exports (id, fhir_url, request_json, settings_json, out_dir, state, level, types_key) \
                 VALUES (1, 'https://x.test/fhir', '{}', '{}', '/tmp/x', 'completed', 'system', '')",
                [],
            )
            .unwrap();
        let s = db.add_schedule(1, "monthly", "06:00").unwrap();
        assert_eq!((s.cadence.as_str(), s.at.as_str(), s.last_outcome), ("monthly", "06:00", None));
        db.record_scheduled_run(s.id, Some(1), RunOutcome::Failed, "The server was down.").unwrap();
        let failed = db.take_unseen_failures().unwrap();
        assert_eq!(failed.len(), 1);
        let (title, body) = failed[0].failure_notice();
        assert_eq!(title, format!("Scheduled export {} failed", s.id));
        assert!(
            body.starts_with("The monthly run of export 1 on 20") && body.contains("The server was down."),
            "{body}"
        );
        assert_eq!(failed[0].last_message.as_deref(), Some("The server was down."));
        assert!(db.take_unseen_failures().unwrap().is_empty(), "told once");
        db.record_scheduled_run(s.id, None, RunOutcome::Skipped, "The previous run was still going.").unwrap();
        let s = db.get_schedule(s.id).unwrap().unwrap();
        assert_eq!((s.last_outcome, s.last_job_id), (Some(RunOutcome::Skipped), Some(1)));
        db.set_job_schedule(1, s.id).unwrap();
        assert_eq!(db.schedule_of_job(1).unwrap(), Some(s.id));
        assert!(db.remove_schedule(s.id).unwrap());
        assert!(db.list_schedules().unwrap().is_empty());
    }
}
