//! From "this server, this request, these options" to a new job: the rules the app and the CLI share.
//! Which server and sign-in, which levels accept `patient`, what "since the last export" means, where
//! the folder goes and what it is called. Nothing is written until every rule has passed.

use std::path::{Path, PathBuf};

use bulk_client::{ExportLevel, ExportRequest};
use haul_store::{
    AuthKind, AuthSettings, BaselineChoice, Database, DbError, ExportScope, JobRecord, JobSettings, NewJob, SecretRef,
    Server, ServerError,
};
use serde::Serialize;
use ts_rs::TS;

use crate::folder::{ExportFolder, FolderError, folder_name};

/// The server an export goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
// Made once per export and moved, never stored in bulk: its size does not matter, and a Box would be noise.
#[allow(clippy::large_enum_variant)]
pub enum ServerChoice {
    /// A server saved in Haul: its current address and sign-in settings are used.
    Saved(i64),
    /// An address given directly (the command line), signed in with `auth` when given. If a saved server
    /// has this address, the job is recorded as that server's.
    Address { fhir_url: String, auth: Option<AuthSettings> },
}

/// Where `_since` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// As in the request (none: a full export).
    AsRequested,
    /// The transactionTime of the newest successful export of the same server and request; a full export
    /// when there is none.
    LastExport,
}

#[derive(Debug, Clone)]
pub struct ExportPlan {
    pub server: ServerChoice,
    pub request: ExportRequest,
    pub since: Since,
    /// A folder of the user's choice (new or empty); `None`: a new folder under the exports root.
    pub out_dir: Option<PathBuf>,
    /// Files downloaded at once (kept within 1..=32).
    pub parallel: u32,
    pub delete_after: bool,
    /// Words for the folder name after the level ("since last" for an incremental run again).
    pub folder_note: Option<String>,
    /// An incremental group export also fetches the full records of patients who joined (see `dataset`).
    pub new_member_records: bool,
    /// The group's name as the server gave it (display only; kept for a group export).
    pub group_name: Option<String>,
    /// Object storage the files go to (`s3://bucket/prefix`, `gs://…`, `az://…`); the folder then keeps only
    /// Haul's own small files (see `runner::upload`).
    pub destination: Option<String>,
}

/// Why an export cannot start as asked. Nothing was created.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("There is no export {0} in Haul's history.")]
    NoSuchExport(i64),
    #[error(
        "“{0}” signs in with SMART Backend Services but has no client ID or key yet. Set both on the Servers page, then export."
    )]
    SignInIncomplete(String),
    #[error(
        "“{0}” signs in with a client ID and secret but has no client ID yet. Set it on the Servers page, then export."
    )]
    ClientIdMissing(String),
    #[error("Patients can only be chosen for an all-patients or a group export.")]
    PatientsNeedPatientLevel,
    #[error("A group export needs the Group's id.")]
    GroupIdMissing,
    /// The server takes one export per client at a time (Oracle Health) and one of Haul's is still open on it.
    #[error(
        "{server} runs one export per client at a time, and Haul's export {running} is still open on it. Let it finish (or cancel it in History), then start this one."
    )]
    OneAtATime { server: String, running: i64 },
    /// Azure's rule for container names, checked before anything is sent.
    #[error(
        "“{0}” cannot be a storage container name: use 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit (Azure's rule)."
    )]
    ContainerName(String),
    #[error("This export never finished, so there is no point in time to continue from. Run it again in full.")]
    NoPointInTime,
    /// Why the chosen export is no starting point for "only what changed since" (in words, with what to do).
    #[error("{0} Run it again in full instead.")]
    NotAStartingPoint(String),
    /// The request does not suit the kind of server (its profile).
    #[error(transparent)]
    Quirk(#[from] crate::quirks::QuirkError),
    #[error(transparent)]
    Folder(#[from] FolderError),
    #[error(transparent)]
    Destination(#[from] object_destination::DestinationError),
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The request as it will be sent, for the expert's eye, before anything starts.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ExportPreview {
    pub request_text: String,
    /// What "since the last export" would continue from (and which newer exports it passes over, and why).
    pub since_last: BaselineChoice,
    /// The same in one sentence ("changes since 1 Oct 2026 14:03 UTC, the export of 1 Oct 2026 (number 4)").
    pub since_last_text: String,
    pub default_folder: String,
}

/// "Since the last export" in words, for the Export page and the command line alike.
pub fn describe_baseline(choice: &BaselineChoice) -> String {
    match &choice.baseline {
        Some(b) => format!(
            "changes since {}, the export of {} (number {})",
            haul_store::baseline::moment_of(&b.since),
            haul_store::baseline::day_of(&b.exported_at),
            b.export_id
        ),
        None => "no earlier complete export of this request: this one will be complete".into(),
    }
}

/// A job created from a plan.
#[derive(Debug, Clone)]
pub struct PlannedExport {
    pub job: JobRecord,
    /// With [`Since::LastExport`]: the export it continues from (none: a full export), and why newer ones
    /// were passed over (also in `notes`).
    pub baseline: Option<BaselineChoice>,
    /// What the server's kind changed in the request, in words (say it before the export runs).
    pub notes: Vec<String>,
}

/// The server's sign-in settings for a job: names only. The key and any secret stay in the keychain (the
/// job names the server whose secret it uses); a secret not saved yet stops the plan here.
pub fn sign_in_of(server: &Server) -> Result<Option<AuthSettings>, PlanError> {
    let client_id = server.client_id.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let saved_secret = || {
        if server.secret_saved {
            return Ok(SecretRef::Keychain { server_id: server.id });
        }
        let what = server.auth.secret_words().unwrap_or("secret");
        Err(PlanError::Server(ServerError::NoSecret { server: server.name.clone(), what }))
    };
    let auth = match server.auth {
        AuthKind::Open => return Ok(None),
        AuthKind::SmartBackend => match (client_id, &server.key_kid) {
            (Some(client_id), Some(kid)) => AuthSettings {
                assertion_kid: server.assertion_kid.clone(),
                jku: server.jku.clone(),
                ..AuthSettings::smart_backend(client_id, kid.clone())
            },
            _ => return Err(PlanError::SignInIncomplete(server.name.clone())),
        },
        AuthKind::ClientSecret => {
            let client_id = client_id.ok_or_else(|| PlanError::ClientIdMissing(server.name.clone()))?;
            AuthSettings {
                token_params: server.token_params.clone(),
                ..AuthSettings::client_secret(client_id, saved_secret()?, server.secret_style.unwrap_or_default())
            }
        }
        AuthKind::BearerToken => AuthSettings::bearer_token(saved_secret()?),
    };
    // A bearer token has no token endpoint and no scope of its own.
    let uses_token_endpoint = server.auth != AuthKind::BearerToken;
    Ok(Some(AuthSettings {
        token_url: server.token_url.clone().filter(|_| uses_token_endpoint),
        scope: server.scope.clone().filter(|_| uses_token_endpoint),
        ..auth
    }))
}

/// What an export takes, in words for a folder name: "everything", "all patients", "group aco-north".
pub fn describe_level(request: &ExportRequest) -> String {
    match request.level() {
        ExportLevel::System => "everything".into(),
        ExportLevel::Patient => "all patients".into(),
        ExportLevel::Group(g) => format!("group {g}"),
    }
}

/// The plan with its server looked up.
struct Resolved {
    server_id: Option<i64>,
    server_name: String,
    fhir_url: String,
    auth: Option<AuthSettings>,
    /// The saved server's kind, whose quirks apply.
    profile: Option<&'static server_profiles::Profile>,
}

impl Resolved {
    /// Whose earlier exports count as this one's (the baseline of "since the last export").
    fn scope(&self) -> ExportScope<'_> {
        match self.server_id {
            Some(id) => ExportScope::Saved(id),
            None => ExportScope::Address {
                fhir_url: &self.fhir_url,
                client_id: self.auth.as_ref().and_then(|a| a.client_id.as_deref()),
            },
        }
    }
}

impl ExportPlan {
    /// A plan with the defaults of the Export page: the request as given, a new folder under the exports
    /// root, 4 downloads at once, DELETE once every file is safe.
    pub fn new(server: ServerChoice, request: ExportRequest) -> Self {
        Self {
            server,
            request,
            since: Since::AsRequested,
            out_dir: None,
            parallel: JobSettings::default().parallel,
            delete_after: true,
            folder_note: None,
            new_member_records: true,
            group_name: None,
            destination: None,
        }
    }

    /// [`Self::new`] for a server saved in Haul.
    pub fn for_saved(server_id: i64, request: ExportRequest) -> Self {
        Self::new(ServerChoice::Saved(server_id), request)
    }

    /// The same server, request and settings as an earlier export, into a new folder. `incremental`: only
    /// what changed since that export (`_since` = its transactionTime).
    pub fn rerun(db: &Database, id: i64, incremental: bool) -> Result<Self, PlanError> {
        let old = db.get_job(id)?.ok_or(PlanError::NoSuchExport(id))?;
        let mut request = old.request.clone();
        if incremental {
            // The user picked this export; the rules that pick one for "since the last export" still hold.
            let since = match (haul_store::baseline::since_of(&old), &old.transaction_time) {
                (Some(since), _) => since,
                (None, None) => return Err(PlanError::NoPointInTime),
                (None, Some(time)) => {
                    return Err(PlanError::NotAStartingPoint(format!(
                        "The server dated export {} “{}”, which is not a date and time Haul can read, so it is not a starting point.",
                        old.id,
                        bulk_client::printable(time)
                    )));
                }
            };
            if let Some(why) = haul_store::baseline::unusable_alone(&old, time::OffsetDateTime::now_utc()) {
                return Err(PlanError::NotAStartingPoint(why));
            }
            request.since = Some(since);
        }
        // The server as it is now (its address may have changed; the demo's does at every start), else as
        // the job recorded it.
        let saved = match old.server_id {
            Some(sid) => db.get_server(sid).ok(),
            None => None,
        };
        let server = match saved {
            Some(s) => ServerChoice::Saved(s.id),
            None => ServerChoice::Address { fhir_url: old.fhir_url.clone(), auth: old.settings.auth.clone() },
        };
        Ok(Self {
            server,
            request,
            since: Since::AsRequested,
            out_dir: None,
            parallel: old.settings.parallel,
            delete_after: old.settings.delete_after,
            folder_note: incremental.then(|| "since last".to_string()),
            new_member_records: old.settings.new_member_records != Some(false),
            group_name: old.settings.group_name.clone(),
            // A monthly run lands beside the last one (its own `export_date=` partition).
            destination: old.settings.destination.clone(),
        })
    }

    /// The group's name, for a group export only (bulk-client's rule for a name that is only ever shown).
    fn group_name_to_keep(&self) -> Option<String> {
        if !matches!(self.request.level(), ExportLevel::Group(_)) {
            return None;
        }
        bulk_client::group_name_to_keep(self.group_name.as_deref()?)
    }

    fn check_request(&self) -> Result<(), PlanError> {
        match self.request.level() {
            ExportLevel::System if !self.request.patients.is_empty() => Err(PlanError::PatientsNeedPatientLevel),
            ExportLevel::Group(g) if g.trim().is_empty() => Err(PlanError::GroupIdMissing),
            _ => match &self.request.container {
                Some(name) if !is_container_name(name) => Err(PlanError::ContainerName(name.clone())),
                _ => Ok(()),
            },
        }
    }

    fn resolve(&self, db: &Database) -> Result<Resolved, PlanError> {
        match &self.server {
            ServerChoice::Saved(id) => {
                let server = db.get_server(*id)?;
                Ok(Resolved {
                    auth: sign_in_of(&server)?,
                    profile: server.profile_id.as_deref().and_then(server_profiles::by_id),
                    server_id: Some(server.id),
                    server_name: server.name,
                    fhir_url: server.base_url,
                })
            }
            ServerChoice::Address { fhir_url, auth } => {
                let wanted = fhir_url.trim_end_matches('/');
                let saved = db.list_servers()?.into_iter().find(|s| s.base_url.trim_end_matches('/') == wanted);
                Ok(Resolved {
                    profile: saved.as_ref().and_then(|s| s.profile_id.as_deref()).and_then(server_profiles::by_id),
                    server_id: saved.as_ref().map(|s| s.id),
                    server_name: saved.map(|s| s.name).unwrap_or_else(|| "export".into()),
                    fhir_url: fhir_url.clone(),
                    auth: auth.clone(),
                })
            }
        }
    }

    fn default_folder(&self, server_name: &str, exports_root: &Path) -> PathBuf {
        let what = match &self.folder_note {
            Some(note) => format!("{} {note}", describe_level(&self.request)),
            None => describe_level(&self.request),
        };
        exports_root.join(folder_name(server_name, &what))
    }

    /// What the plan would send and where it would go, without creating anything.
    pub fn preview(&self, db: &Database, exports_root: &Path) -> Result<ExportPreview, PlanError> {
        self.check_request()?;
        let server = self.resolve(db)?;
        let mut request = self.request.clone();
        let baseline = db.baseline_for(server.scope(), &request)?;
        if self.since == Since::LastExport {
            request.since = baseline.baseline.as_ref().map(|b| b.since.clone());
        }
        if let Some(profile) = server.profile {
            crate::quirks::apply(profile, &mut request)?;
        }
        Ok(ExportPreview {
            request_text: request.describe(&server.fhir_url),
            since_last_text: describe_baseline(&baseline),
            since_last: baseline,
            default_folder: self.default_folder(&server.server_name, exports_root).display().to_string(),
        })
    }

    /// Checks every rule, prepares the folder and records the job (state `created`), ready to run.
    pub fn create(self, db: &Database, exports_root: &Path) -> Result<PlannedExport, PlanError> {
        self.check_request()?;
        let server = self.resolve(db)?;
        let mut request = self.request.clone();
        let baseline = match self.since {
            Since::AsRequested => None,
            Since::LastExport => {
                let found = db.baseline_for(server.scope(), &request)?;
                request.since = found.baseline.as_ref().map(|b| b.since.clone());
                Some(found)
            }
        };
        let mut notes = baseline.as_ref().map(|b| b.passed_over.clone()).unwrap_or_default();
        if let Some(profile) = server.profile {
            notes.extend(crate::quirks::apply(profile, &mut request)?);
        }
        if server.profile.is_some_and(|p| p.quirks.one_export_at_a_time) {
            // Kicked off and not finished: the server holds it open, and would refuse a second one.
            let open =
                db.interrupted_jobs()?.into_iter().find(|j| j.fhir_url == server.fhir_url && j.status_url.is_some());
            if let Some(job) = open {
                return Err(PlanError::OneAtATime { server: server.server_name, running: job.id });
            }
        }
        let out = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => self.default_folder(&server.server_name, exports_root),
        };
        // An address that cannot be used is refused now, before anything is sent to the server.
        let destination = match &self.destination {
            Some(address) => Some(crate::storage_sign_in::open_storage(db, address)?.address().to_string()),
            None => None,
        };
        let folder = ExportFolder::prepare(&out)?;
        let job = db.create_job(&NewJob {
            server_id: server.server_id,
            fhir_url: server.fhir_url,
            request,
            settings: JobSettings {
                parallel: self.parallel.clamp(1, 32),
                delete_after: self.delete_after,
                auth: server.auth,
                new_member_records: (!self.new_member_records).then_some(false),
                new_members_of: None,
                group_name: self.group_name_to_keep(),
                destination,
            },
            out_dir: folder.path().to_path_buf(),
        })?;
        Ok(PlannedExport { job, baseline, notes })
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;

/// Azure Storage's container names: 3–63 characters of lowercase letters, digits and hyphens, starting and
/// ending with a letter or digit, no two hyphens in a row. A bad one would only fail later, on the server.
pub fn is_container_name(name: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    (3..=63).contains(&name.len())
        && name.chars().all(|c| ok_char(c) || c == '-')
        && name.starts_with(ok_char)
        && name.ends_with(ok_char)
        && !name.contains("--")
}
