use tauri::State;

use bulk_client::ServerSummary;
use export_jobs::{Server, ServerInput, UrlCheck};

use crate::ipc_error::IpcError;
use crate::state::AppState;

#[tauri::command]
pub async fn list_servers(state: State<'_, AppState>) -> Result<Vec<Server>, IpcError> {
    state.with_db(|db| Ok(db.list_servers()?))
}

#[tauri::command]
pub async fn add_server(state: State<'_, AppState>, input: ServerInput) -> Result<Server, IpcError> {
    state.with_db(|db| Ok(db.add_server(&input)?))
}

#[tauri::command]
pub async fn update_server(state: State<'_, AppState>, id: i64, input: ServerInput) -> Result<Server, IpcError> {
    state.with_db(|db| Ok(db.update_server(id, &input)?))
}

#[tauri::command]
pub async fn remove_server(state: State<'_, AppState>, id: i64) -> Result<(), IpcError> {
    state.with_db(|db| Ok(db.remove_server(id)?))
}

/// The authoritative check of a FHIR base URL (the form also checks as you type).
#[tauri::command]
pub async fn check_server_url(url: String) -> Result<UrlCheck, IpcError> {
    Ok(export_jobs::check_base_url(&url)?)
}

/// Reads `[base]/metadata` of a URL (saved or not) and summarises what answered.
#[tauri::command]
pub async fn test_connection(state: State<'_, AppState>, base_url: String) -> Result<ServerSummary, IpcError> {
    let checked = export_jobs::check_base_url(&base_url)?;
    Ok(bulk_client::fetch_summary(&state.http, &checked.normalized).await?)
}
