//! Server profiles from the window: the kinds of server Haul knows ("what kind of server is this?"), and
//! which kind a saved server is. The profiles themselves are data in the `server-profiles` crate.

use haul_store::Server;
use server_profiles::ServerProfile;
use tauri::State;

use crate::ipc_error::IpcError;
use crate::state::AppState;

/// Every profile, in the order the picker shows them ("Other (standard)" last).
#[tauri::command]
pub async fn list_server_profiles() -> Result<Vec<ServerProfile>, IpcError> {
    Ok(server_profiles::all().to_vec())
}

/// Records which kind of server a saved server is (`None`: none chosen); an unknown id is refused. Set on its
/// own after the server is saved, so the form's other fields keep their one save path.
#[tauri::command]
pub async fn set_server_profile(
    state: State<'_, AppState>,
    server_id: i64,
    profile_id: Option<String>,
) -> Result<Server, IpcError> {
    state.with_db(|db| Ok(db.set_server_profile(server_id, profile_id.as_deref())?))
}
