//! A folder opened for preview: its types, each a list of indexed files read as one table.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;
use ts_rs::TS;

use crate::columns;
use crate::error::PreviewError;
use crate::index::{BuildProgress, LineIndex, prune_cache};
use crate::overview::{self, CountSource, FolderOverview, TypeSummary};

/// Where indexes (and inflated copies of `.gz` files) are kept, and how much room they may take.
#[derive(Debug, Clone)]
pub struct PreviewOptions {
    pub cache_dir: PathBuf,
    /// Oldest entries are removed past this many bytes (entries in use stay).
    pub cache_limit: u64,
}

impl PreviewOptions {
    pub fn new(cache_dir: PathBuf) -> Self {
        PreviewOptions { cache_dir, cache_limit: 20 << 30 }
    }
}

/// Rows kept from one find; the count goes on past it.
pub const FIND_ROWS_KEPT: usize = 100_000;

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct IndexProgress {
    pub resource_type: String,
    /// Bytes of the type's files read so far (compressed for `.gz`), and in all.
    #[ts(type = "number")]
    pub bytes_read: u64,
    #[ts(type = "number")]
    pub bytes: u64,
    /// Rows that can be shown now.
    #[ts(type = "number")]
    pub rows: u64,
    pub complete: bool,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PreviewRow {
    /// Position in the type's table (all its files, in name order), from 0.
    #[ts(type = "number")]
    pub row: u64,
    pub file: String,
    /// Line number in that file, from 1.
    #[ts(type = "number")]
    pub line: u64,
    pub id: Option<String>,
    pub cells: Vec<String>,
    /// Why this line is not a readable resource of the table's type ("Not valid JSON: …"), if it is not.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PreviewPage {
    pub resource_type: String,
    pub headings: Vec<String>,
    pub rows: Vec<PreviewRow>,
    /// Rows that can be shown now; all of them once `complete`.
    #[ts(type = "number")]
    pub total_rows: u64,
    pub complete: bool,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ResourceText {
    pub resource_type: String,
    #[ts(type = "number")]
    pub row: u64,
    pub file: String,
    #[ts(type = "number")]
    pub line: u64,
    /// The line as written (invalid UTF-8 replaced): the UI shows it as a tree when it parses.
    pub text: String,
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FindBatch {
    /// Rows found since the last batch.
    #[ts(type = "number[]")]
    pub rows: Vec<u64>,
    #[ts(type = "number")]
    pub matches: u64,
    #[ts(type = "number")]
    pub bytes_searched: u64,
    #[ts(type = "number")]
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FindSummary {
    #[ts(type = "number")]
    pub matches: u64,
    /// More rows matched than are kept ([`FIND_ROWS_KEPT`]).
    pub capped: bool,
    pub stopped: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Located {
    pub resource_type: String,
    #[ts(type = "number")]
    pub row: u64,
}

struct TypeFiles {
    resource_type: String,
    names: Vec<String>,
    paths: Vec<PathBuf>,
    bytes: u64,
    compressed: bool,
    indexes: Mutex<Vec<Arc<LineIndex>>>,
}

pub struct PreviewFolder {
    folder: PathBuf,
    options: PreviewOptions,
    manifest: Option<Value>,
    types: Vec<TypeFiles>,
}

impl PreviewFolder {
    /// Finds the folder's NDJSON files (top level, as Convert does) and any valid indexes already cached.
    pub fn open(folder: &Path, options: PreviewOptions) -> Result<PreviewFolder, PreviewError> {
        let meta = std::fs::metadata(folder).map_err(|e| PreviewError::read(folder, e))?;
        if !meta.is_dir() {
            return Err(PreviewError::Read {
                path: folder.display().to_string(),
                message: "it is not a folder".into(),
            });
        }
        let inputs = fhir_tables::find_inputs(&[folder.to_path_buf()]).map_err(|e| match e {
            fhir_tables::ConvertError::NoInput { .. } => {
                PreviewError::NoNdjson { folder: folder.display().to_string() }
            }
            other => PreviewError::Read { path: folder.display().to_string(), message: other.to_string() },
        })?;
        if inputs.is_empty() {
            return Err(PreviewError::NoNdjson { folder: folder.display().to_string() });
        }
        let mut types = Vec::new();
        for input in inputs {
            let paths: Vec<PathBuf> = input.files.iter().map(|f| f.path.clone()).collect();
            let names = paths.iter().map(|p| relative(folder, p)).collect();
            let indexes = paths
                .iter()
                .map(|p| LineIndex::open(p, &options.cache_dir).map(Arc::new))
                .collect::<Result<Vec<_>, _>>()?;
            let compressed = indexes.iter().any(|i| i.is_gzip());
            types.push(TypeFiles {
                resource_type: input.resource_type.clone(),
                names,
                bytes: input.bytes(),
                compressed,
                paths,
                indexes: Mutex::new(indexes),
            });
        }
        Ok(PreviewFolder { folder: folder.to_path_buf(), manifest: overview::read_manifest(folder), options, types })
    }

    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// Every NDJSON file the folder was opened with (to tell whether a fresh look finds the same files).
    pub fn file_paths(&self) -> Vec<PathBuf> {
        self.types.iter().flat_map(|t| t.paths.clone()).collect()
    }

    pub fn resource_types(&self) -> Vec<String> {
        self.types.iter().map(|t| t.resource_type.clone()).collect()
    }

    fn type_files(&self, resource_type: &str) -> Result<&TypeFiles, PreviewError> {
        self.types
            .iter()
            .find(|t| t.resource_type == resource_type)
            .ok_or_else(|| PreviewError::NoSuchType { resource_type: resource_type.to_string() })
    }

    fn indexes(&self, resource_type: &str) -> Result<Vec<Arc<LineIndex>>, PreviewError> {
        Ok(self.type_files(resource_type)?.indexes.lock().expect("indexes").clone())
    }

    pub fn overview(&self) -> FolderOverview {
        let types = self
            .types
            .iter()
            .map(|t| {
                let from_manifest = self.manifest.as_ref().and_then(|m| overview::manifest_counts(m, &t.resource_type));
                let indexes = t.indexes.lock().expect("indexes").clone();
                let (count, count_source) = match from_manifest {
                    Some(n) => (Some(n), CountSource::Manifest),
                    None if indexes.iter().all(|i| i.is_complete()) => {
                        (Some(indexes.iter().map(|i| i.rows().0 - i.rows().1).sum()), CountSource::Counted)
                    }
                    None => (None, CountSource::Pending),
                };
                TypeSummary {
                    resource_type: t.resource_type.clone(),
                    files: t.names.clone(),
                    bytes: t.bytes,
                    compressed: t.compressed,
                    count,
                    count_source,
                }
            })
            .collect();
        let request = self.manifest.as_ref().and_then(|m| m["request"].as_str()).map(str::to_string);
        FolderOverview {
            folder: self.folder.display().to_string(),
            types,
            has_manifest: self.manifest.is_some(),
            transaction_time: self.manifest.as_ref().and_then(|m| m["transactionTime"].as_str()).map(str::to_string),
            parameters: request.as_deref().map(overview::parameters).unwrap_or_default(),
            request,
            problems: overview::problems(&self.folder, self.manifest.as_ref()),
        }
    }

    /// Rows readable now in a type, and whether all of its files are indexed.
    pub fn progress(&self, resource_type: &str) -> Result<IndexProgress, PreviewError> {
        let t = self.type_files(resource_type)?;
        let indexes = t.indexes.lock().expect("indexes").clone();
        let (rows, complete) = readable_rows(&indexes);
        let done: u64 = indexes.iter().filter(|i| i.is_complete()).map(|i| i.source_len()).sum();
        Ok(IndexProgress { resource_type: t.resource_type.clone(), bytes_read: done, bytes: t.bytes, rows, complete })
    }

    /// Indexes every file of a type (a no-op for files already indexed). Rows become readable as it goes.
    pub fn index_type(
        &self,
        resource_type: &str,
        progress: &dyn Fn(IndexProgress),
        cancel: &AtomicBool,
    ) -> Result<(), PreviewError> {
        let t = self.type_files(resource_type)?;
        let indexes = t.indexes.lock().expect("indexes").clone();
        let mut done_before = 0u64;
        for (i, index) in indexes.iter().enumerate() {
            let report = |p: BuildProgress| {
                let (rows, _) = readable_rows(&indexes);
                progress(IndexProgress {
                    resource_type: t.resource_type.clone(),
                    bytes_read: done_before + p.source_bytes_read.min(p.source_bytes),
                    bytes: t.bytes,
                    rows,
                    complete: i + 1 == indexes.len() && p.source_bytes_read >= p.source_bytes && index.is_complete(),
                })
            };
            index.build(&report, cancel)?;
            done_before += index.source_len();
        }
        if t.compressed {
            let keep: Vec<PathBuf> = self
                .types
                .iter()
                .flat_map(|t| t.indexes.lock().expect("indexes").clone())
                .flat_map(|i| [i.data_path().to_path_buf(), i.index_path().to_path_buf()])
                .collect();
            prune_cache(&self.options.cache_dir, self.options.cache_limit, &keep);
        }
        Ok(())
    }

    /// Starts a type over after one of its files changed: fresh, unbuilt indexes.
    fn reopen(&self, t: &TypeFiles) -> Result<(), PreviewError> {
        let fresh = t
            .paths
            .iter()
            .map(|p| LineIndex::open(p, &self.options.cache_dir).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        *t.indexes.lock().expect("indexes") = fresh;
        Ok(())
    }

    fn check_unchanged(&self, t: &TypeFiles, indexes: &[Arc<LineIndex>]) -> Result<(), PreviewError> {
        for index in indexes {
            if let Err(e) = index.check_unchanged() {
                self.reopen(t)?;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Rows `start..start+count` of a type, with its columns. Fewer (or none) when the index has not reached
    /// them yet; `total_rows` says how many can be read now.
    pub fn page(&self, resource_type: &str, start: u64, count: u64) -> Result<PreviewPage, PreviewError> {
        let t = self.type_files(resource_type)?;
        let indexes = self.indexes(resource_type)?;
        self.check_unchanged(t, &indexes)?;
        let (total_rows, complete) = readable_rows(&indexes);
        let mut rows = Vec::new();
        let mut base = 0u64;
        let end = (start + count.min(1000)).min(total_rows);
        for (f, index) in indexes.iter().enumerate() {
            let (n, _, _) = index.rows();
            let (from, to) = (start.max(base), end.min(base + n));
            if from < to {
                for (k, line) in index.read_rows(from - base, to - from)?.into_iter().enumerate() {
                    let local = from - base + k as u64;
                    rows.push(describe(resource_type, base + local, &t.names[f], local, &line));
                }
            }
            base += n;
            if base >= end || !index.is_complete() {
                break;
            }
        }
        Ok(PreviewPage {
            resource_type: resource_type.to_string(),
            headings: columns::headings(resource_type).into_iter().map(str::to_string).collect(),
            rows,
            total_rows,
            complete,
        })
    }

    /// Chosen rows of a type (the rows a find turned up), in the order given.
    pub fn rows(&self, resource_type: &str, wanted: &[u64]) -> Result<Vec<PreviewRow>, PreviewError> {
        let t = self.type_files(resource_type)?;
        let indexes = self.indexes(resource_type)?;
        self.check_unchanged(t, &indexes)?;
        let mut out = Vec::with_capacity(wanted.len());
        for &row in wanted.iter().take(1000) {
            let (f, local) = locate(&indexes, resource_type, row)?;
            if let Some(line) = indexes[f].read_rows(local, 1)?.pop() {
                out.push(describe(resource_type, row, &t.names[f], local, &line));
            }
        }
        Ok(out)
    }

    /// One row in full.
    pub fn resource(&self, resource_type: &str, row: u64) -> Result<ResourceText, PreviewError> {
        let t = self.type_files(resource_type)?;
        let indexes = self.indexes(resource_type)?;
        self.check_unchanged(t, &indexes)?;
        let (f, local) = locate(&indexes, resource_type, row)?;
        let line = indexes[f].read_rows(local, 1)?.pop().unwrap_or_default();
        let described = describe(resource_type, row, &t.names[f], local, &line);
        Ok(ResourceText {
            resource_type: resource_type.to_string(),
            row,
            file: t.names[f].clone(),
            line: local + 1,
            text: String::from_utf8_lossy(&line).into_owned(),
            problem: described.problem,
        })
    }

    /// Rows of a type whose line contains `query`, ignoring case (ASCII letters; other letters match as
    /// typed). Batches go to `on_batch` as the search goes; at most [`FIND_ROWS_KEPT`] rows are handed out,
    /// the count goes on.
    pub fn find(
        &self,
        resource_type: &str,
        query: &str,
        on_batch: &mut dyn FnMut(FindBatch),
        cancel: &AtomicBool,
    ) -> Result<FindSummary, PreviewError> {
        let query = query.trim();
        if query.is_empty() {
            return Err(PreviewError::EmptyQuery);
        }
        self.index_type(resource_type, &|_| {}, cancel)?;
        let t = self.type_files(resource_type)?;
        let indexes = self.indexes(resource_type)?;
        self.check_unchanged(t, &indexes)?;
        let needle = query.to_lowercase().into_bytes();
        let total: u64 = indexes.iter().map(|i| data_len(i)).sum();
        // (matches, rows kept, rows not yet handed out): both callbacks of the scan touch them.
        let found = std::cell::RefCell::new((0u64, 0usize, Vec::new()));
        let (mut searched, mut base) = (0u64, 0u64);
        for index in &indexes {
            let finished = scan(
                index.data_path(),
                &needle,
                true,
                cancel,
                &mut |bytes| {
                    searched += bytes;
                    let mut f = found.borrow_mut();
                    let rows = std::mem::take(&mut f.2);
                    on_batch(FindBatch { rows, matches: f.0, bytes_searched: searched, bytes: total });
                },
                &mut |local, _| {
                    let mut f = found.borrow_mut();
                    f.0 += 1;
                    if f.1 < FIND_ROWS_KEPT {
                        f.1 += 1;
                        f.2.push(base + local);
                    }
                    true
                },
            )?;
            if !finished {
                let f = found.borrow();
                return Ok(FindSummary { matches: f.0, capped: f.0 > f.1 as u64, stopped: true });
            }
            base += index.rows().0;
        }
        let mut f = found.borrow_mut();
        let rows = std::mem::take(&mut f.2);
        on_batch(FindBatch { rows, matches: f.0, bytes_searched: total, bytes: total });
        Ok(FindSummary { matches: f.0, capped: f.0 > f.1 as u64, stopped: false })
    }

    /// The row of the resource of this type with this id, if the folder has it.
    pub fn find_id(&self, resource_type: &str, id: &str, cancel: &AtomicBool) -> Result<Option<u64>, PreviewError> {
        // FHIR ids are [A-Za-z0-9-.]{1,64}: nothing to escape, so the raw text can be searched for.
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
            return Ok(None);
        }
        self.index_type(resource_type, &|_| {}, cancel)?;
        let indexes = self.indexes(resource_type)?;
        let needle = format!("\"id\":\"{id}\"").into_bytes();
        let mut base = 0u64;
        for index in &indexes {
            let mut found = None;
            let finished = scan(index.data_path(), &needle, false, cancel, &mut |_| {}, &mut |local, line| {
                // The text may sit in a nested element; only the resource's own id counts.
                #[derive(serde::Deserialize)]
                struct Id {
                    id: Option<String>,
                }
                match serde_json::from_slice::<Id>(line) {
                    Ok(Id { id: Some(found_id) }) if found_id == id => {
                        found = Some(base + local);
                        false
                    }
                    _ => true,
                }
            })?;
            if found.is_some() {
                return Ok(found);
            }
            if !finished && cancel.load(Ordering::Relaxed) {
                return Err(PreviewError::Cancelled);
            }
            base += index.rows().0;
        }
        Ok(None)
    }

    /// Where a reference (`Patient/123`, or a full URL ending so) points in this folder, if it is here.
    pub fn lookup(&self, reference: &str, cancel: &AtomicBool) -> Result<Option<Located>, PreviewError> {
        let Some((resource_type, id)) = split_reference(reference) else { return Ok(None) };
        if self.type_files(resource_type).is_err() {
            return Ok(None);
        }
        Ok(self
            .find_id(resource_type, id, cancel)?
            .map(|row| Located { resource_type: resource_type.to_string(), row }))
    }

    pub(crate) fn files_by_type(&self) -> Vec<(String, Vec<PathBuf>, u64)> {
        self.types.iter().map(|t| (t.resource_type.clone(), t.paths.clone(), t.bytes)).collect()
    }

    pub(crate) fn transaction_time(&self) -> Option<String> {
        self.manifest.as_ref().and_then(|m| m["transactionTime"].as_str()).map(str::to_string)
    }
}

fn relative(folder: &Path, path: &Path) -> String {
    path.strip_prefix(folder).unwrap_or(path).display().to_string()
}

fn data_len(index: &LineIndex) -> u64 {
    std::fs::metadata(index.data_path()).map(|m| m.len()).unwrap_or(0)
}

/// Rows readable across a type's files: each file's rows, up to and including the first not yet complete.
fn readable_rows(indexes: &[Arc<LineIndex>]) -> (u64, bool) {
    let mut total = 0;
    for index in indexes {
        let (rows, _, complete) = index.rows();
        total += rows;
        if !complete {
            return (total, false);
        }
    }
    (total, true)
}

fn locate(indexes: &[Arc<LineIndex>], resource_type: &str, row: u64) -> Result<(usize, u64), PreviewError> {
    let mut local = row;
    for (f, index) in indexes.iter().enumerate() {
        let (rows, _, complete) = index.rows();
        if local < rows {
            return Ok((f, local));
        }
        local -= rows;
        if !complete {
            break;
        }
    }
    let (rows, _) = readable_rows(indexes);
    Err(PreviewError::NoSuchRow { resource_type: resource_type.to_string(), row, rows })
}

/// `Patient/123`, `https://x/fhir/Patient/123`, `Patient/123/_history/2` → ("Patient", "123").
pub fn split_reference(reference: &str) -> Option<(&str, &str)> {
    let path = reference.split(['?', '#']).next()?;
    let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.len() >= 4 && parts[parts.len() - 2] == "_history" {
        parts.truncate(parts.len() - 2);
    }
    let (&id, rest) = parts.split_last()?;
    let &resource_type = rest.last()?;
    fhir_tables::inputs::looks_like_type(resource_type).then_some((resource_type, id))
}

/// A row as the table shows it: its columns, or what is wrong with the line.
fn describe(resource_type: &str, row: u64, file: &str, local: u64, line: &[u8]) -> PreviewRow {
    let mut out =
        PreviewRow { row, file: file.to_string(), line: local + 1, id: None, cells: Vec::new(), problem: None };
    if line.iter().all(u8::is_ascii_whitespace) {
        out.problem = Some("Blank line".into());
        return out;
    }
    let value: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            out.problem = Some(format!("Not valid JSON ({e}): {}", overview::first_chars(line, 80)));
            return out;
        }
    };
    if !value.is_object() {
        out.problem = Some(format!("Not a resource: {}", overview::first_chars(line, 80)));
        return out;
    }
    out.id = value["id"].as_str().map(str::to_string);
    out.cells = columns::cells(resource_type, &value);
    match value["resourceType"].as_str() {
        Some(t) if t == resource_type => {}
        Some(t) => out.problem = Some(format!("This line is a {t}, not a {resource_type}.")),
        None => out.problem = Some("This line has no resourceType.".into()),
    }
    out
}

const SCAN_BLOCK: usize = 4 << 20;

/// Reads `data` in blocks of whole lines and calls `on_hit(row, line)` once per line holding `needle` (which,
/// when `lowercase`, is already lower case and is matched against the ASCII-lowercased text). `on_hit`
/// returning false stops the scan; so does `cancel`. Returns whether the whole file was read.
fn scan(
    data: &Path,
    needle: &[u8],
    lowercase: bool,
    cancel: &AtomicBool,
    on_block: &mut dyn FnMut(u64),
    on_hit: &mut dyn FnMut(u64, &[u8]) -> bool,
) -> Result<bool, PreviewError> {
    use std::io::Read;
    let finder = memchr::memmem::Finder::new(needle);
    let mut file = std::fs::File::open(data).map_err(|e| PreviewError::read(data, e))?;
    let mut buf: Vec<u8> = Vec::with_capacity(SCAN_BLOCK * 2);
    let mut row = 0u64;
    let mut eof = false;
    while !eof {
        if cancel.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let before = buf.len();
        buf.resize(before + SCAN_BLOCK, 0);
        let n = loop {
            match file.read(&mut buf[before..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(PreviewError::read(data, e)),
            }
        };
        buf.truncate(before + n);
        eof = n == 0;
        let cut = if eof {
            buf.len()
        } else {
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => i + 1,
                None => continue, // one line longer than a block: read on
            }
        };
        let block = &mut buf[..cut];
        if lowercase {
            block.make_ascii_lowercase();
        }
        let block = &buf[..cut];
        let (mut at, mut counted) = (0usize, 0usize);
        while let Some(p) = finder.find(&block[at..]) {
            let p = at + p;
            row += memchr::memchr_iter(b'\n', &block[counted..p]).count() as u64;
            let start = memchr::memrchr(b'\n', &block[..p]).map_or(0, |i| i + 1);
            let end = memchr::memchr(b'\n', &block[p..]).map_or(cut, |i| p + i);
            if !on_hit(row, &block[start..end]) {
                return Ok(false);
            }
            if end >= cut {
                counted = cut;
                break;
            }
            row += 1;
            counted = end + 1;
            at = end + 1;
        }
        row += memchr::memchr_iter(b'\n', &block[counted..]).count() as u64;
        on_block(cut as u64);
        buf.drain(..cut);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_type_and_id() {
        assert_eq!(split_reference("Patient/123"), Some(("Patient", "123")));
        assert_eq!(split_reference("https://x.org/fhir/Patient/a-b.c/_history/2"), Some(("Patient", "a-b.c")));
        assert_eq!(split_reference("urn:uuid:1234"), None);
        assert_eq!(split_reference("#contained"), None);
        assert_eq!(split_reference("patient/1"), None);
    }

    #[test]
    fn scan_finds_each_matching_line_once_across_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.ndjson");
        let mut text = String::new();
        for i in 0..200_000 {
            text.push_str(&format!(
                "{{\"id\":\"r{i}\",\"note\":\"{}\"}}\n",
                if i % 50_000 == 7 { "Needle needle" } else { "hay" }
            ));
        }
        text.push_str("{\"last\":\"NEEDLE\"}");
        std::fs::write(&path, &text).unwrap();
        let mut rows = Vec::new();
        let done = scan(&path, b"needle", true, &AtomicBool::new(false), &mut |_| {}, &mut |r, line| {
            assert!(line.to_ascii_lowercase().windows(6).any(|w| w == b"needle"));
            rows.push(r);
            true
        })
        .unwrap();
        assert!(done);
        assert_eq!(rows, [7, 50_007, 100_007, 150_007, 200_000]);
    }
}
