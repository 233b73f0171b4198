//! Atomic updates of a folder of tables that readers (BI tools, DuckDB) open by their plain names.
//!
//! An update writes every new file into `.next/`, then writes `.next/COMMIT` (the list of files to move in
//! and to remove) and flushes it to disk: that is the moment the update happens. Then the files are
//! renamed into place one by one (each rename is atomic) and `.next/` goes. Whoever opens the dataset
//! next finds either no `COMMIT` (the update never happened: `.next/` is thrown away, the previous
//! version is intact) or a `COMMIT` (the update happened: the renames are finished). So a crash or
//! `kill -9` at any point leaves the previous version readable, and the next run completes or discards.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::DatasetError;

pub(crate) const STAGING: &str = ".next";
const COMMIT: &str = "COMMIT";

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Commit {
    /// Files in `.next/` that replace (or add) the file of the same name in the dataset; the state file
    /// comes last, so it never names a table that is not yet in place.
    pub replace: Vec<String>,
    /// Files of the dataset that the update removes (a type a full export no longer has).
    pub remove: Vec<String>,
}

/// `.next/` under `dir`, emptied: anything there is a previous update that never committed.
pub(crate) fn fresh_staging(dir: &Path) -> Result<PathBuf, DatasetError> {
    let staging = dir.join(STAGING);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| DatasetError::write(&staging, e))?;
    }
    std::fs::create_dir_all(&staging).map_err(|e| DatasetError::write(&staging, e))?;
    Ok(staging)
}

/// Makes the update happen (see the module comment), then moves the files in.
pub(crate) fn commit(dir: &Path, commit: &Commit) -> Result<(), DatasetError> {
    let staging = dir.join(STAGING);
    for name in &commit.replace {
        sync_file(&staging.join(name))?;
    }
    let path = staging.join(COMMIT);
    let part = staging.join("COMMIT.part");
    let mut f = File::create(&part).map_err(|e| DatasetError::write(&part, e))?;
    f.write_all(&serde_json::to_vec(commit).expect("a commit serializes"))
        .map_err(|e| DatasetError::write(&part, e))?;
    f.sync_all().map_err(|e| DatasetError::write(&part, e))?;
    std::fs::rename(&part, &path).map_err(|e| DatasetError::write(&path, e))?;
    sync_dir(&staging);
    finish(dir, commit)
}

/// Completes a committed update or discards one that never committed. Called whenever a dataset is opened.
pub(crate) fn recover(dir: &Path) -> Result<Option<bool>, DatasetError> {
    let staging = dir.join(STAGING);
    if !staging.exists() {
        return Ok(None);
    }
    let path = staging.join(COMMIT);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let commit: Commit = serde_json::from_slice(&bytes).map_err(|e| DatasetError::read(&path, e))?;
            finish(dir, &commit)?;
            Ok(Some(true))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::remove_dir_all(&staging).map_err(|e| DatasetError::write(&staging, e))?;
            Ok(Some(false))
        }
        Err(e) => Err(DatasetError::read(&path, e)),
    }
}

fn finish(dir: &Path, commit: &Commit) -> Result<(), DatasetError> {
    let staging = dir.join(STAGING);
    for name in &commit.remove {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(DatasetError::write(&path, e)),
        }
    }
    for name in &commit.replace {
        let from = staging.join(name);
        // Moved already by a run that was stopped half-way through these renames.
        if !from.exists() {
            continue;
        }
        let to = dir.join(name);
        // `views/<name>.parquet`: its folder is made with the first view.
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| DatasetError::write(parent, e))?;
        }
        std::fs::rename(&from, &to).map_err(|e| DatasetError::write(&to, e))?;
    }
    sync_dir(dir);
    // Files moved into a folder of the dataset (`views/`): that folder's entries too.
    let folders: std::collections::BTreeSet<PathBuf> =
        commit.replace.iter().filter_map(|n| dir.join(n).parent().map(Path::to_path_buf)).collect();
    for folder in folders.iter().filter(|f| f.as_path() != dir) {
        sync_dir(folder);
    }
    std::fs::remove_dir_all(&staging).map_err(|e| DatasetError::write(&staging, e))
}

/// Opened for writing: on Windows, flushing a file needs write access.
fn sync_file(path: &Path) -> Result<(), DatasetError> {
    File::options().write(true).open(path).and_then(|f| f.sync_all()).map_err(|e| DatasetError::write(path, e))
}

/// Makes the renames durable where the platform can (directories cannot be opened for syncing on Windows).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn an_update_that_never_committed_is_discarded_and_the_old_files_stay() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("Patient.parquet"), "old");
        let staging = fresh_staging(dir.path()).unwrap();
        write(&staging.join("Patient.parquet"), "new");
        assert_eq!(recover(dir.path()).unwrap(), Some(false));
        assert_eq!(std::fs::read_to_string(dir.path().join("Patient.parquet")).unwrap(), "old");
        assert!(!staging.exists());
        assert_eq!(recover(dir.path()).unwrap(), None);
    }

    #[test]
    fn a_committed_update_stopped_half_way_through_its_renames_is_completed() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("Patient.parquet"), "old");
        write(&dir.path().join("Gone.parquet"), "old");
        write(&dir.path().join("state.json"), "old");
        let staging = fresh_staging(dir.path()).unwrap();
        // The Patient table was moved in before the stop; the state file was not.
        write(&dir.path().join("Patient.parquet"), "new");
        write(&staging.join("state.json"), "new");
        let c = Commit {
            replace: vec!["Patient.parquet".into(), "state.json".into()],
            remove: vec!["Gone.parquet".into()],
        };
        write(&staging.join(COMMIT), &serde_json::to_string(&c).unwrap());
        assert_eq!(recover(dir.path()).unwrap(), Some(true));
        assert_eq!(std::fs::read_to_string(dir.path().join("Patient.parquet")).unwrap(), "new");
        assert_eq!(std::fs::read_to_string(dir.path().join("state.json")).unwrap(), "new");
        assert!(!dir.path().join("Gone.parquet").exists());
        assert!(!staging.exists());
    }

    #[test]
    fn commit_moves_every_file_in_and_removes_what_it_lists() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("Old.parquet"), "old");
        let staging = fresh_staging(dir.path()).unwrap();
        write(&staging.join("New.parquet"), "new");
        commit(dir.path(), &Commit { replace: vec!["New.parquet".into()], remove: vec!["Old.parquet".into()] })
            .unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("New.parquet")).unwrap(), "new");
        assert!(!dir.path().join("Old.parquet").exists());
        assert!(!staging.exists());
    }
}
