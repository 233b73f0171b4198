//! Errors as the UI receives them: `{code, message, detail?, field?}`.

use bulk_client::{HttpError, HttpErrorKind};
use export_jobs::servers::ServerField;
use export_jobs::{DbError, ServerError};
use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ErrorCode {
    InvalidInput,
    DuplicateName,
    NotFound,
    DataDir,
    DatabaseCorrupt,
    DatabaseTooNew,
    DatabaseBusy,
    Database,
    UnknownHost,
    Unreachable,
    TimedOut,
    Tls,
    HttpStatus,
    NotFhir,
    BadResponse,
    Interrupted,
    /// The OS keychain could not give a key.
    Keychain,
    /// The server's token endpoint did not sign Haul in (its reason is in the message).
    SignIn,
    /// A Parquet conversion could not read or write a file.
    Conversion,
    /// The Files page could not read a file or write its index.
    Preview,
    /// A file changed while it was open; it is being indexed again.
    FileChanged,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct IpcError {
    pub code: ErrorCode,
    /// Plain words for the user, with what to do next.
    pub message: String,
    /// Technical detail (HTTP status, OperationOutcome, body excerpt), shown on request.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The form field the error is about, if any.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<ServerField>,
}

impl IpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), detail: None, field: None }
    }
}

impl From<&DbError> for IpcError {
    fn from(e: &DbError) -> Self {
        let code = match e {
            DbError::Corrupt { .. } => ErrorCode::DatabaseCorrupt,
            DbError::TooNew { .. } => ErrorCode::DatabaseTooNew,
            DbError::Busy { .. } => ErrorCode::DatabaseBusy,
            DbError::Other { .. } => ErrorCode::Database,
        };
        IpcError::new(code, e.to_string())
    }
}

impl From<DbError> for IpcError {
    fn from(e: DbError) -> Self {
        IpcError::from(&e)
    }
}

impl From<ServerError> for IpcError {
    fn from(e: ServerError) -> Self {
        let field = e.field();
        let code = match &e {
            ServerError::Invalid { .. } => ErrorCode::InvalidInput,
            ServerError::DuplicateName(_) => ErrorCode::DuplicateName,
            ServerError::NotFound(_) => ErrorCode::NotFound,
            ServerError::Db(db) => return IpcError::from(db),
        };
        IpcError { field, ..IpcError::new(code, e.to_string()) }
    }
}

impl From<HttpError> for IpcError {
    fn from(e: HttpError) -> Self {
        let code = match e.kind {
            HttpErrorKind::UnknownHost => ErrorCode::UnknownHost,
            HttpErrorKind::Unreachable => ErrorCode::Unreachable,
            HttpErrorKind::TimedOut => ErrorCode::TimedOut,
            HttpErrorKind::Tls => ErrorCode::Tls,
            HttpErrorKind::Status => ErrorCode::HttpStatus,
            HttpErrorKind::NotFhir => ErrorCode::NotFhir,
            HttpErrorKind::BadResponse => ErrorCode::BadResponse,
            HttpErrorKind::Interrupted => ErrorCode::Interrupted,
        };
        IpcError { code, message: e.message, detail: e.detail, field: None }
    }
}
