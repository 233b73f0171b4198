//! The current dataset of a recurring export (one server, one request, run every month): a folder of
//! Parquet tables, one per resource type, holding the latest version of every resource. A full export
//! replaces it; each incremental export is merged in: changed resources replace their older version,
//! `deleted[]` entries and the resources of patients who left the group are taken out, and the full
//! records of patients who joined are added, the newest `meta.lastUpdated` winning wherever a resource
//! comes twice. BI tools point at the folder: an update happens at once or not at all ([`journal`]; each table
//! file is replaced whole, and for the moment of the renames a reader may see some tables of the new
//! version beside others of the old), and the raw export folders stay as they came, so the dataset can
//! always be rebuilt ([`Dataset::rebuild`]).
//!
//! The tables are those of `haul convert` (`fhir-tables`): the same nested schema, the same metadata.

mod error;
mod fingerprint;
mod journal;
mod merge;
mod old_rows;
mod owner;
mod queue;
mod rebuild;
mod state;
mod views;
mod widen;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use serde::Serialize;

use fhir_tables::{ConvertOptions, MemoryError, SchemaMemory, Shape, TypeInput};

pub use error::DatasetError;
pub use merge::{TableChange, ids_in_table};
pub use state::{AppliedExport, DatasetState, STATE_FILE};
pub use views::{KeptViewState, VIEWS_DIR, ViewChange};

const LOCK: &str = ".haul-dataset.lock";

/// One export to apply.
#[derive(Debug, Clone)]
pub struct Update {
    pub export_id: i64,
    pub transaction_time: String,
    /// A full export (no `_since`): the dataset becomes exactly it.
    pub full: bool,
    /// For an incremental export: its `_since`, which must be the transactionTime the dataset is at.
    pub since: Option<String>,
    /// Export folders as Haul writes them (NDJSON per type at the top, `deleted/` Bundles): the export
    /// itself and, for an incremental group export, the new members' full records.
    pub folders: Vec<PathBuf>,
    /// The group's members now, when known: those gone since the last update leave with their resources.
    pub members: Option<BTreeSet<String>>,
    /// Patients whose full records are among `folders` (told, to count them).
    pub joined: u64,
}

/// What an update did.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateReport {
    pub folder: String,
    /// The tables the update touched (the others are as they were).
    pub tables: Vec<TableChange>,
    /// Rows in every table once the update is in: the dataset's size, untouched tables included.
    pub rows: u64,
    pub joined: u64,
    pub left: u64,
    /// Lines of the incoming files that are not resources (set aside, as in a conversion).
    pub bad_lines: u64,
    /// The flat views kept in `views/`.
    pub views: Vec<ViewChange>,
    pub seconds: f64,
}

pub struct Dataset {
    dir: PathBuf,
    state: DatasetState,
    /// The flat views kept beside the tables ([`Dataset::keep_views`]).
    views: Vec<fhir_views::View>,
    /// Held while the dataset is open: never two writers on one dataset.
    _lock: File,
}

/// The shapes of the tables in a folder (`<Type>.parquet`), so incoming rows are converted to the table's own
/// schema when they fit: the dataset's own folder, or a Delta table's live files brought beside each other.
pub struct TableShapes<'a>(pub &'a Path);

impl SchemaMemory for TableShapes<'_> {
    fn recall(&self, resource_type: &str) -> Result<Option<Shape>, MemoryError> {
        let path = self.0.join(format!("{resource_type}.parquet"));
        let Ok(file) = File::open(&path) else { return Ok(None) };
        let reader = parquet::file::reader::SerializedFileReader::new(file).map_err(|e| MemoryError(Box::new(e)))?;
        use parquet::file::reader::FileReader;
        let shape =
            reader.metadata().file_metadata().key_value_metadata().and_then(|kv| {
                kv.iter().find(|k| k.key == fhir_tables::convert::SHAPE_KEY).and_then(|k| k.value.clone())
            });
        match shape {
            Some(text) => Ok(Some(serde_json::from_str(&text).map_err(|e| MemoryError(Box::new(e)))?)),
            None => Ok(None),
        }
    }
    fn remember(&self, _: &str, _: &Shape) -> Result<(), MemoryError> {
        Ok(())
    }
}

/// Merges one table on its own, by the rules of [`Dataset::apply`] (changed resources replace their older
/// version, `deleted` ids leave, and so do the resources of patients among `leavers`; the newest `meta.lastUpdated` wins): for tables kept elsewhere than a dataset
/// folder, such as a Delta table's live file. `incoming` is the export's rows converted with the old table's
/// shape ([`TableShapes`]); it may be moved to `out`. Nothing is written when both tables are absent.
#[allow(clippy::too_many_arguments)]
pub fn merge_table_file(
    resource_type: &str,
    old: Option<&Path>,
    incoming: Option<&Path>,
    deleted: &BTreeSet<String>,
    leavers: &HashSet<String>,
    out: &Path,
    scratch: &Path,
    options: &ConvertOptions,
    cancel: &AtomicBool,
) -> Result<TableChange, DatasetError> {
    let m = merge::TableMerge {
        resource_type,
        old: old.map(Path::to_path_buf),
        incoming: incoming.map(Path::to_path_buf),
        deleted,
        leavers,
        out: out.to_path_buf(),
        scratch: scratch.to_path_buf(),
    };
    merge::merge_table(&m, options, cancel)
}

/// The state of the dataset in `dir` as a reader sees it, without taking the writer's lock (the state file is
/// replaced atomically); `None` when there is no dataset there yet.
pub fn read_state(dir: &Path) -> Result<Option<DatasetState>, DatasetError> {
    if !dir.join(STATE_FILE).is_file() {
        return Ok(None);
    }
    DatasetState::load(dir).map(Some)
}

/// Every resource the dataset in `dir` holds, as a line of JSON, table by table (read back from Parquet by
/// `fhir_tables::rebuild`: the proof that the dataset equals a full export, and a way back to NDJSON).
pub fn each_resource(dir: &Path, each: &mut dyn FnMut(String)) -> Result<u64, DatasetError> {
    let Some(state) = read_state(dir)? else { return Ok(0) };
    let mut rows = 0;
    for t in state.tables.keys() {
        let path = dir.join(format!("{t}.parquet"));
        rows += fhir_tables::rebuild::read_back(&path, each).map_err(|e| DatasetError::read(&path, e))?;
    }
    Ok(rows)
}

impl Dataset {
    /// Opens (or creates) the dataset in `dir`, completing or discarding an update a crash interrupted.
    /// Fails with [`DatasetError::Busy`] while another process has it open.
    pub fn open(dir: &Path) -> Result<Dataset, DatasetError> {
        std::fs::create_dir_all(dir).map_err(|e| DatasetError::write(dir, e))?;
        let lock_path = dir.join(LOCK);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| DatasetError::write(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(DatasetError::Busy(dir.to_path_buf())),
            Err(std::fs::TryLockError::Error(e)) => return Err(DatasetError::write(&lock_path, e)),
        }
        journal::recover(dir)?;
        let state = DatasetState::load(dir)?;
        Ok(Dataset { dir: dir.to_path_buf(), state, views: Vec::new(), _lock: lock })
    }

    /// The flat views to keep in `views/` from the next update on. Views the dataset holds that are not among
    /// them are taken out by that update: the folder holds what its opener asks for, nothing stale.
    pub fn keep_views(&mut self, views: Vec<fhir_views::View>) {
        self.views = views;
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn state(&self) -> &DatasetState {
        &self.state
    }

    /// The tables' files, by type.
    pub fn tables(&self) -> BTreeMap<String, PathBuf> {
        self.state.tables.keys().map(|t| (t.clone(), self.dir.join(format!("{t}.parquet")))).collect()
    }

    /// Applies one export. On any error the dataset stays at its previous version.
    pub fn apply(
        &mut self,
        update: &Update,
        options: &ConvertOptions,
        cancel: &AtomicBool,
    ) -> Result<UpdateReport, DatasetError> {
        let started = Instant::now();
        self.check_order(update)?;
        // A committed update whose renames were interrupted (a file held open) is finished first, never
        // thrown away with the staging folder.
        journal::recover(&self.dir)?;
        let staging = journal::fresh_staging(&self.dir)?;
        let inputs = gather(&update.folders)?;
        let mut deleted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for folder in &update.folders {
            for (t, ids) in fhir_ndjson::deleted_resources(&folder.join("deleted"), fhir_ndjson::MAX_DELETION_LINE)? {
                deleted.entry(t).or_default().extend(ids);
            }
        }
        let mut report =
            UpdateReport { folder: self.dir.display().to_string(), joined: update.joined, ..Default::default() };
        let incoming_dir = staging.join("incoming");
        if !inputs.is_empty() {
            let shapes = TableShapes(&self.dir);
            let forget = fhir_tables::Forgetful;
            let memory: &dyn SchemaMemory = if update.full { &forget } else { &shapes };
            let converted = fhir_tables::convert(&inputs, &incoming_dir, options, memory, &|_| {}, cancel)?;
            report.bad_lines = converted.bad_lines;
            release_freed_memory();
        }
        let leavers: HashSet<String> = match (&self.state.members, &update.members, update.full) {
            (Some(before), Some(now), false) => before.difference(now).cloned().collect(),
            _ => HashSet::new(),
        };
        report.left = leavers.len() as u64;

        let existing: BTreeSet<String> =
            if update.full { BTreeSet::new() } else { self.state.tables.keys().cloned().collect() };
        let mut types: BTreeSet<String> = inputs.iter().map(|i| i.resource_type.clone()).collect();
        types.extend(deleted.keys().filter(|t| existing.contains(*t)).cloned());
        if !leavers.is_empty() {
            types.extend(existing.iter().cloned());
        }
        let no_deletions = BTreeSet::new();
        let mut commit = journal::Commit::default();
        let mut replaced = BTreeSet::new();
        let mut tables = if update.full { BTreeMap::new() } else { self.state.tables.clone() };
        for t in &types {
            let incoming = incoming_dir.join(format!("{t}.parquet"));
            let name = format!("{t}.parquet");
            let m = merge::TableMerge {
                resource_type: t,
                old: existing.contains(t).then(|| self.dir.join(&name)),
                incoming: incoming.exists().then_some(incoming),
                deleted: deleted.get(t).unwrap_or(&no_deletions),
                leavers: &leavers,
                out: staging.join(&name),
                scratch: staging.join("rewrite").join(t),
            };
            let change = merge::merge_table(&m, options, cancel)?;
            if staging.join(&name).exists() {
                tables.insert(t.clone(), change.after);
                commit.replace.push(name);
                replaced.insert(t.clone());
            }
            report.tables.push(change);
        }
        if update.full {
            commit
                .remove
                .extend(self.state.tables.keys().filter(|t| !tables.contains_key(*t)).map(|t| format!("{t}.parquet")));
        }
        let mut state = self.state.clone();
        state.tables = tables;
        // A full export starts the member list afresh (unknown if the Group could not be read).
        if update.members.is_some() || update.full {
            state.members = update.members.clone();
        }
        state.applied.push(AppliedExport {
            export_id: update.export_id,
            transaction_time: update.transaction_time.clone(),
            full: update.full,
            joined: update.joined,
            left: report.left,
        });
        report.views =
            views::refresh(&self.dir, &staging, &self.views, &replaced, &mut state, &mut commit, options, cancel)?;
        state.save(&staging.join(STATE_FILE))?;
        commit.replace.push(STATE_FILE.to_string());
        journal::commit(&self.dir, &commit)?;
        self.state = state;
        report.rows = self.state.tables.values().sum();
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// An incremental export applies only on top of the export its `_since` came from, and only forward in time.
    fn check_order(&self, update: &Update) -> Result<(), DatasetError> {
        let Some(last) = self.state.last() else {
            return match update.full {
                true => Ok(()),
                false => Err(DatasetError::Gap { dataset: "no export yet".into(), since: describe(&update.since) }),
            };
        };
        if let (Some(now), Some(then)) = (instant(&update.transaction_time), instant(&last.transaction_time))
            && now < then
        {
            return Err(DatasetError::Backwards {
                now: update.transaction_time.clone(),
                dataset: last.transaction_time.clone(),
            });
        }
        let follows =
            update.since.as_deref().and_then(instant).is_some_and(|s| Some(s) == instant(&last.transaction_time));
        if !update.full && !follows {
            return Err(DatasetError::Gap {
                dataset: format!("export {} ({})", last.export_id, last.transaction_time),
                since: describe(&update.since),
            });
        }
        Ok(())
    }
}

fn describe(since: &Option<String>) -> String {
    match since {
        Some(since) => since.clone(),
        None => "no point in time".into(),
    }
}

fn instant(text: &str) -> Option<i64> {
    fhir_tables::columns::parse_instant(text)
}

/// Hands the memory the conversion freed back to the system before the merge allocates its own. glibc keeps
/// freed memory in each thread's arena (tens of MB after a conversion's threads), and the merge's threads
/// allocate from others: measured with `merge_bench`'s rebuild (a full conversion, then a merge, in one
/// process, 3 runs each), its peak went from 267–325 MB without it to 221–253 MB with it.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's heaps to the system; it takes no pointer
    // and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The NDJSON files of every folder, one input per type (files of several folders in folder order).
pub fn gather(folders: &[PathBuf]) -> Result<Vec<TypeInput>, DatasetError> {
    let mut by_type: BTreeMap<String, TypeInput> = BTreeMap::new();
    for folder in folders {
        let found = match fhir_ndjson::find_inputs(std::slice::from_ref(folder)) {
            Ok(found) => found,
            // An export with nothing new (or only deletions) has no NDJSON at the top.
            Err(fhir_ndjson::NdjsonError::NoInput { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        for input in found {
            match by_type.get_mut(&input.resource_type) {
                Some(existing) => existing.files.extend(input.files),
                None => {
                    by_type.insert(input.resource_type.clone(), input);
                }
            }
        }
    }
    Ok(by_type.into_values().collect())
}
