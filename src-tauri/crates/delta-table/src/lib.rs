//! Delta Lake tables as Haul keeps them: one Parquet data file per table version, replaced whole by each
//! change, in a folder or in object storage. The table's log (`_delta_log/NNNNNNNNNNNNNNNNNNNN.json`) is
//! written by the protocol's own rule: a new version is a new commit file, created only if no writer made it
//! first (a create-only write, which S3, Azure, GCS and local folders all offer), so a crash or a second writer
//! leaves the table at its previous version. Readers (Spark, Databricks, Trino, DuckDB, delta-rs) see every
//! version; the files of older versions stay until a `VACUUM` (`vacuum.rs`, or an engine's) removes them.
//!
//! Protocol: reader version 1, writer version 2, no partitions, no deletion vectors; tables using newer
//! features are refused rather than misread. A checkpoint follows every tenth version (`checkpoint.rs`). A
//! `txn` action of application `haul` records the export each version holds ([`DeltaTable::marker`]), so a
//! chain of incremental exports is applied in order and a conversion run twice is applied once.
//!
//! Why not the `deltalake` crate (delta-rs): measured in DECISIONS.md and the architecture map; in short, its
//! release pins Arrow 59 and object_store 0.13 with a second reqwest, against Haul's Arrow 60, and adds 344
//! crates for what is here a log of a few JSON lines per month.

mod checkpoint;
mod log;
pub mod schema;
mod vacuum;

pub use vacuum::{DEFAULT_RETENTION, Vacuumed, vacuum_tables, vacuum_tables_at};

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use arrow::datatypes::Schema;
use bytes::Bytes;
use object_destination::{Destination, DestinationError};
use serde::Serialize;
use serde_json::{Value, json};

/// The `txn` application id Haul records its exports under.
pub const APP_ID: &str = "haul";

/// What can go wrong with a Delta table, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum DeltaError {
    #[error(transparent)]
    Storage(#[from] DestinationError),
    #[error("The column {column} has a type Delta tables cannot hold ({arrow_type}).")]
    Schema { column: String, arrow_type: String },
    #[error("Haul does not write to the Delta table at {address}: {why}.")]
    Unsupported { address: String, why: String },
    #[error("The Delta table's log at {address} cannot be read: {reason}.")]
    Corrupt { address: String, reason: String },
    #[error(
        "Another program wrote version {version} of the Delta table at {address} while Haul was writing it. Haul's change was not committed; the table is as that program left it. Run the conversion again."
    )]
    Conflict { address: String, version: u64 },
    #[error("Haul could not read {path}: {reason}")]
    Local { path: String, reason: String },
    #[error(
        "The Delta table at {address} keeps removed files for {value:?} (delta.deletedFileRetentionDuration), which is not a duration Haul reads, such as \"interval 7 days\". Haul removed nothing from it."
    )]
    Retention { address: String, value: String },
    #[error(
        "There is no Delta table directly under {address}: give the folder or storage address the tables were written to."
    )]
    NoTables { address: String },
    #[error("Give the folder or storage address the Delta tables were written to.")]
    NoTarget,
}

impl DeltaError {
    /// A stable code for the UI and the CLI's `--json`.
    pub fn code(&self) -> &'static str {
        match self {
            DeltaError::Storage(e) => e.code(),
            DeltaError::Schema { .. } => "delta_schema",
            DeltaError::Unsupported { .. } => "delta_unsupported",
            DeltaError::Corrupt { .. } => "delta_corrupt",
            DeltaError::Conflict { .. } => "delta_conflict",
            DeltaError::Local { .. } => "delta_local",
            DeltaError::Retention { .. } => "delta_retention",
            DeltaError::NoTables { .. } => "delta_no_tables",
            DeltaError::NoTarget => "delta_no_target",
        }
    }
}

/// A data file of the table's current version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveFile {
    /// Relative to the table's folder.
    pub path: String,
    pub size: u64,
    /// From the file's statistics, when its writer recorded them.
    pub rows: Option<u64>,
}

/// What a commit does to the table's contents.
pub enum Contents<'a> {
    /// Every live file leaves; `file` (a local Parquet file) becomes the table, its schema the table's
    /// schema; with no file the table becomes empty and keeps its schema.
    Replace { file: Option<&'a Path> },
    /// The contents stay; only the export the table is at moves on (an export that changed nothing in it).
    Keep,
}

/// One table: a folder (`root`, `/`-separated) under a destination, and its latest version.
pub struct DeltaTable {
    dest: Destination,
    root: String,
    state: Option<log::TableState>,
}

impl DeltaTable {
    /// Reads the table under `root`; a table with no log yet is empty and is created by its first commit.
    pub async fn open(dest: &Destination, root: &str) -> Result<Self, DeltaError> {
        let root = root.trim_matches('/').to_string();
        let state = log::read(dest, &root).await?;
        Ok(Self { dest: dest.clone(), root, state })
    }

    pub fn address(&self) -> String {
        self.dest.address_of(&self.root)
    }

    /// The latest version; `None` before the first commit.
    pub fn version(&self) -> Option<u64> {
        self.state.as_ref().map(|s| s.version)
    }

    /// The export the latest version holds, as Haul recorded it (`None` for a table Haul never wrote).
    pub fn marker(&self) -> Option<i64> {
        self.state.as_ref().and_then(|s| s.marker)
    }

    pub fn live_files(&self) -> Vec<&LiveFile> {
        self.state.as_ref().map(|s| s.files.values().collect()).unwrap_or_default()
    }

    /// The rows of the latest version, when every live file's statistics say.
    pub fn rows(&self) -> Option<u64> {
        self.live_files().iter().map(|f| f.rows).sum()
    }

    /// A live file's name under the destination (to read it).
    pub fn name_of(&self, file: &LiveFile) -> String {
        format!("{}/{}", self.root, file.path)
    }

    /// Commits the next version: `contents`, the export `marker` it holds, and `info` (kept in the commit's
    /// `commitInfo.haul`). Returns the version. Nothing changes for readers unless the commit is written.
    pub async fn commit(
        &mut self,
        contents: Contents<'_>,
        marker: i64,
        operation: &str,
        info: Value,
    ) -> Result<u64, DeltaError> {
        let now = now_ms();
        let version = self.version().map_or(0, |v| v + 1);
        let mut actions = vec![json!({"commitInfo": {
            "timestamp": now,
            "operation": operation,
            "operationParameters": {},
            "engineInfo": concat!("Haul/", env!("CARGO_PKG_VERSION")),
            "isBlindAppend": false,
            "haul": info,
        }})];
        let mut added = None;
        if let Contents::Replace { file } = &contents {
            let footer = file.map(footer_of).transpose()?;
            let schema_string = match &footer {
                Some((schema, _)) => Some(schema::schema_string(schema)?),
                None => None,
            };
            match (&self.state, schema_string.as_deref()) {
                (_, None) if self.state.is_none() => {
                    return Err(DeltaError::Unsupported {
                        address: self.address(),
                        why: "a new table needs a data file to take its schema from".into(),
                    });
                }
                (None, Some(schema_string)) => {
                    actions.push(json!({"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}}));
                    actions.push(metadata(&uuid::Uuid::new_v4().to_string(), schema_string, now));
                }
                (Some(s), Some(schema_string)) if s.schema_string != schema_string => {
                    actions.push(schema_changed(s, schema_string));
                }
                _ => {}
            }
            if let Some(why) = self.state.as_ref().and_then(writer_rule_broken) {
                return Err(DeltaError::Unsupported { address: self.address(), why: why.into() });
            }
            for f in self.live_files() {
                actions.push(json!({"remove": {
                    "path": f.path, "deletionTimestamp": now, "dataChange": true,
                    "extendedFileMetadata": true, "partitionValues": {}, "size": f.size,
                }}));
            }
            if let (Some(file), Some((_, rows))) = (file, &footer) {
                let path = format!("part-00000-{}-c000.zstd.parquet", uuid::Uuid::new_v4());
                let size = self.dest.upload_file(&format!("{}/{path}", self.root), file).await?;
                added = Some(path.clone());
                actions.push(json!({"add": {
                    "path": path, "partitionValues": {}, "size": size, "modificationTime": now,
                    "dataChange": true, "stats": json!({"numRecords": rows}).to_string(),
                }}));
            }
        } else if self.state.is_none() {
            return Err(DeltaError::Unsupported {
                address: self.address(),
                why: "there is no table there to mark as up to date".into(),
            });
        }
        actions.insert(1, json!({"txn": {"appId": APP_ID, "version": marker, "lastUpdated": now}}));
        let mut text = String::new();
        for a in &actions {
            text.push_str(&a.to_string());
            text.push('\n');
        }
        let name = format!("{}/_delta_log/{version:020}.json", self.root);
        let written = self.dest.put_new(&name, Bytes::from(text)).await;
        if !matches!(written, Ok(true)) {
            // The data file is in no version: take it away again (best effort; VACUUM would too).
            if let Some(path) = &added {
                let _ = self.dest.delete(&format!("{}/{path}", self.root)).await;
            }
            written?;
            return Err(DeltaError::Conflict { address: self.address(), version });
        }
        // Read back rather than patched in memory: one rule (the log's replay) for what a version holds.
        self.state = log::read(&self.dest, &self.root).await?;
        if let Some(state) = self.state.as_ref().filter(|s| checkpoint::due(s)) {
            // The version is committed whatever happens here: a checkpoint only spares readers the replay, and
            // the next one is due ten versions on. So a failed write does not fail the conversion.
            if let Err(e) = checkpoint::write(&self.dest, &self.root, state).await {
                tracing::warn!(table = %self.address(), version, "no checkpoint written: {e}");
            }
        }
        Ok(version)
    }
}

/// A local Parquet file's schema and row count, from its footer.
fn footer_of(path: &Path) -> Result<(Schema, u64), DeltaError> {
    let local =
        |e: &dyn std::fmt::Display| DeltaError::Local { path: path.display().to_string(), reason: e.to_string() };
    let file = std::fs::File::open(path).map_err(|e| local(&e))?;
    let builder =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| local(&e))?;
    let rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
    Ok((builder.schema().as_ref().clone(), rows))
}

fn metadata(id: &str, schema_string: &str, created: i64) -> Value {
    json!({"metaData": {
        "id": id,
        "format": {"provider": "parquet", "options": {}},
        "schemaString": schema_string,
        "partitionColumns": [],
        "configuration": {},
        "createdTime": created,
    }})
}

/// The table's metadata with a new schema: its id, name, description, creation time and configuration (set by
/// whoever owns the table: checkpoint interval, retention, …) stay as they are.
fn schema_changed(state: &log::TableState, schema_string: &str) -> Value {
    match state.metadata.clone() {
        Some(mut m) => {
            m["schemaString"] = Value::from(schema_string);
            json!({ "metaData": m })
        }
        None => metadata(&state.table_id, schema_string, state.created_time),
    }
}

/// Why replacing the table's contents would break a rule of writer version 2, which every writer must keep:
/// an append-only table never loses a file, and a column's invariant must hold for every row (Haul does not
/// evaluate them, so it does not write such tables).
fn writer_rule_broken(state: &log::TableState) -> Option<&'static str> {
    let meta = state.metadata.as_ref()?;
    let append_only =
        meta["configuration"]["delta.appendOnly"].as_str().is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if append_only && !state.files.is_empty() {
        return Some("it is append-only (delta.appendOnly), and each conversion replaces the table's data file");
    }
    state
        .schema_string
        .contains("delta.invariants")
        .then_some("its columns carry invariants (delta.invariants), which Haul does not check")
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests;
