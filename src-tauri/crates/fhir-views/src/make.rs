//! The entry points: every view over a folder of NDJSON ([`make_tables`]), or views kept current over Parquet
//! tables ([`keep_views_current`]); each view through `run`'s pipeline.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use fhir_ndjson::TypeInput;

use crate::kept::{Following, KeptView, Reuse};
use crate::run::{Format, TablesError, TablesOptions, TablesProgress, ViewOutcome, run_view};
use crate::source::Source;
use crate::view::View;

/// Runs every view over the NDJSON files in `input` (a folder or files), writing under `out`, one view after
/// the other. (Two views side by side, each with half the memory limit, was slower: tables_bench 1.27 s
/// against 1.18 s the same day.)
pub fn make_tables(
    input: &[PathBuf],
    views: &[View],
    out: &Path,
    options: &TablesOptions,
    progress: &(dyn Fn(&TablesProgress) + Sync),
    cancel: &AtomicBool,
) -> Result<Vec<ViewOutcome>, TablesError> {
    let inputs = match fhir_ndjson::find_inputs(input) {
        Ok(i) => i,
        // A folder without NDJSON: every view is an empty table.
        Err(fhir_ndjson::NdjsonError::NoInput { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    std::fs::create_dir_all(out)
        .map_err(|source| TablesError::OutputFolder { path: out.display().to_string(), source })?;
    let mut outcomes = Vec::new();
    for (i, view) in views.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Err(TablesError::Cancelled);
        }
        let of_type = inputs.iter().find(|t| t.resource_type == view.resource);
        let total = of_type.map_or(0, TypeInput::bytes);
        let report = |bytes_read, rows| {
            progress(&TablesProgress {
                view: view.name.clone(),
                view_number: i + 1,
                views: views.len(),
                bytes_read,
                bytes_total: total,
                rows,
            })
        };
        let files: Vec<PathBuf> = of_type.map(|t| t.files.iter().map(|f| f.path.clone()).collect()).unwrap_or_default();
        outcomes.push(run_view(view, Source::Ndjson(&files), out, options, &report, cancel, None)?);
    }
    Ok(outcomes)
}

/// Keeps views current over Parquet tables as `haul convert` writes them (a current dataset's): each view's
/// `<view>.parquet` is written under `out`, reusing the rows of table row groups unchanged since its previous
/// file and of rows a merge kept ([`crate::kept`]). Parquet only, whatever `options.formats` says.
pub fn keep_views_current(
    kept: &[KeptView<'_>],
    out: &Path,
    options: &TablesOptions,
    cancel: &AtomicBool,
) -> Result<Vec<(ViewOutcome, Reuse)>, TablesError> {
    std::fs::create_dir_all(out)
        .map_err(|source| TablesError::OutputFolder { path: out.display().to_string(), source })?;
    let options = TablesOptions { formats: vec![Format::Parquet], ..options.clone() };
    let mut outcomes = Vec::new();
    for k in kept {
        if cancel.load(Ordering::Relaxed) {
            return Err(TablesError::Cancelled);
        }
        let plan = crate::kept::plan(k, cancel)?;
        let (groups, reuse) = (plan.to_read(), plan.reuse());
        let source = Source::Table { path: k.table, keep: &k.view.keep, groups: &groups };
        let mut outcome = run_view(k.view, source, out, &options, &|_, _| {}, cancel, Some(Following::new(plan)))?;
        // Reused row groups are counted from the file: the pipeline counts only the rows it evaluated.
        if let Some(file) = outcome.files.first() {
            outcome.rows = parquet_rows(file)
                .map_err(|message| fhir_tables::ConvertError::Read { path: file.display().to_string(), message })?;
        }
        outcomes.push((outcome, reuse));
    }
    Ok(outcomes)
}

fn parquet_rows(path: &Path) -> Result<u64, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let metadata =
        parquet::file::metadata::ParquetMetaDataReader::new().parse_and_finish(&file).map_err(|e| e.to_string())?;
    Ok(metadata.file_metadata().num_rows() as u64)
}
