//! Checkpoints: a table's state at one version as a single Parquet file (`NNN.checkpoint.parquet`, one action
//! per row), named by `_last_checkpoint`. Haul writes one every `delta.checkpointInterval` versions (10 unless
//! the table says otherwise, as Spark and delta-rs do), so readers start there instead of replaying every
//! commit, and reads them back, which matters once Spark or Databricks has removed a table's early commits
//! (their log cleanup drops commits older than 30 days that a checkpoint covers).
//!
//! The rows are the same JSON actions a commit holds, turned into the checkpoint schema's columns by
//! arrow-json (and back again when read), so one rule, [`crate::log`]'s replay, says what a version holds.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use bytes::Bytes;
use object_destination::Destination;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};

use crate::DeltaError;
use crate::log::{MAX_COMMIT_BYTES, TableState, too_large_to_read};

/// Versions between checkpoints when the table's configuration does not say.
const DEFAULT_INTERVAL: u64 = 10;

/// The checkpoint file of `version` under the log folder.
pub(crate) fn name(log: &str, version: u64) -> String {
    format!("{log}/{version:020}.checkpoint.parquet")
}

/// Whether the commit of `version` is followed by a checkpoint.
pub(crate) fn due(state: &TableState) -> bool {
    let interval = state
        .metadata
        .as_ref()
        .and_then(|m| m["configuration"]["delta.checkpointInterval"].as_str())
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|v| *v > 0)
        .unwrap_or(DEFAULT_INTERVAL);
    state.version > 0 && state.version.is_multiple_of(interval)
}

/// Writes the checkpoint of `state`'s version, then points `_last_checkpoint` at it.
pub(crate) async fn write(dest: &Destination, root: &str, state: &TableState) -> Result<(), DeltaError> {
    let log = format!("{root}/_delta_log");
    let actions = actions(state);
    let bytes = encode(&actions).map_err(|reason| DeltaError::Corrupt { address: dest.address_of(&log), reason })?;
    let size_in_bytes = bytes.len();
    // Create-only: a checkpoint of a version holds that version whoever wrote it, so a present one stays.
    dest.put_new(&name(&log, state.version), Bytes::from(bytes)).await?;
    // Never back to an older checkpoint than another writer named (readers would only replay more, but still).
    let pointer = format!("{log}/_last_checkpoint");
    let named = match dest.size_of(&pointer).await? {
        Some(size) if size <= 1 << 20 => {
            dest.get(&pointer).await?.and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        }
        _ => None,
    };
    if named.and_then(|n| n["version"].as_u64()).is_some_and(|v| v >= state.version) {
        return Ok(());
    }
    let last = json!({"version": state.version, "size": actions.len(), "sizeInBytes": size_in_bytes,
                      "numOfAddFiles": state.files.len()});
    dest.put(&pointer, Bytes::from(last.to_string())).await?;
    Ok(())
}

/// The actions of the checkpoint's rows, as a commit would hold them: the protocol, the metadata, every
/// application's last `txn`, every live file's `add` and every `remove` (the tombstones VACUUM reads).
fn actions(state: &TableState) -> Vec<Value> {
    let mut out = Vec::new();
    out.extend(state.protocol.iter().map(|p| json!({"protocol": p})));
    out.extend(state.metadata.iter().map(|m| json!({"metaData": m})));
    out.extend(state.txns.values().map(|t| json!({"txn": t})));
    out.extend(state.adds.values().map(|a| json!({"add": a})));
    out.extend(state.removes.values().map(|r| json!({"remove": r})));
    out
}

/// The Delta protocol's checkpoint schema, for the actions a reader 1 / writer 2 table has. Every field is
/// nullable, as Spark writes them.
fn schema() -> SchemaRef {
    let text = || DataType::Utf8;
    let long = || DataType::Int64;
    let map = || {
        let entries =
            Fields::from(vec![Field::new("key", DataType::Utf8, false), Field::new("value", DataType::Utf8, true)]);
        DataType::Map(Arc::new(Field::new("key_value", DataType::Struct(entries), false)), false)
    };
    let action = |name: &str, fields: Vec<(&str, DataType)>| {
        let fields: Fields = fields.into_iter().map(|(n, t)| Field::new(n, t, true)).collect();
        Field::new(name, DataType::Struct(fields), true)
    };
    let format = DataType::Struct(Fields::from(vec![
        Field::new("provider", DataType::Utf8, true),
        Field::new("options", map(), true),
    ]));
    Arc::new(Schema::new(vec![
        action("txn", vec![("appId", text()), ("version", long()), ("lastUpdated", long())]),
        action(
            "add",
            vec![
                ("path", text()),
                ("partitionValues", map()),
                ("size", long()),
                ("modificationTime", long()),
                ("dataChange", DataType::Boolean),
                ("stats", text()),
                ("tags", map()),
            ],
        ),
        action(
            "remove",
            vec![
                ("path", text()),
                ("deletionTimestamp", long()),
                ("dataChange", DataType::Boolean),
                ("extendedFileMetadata", DataType::Boolean),
                ("partitionValues", map()),
                ("size", long()),
            ],
        ),
        action(
            "metaData",
            vec![
                ("id", text()),
                ("name", text()),
                ("description", text()),
                ("format", format),
                ("schemaString", text()),
                ("partitionColumns", DataType::List(Arc::new(Field::new("element", DataType::Utf8, true)))),
                ("configuration", map()),
                ("createdTime", long()),
            ],
        ),
        action("protocol", vec![("minReaderVersion", DataType::Int32), ("minWriterVersion", DataType::Int32)]),
    ]))
}

/// The actions as a checkpoint's Parquet bytes.
pub(crate) fn encode(actions: &[Value]) -> Result<Vec<u8>, String> {
    let schema = schema();
    let mut decoder = arrow::json::ReaderBuilder::new(schema.clone())
        .with_batch_size(actions.len().max(1))
        .build_decoder()
        .map_err(|e| e.to_string())?;
    decoder.serialize(actions).map_err(|e| e.to_string())?;
    let batch = decoder.flush().map_err(|e| e.to_string())?.ok_or("a checkpoint needs at least one action")?;
    let mut writer = ArrowWriter::try_new(Vec::new(), schema, None).map_err(|e| e.to_string())?;
    writer.write(&batch).map_err(|e| e.to_string())?;
    writer.into_inner().map_err(|e| e.to_string())
}

/// The most a checkpoint's pages may take decompressed, and the most its rows may take as JSON (parsed, a few
/// times that). A 64 MiB file can unpack to far more (zstd, run-length and dictionary encoding shrink
/// repetitive rows thousands of times), so the file's size alone does not bound memory. A checkpoint holds a
/// few hundred bytes per data file: 128 MiB is some 300,000 files.
const MAX_DECODED_BYTES: u64 = 128 << 20;

/// A checkpoint's rows as JSON actions (the columns a row leaves empty are left out, so each row is one
/// action). Written by Haul or by another program: extra columns come through, and replay ignores them.
pub(crate) fn decode(bytes: Bytes) -> Result<Vec<Value>, String> {
    decode_within(bytes, MAX_DECODED_BYTES)
}

fn decode_within(bytes: Bytes, max_decoded: u64) -> Result<Vec<Value>, String> {
    if bytes.len() > MAX_COMMIT_BYTES {
        return Err(too_large_to_read(bytes.len() as u64));
    }
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| e.to_string())?;
    // Refused by what the footer says before any page is decompressed.
    let groups: Vec<u64> = builder
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.columns().iter().fold(0u64, |sum, c| sum.saturating_add(c.uncompressed_size().max(0) as u64)))
        .collect();
    let unpacked = groups.iter().fold(0u64, |sum, g| sum.saturating_add(*g));
    if unpacked > max_decoded {
        return Err(format!("its pages unpack to {unpacked} bytes, more than any checkpoint Haul reads"));
    }
    // A dictionary value can repeat in every row, so one row may hold up to its row group's whole unpacked
    // size: the batches are as few rows as keep a batch within the bound, and the JSON is checked as it grows.
    let widest = groups.iter().copied().max().unwrap_or(0).max(1);
    let rows = (max_decoded / widest).clamp(1, 1024) as usize;
    let reader = builder.with_batch_size(rows).build().map_err(|e| e.to_string())?;
    let mut json = Vec::new();
    let mut writer = arrow::json::LineDelimitedWriter::new(&mut json);
    for batch in reader {
        writer.write(&batch.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        if writer.get_ref().len() as u64 > max_decoded {
            return Err(format!("its rows come to more than {max_decoded} bytes, more than any checkpoint Haul reads"));
        }
    }
    writer.finish().map_err(|e| e.to_string())?;
    drop(writer);
    json.split(|b| *b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
        .map(|l| serde_json::from_slice(l).map_err(|e| e.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_come_back_from_a_checkpoint_as_they_went_in() {
        let actions = vec![
            json!({"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}}),
            json!({"metaData": {"id": "t", "format": {"provider": "parquet", "options": {}}, "schemaString": "{}",
                   "partitionColumns": [], "configuration": {"delta.checkpointInterval": "5"}, "createdTime": 7}}),
            json!({"txn": {"appId": "haul", "version": 42, "lastUpdated": 9}}),
            json!({"add": {"path": "a.parquet", "partitionValues": {}, "size": 10, "modificationTime": 8,
                   "dataChange": true, "stats": "{\"numRecords\":3}"}}),
            json!({"remove": {"path": "old.parquet", "deletionTimestamp": 8, "dataChange": true,
                   "extendedFileMetadata": true, "partitionValues": {}, "size": 4}}),
        ];
        let back = decode(Bytes::from(encode(&actions).unwrap())).unwrap();
        assert_eq!(back, actions);
        assert!(decode(Bytes::from_static(b"PAR1 not parquet")).is_err());
    }

    #[test]
    fn a_checkpoint_that_unpacks_past_the_bound_is_refused_before_and_while_it_is_decoded() {
        // Ten thousand files with the same long path: a few kilobytes stored, ten megabytes as rows.
        let long = "p".repeat(1000);
        let actions: Vec<Value> = (0..10_000)
            .map(|_| {
                json!({"add": {"path": long, "partitionValues": {}, "size": 1, "modificationTime": 1,
                                 "dataChange": true}})
            })
            .collect();
        let file = Bytes::from(encode(&actions).unwrap());
        let builder = ParquetRecordBatchReaderBuilder::try_new(file.clone()).unwrap();
        let footer: i64 =
            builder.metadata().row_groups().iter().flat_map(|g| g.columns()).map(|c| c.uncompressed_size()).sum();
        assert!(file.len() < 100_000 && footer < 1 << 20, "file {} bytes, unpacked {footer}", file.len());
        let refused = decode_within(file.clone(), footer as u64 - 1).unwrap_err();
        assert!(refused.starts_with("its pages unpack to"), "{refused}");
        // Dictionary pages keep the footer small; the rows as JSON are still bounded.
        let refused = decode_within(file.clone(), 1 << 20).unwrap_err();
        assert!(refused.starts_with("its rows come to more than 1048576 bytes"), "{refused}");
        assert_eq!(decode(file).unwrap().len(), 10_000);
    }
}
