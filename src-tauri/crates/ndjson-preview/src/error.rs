use thiserror::Error;

/// What can go wrong while previewing a folder, in words a user can act on.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PreviewError {
    #[error("There are no NDJSON files (.ndjson or .ndjson.gz) in {folder}.")]
    NoNdjson { folder: String },
    #[error("Haul could not read {path}: {message}")]
    Read { path: String, message: String },
    #[error("Haul could not write its preview index at {path}: {message}")]
    Cache { path: String, message: String },
    #[error("{path} changed while it was open. Haul is indexing it again.")]
    Changed { path: String },
    #[error("This folder has no {resource_type} files.")]
    NoSuchType { resource_type: String },
    #[error("Row {row} is past the end of {resource_type} ({rows} rows).")]
    NoSuchRow { resource_type: String, row: u64, rows: u64 },
    #[error("Haul could not write {path}: {message}")]
    Write { path: String, message: String },
    #[error("Type some text to find.")]
    EmptyQuery,
    #[error("Stopped.")]
    Cancelled,
}

impl PreviewError {
    pub fn code(&self) -> &'static str {
        match self {
            PreviewError::NoNdjson { .. } => "no_ndjson",
            PreviewError::Read { .. } => "read",
            PreviewError::Cache { .. } => "cache",
            PreviewError::Changed { .. } => "changed",
            PreviewError::NoSuchType { .. } => "no_such_type",
            PreviewError::NoSuchRow { .. } => "no_such_row",
            PreviewError::Write { .. } => "write",
            PreviewError::EmptyQuery => "empty_query",
            PreviewError::Cancelled => "cancelled",
        }
    }

    pub(crate) fn read(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        PreviewError::Read { path: path.display().to_string(), message: e.to_string() }
    }

    pub(crate) fn write(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        PreviewError::Write { path: path.display().to_string(), message: e.to_string() }
    }

    pub(crate) fn cache(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        PreviewError::Cache { path: path.display().to_string(), message: e.to_string() }
    }
}

/// Finding and opening files (`fhir-ndjson`): a read error names the file that failed.
impl From<fhir_ndjson::NdjsonError> for PreviewError {
    fn from(e: fhir_ndjson::NdjsonError) -> Self {
        match e {
            fhir_ndjson::NdjsonError::NoInput { paths } => PreviewError::NoNdjson { folder: paths },
            fhir_ndjson::NdjsonError::Read { path, source } => PreviewError::Read { path, message: source.to_string() },
            fhir_ndjson::NdjsonError::UnknownType { ref path } => {
                PreviewError::Read { path: path.clone(), message: e.to_string() }
            }
        }
    }
}
