//! What every phase of a running job shares: the job's id, database, session, log, events, cancel token,
//! pacing and folder; and how a phase stops early.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulk_client::export::RetryAfter;
use bulk_client::{ExportError, ExportSession};
use haul_store::{Database, DbError, JobFailure};
use tokio_util::sync::CancellationToken;

use super::events::{EventSink, JobError, JobEvent};
use super::pacing::{Pacing, jitter};
use crate::export_log::ExportLog;
use crate::folder::{ExportFolder, FolderError};
use crate::limits::{DiskFull, DiskGuard, Limits};
use crate::wording;

/// Why a job stopped early.
pub(super) enum Stop {
    Cancelled,
    Failed(JobFailure),
    Fatal(JobError),
}

impl From<DbError> for Stop {
    fn from(e: DbError) -> Self {
        Stop::Fatal(e.into())
    }
}

impl From<FolderError> for Stop {
    fn from(e: FolderError) -> Self {
        match e {
            FolderError::Unwritable { path, source } => io_failure("create", &path, &source),
            other => Stop::Fatal(other.into()),
        }
    }
}

pub(super) fn failure_of(e: &ExportError) -> JobFailure {
    let kind = serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    JobFailure { kind, message: e.message.clone(), detail: e.detail.clone() }
}

/// The disk reached the reserve: the job stops (resumable), with the plain reason.
pub(super) fn disk_full(e: &DiskFull) -> Stop {
    Stop::Failed(JobFailure { kind: "disk_full".into(), message: e.to_string(), detail: None })
}

pub(super) fn io_failure(what: &str, path: &Path, e: &std::io::Error) -> Stop {
    Stop::Failed(JobFailure {
        kind: "disk".into(),
        message: format!(
            "Haul could not {what} {}: {e}. Check that the disk has free space and the folder is writable, then resume.",
            path.display()
        ),
        detail: None,
    })
}

pub(super) struct Ctx {
    pub id: i64,
    pub db: Arc<Mutex<Database>>,
    pub session: ExportSession,
    pub log: ExportLog,
    pub events: EventSink,
    pub cancel: CancellationToken,
    pub pacing: Pacing,
    pub limits: Limits,
    pub disk: DiskGuard,
    /// How many files download at once (fewer when the server asks Haul to slow down).
    pub lanes: super::lanes::Lanes,
    pub folder: ExportFolder,
}

impl Ctx {
    pub fn db<T>(&self, f: impl FnOnce(&mut Database) -> Result<T, DbError>) -> Result<T, Stop> {
        let mut db = self.db.lock().expect("database lock");
        f(&mut db).map_err(Stop::from)
    }

    pub fn emit(&self, e: JobEvent) {
        (self.events)(&e);
    }

    pub async fn pause(&self, d: Duration) -> Result<(), Stop> {
        tokio::select! {
            _ = self.cancel.cancelled() => Err(Stop::Cancelled),
            _ = tokio::time::sleep(d) => Ok(()),
        }
    }

    /// The wait a server asked for (floored and clamped), or Haul's own.
    pub fn wait_for(&self, asked: Option<RetryAfter>, own: Duration) -> Duration {
        match asked {
            Some(r) => {
                if let Some(from) = r.clamped_from {
                    self.emit(JobEvent::Warning {
                        message: format!(
                            "The server asked Haul to wait {} before asking again; Haul waits {} instead.",
                            wording::duration(from),
                            wording::duration(r.wait)
                        ),
                    });
                }
                r.wait.max(self.pacing.min_poll)
            }
            None => jitter(own),
        }
    }
}
