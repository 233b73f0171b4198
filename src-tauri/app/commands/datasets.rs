//! History → an export → its request's current dataset (export-jobs' `dataset`): where it is, what it holds,
//! and a button to open it.

use export_jobs::dataset::{DatasetSummary, dataset_of};
use tauri::State;

use crate::commands::exports::open_in_file_manager;
use crate::ipc_error::{ErrorCode, IpcError};
use crate::state::AppState;

fn summary(state: &AppState, id: i64) -> Result<Option<DatasetSummary>, IpcError> {
    let root = state.datasets_root()?;
    let job = state.with_db(|db| {
        db.get_job(id)?.ok_or_else(|| IpcError::new(ErrorCode::NotFound, format!("There is no export {id}.")))
    })?;
    dataset_of(&root, &job).map_err(|e| IpcError::new(ErrorCode::Preview, e.to_string()))
}

/// The current dataset of export `id`'s request; none until an export of it completed.
#[tauri::command]
pub async fn export_dataset(state: State<'_, AppState>, id: i64) -> Result<Option<DatasetSummary>, IpcError> {
    summary(&state, id)
}

#[tauri::command]
pub async fn open_dataset_folder(state: State<'_, AppState>, id: i64) -> Result<(), IpcError> {
    let found = summary(&state, id)?.ok_or_else(|| {
        IpcError::new(
            ErrorCode::NotFound,
            "This request has no current dataset yet: it appears once an export of it completes.",
        )
    })?;
    open_in_file_manager(std::path::Path::new(&found.folder))
}
