//! Exports from the window: start, watch, cancel, resume, history. The job runner is export-jobs'; this
//! file only turns calls into runner calls and runner events into a Tauri channel per watching page.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use bulk_client::{ExportLevel, ExportRequest};
use export_jobs::{ExportFolder, ExportPlan, ExportPreview, ExportRunner, ExportTarget, JobEvent, Since};
use haul_store::{JobRecord, JobState, PinnedGroup, TypeTotal};
use serde::{Deserialize, Serialize};
use tauri::State;
use tauri::ipc::Channel;
use ts_rs::TS;

use crate::ipc_error::{ErrorCode, IpcError};
use crate::state::AppState;
use crate::tasks::{TaskKey, tell};

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
    /// On an incremental group export, also fetch the full records of patients who joined the group.
    pub new_member_records: bool,
    /// The group's name where the user chose it from the server's list (shown in History instead of its id).
    #[serde(default)]
    #[ts(optional)]
    pub group_name: Option<String>,
}

/// A row of the History page.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ExportSummary {
    pub job: JobRecord,
    pub totals: Vec<TypeTotal>,
    /// Resources the server reported deleted (an incremental export's `deleted[]`).
    #[ts(type = "number")]
    pub deletions: u64,
    /// Running in this app right now (as opposed to interrupted).
    pub running: bool,
    /// The export's folder is still there (History says so when its files were deleted or moved).
    pub files_present: bool,
    /// Its saved server's name as it is now (the demo server's address changes with every start).
    pub server_name: Option<String>,
    /// For a group export: the group's name where Haul knows it (a pinned group of that server, else the name
    /// it had when the export was started from the server's list).
    pub group_name: Option<String>,
}

/// What the export would send and where it would go, before anything starts.
#[tauri::command]
pub async fn preview_export(
    state: State<'_, AppState>,
    server_id: i64,
    request: ExportRequest,
) -> Result<ExportPreview, IpcError> {
    // exports_root takes the database slot's lock too: ask for it before with_db, never inside.
    let root = state.exports_root()?;
    state.with_db(|db| Ok(ExportPlan::for_saved(server_id, request).preview(db, &root)?))
}

#[tauri::command]
pub async fn start_export(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    input: ExportInput,
    on_event: Channel<JobEvent>,
) -> Result<i64, IpcError> {
    // A folder, or an object storage address typed in its place.
    let (out_dir, destination) = match input.out_dir.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => (None, None),
        Some(text) => match export_jobs::export_target(text)? {
            ExportTarget::Folder(dir) => (Some(dir), None),
            ExportTarget::Storage(address) => (None, Some(address)),
        },
    };
    let plan = ExportPlan {
        since: if input.since_last { Since::LastExport } else { Since::AsRequested },
        out_dir,
        destination,
        parallel: input.parallel,
        delete_after: input.delete_after,
        new_member_records: input.new_member_records,
        group_name: input.group_name,
        ..ExportPlan::for_saved(input.server_id, input.request)
    };
    let root = state.exports_root()?;
    let planned = state.with_db(|db| Ok(plan.create(db, &root)?))?;
    // What the server's kind changed in the request, shown before the export's own events.
    for message in &planned.notes {
        let _ = on_event.send(JobEvent::Warning { message: message.clone() });
    }
    spawn(app, &state, planned.job.id, on_event)?;
    Ok(planned.job.id)
}

/// Runs job `id` in the background; events go to every watching page, and a desktop notification says
/// how it ended (the window may be closed or elsewhere by then).
fn spawn(app: tauri::AppHandle, state: &AppState, id: i64, first_watcher: Channel<JobEvent>) -> Result<(), IpcError> {
    let runner: ExportRunner = state.runner()?;
    let task = state
        .tasks
        .start(TaskKey::Export(id), vec![first_watcher])
        .map_err(|_| IpcError::new(ErrorCode::InvalidInput, format!("Export {id} is already running.")))?;
    let watchers = task.watchers.clone();
    // A page that went away drops its channel; the job carries on regardless.
    let sink: export_jobs::EventSink =
        Arc::new(move |e: &JobEvent| tell(&watchers, e, |w: &Channel<JobEvent>, e| w.send(e.clone()).is_ok()));
    tauri::async_runtime::spawn(async move {
        let result = runner.run(id, sink.clone(), task.stop.token()).await;
        let (title, body) = match &result {
            Ok(o) => (format!("Export {id} {}", o.state.label()), o.message.clone()),
            Err(e) => {
                tracing::warn!(job = id, error = %e, "export could not run");
                sink(&JobEvent::Finished { state: JobState::Failed, message: e.to_string() });
                (format!("Export {id} could not run"), e.to_string())
            }
        };
        drop(task);
        use tauri_plugin_notification::NotificationExt;
        if let Err(e) = app.notification().builder().title(format!("Haul: {title}")).body(body).show() {
            // No notification service (a bare desktop, a test display): the window still says it.
            tracing::info!(error = %e, "no desktop notification");
        }
    });
    Ok(())
}

/// Scheduled runs that failed while the app was closed: one desktop notification each, once.
pub fn tell_failed_schedules(app: &tauri::AppHandle) {
    use tauri::Manager;
    use tauri_plugin_notification::NotificationExt;
    let state = app.state::<AppState>();
    let failed = match state.with_db(|db| Ok(db.take_unseen_failures()?)) {
        Ok(failed) => failed,
        Err(e) => return tracing::info!(error = %e.message, "scheduled runs not checked"),
    };
    for schedule in failed {
        let (title, body) = schedule.failure_notice();
        if let Err(e) = app.notification().builder().title(format!("Haul: {title}")).body(body).show() {
            tracing::info!(error = %e, "no desktop notification");
        }
    }
}

/// Follows a job that is running here (after the page was left and opened again). False if it is not.
#[tauri::command]
pub async fn watch_export(state: State<'_, AppState>, id: i64, on_event: Channel<JobEvent>) -> Result<bool, IpcError> {
    Ok(state.tasks.watch(&TaskKey::Export(id), on_event))
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
    // Running here: the runner stops, tells the server and records it. Elsewhere: through the database.
    if state.tasks.stop(&TaskKey::Export(id)) {
        return Ok(true);
    }
    Ok(state.runner()?.cancel(id).await?)
}

/// Cancels, on the server, the export it ran instead of export `id` (CMS BCDA runs one per client at a time
/// and named it when it refused this one); returns that export's status URL.
#[tauri::command]
pub async fn cancel_blocking_export(state: State<'_, AppState>, id: i64) -> Result<String, IpcError> {
    Ok(state.runner()?.cancel_blocking(id).await?)
}

#[tauri::command]
pub async fn list_exports(state: State<'_, AppState>, limit: u32) -> Result<Vec<ExportSummary>, IpcError> {
    let jobs = state.with_db(|db| {
        let jobs = db.list_jobs(limit.clamp(1, 100_000))?;
        // Looked up once per server, not once per row: History lists up to 100,000 exports.
        let mut servers: HashMap<i64, (Option<String>, Vec<PinnedGroup>)> = HashMap::new();
        jobs.into_iter()
            .map(|job| {
                let (server_name, pins) = match job.server_id {
                    Some(id) => {
                        let (name, pins) = servers.entry(id).or_insert_with(|| {
                            (db.get_server(id).ok().map(|s| s.name), db.pinned_groups(id).unwrap_or_default())
                        });
                        (name.clone(), pins.as_slice())
                    }
                    None => (None, &[][..]),
                };
                // The name it has now if pinned, else the one it had when the export was started.
                let group_name = match &job.request.level {
                    Some(ExportLevel::Group(group_id)) => pins
                        .iter()
                        .find(|p| &p.group_id == group_id)
                        .and_then(|p| p.name.clone())
                        .or_else(|| job.settings.group_name.clone()),
                    _ => None,
                };
                Ok((db.type_totals(job.id)?, db.deletion_count(job.id)?, server_name, group_name, job))
            })
            .collect::<Result<Vec<_>, IpcError>>()
    })?;
    Ok(jobs
        .into_iter()
        .map(|(totals, deletions, server_name, group_name, job)| ExportSummary {
            running: state.tasks.is_running(&TaskKey::Export(job.id)),
            files_present: std::path::Path::new(&job.out_dir).is_dir(),
            job,
            totals,
            deletions,
            server_name,
            group_name,
        })
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
    let root = state.exports_root()?;
    let planned = state.with_db(|db| Ok(ExportPlan::rerun(db, id, incremental)?.create(db, &root)?))?;
    spawn(app, &state, planned.job.id, on_event)?;
    Ok(planned.job.id)
}

fn job_folder(state: &AppState, id: i64) -> Result<ExportFolder, IpcError> {
    let job = state.with_db(|db| {
        db.get_job(id)?.ok_or_else(|| IpcError::new(ErrorCode::NotFound, format!("There is no export {id}.")))
    })?;
    Ok(ExportFolder::at(job.out_dir))
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
    let folder = job_folder(&state, id)?;
    let dir = folder.path();
    let unreadable = |e: std::io::Error| {
        IpcError::new(ErrorCode::DataDir, format!("Haul could not read the export folder {}: {e}", dir.display()))
    };
    match which.as_str() {
        "log" => tail_text(&folder.log(), 512 * 1024).map_err(unreadable),
        "errors" => {
            let mut out = String::new();
            let mut names: Vec<PathBuf> = match std::fs::read_dir(folder.error_dir()) {
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
    let folder = job_folder(&state, id)?;
    let dir = folder.path();
    if !dir.is_dir() {
        return Err(IpcError::new(ErrorCode::NotFound, format!("The folder {} is no longer there.", dir.display())));
    }
    open_in_file_manager(dir)
}

/// Shows the export's Parquet tables (`parquet/`, made by Convert) in the system's file manager.
#[tauri::command]
pub async fn open_parquet_folder(state: State<'_, AppState>, id: i64) -> Result<(), IpcError> {
    let dir = job_folder(&state, id)?.parquet();
    if !dir.is_dir() {
        return Err(IpcError::new(ErrorCode::NotFound, "This export has not been converted to Parquet yet."));
    }
    open_in_file_manager(&dir)
}

/// Shows `dir` in the system's file manager.
pub(crate) fn open_in_file_manager(dir: &std::path::Path) -> Result<(), IpcError> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener).arg(dir).spawn().map(drop).map_err(|e| {
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
    if state.tasks.is_running(&TaskKey::Export(id)) {
        return Err(IpcError::new(ErrorCode::InvalidInput, "This export is running; cancel it first."));
    }
    Ok(job_folder(&state, id)?.delete()?)
}
