//! Servers the user exports from: validation of what the user typed, and their rows in SQLite.

use bulk_client::{OriginError, normalize_origin};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use url::{Host, Url};

use crate::db::{Database, DbError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AuthKind {
    /// No authorization: open test servers, or servers behind a network boundary.
    Open,
    /// SMART Backend Services: a signed JWT traded for a short-lived token.
    SmartBackend,
}

impl AuthKind {
    fn as_sql(self) -> &'static str {
        match self {
            AuthKind::Open => "open",
            AuthKind::SmartBackend => "smart_backend",
        }
    }

    fn from_sql(s: &str) -> Self {
        match s {
            "smart_backend" => AuthKind::SmartBackend,
            _ => AuthKind::Open,
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
    /// Storage origins (`https://host[:port]`, normalized) that also receive the access token, besides the
    /// server's own origin. Empty unless the user listed some.
    pub trusted_origins: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// What the user typed in the server form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
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
    /// Storage origins to trust with the token, as typed (checked and normalized on save). Callers that
    /// predate the field send none; the UI always sends it, so an edit never drops the list by accident.
    #[serde(default)]
    pub trusted_origins: Vec<String>,
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
    TrustedOrigins,
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
    #[error(transparent)]
    Db(#[from] DbError),
}

impl ServerError {
    pub fn field(&self) -> Option<ServerField> {
        match self {
            ServerError::Invalid { field, .. } => Some(*field),
            ServerError::DuplicateName(_) => Some(ServerField::Name),
            ServerError::TrustedOrigin(_) => Some(ServerField::TrustedOrigins),
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

/// A validated form: every field trimmed, optional fields empty → None.
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
}

/// The entries checked by the rule the HTTP client enforces (bulk_client's), normalized and each kept once;
/// blank entries (empty lines in the form) are dropped.
fn normalize_trusted_origins(entries: &[String]) -> Result<Vec<String>, ServerError> {
    let mut origins: Vec<String> = Vec::new();
    for entry in entries.iter().filter(|e| !e.trim().is_empty()) {
        let origin = normalize_origin(entry)?;
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    Ok(origins)
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
    let optional = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let client_id = optional(&input.client_id);
    let mut scope = optional(&input.scope);
    match input.auth {
        AuthKind::Open => {}
        AuthKind::SmartBackend => {
            if client_id.is_none() {
                return Err(invalid(
                    ServerField::ClientId,
                    "Enter the client ID that the server's administrators registered for Haul.",
                ));
            }
            let s = scope.get_or_insert_with(|| DEFAULT_SCOPE.to_string());
            if let Some(bad) = s.split_whitespace().find(|part| !part.contains('/')) {
                return Err(invalid(
                    ServerField::Scope,
                    format!(
                        "“{bad}” is not a SMART scope. Scopes look like system/*.read or system/Patient.rs, separated by spaces."
                    ),
                ));
            }
        }
    }
    // Open servers get no token, so there is nothing to trust anyone with.
    let (key_kid, token_url, trusted_origins) = match input.auth {
        AuthKind::Open => (None, None, Vec::new()),
        AuthKind::SmartBackend => {
            let token_url = match optional(&input.token_url) {
                Some(url) => Some(
                    check_base_url(&url)
                        .map_err(|e| {
                            invalid(ServerField::TokenUrl, e.to_string().replace("FHIR base URL", "token URL"))
                        })?
                        .normalized,
                ),
                None => None,
            };
            (optional(&input.key_kid), token_url, normalize_trusted_origins(&input.trusted_origins)?)
        }
    };
    let trusted_origins = serde_json::to_string(&trusted_origins).expect("a list of strings serializes");
    Ok(ValidServer {
        name: name.to_string(),
        base_url,
        auth: input.auth,
        client_id,
        scope,
        key_kid,
        token_url,
        trusted_origins,
    })
}

const COLUMNS: &str = "id, name, base_url, auth_kind, client_id, scope, builtin IS NOT NULL, created_at, updated_at, \
     key_kid, token_url, trusted_origins";

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
        trusted_origins: serde_json::from_str(&row.get::<_, String>(11)?)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(11, rusqlite::types::Type::Text, Box::new(e)))?,
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
            "INSERT INTO servers (name, base_url, auth_kind, client_id, scope, key_kid, token_url, trusted_origins)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                v.name,
                v.base_url,
                v.auth.as_sql(),
                v.client_id,
                v.scope,
                v.key_kid,
                v.token_url,
                v.trusted_origins
            ],
        );
        match result {
            Ok(_) => self.get_server(self.conn().last_insert_rowid()),
            Err(e) if unique_violation(&e) => Err(ServerError::DuplicateName(existing_name(self, &v.name))),
            Err(e) if foreign_key_violation(&e) => Err(unknown_key()),
            Err(e) => Err(self.error(e).into()),
        }
    }

    pub fn update_server(&self, id: i64, input: &ServerInput) -> Result<Server, ServerError> {
        let mut v = validate(input)?;
        let current = self.get_server(id)?;
        if current.builtin {
            // The demo's address is the app's to manage; only its name and sign-in settings are the user's.
            // Its files are on its own origin, so it trusts no other.
            v.base_url = current.base_url;
            v.trusted_origins = "[]".to_string();
        }
        let result = self.conn().execute(
            "UPDATE servers SET name = ?1, base_url = ?2, auth_kind = ?3, client_id = ?4, scope = ?5,
                 key_kid = ?6, token_url = ?7, trusted_origins = ?8,
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE id = ?9",
            params![
                v.name,
                v.base_url,
                v.auth.as_sql(),
                v.client_id,
                v.scope,
                v.key_kid,
                v.token_url,
                v.trusted_origins,
                id
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

    pub fn remove_server(&self, id: i64) -> Result<(), ServerError> {
        let n = self.conn().execute("DELETE FROM servers WHERE id = ?1", [id]).map_err(|e| self.error(e))?;
        if n == 0 { Err(ServerError::NotFound(id)) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests;
