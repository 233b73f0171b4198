//! The Files page: look inside an export folder (or any folder of NDJSON). The work is ndjson-preview's; this
//! keeps the open folders, runs the slow parts off the UI's thread, and streams progress and finds.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use ndjson_preview::overview::FolderOverview;
use ndjson_preview::{
    ChartProgress, Charts, FindBatch, FindSummary, IndexProgress, Located, PreviewError, PreviewFolder, PreviewOptions,
    PreviewPage, PreviewRow, ResourceText,
};
use tauri::State;
use tauri::ipc::Channel;

use crate::ipc_error::{ErrorCode, IpcError};
use crate::state::AppState;
use crate::tasks::{TaskGuard, TaskKey};
use export_jobs::JobEvent;

fn preview_error(e: PreviewError) -> IpcError {
    let code = match e {
        PreviewError::NoNdjson { .. } | PreviewError::NoSuchType { .. } | PreviewError::NoSuchRow { .. } => {
            ErrorCode::NotFound
        }
        PreviewError::Read { .. } | PreviewError::Cache { .. } | PreviewError::Write { .. } => ErrorCode::Preview,
        PreviewError::Changed { .. } => ErrorCode::FileChanged,
        PreviewError::EmptyQuery => ErrorCode::InvalidInput,
        PreviewError::Cancelled => ErrorCode::Interrupted,
    };
    IpcError::new(code, e.to_string())
}

fn opened(state: &AppState, folder: &str) -> Result<Arc<PreviewFolder>, IpcError> {
    let folders = state.open_folders.lock().unwrap_or_else(|p| p.into_inner());
    folders.get(&PathBuf::from(folder)).cloned().ok_or_else(|| {
        IpcError::new(ErrorCode::NotFound, format!("{folder} is not open on the Files page; open it again."))
    })
}

/// Runs blocking preview work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, PreviewError> + Send + 'static,
) -> Result<T, IpcError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| IpcError::new(ErrorCode::Preview, format!("The preview stopped unexpectedly: {e}")))?
        .map_err(preview_error)
}

/// Registers a find or chart count under the page's task name, for as long as the guard lives.
fn start_task(state: &AppState, name: String) -> Result<TaskGuard<Channel<JobEvent>>, IpcError> {
    state.tasks.start(TaskKey::Browse(name), Vec::new()).map_err(|_| {
        IpcError::new(ErrorCode::InvalidInput, "That search is already running; wait for it or stop it first.")
    })
}

/// Opens a folder (finding its NDJSON files and any indexes already made) and says what it holds.
#[tauri::command]
pub async fn browse_open(state: State<'_, AppState>, folder: String) -> Result<FolderOverview, IpcError> {
    let path = PathBuf::from(folder.trim());
    if folder.trim().is_empty() {
        return Err(IpcError::new(ErrorCode::InvalidInput, "Choose a folder to open."));
    }
    let options = PreviewOptions::new(state.preview_cache_dir()?);
    let existing = state.open_folders.lock().unwrap_or_else(|p| p.into_inner()).get(&path).cloned();
    let fresh = {
        let path = path.clone();
        blocking(move || PreviewFolder::open(&path, options)).await?
    };
    // The same files as before: keep the open folder and the indexes it has built or is building.
    let folder = match existing {
        Some(old) if old.file_paths() == fresh.file_paths() => old,
        _ => {
            let fresh = Arc::new(fresh);
            state.open_folders.lock().unwrap_or_else(|p| p.into_inner()).insert(path, fresh.clone());
            fresh
        }
    };
    blocking(move || Ok(folder.overview())).await
}

/// Indexes one type's files; progress arrives on `on_progress`. Rows can be read while it runs.
#[tauri::command]
pub async fn browse_index(
    state: State<'_, AppState>,
    folder: String,
    resource_type: String,
    on_progress: Channel<IndexProgress>,
) -> Result<IndexProgress, IpcError> {
    let open = opened(&state, &folder)?;
    blocking(move || {
        open.index_type(&resource_type, &|p| drop(on_progress.send(p)), &AtomicBool::new(false))?;
        open.progress(&resource_type)
    })
    .await
}

#[tauri::command]
pub async fn browse_page(
    state: State<'_, AppState>,
    folder: String,
    resource_type: String,
    start: u64,
    count: u64,
) -> Result<PreviewPage, IpcError> {
    let open = opened(&state, &folder)?;
    blocking(move || open.page(&resource_type, start, count)).await
}

#[tauri::command]
pub async fn browse_rows(
    state: State<'_, AppState>,
    folder: String,
    resource_type: String,
    rows: Vec<u64>,
) -> Result<Vec<PreviewRow>, IpcError> {
    let open = opened(&state, &folder)?;
    blocking(move || open.rows(&resource_type, &rows)).await
}

/// Saves rows of a type (a Find's rows, or those in view) as a CSV file at `path` (from the save dialog); the
/// number of rows written.
#[tauri::command]
pub async fn browse_save_csv(
    state: State<'_, AppState>,
    folder: String,
    resource_type: String,
    rows: Vec<u64>,
    path: String,
) -> Result<u64, IpcError> {
    let open = opened(&state, &folder)?;
    let mut out = std::path::PathBuf::from(path);
    if out.extension().is_none() {
        out.set_extension("csv");
    }
    blocking(move || open.save_csv(&resource_type, &rows, &out)).await
}

#[tauri::command]
pub async fn browse_resource(
    state: State<'_, AppState>,
    folder: String,
    resource_type: String,
    row: u64,
) -> Result<ResourceText, IpcError> {
    let open = opened(&state, &folder)?;
    blocking(move || open.resource(&resource_type, row)).await
}

/// Rows whose text contains `query`; batches arrive on `on_batch`, `browse_stop(task)` stops it.
#[tauri::command]
pub async fn browse_find(
    state: State<'_, AppState>,
    folder: String,
    resource_type: String,
    query: String,
    task: String,
    on_batch: Channel<FindBatch>,
) -> Result<FindSummary, IpcError> {
    let open = opened(&state, &folder)?;
    let task = start_task(&state, task)?;
    let stop = task.stop.flag();
    blocking(move || open.find(&resource_type, &query, &mut |b| drop(on_batch.send(b)), &stop)).await
}

/// Where a reference points, if the folder has that resource.
#[tauri::command]
pub async fn browse_lookup(
    state: State<'_, AppState>,
    folder: String,
    reference: String,
) -> Result<Option<Located>, IpcError> {
    let open = opened(&state, &folder)?;
    blocking(move || open.lookup(&reference, &AtomicBool::new(false))).await
}

/// The row of a resource by its id, within a type.
#[tauri::command]
pub async fn browse_find_id(
    state: State<'_, AppState>,
    folder: String,
    resource_type: String,
    id: String,
) -> Result<Option<u64>, IpcError> {
    let open = opened(&state, &folder)?;
    blocking(move || open.find_id(&resource_type, id.trim(), &AtomicBool::new(false))).await
}

/// Counts for the charts: one pass over every file.
#[tauri::command]
pub async fn browse_charts(
    state: State<'_, AppState>,
    folder: String,
    task: String,
    on_progress: Channel<ChartProgress>,
) -> Result<Charts, IpcError> {
    let open = opened(&state, &folder)?;
    let task = start_task(&state, task)?;
    let stop = task.stop.flag();
    blocking(move || {
        let last = Mutex::new(std::time::Instant::now());
        let progress = move |bytes_read, bytes| {
            // At most ten messages a second: the page only needs to see it move.
            let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
            if last.elapsed().as_millis() >= 100 || bytes_read >= bytes {
                *last = std::time::Instant::now();
                drop(on_progress.send(ChartProgress { bytes_read, bytes }));
            }
        };
        open.charts(&progress, &stop)
    })
    .await
}

/// Stops a find or a chart count.
#[tauri::command]
pub fn browse_stop(state: State<'_, AppState>, task: String) {
    state.tasks.stop(&TaskKey::Browse(task));
}
