//! VACUUM: removing the data files only older versions hold, once the version that removed them is older than
//! the table's retention (`delta.deletedFileRetentionDuration`, one week unless the table says otherwise), the
//! rule every Delta engine keeps, so that a reader still on a recent version never loses a file. Haul rewrites
//! a table whole with each conversion: without this, a year of months keeps twelve copies of every table.
//!
//! Only files the log names as removed (its tombstones) are touched, never the log itself, a live file, or a
//! file the log does not know (another writer's, perhaps not yet committed); a tombstone's path is taken only
//! when it is a plain name under the table's folder.

use std::time::{Duration, SystemTime};

use object_destination::Destination;
use serde::Serialize;
use serde_json::Value;
use ts_rs::TS;

use crate::{DeltaError, DeltaTable};

/// The retention of a table that names none: the protocol's default, one week.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
const RETENTION_KEY: &str = "delta.deletedFileRetentionDuration";

/// What a VACUUM of one table removed (or, in a dry run, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Vacuumed {
    /// The table's address.
    pub table: String,
    /// How long the table keeps the files a version removed.
    #[ts(type = "number")]
    pub retention_seconds: u64,
    /// Relative to the table's folder, in name order.
    pub files: Vec<String>,
    #[ts(type = "number")]
    pub bytes: u64,
    pub dry_run: bool,
    /// The moment the retention was counted back from (ms since 1970).
    #[ts(type = "number")]
    pub as_of_ms: i64,
}

impl DeltaTable {
    /// Removes the data files versions older than the table's retention removed (nothing when `dry_run`).
    pub async fn vacuum(&self, dry_run: bool) -> Result<Vacuumed, DeltaError> {
        self.vacuum_at(SystemTime::now(), dry_run).await
    }

    /// How long the table keeps the files a version removed (its `delta.deletedFileRetentionDuration`).
    pub fn retention(&self) -> Result<Duration, DeltaError> {
        let metadata = self.state.as_ref().and_then(|s| s.metadata.as_ref());
        retention_of(metadata).map_err(|value| DeltaError::Retention { address: self.address(), value })
    }

    pub(crate) async fn vacuum_at(&self, now: SystemTime, dry_run: bool) -> Result<Vacuumed, DeltaError> {
        let mut out = Vacuumed { table: self.address(), dry_run, ..Vacuumed::default() };
        let Some(state) = &self.state else { return Ok(out) };
        let retention = self.retention()?;
        out.retention_seconds = retention.as_secs();
        let now_ms = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        out.as_of_ms = now_ms;
        let cutoff = now_ms.saturating_sub(retention.as_millis().min(i64::MAX as u128) as i64);
        for (path, remove) in &state.removes {
            // A tombstone without a time, or from the future (a clock ahead), is not known to be old enough.
            let old_enough = remove.get("deletionTimestamp").and_then(Value::as_i64).is_some_and(|at| at <= cutoff);
            if !old_enough || state.files.contains_key(path) || !plain_name(path) {
                continue;
            }
            let name = format!("{}/{path}", self.root);
            let Some(size) = self.dest.size_of(&name).await? else { continue }; // removed before
            if !dry_run {
                self.dest.delete(&name).await?;
            }
            out.files.push(path.clone());
            out.bytes += size;
        }
        Ok(out)
    }
}

/// Every Delta table directly under `dest` (where `haul convert --format delta --out` writes them), vacuumed.
/// All are read, and their retentions checked, before any file is removed: a table Haul cannot read leaves
/// every table as it was. No table there is an error (`NoTables`): a mistyped address is said, not passed.
pub async fn vacuum_tables(dest: &Destination, dry_run: bool) -> Result<Vec<Vacuumed>, DeltaError> {
    vacuum_tables_at(dest, SystemTime::now(), dry_run).await
}

/// [`vacuum_tables`] as of `now` (never later than the clock): the app removes exactly what its dry run
/// listed by giving that run's `as_of_ms`, though more versions may have passed their retention since.
pub async fn vacuum_tables_at(dest: &Destination, now: SystemTime, dry_run: bool) -> Result<Vec<Vacuumed>, DeltaError> {
    let now = now.min(SystemTime::now());
    let mut tables = Vec::new();
    for name in dest.folders("").await? {
        if name.starts_with(['_', '.']) {
            continue;
        }
        let table = DeltaTable::open(dest, &name).await?;
        if table.version().is_some() {
            table.retention()?;
            tables.push(table);
        }
    }
    if tables.is_empty() {
        return Err(DeltaError::NoTables { address: dest.address().to_string() });
    }
    let mut out = Vec::new();
    for table in &tables {
        out.push(table.vacuum_at(now, dry_run).await?);
    }
    Ok(out)
}

/// A relative path inside the table's folder as the log writes it unencoded: not another store's URL, not
/// above or beside the table, not hidden (the log lives in `_delta_log`), not percent-encoded.
fn plain_name(path: &str) -> bool {
    !path.is_empty()
        && !path.contains("://")
        && !path.contains('%')
        && !path.starts_with('/')
        && path.split('/').all(|part| !part.is_empty() && part != ".." && !part.starts_with(['_', '.']))
}

/// The table's retention: its `delta.deletedFileRetentionDuration` (`interval 7 days`, `1 week`, …), else the
/// default. Anything else is refused (the error holds the value), rather than guessed at when files are to go.
fn retention_of(metadata: Option<&Value>) -> Result<Duration, String> {
    let Some(text) = metadata.and_then(|m| m["configuration"][RETENTION_KEY].as_str()) else {
        return Ok(DEFAULT_RETENTION);
    };
    let refused = || text.to_string();
    let lower = text.trim().to_ascii_lowercase();
    let words: Vec<&str> = lower.strip_prefix("interval").unwrap_or(&lower).split_whitespace().collect();
    let [count, unit] = words[..] else { return Err(refused()) };
    let count: u64 = count.parse().map_err(|_| refused())?;
    let seconds = match unit.trim_end_matches('s') {
        "second" => 1,
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        "week" => 7 * 86_400,
        _ => return Err(refused()),
    };
    count.checked_mul(seconds).map(Duration::from_secs).ok_or_else(refused)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn retention_is_the_tables_own_in_the_forms_engines_write_else_a_week() {
        let with = |v: &str| retention_of(Some(&json!({"configuration": {RETENTION_KEY: v}})));
        assert_eq!(retention_of(None), Ok(DEFAULT_RETENTION));
        assert_eq!(retention_of(Some(&json!({"configuration": {}}))), Ok(DEFAULT_RETENTION));
        assert_eq!(with("interval 7 days"), Ok(DEFAULT_RETENTION));
        assert_eq!(with("INTERVAL 1 WEEK"), Ok(DEFAULT_RETENTION));
        assert_eq!(with("interval 0 seconds"), Ok(Duration::ZERO));
        assert_eq!(with("36 hours"), Ok(Duration::from_secs(36 * 3600)));
        for bad in ["7 days 2 hours", "interval", "a week", "interval 3 fortnights", "interval -1 days"] {
            assert_eq!(with(bad), Err(bad.to_string()));
        }
    }

    #[test]
    fn only_plain_names_inside_the_table_are_removed() {
        assert!(plain_name("part-00000-1-c000.zstd.parquet"));
        assert!(plain_name("year=2026/part-1.parquet"));
        for bad in ["", "/abs.parquet", "s3://other/x.parquet", "../T2/x.parquet", "_delta_log/0.json", "a%20b", ".x"] {
            assert!(!plain_name(bad), "{bad}");
        }
    }
}
