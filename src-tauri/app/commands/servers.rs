use tauri::State;

use bulk_client::ServerSummary;
use haul_store::{Server, ServerInput, UrlCheck};

use crate::ipc_error::{ErrorCode, IpcError};
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
    Ok(haul_store::check_base_url(&url)?)
}

/// Reads `[base]/metadata` of a URL (saved or not) and summarises what answered.
#[tauri::command]
pub async fn test_connection(state: State<'_, AppState>, base_url: String) -> Result<ServerSummary, IpcError> {
    let checked = haul_store::check_base_url(&base_url)?;
    Ok(bulk_client::fetch_summary(&state.http, &checked.normalized).await?)
}

/// What "Test sign-in" found.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SignInResult {
    pub token_url: String,
    /// The token URL was found on the server (not typed in).
    pub discovered: bool,
}

/// Signs in with the form's settings (key from the keychain, token URL typed or discovered) and throws the
/// token away: proof that the server accepts this client and key.
#[tauri::command]
pub async fn test_sign_in(
    state: State<'_, AppState>,
    base_url: String,
    client_id: String,
    key_kid: String,
    token_url: Option<String>,
    scope: Option<String>,
) -> Result<SignInResult, IpcError> {
    let checked = haul_store::check_base_url(&base_url)?;
    if client_id.trim().is_empty() {
        return Err(IpcError::new(ErrorCode::InvalidInput, "Enter the client ID first."));
    }
    let key = state.with_db(|db| Ok(db.signing_key(&haul_store::Keychain, &key_kid)?))?;
    let typed = token_url.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    let (token_url, discovered) = match typed {
        Some(t) => (t, false),
        None => (bulk_client::discover_token_url(&state.http, &checked.normalized).await.map_err(auth_error)?, true),
    };
    let auth = bulk_client::BackendAuth::new(
        state.http.clone(),
        token_url.clone(),
        client_id.trim().to_string(),
        scope,
        std::sync::Arc::new(key),
    );
    auth.access_token().await.map_err(auth_error)?;
    Ok(SignInResult { token_url, discovered })
}

fn auth_error(e: bulk_client::AuthError) -> IpcError {
    IpcError { detail: e.detail.clone(), ..IpcError::new(ErrorCode::SignIn, e.message) }
}
