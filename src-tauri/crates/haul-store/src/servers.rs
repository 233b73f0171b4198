//! Servers the user exports from: validation of what the user typed, and their rows in SQLite.

use bulk_client::{OriginError, SecretStyle};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use url::{Host, Url};

use crate::db::{Database, DbError};
use crate::keychain::{Keychain, KeychainError};
use sign_in::validate_sign_in;

pub use ca_file::{CaFileError, read_ca_file};
pub use network::{
    ClientCertificateFileError, ClientCertificateInfo, ProxyInput, ServerProxy, read_client_certificate_file,
};
pub use sign_in::check_jku;

mod ca_file;
mod network;
mod profile;
pub(crate) mod secret;
mod sign_in;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AuthKind {
    /// No authorization: open test servers, or servers behind a network boundary.
    #[default]
    Open,
    /// SMART Backend Services: a signed JWT traded for a short-lived token.
    SmartBackend,
    /// OAuth 2.0 client credentials with a client ID and secret (CMS BCDA and AB2D, Microsoft Entra).
    ClientSecret,
    /// A bearer token the user pastes (some gateways issue them by hand); never renewed.
    BearerToken,
}

impl AuthKind {
    fn as_sql(self) -> &'static str {
        match self {
            AuthKind::Open => "open",
            AuthKind::SmartBackend => "smart_backend",
            AuthKind::ClientSecret => "client_secret",
            AuthKind::BearerToken => "bearer_token",
        }
    }

    fn from_sql(s: &str) -> Self {
        match s {
            "smart_backend" => AuthKind::SmartBackend,
            "client_secret" => AuthKind::ClientSecret,
            "bearer_token" => AuthKind::BearerToken,
            _ => AuthKind::Open,
        }
    }

    /// What the keychain holds for this method, in words; `None` for methods with no secret to enter.
    pub fn secret_words(self) -> Option<&'static str> {
        match self {
            AuthKind::ClientSecret => Some("client secret"),
            AuthKind::BearerToken => Some("bearer token"),
            AuthKind::Open | AuthKind::SmartBackend => None,
        }
    }
}

/// A saved server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Server {
    #[ts(type = "number")]
    pub id: i64,
    pub name: String,
    /// The FHIR base URL, without a trailing slash.
    pub base_url: String,
    pub auth: AuthKind,
    pub client_id: Option<String>,
    pub scope: Option<String>,
    /// The built-in demo server: its address is managed by the app.
    pub builtin: bool,
    /// The signing key (kid) for SMART Backend Services.
    pub key_kid: Option<String>,
    /// The token endpoint, when set by hand (otherwise discovered from the server).
    pub token_url: Option<String>,
    /// SMART: the key id the server assigned to the uploaded public key (DPC), sent as the assertion's `kid`
    /// instead of the key's own.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assertion_kid: Option<String>,
    /// SMART: the JWKS URL the server has registered for this client, sent as the assertion's `jku`.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jku: Option<String>,
    /// Storage origins (`https://host[:port]`, normalized) that also receive the access token, besides the
    /// server's own origin. Empty unless the user listed some.
    pub trusted_origins: Vec<String>,
    /// How the client secret is sent (client-secret sign-in only).
    pub secret_style: Option<SecretStyle>,
    /// Extra fields of the token request, such as `audience` (client-secret sign-in only).
    pub token_params: Vec<(String, String)>,
    /// A client secret or bearer token is saved in the OS keychain for this server. The secret itself
    /// never leaves the keychain towards the UI.
    pub secret_saved: bool,
    /// The kind of server (a `server-profiles` id such as `cms-bcda`), chosen in the form: its quirks apply
    /// to exports. None: a standard server.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    /// A CA certificate file (PEM) the server's certificate is also checked against: for servers behind
    /// their organisation's own certificate authority. Set on its own (`Database::set_server_ca_file`).
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// The server's own proxy (`Database::set_server_proxy`); none: this computer's proxy settings.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ServerProxy>,
    /// The client certificate sent to servers that ask for one (`Database::set_server_client_certificate`).
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<ClientCertificateInfo>,
    pub created_at: String,
    pub updated_at: String,
}

/// What the user typed in the server form. The secret is not part of it: it goes to the keychain on its
/// own (`Database::set_server_secret`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ServerInput {
    pub name: String,
    pub base_url: String,
    pub auth: AuthKind,
    #[ts(optional)]
    pub client_id: Option<String>,
    #[ts(optional)]
    pub scope: Option<String>,
    #[ts(optional)]
    #[serde(default)]
    pub key_kid: Option<String>,
    #[ts(optional)]
    #[serde(default)]
    pub token_url: Option<String>,
    /// SMART: the key id the server assigned (blank: the key's own kid).
    #[ts(optional)]
    #[serde(default)]
    pub assertion_kid: Option<String>,
    /// SMART: the registered JWKS URL to send as `jku` (blank: none).
    #[ts(optional)]
    #[serde(default)]
    pub jku: Option<String>,
    /// Storage origins to trust with the token, as typed (checked and normalized on save). Callers that
    /// predate the field send none; the UI always sends it, so an edit never drops the list by accident.
    #[serde(default)]
    pub trusted_origins: Vec<String>,
    /// Client-secret sign-in: Basic (the default) or form fields.
    #[ts(optional)]
    #[serde(default)]
    pub secret_style: Option<SecretStyle>,
    /// Client-secret sign-in: extra token request fields as (name, value).
    #[serde(default)]
    pub token_params: Vec<(String, String)>,
}

pub const DEFAULT_SCOPE: &str = "system/*.read";

/// The name the built-in demo server gets on first start.
pub const DEMO_NAME: &str = "Demo server";

/// Which field of the form an error is about, so the UI can put the message beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum ServerField {
    Name,
    BaseUrl,
    ClientId,
    Scope,
    KeyKid,
    TokenUrl,
    AssertionKid,
    Jku,
    TrustedOrigins,
    TokenParams,
    /// The client secret or bearer token.
    Secret,
    ProxyUrl,
    ProxyUsername,
    ProxyPassword,
    ClientCertificate,
    /// The password of a PKCS#12 client certificate file.
    ClientCertificatePassword,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{message}")]
    Invalid { field: ServerField, message: String },
    #[error("A server named “{0}” already exists. Choose another name.")]
    DuplicateName(String),
    #[error("That server no longer exists; it may have been removed in another window.")]
    NotFound(i64),
    /// An entry of the trusted storage origins is not an origin (the message quotes it).
    #[error(transparent)]
    TrustedOrigin(#[from] OriginError),
    /// The server signs in with a secret and none has been entered.
    #[error(
        "“{server}” signs in with a {what}, and none is saved in Haul yet. Enter it on the Servers page, then try again."
    )]
    NoSecret { server: String, what: &'static str },
    #[error("Haul has no server profile “{0}”.")]
    UnknownProfile(String),
    /// The CA certificate file chosen for the server is missing, unreadable or holds no certificate.
    #[error(transparent)]
    CaFile(#[from] CaFileError),
    /// The proxy address typed for the server is not one Haul can use.
    #[error(transparent)]
    Proxy(#[from] bulk_client::ProxyError),
    /// The client certificate file is missing, unreadable, or not a certificate with its key.
    #[error(transparent)]
    ClientCertificate(#[from] ClientCertificateFileError),
    #[error(transparent)]
    Keychain(#[from] KeychainError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl ServerError {
    pub fn field(&self) -> Option<ServerField> {
        match self {
            ServerError::Invalid { field, .. } => Some(*field),
            ServerError::DuplicateName(_) => Some(ServerField::Name),
            ServerError::TrustedOrigin(_) => Some(ServerField::TrustedOrigins),
            ServerError::NoSecret { .. } => Some(ServerField::Secret),
            ServerError::Proxy(_) => Some(ServerField::ProxyUrl),
            ServerError::ClientCertificate(e) if e.is_about_password() => Some(ServerField::ClientCertificatePassword),
            ServerError::ClientCertificate(_) => Some(ServerField::ClientCertificate),
            _ => None,
        }
    }
}

fn invalid(field: ServerField, message: impl Into<String>) -> ServerError {
    ServerError::Invalid { field, message: message.into() }
}

/// The result of checking a FHIR base URL the user typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct UrlCheck {
    /// The URL as Haul will store it: trimmed, no trailing slash.
    pub normalized: String,
    /// Set when the URL is usable but risky (plain http to another machine).
    pub warning: Option<String>,
}

/// Checks a FHIR base URL. Errors are sentences a non-programmer can act on.
pub fn check_base_url(input: &str) -> Result<UrlCheck, ServerError> {
    let field = ServerField::BaseUrl;
    let text = input.trim();
    if text.is_empty() {
        return Err(invalid(field, "Enter the server's FHIR base URL, for example https://ehr.example.org/fhir."));
    }
    let url = match Url::parse(text) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            return Err(invalid(
                field,
                format!(
                    "“{text}” is not a complete web address. It should start with https://, for example https://{text}."
                ),
            ));
        }
        Err(_) => {
            return Err(invalid(
                field,
                format!("“{text}” is not a web address. A FHIR base URL looks like https://ehr.example.org/fhir."),
            ));
        }
    };
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(invalid(
            field,
            format!(
                "Haul talks to FHIR servers over https:// (or http://); “{}:” addresses are not supported.",
                url.scheme()
            ),
        ));
    }
    let Some(host) = url.host() else {
        return Err(invalid(field, "The address has no server name after https://."));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            field,
            "Leave the user name and password out of the address: Haul would have to store them in plain text. Use SMART Backend Services authorization instead.",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            field,
            "A FHIR base URL ends at the path (like https://ehr.example.org/fhir); remove the part from ? or # on.",
        ));
    }
    let warning = (url.scheme() == "http" && !is_loopback(&host)).then(|| {
        "This address uses http://, so data, patient records included, would cross the network unencrypted. Use https:// unless this is a test server on a private network.".to_string()
    });
    let normalized = url.as_str().trim_end_matches('/').to_string();
    Ok(UrlCheck { normalized, warning })
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// A validated form: every field trimmed, optional fields empty → None, sign-in settings only for the
/// chosen method.
struct ValidServer {
    name: String,
    base_url: String,
    auth: AuthKind,
    client_id: Option<String>,
    scope: Option<String>,
    key_kid: Option<String>,
    token_url: Option<String>,
    /// JSON array, as stored.
    trusted_origins: String,
    secret_style: Option<&'static str>,
    /// JSON array of [name, value] pairs, as stored.
    token_params: String,
    assertion_kid: Option<String>,
    jku: Option<String>,
}

fn validate(input: &ServerInput) -> Result<ValidServer, ServerError> {
    let name = input.name.trim();
    if name.is_empty() {
        return Err(invalid(ServerField::Name, "Give the server a name, for example “Payer production”."));
    }
    if name.chars().count() > 100 {
        return Err(invalid(ServerField::Name, "Keep the name under 100 characters."));
    }
    let base_url = check_base_url(&input.base_url)?.normalized;
    let sign_in = validate_sign_in(input)?;
    Ok(ValidServer {
        name: name.to_string(),
        base_url,
        auth: input.auth,
        client_id: sign_in.client_id,
        scope: sign_in.scope,
        key_kid: sign_in.key_kid,
        token_url: sign_in.token_url,
        trusted_origins: serde_json::to_string(&sign_in.trusted_origins).expect("a list of strings serializes"),
        secret_style: sign_in.secret_style.map(SecretStyle::as_str),
        token_params: serde_json::to_string(&sign_in.token_params).expect("a list of string pairs serializes"),
        assertion_kid: sign_in.assertion_kid,
        jku: sign_in.jku,
    })
}

const COLUMNS: &str = "id, name, base_url, auth_kind, client_id, scope, builtin IS NOT NULL, created_at, updated_at, \
     key_kid, token_url, trusted_origins, secret_style, token_params, secret_entry IS NOT NULL, profile_id, ca_file, \
     assertion_kid, jku, proxy_url, proxy_username, proxy_password_entry IS NOT NULL, client_certificate";

fn json_column<T: serde::de::DeserializeOwned>(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<T> {
    serde_json::from_str(&row.get::<_, String>(index)?)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e)))
}

fn row_to_server(row: &rusqlite::Row<'_>) -> rusqlite::Result<Server> {
    Ok(Server {
        id: row.get(0)?,
        name: row.get(1)?,
        base_url: row.get(2)?,
        auth: AuthKind::from_sql(&row.get::<_, String>(3)?),
        client_id: row.get(4)?,
        scope: row.get(5)?,
        builtin: row.get(6)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
        key_kid: row.get(9)?,
        token_url: row.get(10)?,
        trusted_origins: json_column(row, 11)?,
        secret_style: row.get::<_, Option<String>>(12)?.as_deref().and_then(SecretStyle::parse),
        token_params: json_column(row, 13)?,
        secret_saved: row.get(14)?,
        profile_id: row.get(15)?,
        ca_file: row.get(16)?,
        assertion_kid: row.get(17)?,
        jku: row.get(18)?,
        proxy: row
            .get::<_, Option<String>>(19)?
            .map(|url| -> rusqlite::Result<ServerProxy> {
                Ok(ServerProxy { url, username: row.get(20)?, password_saved: row.get(21)? })
            })
            .transpose()?,
        client_certificate: network::certificate_info(row.get(22)?),
    })
}

/// The saved name that `name` collides with (names are unique whatever their case).
fn existing_name(db: &Database, name: &str) -> String {
    db.conn()
        .query_row("SELECT name FROM servers WHERE name = ?1", [name], |r| r.get(0))
        .unwrap_or_else(|_| name.to_string())
}

fn foreign_key_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

fn unknown_key() -> ServerError {
    invalid(
        ServerField::KeyKid,
        "That key is not in Haul (any more). Choose another key, or create one on the Keys page.",
    )
}

fn unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

impl Database {
    pub fn list_servers(&self) -> Result<Vec<Server>, ServerError> {
        let sql = format!("SELECT {COLUMNS} FROM servers ORDER BY name COLLATE NOCASE");
        let mut stmt = self.conn().prepare(&sql).map_err(|e| self.error(e))?;
        let rows = stmt.query_map([], row_to_server).map_err(|e| self.error(e))?;
        Ok(rows.collect::<Result<_, _>>().map_err(|e| self.error(e))?)
    }

    pub fn get_server(&self, id: i64) -> Result<Server, ServerError> {
        let sql = format!("SELECT {COLUMNS} FROM servers WHERE id = ?1");
        self.conn()
            .query_row(&sql, [id], row_to_server)
            .optional()
            .map_err(|e| self.error(e))?
            .ok_or(ServerError::NotFound(id))
    }

    pub fn add_server(&self, input: &ServerInput) -> Result<Server, ServerError> {
        let v = validate(input)?;
        let result = self.conn().execute(
            "INSERT INTO servers (name, base_url, auth_kind, client_id, scope, key_kid, token_url, trusted_origins,
                                  secret_style, token_params, assertion_kid, jku)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                v.name,
                v.base_url,
                v.auth.as_sql(),
                v.client_id,
                v.scope,
                v.key_kid,
                v.token_url,
                v.trusted_origins,
                v.secret_style,
                v.token_params,
                v.assertion_kid,
                v.jku
            ],
        );
        match result {
            Ok(_) => self.get_server(self.conn().last_insert_rowid()),
            Err(e) if unique_violation(&e) => Err(ServerError::DuplicateName(existing_name(self, &v.name))),
            Err(e) if foreign_key_violation(&e) => Err(unknown_key()),
            Err(e) => Err(self.error(e).into()),
        }
    }

    /// Saves the form. A server that changes its sign-in method loses its saved secret (a client secret
    /// must never be sent as a bearer token); its keychain entry goes too, as far as the keychain lets it.
    pub fn update_server(&self, keychain: &Keychain, id: i64, input: &ServerInput) -> Result<Server, ServerError> {
        let mut v = validate(input)?;
        let current = self.get_server(id)?;
        if current.auth != v.auth {
            self.forget_server_secret(keychain, &current);
        }
        if current.builtin {
            // The demo's address is the app's to manage; only its name and sign-in settings are the user's.
            // Its files are on its own origin, so it trusts no other.
            v.base_url = current.base_url;
            v.trusted_origins = "[]".to_string();
        }
        let result = self.conn().execute(
            "UPDATE servers SET name = ?1, base_url = ?2, auth_kind = ?3, client_id = ?4, scope = ?5,
                 key_kid = ?6, token_url = ?7, trusted_origins = ?8, secret_style = ?9, token_params = ?10,
                 assertion_kid = ?12, jku = ?13,
                 secret_entry = CASE WHEN auth_kind = ?3 THEN secret_entry END,
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE id = ?11",
            params![
                v.name,
                v.base_url,
                v.auth.as_sql(),
                v.client_id,
                v.scope,
                v.key_kid,
                v.token_url,
                v.trusted_origins,
                v.secret_style,
                v.token_params,
                id,
                v.assertion_kid,
                v.jku
            ],
        );
        match result {
            Ok(0) => Err(ServerError::NotFound(id)),
            Ok(_) => self.get_server(id),
            Err(e) if unique_violation(&e) => Err(ServerError::DuplicateName(existing_name(self, &v.name))),
            Err(e) if foreign_key_violation(&e) => Err(unknown_key()),
            Err(e) => Err(self.error(e).into()),
        }
    }

    /// Offers the built-in demo server once: on the first start, and never again after the user removed it.
    /// Afterwards keeps its address current (`base_url` changes with the port it runs on).
    pub fn sync_demo_server(&self, base_url: &str) -> Result<(), ServerError> {
        let err = |e| self.error(e);
        let offered: bool = self
            .conn()
            .query_row("SELECT EXISTS(SELECT 1 FROM app_settings WHERE key = 'demo_offered')", [], |r| r.get(0))
            .map_err(err)?;
        if !offered {
            let name = if self
                .conn()
                .query_row("SELECT EXISTS(SELECT 1 FROM servers WHERE name = ?1)", [DEMO_NAME], |r| r.get::<_, bool>(0))
                .map_err(err)?
            {
                format!("{DEMO_NAME} (built in)")
            } else {
                DEMO_NAME.to_string()
            };
            self.conn()
                .execute(
                    "INSERT INTO servers (name, base_url, auth_kind, builtin) VALUES (?1, ?2, 'open', 'demo')",
                    params![name, base_url],
                )
                .map_err(err)?;
            self.conn()
                .execute("INSERT INTO app_settings (key, value) VALUES ('demo_offered', 'yes')", [])
                .map_err(err)?;
        } else {
            self.conn().execute("UPDATE servers SET base_url = ?1 WHERE builtin = 'demo'", [base_url]).map_err(err)?;
        }
        Ok(())
    }

    /// Removes the server and its saved secrets (sign-in secret, proxy password, client certificate). The
    /// keychain entries go first: if the keychain cannot be reached, the server stays, so its secrets are
    /// never left behind unnamed.
    pub fn remove_server(&self, keychain: &Keychain, id: i64) -> Result<(), ServerError> {
        let server = self.get_server(id)?;
        self.remove_server_network_secrets(keychain, &server)?;
        self.remove_server_secret(keychain, &server)?;
        let n = self.conn().execute("DELETE FROM servers WHERE id = ?1", [id]).map_err(|e| self.error(e))?;
        if n == 0 { Err(ServerError::NotFound(id)) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests;
