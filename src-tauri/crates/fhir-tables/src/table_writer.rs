//! Writes a table's row groups with every core: the columns of a row group are encoded and
//! compressed in parallel, then appended in order.
//!
//! Measured: with one writing thread (`ArrowWriter::write`) encoding was a quarter of all work and
//! the second pass waited on it; parsing already uses all cores.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaDataReader};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::TypePtr;

pub struct TableWriter {
    file: SerializedFileWriter<BufWriter<File>>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// The Parquet schema this writer writes: a row group copied in must have exactly this one.
    parquet_schema: TypePtr,
    /// Leaf columns per top-level field, in order.
    leaves: Vec<usize>,
    pending: Vec<RecordBatch>,
    pending_bytes: usize,
    row_group_bytes: usize,
    row_groups: usize,
    threads: usize,
}

/// Parquet leaf columns under an Arrow type (a struct's fields, a list's item, else one).
pub(crate) fn leaf_count(t: &DataType) -> usize {
    match t {
        DataType::Struct(fields) => fields.iter().map(|f| leaf_count(f.data_type())).sum(),
        DataType::List(item) => leaf_count(item.data_type()),
        _ => 1,
    }
}

impl TableWriter {
    /// `row_group_bytes` bounds a row group by the Arrow memory of its rows (held until encoded).
    pub fn new(
        file: File,
        schema: SchemaRef,
        props: WriterProperties,
        row_group_bytes: usize,
        threads: usize,
    ) -> Result<TableWriter, ParquetError> {
        // ArrowWriter writes the Arrow schema into the file metadata (field metadata, time zones);
        // its lower-level parts then take the row groups.
        let writer = ArrowWriter::try_new(BufWriter::with_capacity(1 << 20, file), schema.clone(), Some(props))?;
        let (file, factory) = writer.into_serialized_writer()?;
        let parquet_schema = file.schema_descr().root_schema_ptr();
        let leaves = schema.fields().iter().map(|f| leaf_count(f.data_type())).collect();
        Ok(TableWriter {
            file,
            factory,
            schema,
            parquet_schema,
            leaves,
            pending: Vec::new(),
            pending_bytes: 0,
            row_group_bytes,
            row_groups: 0,
            threads: threads.max(1),
        })
    }

    pub fn write(&mut self, batch: RecordBatch) -> Result<(), ParquetError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.pending_bytes += batch.get_array_memory_size();
        self.pending.push(batch);
        if self.pending_bytes >= self.row_group_bytes {
            self.flush()?;
        }
        Ok(())
    }

    /// Encodes the rows written so far as a row group now, whatever their size (a view kept in a current
    /// dataset ends a row group where its table's row group ends, so the next update can reuse it).
    pub fn flush(&mut self) -> Result<(), ParquetError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batches = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        let mut writers: Vec<Option<_>> =
            self.factory.create_column_writers(self.row_groups)?.into_iter().map(Some).collect();
        self.row_groups += 1;

        // Fields to threads, largest first to the least loaded, so one big column does not wait alone.
        let mut firsts = Vec::with_capacity(self.leaves.len());
        let mut at = 0;
        for n in &self.leaves {
            firsts.push(at);
            at += n;
        }
        let mut sizes: Vec<(usize, usize)> = (0..self.schema.fields().len())
            .map(|i| (batches.iter().map(|b| b.column(i).get_array_memory_size()).sum(), i))
            .collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        let mut plans: Vec<(usize, Vec<usize>)> = vec![(0, Vec::new()); self.threads];
        for (size, field) in sizes {
            let plan = plans.iter_mut().min_by_key(|p| p.0).expect("at least one thread");
            plan.0 += size;
            plan.1.push(field);
        }
        let mut jobs: Vec<Vec<(usize, usize, Vec<_>)>> = Vec::new();
        for (_, fields) in plans {
            let job = fields
                .into_iter()
                .map(|f| {
                    let ws =
                        (firsts[f]..firsts[f] + self.leaves[f]).map(|i| writers[i].take().expect("once")).collect();
                    (f, firsts[f], ws)
                })
                .collect();
            jobs.push(job);
        }
        let schema = &self.schema;
        let batches = &batches;
        let encoded: Vec<Result<Vec<(usize, ArrowColumnChunk)>, ParquetError>> = std::thread::scope(|s| {
            let handles: Vec<_> = jobs
                .into_iter()
                .map(|job| {
                    s.spawn(move || {
                        let mut out = Vec::new();
                        for (field, first, mut ws) in job {
                            let f = schema.field(field);
                            for batch in batches {
                                let leaves = compute_leaves(f, batch.column(field))?;
                                for (w, leaf) in ws.iter_mut().zip(leaves) {
                                    w.write(&leaf)?;
                                }
                            }
                            for (k, w) in ws.into_iter().enumerate() {
                                out.push((first + k, w.close()?));
                            }
                        }
                        Ok(out)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("an encoding thread does not panic")).collect()
        });
        let mut chunks = Vec::with_capacity(writers.len());
        for r in encoded {
            chunks.extend(r?);
        }
        chunks.sort_unstable_by_key(|c| c.0);
        let mut row_group = self.file.next_row_group()?;
        for (_, chunk) in chunks {
            chunk.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
        Ok(())
    }

    /// Appends every row group of the table at `path`, written with this writer's schema and properties, as
    /// it is: no decoding, no encoding (a current dataset's merge appends the incoming rows this way when
    /// none of them is dropped). Returns the rows appended.
    pub fn append_row_groups_of(&mut self, path: &Path) -> Result<u64, ParquetError> {
        let input = File::open(path)?;
        let metadata =
            ParquetMetaDataReader::new().with_page_index_policy(PageIndexPolicy::Optional).parse_and_finish(&input)?;
        let mut rows = 0u64;
        for g in 0..metadata.num_row_groups() {
            rows += self.append_row_group(&input, &metadata, g, path)?;
        }
        Ok(rows)
    }

    /// Appends row group `g` of the table `input` (its metadata read with the page index, if it has one) as it
    /// was encoded, after the rows written so far (a merge copies the row groups where no row changed).
    /// `path` names the table in errors. Returns the rows appended.
    pub fn append_row_group(
        &mut self,
        input: &File,
        metadata: &ParquetMetaData,
        g: usize,
        path: &Path,
    ) -> Result<u64, ParquetError> {
        self.flush()?;
        if *metadata.file_metadata().schema_descr().root_schema() != *self.parquet_schema {
            return Err(ParquetError::General(format!(
                "{} has another schema than the table being written",
                path.display()
            )));
        }
        let page_index = metadata.page_index();
        let group = metadata.row_group(g);
        let mut out = self.file.next_row_group()?;
        for (c, column) in group.columns().iter().enumerate() {
            out.append_column(
                input,
                ColumnCloseResult {
                    bytes_written: column.compressed_size() as u64,
                    rows_written: group.num_rows() as u64,
                    metadata: column.clone(),
                    bloom_filter: None,
                    column_index: page_index.and_then(|p| p.column_index(g, c)).cloned(),
                    offset_index: page_index.and_then(|p| p.offset_index(g, c)).cloned(),
                },
            )?;
        }
        out.close()?;
        self.row_groups += 1;
        Ok(group.num_rows() as u64)
    }

    /// Row groups written so far (rows still pending are not one yet).
    pub fn row_groups(&self) -> usize {
        self.row_groups
    }

    /// A key-value pair for the file's footer, known only once the rows are written.
    pub fn append_key_value_metadata(&mut self, kv: parquet::file::metadata::KeyValue) {
        self.file.append_key_value_metadata(kv);
    }

    pub fn close(mut self) -> Result<ParquetMetaData, ParquetError> {
        self.flush()?;
        self.file.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray, StructArray};
    use arrow::datatypes::{Field, Fields, Schema};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::sync::Arc;

    #[test]
    fn row_groups_come_out_in_order_with_every_column() {
        let inner = Fields::from(vec![Field::new("a", DataType::Int64, true), Field::new("b", DataType::Utf8, true)]);
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("s", DataType::Struct(inner.clone()), true),
        ]));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let mut w =
            TableWriter::new(File::create(&path).unwrap(), schema.clone(), WriterProperties::default(), 1, 3).unwrap();
        for n in 0..5i64 {
            let s = StructArray::new(
                inner.clone(),
                vec![Arc::new(Int64Array::from(vec![n])), Arc::new(StringArray::from(vec![format!("b{n}")]))],
                None,
            );
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(StringArray::from(vec![format!("id{n}")])), Arc::new(s)],
            )
            .unwrap();
            w.write(batch).unwrap();
        }
        let meta = w.close().unwrap();
        assert_eq!(meta.num_row_groups(), 5);
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap().build().unwrap();
        let rows: Vec<String> = reader
            .flat_map(|b| {
                let b = b.unwrap();
                (0..b.num_rows()).map(move |i| crate::rebuild::row_json(&b, i)).collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(rows[0], r#"{"id":"id0","s":{"a":0,"b":"b0"}}"#);
        assert_eq!(rows[4], r#"{"id":"id4","s":{"a":4,"b":"b4"}}"#);
    }
}
