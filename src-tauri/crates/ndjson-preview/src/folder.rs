//! A folder opened for preview: its types, each a list of indexed files read as one table. (Pages and a
//! row's problem are in `rows`, find and lookups in `find`.)

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;
use ts_rs::TS;

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

/// The files of one type, read as one table in name order.
pub(crate) struct TypeFiles {
    pub(crate) resource_type: String,
    /// Relative to the folder.
    pub(crate) names: Vec<String>,
    pub(crate) paths: Vec<PathBuf>,
    pub(crate) bytes: u64,
    pub(crate) compressed: bool,
    pub(crate) indexes: Mutex<Vec<Arc<LineIndex>>>,
}

pub struct PreviewFolder {
    folder: PathBuf,
    options: PreviewOptions,
    manifest: Option<Value>,
    types: Vec<TypeFiles>,
}

impl PreviewFolder {
    /// Finds the folder's NDJSON files (top level, as Convert does, and an export's `deleted/` Bundles, so an
    /// incremental export with only deletions shows them) and any valid indexes already cached.
    pub fn open(folder: &Path, options: PreviewOptions) -> Result<PreviewFolder, PreviewError> {
        let meta = std::fs::metadata(folder).map_err(|e| PreviewError::read(folder, e))?;
        if !meta.is_dir() {
            return Err(PreviewError::Read {
                path: folder.display().to_string(),
                message: "it is not a folder".into(),
            });
        }
        let mut roots = vec![folder.to_path_buf()];
        let deleted = folder.join("deleted");
        if deleted.is_dir() {
            roots.push(deleted);
        }
        let inputs = fhir_ndjson::find_inputs(&roots)?;
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

    pub(crate) fn type_files(&self, resource_type: &str) -> Result<&TypeFiles, PreviewError> {
        self.types
            .iter()
            .find(|t| t.resource_type == resource_type)
            .ok_or_else(|| PreviewError::NoSuchType { resource_type: resource_type.to_string() })
    }

    pub(crate) fn indexes(&self, resource_type: &str) -> Result<Vec<Arc<LineIndex>>, PreviewError> {
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

    pub(crate) fn check_unchanged(&self, t: &TypeFiles, indexes: &[Arc<LineIndex>]) -> Result<(), PreviewError> {
        for index in indexes {
            if let Err(e) = index.check_unchanged() {
                self.reopen(t)?;
                return Err(e);
            }
        }
        Ok(())
    }

    pub(crate) fn files_by_type(&self) -> Vec<(String, Vec<PathBuf>, u64)> {
        self.types.iter().map(|t| (t.resource_type.clone(), t.paths.clone(), t.bytes)).collect()
    }

    pub(crate) fn transaction_time(&self) -> Option<String> {
        self.manifest.as_ref().and_then(|m| m["transactionTime"].as_str()).map(str::to_string)
    }
}

pub(crate) fn relative(folder: &Path, path: &Path) -> String {
    path.strip_prefix(folder).unwrap_or(path).display().to_string()
}

pub(crate) fn data_len(index: &LineIndex) -> u64 {
    std::fs::metadata(index.data_path()).map(|m| m.len()).unwrap_or(0)
}

/// Rows readable across a type's files: each file's rows, up to and including the first not yet complete.
pub(crate) fn readable_rows(indexes: &[Arc<LineIndex>]) -> (u64, bool) {
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

pub(crate) fn locate(indexes: &[Arc<LineIndex>], resource_type: &str, row: u64) -> Result<(usize, u64), PreviewError> {
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
