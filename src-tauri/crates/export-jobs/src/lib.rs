//! What the desktop app and the `haul` command line share about persistence: where Haul keeps its data,
//! the SQLite database (schema migrations included) and the records in it, and the export job runner.
//!
//! Nothing here knows HTTP or Tauri: the app shell and the CLI drive these types.

pub mod data_dir;
pub mod db;
pub mod export_log;
pub mod groups;
pub mod jobs;
pub mod keychain;
pub mod keys;
pub mod runner;
pub mod servers;
pub mod tables;
pub mod verify;

pub use data_dir::{DataDir, DataDirError};
pub use db::{Database, DbError, DbProblem};
pub use groups::PinnedGroup;
pub use jobs::{
    AuthSettings, FileKind, FileRecord, FileState, JobFailure, JobRecord, JobSettings, JobState, NewJob, TypeTotal,
};
pub use keychain::{Keychain, KeychainError};
pub use keys::{KeyInfo, KeyStoreError};
pub use runner::{EventSink, ExportRunner, JobError, JobEvent, JobOutcome, Pacing};
pub use servers::{AuthKind, DEMO_NAME, Server, ServerError, ServerInput, UrlCheck, check_base_url};
pub use tables::{RememberedSchemas, server_of_folder};
