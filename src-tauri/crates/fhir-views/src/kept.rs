//! A view kept current over a table that changes (a current dataset's table, merged every month), without
//! computing it whole each time.
//!
//! The view's Parquet file follows its table row group by row group: the rows of each table row group end a
//! view row group (or several, or none), and the file's footer lists, per table row group, a fingerprint of its
//! encoded bytes and how many view row groups it made. The next time, a table row group whose bytes are the
//! same (the merge copies a row group where no row changed as it was encoded) has the same resources, so its
//! view row groups are copied from the previous file as they were encoded. Row groups of rows a merge kept
//! take theirs from the previous file by id ([`crate::derive`]); only the others are read back and evaluated. A
//! previous file of another definition, or without the list, is not reused at all.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::datatypes::{DataType, SchemaRef};
use fhir_tables::table_writer::TableWriter;
use parquet::file::metadata::{KeyValue, PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use twox_hash::XxHash3_128;

use crate::derive::{KEPT_ROWS_KEY, KeptRows};
use crate::output::OutputError;
use crate::run::TablesError;
use crate::view::View;

/// Footer key: per table row group, `[fingerprint, view row groups]`, in order.
pub const SOURCES_KEY: &str = "haul.view.sources";
/// Footer key: the fingerprint of the view's definition the file was made with.
pub const DEFINITION_KEY: &str = "haul.view.definition";

/// A view over one table, and the file of that view made from an earlier version of the table, if any.
pub struct KeptView<'a> {
    pub view: &'a View,
    pub table: &'a Path,
    pub previous: Option<&'a Path>,
}

/// What keeping a view current did, besides its outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reuse {
    /// Table row groups whose view rows were copied from the previous file.
    pub reused_groups: usize,
    /// Table row groups of rows the merge kept, whose view rows were taken from the previous file by id.
    pub derived_groups: usize,
    /// Table row groups read back and evaluated.
    pub computed_groups: usize,
}

/// What a view's rows depend on besides its definition and the resources: raise it when the engine starts
/// making other rows or columns from the same definition, so no kept view reuses rows an older engine made.
const ENGINE: &str = "haul-views 1";

/// The fingerprint of a view's definition (and of the engine that evaluates it), as files and dataset states
/// record it.
pub fn definition_fingerprint(view: &View) -> String {
    let mut hasher = XxHash3_128::new();
    hasher.write(ENGINE.as_bytes());
    hasher.write(&[0]);
    hasher.write(view.definition.as_bytes());
    format!("{:032x}", hasher.finish_128())
}

fn hex(fp: u128) -> String {
    format!("{fp:032x}")
}

/// The fingerprints of the table's row groups, as a view's footer lists them (a merge names the row groups its
/// kept rows come from by them: [`crate::derive::KeptRows`]).
pub fn row_group_fingerprints(path: &Path, cancel: &AtomicBool) -> Result<Vec<String>, TablesError> {
    Ok(group_fingerprints(path, cancel)?.groups.iter().map(|g| hex(g.0)).collect())
}

/// What the plan reads from a table.
struct TableGroups {
    /// Per row group: fingerprint, rows before it, whether its `id` column has no null (by its statistics).
    groups: Vec<(u128, u64, bool)>,
    /// What the merge that wrote the table says of its kept rows.
    kept_rows: Option<KeptRows>,
}

/// Per row group of the table at `path`: XXH3-128 over the table's schema (a column's meaning, such as JSON
/// text, lives there) and the encoded bytes of every column chunk, streamed through a fixed buffer: a chunk's
/// size comes from the file, and one past its end is refused, not allocated. With each, the rows before it.
fn group_fingerprints(path: &Path, cancel: &AtomicBool) -> Result<TableGroups, TablesError> {
    let unreadable = |message: String| fhir_tables::ConvertError::Read { path: path.display().to_string(), message };
    let mut file = File::open(path).map_err(|e| unreadable(e.to_string()))?;
    let file_len = file.metadata().map_err(|e| unreadable(e.to_string()))?.len();
    let metadata = ParquetMetaDataReader::new().parse_and_finish(&file).map_err(|e| unreadable(e.to_string()))?;
    // The table's columns as Arrow reads them, with their fields' metadata (which says which columns are JSON
    // text); not the rest of the footer, which a merge writes anew (the learned shape, the schema's own
    // metadata) even where no row group changed.
    let schema = parquet::arrow::parquet_to_arrow_schema(
        metadata.file_metadata().schema_descr(),
        metadata.file_metadata().key_value_metadata(),
    )
    .map(|s| format!("{:?}", s.fields()))
    .map_err(|e| unreadable(e.to_string()))?;
    let kept_rows = metadata
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == KEPT_ROWS_KEY))
        .and_then(|k| serde_json::from_str::<KeptRows>(k.value.as_deref()?).ok());
    let id_column = metadata.file_metadata().schema_descr().columns().iter().position(|c| c.path().string() == "id");
    let mut out = Vec::with_capacity(metadata.num_row_groups());
    let mut rows_before = 0u64;
    let mut buffer = vec![0u8; 1 << 16];
    for group in metadata.row_groups() {
        if cancel.load(Ordering::Relaxed) {
            return Err(TablesError::Cancelled);
        }
        let mut hasher = XxHash3_128::new();
        hasher.write(schema.as_bytes());
        for column in group.columns() {
            let (start, len) = column.byte_range();
            if start.checked_add(len).is_none_or(|end| end > file_len) {
                return Err(unreadable("a column chunk lies past the end of the file".into()).into());
            }
            file.seek(SeekFrom::Start(start)).map_err(|e| unreadable(e.to_string()))?;
            let mut left = len;
            while left > 0 {
                let n = left.min(buffer.len() as u64) as usize;
                file.read_exact(&mut buffer[..n]).map_err(|e| unreadable(e.to_string()))?;
                hasher.write(&buffer[..n]);
                left -= n as u64;
            }
        }
        let ids_whole =
            id_column.is_some_and(|c| group.column(c).statistics().and_then(|s| s.null_count_opt()) == Some(0));
        out.push((hasher.finish_128(), rows_before, ids_whole));
        rows_before += group.num_rows() as u64;
    }
    Ok(TableGroups { groups: out, kept_rows })
}

/// What to do for each table row group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Copy view row groups `first..first + count` of the previous file.
    Reuse {
        first: usize,
        count: usize,
    },
    /// Take the rows of kept resources from view row groups `first..end` of the previous file ([`crate::derive`]).
    Derive {
        first: usize,
        end: usize,
    },
    Compute,
}

pub struct Plan {
    fingerprints: Vec<u128>,
    /// Per table row group, the rows before it (a row's number in the table names it in errors).
    rows_before: Vec<u64>,
    steps: Vec<Step>,
    previous: Option<(PathBuf, File, ParquetMetaData)>,
    definition: String,
    table: PathBuf,
    /// The view's id column (rows are derived only with one), and its Arrow schema.
    key: Option<usize>,
    schema: SchemaRef,
}

impl Plan {
    /// The table row groups to read back and evaluate, in order.
    pub(crate) fn computed(&self) -> Vec<usize> {
        self.steps.iter().enumerate().filter(|(_, s)| **s == Step::Compute).map(|(g, _)| g).collect()
    }

    /// The table row groups to read back and evaluate, each with the rows before it.
    pub(crate) fn to_read(&self) -> Vec<(usize, u64)> {
        self.computed().into_iter().map(|g| (g, self.rows_before[g])).collect()
    }

    pub(crate) fn reuse(&self) -> Reuse {
        let computed = self.computed().len();
        let derived = self.steps.iter().filter(|s| matches!(s, Step::Derive { .. })).count();
        Reuse {
            reused_groups: self.steps.len() - computed - derived,
            derived_groups: derived,
            computed_groups: computed,
        }
    }
}

/// Whether a file's Parquet schema is the one a file of `view` gets now (row groups are copied only into a file
/// of the same schema).
fn same_columns(metadata: &ParquetMetaData, view: &View) -> bool {
    let now = crate::output::batch::schema(&view.columns);
    parquet::arrow::ArrowSchemaConverter::new()
        .convert(&now)
        .is_ok_and(|d| *d.root_schema() == *metadata.file_metadata().schema_descr().root_schema())
}

/// The previous file's list of sources, when it was made by the same definition.
fn previous_sources(metadata: &ParquetMetaData, definition: &str) -> Option<Vec<(String, usize)>> {
    let kv = metadata.file_metadata().key_value_metadata()?;
    let value = |key: &str| kv.iter().find(|k| k.key == key).and_then(|k| k.value.as_deref());
    if value(DEFINITION_KEY)? != definition {
        return None;
    }
    serde_json::from_str(value(SOURCES_KEY)?).ok()
}

pub(crate) fn plan(kept: &KeptView<'_>, cancel: &AtomicBool) -> Result<Plan, TablesError> {
    let table = group_fingerprints(kept.table, cancel)?;
    let fingerprints: Vec<u128> = table.groups.iter().map(|g| g.0).collect();
    let rows_before: Vec<u64> = table.groups.iter().map(|g| g.1).collect();
    let schema = crate::output::batch::schema(&kept.view.columns);
    // Text, one value a row: the id as the table has it.
    let key = crate::derive::key_column(kept.view).filter(|&c| *schema.field(c).data_type() == DataType::Utf8);
    let definition = definition_fingerprint(kept.view);
    let mut steps = vec![Step::Compute; fingerprints.len()];
    let mut previous = None;
    // A previous file that cannot be read, or whose columns are not the ones this view writes now, is only
    // not reused: the view is computed whole.
    if let Some(path) = kept.previous
        && let Ok(file) = File::open(path)
        && let Ok(metadata) =
            ParquetMetaDataReader::new().with_page_index_policy(PageIndexPolicy::Optional).parse_and_finish(&file)
        && let Some(sources) = previous_sources(&metadata, &definition)
        && same_columns(&metadata, kept.view)
    {
        let mut by_fingerprint = std::collections::HashMap::new();
        let mut first = 0;
        for (fp, count) in sources {
            by_fingerprint.entry(fp).or_insert((first, count));
            first += count;
        }
        if first == metadata.num_row_groups() {
            for (step, fp) in steps.iter_mut().zip(&fingerprints) {
                if let Some(&(first, count)) = by_fingerprint.get(&hex(*fp)) {
                    *step = Step::Reuse { first, count };
                }
            }
            if let (Some(_), Some(kept_rows)) = (key, &table.kept_rows) {
                for &(g, a, b) in &kept_rows.groups {
                    if steps.get(g) == Some(&Step::Compute)
                        && table.groups[g].2
                        && let Some((first, end)) = view_groups_of(&kept_rows.previous, a, b, &by_fingerprint)
                    {
                        steps[g] = Step::Derive { first, end };
                    }
                }
            }
            previous = Some((path.to_path_buf(), file, metadata));
        }
    }
    Ok(Plan { fingerprints, rows_before, steps, previous, definition, table: kept.table.to_path_buf(), key, schema })
}

/// The previous file's row groups made from the previous table's row groups `a..b`, when it has them all, one
/// after the other.
fn view_groups_of(
    previous: &[String],
    a: usize,
    b: usize,
    by_fingerprint: &std::collections::HashMap<String, (usize, usize)>,
) -> Option<(usize, usize)> {
    let fps = previous.get(a..b).filter(|f| !f.is_empty())?;
    let (first, _) = *by_fingerprint.get(&fps[0])?;
    let mut end = first;
    for fp in fps {
        let &(f, count) = by_fingerprint.get(fp)?;
        if f != end {
            return None;
        }
        end = f + count;
    }
    Some((first, end))
}

/// The writer's side of a plan: ends a view row group where a computed table row group ends, and copies the
/// reused ones in between, so the file's row groups follow the table's.
pub struct Following {
    plan: Plan,
    computed: Vec<usize>,
    /// The next table row group not yet in the file.
    next: usize,
    /// The computed table row group being written, and the file's row groups when it began.
    current: Option<(usize, usize)>,
    sources: Vec<(String, usize)>,
}

fn parquet_error(e: parquet::errors::ParquetError) -> OutputError {
    OutputError::Parquet(e.to_string())
}

impl Following {
    pub(crate) fn new(plan: Plan) -> Following {
        let computed = plan.computed();
        Following { plan, computed, next: 0, current: None, sources: Vec::new() }
    }

    /// The rows of computed source `index` (the `index`-th computed table row group) begin.
    pub(crate) fn start(&mut self, index: usize, writer: &mut TableWriter) -> Result<(), OutputError> {
        let group = self.computed[index];
        self.end_current(writer)?;
        self.copy_until(group, writer)?;
        self.current = Some((group, writer.row_groups()));
        self.next = group + 1;
        Ok(())
    }

    fn end_current(&mut self, writer: &mut TableWriter) -> Result<(), OutputError> {
        if let Some((group, first)) = self.current.take() {
            writer.flush().map_err(parquet_error)?;
            self.sources.push((hex(self.plan.fingerprints[group]), writer.row_groups() - first));
        }
        Ok(())
    }

    fn copy_until(&mut self, end: usize, writer: &mut TableWriter) -> Result<(), OutputError> {
        for group in self.next..end {
            let (path, file, metadata) = match (&self.plan.previous, self.plan.steps[group]) {
                (Some(previous), Step::Reuse { .. } | Step::Derive { .. }) => previous,
                // Every computed row group sends at least one (perhaps empty) chunk, so it is started in turn.
                _ => return Err(OutputError::Parquet(format!("the rows of the table's row group {group} never came"))),
            };
            let made = match self.plan.steps[group] {
                Step::Reuse { first, count } => {
                    for g in first..first + count {
                        writer.append_row_group(file, metadata, g, path).map_err(parquet_error)?;
                    }
                    count
                }
                Step::Derive { first, end } => {
                    let before = writer.row_groups();
                    let key = self.plan.key.expect("rows are derived only by an id column");
                    let table = &self.plan.table;
                    crate::derive::derive_rows(table, group, key, path, first..end, &self.plan.schema, writer)?;
                    writer.flush().map_err(parquet_error)?;
                    writer.row_groups() - before
                }
                Step::Compute => unreachable!("matched above"),
            };
            self.sources.push((hex(self.plan.fingerprints[group]), made));
        }
        self.next = self.next.max(end);
        Ok(())
    }

    /// After the last row: the reused row groups at the end, and the footer's list.
    pub(crate) fn finish(&mut self, writer: &mut TableWriter) -> Result<(), OutputError> {
        self.end_current(writer)?;
        self.copy_until(self.plan.steps.len(), writer)?;
        let sources = serde_json::to_string(&self.sources).expect("pairs serialize");
        writer.append_key_value_metadata(KeyValue::new(SOURCES_KEY.to_string(), sources));
        writer.append_key_value_metadata(KeyValue::new(DEFINITION_KEY.to_string(), self.plan.definition.clone()));
        Ok(())
    }
}
