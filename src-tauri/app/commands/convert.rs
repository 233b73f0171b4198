//! Parquet from the window: convert an export (History → Convert), watch it, cancel it. The work is
//! fhir-tables'; schemas are remembered per server in SQLite (export-jobs).

use std::path::PathBuf;

use delta_table::Vacuumed;
use export_jobs::ExportFolder;
use export_jobs::delta::{DeltaConvertError, DeltaReport, convert_to_delta, open_existing_target, open_target};
use export_jobs::{RememberedSchemas, server_of_folder};
use fhir_tables::{ConversionReport, ConvertError, ConvertOptions, ConvertProgress, Forgetful, SchemaMemory};
use haul_store::Database;
use tauri::State;
use tauri::ipc::Channel;

use crate::ipc_error::{ErrorCode, IpcError};
use crate::state::AppState;
use crate::tasks::TaskKey;

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

/// The folder of export `id`, which must have finished and still be there: what either conversion starts from.
fn finished_export(state: &AppState, id: i64) -> Result<ExportFolder, IpcError> {
    if state.tasks.is_running(&TaskKey::Export(id)) {
        return Err(IpcError::new(
            ErrorCode::InvalidInput,
            "This export is still running; convert it when it has finished.",
        ));
    }
    let job = state.with_db(|db| {
        db.get_job(id)?.ok_or_else(|| IpcError::new(ErrorCode::NotFound, format!("There is no export {id}.")))
    })?;
    let export = ExportFolder::at(&job.out_dir);
    if !export.path().is_dir() {
        let message = format!("The folder {} is no longer there.", export.path().display());
        return Err(IpcError::new(ErrorCode::NotFound, message));
    }
    Ok(export)
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
    let export = finished_export(&state, id)?;
    let folder = export.path().to_path_buf();
    let out = match out_dir.as_deref().map(str::trim) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => export.parquet(),
    };
    let task = state
        .tasks
        .start(TaskKey::Conversion(id), Vec::new())
        .map_err(|_| IpcError::new(ErrorCode::InvalidInput, "This export is being converted already."))?;
    let cancel = task.stop.flag();
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

fn delta_error(e: DeltaConvertError) -> IpcError {
    let code = match &e {
        DeltaConvertError::Cancelled => ErrorCode::Interrupted,
        DeltaConvertError::NotAnExport(_)
        | DeltaConvertError::NoBaseline { .. }
        | DeltaConvertError::Gap { .. }
        | DeltaConvertError::Backwards { .. } => ErrorCode::InvalidInput,
        // The storage's own codes (object-destination's): a bad address, or a refusal or failure there.
        DeltaConvertError::Delta(d) => match d.code() {
            "invalid_destination" | "destination_setup" | "delta_no_tables" | "delta_no_target" => {
                ErrorCode::InvalidInput
            }
            "destination_refused" | "destination" | "upload_gone" | "destination_too_large" | "storage_sign_in" => {
                ErrorCode::Storage
            }
            _ => ErrorCode::Conversion,
        },
        _ => ErrorCode::Conversion,
    };
    IpcError::new(code, e.to_string())
}

/// Writes an export into the Delta Lake tables at `target` (a folder or a storage address), one table per
/// type: a full export replaces their contents, an incremental one is merged in (History → Convert).
#[tauri::command]
pub async fn convert_export_to_delta(
    state: State<'_, AppState>,
    id: i64,
    target: String,
    on_progress: Channel<ConvertProgress>,
) -> Result<DeltaReport, IpcError> {
    let target = target.trim().to_string();
    if target.is_empty() {
        return Err(IpcError::new(
            ErrorCode::InvalidInput,
            "Choose where the Delta tables go: a folder, or a storage address such as s3://bucket/tables.",
        ));
    }
    let folder = finished_export(&state, id)?.path().to_path_buf();
    let task = state
        .tasks
        .start(TaskKey::Conversion(id), Vec::new())
        .map_err(|_| IpcError::new(ErrorCode::InvalidInput, "This export is being converted already."))?;
    let db = Database::open(&state.database_path()?)?;
    // A storage address with the sign-in saved for it on the Storage page, else the environment's.
    let dest = open_target(&db, &target).map_err(|e| delta_error(e.into()))?;
    let memory: Box<dyn SchemaMemory + Send> = match server_of_folder(Some(&db), &folder) {
        Some(server) => Box::new(RememberedSchemas::new(db, server)),
        None => Box::new(Forgetful),
    };
    let progress: std::sync::Arc<dyn Fn(&ConvertProgress) + Send + Sync> =
        std::sync::Arc::new(move |p: &ConvertProgress| {
            let _ = on_progress.send(p.clone());
        });
    let cancel = task.stop.flag();
    convert_to_delta(&folder, dest, &ConvertOptions::default(), memory, progress, cancel).await.map_err(delta_error)
}

/// The data files of older Delta versions under `target` that each table's retention lets go (a week unless
/// the table says otherwise), as of `as_of_ms` (a look's `asOfMs`) or now: listed when `dry_run`, else
/// removed (History → Convert → old versions' files; the same rule as `haul vacuum`).
#[tauri::command]
pub async fn vacuum_delta_tables(
    state: State<'_, AppState>,
    target: String,
    dry_run: bool,
    as_of_ms: Option<i64>,
) -> Result<Vec<Vacuumed>, IpcError> {
    // The database only finds a saved storage sign-in; it is closed before the storage is asked anything.
    let dest = {
        let db = Database::open(&state.database_path()?)?;
        open_existing_target(&db, &target).map_err(|e| delta_error(e.into()))?
    };
    // A removal after a look removes what the look listed: the retention counted back from the look's moment.
    let now = match as_of_ms {
        Some(ms) => std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64),
        None => std::time::SystemTime::now(),
    };
    delta_table::vacuum_tables_at(&dest, now, dry_run).await.map_err(|e| delta_error(e.into()))
}

/// Asks a running conversion to stop; the table being written is not replaced. False when none was running.
#[tauri::command]
pub async fn cancel_conversion(state: State<'_, AppState>, id: i64) -> Result<bool, IpcError> {
    Ok(state.tasks.stop(&TaskKey::Conversion(id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use delta_table::DeltaError;
    use object_destination::DestinationError;

    #[test]
    fn delta_errors_reach_the_ui_with_the_code_of_what_to_do() {
        let code = |e: DeltaError| delta_error(e.into()).code;
        assert_eq!(code(DeltaError::NoTables { address: "/x".into() }), ErrorCode::InvalidInput);
        assert_eq!(code(DeltaError::NoTarget), ErrorCode::InvalidInput);
        assert_eq!(code(DestinationError::Unsupported { scheme: "https".into() }.into()), ErrorCode::InvalidInput);
        let saved = DestinationError::SavedSignIn { address: "s3://b".into(), reason: "locked".into() };
        assert_eq!(code(saved.into()), ErrorCode::Storage);
        assert_eq!(code(DeltaError::Retention { address: "/x".into(), value: "soon".into() }), ErrorCode::Conversion);
        assert_eq!(delta_error(DeltaConvertError::Cancelled).code, ErrorCode::Interrupted);
    }
}
