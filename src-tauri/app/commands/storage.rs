//! The Storage page: sign-ins for object storage typed into the app, each for a bucket or container. The
//! secret goes to the OS keychain (haul-store); what a sign-in must be is export-jobs' rule.

use export_jobs::storage_sign_in::{self, SignInInputError, StorageSignInInput};
use haul_store::{StorageSignIn, StorageSignInError};
use tauri::State;

use crate::ipc_error::{ErrorCode, IpcError};
use crate::state::AppState;

fn sign_in_error(e: SignInInputError) -> IpcError {
    let code = match &e {
        SignInInputError::Invalid(_) => ErrorCode::InvalidInput,
        SignInInputError::Destination(_) => ErrorCode::Storage,
        SignInInputError::Store(StorageSignInError::Db(db)) => return IpcError::from(db),
        SignInInputError::Store(StorageSignInError::NotFound(_)) => ErrorCode::NotFound,
        SignInInputError::Store(StorageSignInError::Keychain(_) | StorageSignInError::SecretMissing { .. }) => {
            ErrorCode::Keychain
        }
    };
    IpcError::new(code, e.to_string())
}

#[tauri::command]
pub async fn list_storage_sign_ins(state: State<'_, AppState>) -> Result<Vec<StorageSignIn>, IpcError> {
    state.with_db(|db| Ok(db.storage_sign_ins()?))
}

/// Saves a sign-in (replacing one saved for the same address).
#[tauri::command]
pub async fn save_storage_sign_in(
    state: State<'_, AppState>,
    input: StorageSignInInput,
) -> Result<StorageSignIn, IpcError> {
    state.with_db(|db| storage_sign_in::save(db, &input).map_err(sign_in_error))
}

/// Lists the address with the typed sign-in, saving nothing: a wrong key or bucket shows before it is kept.
#[tauri::command]
pub async fn test_storage_sign_in(input: StorageSignInInput) -> Result<(), IpcError> {
    storage_sign_in::test(&input).await.map_err(sign_in_error)
}

#[tauri::command]
pub async fn remove_storage_sign_in(state: State<'_, AppState>, id: i64) -> Result<(), IpcError> {
    state.with_db(|db| db.remove_storage_sign_in(&haul_store::Keychain, id).map_err(|e| sign_in_error(e.into())))
}
