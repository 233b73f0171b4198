//! The FHIR Bulk Data Access protocol (HL7 Bulk Data IG v2.0.0, FHIR R4) as a client library.
//!
//! It knows HTTP and the IG, not SQLite or the UI: callers pass URLs and settings in and get typed
//! results and typed errors (with plain-words messages) back.

mod answers;
pub mod ca_bundle;
pub mod capability;
mod certificate_problem;
pub mod client_identity;
pub mod client_secret;
mod content_encoding;
mod desktop_proxy;
pub mod download;
pub mod error;
pub mod export;
pub mod groups;
mod held_tail;
mod http;
pub mod keys;
pub mod origins;
pub mod proxy;
pub mod secrets;
pub mod session;
pub mod sign_in;
pub mod smart;
pub mod text;
mod token_endpoint;

pub use ca_bundle::{CaBundleError, check_ca_certificates};
pub use capability::{BULK_DATA_CAPABILITY, ServerSummary, fetch_summary};
pub use client_identity::{CertificateDescription, ClientIdentity, ClientIdentityError, PrivateKeyPart, identity_pem};
pub use client_secret::{ClientSecretAuth, SecretStyle, check_token_param};
pub use download::{DownloadError, DownloadLimits, Downloaded, FileSink};
pub use error::{HttpError, HttpErrorKind};
pub use export::{ExportLevel, ExportRequest, Manifest, ManifestFile, RetryAfter};
pub use groups::{GroupPage, GroupSummary, group_name_to_keep};
pub use held_tail::{HeldTail, OVERLAP};
pub use http::{HttpClient, NetworkSettings, NetworkSetupError, USER_AGENT};
pub use keys::{KeyAlgorithm, KeyError, SigningKey};
pub use origins::{OriginError, TokenOrigins, normalize_origin};
pub use proxy::{ProxyError, ProxySettings, check_proxy_url};
pub use secrets::Secrets;
pub use session::{ExportError, ExportErrorKind, ExportSession, Kickoff, Poll};
pub use sign_in::{SignIn, StaticBearer};
pub use smart::{AuthError, AuthErrorKind, BackendAuth, discover_token_url};
pub use text::printable;
