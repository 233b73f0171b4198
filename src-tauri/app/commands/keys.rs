//! Keys from the window: generate, import, list, public JWKS or PEM, delete. Private keys go to the OS keychain.

use bulk_client::{KeyAlgorithm, SigningKey};
use haul_store::{KeyInfo, KeyStoreError, Keychain};
use tauri::State;

use crate::ipc_error::{ErrorCode, IpcError};
use crate::state::AppState;

impl From<KeyStoreError> for IpcError {
    fn from(e: KeyStoreError) -> Self {
        let code = match &e {
            KeyStoreError::Key(_) | KeyStoreError::Invalid(_) | KeyStoreError::ProofFile { .. } => {
                ErrorCode::InvalidInput
            }
            KeyStoreError::Keychain(_) => ErrorCode::Keychain,
            KeyStoreError::Exists { .. } => ErrorCode::DuplicateName,
            KeyStoreError::NotFound(_) => ErrorCode::NotFound,
            KeyStoreError::NoSecret(_) => ErrorCode::NoSecret,
            KeyStoreError::Db(db) => return IpcError::from(db),
        };
        IpcError::new(code, e.to_string())
    }
}

#[tauri::command]
pub async fn list_keys(state: State<'_, AppState>) -> Result<Vec<KeyInfo>, IpcError> {
    state.with_db(|db| Ok(db.list_keys()?))
}

/// `rsa_bits`: 2048, 3072 or 4096 for RS384 (2048 when absent); absent for ES384, which has one size.
#[tauri::command]
pub async fn generate_key(
    state: State<'_, AppState>,
    alg: KeyAlgorithm,
    rsa_bits: Option<u32>,
    label: String,
) -> Result<KeyInfo, IpcError> {
    // RSA generation takes a moment (seconds at 4096 bits): off the database's lock and off the async workers.
    let key = tauri::async_runtime::spawn_blocking(move || SigningKey::generate_sized(alg, rsa_bits))
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

/// The public key as PEM (`-----BEGIN PUBLIC KEY-----`), for servers that register a PEM rather than a JWKS
/// (CMS DPC).
#[tauri::command]
pub async fn key_public_pem(state: State<'_, AppState>, kid: String) -> Result<String, IpcError> {
    state.with_db(|db| Ok(db.key_public_pem(&kid)?))
}

/// The signature of a file a server's portal asks to be signed with the private key (CMS DPC's snippet),
/// in base64 as `openssl base64` writes it. The private key stays in the keychain; the signature is public.
#[tauri::command]
pub async fn sign_file_with_key(state: State<'_, AppState>, kid: String, path: String) -> Result<String, IpcError> {
    state.with_db(|db| Ok(db.sign_proof_file(&Keychain, &kid, std::path::Path::new(&path))?))
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
    write_public_file(&path, &(text + "\n"))
}

/// Writes a key's public PEM to the file the user chose in the save dialog. Public data only.
#[tauri::command]
pub async fn save_key_public_pem(state: State<'_, AppState>, kid: String, path: String) -> Result<(), IpcError> {
    let pem = state.with_db(|db| Ok(db.key_public_pem(&kid)?))?;
    write_public_file(&path, &pem)
}

/// The one place a key command writes a file; only public text (a JWKS or a public PEM) is passed here.
fn write_public_file(path: &str, text: &str) -> Result<(), IpcError> {
    std::fs::write(path, text).map_err(|e| {
        IpcError::new(ErrorCode::InvalidInput, format!("Haul could not write {path}: {e}. Choose another place."))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_file_is_written_or_the_user_is_told_to_choose_another_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        let pem = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        write_public_file(path.to_str().unwrap(), pem).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), pem);

        let nowhere = dir.path().join("no such folder").join("key.pem");
        let e = write_public_file(nowhere.to_str().unwrap(), pem).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.contains("Choose another place"), "{}", e.message);
    }
}
