//! Keys from the window: generate, import, list, public JWKS, delete. Private keys go to the OS keychain.

use bulk_client::{KeyAlgorithm, SigningKey};
use haul_store::{KeyInfo, KeyStoreError, Keychain};
use tauri::State;

use crate::ipc_error::{ErrorCode, IpcError};
use crate::state::AppState;

impl From<KeyStoreError> for IpcError {
    fn from(e: KeyStoreError) -> Self {
        let code = match &e {
            KeyStoreError::Key(_) | KeyStoreError::Invalid(_) => ErrorCode::InvalidInput,
            KeyStoreError::Keychain(_) => ErrorCode::Keychain,
            KeyStoreError::Exists { .. } => ErrorCode::DuplicateName,
            KeyStoreError::NotFound(_) => ErrorCode::NotFound,
            KeyStoreError::Db(db) => return IpcError::from(db),
        };
        IpcError::new(code, e.to_string())
    }
}

#[tauri::command]
pub async fn list_keys(state: State<'_, AppState>) -> Result<Vec<KeyInfo>, IpcError> {
    state.with_db(|db| Ok(db.list_keys()?))
}

#[tauri::command]
pub async fn generate_key(state: State<'_, AppState>, alg: KeyAlgorithm, label: String) -> Result<KeyInfo, IpcError> {
    // RSA generation takes a moment: off the database's lock and off the async workers.
    let key = tauri::async_runtime::spawn_blocking(move || SigningKey::generate(alg))
        .await
        .map_err(|e| IpcError::new(ErrorCode::InvalidInput, format!("Key generation stopped: {e}")))?
        .map_err(KeyStoreError::from)?;
    state.with_db(|db| Ok(db.save_key(&Keychain, &key, &label)?))
}

/// `text`: a PEM file's or a JWK's contents (the page reads the file the user picked).
#[tauri::command]
pub async fn import_key(state: State<'_, AppState>, text: String, label: String) -> Result<KeyInfo, IpcError> {
    let text = zeroize::Zeroizing::new(text);
    state.with_db(|db| Ok(db.import_key(&Keychain, text.as_bytes(), &label)?))
}

/// The public JWKS to give the server's administrators, pretty-printed.
#[tauri::command]
pub async fn key_jwks(state: State<'_, AppState>, kid: String) -> Result<String, IpcError> {
    let jwks = state.with_db(|db| Ok(db.key_jwks(&kid)?))?;
    Ok(serde_json::to_string_pretty(&jwks).unwrap_or_default())
}

/// Deletes a key; returns the servers that lost it (the page named them before asking).
#[tauri::command]
pub async fn delete_key(state: State<'_, AppState>, kid: String) -> Result<Vec<String>, IpcError> {
    state.with_db(|db| Ok(db.delete_key(&Keychain, &kid)?))
}

/// Registers a key with the built-in demo server (what a real server's administrators do by hand) and
/// returns the client id to sign in with.
#[tauri::command]
pub async fn register_key_with_demo(state: State<'_, AppState>, kid: String) -> Result<String, IpcError> {
    let jwks = state.with_db(|db| Ok(db.key_jwks(&kid)?))?;
    state.register_with_demo(&kid, jwks)
}

/// Writes a key's public JWKS to the file the user chose in the save dialog. Public data only.
#[tauri::command]
pub async fn save_key_jwks(state: State<'_, AppState>, kid: String, path: String) -> Result<(), IpcError> {
    let jwks = state.with_db(|db| Ok(db.key_jwks(&kid)?))?;
    let text = serde_json::to_string_pretty(&jwks).unwrap_or_default();
    std::fs::write(&path, text + "\n").map_err(|e| {
        IpcError::new(ErrorCode::InvalidInput, format!("Haul could not write {path}: {e}. Choose another place."))
    })
}
