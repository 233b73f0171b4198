use std::path::Path;

/// Why NDJSON input could not be found or read. A bad line is not an error: see [`crate::LineProblem`].
#[derive(Debug, thiserror::Error)]
pub enum NdjsonError {
    #[error("There are no NDJSON files (.ndjson or .ndjson.gz) in {paths}.")]
    NoInput { paths: String },
    #[error(
        "Haul can't tell which resource type {path} holds: its name doesn't start with one and its first line has no resourceType."
    )]
    UnknownType { path: String },
    #[error("Haul could not read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl NdjsonError {
    pub fn read(path: &Path, source: std::io::Error) -> Self {
        NdjsonError::Read { path: path.display().to_string(), source }
    }
}

/// For callers that speak `io::Result`: a read error is the I/O error itself (the caller names the file), the
/// others keep their sentence.
impl From<NdjsonError> for std::io::Error {
    fn from(e: NdjsonError) -> Self {
        match e {
            NdjsonError::Read { source, .. } => source,
            NdjsonError::NoInput { .. } => std::io::Error::new(std::io::ErrorKind::NotFound, e.to_string()),
            NdjsonError::UnknownType { .. } => std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
        }
    }
}
