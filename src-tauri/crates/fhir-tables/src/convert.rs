//! NDJSON → Parquet, one table per resource type, in two passes over the input.
//!
//! Pass one reads every line and learns the exact shape (no sampling) and which lines are bad.
//! Pass two writes the good lines with that shape, widened by what earlier exports of the same
//! server produced. Both passes split the input into chunks of whole lines, parsed by all cores;
//! memory is a few chunks plus one row group, whatever the size of the input.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::columns::{BatchBuilder, table_schema};
use crate::error::ConvertError;
use crate::infer::{InferCounts, LineProblem, infer_line, is_blank};
use crate::inputs::{Chunk, TypeInput, read_chunks};
use crate::shape::Shape;
use crate::table_writer::TableWriter;

/// File-level metadata: the shape the table was written with (JSON), to read it back exactly.
pub const SHAPE_KEY: &str = "haul:shape";
/// File-level metadata: the columns kept as JSON text, comma separated, for tools that don't read
/// Arrow field metadata.
pub const JSON_COLUMNS_KEY: &str = "haul:json_columns";

#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// Parsing threads (the writer and the reader have one each besides).
    pub threads: usize,
    /// Peak memory to stay under, roughly, in bytes; sets chunk and row-group sizes.
    pub memory_limit: u64,
    pub zstd_level: i32,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            memory_limit: 300 << 20,
            zstd_level: 3,
        }
    }
}

impl ConvertOptions {
    /// (chunk bytes, row-group bytes) for the memory limit. A row group's Arrow batches are held
    /// until it is encoded (in parallel); chunks and their batches are in flight, a few per thread.
    fn sizes(&self) -> Result<(usize, usize), ConvertError> {
        if self.threads == 0 {
            return Err(ConvertError::Settings("threads must be at least 1".into()));
        }
        if self.memory_limit < 32 << 20 {
            return Err(ConvertError::Settings("the memory limit must be at least 32 MB".into()));
        }
        ZstdLevel::try_new(self.zstd_level).map_err(|e| ConvertError::Settings(e.to_string()))?;
        let limit = self.memory_limit as usize;
        let row_group = (limit / 5).clamp(4 << 20, 128 << 20);
        let chunk = ((limit - row_group * 2) / (10 * (self.threads + 2))).clamp(256 << 10, 8 << 20);
        Ok((chunk, row_group))
    }
}

/// Shapes of earlier conversions of the same server, by resource type: a table's schema only
/// ever widens, so next month's files append to this month's.
pub trait SchemaMemory: Sync {
    fn recall(&self, resource_type: &str) -> Option<Shape>;
    fn remember(&self, resource_type: &str, shape: &Shape) -> Result<(), String>;
}

/// No memory: each conversion's schema is what its input holds.
pub struct Forgetful;

impl SchemaMemory for Forgetful {
    fn recall(&self, _: &str) -> Option<Shape> {
        None
    }
    fn remember(&self, _: &str, _: &Shape) -> Result<(), String> {
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ConvertPhase {
    /// Pass one: learning the schema, finding bad lines.
    Scanning,
    /// Pass two: writing Parquet.
    Writing,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ConvertProgress {
    pub resource_type: String,
    pub phase: ConvertPhase,
    /// Input bytes read so far, counting both passes.
    #[ts(type = "number")]
    pub done_bytes: u64,
    /// Input bytes × 2 (each file is read twice).
    #[ts(type = "number")]
    pub total_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct JsonColumn {
    /// `contained[].text`, `extension[].valueX`
    pub path: String,
    /// What the values were: `string`, `object`, …
    pub kinds: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct BadLine {
    pub file: String,
    #[ts(type = "number")]
    pub line: u64,
    pub problem: String,
    /// The line's first 200 characters.
    pub excerpt: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TypeReport {
    pub resource_type: String,
    pub files: u32,
    /// Size of the files on disk (compressed for .gz).
    #[ts(type = "number")]
    pub input_bytes: u64,
    /// Size of the NDJSON text (after decompression).
    #[ts(type = "number")]
    pub ndjson_bytes: u64,
    #[ts(type = "number")]
    pub rows: u64,
    #[ts(type = "number")]
    pub bad_lines: u64,
    #[ts(type = "number")]
    pub blank_lines: u64,
    /// `"key": null` properties, stored as absent (FHIR does not allow them).
    #[ts(type = "number")]
    pub null_properties: u64,
    /// None when no line was good: no table is written.
    pub output_file: Option<String>,
    #[ts(type = "number")]
    pub output_bytes: u64,
    pub row_groups: u32,
    /// Leaf columns in the table.
    pub columns: u32,
    pub json_columns: Vec<JsonColumn>,
    /// Paths new since the remembered schema (empty the first time).
    pub new_columns: Vec<String>,
    /// Paths whose type widened since the remembered schema (an integer that became a decimal…).
    pub widened_columns: Vec<String>,
    /// Whether an earlier conversion's schema was the starting point.
    pub schema_recalled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ConversionReport {
    pub out_dir: String,
    pub types: Vec<TypeReport>,
    #[ts(type = "number")]
    pub bad_lines: u64,
    /// Every bad line (file, line, problem, excerpt), one JSON object a line.
    pub bad_lines_file: Option<String>,
    /// The first bad lines, for showing.
    pub bad_line_examples: Vec<BadLine>,
    pub warnings: Vec<String>,
    pub seconds: f64,
}

const EXAMPLES: usize = 20;
const BAD_LINES_FILE: &str = "bad-lines.ndjson";

/// Converts every type in `inputs` into `out_dir/<Type>.parquet`. A table is written beside its
/// final name and renamed when complete, so an interrupted conversion never leaves a half table.
pub fn convert(
    inputs: &[TypeInput],
    out_dir: &Path,
    options: &ConvertOptions,
    memory: &dyn SchemaMemory,
    on_progress: &(dyn Fn(&ConvertProgress) + Sync),
    cancel: &AtomicBool,
) -> Result<ConversionReport, ConvertError> {
    let started = Instant::now();
    let (chunk_bytes, row_group_bytes) = options.sizes()?;
    std::fs::create_dir_all(out_dir).map_err(|e| ConvertError::write(out_dir, e))?;
    let bad_path = out_dir.join(BAD_LINES_FILE);
    let _ = std::fs::remove_file(&bad_path);
    let mut ctx = Context {
        options,
        chunk_bytes,
        row_group_bytes,
        cancel,
        on_progress,
        total: inputs.iter().map(|t| t.bytes()).sum::<u64>() * 2,
        done_before: 0,
        bad: BadLineSink { path: bad_path, file: None, examples: Vec::new(), count: 0 },
        last_progress: Instant::now() - Duration::from_secs(1),
    };
    let mut report = ConversionReport {
        out_dir: out_dir.display().to_string(),
        types: Vec::new(),
        bad_lines: 0,
        bad_lines_file: None,
        bad_line_examples: Vec::new(),
        warnings: Vec::new(),
        seconds: 0.0,
    };
    for input in inputs {
        let (type_report, shape) = convert_type(input, out_dir, memory, &mut ctx)?;
        if let Some(shape) = shape
            && let Err(e) = memory.remember(&input.resource_type, &shape)
        {
            report.warnings.push(format!("The {} schema could not be remembered: {e}", input.resource_type));
        }
        report.types.push(type_report);
    }
    if let Some(mut f) = ctx.bad.file.take() {
        f.flush().map_err(|e| ConvertError::write(&ctx.bad.path, e))?;
        report.bad_lines_file = Some(ctx.bad.path.display().to_string());
    }
    report.bad_lines = ctx.bad.count;
    report.bad_line_examples = ctx.bad.examples;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

struct Context<'a> {
    options: &'a ConvertOptions,
    chunk_bytes: usize,
    row_group_bytes: usize,
    cancel: &'a AtomicBool,
    on_progress: &'a (dyn Fn(&ConvertProgress) + Sync),
    total: u64,
    done_before: u64,
    bad: BadLineSink,
    last_progress: Instant,
}

impl Context<'_> {
    fn progress(&mut self, resource_type: &str, phase: ConvertPhase, read: u64, force: bool) {
        if !force && self.last_progress.elapsed() < Duration::from_millis(100) {
            return;
        }
        self.last_progress = Instant::now();
        (self.on_progress)(&ConvertProgress {
            resource_type: resource_type.to_string(),
            phase,
            done_bytes: (self.done_before + read).min(self.total),
            total_bytes: self.total,
        });
    }
}

/// Bad lines go to a file as they are found (memory stays flat for a file of only bad lines).
struct BadLineSink {
    path: PathBuf,
    file: Option<BufWriter<File>>,
    examples: Vec<BadLine>,
    count: u64,
}

impl BadLineSink {
    fn push(&mut self, bad: BadLine) -> Result<(), ConvertError> {
        if self.file.is_none() {
            let f = File::create(&self.path).map_err(|e| ConvertError::write(&self.path, e))?;
            self.file = Some(BufWriter::new(f));
        }
        let f = self.file.as_mut().expect("just opened");
        serde_json::to_writer(&mut *f, &bad).map_err(|e| ConvertError::write(&self.path, e))?;
        f.write_all(b"\n").map_err(|e| ConvertError::write(&self.path, e))?;
        self.count += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(bad);
        }
        Ok(())
    }
}

/// What pass one learned from one chunk.
struct ChunkScan {
    bytes: u64,
    shape: Shape,
    counts: InferCounts,
    rows: u64,
    blank: u64,
    /// Lines in the chunk, blank and bad ones too.
    lines: u64,
    /// Bad lines, numbered from 0 within the chunk.
    bad: Vec<(u64, LineProblem, String)>,
}

fn excerpt(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(&line[..line.len().min(400)]);
    text.chars().take(200).collect()
}

fn scan_chunk(chunk: &Chunk, resource_type: &str) -> ChunkScan {
    let mut scan = ChunkScan {
        bytes: chunk.data().len() as u64,
        shape: Shape::Null,
        counts: InferCounts::default(),
        rows: 0,
        blank: 0,
        lines: 0,
        bad: Vec::new(),
    };
    for (n, line) in chunk.lines() {
        scan.lines += 1;
        if is_blank(line) {
            scan.blank += 1;
            continue;
        }
        match infer_line(line, resource_type, &mut scan.shape, &mut scan.counts) {
            Ok(()) => scan.rows += 1,
            Err(problem) => scan.bad.push((n, problem, excerpt(line))),
        }
    }
    if !scan.bad.is_empty() {
        // A bad line may have widened the shape before its fault showed; learn again without it.
        let bad: BTreeSet<u64> = scan.bad.iter().map(|b| b.0).collect();
        scan.shape = Shape::Null;
        scan.counts = InferCounts::default();
        for (n, line) in chunk.lines() {
            if !bad.contains(&n) && !is_blank(line) {
                let _ = infer_line(line, resource_type, &mut scan.shape, &mut scan.counts);
            }
        }
    }
    scan
}

/// Runs reader → workers → in-order consumer. `work` runs on the worker threads; `consume` gets
/// results in chunk order on this thread and may stop everything by returning an error.
fn pipeline<R: Send>(
    input: &TypeInput,
    ctx: &mut Context,
    first_lines: Option<&[u64]>,
    phase: ConvertPhase,
    work: &(dyn Fn(&Chunk) -> Result<R, ConvertError> + Sync),
    consume: &mut dyn FnMut(R, &mut Context) -> Result<(), ConvertError>,
) -> Result<(), ConvertError> {
    let threads = ctx.options.threads;
    let (chunk_tx, chunk_rx) = crossbeam_channel::bounded::<Chunk>(threads);
    let (result_tx, result_rx) = crossbeam_channel::bounded::<(u64, Result<R, ConvertError>)>(threads);
    // Room for every buffer in flight (queued, being parsed, being read), so none is dropped and
    // allocated (and zeroed) again.
    let (recycle_tx, recycle_rx) = crossbeam_channel::bounded::<Vec<u8>>(2 * threads + 4);
    let stop = AtomicBool::new(false);
    let read = Arc::new(AtomicU64::new(0));
    let chunk_bytes = ctx.chunk_bytes;
    let outcome = std::thread::scope(|s| {
        let reader = std::thread::Builder::new()
            .name("haul-read".into())
            .spawn_scoped(s, || {
                let r = read_chunks(&input.files, chunk_bytes, first_lines, &chunk_tx, &recycle_rx, &read, &stop);
                drop(chunk_tx);
                r
            })
            .expect("a thread starts");
        for _ in 0..threads {
            let rx = chunk_rx.clone();
            let tx = result_tx.clone();
            let recycle = recycle_tx.clone();
            let stop = &stop;
            let worker = move || {
                for chunk in rx.iter() {
                    if stop.load(Ordering::Relaxed) {
                        continue;
                    }
                    let result = work(&chunk);
                    let seq = chunk.seq;
                    let _ = recycle.try_send(chunk.into_buffer());
                    if tx.send((seq, result)).is_err() {
                        break;
                    }
                }
            };
            std::thread::Builder::new().name("haul-parse".into()).spawn_scoped(s, worker).expect("a thread starts");
        }
        drop(result_tx);
        drop(chunk_rx);
        drop(recycle_tx);
        let mut pending: BTreeMap<u64, R> = BTreeMap::new();
        let mut next = 0u64;
        let mut failure: Option<ConvertError> = None;
        for (seq, result) in result_rx.iter() {
            if failure.is_some() {
                continue;
            }
            if ctx.cancel.load(Ordering::Relaxed) {
                failure = Some(ConvertError::Cancelled);
                stop.store(true, Ordering::Relaxed);
                continue;
            }
            match result {
                Ok(r) => {
                    pending.insert(seq, r);
                }
                Err(e) => {
                    failure = Some(e);
                    stop.store(true, Ordering::Relaxed);
                    continue;
                }
            }
            while let Some(r) = pending.remove(&next) {
                next += 1;
                if let Err(e) = consume(r, ctx) {
                    failure = Some(e);
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
            }
            let now = read.load(Ordering::Relaxed);
            ctx.progress(&input.resource_type, phase, now, false);
        }
        let read_result = reader.join().expect("the reader thread does not panic");
        match (failure, read_result) {
            (Some(e), _) | (None, Err(e)) => Err(e),
            (None, Ok(())) if ctx.cancel.load(Ordering::Relaxed) => Err(ConvertError::Cancelled),
            (None, Ok(())) => Ok(()),
        }
    });
    outcome?;
    ctx.done_before += input.bytes();
    ctx.progress(&input.resource_type, phase, 0, true);
    Ok(())
}

fn convert_type(
    input: &TypeInput,
    out_dir: &Path,
    memory: &dyn SchemaMemory,
    ctx: &mut Context,
) -> Result<(TypeReport, Option<Shape>), ConvertError> {
    let resource_type = input.resource_type.as_str();
    let sizes_before: Vec<_> = input.files.iter().map(|f| file_stamp(&f.path)).collect();

    // Pass one.
    let mut observed = Shape::Null;
    let mut counts = InferCounts::default();
    let (mut rows, mut blank, mut ndjson_bytes) = (0u64, 0u64, 0u64);
    let mut bad_by_file: Vec<Vec<u64>> = vec![Vec::new(); input.files.len()];
    let mut bad_count = 0u64;
    // The first line number of each chunk (by sequence), for pass two; and the next line of each file.
    let mut first_lines: Vec<u64> = Vec::new();
    let mut next_line: Vec<u64> = vec![1; input.files.len()];
    let file_names: Vec<String> = input.files.iter().map(|f| f.path.display().to_string()).collect();
    pipeline(
        input,
        ctx,
        None,
        ConvertPhase::Scanning,
        &|chunk: &Chunk| Ok((chunk.file, scan_chunk(chunk, resource_type))),
        &mut |(file, scan): (usize, ChunkScan), ctx: &mut Context| {
            observed.widen(&scan.shape);
            counts.null_properties += scan.counts.null_properties;
            rows += scan.rows;
            blank += scan.blank;
            ndjson_bytes += scan.bytes;
            let first = next_line[file];
            first_lines.push(first);
            next_line[file] += scan.lines;
            for (n, problem, excerpt) in scan.bad {
                let line = first + n;
                bad_by_file[file].push(line);
                bad_count += 1;
                ctx.bad.push(BadLine { file: file_names[file].clone(), line, problem: problem.0, excerpt })?;
            }
            Ok(())
        },
    )?;

    let recalled = memory.recall(resource_type);
    let mut report = TypeReport {
        resource_type: resource_type.to_string(),
        files: input.files.len() as u32,
        input_bytes: input.bytes(),
        ndjson_bytes,
        rows: 0,
        bad_lines: bad_count,
        blank_lines: blank,
        null_properties: counts.null_properties,
        output_file: None,
        output_bytes: 0,
        row_groups: 0,
        columns: 0,
        json_columns: Vec::new(),
        new_columns: Vec::new(),
        widened_columns: Vec::new(),
        schema_recalled: recalled.is_some(),
    };
    if rows == 0 {
        ctx.done_before += input.bytes();
        return Ok((report, None));
    }
    let mut shape = recalled.clone().unwrap_or(Shape::Null);
    shape.widen(&observed);
    let shape = shape.for_storage();
    let schema = table_schema(resource_type, &shape);
    if let Some(before) = &recalled {
        let (new, widened) = schema_changes(&table_schema(resource_type, before), &schema);
        report.new_columns = new;
        report.widened_columns = widened;
    }
    report.json_columns = shape
        .json_columns()
        .into_iter()
        .map(|(path, kinds)| JsonColumn { path, kinds: kinds.into_iter().map(|k| k.label().to_string()).collect() })
        .collect();
    report.columns = leaf_count(&schema) as u32;

    // Pass two.
    let final_path = out_dir.join(format!("{resource_type}.parquet"));
    let part_path = out_dir.join(format!(".{resource_type}.parquet.part"));
    let file = File::create(&part_path).map_err(|e| ConvertError::write(&part_path, e))?;
    let json_paths: Vec<String> = report.json_columns.iter().map(|c| c.path.clone()).collect();
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(ctx.options.zstd_level).expect("checked")))
        .set_max_row_group_row_count(None)
        .set_created_by(format!("Haul {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(vec![
            KeyValue::new(SHAPE_KEY.to_string(), serde_json::to_string(&shape).expect("shapes serialize")),
            KeyValue::new(JSON_COLUMNS_KEY.to_string(), json_paths.join(",")),
        ]))
        .build();
    let mut writer = TableWriter::new(file, schema.clone(), props, ctx.row_group_bytes, ctx.options.threads)
        .map_err(|e| ConvertError::write(&part_path, e))?;
    let bad_by_file = Arc::new(bad_by_file);
    let written = std::cell::Cell::new(0u64);
    let result = pipeline(
        input,
        ctx,
        Some(&first_lines),
        ConvertPhase::Writing,
        &|chunk: &Chunk| build_batch(chunk, &schema, &bad_by_file[chunk.file], &file_names[chunk.file]),
        &mut |batch: RecordBatch, _ctx: &mut Context| {
            written.set(written.get() + batch.num_rows() as u64);
            writer.write(batch).map_err(|e| ConvertError::write(&part_path, e))
        },
    );
    let sizes_after: Vec<_> = input.files.iter().map(|f| file_stamp(&f.path)).collect();
    let result = result.and_then(|()| {
        if written.get() != rows || sizes_before != sizes_after {
            let changed = input.files.iter().zip(sizes_before.iter().zip(&sizes_after)).find(|(_, (a, b))| a != b);
            let path = changed.map(|(f, _)| f.path.display().to_string()).unwrap_or_else(|| file_names.join(", "));
            return Err(ConvertError::Changed {
                path,
                detail: "its size or lines differ between the two passes".into(),
            });
        }
        Ok(())
    });
    if let Err(e) = result {
        drop(writer);
        let _ = std::fs::remove_file(&part_path);
        return Err(e);
    }
    let meta = writer.close().map_err(|e| ConvertError::write(&part_path, e))?;
    std::fs::rename(&part_path, &final_path).map_err(|e| ConvertError::write(&final_path, e))?;
    report.rows = rows;
    report.row_groups = meta.num_row_groups() as u32;
    report.output_bytes = std::fs::metadata(&final_path).map(|m| m.len()).unwrap_or(0);
    report.output_file = Some(final_path.display().to_string());
    Ok((report, Some(shape)))
}

fn file_stamp(path: &Path) -> Option<(u64, std::time::SystemTime)> {
    std::fs::metadata(path).ok().and_then(|m| Some((m.len(), m.modified().ok()?)))
}

fn build_batch(chunk: &Chunk, schema: &SchemaRef, bad: &[u64], file: &str) -> Result<RecordBatch, ConvertError> {
    let mut builder = BatchBuilder::new(schema.clone());
    let mut bad_at = bad.partition_point(|&n| n < chunk.first_line);
    for (n, line) in chunk.lines() {
        if bad.get(bad_at) == Some(&n) {
            bad_at += 1;
            continue;
        }
        if is_blank(line) {
            continue;
        }
        builder
            .append_line(line)
            .map_err(|m| ConvertError::Changed { path: file.to_string(), detail: format!("line {n}: {}", m.0) })?;
    }
    Ok(builder.finish())
}

fn leaf_count(schema: &SchemaRef) -> usize {
    schema.fields().iter().map(|f| crate::table_writer::leaf_count(f.data_type())).sum()
}

/// Paths new in `after`, and paths whose type changed, compared with `before`.
fn schema_changes(before: &SchemaRef, after: &SchemaRef) -> (Vec<String>, Vec<String>) {
    fn walk(prefix: &str, t: &DataType, out: &mut BTreeMap<String, String>) {
        match t {
            DataType::Struct(fields) => {
                for f in fields {
                    let p = if prefix.is_empty() { f.name().clone() } else { format!("{prefix}.{}", f.name()) };
                    out.insert(p.clone(), kind_name(f.data_type()));
                    walk(&p, f.data_type(), out);
                }
            }
            DataType::List(item) => walk(&format!("{prefix}[]"), item.data_type(), out),
            _ => {}
        }
    }
    fn kind_name(t: &DataType) -> String {
        match t {
            DataType::Struct(_) => "struct".into(),
            DataType::List(_) => "list".into(),
            other => other.to_string(),
        }
    }
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    walk("", &DataType::Struct(before.fields().clone()), &mut a);
    walk("", &DataType::Struct(after.fields().clone()), &mut b);
    let new = b.keys().filter(|k| !a.contains_key(*k)).cloned().collect();
    let widened = b.iter().filter(|(k, t)| a.get(*k).is_some_and(|old| old != *t)).map(|(k, _)| k.clone()).collect();
    (new, widened)
}
