//! Reading a table's transaction log: every JSON commit from version 0, replayed in order.

use std::collections::BTreeMap;

use object_destination::Destination;
use serde_json::Value;

use crate::{APP_ID, DeltaError, LiveFile};

/// A commit larger than this is not one Haul or a sane writer made (Haul's are a few kB).
const MAX_COMMIT_BYTES: usize = 64 << 20;

/// A table as its log's last version describes it.
#[derive(Debug, Clone, Default)]
pub(crate) struct TableState {
    pub version: u64,
    pub table_id: String,
    pub schema_string: String,
    pub created_time: i64,
    pub files: BTreeMap<String, LiveFile>,
    /// The `txn` version Haul recorded last: the export the table is at.
    pub marker: Option<i64>,
}

/// The commits' versions, in order, from the names under `_delta_log/`.
fn versions(names: &[(String, u64)], log: &str, address: &str) -> Result<Vec<u64>, DeltaError> {
    let mut versions = Vec::new();
    let mut checkpoint = false;
    for (name, _) in names {
        let Some(file) = name.strip_prefix(log).map(|n| n.trim_start_matches('/')) else { continue };
        if let Some(v) = file.strip_suffix(".json").filter(|v| v.len() == 20 && v.bytes().all(|b| b.is_ascii_digit())) {
            versions.push(v.parse::<u64>().expect("twenty digits"));
        } else if file.contains(".checkpoint") || file == "_last_checkpoint" {
            checkpoint = true;
        }
    }
    versions.sort_unstable();
    let contiguous = versions.iter().enumerate().all(|(i, v)| *v == i as u64);
    if !contiguous {
        let why = if checkpoint && versions.first() != Some(&0) {
            "its log was shortened after a checkpoint, and Haul reads a table's log from its first version"
        } else {
            "versions are missing from its log"
        };
        return Err(DeltaError::Unsupported { address: address.to_string(), why: why.into() });
    }
    Ok(versions)
}

/// The table under `root` at its latest version; `None` when there is no table there.
pub(crate) async fn read(dest: &Destination, root: &str) -> Result<Option<TableState>, DeltaError> {
    let log = format!("{root}/_delta_log");
    let address = dest.address_of(root);
    let names = dest.list(&log).await?;
    let versions = versions(&names, &log, &address)?;
    if versions.is_empty() {
        return Ok(None);
    }
    let mut state = TableState::default();
    for version in versions {
        let name = format!("{log}/{version:020}.json");
        let corrupt = |reason: String| DeltaError::Corrupt { address: dest.address_of(&name), reason };
        let bytes = dest.get(&name).await?.ok_or_else(|| corrupt("it disappeared while being read".into()))?;
        if bytes.len() > MAX_COMMIT_BYTES {
            return Err(corrupt(format!("it is {} bytes, larger than any commit Haul reads", bytes.len())));
        }
        for (n, line) in bytes.split(|b| *b == b'\n').enumerate().filter(|(_, l)| !l.trim_ascii().is_empty()) {
            let action: Value =
                serde_json::from_slice(line).map_err(|e| corrupt(format!("line {} is not JSON ({e})", n + 1)))?;
            apply(&mut state, &action).map_err(|e| match e {
                ActionError::Unsupported(why) => DeltaError::Unsupported { address: address.clone(), why },
                ActionError::Bad(what) => corrupt(format!("line {}: {what}", n + 1)),
            })?;
        }
        state.version = version;
    }
    if state.schema_string.is_empty() {
        return Err(DeltaError::Corrupt { address, reason: "its log has no metaData action".into() });
    }
    Ok(Some(state))
}

enum ActionError {
    Unsupported(String),
    Bad(String),
}

fn apply(state: &mut TableState, action: &Value) -> Result<(), ActionError> {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    if let Some(p) = action.get("protocol") {
        let reader = p.get("minReaderVersion").and_then(Value::as_u64).unwrap_or(0);
        let writer = p.get("minWriterVersion").and_then(Value::as_u64).unwrap_or(0);
        // Higher versions mean features (deletion vectors, column mapping, …) whose files Haul would misread
        // or whose rules it would break when writing.
        if reader > 1 || writer > 2 {
            return Err(ActionError::Unsupported(format!(
                "it needs Delta reader version {reader} and writer version {writer}, and Haul keeps tables at reader 1 and writer 2"
            )));
        }
    } else if let Some(m) = action.get("metaData") {
        state.table_id = text(m, "id").ok_or_else(|| ActionError::Bad("metaData without an id".into()))?;
        state.schema_string =
            text(m, "schemaString").ok_or_else(|| ActionError::Bad("metaData without a schemaString".into()))?;
        state.created_time = m.get("createdTime").and_then(Value::as_i64).unwrap_or(state.created_time);
        let partitioned = m.get("partitionColumns").and_then(Value::as_array).is_some_and(|c| !c.is_empty());
        if partitioned {
            return Err(ActionError::Unsupported("it is partitioned, and Haul's tables are not".into()));
        }
    } else if let Some(a) = action.get("add") {
        let path = text(a, "path").ok_or_else(|| ActionError::Bad("add without a path".into()))?;
        if a.get("deletionVector").is_some_and(|d| !d.is_null()) {
            return Err(ActionError::Unsupported("its files carry deletion vectors".into()));
        }
        let rows = a
            .get("stats")
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
            .and_then(|s| s.get("numRecords").and_then(Value::as_u64));
        let size = a.get("size").and_then(Value::as_u64).unwrap_or(0);
        state.files.insert(path.clone(), LiveFile { path, size, rows });
    } else if let Some(r) = action.get("remove") {
        let path = text(r, "path").ok_or_else(|| ActionError::Bad("remove without a path".into()))?;
        state.files.remove(&path);
    } else if let Some(t) = action.get("txn")
        && t.get("appId").and_then(Value::as_str) == Some(APP_ID)
    {
        state.marker = t.get("version").and_then(Value::as_i64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<(String, u64)> {
        list.iter().map(|n| (format!("T/_delta_log/{n}"), 1)).collect()
    }

    #[test]
    fn commits_are_read_in_order_and_gaps_refused() {
        let ok = names(&["00000000000000000001.json", "00000000000000000000.json", "00000000000000000000.crc"]);
        assert_eq!(versions(&ok, "T/_delta_log", "x").unwrap(), vec![0, 1]);
        let gap = names(&["00000000000000000000.json", "00000000000000000002.json"]);
        assert!(matches!(versions(&gap, "T/_delta_log", "x"), Err(DeltaError::Unsupported { .. })));
        let trimmed = names(&["00000000000000000010.checkpoint.parquet", "00000000000000000011.json"]);
        let e = versions(&trimmed, "T/_delta_log", "x").unwrap_err().to_string();
        assert!(e.contains("checkpoint"), "{e}");
    }

    #[test]
    fn removes_cancel_adds_and_newer_features_are_refused() {
        let mut state = TableState::default();
        let add = serde_json::json!({"add": {"path": "a.parquet", "size": 10, "stats": "{\"numRecords\":3}"}});
        assert!(apply(&mut state, &add).is_ok());
        assert_eq!(state.files["a.parquet"].rows, Some(3));
        assert!(apply(&mut state, &serde_json::json!({"remove": {"path": "a.parquet"}})).is_ok());
        assert!(state.files.is_empty());
        let txn = serde_json::json!({"txn": {"appId": APP_ID, "version": 42}});
        assert!(apply(&mut state, &txn).is_ok());
        assert_eq!(state.marker, Some(42));
        let dv = serde_json::json!({"protocol": {"minReaderVersion": 3, "minWriterVersion": 7}});
        assert!(matches!(apply(&mut state, &dv), Err(ActionError::Unsupported(_))));
    }
}
