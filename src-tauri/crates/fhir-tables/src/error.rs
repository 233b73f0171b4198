use std::path::Path;

/// Why a conversion stopped. Bad lines are not errors: they are counted and reported.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("There are no NDJSON files (.ndjson or .ndjson.gz) in {paths}.")]
    NoInput { paths: String },
    #[error(
        "Haul can't tell which resource type {path} holds: its name doesn't start with one and its first line has no resourceType."
    )]
    UnknownType { path: String },
    #[error("Haul could not read {path}: {message}")]
    Read { path: String, message: String },
    #[error("Haul could not write {path}: {message}")]
    Write { path: String, message: String },
    #[error("{path} changed while it was being converted ({detail}). Its table was not replaced; convert again.")]
    Changed { path: String, detail: String },
    #[error(
        "The conversion was stopped. The table it was writing was not replaced; tables finished before the stop are in place."
    )]
    Cancelled,
    #[error("Invalid setting: {0}")]
    Settings(String),
}

/// The same sentences as before the input rules moved to `fhir-ndjson`.
impl From<fhir_ndjson::NdjsonError> for ConvertError {
    fn from(e: fhir_ndjson::NdjsonError) -> Self {
        match e {
            fhir_ndjson::NdjsonError::NoInput { paths } => ConvertError::NoInput { paths },
            fhir_ndjson::NdjsonError::UnknownType { path } => ConvertError::UnknownType { path },
            fhir_ndjson::NdjsonError::Read { path, source } => ConvertError::Read { path, message: source.to_string() },
        }
    }
}

impl ConvertError {
    pub fn read(path: &Path, e: std::io::Error) -> Self {
        ConvertError::Read { path: path.display().to_string(), message: e.to_string() }
    }

    pub fn write(path: &Path, e: impl std::fmt::Display) -> Self {
        ConvertError::Write { path: path.display().to_string(), message: e.to_string() }
    }

    /// A short stable name for the kind of error, for the app's `{code, message}`.
    pub fn code(&self) -> &'static str {
        match self {
            ConvertError::NoInput { .. } => "no_input",
            ConvertError::UnknownType { .. } => "unknown_type",
            ConvertError::Read { .. } => "read",
            ConvertError::Write { .. } => "write",
            ConvertError::Changed { .. } => "changed",
            ConvertError::Cancelled => "cancelled",
            ConvertError::Settings(_) => "settings",
        }
    }
}
