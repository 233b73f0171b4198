//! What a conversion is told (options, the schema memory) and what it tells (progress, the report,
//! bad lines).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use parquet::basic::ZstdLevel;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::ConvertError;
use crate::shape::Shape;

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
    pub fn sizes(&self) -> Result<(usize, usize), ConvertError> {
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
    fn recall(&self, resource_type: &str) -> Result<Option<Shape>, MemoryError>;
    fn remember(&self, resource_type: &str, shape: &Shape) -> Result<(), MemoryError>;
}

/// The memory could not be read or written (its database, say). The conversion goes on without it and
/// says so in the report's warnings.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct MemoryError(pub Box<dyn std::error::Error + Send + Sync>);

/// No memory: each conversion's schema is what its input holds.
pub struct Forgetful;

impl SchemaMemory for Forgetful {
    fn recall(&self, _: &str) -> Result<Option<Shape>, MemoryError> {
        Ok(None)
    }
    fn remember(&self, _: &str, _: &Shape) -> Result<(), MemoryError> {
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

pub(crate) const EXAMPLES: usize = 20;
pub(crate) const BAD_LINES_FILE: &str = "bad-lines.ndjson";

/// Bad lines go to a file as they are found (memory stays flat for a file of only bad lines).
pub(crate) struct BadLineSink {
    pub(crate) path: PathBuf,
    pub(crate) file: Option<BufWriter<File>>,
    pub(crate) examples: Vec<BadLine>,
    pub(crate) count: u64,
}

impl BadLineSink {
    pub(crate) fn push(&mut self, bad: BadLine) -> Result<(), ConvertError> {
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
