use std::path::{Path, PathBuf};

/// Why a dataset could not be opened or updated. In every case the dataset stays at its previous version.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("Haul could not read the current dataset at {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("Haul could not write the current dataset at {}: {message}. It stays at its previous version.", path.display())]
    Write { path: PathBuf, message: String },
    #[error(
        "Another update of the dataset at {} is running, so this export's changes were not merged. The next export rebuilds the dataset from the export folders.", .0.display()
    )]
    Busy(PathBuf),
    #[error(
        "The dataset holds {dataset}, but this export's changes start from {since}, so they cannot be merged into it."
    )]
    Gap { dataset: String, since: String },
    #[error(
        "The current dataset cannot be rebuilt: no chain of complete exports leads from a full export of this request to this one (one was deleted, had problems, or its new members' records did not all arrive). Run the export once without “since”: the dataset starts again there."
    )]
    NoFullExport,
    #[error(
        "The server's export time went backwards ({now} is before the dataset's {dataset}); Haul will not apply it as newer."
    )]
    Backwards { now: String, dataset: String },
    #[error("Converting the new resources failed: {0}")]
    Convert(#[from] fhir_tables::ConvertError),
    #[error("The update was stopped. The dataset stays at its previous version.")]
    Cancelled,
}

impl DatasetError {
    pub(crate) fn read(path: &Path, e: impl std::fmt::Display) -> Self {
        DatasetError::Read { path: path.to_path_buf(), message: e.to_string() }
    }
    pub(crate) fn write(path: &Path, e: impl std::fmt::Display) -> Self {
        DatasetError::Write { path: path.to_path_buf(), message: e.to_string() }
    }

    /// A stable code for the UI and the CLI's `--json`.
    pub fn code(&self) -> &'static str {
        match self {
            DatasetError::Read { .. } => "dataset_read",
            DatasetError::Write { .. } => "dataset_write",
            DatasetError::Busy(_) => "dataset_busy",
            DatasetError::Gap { .. } => "dataset_gap",
            DatasetError::NoFullExport => "dataset_no_full_export",
            DatasetError::Backwards { .. } => "dataset_backwards",
            DatasetError::Convert(e) => e.code(),
            DatasetError::Cancelled => "cancelled",
        }
    }
}

impl From<fhir_ndjson::NdjsonError> for DatasetError {
    fn from(e: fhir_ndjson::NdjsonError) -> Self {
        DatasetError::Convert(e.into())
    }
}
