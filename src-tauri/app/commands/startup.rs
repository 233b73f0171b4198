use tauri::State;

use crate::ipc_error::IpcError;
use crate::state::{AppState, StartupStatus};

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
