//! Reading a table's transaction log: from its latest checkpoint (or from version 0 when there is none), every
//! JSON commit after it, replayed in order.

use std::collections::BTreeMap;

use object_destination::Destination;
use serde_json::Value;

use crate::{APP_ID, DeltaError, LiveFile, checkpoint};

/// A commit or checkpoint larger than this is not one Haul or a sane writer made (Haul's are a few kB).
pub(crate) const MAX_COMMIT_BYTES: usize = 64 << 20;

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
    /// The actions in force, as written, for the next checkpoint: the protocol, the metadata, each
    /// application's last `txn`, the live files' `add`s and the removed files' `remove`s.
    pub protocol: Option<Value>,
    pub metadata: Option<Value>,
    pub txns: BTreeMap<String, Value>,
    pub adds: BTreeMap<String, Value>,
    pub removes: BTreeMap<String, Value>,
}

/// Where replay starts: a checkpoint's version (or none, for version 0) and the commits after it.
#[derive(Debug, PartialEq)]
struct Plan {
    checkpoint: Option<u64>,
    commits: Vec<u64>,
    /// Every commit from version 0, when the log still has them all: the way back if a checkpoint is unreadable.
    from_zero: Option<Vec<u64>>,
}

/// The replay plan, from the names under `_delta_log/`: the latest single-file checkpoint when the commits
/// after it continue without a gap, else every commit from version 0.
fn plan(names: &[(String, u64)], log: &str, address: &str) -> Result<Plan, DeltaError> {
    let version_of =
        |v: &str| (v.len() == 20 && v.bytes().all(|b| b.is_ascii_digit())).then(|| v.parse::<u64>().ok()).flatten();
    let mut commits = Vec::new();
    let mut checkpoints = Vec::new();
    let mut other_checkpoint = false;
    for (name, _) in names {
        let Some(file) = name.strip_prefix(log).map(|n| n.trim_start_matches('/')) else { continue };
        if let Some(v) = file.strip_suffix(".json").and_then(version_of) {
            commits.push(v);
        } else if let Some(v) = file.strip_suffix(".checkpoint.parquet").and_then(version_of) {
            checkpoints.push(v);
        } else if file.contains(".checkpoint") {
            other_checkpoint = true;
        }
    }
    commits.sort_unstable();
    checkpoints.sort_unstable();
    let from_zero = commits.iter().enumerate().all(|(i, v)| *v == i as u64).then(|| commits.clone());
    if let Some(c) = checkpoints.last().copied() {
        let after: Vec<u64> = commits.iter().copied().filter(|v| *v > c).collect();
        if after.iter().enumerate().all(|(i, v)| *v == c + 1 + i as u64) {
            return Ok(Plan { checkpoint: Some(c), commits: after, from_zero });
        }
    }
    match from_zero {
        Some(all) => Ok(Plan { checkpoint: None, commits: all.clone(), from_zero: Some(all) }),
        None => {
            let why = if other_checkpoint && checkpoints.is_empty() && commits.first() != Some(&0) {
                "its log was shortened after a checkpoint Haul cannot start from (a multi-part or newer kind)"
            } else {
                "versions are missing from its log"
            };
            Err(DeltaError::Unsupported { address: address.to_string(), why: why.into() })
        }
    }
}

/// Why a log file is not read: commits and checkpoints Haul or a sane writer makes are far smaller.
pub(crate) fn too_large_to_read(size: u64) -> String {
    format!("it is {size} bytes, larger than any commit or checkpoint Haul reads")
}

/// The table under `root` at its latest version; `None` when there is no table there.
pub(crate) async fn read(dest: &Destination, root: &str) -> Result<Option<TableState>, DeltaError> {
    let log = format!("{root}/_delta_log");
    let address = dest.address_of(root);
    let names = dest.list(&log).await?;
    let plan = plan(&names, &log, &address)?;
    // Sizes as listed, so a file too large to be a commit or checkpoint is refused before it is fetched.
    let too_large = |name: &str| {
        let size = names.iter().find(|(n, _)| n == name).map_or(0, |(_, size)| *size);
        (size > MAX_COMMIT_BYTES as u64).then(|| too_large_to_read(size))
    };
    let mut state = TableState::default();
    let mut commits = plan.commits;
    if let Some(c) = plan.checkpoint {
        let name = checkpoint::name(&log, c);
        let corrupt = |reason: String| DeltaError::Corrupt { address: dest.address_of(&name), reason };
        let read = match too_large(&name) {
            Some(why) => Err(why),
            None => match dest.get(&name).await? {
                Some(bytes) => checkpoint::decode(bytes),
                None => Err("it disappeared while being read".into()),
            },
        };
        let replayed = read.map_err(corrupt).and_then(|actions| {
            let mut at_checkpoint = TableState { version: c, ..TableState::default() };
            for (n, action) in actions.iter().enumerate() {
                apply_in(&mut at_checkpoint, action, &address, || corrupt(format!("row {}", n + 1)))?;
            }
            Ok(at_checkpoint)
        });
        match replayed {
            Ok(at_checkpoint) => state = at_checkpoint,
            // The commits it summarises are all still there: they say the same.
            Err(_) if plan.from_zero.is_some() => commits = plan.from_zero.unwrap_or_default(),
            Err(e) => return Err(e),
        }
    } else if commits.is_empty() {
        return Ok(None);
    }
    for version in commits {
        let name = format!("{log}/{version:020}.json");
        let corrupt = |reason: String| DeltaError::Corrupt { address: dest.address_of(&name), reason };
        if let Some(why) = too_large(&name) {
            return Err(corrupt(why));
        }
        let bytes = dest.get(&name).await?.ok_or_else(|| corrupt("it disappeared while being read".into()))?;
        if bytes.len() > MAX_COMMIT_BYTES {
            return Err(corrupt(too_large_to_read(bytes.len() as u64)));
        }
        for (n, line) in bytes.split(|b| *b == b'\n').enumerate().filter(|(_, l)| !l.trim_ascii().is_empty()) {
            let action: Value =
                serde_json::from_slice(line).map_err(|e| corrupt(format!("line {} is not JSON ({e})", n + 1)))?;
            apply_in(&mut state, &action, &address, || corrupt(format!("line {}", n + 1)))?;
        }
        state.version = version;
    }
    if state.schema_string.is_empty() {
        return Err(DeltaError::Corrupt { address, reason: "its log has no metaData action".into() });
    }
    Ok(Some(state))
}

/// [`apply`], its errors in words: `at` names the commit line or checkpoint row.
fn apply_in(
    state: &mut TableState,
    action: &Value,
    address: &str,
    at: impl Fn() -> DeltaError,
) -> Result<(), DeltaError> {
    apply(state, action).map_err(|e| match e {
        ActionError::Unsupported(why) => DeltaError::Unsupported { address: address.to_string(), why },
        ActionError::Bad(what) => match at() {
            DeltaError::Corrupt { address, reason } => {
                DeltaError::Corrupt { address, reason: format!("{reason}: {what}") }
            }
            other => other,
        },
    })
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
        state.protocol = Some(p.clone());
    } else if let Some(m) = action.get("metaData") {
        state.table_id = text(m, "id").ok_or_else(|| ActionError::Bad("metaData without an id".into()))?;
        state.schema_string =
            text(m, "schemaString").ok_or_else(|| ActionError::Bad("metaData without a schemaString".into()))?;
        state.created_time = m.get("createdTime").and_then(Value::as_i64).unwrap_or(state.created_time);
        let partitioned = m.get("partitionColumns").and_then(Value::as_array).is_some_and(|c| !c.is_empty());
        if partitioned {
            return Err(ActionError::Unsupported("it is partitioned, and Haul's tables are not".into()));
        }
        state.metadata = Some(m.clone());
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
        state.removes.remove(&path);
        state.adds.insert(path.clone(), a.clone());
        state.files.insert(path.clone(), LiveFile { path, size, rows });
    } else if let Some(r) = action.get("remove") {
        let path = text(r, "path").ok_or_else(|| ActionError::Bad("remove without a path".into()))?;
        state.files.remove(&path);
        state.adds.remove(&path);
        state.removes.insert(path, r.clone());
    } else if let Some(t) = action.get("txn") {
        let app = text(t, "appId").ok_or_else(|| ActionError::Bad("txn without an appId".into()))?;
        if app == APP_ID {
            state.marker = t.get("version").and_then(Value::as_i64);
        }
        state.txns.insert(app, t.clone());
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
    fn replay_starts_at_the_latest_checkpoint_or_at_version_0_and_gaps_are_refused() {
        let plan_of = |list: &[&str]| plan(&names(list), "T/_delta_log", "x");
        let ok = plan_of(&["00000000000000000001.json", "00000000000000000000.json", "00000000000000000000.crc"]);
        assert_eq!(ok.unwrap(), Plan { checkpoint: None, commits: vec![0, 1], from_zero: Some(vec![0, 1]) });
        let gap = plan_of(&["00000000000000000000.json", "00000000000000000002.json"]);
        assert!(matches!(gap, Err(DeltaError::Unsupported { .. })));
        // Spark's log cleanup: the commits before the checkpoint are gone.
        let trimmed = plan_of(&["00000000000000000010.checkpoint.parquet", "00000000000000000011.json"]);
        assert_eq!(trimmed.unwrap(), Plan { checkpoint: Some(10), commits: vec![11], from_zero: None });
        let gap = plan_of(&["00000000000000000010.checkpoint.parquet", "00000000000000000012.json"]);
        let e = gap.unwrap_err().to_string();
        assert!(e.contains("versions are missing"), "{e}");
        let parts =
            plan_of(&["00000000000000000010.checkpoint.0000000001.0000000002.parquet", "00000000000000000011.json"]);
        let e = parts.unwrap_err().to_string();
        assert!(e.contains("checkpoint Haul cannot start from"), "{e}");
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
