//! A view's rows for table rows a merge kept from the previous table (unchanged, in their order) without
//! evaluating them: taken from the previous view file by the resource's id, which the view has as a column.
//!
//! A merge re-encodes a row group where some rows left (changed, deleted, their patient left), so its bytes,
//! and the fingerprint [`crate::kept`] matches on, are new; but the rows that stayed are the same resources.
//! The merge says in its footer ([`KEPT_ROWS_KEY`]) which of its row groups hold only such rows, and from
//! which previous row groups (by fingerprint); the previous view file lists the view row groups each of those
//! made. A resource's view rows are consecutive (a view emits them together), and ids are unique in a table,
//! so the rows of a kept resource are the previous file's rows under its id; a resource with no row there had
//! none. `merge_bench` (5 GB dataset, nine views): after a merge touching every row group, 12.3 → 5.5 s;
//! after one touching the newest fifth, 4.1 → 2.8 s.

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::datatypes::SchemaRef;
use fhir_tables::table_writer::TableWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection};
use serde::{Deserialize, Serialize};

use crate::fhirpath::{Expr, Function};
use crate::output::OutputError;
use crate::view::{Iterate, SelectNode, View};

/// Table footer key, written by a merge: which of its row groups hold only rows kept from the previous table.
pub const KEPT_ROWS_KEY: &str = "haul.merge.kept_rows";

/// The value under [`KEPT_ROWS_KEY`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptRows {
    /// The previous table's row groups' fingerprints ([`crate::kept::row_group_fingerprints`]), in order.
    pub previous: Vec<String>,
    /// `[row group, first, end]`: row group `row group` of this table holds only rows of the previous table's
    /// row groups `first..end`, unchanged and in their order.
    pub groups: Vec<(usize, usize, usize)>,
}

/// The column holding the resource's id on every row: `id` or `getResourceKey()` in a select that iterates
/// nothing (outside any forEach, forEachOrNull, repeat or unionAll).
pub(crate) fn key_column(view: &View) -> Option<usize> {
    fn in_node(node: &SelectNode) -> Option<usize> {
        if !matches!(node.iterate, Iterate::Once) {
            return None;
        }
        let is_key = |e: &Expr| match e {
            Expr::Member(None, name) => name == "id",
            Expr::Call(None, Function::GetResourceKey) => true,
            _ => false,
        };
        node.columns.iter().find(|(_, e)| is_key(e)).map(|(c, _)| *c).or_else(|| node.selects.iter().find_map(in_node))
    }
    in_node(&view.root)
}

/// The previous file's view rows of table row group `group` of `table`, written to `writer`: `from` are the
/// previous file's row groups made from the previous table row groups the merge took these rows from.
pub(crate) fn derive_rows(
    table: &Path,
    group: usize,
    key: usize,
    previous: &Path,
    from: std::ops::Range<usize>,
    schema: &SchemaRef,
    writer: &mut TableWriter,
) -> Result<(), OutputError> {
    let unreadable = |p: &Path, e: &dyn std::fmt::Display| OutputError::Parquet(format!("{}: {e}", p.display()));
    // A file of its own for each pass (clones of one `File` share its offset).
    let open = || -> Result<ParquetRecordBatchReaderBuilder<File>, OutputError> {
        let f = File::open(previous).map_err(|e| unreadable(previous, &e))?;
        Ok(ParquetRecordBatchReaderBuilder::try_new(f)
            .map_err(|e| unreadable(previous, &e))?
            .with_row_groups(from.clone().collect())
            .with_batch_size(8192))
    };
    // This table row group's ids, in order.
    let table_file = File::open(table).map_err(|e| unreadable(table, &e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(table_file).map_err(|e| unreadable(table, &e))?;
    let id = builder.schema().index_of("id").map_err(|e| unreadable(table, &e))?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [id]);
    let mut id_arrays = Vec::new();
    for batch in
        builder.with_projection(mask).with_row_groups(vec![group]).build().map_err(|e| unreadable(table, &e))?
    {
        let batch = batch.map_err(|e| unreadable(table, &e))?;
        let ids =
            batch.column(0).as_string_opt::<i32>().ok_or_else(|| unreadable(table, &"its id column is not text"))?;
        if ids.null_count() > 0 {
            return Err(unreadable(table, &"a kept row has no id"));
        }
        id_arrays.push(ids.clone());
    }
    let ids: Vec<&str> = id_arrays.iter().flat_map(|a| a.iter().flatten()).collect();
    let wanted: HashSet<&str> = ids.iter().copied().collect();
    if wanted.len() != ids.len() {
        return Err(unreadable(table, &"an id comes twice among the kept rows"));
    }

    // The previous rows under those ids, checked to come in the same order (the merge keeps rows in theirs).
    let builder = open()?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [key]);
    let mut selection: Vec<bool> = Vec::new();
    let (mut next_id, mut last): (usize, Option<String>) = (0, None);
    for batch in builder.with_projection(mask).build().map_err(|e| unreadable(previous, &e))? {
        let batch = batch.map_err(|e| unreadable(previous, &e))?;
        let keys =
            batch.column(0).as_string_opt::<i32>().ok_or_else(|| unreadable(previous, &"its id column is not text"))?;
        for k in keys.iter() {
            // Rows of resources that left are passed over (so is one without an id: kept ones have theirs).
            let Some(k) = k.filter(|k| wanted.contains(k)) else {
                selection.push(false);
                continue;
            };
            if last.as_deref() != Some(k) {
                while ids.get(next_id).is_some_and(|id| *id != k) {
                    next_id += 1;
                }
                if next_id == ids.len() {
                    return Err(unreadable(previous, &"its rows are not in the order of the table's kept rows"));
                }
                next_id += 1;
                last = Some(k.to_string());
            }
            selection.push(true);
        }
    }
    let rows = open()?
        .with_row_selection(RowSelection::from_filters(&[BooleanArray::from(selection)]))
        .build()
        .map_err(|e| unreadable(previous, &e))?;
    for batch in rows {
        let batch = batch.map_err(|e| unreadable(previous, &e))?;
        let batch =
            RecordBatch::try_new(schema.clone(), batch.columns().to_vec()).map_err(|e| unreadable(previous, &e))?;
        writer.write(batch).map_err(|e| OutputError::Parquet(e.to_string()))?;
    }
    Ok(())
}
