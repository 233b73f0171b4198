//! The dataset table's rows that stay through a merge (not deleted, not replaced by a newer incoming
//! version, not of a patient who left), row group by row group.
//!
//! For each row group, first only the columns that decide (`id`, `meta.lastUpdated`, the patient's
//! reference when members left) are read. A row group where every row stays is copied as it was encoded,
//! without decoding or encoding (most of a table, when the month's changes fall on recent resources); the
//! others are read with the leaving rows skipped by the Parquet reader, rather than decoded and then
//! filtered (filtering nested columns was 8% of a merge's CPU, measured with perf on `merge_bench`).

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::{BooleanArray, RecordBatch};
use arrow::datatypes::SchemaRef;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
};
use parquet::file::metadata::PageIndexPolicy;

use fhir_tables::columns::derived_name;

use crate::error::DatasetError;
use crate::fingerprint::{FingerprintIndex, fingerprint, index_of_ids};
use crate::merge::{BATCH_ROWS, Incoming, TableChange, TableMerge, ids_and_times, old_is_newer};
use crate::owner::{owner_columns, patients_of};
use crate::queue::Sender;

/// What the reading thread hands the writer: rows to encode (with the row group they come from), or a row
/// group to copy as it is.
pub(crate) enum OldPart {
    Rows(RecordBatch, usize),
    Copy(usize),
}

/// The dataset's table, its metadata read once (with the page index, which a copied row group keeps).
pub(crate) struct OldTable<'a> {
    pub path: &'a Path,
    pub metadata: ArrowReaderMetadata,
}

impl<'a> OldTable<'a> {
    pub fn open(path: &'a Path) -> Result<OldTable<'a>, DatasetError> {
        let file = File::open(path).map_err(|e| DatasetError::read(path, e))?;
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
        let metadata = ArrowReaderMetadata::load(&file, options).map_err(|e| DatasetError::read(path, e))?;
        Ok(OldTable { path, metadata })
    }

    pub fn rows(&self) -> u64 {
        self.metadata.metadata().file_metadata().num_rows() as u64
    }

    pub fn schema(&self) -> &SchemaRef {
        self.metadata.schema()
    }

    /// A reader of row group `g`. Each has a file of its own: clones of one `File` share its offset, and the
    /// writer copies row groups from this table on another thread.
    fn reader(&self, g: usize) -> Result<ParquetRecordBatchReaderBuilder<File>, DatasetError> {
        let file = File::open(self.path).map_err(|e| DatasetError::read(self.path, e))?;
        Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.metadata.clone())
            .with_row_groups(vec![g])
            .with_batch_size(BATCH_ROWS))
    }
}

/// Sends the old table's rows that stay, widened to `widen_to` when the schema grew; row groups that lose
/// no row go as [`OldPart::Copy`] when `may_copy` (the writer has the table's own schema, never widened).
/// Updates `change` and marks incoming rows older than the dataset's as not kept. Stops when the receiver is
/// gone.
#[allow(clippy::too_many_arguments)]
pub(crate) fn send_old_rows(
    table: &OldTable<'_>,
    m: &TableMerge<'_>,
    incoming: &mut Option<Incoming>,
    change: &mut TableChange,
    widen_to: Option<SchemaRef>,
    may_copy: bool,
    cancel: &AtomicBool,
    tx: Sender<OldPart>,
) -> Result<(), DatasetError> {
    let path = table.path;
    let mut deciding: Vec<String> = vec!["id".to_string(), derived_name("meta.lastUpdated")];
    if !m.leavers.is_empty() {
        deciding.extend(owner_columns(m.resource_type).iter().map(|c| c.to_string()));
    }
    let roots: Vec<usize> = deciding.iter().filter_map(|name| table.schema().index_of(name).ok()).collect();
    let mask = ProjectionMask::roots(table.metadata.parquet_schema(), roots);
    let deleted = index_of_ids(m.deleted);
    for g in 0..table.metadata.metadata().num_row_groups() {
        if cancel.load(Ordering::Relaxed) {
            return Err(DatasetError::Cancelled);
        }
        let reader = table.reader(g)?.with_projection(mask.clone()).build().map_err(|e| DatasetError::read(path, e))?;
        let mut keep = Vec::with_capacity(table.metadata.metadata().row_group(g).num_rows() as usize);
        for batch in reader {
            let batch = batch.map_err(|e| DatasetError::read(path, e))?;
            decide(&batch, m, &deleted, incoming, change, &mut keep);
        }
        if may_copy && keep.iter().all(|k| *k) {
            if !tx.send(OldPart::Copy(g), 0) {
                return Ok(());
            }
            continue;
        }
        if !keep.iter().any(|k| *k) {
            continue;
        }
        let selection = RowSelection::from_filters(&[BooleanArray::from(keep)]);
        let reader = table.reader(g)?.with_row_selection(selection).build().map_err(|e| DatasetError::read(path, e))?;
        for batch in reader {
            if cancel.load(Ordering::Relaxed) {
                return Err(DatasetError::Cancelled);
            }
            let batch = batch.map_err(|e| DatasetError::read(path, e))?;
            let batch = match &widen_to {
                Some(schema) => crate::widen::widen_batch(&batch, schema)
                    .ok_or_else(|| DatasetError::read(path, "its columns no longer fit the widened schema"))?,
                None => batch,
            };
            let bytes = batch.get_array_memory_size();
            if !tx.send(OldPart::Rows(batch, g), bytes) {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Whether each row of `batch` (the deciding columns) stays, appended to `keep`.
fn decide(
    batch: &RecordBatch,
    m: &TableMerge<'_>,
    deleted: &FingerprintIndex<()>,
    incoming: &mut Option<Incoming>,
    change: &mut TableChange,
    keep: &mut Vec<bool>,
) {
    let (ids, times) = ids_and_times(batch);
    let owners = if m.leavers.is_empty() { None } else { patients_of(m.resource_type, batch) };
    for (i, (id, time)) in ids.iter().zip(&times).enumerate() {
        let fp = id.map(fingerprint);
        let leaving = owners.as_ref().and_then(|o| o[i].as_ref()).is_some_and(|p| m.leavers.contains(p));
        let stays = if leaving {
            change.left_with_patient += 1;
            false
        } else if let Some(incoming) = incoming.as_mut()
            && let Some((new_time, new_row)) = fp.and_then(|fp| incoming.newest(fp))
        {
            if old_is_newer(*time, new_time) {
                incoming.keep[new_row as usize] = false;
                true
            } else {
                change.changed += 1;
                false
            }
        } else if fp.is_some_and(|fp| deleted.get(fp).is_some()) {
            change.deleted += 1;
            false
        } else {
            true
        };
        keep.push(stays);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashSet};
    use std::sync::Arc;

    use arrow::array::{Array, AsArray, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use fhir_tables::ConvertOptions;
    use fhir_tables::table_writer::TableWriter;
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;

    /// A table of (id, name), one row group per slice, uncompressed (the merge writes zstd: a copied row
    /// group is told apart by its codec).
    fn table(path: &Path, groups: &[&[(&str, &str)]]) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("name", DataType::Utf8, true),
        ]));
        let mut w =
            TableWriter::new(File::create(path).unwrap(), schema.clone(), WriterProperties::default(), 1, 1).unwrap();
        for rows in groups {
            let ids = StringArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>());
            let names = StringArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>());
            w.write(RecordBatch::try_new(schema.clone(), vec![Arc::new(ids), Arc::new(names)]).unwrap()).unwrap();
        }
        w.close().unwrap();
    }

    #[test]
    fn row_groups_that_lose_no_row_are_copied_as_they_were_encoded_and_the_others_lose_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let (old, incoming, out) = (dir.path().join("old"), dir.path().join("new"), dir.path().join("out"));
        table(&old, &[&[("a1", "x"), ("a2", "x")], &[("b1", "x"), ("b2", "x")], &[("c1", "x"), ("c2", "x")]]);
        table(&incoming, &[&[("b2", "new")]]);
        let deleted: BTreeSet<String> = ["c1".to_string()].into();
        let options = ConvertOptions { threads: 1, memory_limit: 64 << 20, zstd_level: 1 };
        let change = crate::merge_table_file(
            "Basic",
            Some(&old),
            Some(&incoming),
            &deleted,
            &HashSet::new(),
            &out,
            &dir.path().join("scratch"),
            &options,
            &AtomicBool::new(false),
        )
        .unwrap();
        assert_eq!((change.before, change.after, change.changed, change.deleted), (6, 5, 1, 1), "{change:?}");

        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&out).unwrap()).unwrap().build().unwrap();
        let mut rows = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            let (ids, names) = (batch.column(0).as_string::<i32>(), batch.column(1).as_string::<i32>());
            rows.extend((0..ids.len()).map(|i| format!("{}={}", ids.value(i), names.value(i))));
        }
        assert_eq!(rows, ["a1=x", "a2=x", "b1=x", "c2=x", "b2=new"]);

        let codecs: Vec<Compression> = {
            let file = SerializedFileReader::new(File::open(&out).unwrap()).unwrap();
            file.metadata().row_groups().iter().map(|g| g.column(0).compression()).collect()
        };
        // a: copied; b and c, less b2 and c1: encoded again, together; the incoming row group: appended as
        // it was encoded.
        assert_eq!(codecs.len(), 3, "{codecs:?}");
        assert_eq!(codecs[0], Compression::UNCOMPRESSED);
        assert!(matches!(codecs[1], Compression::ZSTD(_)), "{codecs:?}");
        assert_eq!(codecs[2], Compression::UNCOMPRESSED);
    }

    #[test]
    fn a_merge_names_its_own_kept_rows_never_those_of_the_merge_before() {
        let dir = tempfile::tempdir().unwrap();
        let (old, incoming) = (dir.path().join("old"), dir.path().join("new"));
        let (first, second) = (dir.path().join("first"), dir.path().join("second"));
        table(&old, &[&[("a1", "x"), ("a2", "x")], &[("b1", "x"), ("b2", "x")], &[("c1", "x"), ("c2", "x")]]);
        table(&incoming, &[&[("b2", "new")]]);
        let options = ConvertOptions { threads: 1, memory_limit: 64 << 20, zstd_level: 1 };
        let (cancel, nobody) = (AtomicBool::new(false), HashSet::new());
        let scratch = dir.path().join("scratch");
        let none = BTreeSet::new();
        crate::merge_table_file(
            "Basic",
            Some(&old),
            Some(&incoming),
            &none,
            &nobody,
            &first,
            &scratch,
            &options,
            &cancel,
        )
        .unwrap();
        // A merge with deletions only (as when a patient leaves): its footer starts from the old table's.
        let deleted: BTreeSet<String> = ["a1".to_string()].into();
        crate::merge_table_file("Basic", Some(&first), None, &deleted, &nobody, &second, &scratch, &options, &cancel)
            .unwrap();

        let kept_rows = |path: &Path| -> Vec<fhir_views::KeptRows> {
            let file = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
            let kv = file.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default();
            kv.iter()
                .filter(|k| k.key == fhir_views::KEPT_ROWS_KEY)
                .map(|k| serde_json::from_str(k.value.as_deref().unwrap()).unwrap())
                .collect()
        };
        let fingerprints = |path: &Path| fhir_views::kept::row_group_fingerprints(path, &cancel).unwrap();
        // First: a, b1 (kept from b), c, then b2 (incoming).
        assert_eq!(kept_rows(&first), [fhir_views::KeptRows { previous: fingerprints(&old), groups: vec![(1, 1, 2)] }]);
        // Second: a2 (kept from a), then b1, c, b2 as they were.
        assert_eq!(
            kept_rows(&second),
            [fhir_views::KeptRows { previous: fingerprints(&first), groups: vec![(0, 0, 1)] }]
        );
    }
}
