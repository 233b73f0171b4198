//! What Haul keeps between runs, shared by the desktop app and the `haul` command line: where Haul keeps
//! its data, the SQLite database (schema migrations included) and the records in it — servers, signing
//! keys (private halves in the OS keychain), pinned groups, export job records, remembered table schemas.
//!
//! Nothing here speaks HTTP or knows Tauri; the job engine (export-jobs) and the shells drive these types.

pub mod baseline;
pub mod data_dir;
pub mod db;
pub mod groups;
pub mod job_rows;
pub mod jobs;
pub mod keychain;
pub mod keys;
pub mod schedules;
pub mod secret_file;
pub mod servers;
pub mod storage_sign_ins;
pub mod tables;
mod uploads;

pub use baseline::{Baseline, BaselineChoice, ExportScope, request_key, same_request};
pub use data_dir::{DataDir, DataDirError};
pub use db::{Database, DbError, DbProblem};
pub use groups::PinnedGroup;
pub use job_rows::types_key;
pub use jobs::{
    AuthSettings, FileKind, FileRecord, FileState, JobFailure, JobRecord, JobSettings, JobState, NewFile, NewJob,
    SecretRef, SignInMethod, TypeTotal,
};
pub use keychain::{Keychain, KeychainError};
pub use keys::{KeyInfo, KeyStoreError};
pub use schedules::{RunOutcome, Schedule};
pub use secret_file::{SecretFileError, read_secret_file, read_secret_text};
pub use servers::{
    AuthKind, CaFileError, DEMO_NAME, Server, ServerError, ServerInput, UrlCheck, check_base_url, check_jku,
    read_ca_file,
};
pub use servers::{
    ClientCertificateFileError, ClientCertificateInfo, ProxyInput, ServerProxy, read_client_certificate_file,
};
pub use storage_sign_ins::{NewStorageSignIn, StorageKind, StorageSignIn, StorageSignInError};
