//! Running an export job end to end, by phase: `kickoff`, `poll`, `download` (with verification), and the
//! `summary` (DELETE only after a clean completion, `haul-report.json`). Every step is recorded in SQLite
//! before it acts, so `run` on an interrupted job carries on where the last process stopped: it polls the
//! saved status URL, resumes `.part` files with `Range`, and never fetches a verified file again.

mod context;
mod demo;
mod download;
mod events;
mod kickoff;
mod lanes;
mod pacing;
mod poll;
mod scrubbed_lines;
mod stream_sink;
mod summary;
mod upload;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bulk_client::{ExportLevel, ExportSession, HttpClient, Manifest, NetworkSettings};
use haul_store::{AuthSettings, Database, FileState, JobFailure, JobRecord, JobState, Keychain, Server};
use serde_json::json;
use tokio_util::sync::CancellationToken;

pub use events::{EventSink, JobError, JobEvent, JobOutcome};
pub use pacing::Pacing;

use crate::export_log::ExportLog;
use crate::folder::{ExportFolder, FolderError, file_names};
use crate::limits::{DiskGuard, Limits};
use crate::wording;
use context::{Ctx, Stop};
use download::download_all;
use kickoff::kickoff;
use poll::poll;
use summary::sum_up;

/// Runs export jobs. Cheap to clone; one per process is enough.
#[derive(Clone)]
pub struct ExportRunner {
    db: Arc<Mutex<Database>>,
    http: HttpClient,
    keychain: Keychain,
    pacing: Pacing,
    limits: Limits,
    /// Where the current datasets are kept (`dataset`); none: exports update no dataset.
    pub(crate) datasets: Option<PathBuf>,
}

impl ExportRunner {
    pub fn new(db: Arc<Mutex<Database>>, http: HttpClient) -> Self {
        Self { db, http, keychain: Keychain, pacing: Pacing::default(), limits: Limits::default(), datasets: None }
    }

    /// Keeps each request's current dataset up to date in `root` after every clean export.
    pub fn with_datasets(mut self, root: PathBuf) -> Self {
        self.datasets = Some(root);
        self
    }

    /// What a server may cost at most (line length, unpacked size, stalls, free disk, manifest size).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn with_pacing(mut self, pacing: Pacing) -> Self {
        self.pacing = pacing;
        self
    }

    /// The HTTP client jobs use (one per process).
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    pub fn database(&self) -> &Arc<Mutex<Database>> {
        &self.db
    }

    /// The session a job talks through: signed in with its key when it has auth settings.
    /// The storage origins it trusts with the token, and the CA certificate file its certificate is checked
    /// against, are its saved server's as they are now (a user who was told to add one resumes the same job).
    pub async fn session_for(&self, job: &JobRecord) -> Result<ExportSession, JobError> {
        let server = job.server_id.and_then(|sid| self.db.lock().expect("database lock").get_server(sid).ok());
        let trusted = server.as_ref().map(|s| s.trusted_origins.clone()).unwrap_or_default();
        let http = match &server {
            None => self.http.clone(),
            Some(server) => self.http_with_network_of(server, "then resume the export")?,
        };
        Ok(self.session_through(http, &job.fhir_url, job.settings.auth.as_ref()).await?.with_trusted_origins(&trusted))
    }

    /// A session with a saved server as it is now, outside any job ("Test the whole connection", Group
    /// search): its sign-in, the storage origins it trusts with the token, and its CA certificate file.
    /// Sign-in settings that are not complete (no client ID, key or saved secret) are a [`JobError::Plan`].
    pub async fn session_for_server(&self, server: &Server) -> Result<ExportSession, JobError> {
        let auth = crate::plan::sign_in_of(server)?;
        let http = self.http_for_server(server)?;
        Ok(self
            .session_through(http, &server.base_url, auth.as_ref())
            .await?
            .with_trusted_origins(&server.trusted_origins))
    }

    /// The HTTP client for a saved server: the shared one, or, when the server has network settings of its own
    /// (a CA certificate file, a proxy, a client certificate), one with those.
    pub fn http_for_server(&self, server: &Server) -> Result<HttpClient, JobError> {
        self.http_with_network_of(server, "then try again")
    }

    /// A server's own authority, proxy and client certificate serve that server only: a client of its own,
    /// read now (the CA file from disk, the proxy password and the certificate from the keychain), so a renewed
    /// file or a changed password is used next time. `next_step` ends the sentence of a setting that cannot be
    /// used.
    fn http_with_network_of(&self, server: &Server, next_step: &str) -> Result<HttpClient, JobError> {
        if server.ca_file.is_none() && server.proxy.is_none() && server.client_certificate.is_none() {
            return Ok(self.http.clone());
        }
        let unusable = |problem: String, setting: &str, fix: &str| JobError::Server {
            message: format!("{problem} It is the {setting} in this server's settings: {fix}, {next_step}."),
            detail: None,
        };
        let extra_roots_pem =
            match server.ca_file.as_deref() {
                None => None,
                Some(path) => Some(haul_store::read_ca_file(std::path::Path::new(path)).map_err(|e| {
                    unusable(e.to_string(), "CA certificate file", "choose it again there (or remove it)")
                })?),
            };
        let (proxy, client_identity_pem) = {
            let db = self.db.lock().expect("database lock");
            let proxy = db.server_proxy_settings(&self.keychain, server.id).map_err(|e| {
                unusable(e.to_string(), "proxy", "enter its password again there (or remove the proxy)")
            })?;
            let identity = db.server_client_identity(&self.keychain, server.id).map_err(|e| {
                unusable(e.to_string(), "client certificate", "choose its file again there (or remove it)")
            })?;
            (proxy, identity)
        };
        let settings = NetworkSettings { extra_roots_pem, proxy, client_identity_pem };
        HttpClient::configured(&settings).map_err(|e| unusable(e.to_string(), "network settings", "check them there"))
    }

    /// A session with a server over `http`, signed in with `auth` when given: SMART, a client secret or a
    /// bearer token, its key or secret read now (see `crate::sign_in`). Sign-in and export requests go through
    /// the same client, since a token endpoint behind the organisation's CA needs its CA as much as the FHIR
    /// server does.
    async fn session_through(
        &self,
        http: HttpClient,
        fhir_url: &str,
        auth: Option<&AuthSettings>,
    ) -> Result<ExportSession, JobError> {
        let auth = match auth {
            None => None,
            Some(a) => Some(Arc::new(crate::sign_in::sign_in_for(&self.db, &self.keychain, &http, fhir_url, a).await?)),
        };
        Ok(ExportSession::new(http, fhir_url, auth)
            .with_retry_after_cap(self.pacing.retry_after_cap)
            .with_download_limits(self.limits.download)
            .with_manifest_cap(self.limits.max_manifest_bytes))
    }

    /// Cancels a job: marks it cancelled (a runner in this or another process stops within a second) and
    /// sends DELETE to its status URL. False if the job had already finished.
    pub async fn cancel(&self, id: i64) -> Result<bool, JobError> {
        let job = { self.db.lock().expect("database lock").get_job(id)? }.ok_or(JobError::NotFound(id))?;
        let marked = { self.db.lock().expect("database lock").request_cancel(id)? };
        // A demo server that was restarted since holds nothing to cancel, and its old address is gone.
        if marked
            && let Some(url) = &job.status_url
            && !self.demo_moved(&job)
        {
            let session = self.session_for(&job).await?;
            session.delete(url).await.map_err(|e| JobError::Server { message: e.message, detail: e.detail })?;
        }
        Ok(marked)
    }

    /// Cancels, on the server, the export it ran instead of job `id` (recorded when a busy server named it,
    /// as CMS BCDA does): DELETE to its status URL, signed in as the job. Nothing to cancel is a
    /// [`JobError::NothingBlocking`].
    pub async fn cancel_blocking(&self, id: i64) -> Result<String, JobError> {
        let job = { self.db.lock().expect("database lock").get_job(id)? }.ok_or(JobError::NotFound(id))?;
        let url = job.blocked_by.clone().ok_or(JobError::NothingBlocking(id))?;
        let session = self.session_for(&job).await?;
        session.delete(&url).await.map_err(|e| JobError::Server { message: e.message, detail: e.detail })?;
        self.db.lock().expect("database lock").set_blocked_by(id, None)?;
        Ok(url)
    }

    /// Runs (or resumes) job `id` to its end.
    pub async fn run(&self, id: i64, events: EventSink, cancel: CancellationToken) -> Result<JobOutcome, JobError> {
        let mut job = { self.db.lock().expect("database lock").get_job(id)? }.ok_or(JobError::NotFound(id))?;
        if job.state == JobState::Failed {
            // Resuming a failed job retries what can be retried; expired files stay lost.
            let files = { self.db.lock().expect("database lock").job_files(id)? };
            let retry: Vec<u32> =
                files.iter().filter(|f| f.state == FileState::Failed && !f.is_expired()).map(|f| f.seq).collect();
            let expired = files.iter().filter(|f| f.state == FileState::Failed && f.is_expired()).count() as u32;
            if retry.is_empty() && expired > 0 {
                return Err(JobError::FilesExpired { id, lost: expired });
            }
            let db = self.db.lock().expect("database lock");
            db.reopen_job(id, &retry)?;
            job = db.get_job(id)?.ok_or(JobError::NotFound(id))?;
        }
        if job.state.is_finished() {
            return Err(JobError::Finished { id, state: job.state });
        }
        let folder = ExportFolder::at(&job.out_dir);
        let unwritable =
            |source| JobError::Folder(FolderError::Unwritable { path: folder.path().to_path_buf(), source });
        std::fs::create_dir_all(folder.path()).map_err(unwritable)?;
        // One runner per job, across processes: two would write the same .part files. The OS drops the lock
        // when a process dies, kill -9 included.
        let lock_path = folder.lock();
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(unwritable)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(JobError::AlreadyRunning(id)),
            Err(std::fs::TryLockError::Error(source)) => return Err(unwritable(source)),
        }
        // Read again under the lock: a runner that just finished may have moved the job on.
        let job = { self.db.lock().expect("database lock").get_job(id)? }.ok_or(JobError::NotFound(id))?;
        if job.state.is_finished() {
            return Err(JobError::Finished { id, state: job.state });
        }
        let (job, restarted) = self.follow_demo_server(job, &folder)?;
        // Cancelled by another process while the demo job was being moved: not started again.
        if job.state.is_finished() {
            return Err(JobError::Finished { id, state: job.state });
        }
        // The current dataset is built from the folder's files; a storage export's are not there.
        let keeps_dataset = job.settings.destination.is_none();
        let session = self.session_for(&job).await?;
        let log = ExportLog::new(
            &folder.log(),
            job.status_url.clone().unwrap_or_else(|| format!("haul-export-{id}")),
            session.secrets().clone(),
        );
        let ctx = Arc::new(Ctx {
            id,
            db: self.db.clone(),
            session,
            log,
            events,
            cancel: cancel.child_token(),
            pacing: self.pacing.clone(),
            disk: DiskGuard::new(folder.path().to_path_buf(), self.limits.min_free_disk_bytes),
            limits: self.limits.clone(),
            lanes: lanes::Lanes::new(job.settings.parallel.max(1)),
            folder: folder.clone(),
        });

        if restarted {
            ctx.emit(JobEvent::Warning {
                message: "The demo server was restarted (it starts with the app, on a new address) and keeps no \
                          exports, so Haul asked it for this export again."
                    .into(),
            });
        }

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
                if let (Some(address), Some(day)) = (&job.settings.destination, &job.transaction_time) {
                    let _ = upload::abort_unfinished(&ctx, address, day).await;
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
        let deletions = { self.db.lock().expect("database lock").deletion_count(id)? };
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
            _ => wording::completion(
                &wording::Arrived { resources, files, bytes, deletions },
                (state == JobState::CompletedWithProblems).then_some(problems.as_slice()),
            ),
        };
        // Finished in the database already: said now, before the current dataset's work, so no window says
        // "keeps running" meanwhile.
        ctx.emit(JobEvent::State { state });
        let message = match state {
            JobState::Completed if keeps_dataset => {
                message + &self.keep_dataset(id, &ctx.session, &ctx.events, &cancel).await
            }
            _ => message,
        };
        ctx.emit(JobEvent::Finished { state, message: message.clone() });
        Ok(JobOutcome { id, state, message, totals, problems, failure })
    }
}

/// A group export started with the group's id alone (typed, or from the command line): its name from the
/// server, so History shows "ACO North Regional" rather than `aco-north`. Best effort, while the server
/// prepares the export; nothing else waits on it for more than a few seconds.
async fn learn_group_name(ctx: &Ctx, job: &JobRecord) {
    let ExportLevel::Group(group) = job.request.level() else { return };
    if job.settings.group_name.is_some() {
        return;
    }
    let lookup = ctx.session.group_name(group);
    if let Ok(Some(name)) = tokio::time::timeout(Duration::from_secs(10), lookup).await {
        let _ = ctx.db(|db| db.set_group_name(ctx.id, &name));
    }
}

/// The state machine, from wherever the job is.
async fn drive(ctx: &Arc<Ctx>, mut job: JobRecord) -> Result<(JobState, Vec<String>), Stop> {
    if job.state == JobState::Created {
        if let Some(address) = &job.settings.destination {
            upload::check_destination(ctx, address).await?;
        }
        let status_url = kickoff(ctx, &job).await?;
        // Cancelled from another process meanwhile: stop now (the Cancelled end tells the server).
        if !ctx.db(|db| db.set_kicked_off(ctx.id, &status_url))? {
            return Err(Stop::Cancelled);
        }
        ctx.log.set_export_id(&status_url);
        ctx.emit(JobEvent::KickedOff { status_url: status_url.clone() });
        ctx.emit(JobEvent::State { state: JobState::KickedOff });
        job.status_url = Some(status_url);
        job.state = JobState::KickedOff;
        learn_group_name(ctx, &job).await;
    }
    let status_url = job.status_url.clone().unwrap_or_default();
    if job.state == JobState::KickedOff {
        let (manifest, expires) = poll(ctx, &status_url).await?;
        let files = file_names(&manifest);
        // The manifest is kept once, as received, in the folder; the database keeps what resuming needs.
        let path = ctx.folder.manifest();
        let secrets = ctx.session.secrets();
        let raw = if secrets.found_in(&manifest.raw) {
            secrets.redact(&String::from_utf8_lossy(&manifest.raw)).into_bytes()
        } else {
            manifest.raw.clone()
        };
        std::fs::write(&path, raw).map_err(|e| context::io_failure("write", &path, &e))?;
        let kept = json!({"transactionTime": manifest.transaction_time, "request": manifest.request,
                          "requiresAccessToken": manifest.requires_access_token})
        .to_string();
        if !ctx.db(|db| db.set_manifest(ctx.id, &kept, &manifest.transaction_time, expires.as_deref(), &files))? {
            return Err(Stop::Cancelled);
        }
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
        ctx.emit(JobEvent::Manifest {
            files: files.len() as u32,
            transaction_time: manifest.transaction_time.clone(),
            expires: expires.clone(),
        });
        ctx.emit(JobEvent::State { state: JobState::Downloading });
    }
    let raw = ctx.db(|db| db.manifest_json(ctx.id))?.unwrap_or_else(|| "{}".into());
    let manifest = Manifest::parse(raw.as_bytes())
        .map_err(|e| Stop::Failed(JobFailure { kind: "protocol".into(), message: e.to_string(), detail: None }))?;
    let store = match &job.settings.destination {
        None => None,
        Some(address) => {
            let target = upload::StoreTarget::claim(ctx, address, &manifest.transaction_time, &status_url).await?;
            ctx.log.event("destination", json!({"address": target.address()}));
            Some(Arc::new(target))
        }
    };
    let summaries = download_all(ctx, manifest.requires_access_token, store.clone()).await?;
    let summed = sum_up(ctx, &job, &status_url, summaries).await;
    // Every object is in place by now: a storage that refuses Haul's own small files only costs their copies
    // (they stay in the folder), not the export.
    if let Some(store) = &store
        && let Err(Stop::Failed(failure)) = upload::publish_side_files(ctx, store).await
    {
        ctx.emit(JobEvent::Warning {
            message: format!(
                "Haul could not copy its log, manifest and report to the storage ({}); they are in {}.",
                failure.message,
                ctx.folder.path().display()
            ),
        });
    }
    summed
}
