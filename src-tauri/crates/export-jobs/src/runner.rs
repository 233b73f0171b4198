//! Running an export job end to end: kickoff, polling, parallel downloads, verification, DELETE, and the
//! export folder. Every step is recorded in SQLite before it acts, so `run` on an interrupted job carries
//! on where the last process stopped: it polls the saved status URL, resumes `.part` files with `Range`,
//! and never fetches a verified file again.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bulk_client::export::RetryAfter;
use bulk_client::{
    BackendAuth, ExportError, ExportErrorKind, ExportSession, FileBody, HttpClient, Kickoff, Manifest, Poll,
    discover_token_url,
};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use crate::export_log::ExportLog;
use crate::jobs::{AuthSettings, FileKind, FileRecord, FileState, JobFailure, JobRecord, JobState, NewFile, TypeTotal};
use crate::verify::{Checked, Expect, LineChecker, Verified, verify_into};
use crate::{Database, DbError, KeyStoreError, Keychain};

/// How patient Haul is. Tests shorten these; the defaults suit real servers.
#[derive(Debug, Clone)]
pub struct Pacing {
    /// The shortest wait between polls (also when a server says `Retry-After: 0`).
    pub min_poll: Duration,
    /// Haul's own backoff stops growing here.
    pub max_poll: Duration,
    /// Longer `Retry-After` values are clamped to this, and reported.
    pub retry_after_cap: Duration,
    /// First wait before retrying a failed download or kickoff; doubles each time.
    pub retry_base: Duration,
    /// Tries per file before it counts as failed.
    pub file_attempts: u32,
    /// "Try later" answers in a row (429, transient, proxy pages, broken connections) before the job fails.
    pub poll_failures: u32,
    /// Kickoffs answered 429 before Haul gives up.
    pub kickoff_attempts: u32,
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            min_poll: Duration::from_secs(1),
            max_poll: Duration::from_secs(60),
            retry_after_cap: bulk_client::export::MAX_RETRY_AFTER,
            retry_base: Duration::from_secs(2),
            file_attempts: 6,
            poll_failures: 30,
            kickoff_attempts: 10,
        }
    }
}

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
    #[error(
        "Haul cannot write to the export folder {path}: {source}. Choose a folder you can write to, with free space."
    )]
    Folder { path: PathBuf, source: std::io::Error },
    #[error("Export {0} is already running (in another Haul window or terminal). Let it finish, or cancel it there.")]
    AlreadyRunning(i64),
    #[error("The folder {} is not empty. Choose a new or empty folder, so no earlier export is overwritten.", .0.display())]
    FolderNotEmpty(PathBuf),
}

/// Makes sure an export can start in `out`: a new or empty folder (created), as an absolute path, so that
/// resuming from anywhere finds it.
pub fn prepare_folder(out: &Path) -> Result<PathBuf, JobError> {
    let folder_err = |source| JobError::Folder { path: out.to_path_buf(), source };
    if out.exists() {
        let mut entries = std::fs::read_dir(out).map_err(folder_err)?;
        if entries.next().is_some() {
            return Err(JobError::FolderNotEmpty(out.to_path_buf()));
        }
    } else {
        std::fs::create_dir_all(out).map_err(folder_err)?;
    }
    std::fs::canonicalize(out).map_err(folder_err)
}

/// A folder name for an export: the server's name (letters, digits, dashes) and the local date and time.
pub fn folder_name(server_name: &str, what: &str) -> String {
    let slug = |s: &str| {
        let mut out = String::new();
        for c in s.chars() {
            if c.is_alphanumeric() {
                out.extend(c.to_lowercase());
            } else if !out.ends_with('-') && !out.is_empty() {
                out.push('-');
            }
        }
        out.trim_end_matches('-').chars().take(40).collect::<String>()
    };
    let now = time::OffsetDateTime::now_local().unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    let stamp = now
        .format(time::macros::format_description!("[year]-[month]-[day]_[hour][minute][second]"))
        .unwrap_or_default();
    [slug(server_name), slug(what), stamp].into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join("_")
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

/// Runs export jobs. Cheap to clone; one per process is enough.
#[derive(Clone)]
pub struct ExportRunner {
    db: Arc<Mutex<Database>>,
    http: HttpClient,
    keychain: Keychain,
    pacing: Pacing,
}

/// Why a job stopped early.
enum Stop {
    Cancelled,
    Failed(JobFailure),
    Fatal(JobError),
}

impl From<DbError> for Stop {
    fn from(e: DbError) -> Self {
        Stop::Fatal(e.into())
    }
}

fn failure_of(e: &ExportError) -> JobFailure {
    let kind = serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    JobFailure { kind, message: e.message.clone(), detail: e.detail.clone() }
}

fn io_failure(what: &str, path: &Path, e: &std::io::Error) -> Stop {
    Stop::Failed(JobFailure {
        kind: "disk".into(),
        message: format!(
            "Haul could not {what} {}: {e}. Check that the disk has free space and the folder is writable, then resume.",
            path.display()
        ),
        detail: None,
    })
}

/// A resource type as a safe file-name part (a hostile manifest must not write outside the folder).
fn safe_type(t: &str) -> String {
    let clean: String = t.chars().filter(|c| c.is_ascii_alphanumeric()).take(64).collect();
    if clean.is_empty() { "Unknown".into() } else { clean }
}

/// Output `Type.NNN.ndjson` (manifest order within each type), `error/…`, `deleted/…`.
pub fn file_names(manifest: &Manifest) -> Vec<NewFile> {
    let mut counters: std::collections::HashMap<(FileKind, String), u32> = Default::default();
    let mut out = Vec::new();
    let lists = [
        (FileKind::Output, &manifest.output),
        (FileKind::Error, &manifest.error),
        (FileKind::Deleted, &manifest.deleted),
    ];
    for (kind, files) in lists {
        for f in files {
            let t = safe_type(&f.resource_type);
            let n = counters.entry((kind, t.clone())).or_default();
            let prefix = match kind {
                FileKind::Output => "",
                FileKind::Error => "error/",
                FileKind::Deleted => "deleted/",
            };
            out.push(NewFile {
                kind,
                resource_type: f.resource_type.clone(),
                url: f.url.clone(),
                name: format!("{prefix}{t}.{n:03}.ndjson"),
                expected_count: f.count,
            });
            *n += 1;
        }
    }
    out
}

/// A little randomness so many clients do not poll in step.
fn jitter(d: Duration) -> Duration {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|t| t.subsec_nanos()).unwrap_or(0);
    let factor = 0.9 + (nanos % 1000) as f64 / 5000.0; // 0.9 ..= 1.1
    d.mul_f64(factor)
}

struct Ctx {
    id: i64,
    db: Arc<Mutex<Database>>,
    session: ExportSession,
    log: ExportLog,
    events: EventSink,
    cancel: CancellationToken,
    pacing: Pacing,
    out_dir: PathBuf,
}

impl Ctx {
    fn db<T>(&self, f: impl FnOnce(&mut Database) -> Result<T, DbError>) -> Result<T, Stop> {
        let mut db = self.db.lock().expect("database lock");
        f(&mut db).map_err(Stop::from)
    }

    fn emit(&self, e: JobEvent) {
        (self.events)(&e);
    }

    async fn pause(&self, d: Duration) -> Result<(), Stop> {
        tokio::select! {
            _ = self.cancel.cancelled() => Err(Stop::Cancelled),
            _ = tokio::time::sleep(d) => Ok(()),
        }
    }

    /// The wait a server asked for (floored and clamped), or Haul's own.
    fn wait_for(&self, asked: Option<RetryAfter>, own: Duration) -> Duration {
        match asked {
            Some(r) => {
                if let Some(from) = r.clamped_from {
                    self.emit(JobEvent::Warning {
                        message: format!(
                            "The server asked Haul to wait {} before asking again; Haul waits {} instead.",
                            human_duration(from),
                            human_duration(r.wait)
                        ),
                    });
                }
                r.wait.max(self.pacing.min_poll)
            }
            None => jitter(own),
        }
    }
}

pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 86_400 {
        format!("{:.1} days", s as f64 / 86_400.0)
    } else if s >= 3600 {
        format!("{:.1} hours", s as f64 / 3600.0)
    } else if s >= 120 {
        format!("{} minutes", s / 60)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

impl ExportRunner {
    pub fn new(db: Arc<Mutex<Database>>, http: HttpClient) -> Self {
        Self { db, http, keychain: Keychain, pacing: Pacing::default() }
    }

    pub fn with_pacing(mut self, pacing: Pacing) -> Self {
        self.pacing = pacing;
        self
    }

    pub fn database(&self) -> &Arc<Mutex<Database>> {
        &self.db
    }

    /// The session a job talks through: signed in with its key when it has auth settings.
    pub async fn session_for(&self, job: &JobRecord) -> Result<ExportSession, JobError> {
        self.session_with(&job.fhir_url, job.settings.auth.as_ref()).await
    }

    /// A session with a server, signed in with `auth` when given (also for Group search).
    pub async fn session_with(&self, fhir_url: &str, auth: Option<&AuthSettings>) -> Result<ExportSession, JobError> {
        let auth = match auth {
            None => None,
            Some(a) => {
                let key = { self.db.lock().expect("database lock").signing_key(&self.keychain, &a.key_kid)? };
                let token_url = match &a.token_url {
                    Some(t) if !t.trim().is_empty() => t.clone(),
                    _ => discover_token_url(&self.http, fhir_url)
                        .await
                        .map_err(|e| JobError::Server { message: e.message, detail: e.detail })?,
                };
                Some(Arc::new(BackendAuth::new(
                    self.http.clone(),
                    token_url,
                    a.client_id.clone(),
                    a.scope.clone(),
                    Arc::new(key),
                )))
            }
        };
        Ok(ExportSession::new(self.http.clone(), fhir_url, auth).with_retry_after_cap(self.pacing.retry_after_cap))
    }

    /// Cancels a job: marks it cancelled (a runner in this or another process stops within a second) and
    /// sends DELETE to its status URL. False if the job had already finished.
    pub async fn cancel(&self, id: i64) -> Result<bool, JobError> {
        let job = { self.db.lock().expect("database lock").get_job(id)? }.ok_or(JobError::NotFound(id))?;
        let marked = { self.db.lock().expect("database lock").request_cancel(id)? };
        if marked && let Some(url) = &job.status_url {
            let session = self.session_for(&job).await?;
            session.delete(url).await.map_err(|e| JobError::Server { message: e.message, detail: e.detail })?;
        }
        Ok(marked)
    }

    /// Runs (or resumes) job `id` to its end.
    pub async fn run(&self, id: i64, events: EventSink, cancel: CancellationToken) -> Result<JobOutcome, JobError> {
        let mut job = { self.db.lock().expect("database lock").get_job(id)? }.ok_or(JobError::NotFound(id))?;
        if job.state == JobState::Failed {
            // Resuming a failed job retries what can be retried; expired files stay lost.
            let files = { self.db.lock().expect("database lock").job_files(id)? };
            let retry: Vec<u32> = files
                .iter()
                .filter(|f| {
                    f.state == FileState::Failed
                        && !f.error.as_deref().unwrap_or("").contains("no longer on the server")
                })
                .map(|f| f.seq)
                .collect();
            let db = self.db.lock().expect("database lock");
            db.reopen_job(id, &retry)?;
            job = db.get_job(id)?.ok_or(JobError::NotFound(id))?;
        }
        if job.state.is_finished() {
            return Err(JobError::Finished { id, state: job.state });
        }
        let out_dir = PathBuf::from(&job.out_dir);
        std::fs::create_dir_all(&out_dir).map_err(|source| JobError::Folder { path: out_dir.clone(), source })?;
        // One runner per job, across processes: two would write the same .part files. The OS drops the lock
        // when a process dies, kill -9 included.
        let lock_path = out_dir.join(".haul-export.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| JobError::Folder { path: out_dir.clone(), source })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(JobError::AlreadyRunning(id)),
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(JobError::Folder { path: out_dir.clone(), source });
            }
        }
        // Read again under the lock: a runner that just finished may have moved the job on.
        let job = { self.db.lock().expect("database lock").get_job(id)? }.ok_or(JobError::NotFound(id))?;
        if job.state.is_finished() {
            return Err(JobError::Finished { id, state: job.state });
        }
        let session = self.session_for(&job).await?;
        let log = ExportLog::new(&out_dir, job.status_url.clone().unwrap_or_else(|| format!("haul-export-{id}")));
        let ctx = Arc::new(Ctx {
            id,
            db: self.db.clone(),
            session,
            log,
            events,
            cancel: cancel.child_token(),
            pacing: self.pacing.clone(),
            out_dir,
        });

        // A cancel from another process (or the app's other window) shows up as the row's state.
        let watcher = {
            let ctx = ctx.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = ctx.cancel.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(300)) => {}
                    }
                    let state = ctx.db.lock().expect("database lock").job_state(ctx.id);
                    if matches!(state, Ok(Some(JobState::Cancelled))) {
                        ctx.cancel.cancel();
                        return;
                    }
                }
            })
        };
        let started = Instant::now();
        let mut result = drive(&ctx, job).await;
        watcher.abort();
        // Cancelled elsewhere while this ended otherwise (the server, told to stop, made it fail): a cancel.
        if !matches!(result, Err(Stop::Cancelled) | Err(Stop::Fatal(_)))
            && matches!(self.db.lock().expect("database lock").job_state(id), Ok(Some(JobState::Cancelled)))
        {
            result = Err(Stop::Cancelled);
        }
        let _ = std::fs::remove_file(&lock_path);
        drop(lock);

        let (state, failure, problems) = match result {
            Ok((state, problems)) => (state, None, problems),
            Err(Stop::Fatal(e)) => return Err(e),
            Err(Stop::Cancelled) => {
                let job = { self.db.lock().expect("database lock").get_job(id)? }.ok_or(JobError::NotFound(id))?;
                if let Some(url) = &job.status_url {
                    // Tell the server to stop (or free the files); it answering 404 is fine.
                    if let Err(e) = ctx.session.delete(url).await {
                        ctx.emit(JobEvent::Warning { message: format!("The server did not confirm the cancel: {e}") });
                    }
                }
                let db = self.db.lock().expect("database lock");
                db.request_cancel(id)?;
                (JobState::Cancelled, None, Vec::new())
            }
            Err(Stop::Failed(f)) => {
                ctx.log.event(
                    "export_error",
                    json!({"message": f.message, "code": null, "body": f.detail, "responseHeaders": null}),
                );
                self.db.lock().expect("database lock").finish_job(id, JobState::Failed, &[], Some(&f))?;
                (JobState::Failed, Some(f), Vec::new())
            }
        };
        let totals = { self.db.lock().expect("database lock").type_totals(id)? };
        let resources: u64 = totals.iter().map(|t| t.resources).sum();
        let bytes: u64 = totals.iter().map(|t| t.bytes).sum();
        let files: u32 = totals.iter().map(|t| t.files).sum();
        if matches!(state, JobState::Completed | JobState::CompletedWithProblems) {
            ctx.log.event(
                "export_complete",
                json!({"files": files, "resources": resources, "bytes": bytes, "attachments": null,
                       "duration": started.elapsed().as_millis() as u64}),
            );
        }
        let message = match (&state, &failure) {
            (_, Some(f)) => f.message.clone(),
            (JobState::Cancelled, _) => "The export was cancelled.".to_string(),
            (JobState::CompletedWithProblems, _) => format!(
                "Export finished with problems: {resources} resources in {files} files ({}). {}",
                human_bytes(bytes),
                problems.join(" ")
            ),
            _ => format!(
                "Export complete: {resources} resources in {files} files ({}), all verified.",
                human_bytes(bytes)
            ),
        };
        ctx.emit(JobEvent::Finished { state, message: message.clone() });
        Ok(JobOutcome { id, state, message, totals, problems, failure })
    }
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 { format!("{n} bytes") } else { format!("{v:.1} {}", UNITS[u]) }
}

/// The state machine, from wherever the job is.
async fn drive(ctx: &Arc<Ctx>, mut job: JobRecord) -> Result<(JobState, Vec<String>), Stop> {
    if job.state == JobState::Created {
        let status_url = kickoff(ctx, &job).await?;
        ctx.db(|db| db.set_kicked_off(ctx.id, &status_url))?;
        ctx.log.set_export_id(&status_url);
        ctx.emit(JobEvent::KickedOff { status_url: status_url.clone() });
        ctx.emit(JobEvent::State { state: JobState::KickedOff });
        job.status_url = Some(status_url);
        job.state = JobState::KickedOff;
    }
    let status_url = job.status_url.clone().unwrap_or_default();
    if job.state == JobState::KickedOff {
        let (manifest, expires) = poll(ctx, &status_url).await?;
        let files = file_names(&manifest);
        let raw = serde_json::to_string(&manifest.raw).expect("JSON values serialize");
        ctx.db(|db| db.set_manifest(ctx.id, &raw, &manifest.transaction_time, expires.as_deref(), &files))?;
        write_manifest(ctx, &manifest.raw, None)?;
        ctx.log.event("status_complete", json!({"transactionTime": manifest.transaction_time}));
        ctx.log.event(
            "status_page_complete",
            json!({"transactionTime": manifest.transaction_time, "outputFileCount": manifest.output.len(),
                   "deletedFileCount": manifest.deleted.len(), "errorFileCount": manifest.error.len()}),
        );
        ctx.log.event(
            "manifest_complete",
            json!({"transactionTime": manifest.transaction_time, "totalOutputFileCount": manifest.output.len(),
                   "totalDeletedFileCount": manifest.deleted.len(), "totalErrorFileCount": manifest.error.len(),
                   "totalManifests": 1}),
        );
        ctx.emit(JobEvent::Manifest { files: files.len() as u32, transaction_time: manifest.transaction_time.clone() });
        ctx.emit(JobEvent::State { state: JobState::Downloading });
    }
    let raw = ctx.db(|db| db.manifest_json(ctx.id))?.unwrap_or_else(|| "{}".into());
    let manifest = Manifest::parse(raw.as_bytes())
        .map_err(|e| Stop::Failed(JobFailure { kind: "protocol".into(), message: e.to_string(), detail: None }))?;
    let summaries = download_all(ctx, manifest.requires_access_token, job.settings.parallel.max(1)).await?;

    // Sum up.
    let files = ctx.db(|db| db.job_files(ctx.id))?;
    let mut problems = Vec::new();
    let lost: Vec<&FileRecord> = files.iter().filter(|f| f.state != FileState::Verified).collect();
    for f in files.iter().filter(|f| f.state == FileState::Verified) {
        if f.bad_lines > 0 {
            problems.push(format!(
                "{}: {} line(s) were not valid {} and were set aside in quarantine/{}.",
                f.name, f.bad_lines, f.resource_type, f.name
            ));
        }
        if f.kind == FileKind::Output
            && let (Some(expected), Some(got)) = (f.expected_count, f.resources)
            && expected != got
        {
            problems.push(format!("{}: the server announced {expected} resources; {got} arrived.", f.name));
        }
    }
    let mut errors = 0;
    let mut first_errors = Vec::new();
    for s in summaries.values() {
        errors += s.issues.fatal_or_error;
        first_errors.extend(s.issues.first_errors.iter().cloned());
    }
    if errors > 0 {
        first_errors.truncate(3);
        problems.push(format!(
            "The server reported {errors} error(s) in its error files (see error/): {}",
            first_errors.join("; ")
        ));
    }
    if !lost.is_empty() {
        let list: Vec<String> =
            lost.iter().map(|f| format!("{} ({})", f.name, f.error.as_deref().unwrap_or("not downloaded"))).collect();
        let failure = JobFailure {
            kind: if lost.iter().any(|f| f.error.as_deref().unwrap_or("").contains("no longer on the server")) {
                "file_expired".into()
            } else {
                "download".into()
            },
            message: format!(
                "{} of {} files could not be downloaded, so this export is incomplete: {}. The files that did arrive are verified and kept.",
                lost.len(),
                files.len(),
                list.join(", ")
            ),
            detail: None,
        };
        write_manifest(ctx, &manifest.raw, Some((&files, JobState::Failed)))?;
        return Err(Stop::Failed(failure));
    }
    if job.settings.delete_after
        && let Err(e) = ctx.session.delete(&status_url).await
    {
        ctx.emit(JobEvent::Warning {
            message: format!("Every file is safe, but the server did not accept the request to release them: {e}"),
        });
    }
    let state = if problems.is_empty() { JobState::Completed } else { JobState::CompletedWithProblems };
    ctx.db(|db| db.finish_job(ctx.id, state, &problems, None))?;
    write_manifest(ctx, &manifest.raw, Some((&files, state)))?;
    Ok((state, problems))
}

/// `manifest.json`: the manifest as received, plus (under `_haul`) what Haul did with each file.
fn write_manifest(ctx: &Ctx, raw: &Value, done: Option<(&[FileRecord], JobState)>) -> Result<(), Stop> {
    let mut value = raw.clone();
    if let (Some((files, state)), Some(obj)) = (done, value.as_object_mut()) {
        let files: Vec<Value> = files
            .iter()
            .map(|f| {
                json!({"url": f.url, "file": f.name, "type": f.resource_type, "state": f.state,
                       "resources": f.resources, "bytes": f.bytes_done, "badLines": f.bad_lines, "error": f.error})
            })
            .collect();
        obj.insert("_haul".into(), json!({"exportId": ctx.id, "state": state, "files": files}));
    }
    let path = ctx.out_dir.join("manifest.json");
    let tmp = ctx.out_dir.join("manifest.json.tmp");
    let text = serde_json::to_vec_pretty(&value).expect("JSON values serialize");
    std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &path)).map_err(|e| io_failure("write", &path, &e))
}

async fn kickoff(ctx: &Ctx, job: &JobRecord) -> Result<String, Stop> {
    let url = job.request.kickoff_url(ctx.session.base_url());
    let mut params: serde_json::Map<String, Value> = Default::default();
    if let Ok(u) = url::Url::parse(&url) {
        for (k, v) in u.query_pairs() {
            params.insert(k.into_owned(), json!(v));
        }
    }
    let mut network_failures = 0;
    for attempt in 1..=ctx.pacing.kickoff_attempts {
        if ctx.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        match ctx.session.kickoff(&job.request).await {
            Ok(Kickoff::Accepted { status_url }) => {
                ctx.log.set_export_id(&status_url);
                ctx.log.event(
                    "kickoff",
                    json!({"exportUrl": url, "requestParameters": params, "errorCode": null, "errorBody": null,
                           "responseHeaders": null}),
                );
                return Ok(status_url);
            }
            Ok(Kickoff::Busy { retry_after, said }) => {
                let wait = ctx.wait_for(retry_after, ctx.pacing.retry_base * attempt);
                ctx.emit(JobEvent::Waiting {
                    reason: format!(
                        "The server is busy (HTTP 429{}); Haul asks again.",
                        said.map(|s| format!(": {s}")).unwrap_or_default()
                    ),
                    seconds: wait.as_secs_f64(),
                });
                ctx.pause(wait).await?;
            }
            Err(e) if e.is_retryable() && network_failures < 3 => {
                network_failures += 1;
                let wait = jitter(ctx.pacing.retry_base * network_failures);
                ctx.emit(JobEvent::Waiting { reason: e.message.clone(), seconds: wait.as_secs_f64() });
                ctx.pause(wait).await?;
            }
            Err(e) => {
                ctx.log.event(
                    "kickoff",
                    json!({"exportUrl": url, "requestParameters": params, "errorCode": e.status,
                           "errorBody": e.detail, "responseHeaders": null}),
                );
                return Err(Stop::Failed(failure_of(&e)));
            }
        }
    }
    Err(Stop::Failed(JobFailure {
        kind: "busy".into(),
        message: format!(
            "The server stayed busy (HTTP 429) through {} attempts; it may already be running an export for this client. Try again later.",
            ctx.pacing.kickoff_attempts
        ),
        detail: None,
    }))
}

async fn poll(ctx: &Ctx, status_url: &str) -> Result<(Manifest, Option<String>), Stop> {
    let mut backoff = ctx.pacing.min_poll;
    let mut failures = 0u32;
    loop {
        if ctx.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        let wait = match ctx.session.poll(status_url).await {
            Ok(Poll::Complete { manifest, expires }) => return Ok((*manifest, expires)),
            Ok(Poll::InProgress { progress, retry_after }) => {
                failures = 0;
                ctx.db(|db| db.set_progress(ctx.id, progress.as_deref()))?;
                ctx.emit(JobEvent::Progress { text: progress.clone() });
                ctx.log.event(
                    "status_progress",
                    json!({"body": null, "xProgress": progress,
                           "retryAfter": retry_after.map(|r| r.wait.as_secs())}),
                );
                let wait = ctx.wait_for(retry_after, backoff);
                backoff = (backoff.mul_f64(1.5)).min(ctx.pacing.max_poll);
                wait
            }
            Ok(Poll::TryLater { reason, retry_after, detail }) => {
                failures += 1;
                ctx.log.event(
                    "status_error",
                    json!({"body": detail, "code": null, "message": reason, "responseHeaders": null}),
                );
                if failures > ctx.pacing.poll_failures {
                    return Err(Stop::Failed(JobFailure {
                        kind: "server_unavailable".into(),
                        message: format!(
                            "The server kept answering “try later” ({failures} times in a row); last: {reason} Haul stopped asking. Resume the export when the server is healthy."
                        ),
                        detail,
                    }));
                }
                let own = (ctx.pacing.retry_base * 2u32.saturating_pow(failures.min(6))).min(ctx.pacing.max_poll);
                let wait = ctx.wait_for(retry_after, own);
                ctx.emit(JobEvent::Waiting { reason, seconds: wait.as_secs_f64() });
                wait
            }
            Err(e) => {
                ctx.log.event(
                    "status_error",
                    json!({"body": e.detail, "code": e.status, "message": e.message, "responseHeaders": null}),
                );
                return Err(Stop::Failed(failure_of(&e)));
            }
        };
        ctx.pause(wait).await?;
    }
}

/// Downloads and verifies every file not yet verified, `parallel` at a time. Returns verification
/// summaries of the error files (for the problem list).
async fn download_all(
    ctx: &Arc<Ctx>,
    requires_token: bool,
    parallel: u32,
) -> Result<std::collections::HashMap<u32, Verified>, Stop> {
    let files = ctx.db(|db| db.job_files(ctx.id))?;
    for dir in ["error", "deleted"] {
        if files.iter().any(|f| f.name.starts_with(&format!("{dir}/"))) {
            let path = ctx.out_dir.join(dir);
            std::fs::create_dir_all(&path).map_err(|e| io_failure("create", &path, &e))?;
        }
    }
    let semaphore = Arc::new(tokio::sync::Semaphore::new(parallel as usize));
    let mut tasks = tokio::task::JoinSet::new();
    let mut summaries = std::collections::HashMap::new();
    for f in files {
        if f.state == FileState::Verified {
            // Verified before an interruption: never fetched again. A leftover .part is stale.
            let _ = std::fs::remove_file(ctx.out_dir.join(format!("{}.part", f.name)));
            continue;
        }
        if f.state == FileState::Failed {
            continue;
        }
        let ctx = ctx.clone();
        let semaphore = semaphore.clone();
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await.expect("semaphore open");
            let seq = f.seq;
            (seq, fetch_and_verify(&ctx, &f, requires_token).await)
        });
    }
    let mut fatal = None;
    while let Some(joined) = tasks.join_next().await {
        let (seq, result) = joined.expect("download tasks do not panic");
        match result {
            Ok(v) => {
                summaries.insert(seq, v);
            }
            Err(Stop::Cancelled) => {
                ctx.cancel.cancel();
                fatal.get_or_insert(Stop::Cancelled);
            }
            Err(stop) => {
                // A disk failure stops everything; a lost file is already recorded and the rest go on.
                ctx.cancel.cancel();
                fatal = Some(stop);
            }
        }
    }
    if let Some(stop) = fatal {
        return Err(stop);
    }
    Ok(summaries)
}

/// One file: download (resuming `.part`), then verify into place. A file the server cannot give is
/// recorded as failed (and `Ok(Verified::default())` returned) so the others carry on.
async fn fetch_and_verify(ctx: &Ctx, f: &FileRecord, requires_token: bool) -> Result<Verified, Stop> {
    let target = ctx.out_dir.join(&f.name);
    let part = ctx.out_dir.join(format!("{}.part", f.name));
    let mut checked = None;
    if f.state != FileState::Downloaded {
        match download(ctx, f, &part, requires_token).await {
            Ok((bytes, c)) => {
                checked = c;
                ctx.db(|db| db.set_file_state(ctx.id, f.seq, FileState::Downloaded, bytes))?
            }
            Err(Stop::Failed(failure)) => {
                ctx.log.event(
                    "download_error",
                    json!({"fileUrl": f.url, "body": failure.detail, "code": null, "message": failure.message,
                           "responseHeaders": null}),
                );
                ctx.db(|db| db.set_file_failed(ctx.id, f.seq, &failure.message))?;
                ctx.emit(JobEvent::FileFailed { seq: f.seq, name: f.name.clone(), message: failure.message });
                return Ok(Verified::default());
            }
            Err(other) => return Err(other),
        }
    } else if !part.exists() && target.exists() {
        // Killed between the rename and the row update: the verified file is in place.
        let v = tokio::task::spawn_blocking({
            let target = target.clone();
            move || count_lines(&target)
        })
        .await
        .expect("counting does not panic")
        .map_err(|e| io_failure("read", &target, &e))?;
        ctx.db(|db| db.set_file_verified(ctx.id, f.seq, v.bytes, v.resources, 0))?;
        return Ok(v);
    }
    let verified = match checked {
        // Checked line by line as it arrived, all good and plain: it only needs its name.
        Some(Checked { verified, gzip: false }) if verified.bad_lines == 0 => {
            std::fs::rename(&part, &target).map_err(|e| io_failure("rename", &part, &e))?;
            verified
        }
        _ => {
            let quarantine = ctx.out_dir.join("quarantine").join(&f.name);
            let f = f.clone();
            tokio::task::spawn_blocking({
                let (part, target) = (part.clone(), target.clone());
                move || verify_into(&part, &target, &quarantine, &f.name, expect_of(&f))
            })
            .await
            .expect("verification does not panic")
            .map_err(|e| io_failure("verify", &part, &e))?
        }
    };
    ctx.db(|db| db.set_file_verified(ctx.id, f.seq, verified.bytes, verified.resources, verified.bad_lines))?;
    ctx.log.event(
        "download_complete",
        json!({"fileUrl": f.url, "resourceCount": verified.resources, "fileSize": verified.bytes}),
    );
    ctx.emit(JobEvent::FileVerified {
        seq: f.seq,
        name: f.name.clone(),
        resources: verified.resources,
        bytes: verified.bytes,
        bad_lines: verified.bad_lines,
    });
    Ok(verified)
}

fn count_lines(path: &Path) -> std::io::Result<Verified> {
    use std::io::BufRead;
    let file = std::fs::File::open(path)?;
    let bytes = file.metadata()?.len();
    let mut resources = 0;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::new();
    while reader.read_until(b'\n', &mut buf)? > 0 {
        if !buf.iter().all(u8::is_ascii_whitespace) {
            resources += 1;
        }
        buf.clear();
    }
    Ok(Verified { resources, bytes, ..Default::default() })
}

fn expect_of(f: &FileRecord) -> Expect<'_> {
    match f.kind {
        FileKind::Output => Expect::Resource(&f.resource_type),
        FileKind::Error => Expect::Outcomes,
        FileKind::Deleted => Expect::Deletions,
    }
}

/// Streams the file into `part`, resuming from its length. Returns the final size and, when this process
/// saw every byte (no resume across a restart), what the line checker found on the way.
async fn download(
    ctx: &Ctx,
    f: &FileRecord,
    part: &Path,
    requires_token: bool,
) -> Result<(u64, Option<Checked>), Stop> {
    let mut attempt = 0u32;
    let mut checker: Option<LineChecker> = None;
    loop {
        attempt += 1;
        if ctx.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        let offset = match tokio::fs::metadata(part).await {
            Ok(m) if f.state != FileState::Pending || attempt > 1 => m.len(),
            _ => 0,
        };
        ctx.db(|db| {
            db.set_file_state(ctx.id, f.seq, FileState::Downloading, offset)?;
            db.add_file_attempt(ctx.id, f.seq)
        })?;
        ctx.log.event(
            "download_request",
            json!({"fileUrl": f.url, "itemType": match f.kind { FileKind::Output => "output", FileKind::Error => "error", FileKind::Deleted => "deleted" },
                   "resourceType": f.resource_type}),
        );
        ctx.emit(JobEvent::FileStarted {
            seq: f.seq,
            name: f.name.clone(),
            resource_type: f.resource_type.clone(),
            resume_from: offset,
        });
        let result = stream_once(ctx, f, part, requires_token, offset, &mut checker).await;
        let error = match result {
            Ok(size) => return Ok((size, checker.map(LineChecker::finish))),
            Err(StreamError::Stop(s)) => return Err(s),
            Err(StreamError::Server(e)) => e,
        };
        let restart = error.kind == ExportErrorKind::Protocol
            && (error.status == Some(416) || error.message.contains("different place"));
        if restart {
            // The server cannot resume: start the file over.
            let _ = tokio::fs::remove_file(part).await;
        }
        let retryable = error.is_retryable() || restart;
        if !retryable || attempt >= ctx.pacing.file_attempts {
            return Err(Stop::Failed(failure_of(&error)));
        }
        let wait = jitter(ctx.pacing.retry_base * 2u32.saturating_pow(attempt - 1)).min(Duration::from_secs(120));
        ctx.emit(JobEvent::Warning {
            message: format!(
                "{}: {} Haul tries again in {} (attempt {} of {}), resuming where it stopped.",
                f.name,
                error.message,
                human_duration(wait),
                attempt + 1,
                ctx.pacing.file_attempts
            ),
        });
        ctx.pause(wait).await?;
    }
}

enum StreamError {
    Stop(Stop),
    Server(ExportError),
}

async fn stream_once(
    ctx: &Ctx,
    f: &FileRecord,
    part: &Path,
    requires_token: bool,
    offset: u64,
    checker: &mut Option<LineChecker>,
) -> Result<u64, StreamError> {
    let body = tokio::select! {
        _ = ctx.cancel.cancelled() => return Err(StreamError::Stop(Stop::Cancelled)),
        b = ctx.session.open_file(&f.url, requires_token, offset) => b.map_err(StreamError::Server)?,
    };
    let FileBody { mut response, offset: start, length, already_complete, .. } = body;
    if already_complete {
        // Every byte arrived before an interruption; the line checker (if any) did not see them all.
        *checker = None;
        return Ok(start);
    }
    let io = |what: &str, e: std::io::Error| StreamError::Stop(io_failure(what, part, &e));
    let file = if start == 0 {
        *checker = Some(LineChecker::new(expect_of(f)));
        tokio::fs::File::create(part).await.map_err(|e| io("create", e))?
    } else {
        tokio::fs::OpenOptions::new().append(true).open(part).await.map_err(|e| io("open", e))?
    };
    // A modest buffer, flushed at least every 2 s: a killed process leaves most of what arrived on disk.
    let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
    let mut done = start;
    let total = length.map(|l| l + start);
    let mut last_event = Instant::now();
    let mut last_row = Instant::now();
    let host = url::Url::parse(&f.url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
    loop {
        let chunk = tokio::select! {
            _ = ctx.cancel.cancelled() => {
                let _ = out.flush().await;
                return Err(StreamError::Stop(Stop::Cancelled));
            }
            c = response.chunk() => c,
        };
        match chunk {
            Ok(Some(bytes)) => {
                out.write_all(&bytes).await.map_err(|e| io("write", e))?;
                if let Some(c) = checker.as_mut() {
                    c.feed(&bytes);
                }
                done += bytes.len() as u64;
                if last_event.elapsed() >= Duration::from_millis(250) {
                    last_event = Instant::now();
                    ctx.emit(JobEvent::FileProgress { seq: f.seq, bytes: done, total });
                }
                if last_row.elapsed() >= Duration::from_secs(2) {
                    last_row = Instant::now();
                    out.flush().await.map_err(|e| io("write", e))?;
                    ctx.db(|db| db.set_file_state(ctx.id, f.seq, FileState::Downloading, done))
                        .map_err(StreamError::Stop)?;
                }
            }
            Ok(None) => break,
            Err(e) => {
                // Keep what arrived: the next attempt resumes after it.
                out.flush().await.map_err(|e| io("write", e))?;
                let err = bulk_client::HttpError::from_transport(&e, "an export file", &host);
                return Err(StreamError::Server(err.into()));
            }
        }
    }
    out.flush().await.map_err(|e| io("write", e))?;
    let file = out.into_inner();
    file.sync_all().await.map_err(|e| io("write", e))?;
    if let Some(total) = total
        && done != total
    {
        return Err(StreamError::Server(ExportError::new(
            ExportErrorKind::Network,
            format!("The download ended early ({done} of {total} bytes)."),
            None,
        )));
    }
    ctx.emit(JobEvent::FileProgress { seq: f.seq, bytes: done, total: Some(done) });
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_manifest_order_per_type_and_stay_inside_the_folder() {
        let m = Manifest::parse(
            br#"{"transactionTime":"t","output":[{"type":"Patient","url":"https://x/1"},{"type":"Observation","url":"https://x/2"},
            {"type":"Patient","url":"https://x/3"},{"type":"../../etc/passwd","url":"https://x/4"}],
            "error":[{"type":"OperationOutcome","url":"https://x/5"}],"deleted":[{"type":"Bundle","url":"https://x/6"}]}"#,
        )
        .unwrap();
        let names: Vec<String> = file_names(&m).into_iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "Patient.000.ndjson",
                "Observation.000.ndjson",
                "Patient.001.ndjson",
                "etcpasswd.000.ndjson",
                "error/OperationOutcome.000.ndjson",
                "deleted/Bundle.000.ndjson"
            ]
        );
    }

    #[test]
    fn folders_must_be_new_or_empty_and_names_read_well() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = prepare_folder(&dir.path().join("a/b")).unwrap();
        assert!(fresh.is_absolute() && fresh.is_dir());
        std::fs::write(fresh.join("x"), "1").unwrap();
        assert!(matches!(prepare_folder(&fresh), Err(JobError::FolderNotEmpty(_))));
        let name = folder_name("Demo server (built in)", "group aco-north");
        assert!(name.starts_with("demo-server-built-in_group-aco-north_20"), "{name}");
    }

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(human_bytes(999), "999 bytes");
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
        assert_eq!(human_duration(Duration::from_secs(36_000)), "10.0 hours");
        assert_eq!(human_duration(Duration::from_secs(300)), "5 minutes");
    }
}
