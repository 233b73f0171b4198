//! Exports from the window: start, watch, cancel, resume, history. The job runner is export-jobs'; this
//! file only turns calls into runner calls and runner events into a Tauri channel per watching page.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bulk_client::{ExportLevel, ExportRequest};
use export_jobs::servers::AuthKind;
use export_jobs::{AuthSettings, ExportRunner, JobEvent, JobRecord, JobSettings, JobState, NewJob, TypeTotal};
use serde::{Deserialize, Serialize};
use tauri::State;
use tauri::ipc::Channel;
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use crate::ipc_error::{ErrorCode, IpcError};
use crate::state::AppState;

/// What the Export page sends.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ExportInput {
    #[ts(type = "number")]
    pub server_id: i64,
    pub request: ExportRequest,
    /// Use the transactionTime of the last successful export of the same request as `_since`.
    pub since_last: bool,
    /// A folder of the user's choice; empty: a new folder under the default exports folder.
    pub out_dir: Option<String>,
    pub parallel: u32,
    pub delete_after: bool,
}

/// A row of the History page.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ExportSummary {
    pub job: JobRecord,
    pub totals: Vec<TypeTotal>,
    /// Running in this app right now (as opposed to interrupted).
    pub running: bool,
}

/// The request as it will be sent, for the expert's eye.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ExportPreview {
    pub request_text: String,
    /// The `_since` that "since the last export" would use, if there is one.
    pub since_last: Option<String>,
    pub default_folder: String,
}

/// Jobs running in this process, each with the pages watching it.
#[derive(Default)]
pub struct RunningExports {
    jobs: Mutex<HashMap<i64, Running>>,
}

struct Running {
    cancel: CancellationToken,
    watchers: Arc<Mutex<Vec<Channel<JobEvent>>>>,
}

impl RunningExports {
    fn is_running(&self, id: i64) -> bool {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).contains_key(&id)
    }
}

pub fn job_error(e: export_jobs::JobError) -> IpcError {
    let code = match &e {
        export_jobs::JobError::NotFound(_) => ErrorCode::NotFound,
        export_jobs::JobError::Finished { .. } | export_jobs::JobError::AlreadyRunning(_) => ErrorCode::InvalidInput,
        export_jobs::JobError::FolderNotEmpty(_) | export_jobs::JobError::Folder { .. } => ErrorCode::InvalidInput,
        export_jobs::JobError::Db(db) => return IpcError::from(db),
        export_jobs::JobError::Key(_) => ErrorCode::Keychain,
        export_jobs::JobError::Server { .. } => ErrorCode::HttpStatus,
    };
    let detail = match &e {
        export_jobs::JobError::Server { detail, .. } => detail.clone(),
        _ => None,
    };
    IpcError { detail, ..IpcError::new(code, e.to_string()) }
}

pub fn auth_of(server: &export_jobs::Server) -> Result<Option<AuthSettings>, IpcError> {
    if server.auth != AuthKind::SmartBackend {
        return Ok(None);
    }
    match (&server.client_id, &server.key_kid) {
        (Some(client_id), Some(kid)) if !client_id.trim().is_empty() => Ok(Some(AuthSettings {
            client_id: client_id.clone(),
            key_kid: kid.clone(),
            token_url: server.token_url.clone(),
            scope: server.scope.clone(),
        })),
        _ => Err(IpcError::new(
            ErrorCode::InvalidInput,
            format!(
                "“{}” signs in with SMART Backend Services but has no client ID or key yet. Set both on the Servers page, then export.",
                server.name
            ),
        )),
    }
}

fn describe_level(request: &ExportRequest) -> String {
    match request.level() {
        ExportLevel::System => "everything".into(),
        ExportLevel::Patient => "all patients".into(),
        ExportLevel::Group(g) => format!("group {g}"),
    }
}

#[tauri::command]
pub async fn preview_export(
    state: State<'_, AppState>,
    server_id: i64,
    request: ExportRequest,
) -> Result<ExportPreview, IpcError> {
    let (server, since_last) = state.with_db(|db| {
        let server = db.get_server(server_id)?;
        let since = db.last_transaction_time(&server.base_url, &request)?;
        Ok((server, since))
    })?;
    // Outside with_db: it holds the database slot's lock, which exports_root takes too.
    let root = state.exports_root()?;
    Ok(ExportPreview {
        request_text: request.describe(&server.base_url),
        since_last,
        default_folder: root
            .join(export_jobs::runner::folder_name(&server.name, &describe_level(&request)))
            .display()
            .to_string(),
    })
}

#[tauri::command]
pub async fn start_export(
    state: State<'_, AppState>,
    input: ExportInput,
    on_event: Channel<JobEvent>,
) -> Result<i64, IpcError> {
    let mut request = input.request.clone();
    let server = state.with_db(|db| {
        let server = db.get_server(input.server_id)?;
        if input.since_last {
            request.since = db.last_transaction_time(&server.base_url, &request)?;
        }
        Ok(server)
    })?;
    let job_out = state.exports_root()?;
    let auth = auth_of(&server)?;
    if !request.patients.is_empty() && matches!(request.level(), ExportLevel::System) {
        return Err(IpcError::new(
            ErrorCode::InvalidInput,
            "Patients can only be chosen for an all-patients or a group export.",
        ));
    }
    let out = match input.out_dir.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => job_out.join(export_jobs::runner::folder_name(&server.name, &describe_level(&request))),
    };
    let out_dir = export_jobs::runner::prepare_folder(&out).map_err(job_error)?;
    let job = state.with_db(|db| {
        Ok(db.create_job(&NewJob {
            server_id: Some(server.id),
            fhir_url: server.base_url.clone(),
            request: request.clone(),
            settings: JobSettings { parallel: input.parallel.clamp(1, 32), delete_after: input.delete_after, auth },
            out_dir,
        })?)
    })?;
    spawn(&state, job.id, on_event)?;
    Ok(job.id)
}

/// Runs job `id` in the background; events go to every watching page.
fn spawn(state: &AppState, id: i64, first_watcher: Channel<JobEvent>) -> Result<(), IpcError> {
    let runner: ExportRunner = state.runner()?;
    let running = state.running.clone();
    let cancel = CancellationToken::new();
    let watchers = Arc::new(Mutex::new(vec![first_watcher]));
    {
        let mut jobs = running.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if jobs.contains_key(&id) {
            return Err(IpcError::new(ErrorCode::InvalidInput, format!("Export {id} is already running.")));
        }
        jobs.insert(id, Running { cancel: cancel.clone(), watchers: watchers.clone() });
    }
    let sink: export_jobs::EventSink = Arc::new(move |e: &JobEvent| {
        // A page that went away drops its channel; the job carries on regardless.
        watchers.lock().unwrap_or_else(|p| p.into_inner()).retain(|w| w.send(e.clone()).is_ok());
    });
    tauri::async_runtime::spawn(async move {
        let result = runner.run(id, sink.clone(), cancel).await;
        if let Err(e) = result {
            tracing::warn!(job = id, error = %e, "export could not run");
            sink(&JobEvent::Finished { state: JobState::Failed, message: e.to_string() });
        }
        running.jobs.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    });
    Ok(())
}

/// Follows a job that is running here (after the page was left and opened again). False if it is not.
#[tauri::command]
pub async fn watch_export(state: State<'_, AppState>, id: i64, on_event: Channel<JobEvent>) -> Result<bool, IpcError> {
    let jobs = state.running.jobs.lock().unwrap_or_else(|p| p.into_inner());
    match jobs.get(&id) {
        Some(r) => {
            r.watchers.lock().unwrap_or_else(|p| p.into_inner()).push(on_event);
            Ok(true)
        }
        None => Ok(false),
    }
}

#[tauri::command]
pub async fn resume_export(state: State<'_, AppState>, id: i64, on_event: Channel<JobEvent>) -> Result<(), IpcError> {
    spawn(&state, id, on_event)
}

#[tauri::command]
pub async fn cancel_export(state: State<'_, AppState>, id: i64) -> Result<bool, IpcError> {
    let token = state.running.jobs.lock().unwrap_or_else(|p| p.into_inner()).get(&id).map(|r| r.cancel.clone());
    match token {
        // Running here: the runner stops, tells the server and records it.
        Some(t) => {
            t.cancel();
            Ok(true)
        }
        None => state.runner()?.cancel(id).await.map_err(job_error),
    }
}

#[tauri::command]
pub async fn list_exports(state: State<'_, AppState>, limit: u32) -> Result<Vec<ExportSummary>, IpcError> {
    let jobs = state.with_db(|db| {
        let jobs = db.list_jobs(limit.clamp(1, 100_000))?;
        jobs.into_iter().map(|job| Ok((db.type_totals(job.id)?, job))).collect::<Result<Vec<_>, IpcError>>()
    })?;
    Ok(jobs
        .into_iter()
        .map(|(totals, job)| ExportSummary { running: state.running.is_running(job.id), job, totals })
        .collect())
}
