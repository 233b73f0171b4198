//! History → "Repeat": schedules made in the window. The system's scheduler runs this same program with
//! `--run-scheduled ID` (see scheduled_run.rs); adding, listing and removing are export-jobs' `scheduled`.

use export_jobs::scheduled::{self, Runs};
use haul_store::{DataDir, Schedule};
use os_schedule::Cadence;
use serde::Serialize;
use tauri::State;
use ts_rs::TS;

use crate::ipc_error::{ErrorCode, IpcError};
use crate::state::AppState;

/// A schedule made, and what the user must do when the system's scheduler could only be written to.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ScheduleAdded {
    pub schedule: Schedule,
    pub note: Option<String>,
}

fn refused(message: String) -> IpcError {
    IpcError::new(ErrorCode::InvalidInput, message)
}

/// Repeats export `export_id` `cadence` (daily, weekly, monthly) at `at` (`HH:MM`, this computer's time).
#[tauri::command]
pub async fn schedule_export(
    state: State<'_, AppState>,
    export_id: i64,
    cadence: Cadence,
    at: String,
) -> Result<ScheduleAdded, IpcError> {
    let data = DataDir::locate().map_err(|e| IpcError::new(ErrorCode::DataDir, e.to_string()))?;
    let program = std::env::current_exe()
        .map_err(|e| IpcError::new(ErrorCode::DataDir, format!("Haul cannot find its own program: {e}")))?;
    let runs = Runs { program, args: vec!["--run-scheduled".into()] };
    let added = state.with_db(|db| scheduled::add(db, &data, export_id, cadence, &at, &runs).map_err(refused))?;
    Ok(ScheduleAdded { schedule: added.schedule, note: added.note })
}

#[tauri::command]
pub async fn list_schedules(state: State<'_, AppState>) -> Result<Vec<Schedule>, IpcError> {
    state.with_db(|db| Ok(db.list_schedules()?))
}

/// Stops repeating (the runs so far stay in the history).
#[tauri::command]
pub async fn remove_schedule(state: State<'_, AppState>, id: i64) -> Result<(), IpcError> {
    state.with_db(|db| scheduled::remove(db, id).map_err(refused))
}
