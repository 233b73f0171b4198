//! One table's merge: the dataset's rows, less those deleted, replaced or belonging to a patient who left,
//! then the incoming rows (the newest version of each resource), into a new table file.
//!
//! Fast path: the incoming rows were converted with the dataset table's own shape (widened by what they
//! bring), so the old rows move as Arrow batches, never as JSON: as they are when nothing new came (row
//! groups that lose no row even as they were encoded: `old_rows`), or widened in place (`widen`: new columns
//! as nulls, integers into decimals). Only when a column changed how its values are written (values that
//! disagree in kind become JSON text) is the table rewritten through JSON with the widened shape, exactly as
//! a conversion would write it.
//! Memory: batches of [`BATCH_ROWS`], a row group of a third of a conversion's and as much queued, plus the
//! incoming rows' ids (the size of the incremental export, not of the dataset).

use std::collections::{BTreeSet, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{SchemaRef, TimestampMicrosecondType};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};

use fhir_tables::columns::derived_name;
use fhir_tables::table_writer::TableWriter;
use fhir_tables::{ConvertOptions, Forgetful};

use crate::error::DatasetError;
use crate::fingerprint::{FingerprintIndex, fingerprint};
use crate::old_rows::{OldPart, OldTable, send_old_rows};
use crate::owner::patients_of;

/// Rows a batch: 2048 claims (ExplanationOfBenefit, ~5 KB of JSON each) are a few MB of Arrow; a larger
/// batch made the widest table the merge's peak (measured with `merge_bench`: 8192 rows, ~100 MB more).
pub(crate) const BATCH_ROWS: usize = 2048;

/// What one update did to one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TableChange {
    pub resource_type: String,
    #[ts(type = "number")]
    pub before: u64,
    #[ts(type = "number")]
    pub after: u64,
    /// Resources new to the dataset.
    #[ts(type = "number")]
    pub added: u64,
    /// Resources replaced by a newer version.
    #[ts(type = "number")]
    pub changed: u64,
    /// Taken out because the server listed them in `deleted[]`.
    #[ts(type = "number")]
    pub deleted: u64,
    /// Taken out because their patient left the group.
    #[ts(type = "number")]
    pub left_with_patient: u64,
    /// Incoming rows not used: the same resource came twice (the incremental export and the new members'
    /// records), or the dataset already had a newer version.
    #[ts(type = "number")]
    pub duplicates: u64,
    /// The incoming rows brought new columns or wider numbers: the table's schema widened.
    pub widened: bool,
    /// The widening changed how values are written (a column became JSON text), so the table was rewritten
    /// through JSON rather than as Arrow batches.
    pub rewritten: bool,
}

pub(crate) struct TableMerge<'a> {
    pub resource_type: &'a str,
    /// The dataset's table, if it has one (none for a full export).
    pub old: Option<PathBuf>,
    /// The incoming rows as a table (converted from the export's NDJSON).
    pub incoming: Option<PathBuf>,
    pub deleted: &'a BTreeSet<String>,
    pub leavers: &'a HashSet<String>,
    /// Where the new table goes (in the staging folder).
    pub out: PathBuf,
    /// A scratch folder for the slow path.
    pub scratch: PathBuf,
}

struct Table {
    reader: ParquetRecordBatchReader,
    schema: SchemaRef,
    metadata: Vec<KeyValue>,
}

fn open(path: &Path) -> Result<Table, DatasetError> {
    let file = File::open(path).map_err(|e| DatasetError::read(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| DatasetError::read(path, e))?;
    let metadata = builder.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default();
    let schema = builder.schema().clone();
    let reader = builder.with_batch_size(BATCH_ROWS).build().map_err(|e| DatasetError::read(path, e))?;
    Ok(Table { reader, schema, metadata })
}

fn key_values(table: &OldTable<'_>) -> Vec<KeyValue> {
    table.metadata.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default()
}

fn next_batch(table: &mut Table, path: &Path) -> Result<Option<RecordBatch>, DatasetError> {
    table.reader.next().transpose().map_err(|e| DatasetError::read(path, e))
}

/// Row ids and `meta.lastUpdated` (microseconds, from the table's UTC column) of a batch.
pub(crate) fn ids_and_times(batch: &RecordBatch) -> (Vec<Option<&str>>, Vec<Option<i64>>) {
    let ids = match batch.column_by_name("id").and_then(|c| c.as_string_opt::<i32>()) {
        Some(a) => (0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i))).collect(),
        None => vec![None; batch.num_rows()],
    };
    let times = match batch
        .column_by_name(&derived_name("meta.lastUpdated"))
        .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
    {
        Some(a) => (0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i))).collect(),
        None => vec![None; batch.num_rows()],
    };
    (ids, times)
}

/// Every id in the table at `path` (only its `id` column is read): a group's members as a table holds them.
pub fn ids_in_table(path: &Path) -> Result<HashSet<String>, DatasetError> {
    let file = File::open(path).map_err(|e| DatasetError::read(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| DatasetError::read(path, e))?;
    let Some(index) = builder.schema().fields().iter().position(|f| f.name() == "id") else {
        return Ok(HashSet::new());
    };
    let mask = ProjectionMask::roots(builder.parquet_schema(), [index]);
    let reader = builder.with_projection(mask).build().map_err(|e| DatasetError::read(path, e))?;
    let mut ids = HashSet::new();
    for batch in reader {
        let batch = batch.map_err(|e| DatasetError::read(path, e))?;
        ids.extend(ids_and_times(&batch).0.into_iter().flatten().map(str::to_string));
    }
    Ok(ids)
}

/// The dataset's version is kept over an incoming one only when both carry `meta.lastUpdated` and the
/// dataset's is later (a server re-sending an old version); when they cannot be compared, the incoming
/// version, from the later export, wins.
pub(crate) fn old_is_newer(old: Option<i64>, incoming: Option<i64>) -> bool {
    matches!((old, incoming), (Some(a), Some(b)) if a > b)
}

/// The newest version of each incoming resource: for each id, the row to keep (the earliest of equals,
/// so the incremental export wins over the new members' records when both carry one version). The index is
/// a sorted vector, 32 bytes a resource (a hash map was half as much again: measured in `merge_bench`, a
/// 5 GB full apply's peak went over the memory limit with it).
pub(crate) struct Incoming {
    /// `meta.lastUpdated` (or [`NO_TIME`]) and row, one per id.
    index: FingerprintIndex<(i64, u32)>,
    pub keep: Vec<bool>,
}

const NO_TIME: i64 = i64::MIN;

impl Incoming {
    fn all_kept(&self) -> bool {
        self.keep.iter().all(|k| *k)
    }

    /// The kept incoming version of the id with fingerprint `fp`: its time (if any) and row.
    pub fn newest(&self, fp: u128) -> Option<(Option<i64>, u64)> {
        let (time, row) = self.index.get(fp)?;
        Some(((time != NO_TIME).then_some(time), u64::from(row)))
    }
}

/// Reads only `id` and `meta.lastUpdated`'s UTC column: the rows themselves are read once, when copied.
fn index_incoming(path: &Path, cancel: &AtomicBool) -> Result<Incoming, DatasetError> {
    let file = File::open(path).map_err(|e| DatasetError::read(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| DatasetError::read(path, e))?;
    let rows = builder.metadata().file_metadata().num_rows() as usize;
    if rows > u32::MAX as usize {
        return Err(DatasetError::read(path, "over four billion resources of one type in one export"));
    }
    let wanted: Vec<usize> = ["id".to_string(), derived_name("meta.lastUpdated")]
        .iter()
        .filter_map(|name| builder.schema().index_of(name).ok())
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
    let reader =
        builder.with_projection(mask).with_batch_size(BATCH_ROWS).build().map_err(|e| DatasetError::read(path, e))?;
    let mut index: Vec<(u128, (i64, u32))> = Vec::with_capacity(rows);
    let mut keep = vec![true; rows];
    let mut row = 0u32;
    for batch in reader {
        let batch = batch.map_err(|e| DatasetError::read(path, e))?;
        if cancel.load(Ordering::Relaxed) {
            return Err(DatasetError::Cancelled);
        }
        let (ids, times) = ids_and_times(&batch);
        for (id, time) in ids.into_iter().zip(times) {
            // A resource without an id cannot be matched: it is kept as it came.
            if let Some(id) = id {
                index.push((fingerprint(id), (time.unwrap_or(NO_TIME), row)));
            }
            row += 1;
        }
    }
    // Equal ids side by side, the one to keep first: the newest time, then the earliest row.
    index.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.0.cmp(&a.1.0)).then(a.1.1.cmp(&b.1.1)));
    index.dedup_by(|later, first| {
        let same = later.0 == first.0;
        if same {
            keep[later.1.1 as usize] = false;
        }
        same
    });
    Ok(Incoming { index: FingerprintIndex::new(index), keep })
}

/// The Arrow bytes of a row group the merge writes (see `writer_for`).
fn merge_row_group_bytes(options: &ConvertOptions) -> Result<usize, DatasetError> {
    Ok(options.sizes()?.1 / 3)
}

fn writer_for(
    out: &Path,
    schema: SchemaRef,
    metadata: Vec<KeyValue>,
    options: &ConvertOptions,
) -> Result<TableWriter, DatasetError> {
    // A third of a conversion's row group: as much again waits in the queue from the reading thread, and the
    // merge follows a conversion whose memory the allocator may still hold. Measured with `merge_bench`'s
    // rebuild (a conversion, then a merge, in one process): halves peaked at 358 MB against the 300 MB
    // limit, thirds at 274 MB and as fast.
    let row_group_bytes = merge_row_group_bytes(options)?;
    let zstd = ZstdLevel::try_new(options.zstd_level).map_err(|e| DatasetError::write(out, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(zstd))
        .set_max_row_group_row_count(None)
        .set_created_by(format!("Haul {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(metadata))
        .build();
    let file = File::create(out).map_err(|e| DatasetError::write(out, e))?;
    TableWriter::new(file, schema, props, row_group_bytes, options.threads).map_err(|e| DatasetError::write(out, e))
}

/// Follows the old rows into the new table's row groups (`TableWriter` encodes what waits as one row group
/// once it is large enough, on a flush, or before a copied row group).
struct KeptRowsTrail {
    done: fhir_views::KeptRows,
    /// The old row groups (first, last) of the rows waiting in the writer.
    waiting: Option<(usize, usize)>,
}

impl KeptRowsTrail {
    fn new(previous: Vec<String>) -> KeptRowsTrail {
        KeptRowsTrail { done: fhir_views::KeptRows { previous, groups: Vec::new() }, waiting: None }
    }

    /// Rows of old row group `g` were written; the writer's row groups went from `before` to `after`.
    fn rows(&mut self, g: usize, before: usize, after: usize) {
        let (first, _) = self.waiting.unwrap_or((g, g));
        self.waiting = Some((first, g));
        self.flushed(before, after);
    }

    /// The writer's row groups went from `before` to `after`: what waited became row group `before`.
    fn flushed(&mut self, before: usize, after: usize) {
        if after > before
            && let Some((first, last)) = self.waiting.take()
        {
            self.done.groups.push((before, first, last + 1));
        }
    }
}

/// Where the kept rows go: a table of the target schema, or (slow path) JSON lines to convert.
enum Sink {
    Table(Box<TableWriter>),
    Lines(BufWriter<File>, PathBuf),
}

impl Sink {
    fn put(&mut self, batch: RecordBatch, out: &Path) -> Result<(), DatasetError> {
        match self {
            Sink::Table(w) => w.write(batch).map_err(|e| DatasetError::write(out, e)),
            Sink::Lines(w, path) => {
                let rows = fhir_tables::rebuild::RowJson::new(&batch);
                let mut line = String::new();
                for i in 0..batch.num_rows() {
                    line.clear();
                    rows.write(i, &mut line);
                    line.push('\n');
                    w.write_all(line.as_bytes()).map_err(|e| DatasetError::write(path, e))?;
                }
                Ok(())
            }
        }
    }
}

pub(crate) fn merge_table(
    m: &TableMerge<'_>,
    options: &ConvertOptions,
    cancel: &AtomicBool,
) -> Result<TableChange, DatasetError> {
    let mut change = TableChange { resource_type: m.resource_type.to_string(), ..Default::default() };
    let mut incoming = match &m.incoming {
        Some(path) => Some(index_incoming(path, cancel)?),
        None => None,
    };
    // Nothing to merge with and nothing to drop (a full export, or a type new to the dataset): the converted
    // table is the new table as it is.
    if let (None, Some(path), Some(index)) = (&m.old, &m.incoming, &incoming)
        && index.all_kept()
    {
        change.added = index.keep.len() as u64;
        change.after = change.added;
        std::fs::rename(path, &m.out).map_err(|e| DatasetError::write(&m.out, e))?;
        return Ok(change);
    }
    let old = m.old.as_deref().map(OldTable::open).transpose()?;
    let mut new = m.incoming.as_deref().map(open).transpose()?;
    let (schema, metadata) = match (&new, &old) {
        (Some(t), _) => (t.schema.clone(), t.metadata.clone()),
        (None, Some(t)) => (t.schema().clone(), key_values(t)),
        (None, None) => return Ok(change),
    };
    // What an earlier merge said of its kept rows names that file's row groups, not this one's.
    let metadata: Vec<KeyValue> = metadata.into_iter().filter(|kv| kv.key != fhir_views::KEPT_ROWS_KEY).collect();
    let widened = old.as_ref().is_some_and(|o| o.schema().fields() != schema.fields());
    let through_json = widened && !old.as_ref().is_some_and(|o| crate::widen::widens(o.schema(), &schema));
    change.widened = widened;
    change.rewritten = through_json;
    let mut sink = if through_json {
        std::fs::create_dir_all(&m.scratch).map_err(|e| DatasetError::write(&m.scratch, e))?;
        let path = m.scratch.join(format!("{}.ndjson", m.resource_type));
        let file = File::create(&path).map_err(|e| DatasetError::write(&path, e))?;
        Sink::Lines(BufWriter::with_capacity(1 << 20, file), path)
    } else {
        Sink::Table(Box::new(writer_for(&m.out, schema.clone(), metadata, options)?))
    };

    if let Some(table) = &old {
        change.before = table.rows();
        // Decoding on a thread of its own, while the writer encodes the previous row group: the rewrite of
        // the old rows is most of a merge, and encoding uses every core only in bursts. The queue holds up
        // to a row group (see `queue`), so the reader fills the next one while the writer encodes.
        let widen_to = (matches!(sink, Sink::Table(_)) && widened).then(|| schema.clone());
        // A row group goes in as it was encoded only into a table of its own schema.
        let may_copy = matches!(sink, Sink::Table(_)) && !widened;
        let (tx, rx) = crate::queue::bounded::<OldPart>(merge_row_group_bytes(options)?);
        let copy_from = File::open(table.path).map_err(|e| DatasetError::read(table.path, e))?;
        // Which new row groups hold only kept rows, and of which old ones: a view kept over the table takes
        // their rows from its previous file rather than evaluating them (`fhir_views::KeptRows`).
        let mut kept =
            match (&sink, may_copy) {
                (Sink::Table(_), true) => Some(KeptRowsTrail::new(
                    fhir_views::kept::row_group_fingerprints(table.path, cancel).map_err(|e| match e {
                        fhir_views::run::TablesError::Cancelled => DatasetError::Cancelled,
                        e => DatasetError::read(table.path, e),
                    })?,
                )),
                _ => None,
            };
        std::thread::scope(|scope| {
            let reader =
                scope.spawn(|| send_old_rows(table, m, &mut incoming, &mut change, widen_to, may_copy, cancel, tx));
            let mut written = Ok(());
            while let Some(part) = rx.recv() {
                written = match (part, &mut sink) {
                    (OldPart::Rows(batch, g), Sink::Table(writer)) => {
                        let before = writer.row_groups();
                        let empty = batch.num_rows() == 0;
                        let done = writer.write(batch).map_err(|e| DatasetError::write(&m.out, e));
                        if let Some(k) = kept.as_mut().filter(|_| !empty) {
                            k.rows(g, before, writer.row_groups());
                        }
                        done
                    }
                    (OldPart::Rows(batch, _), sink) => sink.put(batch, &m.out),
                    (OldPart::Copy(g), Sink::Table(writer)) => {
                        let before = writer.row_groups();
                        let done = writer
                            .append_row_group(&copy_from, table.metadata.metadata(), g, table.path)
                            .map(|_| ())
                            .map_err(|e| DatasetError::write(&m.out, e));
                        if let (Some(k), Ok(())) = (kept.as_mut(), &done) {
                            // Rows waiting were encoded first, as a row group of their own.
                            k.flushed(before, writer.row_groups() - 1);
                        }
                        done
                    }
                    (OldPart::Copy(_), Sink::Lines(..)) => unreachable!("rows that go as JSON lines are never copied"),
                };
                if written.is_err() {
                    break;
                }
            }
            drop(rx); // stops the reader if the writer failed
            let read =
                reader.join().unwrap_or_else(|_| Err(DatasetError::read(table.path, "the reading thread stopped")));
            written.and(read)
        })?;
        // The kept rows end their row group here: the incoming rows never share one with them.
        if let (Some(k), Sink::Table(writer)) = (kept.as_mut(), &mut sink) {
            let before = writer.row_groups();
            writer.flush().map_err(|e| DatasetError::write(&m.out, e))?;
            k.flushed(before, writer.row_groups());
            let value = serde_json::to_string(&k.done).expect("the list serializes");
            writer.append_key_value_metadata(KeyValue::new(fhir_views::KEPT_ROWS_KEY.to_string(), value));
        }
    }
    let mut incoming_left = 0u64;
    if let (Some(table), Some(path), Some(incoming)) = (new.as_mut(), m.incoming.as_deref(), incoming.as_ref()) {
        // Every incoming row is used (no resource came twice, none is older than the dataset's): its row
        // groups go in as they were encoded by the conversion, without being read again.
        if let Sink::Table(writer) = &mut sink
            && incoming.all_kept()
            && m.leavers.is_empty()
        {
            writer.append_row_groups_of(path).map_err(|e| DatasetError::write(&m.out, e))?;
            change.added = incoming.keep.len() as u64 - change.changed;
            change.after = change.before + change.added - change.deleted - change.left_with_patient;
            let Sink::Table(writer) = sink else { unreachable!("matched above") };
            writer.close().map_err(|e| DatasetError::write(&m.out, e))?;
            return Ok(change);
        }
        let mut row = 0usize;
        while let Some(batch) = next_batch(table, path)? {
            if cancel.load(Ordering::Relaxed) {
                return Err(DatasetError::Cancelled);
            }
            let n = batch.num_rows();
            let mut mask: Vec<bool> = incoming.keep[row..row + n].to_vec();
            // A patient who left while the export ran: this month's rows leave with the older ones.
            if !m.leavers.is_empty()
                && let Some(owners) = patients_of(m.resource_type, &batch)
            {
                for (keep, owner) in mask.iter_mut().zip(owners) {
                    if *keep && owner.is_some_and(|p| m.leavers.contains(&p)) {
                        *keep = false;
                        incoming_left += 1;
                    }
                }
            }
            row += n;
            change.duplicates += incoming.keep[row - n..row].iter().filter(|k| !**k).count() as u64;
            let kept =
                filter_record_batch(&batch, &BooleanArray::from(mask)).map_err(|e| DatasetError::read(path, e))?;
            sink.put(kept, &m.out)?;
        }
        change.added = incoming.keep.iter().filter(|k| **k).count() as u64 - incoming_left - change.changed;
    }
    change.after = change.before + change.added - change.deleted - change.left_with_patient;
    change.left_with_patient += incoming_left;
    match sink {
        Sink::Table(w) => {
            w.close().map_err(|e| DatasetError::write(&m.out, e))?;
        }
        Sink::Lines(mut w, path) => {
            w.flush().map_err(|e| DatasetError::write(&path, e))?;
            drop(w);
            rewrite(m, &path, options, cancel)?;
        }
    }
    Ok(change)
}

/// The slow path: the kept rows, as JSON lines, converted again with a shape learned from all of them.
fn rewrite(
    m: &TableMerge<'_>,
    lines: &Path,
    options: &ConvertOptions,
    cancel: &AtomicBool,
) -> Result<(), DatasetError> {
    let inputs = fhir_tables::find_inputs(&[lines.to_path_buf()])?;
    let out_dir = m.scratch.join("table");
    let report = fhir_tables::convert(&inputs, &out_dir, options, &Forgetful, &|_| {}, cancel)?;
    // Every line came from a table Haul wrote: one the converter sets aside would be a resource lost.
    if report.bad_lines > 0 {
        return Err(DatasetError::write(
            &m.out,
            format!(
                "{} of its rows did not convert back ({})",
                report.bad_lines,
                report.bad_line_examples.first().map(|b| b.problem.as_str()).unwrap_or("")
            ),
        ));
    }
    let written = out_dir.join(format!("{}.parquet", m.resource_type));
    std::fs::rename(&written, &m.out).map_err(|e| DatasetError::write(&m.out, e))?;
    let _ = std::fs::remove_file(lines);
    Ok(())
}
