//! What a dataset knows of itself, kept beside its tables (`haul-dataset.json`, replaced atomically with them).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::DatasetError;
use crate::views::KeptViewState;

pub const STATE_FILE: &str = "haul-dataset.json";
const FORMAT: u32 = 1;

/// One export applied to the dataset, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct AppliedExport {
    /// The export's number in Haul's history.
    #[ts(type = "number")]
    pub export_id: i64,
    /// The server's transactionTime: the next incremental export asks for changes since this.
    pub transaction_time: String,
    /// A full export replaced the dataset; an incremental one was merged into it.
    pub full: bool,
    /// Patients who joined the group with this export (their full records were merged in).
    #[ts(type = "number")]
    pub joined: u64,
    /// Patients who left the group with this export (their resources were taken out).
    #[ts(type = "number")]
    pub left: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetState {
    pub format: u32,
    pub applied: Vec<AppliedExport>,
    /// The group's members as of the last export, when known (group exports whose Group could be read).
    pub members: Option<BTreeSet<String>>,
    /// Rows per table.
    pub tables: BTreeMap<String, u64>,
    /// The flat views kept in `views/`, by name (none in a dataset written before views were kept).
    #[serde(default)]
    pub views: BTreeMap<String, KeptViewState>,
}

impl DatasetState {
    pub(crate) fn load(dir: &Path) -> Result<DatasetState, DatasetError> {
        let path = dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let state: DatasetState = serde_json::from_slice(&bytes).map_err(|e| DatasetError::read(&path, e))?;
                if state.format > FORMAT {
                    return Err(DatasetError::read(&path, "it was written by a newer version of Haul"));
                }
                Ok(state)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(DatasetState { format: FORMAT, ..Default::default() })
            }
            Err(e) => Err(DatasetError::read(&path, e)),
        }
    }

    pub(crate) fn save(&self, path: &Path) -> Result<(), DatasetError> {
        let bytes = serde_json::to_vec_pretty(self).expect("the state serializes");
        std::fs::write(path, bytes).map_err(|e| DatasetError::write(path, e))
    }

    /// The export the dataset is at.
    pub fn last(&self) -> Option<&AppliedExport> {
        self.applied.last()
    }
}
