//! Flat views (SQL-on-FHIR ViewDefinitions, `fhir-views`) kept current beside the tables, in `views/`: for BI
//! tools and spreadsheets that want one row per patient or per condition, always at the dataset's version.
//!
//! A view's rows are not resources (a row has no id to merge by), so a view is made again from its resource
//! type's new table whenever that table changes in an update, and kept as it was otherwise. Made again, not
//! computed whole: its file follows the table row group by row group, and the view rows of every table row
//! group the merge copied unchanged are copied from the previous file (`fhir_views::kept`). Its file is written
//! into the update's staging folder and moved in by the same journal commit as the tables, so views and tables
//! change together. A view whose definition changed (a newer Haul's built-in view) is computed whole: the state
//! and the file keep a fingerprint of each view's definition.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use fhir_tables::ConvertOptions;
use fhir_views::{KeptView, TablesError, TablesOptions, View};
use serde::{Deserialize, Serialize};

use crate::error::DatasetError;
use crate::journal::Commit;
use crate::state::DatasetState;

/// The folder of the views' Parquet files, inside the dataset.
pub const VIEWS_DIR: &str = "views";

/// A view kept in the dataset, as its state records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptViewState {
    pub resource: String,
    pub rows: u64,
    /// `fhir_views::definition_fingerprint` of the view it was made with.
    pub definition: String,
}

/// What an update did to one view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ViewChange {
    pub view: String,
    pub resource: String,
    pub rows: u64,
    /// Made again (its table or its definition changed), or kept as it was.
    pub recomputed: bool,
    /// When made again: table row groups whose view rows were copied from the previous file, those of rows
    /// the merge kept whose view rows were taken from it by id, and those evaluated.
    pub reused_groups: usize,
    pub derived_groups: usize,
    pub computed_groups: usize,
    /// Why the view could not be computed: its file is then taken out rather than left behind the tables.
    pub failure: Option<String>,
}

/// The view's file name inside the dataset (`views/<name>.parquet`, `/` on every platform: journal names).
pub(crate) fn file_name(view: &str) -> String {
    format!("{VIEWS_DIR}/{view}.parquet")
}

/// Brings the views up to date with `state.tables` (the update's new tables; `state.views` still the old
/// views): views over a type in `replaced` (whose new table is in `staging`), new views and views whose
/// definition changed are computed into `staging/views/` and added to `commit`; views over a type the dataset
/// no longer holds, views no longer asked for and views that failed are removed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn refresh(
    dir: &Path,
    staging: &Path,
    views: &[View],
    replaced: &BTreeSet<String>,
    state: &mut DatasetState,
    commit: &mut Commit,
    options: &ConvertOptions,
    cancel: &AtomicBool,
) -> Result<Vec<ViewChange>, DatasetError> {
    let mut kept: BTreeMap<String, KeptViewState> = BTreeMap::new();
    let mut changes = Vec::new();
    // (view, its table, its previous file, its definition's fingerprint)
    let mut work: Vec<(&View, PathBuf, Option<PathBuf>, String)> = Vec::new();
    for view in views.iter().filter(|v| state.tables.contains_key(&v.resource)) {
        let definition = fhir_views::definition_fingerprint(view);
        let table = format!("{}.parquet", view.resource);
        let previous = state.views.get(&view.name).filter(|k| {
            k.definition == definition && k.resource == view.resource && dir.join(file_name(&view.name)).is_file()
        });
        match previous {
            Some(k) if !replaced.contains(&view.resource) => {
                changes.push(ViewChange {
                    view: view.name.clone(),
                    resource: view.resource.clone(),
                    rows: k.rows,
                    recomputed: false,
                    reused_groups: 0,
                    derived_groups: 0,
                    computed_groups: 0,
                    failure: None,
                });
                kept.insert(view.name.clone(), k.clone());
            }
            _ => {
                let from = if replaced.contains(&view.resource) { staging } else { dir };
                let previous = dir.join(file_name(&view.name));
                work.push((view, from.join(table), previous.is_file().then_some(previous), definition));
            }
        }
    }
    let tables_options =
        TablesOptions { threads: options.threads.max(1), memory_limit: options.memory_limit, ..Default::default() };
    let kept_views: Vec<KeptView<'_>> =
        work.iter().map(|(view, table, previous, _)| KeptView { view, table, previous: previous.as_deref() }).collect();
    let out = staging.join(VIEWS_DIR);
    let outcomes = fhir_views::keep_views_current(&kept_views, &out, &tables_options, cancel).map_err(|e| match e {
        TablesError::Cancelled => DatasetError::Cancelled,
        // A table that cannot be read back: what the conversion's errors say.
        TablesError::Table(e) => DatasetError::Convert(e),
        TablesError::Input(e) => DatasetError::from(e),
        TablesError::OutputFolder { .. } => DatasetError::write(&out, e),
    })?;
    for ((view, _, _, definition), (outcome, reuse)) in work.iter().zip(outcomes) {
        let failure = outcome.failure.map(|f| f.to_string());
        if failure.is_none() {
            commit.replace.push(file_name(&view.name));
            kept.insert(
                view.name.clone(),
                KeptViewState { resource: view.resource.clone(), rows: outcome.rows, definition: definition.clone() },
            );
        }
        changes.push(ViewChange {
            view: view.name.clone(),
            resource: view.resource.clone(),
            rows: if failure.is_none() { outcome.rows } else { 0 },
            recomputed: true,
            reused_groups: reuse.reused_groups,
            derived_groups: reuse.derived_groups,
            computed_groups: reuse.computed_groups,
            failure,
        });
    }
    for name in state.views.keys().filter(|n| !kept.contains_key(*n)) {
        commit.remove.push(file_name(name));
    }
    state.views = kept;
    changes.sort_by(|a, b| a.view.cmp(&b.view));
    Ok(changes)
}
