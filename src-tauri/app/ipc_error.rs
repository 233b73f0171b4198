//! Errors as the UI receives them: `{code, message, detail?, field?}`.

use bulk_client::{HttpError, HttpErrorKind};
use export_jobs::{FolderError, JobError, PlanError};
use haul_store::servers::ServerField;
use haul_store::{DbError, ServerError};
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
    /// The OS keychain could not give a key or secret.
    Keychain,
    /// The server signs in with a client secret or bearer token and none is saved: enter it on the Servers
    /// page.
    NoSecret,
    /// The server's token endpoint did not sign Haul in (its reason is in the message).
    SignIn,
    /// A Parquet conversion or "Make tables" could not read or write a file.
    Conversion,
    /// The Files page could not read a file or write its index.
    Preview,
    /// A file changed while it was open; it is being indexed again.
    FileChanged,
    /// A proxy asked for a user name and password, or refused the ones saved for the server.
    ProxyRefused,
    /// Object storage (S3, Azure, GCS) refused Haul's credentials or failed a request.
    Storage,
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
            ServerError::Invalid { .. }
            | ServerError::TrustedOrigin(_)
            | ServerError::UnknownProfile(_)
            | ServerError::CaFile(_)
            | ServerError::Proxy(_)
            | ServerError::ClientCertificate(_) => ErrorCode::InvalidInput,
            ServerError::DuplicateName(_) => ErrorCode::DuplicateName,
            ServerError::NotFound(_) => ErrorCode::NotFound,
            ServerError::NoSecret { .. } => ErrorCode::NoSecret,
            ServerError::Keychain(_) => ErrorCode::Keychain,
            ServerError::Db(db) => return IpcError::from(db),
        };
        IpcError { field, ..IpcError::new(code, e.to_string()) }
    }
}

impl From<FolderError> for IpcError {
    fn from(e: FolderError) -> Self {
        let code = match &e {
            FolderError::Unwritable { .. }
            | FolderError::NotEmpty(_)
            | FolderError::NotOurs(_)
            | FolderError::NotAFolder(_) => ErrorCode::InvalidInput,
            FolderError::Delete { .. } => ErrorCode::DataDir,
        };
        IpcError::new(code, e.to_string())
    }
}

impl From<PlanError> for IpcError {
    fn from(e: PlanError) -> Self {
        let code = match e {
            PlanError::NoSuchExport(_) => ErrorCode::NotFound,
            PlanError::SignInIncomplete(_)
            | PlanError::ClientIdMissing(_)
            | PlanError::PatientsNeedPatientLevel
            | PlanError::GroupIdMissing
            | PlanError::NoPointInTime
            | PlanError::NotAStartingPoint(_)
            | PlanError::ContainerName(_)
            | PlanError::OneAtATime { .. }
            | PlanError::Quirk(_)
            | PlanError::Destination(_) => ErrorCode::InvalidInput,
            PlanError::Folder(f) => return f.into(),
            PlanError::Server(s) => return s.into(),
            PlanError::Db(db) => return db.into(),
        };
        IpcError::new(code, e.to_string())
    }
}

impl From<JobError> for IpcError {
    fn from(e: JobError) -> Self {
        let code = match e {
            JobError::NotFound(_) => ErrorCode::NotFound,
            JobError::Finished { .. }
            | JobError::AlreadyRunning(_)
            | JobError::FilesExpired { .. }
            | JobError::NothingBlocking(_) => ErrorCode::InvalidInput,
            JobError::Folder(f) => return f.into(),
            JobError::Plan(p) => return p.into(),
            JobError::Db(db) => return db.into(),
            JobError::Key(haul_store::KeyStoreError::NoSecret(_)) => ErrorCode::NoSecret,
            JobError::Key(_) => ErrorCode::Keychain,
            JobError::Server { message, detail } => {
                return IpcError { detail, ..IpcError::new(ErrorCode::HttpStatus, message) };
            }
        };
        IpcError::new(code, e.to_string())
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
            HttpErrorKind::BadResponse | HttpErrorKind::RefusedAddress => ErrorCode::BadResponse,
            HttpErrorKind::Interrupted => ErrorCode::Interrupted,
            HttpErrorKind::ProxyRefused => ErrorCode::ProxyRefused,
        };
        IpcError { code, message: e.message, detail: e.detail, field: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_keep_their_words_and_get_a_code_the_ui_branches_on() {
        let e = IpcError::from(PlanError::SignInIncomplete("EHR".into()));
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.contains("“EHR”"), "{}", e.message);
        let e = IpcError::from(PlanError::Folder(FolderError::NotEmpty("/x".into())));
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.contains("not empty"));
        assert_eq!(IpcError::from(PlanError::NoSuchExport(3)).code, ErrorCode::NotFound);
        let e = IpcError::from(JobError::Server { message: "Refused.".into(), detail: Some("HTTP 403".into()) });
        assert_eq!(
            (e.code, e.message.as_str(), e.detail.as_deref()),
            (ErrorCode::HttpStatus, "Refused.", Some("HTTP 403"))
        );
        assert_eq!(IpcError::from(JobError::AlreadyRunning(2)).code, ErrorCode::InvalidInput);
        let e = IpcError::from(ServerError::NotFound(1));
        assert_eq!(e.code, ErrorCode::NotFound);
    }

    #[test]
    fn a_missing_secret_says_where_to_enter_it() {
        let e =
            IpcError::from(PlanError::Server(ServerError::NoSecret { server: "BCDA".into(), what: "client secret" }));
        assert_eq!((e.code, e.field), (ErrorCode::NoSecret, Some(ServerField::Secret)));
        assert!(e.message.contains("“BCDA”") && e.message.contains("Servers page"), "{}", e.message);
        // The same for a saved server's session outside an export (Test the whole connection, Group search).
        let e = IpcError::from(JobError::Plan(PlanError::Server(ServerError::NoSecret {
            server: "BCDA".into(),
            what: "client secret",
        })));
        assert_eq!((e.code, e.field), (ErrorCode::NoSecret, Some(ServerField::Secret)));
        let e = IpcError::from(JobError::Key(haul_store::KeyStoreError::NoSecret("Set GATEWAY_TOKEN.".into())));
        assert_eq!((e.code, e.message.as_str()), (ErrorCode::NoSecret, "Set GATEWAY_TOKEN."));
    }

    #[test]
    fn a_refused_trusted_origin_reaches_the_form_beside_its_field() {
        let refused = bulk_client::normalize_origin("http://files.example.com").unwrap_err();
        let e = IpcError::from(ServerError::from(refused));
        assert_eq!((e.code, e.field), (ErrorCode::InvalidInput, Some(ServerField::TrustedOrigins)));
        assert!(e.message.contains("“http://files.example.com” must start with https://"), "{}", e.message);
    }
}
