//! One view's pipeline: its source (NDJSON files, or a table's row groups) read once, resources evaluated on
//! every core, rows written in the source's order to each format. Files are written beside their final names
//! and renamed at the end, so a view that fails replaces nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crossbeam_channel::bounded;

use crate::doc::{Doc, DocBuffers};
use crate::kept::Following;
use crate::output::batch::{BatchBuilder, schema};
use crate::output::csv::CsvFile;
use crate::output::parquet::ParquetFile;
use crate::output::xlsx::XlsxFile;
use crate::output::{ColumnKind, OutputError, RowBlock, TableFile, convert_row};
pub use crate::source::MAX_LINE;
use crate::source::{Chunk, Source, read_chunks};
use crate::view::View;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Format {
    Parquet,
    Csv,
    Xlsx,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    pub fn parse(text: &str) -> Option<Format> {
        match text.trim().to_ascii_lowercase().as_str() {
            "parquet" => Some(Format::Parquet),
            "csv" => Some(Format::Csv),
            "xlsx" | "excel" => Some(Format::Xlsx),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct TablesOptions {
    pub threads: usize,
    /// Peak memory to stay under, roughly (as for conversion).
    pub memory_limit: u64,
    pub formats: Vec<Format>,
    /// A byte-order mark at the start of CSV files, for Excel.
    pub csv_bom: bool,
}

impl Default for TablesOptions {
    fn default() -> Self {
        TablesOptions {
            threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            memory_limit: 300 << 20,
            formats: vec![Format::Parquet],
            csv_bom: false,
        }
    }
}

impl TablesOptions {
    /// (bytes of lines per chunk handed to a thread, Parquet row-group bytes).
    fn sizes(&self) -> (usize, usize) {
        let limit = self.memory_limit.max(32 << 20) as usize;
        let row_group = (limit / 6).clamp(4 << 20, 64 << 20);
        // Chunks in flight: a queue of two per thread plus one being worked on; their rows are a few times
        // their size. Evaluated ones wait for the writer in a queue of their own (`done_queue`).
        let chunk = (limit / (12 * (self.threads + 2))).clamp(128 << 10, 4 << 20);
        (chunk, row_group)
    }

    /// Evaluated chunks that may wait for the writer. Parquet alone: about a row group's worth (Arrow
    /// batches, smaller than their lines), so that while the writer encodes one row group (on every core,
    /// holding the receiving loop) the evaluating threads go on with the next instead of stopping at a full
    /// queue; memory then holds about two row groups, a third of the limit. Measured with tables_bench: two per
    /// thread left a core idle at every row group (Haul 1.19 s; with this, 1.08 s; peak ~70 MiB either way at
    /// `--memory-limit 64`). With CSV or Excel the chunks also carry their rows as text, a few times larger,
    /// and those writers never stop for long: two per thread.
    fn done_queue(&self, threads: usize) -> usize {
        let (chunk, row_group) = self.sizes();
        if self.formats.iter().all(|f| *f == Format::Parquet) {
            (row_group / chunk).max(threads * 2)
        } else {
            threads * 2
        }
    }
}

/// Where a view stopped, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ViewFailure {
    pub message: String,
    #[ts(type = "string | null")]
    pub file: Option<PathBuf>,
    #[ts(type = "number | null")]
    pub line: Option<u64>,
    pub resource_id: Option<String>,
}

impl std::fmt::Display for ViewFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(id) = &self.resource_id {
            write!(f, " (resource {id}")?;
            if let (Some(file), Some(line)) = (&self.file, self.line) {
                write!(f, ", {} line {line}", file.display())?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ViewOutcome {
    pub view: String,
    pub resource: String,
    #[ts(type = "number")]
    pub rows: u64,
    pub columns: usize,
    #[ts(type = "string[]")]
    pub files: Vec<PathBuf>,
    /// Things the reader of the files should know (values left empty, sheets split, bad lines passed over).
    pub notes: Vec<String>,
    pub failure: Option<ViewFailure>,
}

#[derive(Debug, Clone, Default, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TablesProgress {
    pub view: String,
    pub view_number: usize,
    pub views: usize,
    #[ts(type = "number")]
    pub bytes_read: u64,
    #[ts(type = "number")]
    pub bytes_total: u64,
    #[ts(type = "number")]
    pub rows: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum TablesError {
    #[error(transparent)]
    Input(#[from] fhir_ndjson::NdjsonError),
    /// A Parquet table read back as resources (a current dataset's).
    #[error(transparent)]
    Table(#[from] fhir_tables::ConvertError),
    #[error("could not create the output folder {path}: {source}")]
    OutputFolder { path: String, source: std::io::Error },
    #[error("stopped before the end")]
    Cancelled,
}

enum Evaluated {
    Rows(RowBlock),
    Failed(ViewFailure),
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().expect("a file name").to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// Each format's final path and its file, open beside it.
type OpenFiles = Vec<(PathBuf, Box<dyn TableFile>)>;

fn open_files(
    view: &View,
    out: &Path,
    options: &TablesOptions,
    mut following: Option<Following>,
) -> Result<OpenFiles, OutputError> {
    let (_, row_group) = options.sizes();
    let mut files: OpenFiles = Vec::new();
    for format in &options.formats {
        let path = out.join(format!("{}.{}", view.name, format.extension()));
        let partial = partial_path(&path);
        let file: Box<dyn TableFile> = match format {
            Format::Parquet => {
                Box::new(ParquetFile::create(&partial, &view.columns, row_group, options.threads, following.take())?)
            }
            Format::Csv => Box::new(CsvFile::create(&partial, &view.columns, options.csv_bom)?),
            Format::Xlsx => Box::new(XlsxFile::create(&partial, &view.name, &view.columns)?),
        };
        files.push((path, file));
    }
    Ok(files)
}

pub(crate) fn run_view(
    view: &View,
    source: Source<'_>,
    out: &Path,
    options: &TablesOptions,
    report: &(dyn Fn(u64, u64) + Sync),
    cancel: &AtomicBool,
    following: Option<Following>,
) -> Result<ViewOutcome, TablesError> {
    let mut outcome = ViewOutcome {
        view: view.name.clone(),
        resource: view.resource.clone(),
        rows: 0,
        columns: view.columns.len(),
        files: Vec::new(),
        notes: Vec::new(),
        failure: None,
    };
    let fail = |outcome: &mut ViewOutcome, failure: ViewFailure, partials: &[PathBuf]| {
        for p in partials {
            let _ = std::fs::remove_file(p);
        }
        outcome.failure = Some(failure);
    };
    let mut files = match open_files(view, out, options, following) {
        Ok(f) => f,
        Err(e) => {
            let partials: Vec<PathBuf> = options
                .formats
                .iter()
                .map(|f| partial_path(&out.join(format!("{}.{}", view.name, f.extension()))))
                .collect();
            fail(
                &mut outcome,
                ViewFailure { message: e.to_string(), file: None, line: None, resource_id: None },
                &partials,
            );
            return Ok(outcome);
        }
    };
    let partials: Vec<PathBuf> = files.iter().map(|(p, _)| partial_path(p)).collect();
    let paths = source.paths();
    let kinds: Vec<ColumnKind> = view.columns.iter().map(ColumnKind::of).collect();
    let (chunk_bytes, _) = options.sizes();
    let threads = options.threads.max(1);
    let read = Arc::new(AtomicU64::new(0));
    let stop = AtomicBool::new(false);
    let mut bad_lines: u64 = 0;
    let mut first_bad: Option<String> = None;

    let result: Result<Option<ViewFailure>, TablesError> = std::thread::scope(|s| {
        let (chunk_tx, chunk_rx) = bounded::<Chunk>(threads * 2);
        let (done_tx, done_rx) = bounded::<(u64, Evaluated, Vec<u64>, usize)>(options.done_queue(threads));
        let reader = {
            let (read, stop) = (read.clone(), &stop);
            s.spawn(move || {
                read_chunks(source, chunk_bytes, &read, stop, cancel, &mut |chunk| chunk_tx.send(chunk).is_ok())
            })
        };
        let parquet = options.formats.contains(&Format::Parquet);
        let want_rows = options.formats.iter().any(|f| *f != Format::Parquet);
        for _ in 0..threads {
            let (chunk_rx, done_tx, kinds, paths) = (chunk_rx.clone(), done_tx.clone(), &kinds, &paths);
            s.spawn(move || {
                let mut work = Work {
                    buffers: DocBuffers::default(),
                    batch: parquet.then(|| BatchBuilder::new(schema(&view.columns), &view.columns)),
                    want_rows,
                };
                for chunk in chunk_rx {
                    let (evaluated, bad) = evaluate_chunk(view, &chunk, kinds, &paths[chunk.file], &mut work);
                    let mut bad_numbers = chunk.too_long.clone();
                    bad_numbers.extend(bad);
                    if done_tx.send((chunk.seq, evaluated, bad_numbers, chunk.file)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(chunk_rx);
        drop(done_tx);
        // Blocks come back in any order; they are written in the order of the files.
        let mut waiting: BTreeMap<u64, (Evaluated, Vec<u64>, usize)> = BTreeMap::new();
        let mut next = 0u64;
        let mut failure = None;
        let mut source_now = None;
        'receive: for (seq, evaluated, bad, file) in done_rx.iter() {
            waiting.insert(seq, (evaluated, bad, file));
            while let Some((evaluated, bad, file)) = waiting.remove(&next) {
                next += 1;
                if !bad.is_empty() {
                    bad_lines += bad.len() as u64;
                    first_bad.get_or_insert_with(|| format!("{} line {}", paths[file].display(), bad[0]));
                }
                match evaluated {
                    Evaluated::Failed(f) => {
                        failure = Some(f);
                        break 'receive;
                    }
                    Evaluated::Rows(block) => {
                        for (path, f) in &mut files {
                            let begun = if source_now == Some(file) { Ok(()) } else { f.start_source(file) };
                            if let Err(e) = begun.and_then(|()| f.write(&block)) {
                                failure = Some(ViewFailure {
                                    message: e.to_string(),
                                    file: Some(path.clone()),
                                    line: None,
                                    resource_id: None,
                                });
                                break 'receive;
                            }
                        }
                        source_now = Some(file);
                        outcome.rows += block.count as u64;
                        report(read.load(Ordering::Relaxed), outcome.rows);
                    }
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        // Let the reader and workers see the end: drain what they still send.
        drop(done_rx);
        let read_result = reader.join().expect("the reader thread does not panic");
        if cancel.load(Ordering::Relaxed) {
            return Err(TablesError::Cancelled);
        }
        if failure.is_none() {
            read_result?;
        }
        Ok(failure)
    });
    match result {
        Err(e) => {
            for p in &partials {
                let _ = std::fs::remove_file(p);
            }
            return Err(e);
        }
        Ok(Some(failure)) => {
            drop(files);
            fail(&mut outcome, failure, &partials);
            return Ok(outcome);
        }
        Ok(None) => {}
    }
    if bad_lines > 0 {
        outcome.notes.push(format!(
            "{} not a readable resource and passed over (the first: {})",
            if bad_lines == 1 { "1 line was".to_string() } else { format!("{bad_lines} lines were") },
            first_bad.unwrap_or_default()
        ));
    }
    for (path, file) in files {
        match file.finish() {
            Ok(notes) => outcome.notes.extend(notes),
            Err(e) => {
                fail(
                    &mut outcome,
                    ViewFailure { message: e.to_string(), file: Some(path), line: None, resource_id: None },
                    &partials,
                );
                return Ok(outcome);
            }
        }
    }
    for (partial, path) in
        partials.iter().zip(options.formats.iter().map(|f| out.join(format!("{}.{}", view.name, f.extension()))))
    {
        if let Err(e) = std::fs::rename(partial, &path) {
            fail(
                &mut outcome,
                ViewFailure {
                    message: format!("could not move the finished file into place: {e}"),
                    file: Some(path),
                    line: None,
                    resource_id: None,
                },
                &partials,
            );
            return Ok(outcome);
        }
        outcome.files.push(path);
    }
    report(read.load(Ordering::Relaxed), outcome.rows);
    Ok(outcome)
}

/// A worker's tools, kept from chunk to chunk.
struct Work {
    buffers: DocBuffers,
    batch: Option<BatchBuilder>,
    want_rows: bool,
}

/// A chunk's rows, or the first resource the view cannot evaluate. Lines that are not JSON are counted
/// (their numbers returned), not evaluated.
fn evaluate_chunk(
    view: &View,
    chunk: &Chunk,
    kinds: &[ColumnKind],
    path: &Path,
    work: &mut Work,
) -> (Evaluated, Vec<u64>) {
    let mut block = RowBlock::default();
    let mut bad = Vec::new();
    for &(number, start, end) in &chunk.lines {
        let Ok(line) = fhir_ndjson::check_utf8(&chunk.text[start..end]) else {
            bad.push(number);
            continue;
        };
        let Ok(doc) = Doc::parse(line, &mut work.buffers, Some(&view.keep)) else {
            bad.push(number);
            continue;
        };
        match view.rows(&doc) {
            Ok(rows) => {
                block.count += rows.len();
                for cells in &rows {
                    if let Some(b) = work.batch.as_mut() {
                        b.append(cells, &doc);
                    }
                    if work.want_rows {
                        block.rows.push(convert_row(cells, kinds, &doc));
                    }
                }
            }
            Err(e) => {
                let id = doc.get(doc.root(), "id").and_then(|i| doc.text(i)).map(|t| t.into_owned());
                if let Some(b) = work.batch.as_mut() {
                    // What this chunk built is dropped with the view.
                    b.finish();
                }
                return (
                    Evaluated::Failed(ViewFailure {
                        message: format!("the view '{}' cannot be evaluated: {e}", view.name),
                        file: Some(path.to_path_buf()),
                        line: Some(number),
                        resource_id: id,
                    }),
                    bad,
                );
            }
        }
    }
    block.batch = work.batch.as_mut().map(BatchBuilder::finish);
    (Evaluated::Rows(block), bad)
}

#[cfg(test)]
mod tests {
    use super::{Format, TablesOptions};

    #[test]
    fn evaluated_chunks_wait_for_the_parquet_writer_up_to_about_a_row_group() {
        let options = |formats: Vec<Format>, memory_mb: u64| TablesOptions {
            threads: 2,
            memory_limit: memory_mb << 20,
            formats,
            csv_bom: false,
        };
        for mb in [64, 300, 4096] {
            let parquet = options(vec![Format::Parquet], mb);
            let (chunk, row_group) = parquet.sizes();
            let queue = parquet.done_queue(2);
            // Enough to go on while one row group is encoded, and no more than about one row group held.
            assert!(
                queue * chunk >= row_group - chunk && queue * chunk <= row_group.max(4 * chunk),
                "{mb} MB: {queue}"
            );
            assert_eq!(options(vec![Format::Csv, Format::Xlsx], mb).done_queue(2), 4);
            assert_eq!(options(vec![Format::Parquet, Format::Csv], mb).done_queue(2), 4);
        }
    }
}
