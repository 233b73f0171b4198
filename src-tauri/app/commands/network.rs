//! A saved server's network settings: its own proxy (user name and password) and its client certificate.
//! Secrets cross IPC once, towards the keychain, and are never sent back: the server says `passwordSaved`
//! and shows the certificate's subject and expiry.

use tauri::State;

use haul_store::{Keychain, ProxyInput, Server};

use crate::ipc_error::IpcError;
use crate::state::AppState;

/// Sets (or, with `None`, removes) a saved server's own proxy. A password given goes to the OS keychain;
/// none keeps the saved one, an empty one removes it.
#[tauri::command]
pub async fn set_server_proxy(
    state: State<'_, AppState>,
    server_id: i64,
    mut proxy: Option<ProxyInput>,
) -> Result<Server, IpcError> {
    let saved = state.with_db(|db| Ok(db.set_server_proxy(&Keychain, server_id, proxy.as_ref())?));
    // The password was needed once, on its way to the keychain.
    if let Some(password) = proxy.as_mut().and_then(|p| p.password.as_mut()) {
        zeroize::Zeroize::zeroize(password);
    }
    saved
}

/// Reads a client certificate file (PEM, or PKCS#12 with its password) once and keeps it in the keychain for
/// the saved server; `None` removes it.
#[tauri::command]
pub async fn set_server_client_certificate(
    state: State<'_, AppState>,
    server_id: i64,
    path: Option<String>,
    password: Option<String>,
) -> Result<Server, IpcError> {
    let password = password.map(zeroize::Zeroizing::new);
    state.with_db(|db| {
        Ok(db.set_server_client_certificate(
            &Keychain,
            server_id,
            path.as_deref().map(std::path::Path::new),
            password.as_deref().map(String::as_str),
        )?)
    })
}
