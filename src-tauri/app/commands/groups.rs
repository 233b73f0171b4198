//! Groups from the window: search a server's Groups, pin the ones exported often.

use bulk_client::{ExportErrorKind, GroupPage, GroupSummary};
use haul_store::PinnedGroup;
use tauri::State;

use crate::ipc_error::{ErrorCode, IpcError};
use crate::state::AppState;

#[tauri::command]
pub async fn search_groups(
    state: State<'_, AppState>,
    server_id: i64,
    name: Option<String>,
    page_url: Option<String>,
) -> Result<GroupPage, IpcError> {
    let server = state.with_db(|db| Ok(db.get_server(server_id)?))?;
    // As an export of it would: its sign-in, its trusted origins, its CA certificate file.
    let session = state.runner()?.session_for_server(&server).await?;
    session.search_groups(name.as_deref(), page_url.as_deref()).await.map_err(|e| {
        let code = match e.kind {
            ExportErrorKind::Network => ErrorCode::Unreachable,
            ExportErrorKind::Auth => ErrorCode::InvalidInput,
            ExportErrorKind::Protocol => ErrorCode::BadResponse,
            _ => ErrorCode::HttpStatus,
        };
        IpcError { detail: e.detail.clone(), ..IpcError::new(code, e.message) }
    })
}

#[tauri::command]
pub async fn list_pinned_groups(state: State<'_, AppState>, server_id: i64) -> Result<Vec<PinnedGroup>, IpcError> {
    state.with_db(|db| Ok(db.pinned_groups(server_id)?))
}

#[tauri::command]
pub async fn pin_group(state: State<'_, AppState>, server_id: i64, group: GroupSummary) -> Result<(), IpcError> {
    state.with_db(|db| Ok(db.pin_group(server_id, &group.id, group.name.as_deref(), group.members)?))
}

#[tauri::command]
pub async fn unpin_group(state: State<'_, AppState>, server_id: i64, group_id: String) -> Result<(), IpcError> {
    state.with_db(|db| Ok(db.unpin_group(server_id, &group_id)?))
}
