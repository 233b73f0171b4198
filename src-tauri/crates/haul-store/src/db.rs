//! The SQLite database: opening it, recognising a file Haul must not touch, and schema migrations.
//!
//! Migrations are plain SQL files applied in order inside one transaction each; `PRAGMA user_version`
//! records how many have run. A database from a newer Haul (a higher version than this build knows) or a
//! file that is not a database is never modified: the caller is told, and may move it aside.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode};

/// Every migration, in order. Append only: never edit or reorder a released one.
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_servers", include_str!("migrations/0001_servers.sql")),
    ("0002_builtin_demo", include_str!("migrations/0002_builtin_demo.sql")),
    ("0003_keys", include_str!("migrations/0003_keys.sql")),
    ("0004_exports", include_str!("migrations/0004_exports.sql")),
    ("0005_pinned_groups", include_str!("migrations/0005_pinned_groups.sql")),
    ("0006_table_schemas", include_str!("migrations/0006_table_schemas.sql")),
    ("0007_file_error_kind", include_str!("migrations/0007_file_error_kind.sql")),
    ("0008_trusted_origins", include_str!("migrations/0008_trusted_origins.sql")),
    ("0009_sign_in_methods", include_str!("migrations/0009_sign_in_methods.sql")),
    ("0010_server_profiles", include_str!("migrations/0010_server_profiles.sql")),
    ("0011_server_ca_file", include_str!("migrations/0011_server_ca_file.sql")),
    ("0012_server_network", include_str!("migrations/0012_server_network.sql")),
    ("0013_smart_registration", include_str!("migrations/0013_smart_registration.sql")),
    ("0014_blocked_by", include_str!("migrations/0014_blocked_by.sql")),
    ("0015_file_deletions", include_str!("migrations/0015_file_deletions.sql")),
    ("0016_schedules", include_str!("migrations/0016_schedules.sql")),
    ("0017_client_certificate_chain", include_str!("migrations/0017_client_certificate_chain.sql")),
    ("0018_file_uploads", include_str!("migrations/0018_file_uploads.sql")),
    ("0019_storage_sign_ins", include_str!("migrations/0019_storage_sign_ins.sql")),
    ("0020_file_versions", include_str!("migrations/0020_file_versions.sql")),
];

/// The schema version this build writes.
pub fn latest_version() -> u32 {
    MIGRATIONS.len() as u32
}

/// Why an existing database file cannot be used as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum DbProblem {
    /// The file is damaged or is not a SQLite database.
    Corrupt,
    /// A newer version of Haul wrote it.
    TooNew,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "Haul's database {path} is damaged or is not a database ({detail}). Haul has not changed it. Move it aside to start with an empty list; the old file is kept for recovery."
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "Haul's database {path} was written by a newer version of Haul (schema {found}; this version knows up to {supported}). Update Haul, or move the file aside to start afresh; the old file is kept."
    )]
    TooNew { path: PathBuf, found: u32, supported: u32 },
    #[error(
        "Haul's database {path} is in use by another program and stayed locked. Close other Haul windows or `haul` commands and try again."
    )]
    Busy { path: PathBuf },
    #[error("Haul could not use its database {path}: {detail}")]
    Other { path: PathBuf, detail: String },
}

impl DbError {
    pub fn problem(&self) -> Option<DbProblem> {
        match self {
            DbError::Corrupt { .. } => Some(DbProblem::Corrupt),
            DbError::TooNew { .. } => Some(DbProblem::TooNew),
            _ => None,
        }
    }
}

pub struct Database {
    conn: Connection,
    path: PathBuf,
}

impl Database {
    /// Opens (creating if absent) and brings the schema up to date.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let conn = Connection::open(path).map_err(|e| classify(path, e))?;
        Self::from_connection(conn, path)
    }

    /// An in-memory database, migrated: for tests and throwaway runs.
    pub fn open_in_memory() -> Result<Self, DbError> {
        let conn = Connection::open_in_memory().map_err(|e| classify(Path::new(":memory:"), e))?;
        Self::from_connection(conn, Path::new(":memory:"))
    }

    fn from_connection(conn: Connection, path: &Path) -> Result<Self, DbError> {
        let err = |e| classify(path, e);
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
        // Reading the header first: a non-database file fails here, before anything is written.
        let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(err)?;
        if found > latest_version() {
            return Err(DbError::TooNew { path: path.to_path_buf(), found, supported: latest_version() });
        }
        let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(err)?;
        if check != "ok" {
            return Err(DbError::Corrupt { path: path.to_path_buf(), detail: check });
        }
        // WAL lets the CLI read while the app writes. In-memory databases ignore it.
        set_wal(&conn).map_err(err)?;
        conn.pragma_update(None, "foreign_keys", true).map_err(err)?;
        let mut db = Self { conn, path: path.to_path_buf() };
        db.migrate_from(found)?;
        Ok(db)
    }

    fn migrate_from(&mut self, found: u32) -> Result<(), DbError> {
        if found >= latest_version() {
            return Ok(());
        }
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        // Foreign keys off while migrating: changing a CHECK constraint means rebuilding the table, and
        // dropping the old one with them on would fire ON DELETE on every row that refers to it. They can
        // only be switched outside a transaction; each migration checks them before it commits.
        self.conn.pragma_update(None, "foreign_keys", false).map_err(err)?;
        let result = self.apply_migrations(found);
        self.conn.pragma_update(None, "foreign_keys", true).map_err(err)?;
        result
    }

    fn apply_migrations(&mut self, found: u32) -> Result<(), DbError> {
        for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let version = index as u32 + 1;
            let path = self.path.clone();
            let err = |e| classify(&path, e);
            // Immediate: the write lock first, then the version again. The app, a scheduled run and the CLI
            // can open a new database at the same moment; the second one to get here finds the work done.
            let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err)?;
            let now: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(err)?;
            if now >= version {
                continue;
            }
            tx.execute_batch(sql).map_err(err)?;
            let broken: i64 =
                tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).map_err(err)?;
            if broken > 0 {
                return Err(DbError::Other {
                    path: path.clone(),
                    detail: format!(
                        "migration {name} would leave {broken} rows pointing at nothing; nothing was changed"
                    ),
                });
            }
            tx.pragma_update(None, "user_version", version).map_err(err)?;
            tx.commit().map_err(err)?;
        }
        Ok(())
    }

    pub fn version(&self) -> Result<u32, DbError> {
        self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| classify(&self.path, e))
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn error(&self, e: rusqlite::Error) -> DbError {
        classify(&self.path, e)
    }
}

/// Renames a database Haul cannot use (and its WAL/SHM companions) to `<name>.<reason>-<unix seconds>`,
/// so the user can start afresh without losing the old file. Returns the new path.
pub fn move_aside(path: &Path, problem: DbProblem) -> std::io::Result<PathBuf> {
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let reason = match problem {
        DbProblem::Corrupt => "damaged",
        DbProblem::TooNew => "newer",
    };
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("haul.db");
    let target = path.with_file_name(format!("{file_name}.{reason}-{stamp}"));
    std::fs::rename(path, &target)?;
    for suffix in ["-wal", "-shm"] {
        let companion = path.with_file_name(format!("{file_name}{suffix}"));
        if companion.exists() {
            std::fs::rename(&companion, target.with_file_name(format!("{file_name}.{reason}-{stamp}{suffix}")))?;
        }
    }
    Ok(target)
}

/// WAL mode, set once per database file. Switching needs every other connection's lock, and SQLite answers
/// "busy" at once rather than waiting: two processes opening a new database together retry for a while.
fn set_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let mode = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0));
        match mode {
            Err(e)
                if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other.map(|_| ()),
        }
    }
}

pub(crate) fn classify(path: &Path, e: rusqlite::Error) -> DbError {
    let path = path.to_path_buf();
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => {
            DbError::Corrupt { path, detail: "SQLite says: file is not a database or is corrupt".into() }
        }
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => DbError::Busy { path },
        _ => DbError::Other { path, detail: e.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database that stopped at `version`: what an older Haul left behind.
    fn database_at_version(path: &Path, version: u32) {
        let conn = Connection::open(path).unwrap();
        for (_, sql) in &MIGRATIONS[..version as usize] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", version).unwrap();
    }

    #[test]
    fn all_migrations_apply_to_an_empty_database() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::open(&tmp.path().join("haul.db")).unwrap();
        assert_eq!(db.version().unwrap(), latest_version());
        let tables: i64 = db
            .conn()
            .query_row("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='servers'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 1);
    }

    #[test]
    fn two_processes_opening_a_new_database_at_once_both_get_it() {
        // The race the CLI's storage tests met: both read version 0, both ran migration 1, one failed.
        for _ in 0..20 {
            let tmp = tempfile::tempdir().unwrap();
            let path = tmp.path().join("haul.db");
            let start = std::sync::Barrier::new(4);
            std::thread::scope(|s| {
                let openers: Vec<_> = (0..4)
                    .map(|_| {
                        s.spawn(|| {
                            start.wait();
                            Database::open(&path).map(|db| db.version().unwrap())
                        })
                    })
                    .collect();
                for opener in openers {
                    assert_eq!(opener.join().unwrap().unwrap(), latest_version());
                }
            });
        }
    }

    #[test]
    fn every_previous_version_migrates_to_the_latest_keeping_its_rows() {
        for version in 1..latest_version() + 1 {
            let tmp = tempfile::tempdir().unwrap();
            let path = tmp.path().join("haul.db");
            database_at_version(&path, version);
            Connection::open(&path)
                .unwrap()
                .execute(
                    "INSERT INTO servers (name, base_url, auth_kind) VALUES ('Kept', 'https://x.test/fhir', 'open')",
                    [],
                )
                .unwrap();
            let db = Database::open(&path).unwrap();
            assert_eq!(db.version().unwrap(), latest_version(), "from version {version}");
            let kept: String = db.conn().query_row("SELECT name FROM servers", [], |r| r.get(0)).unwrap();
            assert_eq!(kept, "Kept");
        }
    }

    #[test]
    fn files_that_failed_before_version_7_get_their_failure_code() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("haul.db");
        database_at_version(&path, 6);
        let old = Connection::open(&path).unwrap();
        old.execute(
            "INSERT INTO exports (id, fhir_url, level, request_json, settings_json, types_key, out_dir, state) \
             VALUES (1, 'https://x.test/fhir', 'system', '{}', '{}', '', '/tmp/x', 'failed')",
            [],
        )
        .unwrap();
        for (seq, state, error) in [
            (0, "failed", "The file is no longer on the server (it expired or was removed)."),
            (1, "failed", "The connection broke."),
            (2, "verified", ""),
        ] {
            old.execute(
                "INSERT INTO export_files (export_id, seq, kind, resource_type, url, name, state, error) \
                 VALUES (1, ?1, 'output', 'Patient', 'https://x.test/f', 'Patient.000.ndjson', ?2, NULLIF(?3, ''))",
                rusqlite::params![seq, state, error],
            )
            .unwrap();
        }
        drop(old);
        let db = Database::open(&path).unwrap();
        let files = db.job_files(1).unwrap();
        let kinds: Vec<Option<&str>> = files.iter().map(|f| f.error_kind.as_deref()).collect();
        assert_eq!(kinds, [Some("file_expired"), Some("download"), None]);
        assert_eq!(files.iter().map(|f| f.is_expired()).collect::<Vec<_>>(), [true, false, false]);
    }

    #[test]
    fn servers_from_version_7_trust_no_storage_origin() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("haul.db");
        database_at_version(&path, 7);
        Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO servers (name, base_url, auth_kind, client_id) \
                 VALUES ('Old', 'https://x.test/fhir', 'smart_backend', 'c')",
                [],
            )
            .unwrap();
        let db = Database::open(&path).unwrap();
        let stored: String = db.conn().query_row("SELECT trusted_origins FROM servers", [], |r| r.get(0)).unwrap();
        assert_eq!(stored, "[]");
        let old = db.list_servers().unwrap().pop().unwrap();
        assert_eq!((old.name.as_str(), old.trusted_origins.len()), ("Old", 0));
    }

    #[test]
    fn rebuilding_servers_in_version_9_keeps_what_refers_to_them() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("haul.db");
        database_at_version(&path, 8);
        let old = Connection::open(&path).unwrap();
        old.execute_batch(
            "PRAGMA foreign_keys = ON;
             INSERT INTO keys (kid, label, alg, public_jwk) VALUES ('k1', 'Key', 'ES384', '{}');
             INSERT INTO servers (id, name, base_url, auth_kind, client_id, key_kid, builtin, trusted_origins)
                 VALUES (4, 'Payer', 'https://x.test/fhir', 'smart_backend', 'c', 'k1', 'demo', '[\"https://f.test\"]');
             INSERT INTO pinned_groups (server_id, group_id) VALUES (4, 'g1');
             INSERT INTO exports (id, server_id, fhir_url, level, request_json, settings_json, out_dir, state)
                 VALUES (1, 4, 'https://x.test/fhir', 'system', '{}', '{}', '/tmp/x', 'completed');",
        )
        .unwrap();
        drop(old);
        let db = Database::open(&path).unwrap();
        let server = db.get_server(4).unwrap();
        assert_eq!((server.key_kid.as_deref(), server.builtin), (Some("k1"), true));
        assert_eq!(server.trusted_origins, ["https://f.test"]);
        assert!(!server.secret_saved && server.token_params.is_empty());
        let pinned: i64 = db.conn().query_row("SELECT count(*) FROM pinned_groups", [], |r| r.get(0)).unwrap();
        let job_server: Option<i64> = db.conn().query_row("SELECT server_id FROM exports", [], |r| r.get(0)).unwrap();
        assert_eq!((pinned, job_server), (1, Some(4)), "no ON DELETE fired by the rebuild");
        // The constraints are back: on the new kinds, and on the references.
        db.conn()
            .execute("UPDATE servers SET auth_kind = 'client_secret', secret_style = 'post' WHERE id = 4", [])
            .unwrap();
        assert!(db.conn().execute("UPDATE servers SET auth_kind = 'password' WHERE id = 4", []).is_err());
        assert!(db.conn().execute("INSERT INTO pinned_groups (server_id, group_id) VALUES (99, 'g')", []).is_err());
        db.conn().execute("DELETE FROM servers WHERE id = 4", []).unwrap();
        let pinned: i64 = db.conn().query_row("SELECT count(*) FROM pinned_groups", [], |r| r.get(0)).unwrap();
        assert_eq!(pinned, 0, "ON DELETE CASCADE still there");
    }

    #[test]
    fn opening_twice_is_harmless() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("haul.db");
        drop(Database::open(&path).unwrap());
        assert_eq!(Database::open(&path).unwrap().version().unwrap(), latest_version());
    }

    #[test]
    fn a_newer_database_is_refused_and_left_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("haul.db");
        database_at_version(&path, latest_version());
        let future = latest_version() + 7;
        Connection::open(&path).unwrap().pragma_update(None, "user_version", future).unwrap();
        let before = std::fs::read(&path).unwrap();
        let err = Database::open(&path).err().expect("a newer database must be refused");
        assert!(matches!(err, DbError::TooNew { found, .. } if found == future), "{err}");
        assert_eq!(err.problem(), Some(DbProblem::TooNew));
        assert!(err.to_string().contains("newer version of Haul"));
        assert_eq!(std::fs::read(&path).unwrap(), before, "the file must not change");
    }

    #[test]
    fn a_file_that_is_not_a_database_is_reported_as_damaged_and_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("haul.db");
        let garbage = b"this is not sqlite, it is a shopping list: milk, eggs, bread. ".repeat(100);
        std::fs::write(&path, &garbage).unwrap();
        let err = Database::open(&path).err().expect("garbage must be refused");
        assert_eq!(err.problem(), Some(DbProblem::Corrupt), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), garbage, "the file must not change");

        let moved = move_aside(&path, DbProblem::Corrupt).unwrap();
        assert!(!path.exists());
        assert_eq!(std::fs::read(&moved).unwrap(), garbage);
        assert!(moved.file_name().unwrap().to_str().unwrap().starts_with("haul.db.damaged-"));
        // Afterwards a fresh database opens in its place.
        assert_eq!(Database::open(&path).unwrap().version().unwrap(), latest_version());
    }
}
