//! What the desktop app and the `haul` command line share about persistence: where Haul keeps its data,
//! the SQLite database (schema migrations included) and the records in it.
//!
//! Nothing here knows HTTP or Tauri: the app shell and the CLI drive these types.

pub mod data_dir;
pub mod db;
pub mod keychain;
pub mod keys;
pub mod servers;

pub use data_dir::{DataDir, DataDirError};
pub use db::{Database, DbError, DbProblem};
pub use keychain::{Keychain, KeychainError};
pub use keys::{KeyInfo, KeyStoreError};
pub use servers::{AuthKind, DEMO_NAME, Server, ServerError, ServerInput, UrlCheck, check_base_url};
