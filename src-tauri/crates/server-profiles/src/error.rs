//! What can go wrong with a profile, in words a user or a profile author can act on.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProfileError {
    /// The file is not JSON of the profile's shape (a misspelt or unknown field lands here).
    #[error("The server profile file {file}.json could not be read: {source}")]
    Parse {
        file: String,
        #[source]
        source: serde_json::Error,
    },
    /// The file parsed but says something impossible or unsupported.
    #[error("The server profile {id} is not valid: {problem}")]
    Invalid { id: String, problem: String },
    /// Two embedded profiles share an id.
    #[error("Two server profiles use the id {id}; each needs its own.")]
    DuplicateId { id: String },
    /// A `_since` value that is not a FHIR instant.
    #[error(
        "{value:?} is not a date and time Haul can send as _since; write it like 2026-01-01T00:00:00Z, with seconds and a time zone."
    )]
    NotAnInstant { value: String },
    /// The user asked for a kick-off parameter this kind of server turns down.
    #[error("{server} does not accept the {param} parameter; leave it out and try again.")]
    RefusedParam { server: String, param: String },
}
