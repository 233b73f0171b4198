//! What a job tells the world: events as it runs, its outcome, and why it could not run at all.

use std::sync::Arc;

use haul_store::{DbError, JobFailure, JobState, KeyStoreError, TypeTotal};
use serde::Serialize;
use ts_rs::TS;

use crate::folder::FolderError;
use crate::plan::PlanError;

/// What a running job reports, as it happens (the CLI prints these; the app forwards them to the window).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
#[ts(export)]
pub enum JobEvent {
    State {
        state: JobState,
    },
    KickedOff {
        #[serde(rename = "statusUrl")]
        status_url: String,
    },
    /// The server's `X-Progress`, or nothing new.
    Progress {
        text: Option<String>,
    },
    /// Haul waits before asking again: why, and for how long.
    Waiting {
        reason: String,
        seconds: f64,
    },
    /// Not a failure, but worth knowing (a clamped Retry-After, a retry, a count that does not match).
    Warning {
        message: String,
    },
    Manifest {
        files: u32,
        #[serde(rename = "transactionTime")]
        transaction_time: String,
        /// The server's `Expires` for the files (an HTTP-date), when it said: how long they can be fetched.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        expires: Option<String>,
    },
    FileStarted {
        seq: u32,
        name: String,
        #[serde(rename = "resourceType")]
        resource_type: String,
        #[serde(rename = "resumeFrom")]
        #[ts(type = "number")]
        resume_from: u64,
    },
    FileProgress {
        seq: u32,
        #[ts(type = "number")]
        bytes: u64,
        #[ts(type = "number | null")]
        total: Option<u64>,
    },
    FileVerified {
        seq: u32,
        name: String,
        #[ts(type = "number")]
        resources: u64,
        #[ts(type = "number")]
        bytes: u64,
        #[serde(rename = "badLines")]
        #[ts(type = "number")]
        bad_lines: u64,
    },
    FileFailed {
        seq: u32,
        name: String,
        message: String,
    },
    Finished {
        state: JobState,
        message: String,
    },
}

pub type EventSink = Arc<dyn Fn(&JobEvent) + Send + Sync>;

/// Why a job could not be run at all (as opposed to running and failing, which is a [`JobOutcome`]).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("There is no export {0} in Haul's history.")]
    NotFound(i64),
    #[error("Export {id} is {} and cannot be resumed; start a new export instead.", state.label())]
    Finished { id: i64, state: JobState },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Key(#[from] KeyStoreError),
    #[error("{message}")]
    Server { message: String, detail: Option<String> },
    #[error(transparent)]
    Folder(#[from] FolderError),
    /// The saved server is not ready for what was asked (its sign-in has no client ID, key or saved secret
    /// yet): nothing was sent.
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("Export {0} is already running (in another Haul window or terminal). Let it finish, or cancel it there.")]
    AlreadyRunning(i64),
    /// Resuming cannot help: what is missing expired on the server.
    #[error(
        "The server no longer has {lost} of export {id}'s files (they expired), so resuming cannot bring them back. Run the same request again as a new export (History → Run again, or `haul export` with the same options); the files that arrived stay in this export's folder."
    )]
    FilesExpired { id: i64, lost: u32 },
    /// No export on the server is recorded as standing in this one's way (or it was cancelled already).
    #[error(
        "Export {0} was not held up by another export on the server, so there is nothing of the server's to cancel."
    )]
    NothingBlocking(i64),
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct JobOutcome {
    #[ts(type = "number")]
    pub id: i64,
    pub state: JobState,
    /// One sentence for the user.
    pub message: String,
    pub totals: Vec<TypeTotal>,
    pub problems: Vec<String>,
    pub failure: Option<JobFailure>,
}
