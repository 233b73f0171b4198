//! History → "Compare with…": two exports of one dataset side by side (export-jobs' comparison).

use export_compare::Comparison;
use export_jobs::comparison::{ComparisonError, compare_picked, new_members_of, pick};
use tauri::State;

use crate::ipc_error::{ErrorCode, IpcError};
use crate::state::AppState;

impl From<ComparisonError> for IpcError {
    fn from(e: ComparisonError) -> Self {
        let code = match &e {
            ComparisonError::NoSuchExport(_) => ErrorCode::NotFound,
            ComparisonError::Same
            | ComparisonError::OtherDataset { .. }
            | ComparisonError::OtherRequest { .. }
            | ComparisonError::EarlierIsIncremental(_)
            | ComparisonError::Gap { .. } => ErrorCode::InvalidInput,
            ComparisonError::Compare(export_compare::CompareError::FolderGone(_)) => ErrorCode::NotFound,
            ComparisonError::Compare(_) => ErrorCode::Preview,
            ComparisonError::Db(_) => ErrorCode::Database,
        };
        IpcError::new(code, e.to_string())
    }
}

/// Compares exports `a` and `b` (either order; the earlier is the baseline). The folders are read off the
/// async threads, and without holding the database.
#[tauri::command]
pub async fn compare_exports(state: State<'_, AppState>, a: i64, b: i64) -> Result<Comparison, IpcError> {
    let (earlier, later, extra) = state.with_db(|db| {
        let (earlier, later) = pick(db, a, b)?;
        let extra = new_members_of(db, &later);
        Ok((earlier, later, extra))
    })?;
    tokio::task::spawn_blocking(move || compare_picked(earlier, later, extra))
        .await
        .map_err(|e| IpcError::new(ErrorCode::Preview, format!("The comparison stopped unexpectedly: {e}")))?
        .map(|c| c.comparison)
        .map_err(IpcError::from)
}
