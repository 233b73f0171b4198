//! NDJSON → Parquet, one table per resource type, in two passes over the input.
//!
//! Pass one reads every line and learns the exact shape (no sampling) and which lines are bad.
//! Pass two writes the good lines with that shape, widened by what earlier exports of the same
//! server produced. Both passes split the input into chunks of whole lines, parsed by all cores;
//! memory is a few chunks plus one row group, whatever the size of the input.
//! (`pipeline` runs the threads of a pass, `report` holds what a conversion is told and tells.)

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::columns::{BatchBuilder, table_schema};
use crate::error::ConvertError;
use crate::infer::{InferCounts, LineProblem, infer_line, is_blank};
use crate::inputs::{Chunk, TypeInput};
use crate::pipeline::{Context, pipeline};
// The report's types lived here first; their old paths still work.
use crate::report::{BAD_LINES_FILE, BadLineSink};
pub use crate::report::{
    BadLine, ConversionReport, ConvertOptions, ConvertPhase, ConvertProgress, Forgetful, JsonColumn, SchemaMemory,
    TypeReport,
};
use crate::shape::Shape;
use crate::table_writer::TableWriter;

/// File-level metadata: the shape the table was written with (JSON), to read it back exactly.
pub const SHAPE_KEY: &str = "haul:shape";
/// File-level metadata: the columns kept as JSON text, comma separated, for tools that don't read
/// Arrow field metadata.
pub const JSON_COLUMNS_KEY: &str = "haul:json_columns";

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
        warnings: Vec::new(),
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
    report.warnings.splice(0..0, std::mem::take(&mut ctx.warnings));
    report.bad_line_examples = ctx.bad.examples;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
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
                ctx.bad.push(BadLine {
                    file: file_names[file].clone(),
                    line,
                    problem: problem.to_string(),
                    excerpt,
                })?;
            }
            Ok(())
        },
    )?;

    let recalled = memory.recall(resource_type).unwrap_or_else(|e| {
        ctx.warnings.push(format!(
            "The {resource_type} schema of earlier conversions could not be read ({e}); this table's schema is this export's alone."
        ));
        None
    });
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
