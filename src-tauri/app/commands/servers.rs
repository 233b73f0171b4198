use tauri::State;

use bulk_client::ServerSummary;
use export_jobs::probe::{ProbeStep, probe, probe_request};
use haul_store::{Keychain, Server, ServerInput, UrlCheck};

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
    state.with_db(|db| Ok(db.update_server(&Keychain, id, &input)?))
}

/// Removes the server, and its client secret or bearer token from the keychain.
#[tauri::command]
pub async fn remove_server(state: State<'_, AppState>, id: i64) -> Result<(), IpcError> {
    state.with_db(|db| Ok(db.remove_server(&Keychain, id)?))
}

/// Saves a server's client secret or bearer token in the OS keychain. The secret crosses IPC this once and
/// is never sent back: the server's `secretSaved` says one is there.
#[tauri::command]
pub async fn set_server_secret(state: State<'_, AppState>, id: i64, secret: String) -> Result<Server, IpcError> {
    let secret = zeroize::Zeroizing::new(secret);
    state.with_db(|db| Ok(db.set_server_secret(&Keychain, id, &secret)?))
}

/// The authoritative check of a FHIR base URL (the form also checks as you type).
#[tauri::command]
pub async fn check_server_url(url: String) -> Result<UrlCheck, IpcError> {
    Ok(haul_store::check_base_url(&url)?)
}

/// Records (or, with `None`, removes) the CA certificate file a saved server's certificate is checked against,
/// for servers behind their organisation's own certificate authority. The file is checked when chosen (it
/// must hold a PEM certificate) and read again whenever Haul connects to the server.
#[tauri::command]
pub async fn set_server_ca_file(
    state: State<'_, AppState>,
    server_id: i64,
    path: Option<String>,
) -> Result<Server, IpcError> {
    state.with_db(|db| Ok(db.set_server_ca_file(server_id, path.as_deref().map(std::path::Path::new))?))
}

/// Reads `[base]/metadata` of a URL (saved or not) and summarises what answered. For a server not saved yet
/// the platform's authorities and the system proxy alone apply; with `server_id`, that server's settings.
#[tauri::command]
pub async fn test_connection(
    state: State<'_, AppState>,
    base_url: String,
    server_id: Option<i64>,
) -> Result<ServerSummary, IpcError> {
    let checked = haul_store::check_base_url(&base_url)?;
    // A saved server is reached the way its exports are (its CA file and network settings), so a server
    // behind the organisation's own authority does not fail here while its exports work.
    let http = match server_id {
        Some(id) => {
            let server = state.with_db(|db| Ok(db.get_server(id)?))?;
            state.runner()?.http_for_server(&server)?
        }
        None => state.http.clone(),
    };
    Ok(bulk_client::fetch_summary(&http, &checked.normalized).await?)
}

/// "Test the whole connection" of a saved server, with its saved sign-in, trusted origins and CA certificate
/// file: the capability statement, a token, and a small export that is cancelled at once. A step that fails is
/// part of the answer (each step says what happened), not an error; only a server that cannot be loaded, or
/// whose sign-in is not set up, is one.
#[tauri::command]
pub async fn probe_server(state: State<'_, AppState>, server_id: i64) -> Result<Vec<ProbeStep>, IpcError> {
    let server = state.with_db(|db| Ok(db.get_server(server_id)?))?;
    let runner = state.runner()?;
    Ok(probe(&runner, &server, &probe_request()).await?)
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

/// The form's SMART settings for "Test sign-in", saved or not.
#[derive(Debug, Clone, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SignInTest {
    pub base_url: String,
    pub client_id: String,
    pub key_kid: String,
    pub token_url: Option<String>,
    pub scope: Option<String>,
    /// How the server registered the key (DPC's key id, Epic's JWKS URL), as typed.
    pub assertion_kid: Option<String>,
    pub jku: Option<String>,
    /// A saved server: reached through its CA file and network settings.
    #[ts(type = "number | null")]
    pub server_id: Option<i64>,
}

/// Signs in with the form's settings (key from the keychain, token URL typed or discovered) and throws the
/// token away: proof that the server accepts this client and key.
#[tauri::command]
pub async fn test_sign_in(state: State<'_, AppState>, test: SignInTest) -> Result<SignInResult, IpcError> {
    let SignInTest { base_url, client_id, key_kid, token_url, scope, assertion_kid, jku, server_id } = test;
    let checked = haul_store::check_base_url(&base_url)?;
    let jku = jku.filter(|j| !j.trim().is_empty()).map(|j| haul_store::check_jku(&j)).transpose()?;
    let http = match server_id {
        Some(id) => {
            let server = state.with_db(|db| Ok(db.get_server(id)?))?;
            state.runner()?.http_for_server(&server)?
        }
        None => state.http.clone(),
    };
    if client_id.trim().is_empty() {
        return Err(IpcError::new(ErrorCode::InvalidInput, "Enter the client ID first."));
    }
    let key = state.with_db(|db| Ok(db.signing_key(&haul_store::Keychain, &key_kid)?))?;
    let typed = token_url.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    let (token_url, discovered) = match typed {
        Some(t) => (t, false),
        None => (bulk_client::discover_token_url(&http, &checked.normalized).await.map_err(auth_error)?, true),
    };
    let auth = bulk_client::BackendAuth::new(
        http.clone(),
        token_url.clone(),
        client_id.trim().to_string(),
        scope,
        std::sync::Arc::new(key),
    )
    .with_registration(assertion_kid, jku);
    auth.access_token().await.map_err(auth_error)?;
    Ok(SignInResult { token_url, discovered })
}

fn auth_error(e: bulk_client::AuthError) -> IpcError {
    IpcError { detail: e.detail.clone(), ..IpcError::new(ErrorCode::SignIn, e.message) }
}
