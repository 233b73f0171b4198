//! The export engine that the desktop app and the `haul` command line share: from a plan (server, request,
//! options) to a job, the export folder's layout, and the runner that takes a job through kickoff, polling,
//! downloads, verification and the end, resumable at every step.
//!
//! What it keeps lives in haul-store (SQLite, keychain); HTTP is bulk-client's; nothing here knows Tauri.

pub mod comparison;
pub mod dataset;
pub mod delta;
pub mod export_log;
pub mod folder;
pub mod limits;
pub mod plan;
pub mod probe;
pub mod quirks;
pub mod runner;
pub mod scheduled;
pub mod schemas;
mod sign_in;
pub mod storage_sign_in;
pub mod verify;
pub mod wording;

pub use folder::{ExportFolder, ExportTarget, FolderError, export_target, local_folder};
pub use limits::{DiskFull, Limits};
pub use plan::{ExportPlan, ExportPreview, PlanError, PlannedExport, ServerChoice, Since, describe_baseline};
pub use runner::{EventSink, ExportRunner, JobError, JobEvent, JobOutcome, Pacing};
pub use schemas::{RememberedSchemas, server_of_folder};
