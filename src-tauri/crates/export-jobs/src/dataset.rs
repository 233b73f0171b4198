//! After a clean export: the current dataset of its request (`current-dataset`) brought up to date, with
//! the full records of patients who joined the group since the last export fetched first.
//!
//! One dataset per server and request, under `Current datasets/` beside the exports (`DataDir::datasets_root`). A full export
//! replaces it; an incremental one is merged in when it continues from the export the dataset is at, and
//! otherwise the dataset is rebuilt from the export folders (the last full export and every clean
//! incremental since), which are never changed. Who joined or left comes from reading the Group
//! resource; a server that does not let it be read gets no new-member fetch, and the user is told.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use current_dataset::{AppliedExport, Dataset, DatasetError, Update, UpdateReport};
use haul_store::{ExportScope, JobRecord, JobSettings, JobState, NewJob, request_key};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use bulk_client::{ExportLevel, ExportSession};

use crate::folder::ExportFolder;
use crate::runner::{EventSink, ExportRunner, JobEvent};
use crate::wording;

/// The folder of the dataset an export keeps up to date: one per server and request.
pub fn dataset_dir(root: &Path, job: &JobRecord) -> PathBuf {
    let scope = match job.server_id {
        Some(id) => ExportScope::Saved(id),
        None => ExportScope::Address {
            fhir_url: &job.fhir_url,
            client_id: job.settings.auth.as_ref().and_then(|a| a.client_id.as_deref()),
        },
    };
    let key = format!("{}|{}", scope.key(), request_key(&job.request));
    let label = match job.request.level() {
        ExportLevel::System => "system".to_string(),
        ExportLevel::Patient => "patients".to_string(),
        ExportLevel::Group(g) => format!("group-{g}"),
    };
    let label: String =
        label.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).take(60).collect();
    root.join(format!("{label}-{:016x}", fnv1a(key.as_bytes())))
}

/// The current dataset of an export's request, as History shows it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DatasetSummary {
    pub folder: String,
    pub tables: Vec<DatasetTable>,
    /// The flat views kept current in the folder's `views/`.
    pub views: Vec<DatasetView>,
    /// The exports applied, oldest first.
    pub applied: Vec<AppliedExport>,
    /// Whether the export asked about is one of them.
    pub holds_this_export: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DatasetTable {
    pub resource_type: String,
    #[ts(type = "number")]
    pub rows: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DatasetView {
    pub name: String,
    pub resource_type: String,
    #[ts(type = "number")]
    pub rows: u64,
}

/// The dataset job's request keeps under `root`, if there is one yet.
pub fn dataset_of(root: &Path, job: &JobRecord) -> Result<Option<DatasetSummary>, DatasetError> {
    let dir = dataset_dir(root, job);
    let Some(state) = current_dataset::read_state(&dir)? else { return Ok(None) };
    Ok(Some(DatasetSummary {
        folder: dir.display().to_string(),
        tables: state.tables.iter().map(|(t, rows)| DatasetTable { resource_type: t.clone(), rows: *rows }).collect(),
        views: state
            .views
            .iter()
            .map(|(name, v)| DatasetView { name: name.clone(), resource_type: v.resource.clone(), rows: v.rows })
            .collect(),
        holds_this_export: state.applied.iter().any(|a| a.export_id == job.id),
        applied: state.applied,
    }))
}

/// Where an incremental group export's new members' full records go: beside its own folder.
pub fn new_members_folder(out_dir: &str) -> PathBuf {
    PathBuf::from(format!("{} new members", out_dir.trim_end_matches(['/', '\\'])))
}

/// FNV-1a: a folder name must stay the same across Rust versions, which std's hasher does not promise.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

impl ExportRunner {
    /// Keeps the dataset of job `id` (completed cleanly) up to date; returns sentences for the export's
    /// message (empty when there is no dataset). Never fails the export: what went
    /// wrong is said, and the dataset stays at its previous version.
    pub(crate) async fn keep_dataset(
        &self,
        id: i64,
        session: &ExportSession,
        events: &EventSink,
        cancel: &CancellationToken,
    ) -> String {
        let Some(root) = self.datasets.clone() else { return String::new() };
        let job = match self.database().lock().expect("database lock").get_job(id) {
            Ok(Some(job)) => job,
            _ => return String::new(),
        };
        // A new members' fetch is merged by the export it belongs to; a window (`_until`) is not "current".
        if job.settings.new_members_of.is_some() {
            return String::new();
        }
        if job.request.until.is_some() {
            return String::from(
                " The current dataset was not updated: an export that ends at a set time (_until) is not the current state.",
            );
        }
        let dir = dataset_dir(&root, &job);
        let members = read_members(session, &job, events).await;
        let joined = self.fetch_new_members(&job, &dir, members.as_ref(), events, cancel).await;
        let joined = match joined {
            Ok(joined) => joined,
            Err(sentence) => return sentence,
        };
        events(&JobEvent::Progress { text: Some("Updating the current dataset…".into()) });
        let mut folders = vec![PathBuf::from(&job.out_dir)];
        if let Some((_, folder)) = &joined {
            folders.push(folder.clone());
        }
        let update = Update {
            export_id: id,
            transaction_time: job.transaction_time.clone().unwrap_or_default(),
            full: job.request.since.is_none(),
            since: job.request.since.clone(),
            folders,
            members,
            joined: joined.as_ref().map(|(n, _)| *n).unwrap_or(0),
        };
        let chain = self.chain_for(&job);
        let stop = Arc::new(AtomicBool::new(false));
        let watch = {
            let stop = stop.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                cancel.cancelled().await;
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
            })
        };
        let dir2 = dir.clone();
        let result = tokio::task::spawn_blocking(move || apply_or_rebuild(&dir2, &update, chain, &stop)).await;
        watch.abort();
        match result {
            Ok(Ok((report, rebuilt))) => describe(&dir, &report, rebuilt),
            Ok(Err(e)) => format!(" The current dataset was not updated: {e}"),
            Err(e) => format!(" The current dataset was not updated: {e}"),
        }
    }

    /// On an incremental group export: the full records of the patients who joined since the dataset's
    /// export, fetched as an export of their own (`patient=`, POST) into a folder beside this one. Returns
    /// how many joined and that folder, or the sentence saying why the dataset was left as it was.
    async fn fetch_new_members(
        &self,
        job: &JobRecord,
        dir: &Path,
        members: Option<&BTreeSet<String>>,
        events: &EventSink,
        cancel: &CancellationToken,
    ) -> Result<Option<(u64, PathBuf)>, String> {
        if job.request.since.is_none() || job.settings.new_member_records == Some(false) {
            return Ok(None);
        }
        let (Some(now), ExportLevel::Group(_)) = (members, job.request.level()) else { return Ok(None) };
        // Who was a member at the export this one continues from: as its folder kept them, else as the
        // dataset last knew them (read without its lock: the state file is replaced atomically).
        let jobs = self.database().lock().expect("database lock").list_jobs(100_000).unwrap_or_default();
        let before = continues_from(&jobs, job)
            .and_then(members_kept_with)
            .or_else(|| current_dataset::read_state(dir).ok().flatten().and_then(|s| s.members));
        let Some(before) = before else {
            return Err(" The new members' records were not fetched: Haul does not know who was in the group at the export this one continues from, so the current dataset was not updated. Run the export once without “since” to start the dataset again.".into());
        };
        let joined: Vec<String> = now.difference(&before).cloned().collect();
        if joined.is_empty() {
            return Ok(None);
        }
        let n = joined.len() as u64;
        events(&JobEvent::Progress { text: Some(format!("Fetching the full records of {n} new group members…")) });
        let mut request = job.request.clone();
        request.since = None;
        request.patients = joined.iter().map(|p| format!("Patient/{p}")).collect();
        request.post = true;
        let out = new_members_folder(&job.out_dir);
        let created = ExportFolder::prepare(&out).map_err(|e| e.to_string()).and_then(|folder| {
            let settings =
                JobSettings { new_member_records: Some(false), new_members_of: Some(job.id), ..job.settings.clone() };
            let new = NewJob {
                server_id: job.server_id,
                fhir_url: job.fhir_url.clone(),
                request,
                settings,
                out_dir: folder.path().to_path_buf(),
            };
            self.database().lock().expect("database lock").create_job(&new).map_err(|e| e.to_string())
        });
        let child = match created {
            Ok(child) => child,
            Err(e) => {
                return Err(format!(
                    " The new members' records could not be fetched ({e}); the current dataset was not updated."
                ));
            }
        };
        let quiet: EventSink = Arc::new(|_| {});
        let outcome = Box::pin(self.run(child.id, quiet, cancel.child_token())).await;
        match outcome {
            Ok(o) if o.state == JobState::Completed => Ok(Some((n, out))),
            Ok(o) => Err(format!(
                " The full records of {n} new group members did not all arrive (export {}: {}); the current dataset was not updated. Run this export again to try again.",
                child.id, o.message
            )),
            Err(e) => Err(format!(
                " The full records of {n} new group members could not be fetched ({e}); the current dataset was not updated."
            )),
        }
    }

    /// The exports a rebuild of job's dataset applies, oldest first: the last clean full export of the same
    /// server and request, then every clean incremental one since, with their new members' folders.
    fn chain_for(&self, job: &JobRecord) -> Vec<Update> {
        let Ok(jobs) = self.database().lock().expect("database lock").list_jobs(100_000) else { return Vec::new() };
        // Back from this export along its `since`s to a full export; any missing link breaks the chain.
        let mut chain = vec![job.clone()];
        while let Some(previous) = continues_from(&jobs, chain.last().expect("never empty")) {
            chain.push(previous.clone());
        }
        if chain.last().is_some_and(|j| j.request.since.is_some()) {
            return Vec::new();
        }
        chain.reverse();
        let child = |j: &JobRecord| jobs.iter().find(|c| c.settings.new_members_of == Some(j.id)).cloned();
        let mut links = Vec::with_capacity(chain.len());
        for j in &chain {
            let mut folders = vec![PathBuf::from(&j.out_dir)];
            match child(j) {
                Some(c) if c.state == JobState::Completed => folders.push(PathBuf::from(&c.out_dir)),
                // Its new members' records did not all arrive: without them the rebuild would miss them.
                Some(_) => return Vec::new(),
                None => {}
            }
            links.push(Update {
                export_id: j.id,
                transaction_time: j.transaction_time.clone().unwrap_or_default(),
                full: j.request.since.is_none(),
                since: j.request.since.clone(),
                folders,
                members: members_kept_with(j),
                joined: 0,
            });
        }
        links
    }
}

/// The clean export of the same dataset that `job`'s `_since` is the transactionTime of.
fn continues_from<'a>(jobs: &'a [JobRecord], job: &JobRecord) -> Option<&'a JobRecord> {
    let since = fhir_tables::columns::parse_instant(job.request.since.as_deref()?)?;
    let root = Path::new("/");
    jobs.iter()
        .filter(|j| {
            j.id < job.id
                && j.state == JobState::Completed
                && j.settings.new_members_of.is_none()
                && j.request.until.is_none()
                && j.transaction_time.as_deref().and_then(fhir_tables::columns::parse_instant) == Some(since)
                && dataset_dir(root, j) == dataset_dir(root, job)
        })
        .max_by_key(|j| j.id)
}

/// The Group's members as an export's folder kept them, if it did.
fn members_kept_with(job: &JobRecord) -> Option<BTreeSet<String>> {
    let bytes = std::fs::read(ExportFolder::at(&job.out_dir).group_members()).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The group's members now (kept in the export folder too), when the server lets the Group be read; asked
/// through the export's own session (its sign-in).
async fn read_members(session: &ExportSession, job: &JobRecord, events: &EventSink) -> Option<BTreeSet<String>> {
    let ExportLevel::Group(group) = job.request.level() else { return None };
    match session.group_members(group).await {
        Ok(Some(members)) => {
            let path = ExportFolder::at(&job.out_dir).group_members();
            let _ = std::fs::write(&path, serde_json::to_vec(&members).expect("ids serialize"));
            Some(members)
        }
        Ok(None) => None,
        Err(e) => {
            events(&JobEvent::Warning {
                message: format!("Haul could not read Group {group} to see who joined or left: {}", e.message),
            });
            None
        }
    }
}

/// Applies the update; when it does not continue from the dataset's version (an export in between was
/// not applied, or the dataset is new), rebuilds from the chain instead.
fn apply_or_rebuild(
    dir: &Path,
    update: &Update,
    chain: Vec<Update>,
    stop: &AtomicBool,
) -> Result<(UpdateReport, bool), DatasetError> {
    let options = fhir_tables::ConvertOptions::default();
    let mut dataset = Dataset::open(dir)?;
    dataset.keep_views(kept_views());
    match dataset.apply(update, &options, stop) {
        Err(DatasetError::Gap { .. }) if !chain.first().is_some_and(|u| u.full) => Err(DatasetError::NoFullExport),
        Err(DatasetError::Gap { .. }) => {
            let missing = chain.iter().flat_map(|u| u.folders.iter()).find(|f| !f.is_dir());
            if let Some(missing) = missing {
                return Err(DatasetError::Read {
                    path: missing.clone(),
                    message:
                        "that export folder was deleted or moved, so the dataset cannot be rebuilt; run a full export"
                            .into(),
                });
            }
            Ok((dataset.rebuild(&chain, &options, stop)?, true))
        }
        other => other.map(|r| (r, false)),
    }
}

/// The views a dataset keeps: every built-in one (those over a type the dataset lacks make no file).
fn kept_views() -> Vec<fhir_views::View> {
    fhir_views::BUILT_IN.iter().map(|(name, _)| fhir_views::built_in(name).expect("built-in views are valid")).collect()
}

fn describe(dir: &Path, report: &UpdateReport, rebuilt: bool) -> String {
    let rows = report.rows;
    let added: u64 = report.tables.iter().map(|t| t.added).sum();
    let changed: u64 = report.tables.iter().map(|t| t.changed).sum();
    let deleted: u64 = report.tables.iter().map(|t| t.deleted + t.left_with_patient).sum();
    let how = if rebuilt { "was rebuilt from the export folders and" } else { "now" };
    let mut s = format!(
        " The current dataset {how} holds {} ({} added, {} changed, {} taken out): {}.",
        wording::count(rows, "resource"),
        wording::thousands(added),
        wording::thousands(changed),
        wording::thousands(deleted),
        dir.display()
    );
    if report.joined > 0 {
        s.push_str(&format!(" {}: their full records were fetched.", wording::count(report.joined, "new member")));
    }
    if report.left > 0 {
        s.push_str(&format!(" {} left the group.", wording::count(report.left, "member")));
    }
    let kept: Vec<&str> = report.views.iter().filter(|v| v.failure.is_none()).map(|v| v.view.as_str()).collect();
    if !kept.is_empty() {
        s.push_str(&format!(" Flat views kept current in its views folder: {}.", kept.join(", ")));
    }
    for v in report.views.iter().filter(|v| v.failure.is_some()) {
        s.push_str(&format!(
            " The view {} could not be computed, so it was taken out of the dataset: {}.",
            v.view,
            v.failure.as_deref().unwrap_or_default().trim_end_matches('.')
        ));
    }
    s
}
