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
    pub fn is_running(&self, id: i64) -> bool {
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
    app: tauri::AppHandle,
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
    spawn(app, &state, job.id, on_event)?;
    Ok(job.id)
}

/// Runs job `id` in the background; events go to every watching page, and a desktop notification says
/// how it ended (the window may be closed or elsewhere by then).
fn spawn(app: tauri::AppHandle, state: &AppState, id: i64, first_watcher: Channel<JobEvent>) -> Result<(), IpcError> {
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
        let (title, body) = match &result {
            Ok(o) => (format!("Export {id} {}", o.state.label()), o.message.clone()),
            Err(e) => {
                tracing::warn!(job = id, error = %e, "export could not run");
                sink(&JobEvent::Finished { state: JobState::Failed, message: e.to_string() });
                (format!("Export {id} could not run"), e.to_string())
            }
        };
        running.jobs.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        use tauri_plugin_notification::NotificationExt;
        if let Err(e) = app.notification().builder().title(format!("Haul: {title}")).body(body).show() {
            // No notification service (a bare desktop, a test display): the window still says it.
            tracing::info!(error = %e, "no desktop notification");
        }
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
pub async fn resume_export(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    id: i64,
    on_event: Channel<JobEvent>,
) -> Result<(), IpcError> {
    spawn(app, &state, id, on_event)
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

/// Runs an earlier export again with the same server, request and settings, into a new folder. With
/// `incremental`, only what changed since that export (`_since` = its transactionTime).
#[tauri::command]
pub async fn rerun_export(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    id: i64,
    incremental: bool,
    on_event: Channel<JobEvent>,
) -> Result<i64, IpcError> {
    let old = state.with_db(|db| {
        db.get_job(id)?.ok_or_else(|| IpcError::new(ErrorCode::NotFound, format!("There is no export {id}.")))
    })?;
    let mut request = old.request.clone();
    if incremental {
        request.since = Some(old.transaction_time.clone().ok_or_else(|| {
            IpcError::new(
                ErrorCode::InvalidInput,
                "This export never finished, so there is no point in time to continue from. Run it again in full.",
            )
        })?);
    }
    // The server as it is now (its address may have changed, the demo's does at every start), else as it was.
    let server = old.server_id.and_then(|sid| state.with_db(|db| Ok(db.get_server(sid)?)).ok());
    let (server_name, fhir_url, settings) = match &server {
        Some(s) => {
            let settings = JobSettings { auth: auth_of(s)?, ..old.settings.clone() };
            (s.name.clone(), s.base_url.clone(), settings)
        }
        None => ("export".to_string(), old.fhir_url.clone(), old.settings.clone()),
    };
    let what = if incremental { format!("{} since last", describe_level(&request)) } else { describe_level(&request) };
    let out = state.exports_root()?.join(export_jobs::runner::folder_name(&server_name, &what));
    let out_dir = export_jobs::runner::prepare_folder(&out).map_err(job_error)?;
    let job = state.with_db(|db| {
        Ok(db.create_job(&NewJob {
            server_id: server.as_ref().map(|s| s.id),
            fhir_url: fhir_url.clone(),
            request: request.clone(),
            settings: settings.clone(),
            out_dir,
        })?)
    })?;
    spawn(app, &state, job.id, on_event)?;
    Ok(job.id)
}

fn job_folder(state: &AppState, id: i64) -> Result<PathBuf, IpcError> {
    let job = state.with_db(|db| {
        db.get_job(id)?.ok_or_else(|| IpcError::new(ErrorCode::NotFound, format!("There is no export {id}.")))
    })?;
    Ok(PathBuf::from(job.out_dir))
}

/// The end of a text file, at most `limit` bytes, on a character boundary.
fn tail_text(path: &std::path::Path, limit: u64) -> std::io::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(limit);
    f.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok(if start > 0 {
        format!("… (the first {start} bytes are not shown)\n{}", text.split_once('\n').map_or("", |x| x.1))
    } else {
        text
    })
}

/// `log.ndjson`, or the server's error files, as text for the History page (the last 512 KB of each).
#[tauri::command]
pub async fn export_text(state: State<'_, AppState>, id: i64, which: String) -> Result<String, IpcError> {
    let dir = job_folder(&state, id)?;
    let unreadable = |e: std::io::Error| {
        IpcError::new(ErrorCode::DataDir, format!("Haul could not read the export folder {}: {e}", dir.display()))
    };
    match which.as_str() {
        "log" => tail_text(&dir.join("log.ndjson"), 512 * 1024).map_err(unreadable),
        "errors" => {
            let mut out = String::new();
            let folder = dir.join("error");
            let mut names: Vec<PathBuf> = match std::fs::read_dir(&folder) {
                Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
                Err(_) => return Ok("The server sent no error files with this export.".into()),
            };
            names.sort();
            for path in names {
                out.push_str(&format!("── {}\n", path.file_name().unwrap_or_default().to_string_lossy()));
                out.push_str(&tail_text(&path, 512 * 1024).map_err(unreadable)?);
                out.push('\n');
            }
            Ok(out)
        }
        other => Err(IpcError::new(ErrorCode::InvalidInput, format!("Unknown file kind “{other}”."))),
    }
}

/// Opens the export folder in the system's file manager.
#[tauri::command]
pub async fn open_export_folder(state: State<'_, AppState>, id: i64) -> Result<(), IpcError> {
    let dir = job_folder(&state, id)?;
    if !dir.is_dir() {
        return Err(IpcError::new(ErrorCode::NotFound, format!("The folder {} is no longer there.", dir.display())));
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener).arg(&dir).spawn().map(drop).map_err(|e| {
        IpcError::new(
            ErrorCode::InvalidInput,
            format!("Haul could not open a file manager ({opener}: {e}). The folder is {}.", dir.display()),
        )
    })
}

/// Deletes an export's files (the history entry stays). Refuses while it runs, and refuses folders that do
/// not look like a Haul export, so a mistyped path can never cost the user other files.
#[tauri::command]
pub async fn delete_export_files(state: State<'_, AppState>, id: i64) -> Result<(), IpcError> {
    if state.running.is_running(id) {
        return Err(IpcError::new(ErrorCode::InvalidInput, "This export is running; cancel it first."));
    }
    let dir = job_folder(&state, id)?;
    if !dir.exists() {
        return Ok(());
    }
    let ours =
        dir.join("log.ndjson").exists() || dir.join("manifest.json").exists() || dir.join(".haul-export.lock").exists();
    let only_export_files = std::fs::read_dir(&dir).map(|entries| {
        entries.flatten().all(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.ends_with(".ndjson")
                || name.ends_with(".part")
                || name.ends_with(".tmp")
                || matches!(
                    name.as_str(),
                    "manifest.json" | ".haul-export.lock" | "error" | "deleted" | "quarantine" | "parquet"
                )
        })
    });
    if !ours || !matches!(only_export_files, Ok(true)) {
        return Err(IpcError::new(
            ErrorCode::InvalidInput,
            format!(
                "{} holds files Haul did not write, so Haul will not delete it. Delete it yourself if you are sure.",
                dir.display()
            ),
        ));
    }
    std::fs::remove_dir_all(&dir)
        .map_err(|e| IpcError::new(ErrorCode::DataDir, format!("Haul could not delete {}: {e}", dir.display())))
}
