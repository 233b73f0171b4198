//! What the app holds between commands: the database (or why it could not be opened) and an HTTP client.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use bulk_client::HttpClient;
use export_jobs::{ExportRunner, JobEvent};
use haul_store::{DataDir, Database, DbError, DbProblem};
use ndjson_preview::PreviewFolder;
use serde::Serialize;
use tauri::ipc::Channel;
use ts_rs::TS;

use crate::ipc_error::{ErrorCode, IpcError};
use crate::tasks::Tasks;

/// Whether Haul could open its data; the UI shows a recovery screen for anything but `ready`.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "state", rename_all = "camelCase", rename_all_fields = "camelCase")]
#[ts(export)]
pub enum StartupStatus {
    Ready { data_dir: String },
    DatabaseProblem { problem: DbProblem, movable: bool, message: String, path: String },
    DataDirProblem { message: String, path: Option<String> },
}

pub struct AppState {
    pub http: HttpClient,
    db: Mutex<DbSlot>,
    /// Background work running in this process (exports, conversions, Files-page finds), with the pages
    /// watching an export.
    pub tasks: Tasks<Channel<JobEvent>>,
    /// Folders open on the Files page (kept for the session: reopening one is instant).
    pub open_folders: Mutex<HashMap<PathBuf, Arc<PreviewFolder>>>,
    /// The job runner, on its own connection to the same database (opened when first needed).
    runner: Mutex<Option<ExportRunner>>,
    /// The built-in demo server (the simulator, in this process), if it could start.
    demo: Option<bulk_sim::RunningSim>,
}

enum DbSlot {
    Ready {
        db: Database,
        data_dir: DataDir,
    },
    /// The folder is there but the database file cannot be used; the user decides what happens to it.
    Unusable {
        data_dir: DataDir,
        error: DbError,
    },
    /// No usable data folder at all.
    NoDataDir {
        message: String,
        path: Option<String>,
    },
}

impl AppState {
    pub fn start() -> Self {
        let demo = start_demo();
        let demo_url = demo.as_ref().map(|d| d.base_url());
        let state = Self {
            http: HttpClient::new(),
            db: Mutex::new(open(demo_url.as_deref())),
            tasks: Tasks::default(),
            open_folders: Mutex::default(),
            runner: Mutex::new(None),
            demo,
        };
        state.restore_demo_registration();
        state
    }

    /// The database file, when it is usable.
    pub fn database_path(&self) -> Result<std::path::PathBuf, IpcError> {
        match &*self.slot() {
            DbSlot::Ready { data_dir, .. } => Ok(data_dir.database_path()),
            DbSlot::Unusable { error, .. } => Err(IpcError::from(error)),
            DbSlot::NoDataDir { message, .. } => Err(IpcError::new(ErrorCode::DataDir, message.clone())),
        }
    }

    /// Where the Files page keeps its indexes.
    pub fn preview_cache_dir(&self) -> Result<std::path::PathBuf, IpcError> {
        match &*self.slot() {
            DbSlot::Ready { data_dir, .. } | DbSlot::Unusable { data_dir, .. } => Ok(data_dir.preview_cache_dir()),
            DbSlot::NoDataDir { message, .. } => Err(IpcError::new(ErrorCode::DataDir, message.clone())),
        }
    }

    /// The export runner (a second SQLite connection: WAL lets it write while the pages read).
    pub fn runner(&self) -> Result<ExportRunner, IpcError> {
        // The database slot's lock is taken and released before the runner's: never one inside the other.
        let path = self.database_path()?;
        let datasets = self.datasets_root()?;
        let mut slot = self.runner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = &*slot {
            return Ok(r.clone());
        }
        let db = Database::open(&path).map_err(IpcError::from)?;
        let runner = ExportRunner::new(Arc::new(Mutex::new(db)), self.http.clone()).with_datasets(datasets);
        *slot = Some(runner.clone());
        Ok(runner)
    }

    /// Registers a public key with the built-in demo server; returns the client id (derived from the kid, so
    /// the same key gets the same id, and the registration can be made again after a restart).
    pub fn register_with_demo(&self, kid: &str, jwks: serde_json::Value) -> Result<String, IpcError> {
        let demo = self.demo.as_ref().ok_or_else(|| {
            IpcError::new(ErrorCode::NotFound, "The demo server is not running in this session (see the log).")
        })?;
        let client_id = format!("demo-{}", kid.chars().take(16).collect::<String>());
        demo.register_client_as(&client_id, jwks).map_err(|why| IpcError::new(ErrorCode::InvalidInput, why))?;
        Ok(client_id)
    }

    /// The demo server keeps registrations in memory: give it back the one its server row signs in with.
    fn restore_demo_registration(&self) {
        let Some(demo) = &self.demo else { return };
        let restored = self.with_db(|db| {
            let servers = db.list_servers()?;
            let Some(s) = servers.into_iter().find(|s| s.builtin && s.auth == haul_store::AuthKind::SmartBackend)
            else {
                return Ok(None);
            };
            let (Some(client_id), Some(kid)) = (s.client_id, s.key_kid) else { return Ok(None) };
            let jwks = db.key_jwks(&kid).map_err(IpcError::from)?;
            Ok(Some((client_id, jwks)))
        });
        if let Ok(Some((client_id, jwks))) = restored
            && let Err(why) = demo.register_client_as(&client_id, jwks)
        {
            tracing::warn!(%why, "could not restore the demo server's registration");
        }
    }

    /// Where the current datasets are kept (beside the exports).
    pub fn datasets_root(&self) -> Result<PathBuf, IpcError> {
        match &*self.slot() {
            DbSlot::Ready { data_dir, .. } | DbSlot::Unusable { data_dir, .. } => Ok(data_dir.datasets_root()),
            DbSlot::NoDataDir { message, .. } => Err(IpcError::new(ErrorCode::DataDir, message.clone())),
        }
    }

    /// Where exports go when the user does not pick a folder.
    pub fn exports_root(&self) -> Result<PathBuf, IpcError> {
        match &*self.slot() {
            DbSlot::Ready { data_dir, .. } => Ok(data_dir.default_exports_root()),
            DbSlot::Unusable { data_dir, .. } => Ok(data_dir.default_exports_root()),
            DbSlot::NoDataDir { message, .. } => Err(IpcError::new(ErrorCode::DataDir, message.clone())),
        }
    }

    fn slot(&self) -> MutexGuard<'_, DbSlot> {
        // A panic in another command must not take the database away from the rest of the session.
        self.db.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` with the database, or explains why there is none.
    pub fn with_db<T>(&self, f: impl FnOnce(&Database) -> Result<T, IpcError>) -> Result<T, IpcError> {
        match &*self.slot() {
            DbSlot::Ready { db, .. } => f(db),
            DbSlot::Unusable { error, .. } => Err(IpcError::from(error)),
            DbSlot::NoDataDir { message, .. } => Err(IpcError::new(ErrorCode::DataDir, message.clone())),
        }
    }

    pub fn status(&self) -> StartupStatus {
        match &*self.slot() {
            DbSlot::Ready { data_dir, .. } => StartupStatus::Ready { data_dir: data_dir.root().display().to_string() },
            DbSlot::Unusable { data_dir, error } => StartupStatus::DatabaseProblem {
                problem: error.problem().unwrap_or(DbProblem::Corrupt),
                movable: error.problem().is_some(),
                message: error.to_string(),
                path: data_dir.database_path().display().to_string(),
            },
            DbSlot::NoDataDir { message, path } => {
                StartupStatus::DataDirProblem { message: message.clone(), path: path.clone() }
            }
        }
    }

    /// Renames an unusable database out of the way and opens a fresh one in its place.
    pub fn move_database_aside(&self) -> Result<String, IpcError> {
        let mut slot = self.slot();
        let (data_dir, problem) = match &*slot {
            DbSlot::Unusable { data_dir, error } => match error.problem() {
                Some(problem) => (data_dir.clone(), problem),
                None => return Err(IpcError::from(error)),
            },
            _ => {
                return Err(IpcError::new(
                    ErrorCode::InvalidInput,
                    "The database is fine; there is nothing to move aside.",
                ));
            }
        };
        let moved = haul_store::db::move_aside(&data_dir.database_path(), problem).map_err(|e| {
            IpcError::new(
                ErrorCode::DataDir,
                format!("Haul could not rename its database file: {e}. Nothing was changed."),
            )
        })?;
        tracing::warn!(moved_to = %moved.display(), "moved an unusable database aside");
        *slot = open_in(data_dir, self.demo.as_ref().map(|d| d.base_url()).as_deref());
        drop(slot);
        *self.runner.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(moved.display().to_string())
    }
}

/// The demo: generated patients on a free loopback port, open (no sign-in), with a short "preparing" phase
/// so a first export shows progress.
fn start_demo() -> Option<bulk_sim::RunningSim> {
    let config = bulk_sim::SimConfig {
        data: bulk_sim::DataSource::Generated { seed: 2026, patients: 250 },
        // Open, and SMART sign-in works too (keys registered from the app), so both can be tried.
        auth: bulk_sim::AuthMode::Optional { token_lifetime: std::time::Duration::from_secs(300) },
        resources_per_file: 5_000,
        prepare_time: std::time::Duration::from_secs(3),
        // No `/_sim/*` test routes: anyone who reaches the port could change faults or register clients. Demo
        // keys are registered in-process (`register_client_as`).
        control_routes: false,
        ..bulk_sim::SimConfig::default()
    };
    match tauri::async_runtime::block_on(bulk_sim::RunningSim::start(config)) {
        Ok(sim) => {
            tracing::info!(url = %sim.base_url(), "demo server running");
            Some(sim)
        }
        Err(e) => {
            tracing::error!(error = %e, "the demo server could not start");
            None
        }
    }
}

fn open(demo_url: Option<&str>) -> DbSlot {
    match DataDir::locate() {
        Ok(dir) => open_in(dir, demo_url),
        Err(e) => DbSlot::NoDataDir { message: e.to_string(), path: None },
    }
}

fn open_in(data_dir: DataDir, demo_url: Option<&str>) -> DbSlot {
    if let Err(e) = data_dir.ensure_writable() {
        tracing::error!(error = %e, "data folder not usable");
        return DbSlot::NoDataDir { message: e.to_string(), path: Some(data_dir.root().display().to_string()) };
    }
    match Database::open(&data_dir.database_path()) {
        Ok(db) => {
            tracing::info!(path = %data_dir.database_path().display(), "database open");
            if let Some(url) = demo_url
                && let Err(e) = db.sync_demo_server(url)
            {
                tracing::error!(error = %e, "could not record the demo server");
            }
            DbSlot::Ready { db, data_dir }
        }
        Err(error) => {
            tracing::error!(%error, "database not usable");
            DbSlot::Unusable { data_dir, error }
        }
    }
}
