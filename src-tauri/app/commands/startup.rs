use serde::Serialize;
use tauri::State;
use ts_rs::TS;

use export_jobs::DbProblem;

use crate::ipc_error::IpcError;
use crate::state::AppState;

/// Whether Haul could open its data; the UI shows a recovery screen for anything but `ready`.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "state", rename_all = "camelCase", rename_all_fields = "camelCase")]
#[ts(export)]
pub enum StartupStatus {
    Ready { data_dir: String },
    DatabaseProblem { problem: DbProblem, movable: bool, message: String, path: String },
    DataDirProblem { message: String, path: Option<String> },
}

#[tauri::command]
pub async fn startup_status(state: State<'_, AppState>) -> Result<StartupStatus, IpcError> {
    Ok(state.status())
}

/// Moves an unusable database aside (never deletes it) and starts with a fresh one.
/// Returns where the old file now is.
#[tauri::command]
pub async fn move_database_aside(state: State<'_, AppState>) -> Result<String, IpcError> {
    state.move_database_aside()
}
