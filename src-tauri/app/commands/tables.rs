//! Flat tables from the window: History → an export → "Make tables…". Lists the built-in views, reads the
//! user's own view files, previews a view's first rows, makes the tables (progress on a channel), stops them.
//! The work is fhir-views'.

use std::path::PathBuf;

use export_jobs::ExportFolder;
use fhir_views::{
    BUILT_IN, Format, TablePreview, TablesError, TablesOptions, TablesProgress, View, ViewInfo, ViewOutcome, built_in,
    check_names, read_view_file,
};
use serde::{Deserialize, Serialize};
use tauri::State;
use tauri::ipc::Channel;
use ts_rs::TS;

use crate::commands::exports::open_in_file_manager;
use crate::ipc_error::{ErrorCode, IpcError};
use crate::state::AppState;
use crate::tasks::TaskKey;

/// Which view: a built-in one by name, or a view file.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase", tag = "kind")]
#[ts(export)]
pub enum ViewChoice {
    BuiltIn { name: String },
    File { path: String },
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TablesSummary {
    pub out_dir: String,
    pub views: Vec<ViewOutcome>,
}

/// The default folder: `tables` inside the export.
fn tables_folder(export: &ExportFolder) -> PathBuf {
    export.path().join("tables")
}

fn view_of(choice: &ViewChoice) -> Result<View, IpcError> {
    match choice {
        ViewChoice::BuiltIn { name } => built_in(name),
        ViewChoice::File { path } => read_view_file(std::path::Path::new(path)),
    }
    .map_err(|e| IpcError::new(ErrorCode::InvalidInput, e.to_string()))
}

fn tables_error(e: TablesError) -> IpcError {
    match e {
        TablesError::Cancelled => IpcError::new(ErrorCode::Interrupted, "Stopped. Views not finished left no files."),
        other => IpcError::new(ErrorCode::Conversion, other.to_string()),
    }
}

fn export_folder(state: &AppState, id: i64) -> Result<ExportFolder, IpcError> {
    let job = state.with_db(|db| {
        db.get_job(id)?.ok_or_else(|| IpcError::new(ErrorCode::NotFound, format!("There is no export {id}.")))
    })?;
    let export = ExportFolder::at(&job.out_dir);
    if !export.path().is_dir() {
        return Err(IpcError::new(
            ErrorCode::NotFound,
            format!("The folder {} is no longer there.", export.path().display()),
        ));
    }
    Ok(export)
}

/// The built-in views, in the order Haul lists them.
#[tauri::command]
pub async fn list_views() -> Result<Vec<ViewInfo>, IpcError> {
    BUILT_IN
        .iter()
        .map(|(name, _)| built_in(name).map(|v| v.info(None)))
        .collect::<Result<_, _>>()
        .map_err(|e| IpcError::new(ErrorCode::InvalidInput, e.to_string()))
}

/// Reads a view file the user picked: refused, with the file and the reason, when it is not a usable view.
#[tauri::command]
pub async fn read_view(path: String) -> Result<ViewInfo, IpcError> {
    let p = PathBuf::from(&path);
    let view = read_view_file(&p).map_err(|e| IpcError::new(ErrorCode::InvalidInput, e.to_string()))?;
    Ok(view.info(Some(&p)))
}

/// The first rows of a view over export `id`, nothing written.
#[tauri::command]
pub async fn preview_view(state: State<'_, AppState>, id: i64, view: ViewChoice) -> Result<TablePreview, IpcError> {
    let folder = export_folder(&state, id)?.path().to_path_buf();
    let view = view_of(&view)?;
    tokio::task::spawn_blocking(move || fhir_views::preview(&[folder], &view, 20).map_err(tables_error))
        .await
        .map_err(|e| IpcError::new(ErrorCode::Conversion, format!("The preview stopped unexpectedly: {e}")))?
}

/// The first rows of a view over any folder of NDJSON (the Files page), nothing written.
#[tauri::command]
pub async fn preview_view_in_folder(folder: String, view: ViewChoice) -> Result<TablePreview, IpcError> {
    let folder = PathBuf::from(folder);
    if !folder.is_dir() {
        return Err(IpcError::new(ErrorCode::NotFound, format!("The folder {} is not there.", folder.display())));
    }
    let view = view_of(&view)?;
    tokio::task::spawn_blocking(move || fhir_views::preview(&[folder], &view, 20).map_err(tables_error))
        .await
        .map_err(|e| IpcError::new(ErrorCode::Conversion, format!("The preview stopped unexpectedly: {e}")))?
}

/// Makes the views' tables in the formats asked, into `<export folder>/tables`.
#[tauri::command]
pub async fn make_tables(
    state: State<'_, AppState>,
    id: i64,
    views: Vec<ViewChoice>,
    formats: Vec<Format>,
    csv_bom: bool,
    on_progress: Channel<TablesProgress>,
) -> Result<TablesSummary, IpcError> {
    if state.tasks.is_running(&TaskKey::Export(id)) {
        return Err(IpcError::new(
            ErrorCode::InvalidInput,
            "This export is still running; make tables when it has finished.",
        ));
    }
    if views.is_empty() || formats.is_empty() {
        return Err(IpcError::new(ErrorCode::InvalidInput, "Choose at least one view and one format."));
    }
    let views = views.iter().map(view_of).collect::<Result<Vec<_>, _>>()?;
    check_names(&views).map_err(|e| IpcError::new(ErrorCode::InvalidInput, e.to_string()))?;
    let export = export_folder(&state, id)?;
    let (folder, out) = (export.path().to_path_buf(), tables_folder(&export));
    let task = state
        .tasks
        .start(TaskKey::Tables(id), Vec::new())
        .map_err(|_| IpcError::new(ErrorCode::InvalidInput, "Tables are being made from this export already."))?;
    let cancel = task.stop.flag();
    let options = TablesOptions { formats, csv_bom, ..TablesOptions::default() };
    let out_dir = out.display().to_string();
    let work = tokio::task::spawn_blocking(move || {
        let on_progress = |p: &TablesProgress| {
            let _ = on_progress.send(p.clone());
        };
        fhir_views::make_tables(&[folder], &views, &out, &options, &on_progress, &cancel).map_err(tables_error)
    });
    let views = work
        .await
        .map_err(|e| IpcError::new(ErrorCode::Conversion, format!("Making tables stopped unexpectedly: {e}")))??;
    drop(task);
    Ok(TablesSummary { out_dir, views })
}

/// Asks a running "Make tables" to stop; views not finished leave no files. False when none was running.
#[tauri::command]
pub async fn cancel_tables(state: State<'_, AppState>, id: i64) -> Result<bool, IpcError> {
    Ok(state.tasks.stop(&TaskKey::Tables(id)))
}

/// Opens `<export folder>/tables` in the file manager.
#[tauri::command]
pub async fn open_tables_folder(state: State<'_, AppState>, id: i64) -> Result<(), IpcError> {
    let folder = tables_folder(&export_folder(&state, id)?);
    if !folder.is_dir() {
        return Err(IpcError::new(ErrorCode::NotFound, "No tables have been made from this export yet."));
    }
    open_in_file_manager(&folder)
}
