//! Rebuilding a dataset from its export folders (the last full export and every incremental one since, in
//! order), when an export could not be merged in its turn. The chain is applied to a fresh dataset in
//! `.rebuild/` inside this one, and only when every link applied are its files moved in, by one commit of
//! the journal: a link that fails leaves the dataset as it was, and readers never see the rebuild's steps.

use std::sync::atomic::AtomicBool;

use fhir_tables::ConvertOptions;

use crate::error::DatasetError;
use crate::journal::{self, Commit};
use crate::state::STATE_FILE;
use crate::views;
use crate::{Dataset, Update, UpdateReport};

const REBUILD: &str = ".rebuild";

impl Dataset {
    /// Replaces the dataset with `chain` applied to an empty one. The chain's first link must be a full
    /// export, each later one continue from the one before ([`DatasetError::Gap`] otherwise); returns the
    /// last link's report.
    pub fn rebuild(
        &mut self,
        chain: &[Update],
        options: &ConvertOptions,
        cancel: &AtomicBool,
    ) -> Result<UpdateReport, DatasetError> {
        if !chain.first().is_some_and(|u| u.full) {
            return Err(DatasetError::NoFullExport);
        }
        let scratch = self.dir.join(REBUILD);
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch).map_err(|e| DatasetError::write(&scratch, e))?;
        }
        let built = (|| {
            let mut fresh = Dataset::open(&scratch)?;
            let mut last = None;
            for link in chain {
                last = Some(fresh.apply(link, options, cancel)?);
            }
            Ok::<_, DatasetError>((fresh.state.clone(), last.expect("the chain has a first link")))
        })();
        let (mut state, mut report) = match built {
            Ok(done) => done,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&scratch);
                return Err(e);
            }
        };
        journal::recover(&self.dir)?;
        let staging = journal::fresh_staging(&self.dir)?;
        let mut commit = Commit::default();
        for name in state.tables.keys().map(|t| format!("{t}.parquet")) {
            std::fs::rename(scratch.join(&name), staging.join(&name)).map_err(|e| DatasetError::write(&staging, e))?;
            commit.replace.push(name);
        }
        // The views once, from the rebuilt tables (the chain's links kept none).
        let replaced = state.tables.keys().cloned().collect();
        state.views = self.state.views.clone();
        report.views =
            views::refresh(&self.dir, &staging, &self.views, &replaced, &mut state, &mut commit, options, cancel)?;
        state.save(&staging.join(STATE_FILE))?;
        commit.replace.push(STATE_FILE.to_string());
        commit.remove.extend(
            self.state.tables.keys().filter(|t| !state.tables.contains_key(*t)).map(|t| format!("{t}.parquet")),
        );
        journal::commit(&self.dir, &commit)?;
        let _ = std::fs::remove_dir_all(&scratch);
        self.state = state;
        Ok(report)
    }
}
