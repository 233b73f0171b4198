//! An export folder into Delta Lake tables, one per resource type, in a folder or object storage
//! (`haul convert --format delta`). A full export replaces each table's contents; an incremental export
//! (`_since`) is merged into them by the current dataset's rules (`current_dataset::merge_table_file`):
//! changed resources replace their older version, `deleted[]` entries leave, so do the resources of patients
//! who left the group (when the export recorded the group's members), and the full records of members who
//! joined (the folder Haul fetched them into) come in. Each table gets one commit per export, marked with
//! the export's transactionTime, so the chain is applied in order, exactly once, and a crash between two
//! tables is completed by running the conversion again.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use current_dataset::{DatasetError, TableChange, TableShapes};
use delta_table::{Contents, DeltaError, DeltaTable};
use fhir_tables::{ConvertError, ConvertOptions, ConvertProgress, SchemaMemory, TypeInput};
use object_destination::Destination;
use serde::Serialize;
use serde_json::json;
use ts_rs::TS;

/// What a conversion into Delta tables did.
#[derive(Debug, Clone, Default, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DeltaReport {
    /// The folder or storage address the tables are under (one table per type: `<target>/<Type>`).
    pub target: String,
    /// The export's transactionTime: what the tables now hold.
    pub transaction_time: String,
    /// Whether the export held changes only (merged) rather than everything (replaced).
    pub incremental: bool,
    pub tables: Vec<DeltaTableReport>,
    /// Patients who left the group since the tables' export: their resources were taken out.
    #[ts(type = "number")]
    pub left: u64,
    #[ts(type = "number")]
    pub bad_lines: u64,
    /// Where the bad lines were put (beside the tables, under `_haul/`), when there were some.
    pub bad_lines_file: Option<String>,
    pub warnings: Vec<String>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Default, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DeltaTableReport {
    pub resource_type: String,
    pub address: String,
    /// The version committed; `None` when the table already held this export (a conversion run twice).
    #[ts(type = "number | null")]
    pub version: Option<u64>,
    #[ts(type = "number")]
    pub rows: u64,
    /// What changed, for a merged table.
    pub change: Option<TableChange>,
}

#[derive(Debug, thiserror::Error)]
pub enum DeltaConvertError {
    #[error(
        "{} is not an export folder Haul wrote: it has no readable manifest.json with a transactionTime, so Haul cannot tell which export the tables would hold. Convert it to Parquet instead.", .0.display()
    )]
    NotAnExport(PathBuf),
    #[error(
        "This export holds the changes since {since}, but there are no Delta tables at {target} yet. Convert the full export this chain starts from first."
    )]
    NoBaseline { since: String, target: String },
    #[error(
        "The {resource_type} table at {target} holds the export of {table_at}, but this export's changes start from {since}: converting it would leave a gap. Convert the exports in between first (or a full export)."
    )]
    Gap { resource_type: String, target: String, table_at: String, since: String },
    #[error(
        "The {resource_type} table at {target} already holds a later export ({table_at}) than this one ({now}); Haul does not go back in time. Write to another address to keep both."
    )]
    Backwards { resource_type: String, target: String, table_at: String, now: String },
    #[error(transparent)]
    Delta(#[from] DeltaError),
    #[error(transparent)]
    Convert(ConvertError),
    #[error(transparent)]
    Merge(DatasetError),
    #[error(
        "This export holds only the changes since {since}. Flat views become Delta tables from full exports only: a view's rows are not resources, so there is nothing to merge them by, and the tables would hold the changes alone. Make the view tables from a full export, or convert the resources (`haul convert --format delta`), which merges changes."
    )]
    ViewsNeedFullExport { since: String },
    #[error("Haul could not use the staging folder {path}: {reason}")]
    Staging { path: String, reason: String },
    #[error("The conversion was stopped. Every table is at the version it had before, or at this export.")]
    Cancelled,
}

impl DeltaConvertError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAnExport(_) => "delta_not_an_export",
            Self::NoBaseline { .. } => "delta_no_baseline",
            Self::ViewsNeedFullExport { .. } => "delta_views_need_full_export",
            Self::Gap { .. } => "delta_gap",
            Self::Backwards { .. } => "delta_backwards",
            Self::Delta(e) => e.code(),
            Self::Convert(e) => e.code(),
            Self::Merge(e) => e.code(),
            Self::Staging { .. } => "delta_staging",
            Self::Cancelled => "cancelled",
        }
    }
}

// A stop during the conversion or the merge is a stop, whichever part of the work it reached.
impl From<ConvertError> for DeltaConvertError {
    fn from(e: ConvertError) -> Self {
        match e {
            ConvertError::Cancelled => Self::Cancelled,
            e => Self::Convert(e),
        }
    }
}

impl From<DatasetError> for DeltaConvertError {
    fn from(e: DatasetError) -> Self {
        match e {
            DatasetError::Cancelled | DatasetError::Convert(ConvertError::Cancelled) => Self::Cancelled,
            e => Self::Merge(e),
        }
    }
}

impl From<object_destination::DestinationError> for DeltaConvertError {
    fn from(e: object_destination::DestinationError) -> Self {
        Self::Delta(e.into())
    }
}

/// The export a folder holds: its transactionTime and, for an incremental one, its `_since`.
struct ExportMark {
    transaction_time: String,
    at: i64,
    since: Option<(String, i64)>,
}

fn mark_of(folder: &Path) -> Result<ExportMark, DeltaConvertError> {
    let not = || DeltaConvertError::NotAnExport(folder.to_path_buf());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("manifest.json")).map_err(|_| not())?).map_err(|_| not())?;
    let transaction_time = manifest.get("transactionTime").and_then(|t| t.as_str()).ok_or_else(not)?.to_string();
    let at = fhir_tables::columns::parse_instant(&transaction_time).ok_or_else(not)?;
    let since = manifest
        .get("request")
        .and_then(|r| r.as_str())
        .and_then(|r| url::Url::parse(r).ok())
        .and_then(|u| u.query_pairs().find(|(k, _)| k == "_since").map(|(_, v)| v.to_string()))
        .and_then(|s| fhir_tables::columns::parse_instant(&s).map(|i| (s, i)));
    Ok(ExportMark { transaction_time, at, since })
}

/// Opens `target` (a folder path or a storage address) the way an export's `--out` is: a storage address
/// with the sign-in saved for it in `db`, else the environment's credentials.
pub fn open_target(db: &haul_store::Database, target: &str) -> Result<Destination, DeltaError> {
    let target = target.trim();
    if object_destination::is_object_address(target) {
        return Ok(crate::storage_sign_in::open_storage(db, target)?);
    }
    not_another_url(target)?;
    Ok(Destination::open_folder(Path::new(target))?)
}

/// Another scheme's URL (https://, file://) is refused as storage refuses it, never made a folder `https:`.
fn not_another_url(target: &str) -> Result<(), DeltaError> {
    if crate::folder::local_folder(Path::new(target)).is_err() {
        let scheme = target.split_once("://").map_or(target, |(s, _)| s).to_ascii_lowercase();
        return Err(object_destination::DestinationError::Unsupported { scheme }.into());
    }
    Ok(())
}

/// Refuses a tables' address to vacuum before anything is opened: none given, another scheme's URL, or a
/// folder that is not there (said, never made).
pub fn check_existing_target(target: &str) -> Result<(), DeltaError> {
    let (target, path) = (target.trim(), Path::new(target.trim()));
    if target.is_empty() {
        return Err(DeltaError::NoTarget);
    }
    if object_destination::is_object_address(target) {
        return Ok(());
    }
    not_another_url(target)?;
    if !path.is_dir() {
        return Err(DeltaError::NoTables { address: target.to_string() });
    }
    Ok(())
}

/// Opens `target` as `open_target` does, where tables should already be (to vacuum them: the app's "Remove old
/// versions' files", `haul vacuum`): a folder that does not exist is said, not made.
pub fn open_existing_target(db: &haul_store::Database, target: &str) -> Result<Destination, DeltaError> {
    check_existing_target(target)?;
    open_target(db, target)
}

/// Converts the export in `folder` into the Delta tables under `dest` (see the module's description).
/// `memory` gives the schemas of a full export's tables (as for `haul convert`); an incremental export's
/// rows take their table's own schema.
pub async fn convert_to_delta(
    folder: &Path,
    dest: Destination,
    options: &ConvertOptions,
    memory: Box<dyn SchemaMemory + Send>,
    on_progress: Arc<dyn Fn(&ConvertProgress) + Send + Sync>,
    cancel: Arc<AtomicBool>,
) -> Result<DeltaReport, DeltaConvertError> {
    let started = Instant::now();
    let mark = mark_of(folder)?;
    dest.check_access().await?;
    let mut folders = vec![folder.to_path_buf()];
    let joined = crate::dataset::new_members_folder(&folder.display().to_string());
    if mark.since.is_some() && joined.join("manifest.json").is_file() {
        folders.push(joined);
    }
    let inputs = current_dataset::gather(&folders)?;
    let mut deleted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &folders {
        for (t, ids) in fhir_ndjson::deleted_resources(&f.join("deleted"), fhir_ndjson::MAX_DELETION_LINE)
            .map_err(ConvertError::from)?
        {
            deleted.entry(t).or_default().extend(ids);
        }
    }

    // Every table there, and every type this export brings: all are checked before anything is written.
    let mut tables: BTreeMap<String, DeltaTable> = BTreeMap::new();
    for name in dest.folders("").await? {
        if is_type_name(&name) {
            let table = DeltaTable::open(&dest, &name).await?;
            if table.version().is_some() {
                tables.insert(name, table);
            }
        }
    }
    if let Some((since, _)) = &mark.since
        && tables.is_empty()
    {
        return Err(DeltaConvertError::NoBaseline { since: since.clone(), target: dest.address().to_string() });
    }
    for t in inputs.iter().map(|i| &i.resource_type).chain(deleted.keys()) {
        if !tables.contains_key(t) && is_type_name(t) {
            tables.insert(t.clone(), DeltaTable::open(&dest, t).await?);
        }
    }
    let mut pending = Vec::new();
    for (t, table) in &tables {
        kept_by_haul(table)?;
        let Some(table_at) = table.marker() else {
            pending.push(t.clone()); // a new table
            continue;
        };
        if table_at == mark.at {
            continue; // this export is in the table already
        }
        if table_at > mark.at {
            return Err(DeltaConvertError::Backwards {
                resource_type: t.clone(),
                target: dest.address().to_string(),
                table_at: describe_instant(table_at),
                now: mark.transaction_time.clone(),
            });
        }
        if let Some((since, since_at)) = &mark.since
            && table_at != *since_at
        {
            return Err(DeltaConvertError::Gap {
                resource_type: t.clone(),
                target: dest.address().to_string(),
                table_at: describe_instant(table_at),
                since: since.clone(),
            });
        }
        pending.push(t.clone());
    }

    let staging = tempfile_dir()?;
    let (old_dir, incoming_dir, out_dir) =
        (staging.path().join("old"), staging.path().join("incoming"), staging.path().join("out"));
    for d in [&old_dir, &out_dir] {
        std::fs::create_dir_all(d).map_err(|e| staging_error(d, e))?;
    }
    // An incremental export merges with each table's current file, brought beside the others.
    if mark.since.is_some() {
        for t in &pending {
            let table = &tables[t];
            match table.live_files().as_slice() {
                [] => {}
                [file] => fetch(&dest, &table.name_of(file), &old_dir.join(format!("{t}.parquet"))).await?,
                files => {
                    return Err(DeltaError::Unsupported {
                        address: table.address(),
                        why: format!(
                            "its current version has {} data files, and Haul keeps one file per version",
                            files.len()
                        ),
                    }
                    .into());
                }
            }
        }
    }
    let job = Prepare {
        inputs: inputs.into_iter().filter(|i| pending.contains(&i.resource_type)).collect(),
        pending: pending.clone(),
        incremental: mark.since.is_some(),
        deleted,
        members: export_compare::members_of(folder),
        old_dir,
        incoming_dir,
        out_dir,
        scratch: staging.path().join("scratch"),
        options: options.clone(),
    };
    let cancelled = cancel.clone();
    let prepared = tokio::task::spawn_blocking(move || job.run(memory, &*on_progress, &cancelled))
        .await
        .map_err(|e| staging_error(staging.path(), format!("the conversion stopped unexpectedly: {e}")))??;
    let incremental = mark.since.is_some();

    let mut report = DeltaReport {
        target: dest.address().to_string(),
        transaction_time: mark.transaction_time.clone(),
        incremental,
        left: prepared.left,
        bad_lines: prepared.bad_lines,
        ..Default::default()
    };
    for (t, table) in tables.iter_mut() {
        let Some(NewContents { file, change }) = prepared.tables.get(t) else {
            if pending.contains(t) {
                // A type this export changes nothing in: the table moves on to this export as it is.
                table.commit(Contents::Keep, mark.at, "MARK EXPORT", info(&mark, None)).await?;
            }
            report.tables.push(DeltaTableReport {
                resource_type: t.clone(),
                address: table.address(),
                version: pending.contains(t).then(|| table.version()).flatten(),
                rows: table.rows().unwrap_or(0),
                change: None,
            });
            continue;
        };
        if cancel.load(Ordering::Relaxed) {
            return Err(DeltaConvertError::Cancelled);
        }
        if file.is_none() && table.version().is_none() {
            continue; // no rows of a type the target never had: no table
        }
        let operation = if incremental { "MERGE" } else { "WRITE" };
        let version = table
            .commit(Contents::Replace { file: file.as_deref() }, mark.at, operation, info(&mark, change.as_ref()))
            .await?;
        report.tables.push(DeltaTableReport {
            resource_type: t.clone(),
            address: table.address(),
            version: Some(version),
            rows: table.rows().unwrap_or(0),
            change: change.clone(),
        });
    }
    // The lines no table took stay with the tables, not in the staging folder that goes away.
    if let Some(file) = &prepared.bad_lines_file {
        let name = format!("_haul/bad-lines/{}.ndjson", mark.at);
        match dest.upload_file(&name, file).await {
            Ok(_) => report.bad_lines_file = Some(dest.address_of(&name)),
            Err(e) => report.warnings.push(format!("The bad lines could not be kept beside the tables: {e}")),
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Refuses, before any work, what `publish_views` would refuse: an export of changes only.
pub fn check_views_export(folder: &Path) -> Result<(), DeltaConvertError> {
    match mark_of(folder)?.since {
        Some((since, _)) => Err(DeltaConvertError::ViewsNeedFullExport { since }),
        None => Ok(()),
    }
}

/// Flat views (`haul tables`), already written as Parquet files (`views`: name and file), as Delta tables under
/// `target`, one per view (`<target>/<view>`): each full export replaces a view table's contents, one commit per
/// table, marked with the export's transactionTime like the resource tables.
pub async fn publish_views(
    folder: &Path,
    dest: Destination,
    views: &[(String, PathBuf)],
) -> Result<DeltaReport, DeltaConvertError> {
    let started = Instant::now();
    let mark = mark_of(folder)?;
    if let Some((since, _)) = mark.since {
        return Err(DeltaConvertError::ViewsNeedFullExport { since });
    }
    dest.check_access().await?;
    let mut tables = Vec::new();
    for (name, _) in views {
        let table = DeltaTable::open(&dest, name).await?;
        kept_by_haul(&table)?;
        if let Some(at) = table.marker().filter(|at| *at > mark.at) {
            return Err(DeltaConvertError::Backwards {
                resource_type: name.clone(),
                target: dest.address().to_string(),
                table_at: describe_instant(at),
                now: mark.transaction_time.clone(),
            });
        }
        tables.push(table);
    }
    let mut report = DeltaReport {
        target: dest.address().to_string(),
        transaction_time: mark.transaction_time.clone(),
        ..Default::default()
    };
    for (mut table, (name, file)) in tables.into_iter().zip(views) {
        let version = if table.marker() == Some(mark.at) {
            None // this export is in the table already
        } else {
            let contents = Contents::Replace { file: Some(file) };
            Some(table.commit(contents, mark.at, "WRITE", info(&mark, None)).await?)
        };
        report.tables.push(DeltaTableReport {
            resource_type: name.clone(),
            address: table.address(),
            version,
            rows: table.rows().unwrap_or(0),
            change: None,
        });
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The staged work of a conversion: the export converted, merged with each table's current file when it is
/// incremental. Runs on a blocking thread (all cores parse).
struct Prepare {
    inputs: Vec<TypeInput>,
    pending: Vec<String>,
    incremental: bool,
    deleted: BTreeMap<String, BTreeSet<String>>,
    /// The group's members as the export recorded them.
    members: Option<BTreeSet<String>>,
    old_dir: PathBuf,
    incoming_dir: PathBuf,
    out_dir: PathBuf,
    scratch: PathBuf,
    options: ConvertOptions,
}

/// A table's next contents: a staged file (none: empty), and what the merge changed.
struct NewContents {
    file: Option<PathBuf>,
    change: Option<TableChange>,
}

struct Prepared {
    bad_lines: u64,
    bad_lines_file: Option<PathBuf>,
    left: u64,
    /// Only the tables that change: the others are marked as holding the export.
    tables: BTreeMap<String, NewContents>,
}

impl Prepare {
    fn run(
        self,
        memory: Box<dyn SchemaMemory + Send>,
        on_progress: &(dyn Fn(&ConvertProgress) + Sync),
        cancel: &AtomicBool,
    ) -> Result<Prepared, DeltaConvertError> {
        let shapes = TableShapes(&self.old_dir);
        let memory: &dyn SchemaMemory = if self.incremental { &shapes } else { memory.as_ref() };
        let report =
            fhir_tables::convert(&self.inputs, &self.incoming_dir, &self.options, memory, on_progress, cancel)?;
        let patients = self.old_dir.join("Patient.parquet");
        let leavers: HashSet<String> = match &self.members {
            Some(now) if self.incremental && patients.is_file() => {
                current_dataset::ids_in_table(&patients)?.into_iter().filter(|p| !now.contains(p)).collect()
            }
            _ => HashSet::new(),
        };
        let no_deletions = BTreeSet::new();
        let mut tables = BTreeMap::new();
        for t in &self.pending {
            if cancel.load(Ordering::Relaxed) {
                return Err(DeltaConvertError::Cancelled);
            }
            let incoming = self.incoming_dir.join(format!("{t}.parquet"));
            let incoming = incoming.is_file().then_some(incoming);
            if !self.incremental {
                tables.insert(t.clone(), NewContents { file: incoming, change: None });
                continue;
            }
            if incoming.is_none() && !self.deleted.contains_key(t) && leavers.is_empty() {
                continue; // nothing for this table: it is marked, not rewritten
            }
            let old = self.old_dir.join(format!("{t}.parquet"));
            let out = self.out_dir.join(format!("{t}.parquet"));
            let change = current_dataset::merge_table_file(
                t,
                old.is_file().then_some(old.as_path()),
                incoming.as_deref(),
                self.deleted.get(t).unwrap_or(&no_deletions),
                &leavers,
                &out,
                &self.scratch.join(t),
                &self.options,
                cancel,
            )?;
            tables.insert(t.clone(), NewContents { file: out.is_file().then_some(out), change: Some(change) });
        }
        Ok(Prepared {
            bad_lines: report.bad_lines,
            bad_lines_file: report.bad_lines_file.map(PathBuf::from),
            left: leavers.len() as u64,
            tables,
        })
    }
}

/// Haul writes only to tables it keeps (each version marked with its export) or to new ones.
fn kept_by_haul(table: &DeltaTable) -> Result<(), DeltaConvertError> {
    if table.version().is_some() && table.marker().is_none() {
        return Err(DeltaError::Unsupported {
            address: table.address(),
            why: "it was written by another program, and Haul only updates tables it keeps".into(),
        }
        .into());
    }
    Ok(())
}

fn info(mark: &ExportMark, change: Option<&TableChange>) -> serde_json::Value {
    json!({
        "transactionTime": mark.transaction_time,
        "since": mark.since.as_ref().map(|(s, _)| s),
        "change": change,
    })
}

/// A FHIR resource type's name: the tables' folders, not `_haul` or a user's own folder beside them.
fn is_type_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase()) && name.chars().all(|c| c.is_ascii_alphanumeric())
}

fn describe_instant(micros: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(micros as i128 * 1000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| micros.to_string())
}

fn staging_error(path: &Path, e: impl std::fmt::Display) -> DeltaConvertError {
    DeltaConvertError::Staging { path: path.display().to_string(), reason: e.to_string() }
}

fn tempfile_dir() -> Result<tempfile::TempDir, DeltaConvertError> {
    tempfile::Builder::new().prefix("haul-delta-").tempdir().map_err(|e| staging_error(&std::env::temp_dir(), e))
}

/// Copies an object to a local file, a chunk at a time.
async fn fetch(dest: &Destination, name: &str, to: &Path) -> Result<(), DeltaConvertError> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::fs::File::create(to).await.map_err(|e| staging_error(to, e))?;
    let mut chunks = Box::pin(dest.read_chunks(name).await?);
    while let Some(chunk) = chunks.next().await {
        file.write_all(&chunk?).await.map_err(|e| staging_error(to, e))?;
    }
    file.flush().await.map_err(|e| staging_error(to, e))?;
    Ok(())
}

#[cfg(test)]
#[path = "delta_tests.rs"]
mod tests;
