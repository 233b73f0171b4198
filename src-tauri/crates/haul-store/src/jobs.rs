//! Export jobs as records: the state machine's memory (what a job is, its files, its settings). The
//! queries that read and write them are in `job_rows`. Every step is written before it acts, so a process
//! killed at any moment can be resumed (see export-jobs' runner).

use std::path::PathBuf;

use bulk_client::{ExportRequest, SecretStyle};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Where a job is. `created → kicked_off → downloading → completed | completed_with_problems`, or
/// `failed` / `cancelled` from anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum JobState {
    Created,
    KickedOff,
    Downloading,
    Completed,
    CompletedWithProblems,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Created => "created",
            JobState::KickedOff => "kicked_off",
            JobState::Downloading => "downloading",
            JobState::Completed => "completed",
            JobState::CompletedWithProblems => "completed_with_problems",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "created" => JobState::Created,
            "kicked_off" => JobState::KickedOff,
            "downloading" => JobState::Downloading,
            "completed" => JobState::Completed,
            "completed_with_problems" => JobState::CompletedWithProblems,
            "cancelled" => JobState::Cancelled,
            _ => JobState::Failed,
        }
    }

    /// Not running and not resumable as it is.
    pub fn is_finished(self) -> bool {
        matches!(self, JobState::Completed | JobState::CompletedWithProblems | JobState::Cancelled)
            || self == JobState::Failed
    }

    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            JobState::Created => "not started",
            JobState::KickedOff => "waiting for the server",
            JobState::Downloading => "downloading",
            JobState::Completed => "completed",
            JobState::CompletedWithProblems => "completed with problems",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
}

/// How a job signs in. Rows written before there was a choice are SMART Backend Services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SignInMethod {
    #[default]
    SmartBackend,
    ClientSecret,
    BearerToken,
}

/// Where a job's client secret or bearer token is, read when the job runs (never stored with the job).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "from", rename_all = "snake_case")]
#[ts(export)]
pub enum SecretRef {
    /// The saved server's entry in the OS keychain.
    Keychain {
        #[serde(rename = "serverId")]
        #[ts(type = "number")]
        server_id: i64,
    },
    /// An environment variable of the process that runs the job (`haul export --client-secret-env`).
    Environment { variable: String },
    /// A file private to its owner (`haul export --client-secret-file`), read when the job signs in: for a
    /// computer without a keychain.
    File { path: String },
}

/// How to sign in for a job: names only, never a secret (the key and any secret stay in the keychain or
/// the environment; `secret` says where).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct AuthSettings {
    #[serde(default)]
    pub method: SignInMethod,
    /// SMART and client secret (a bearer token has none).
    #[serde(default)]
    pub client_id: Option<String>,
    /// SMART: the signing key.
    #[serde(default)]
    pub key_kid: Option<String>,
    /// SMART, on a computer without a keychain: the private key's file (PEM or JWK, private to its owner),
    /// read when the job signs in. Used instead of `key_kid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub key_file: Option<String>,
    /// Discovered from the server when absent.
    pub token_url: Option<String>,
    pub scope: Option<String>,
    /// Client secret: how it is sent.
    #[serde(default)]
    pub secret_style: SecretStyle,
    /// Client secret: extra token request fields.
    #[serde(default)]
    pub token_params: Vec<(String, String)>,
    /// Client secret or bearer token: where to read it.
    #[serde(default)]
    pub secret: Option<SecretRef>,
    /// SMART: the key id the server assigned, sent as the assertion's `kid` instead of the key's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub assertion_kid: Option<String>,
    /// SMART: the registered JWKS URL, sent as the assertion's `jku`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub jku: Option<String>,
}

impl AuthSettings {
    /// SMART Backend Services with the key `key_kid`.
    pub fn smart_backend(client_id: impl Into<String>, key_kid: impl Into<String>) -> Self {
        Self { client_id: Some(client_id.into()), key_kid: Some(key_kid.into()), ..Self::default() }
    }

    /// A client ID and the secret at `secret`, sent the `style` way.
    pub fn client_secret(client_id: impl Into<String>, secret: SecretRef, style: SecretStyle) -> Self {
        Self {
            method: SignInMethod::ClientSecret,
            client_id: Some(client_id.into()),
            secret_style: style,
            secret: Some(secret),
            ..Self::default()
        }
    }

    /// The bearer token at `secret`.
    pub fn bearer_token(secret: SecretRef) -> Self {
        Self { method: SignInMethod::BearerToken, secret: Some(secret), ..Self::default() }
    }
}

/// How to run a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
#[ts(export)]
pub struct JobSettings {
    /// Files downloaded at once.
    pub parallel: u32,
    /// Send DELETE to the status URL once every file is safe (lets the server free its storage).
    pub delete_after: bool,
    pub auth: Option<AuthSettings>,
    /// On an incremental group export, fetch the full records of patients who joined the group since the
    /// baseline (with `patient=`) and merge them into the current dataset. Unset means yes.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_member_records: Option<bool>,
    /// This export fetches the new members' records for export N (it updates no dataset of its own).
    #[ts(optional, type = "number")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_members_of: Option<i64>,
    /// A group export's group by its name, as the server named it where the user chose it (shown instead of
    /// the id; display text only, at most 200 characters).
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    /// Object storage the export's files go to (`s3://bucket/prefix`, `gs://…`, `az://…`); the export folder
    /// then keeps only the manifest, the log, the report, error and deleted files, and quarantined lines.
    /// The address only: credentials come from the environment.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            parallel: 4,
            delete_after: true,
            auth: None,
            new_member_records: None,
            new_members_of: None,
            group_name: None,
            destination: None,
        }
    }
}

/// What a new job needs.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub server_id: Option<i64>,
    pub fhir_url: String,
    pub request: ExportRequest,
    pub settings: JobSettings,
    pub out_dir: PathBuf,
}

/// Why a job failed, as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct JobFailure {
    pub kind: String,
    pub message: String,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct JobRecord {
    #[ts(type = "number")]
    pub id: i64,
    #[ts(type = "number | null")]
    pub server_id: Option<i64>,
    pub fhir_url: String,
    pub request: ExportRequest,
    pub settings: JobSettings,
    pub out_dir: String,
    pub state: JobState,
    pub status_url: Option<String>,
    pub progress: Option<String>,
    pub transaction_time: Option<String>,
    pub expires: Option<String>,
    pub problems: Vec<String>,
    pub failure: Option<JobFailure>,
    /// The status URL of the export the server ran instead of this one (a busy answer, as CMS BCDA gives,
    /// that named it): Haul can cancel that export for the user. Cleared once it is cancelled.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_by: Option<String>,
    /// The schedule this export was a run of (`haul run-scheduled`), if any.
    #[ts(optional, type = "number")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<i64>,
    pub created_at: String,
    pub kicked_off_at: Option<String>,
    pub completed_at: Option<String>,
    pub updated_at: String,
}

/// Which list of the manifest a file came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum FileKind {
    Output,
    Error,
    Deleted,
}

impl FileKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FileKind::Output => "output",
            FileKind::Error => "error",
            FileKind::Deleted => "deleted",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "error" => FileKind::Error,
            "deleted" => FileKind::Deleted,
            _ => FileKind::Output,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum FileState {
    Pending,
    Downloading,
    /// All bytes are in the `.part` file; verification has not finished.
    Downloaded,
    Verified,
    Failed,
}

impl FileState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FileState::Pending => "pending",
            FileState::Downloading => "downloading",
            FileState::Downloaded => "downloaded",
            FileState::Verified => "verified",
            FileState::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "downloading" => FileState::Downloading,
            "downloaded" => FileState::Downloaded,
            "verified" => FileState::Verified,
            "failed" => FileState::Failed,
            _ => FileState::Pending,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FileRecord {
    pub seq: u32,
    pub kind: FileKind,
    pub resource_type: String,
    pub url: String,
    /// Relative to the export folder.
    pub name: String,
    #[ts(type = "number | null")]
    pub expected_count: Option<u64>,
    pub state: FileState,
    #[ts(type = "number")]
    pub bytes_done: u64,
    #[ts(type = "number | null")]
    pub resources: Option<u64>,
    #[ts(type = "number")]
    pub bad_lines: u64,
    pub attempts: u32,
    pub error: Option<String>,
    /// The failure's code (a [`JobFailure`]'s `kind`), when the file failed.
    pub error_kind: Option<String>,
}

impl FileRecord {
    /// The server no longer has the file (it expired or was removed): trying again cannot bring it back.
    pub fn is_expired(&self) -> bool {
        self.state == FileState::Failed && self.error_kind.as_deref() == Some(FILE_EXPIRED)
    }
}

/// The failure kind of a file the server no longer has (bulk-client's `ExportErrorKind::FileExpired`).
pub const FILE_EXPIRED: &str = "file_expired";

/// A file to record when the manifest arrives.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub kind: FileKind,
    pub resource_type: String,
    pub url: String,
    pub name: String,
    pub expected_count: Option<u64>,
}

/// Per resource type, what a job brought back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TypeTotal {
    pub resource_type: String,
    pub files: u32,
    #[ts(type = "number")]
    pub resources: u64,
    #[ts(type = "number")]
    pub bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_settings_of_older_jobs_still_read_as_smart() {
        let old: JobSettings = serde_json::from_str(
            r#"{"parallel":2,"deleteAfter":false,"auth":{"clientId":"c","keyKid":"k","tokenUrl":null,"scope":null}}"#,
        )
        .unwrap();
        assert_eq!(old.auth, Some(AuthSettings::smart_backend("c", "k")));
    }

    #[test]
    fn a_secret_is_named_by_reference_only() {
        let auth = AuthSettings {
            token_params: vec![("audience".into(), "https://api.test".into())],
            ..AuthSettings::client_secret("c", SecretRef::Keychain { server_id: 7 }, SecretStyle::Post)
        };
        let text = serde_json::to_string(&auth).unwrap();
        assert!(text.contains(r#""method":"client_secret""#), "{text}");
        assert!(text.contains(r#""secret":{"from":"keychain","serverId":7}"#), "{text}");
        assert!(text.contains(r#""secretStyle":"post""#), "{text}");
        assert_eq!(serde_json::from_str::<AuthSettings>(&text).unwrap(), auth);
        let env = AuthSettings::bearer_token(SecretRef::Environment { variable: "GATEWAY_TOKEN".into() });
        let text = serde_json::to_string(&env).unwrap();
        assert!(text.contains(r#"{"from":"environment","variable":"GATEWAY_TOKEN"}"#), "{text}");
        assert_eq!(serde_json::from_str::<AuthSettings>(&text).unwrap(), env);
    }
}
