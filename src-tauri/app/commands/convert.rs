//! Parquet from the window: convert an export (History → Convert), watch it, cancel it. The work is
//! fhir-tables'; schemas are remembered per server in SQLite (export-jobs).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use export_jobs::{Database, RememberedSchemas, server_of_folder};
use fhir_tables::{ConversionReport, ConvertError, ConvertOptions, ConvertProgress, Forgetful, SchemaMemory};
use tauri::State;
use tauri::ipc::Channel;

use crate::ipc_error::{ErrorCode, IpcError};
use crate::state::AppState;

fn convert_error(e: ConvertError) -> IpcError {
    let code = match e {
        ConvertError::Cancelled => ErrorCode::Interrupted,
        ConvertError::NoInput { .. } | ConvertError::UnknownType { .. } | ConvertError::Settings(_) => {
            ErrorCode::InvalidInput
        }
        ConvertError::Read { .. } | ConvertError::Write { .. } | ConvertError::Changed { .. } => ErrorCode::Conversion,
    };
    IpcError::new(code, e.to_string())
}

/// Removes the conversion's cancel flag however the conversion ends.
struct Registered<'a> {
    state: &'a AppState,
    id: i64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.state.conversions.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
    }
}

/// Converts an export's NDJSON to Parquet, into `<export folder>/parquet` unless `out_dir` says
/// otherwise; progress arrives on `on_progress`, the report is the answer.
#[tauri::command]
pub async fn convert_export(
    state: State<'_, AppState>,
    id: i64,
    out_dir: Option<String>,
    on_progress: Channel<ConvertProgress>,
) -> Result<ConversionReport, IpcError> {
    if state.running.is_running(id) {
        return Err(IpcError::new(
            ErrorCode::InvalidInput,
            "This export is still running; convert it when it has finished.",
        ));
    }
    let job = state.with_db(|db| {
        db.get_job(id)?.ok_or_else(|| IpcError::new(ErrorCode::NotFound, format!("There is no export {id}.")))
    })?;
    let folder = PathBuf::from(&job.out_dir);
    if !folder.is_dir() {
        return Err(IpcError::new(ErrorCode::NotFound, format!("The folder {} is no longer there.", folder.display())));
    }
    let out = match out_dir.as_deref().map(str::trim) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => folder.join("parquet"),
    };
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let mut running = state.conversions.lock().unwrap_or_else(|p| p.into_inner());
        if running.contains_key(&id) {
            return Err(IpcError::new(ErrorCode::InvalidInput, "This export is being converted already."));
        }
        running.insert(id, cancel.clone());
    }
    let _registered = Registered { state: &state, id };
    let db_path = state.database_path()?;
    let work = tokio::task::spawn_blocking(move || {
        let inputs = fhir_tables::find_inputs(std::slice::from_ref(&folder)).map_err(convert_error)?;
        // Schemas are remembered per server; without the database the tables are exactly this export's.
        let memory: Box<dyn SchemaMemory> = match Database::open(&db_path) {
            Ok(db) => match server_of_folder(Some(&db), &folder) {
                Some(server) => Box::new(RememberedSchemas::new(db, server)),
                None => Box::new(Forgetful),
            },
            Err(e) => {
                tracing::warn!(error = %e, "schemas not remembered for this conversion");
                Box::new(Forgetful)
            }
        };
        let on_progress = |p: &ConvertProgress| {
            let _ = on_progress.send(p.clone());
        };
        fhir_tables::convert(&inputs, &out, &ConvertOptions::default(), memory.as_ref(), &on_progress, &cancel)
            .map_err(convert_error)
    });
    work.await.map_err(|e| IpcError::new(ErrorCode::Conversion, format!("The conversion stopped unexpectedly: {e}")))?
}

/// Asks a running conversion to stop; the table being written is not replaced. False when none was running.
#[tauri::command]
pub async fn cancel_conversion(state: State<'_, AppState>, id: i64) -> Result<bool, IpcError> {
    let running = state.conversions.lock().unwrap_or_else(|p| p.into_inner());
    Ok(running.get(&id).map(|c| c.store(true, Ordering::Relaxed)).is_some())
}
