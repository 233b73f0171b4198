//! Servers the user exports from: validation of what the user typed, and their rows in SQLite.

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
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{message}")]
    Invalid { field: ServerField, message: String },
    #[error("A server named “{0}” already exists. Choose another name.")]
    DuplicateName(String),
    #[error("That server no longer exists; it may have been removed in another window.")]
    NotFound(i64),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl ServerError {
    pub fn field(&self) -> Option<ServerField> {
        match self {
            ServerError::Invalid { field, .. } => Some(*field),
            ServerError::DuplicateName(_) => Some(ServerField::Name),
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
    let (key_kid, token_url) = match input.auth {
        AuthKind::Open => (None, None),
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
            (optional(&input.key_kid), token_url)
        }
    };
    Ok(ValidServer { name: name.to_string(), base_url, auth: input.auth, client_id, scope, key_kid, token_url })
}

const COLUMNS: &str =
    "id, name, base_url, auth_kind, client_id, scope, builtin IS NOT NULL, created_at, updated_at, key_kid, token_url";

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
            "INSERT INTO servers (name, base_url, auth_kind, client_id, scope, key_kid, token_url)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![v.name, v.base_url, v.auth.as_sql(), v.client_id, v.scope, v.key_kid, v.token_url],
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
            v.base_url = current.base_url;
        }
        let result = self.conn().execute(
            "UPDATE servers SET name = ?1, base_url = ?2, auth_kind = ?3, client_id = ?4, scope = ?5,
                 key_kid = ?6, token_url = ?7, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE id = ?8",
            params![v.name, v.base_url, v.auth.as_sql(), v.client_id, v.scope, v.key_kid, v.token_url, id],
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
mod tests {
    use super::*;

    fn open(name: &str, url: &str) -> ServerInput {
        ServerInput {
            name: name.into(),
            base_url: url.into(),
            auth: AuthKind::Open,
            client_id: None,
            scope: None,
            key_kid: None,
            token_url: None,
        }
    }

    #[test]
    fn urls_are_normalized() {
        let c = check_base_url("  https://ehr.example.org/fhir/  ").unwrap();
        assert_eq!(c.normalized, "https://ehr.example.org/fhir");
        assert_eq!(c.warning, None);
        assert_eq!(check_base_url("https://EHR.example.org").unwrap().normalized, "https://ehr.example.org");
    }

    #[test]
    fn plain_http_warns_except_on_this_computer() {
        assert!(check_base_url("http://ehr.example.org/fhir").unwrap().warning.unwrap().contains("unencrypted"));
        for local in
            ["http://localhost:8080/fhir", "http://127.0.0.1:9/fhir", "http://[::1]:9/fhir", "http://sim.localhost/"]
        {
            assert_eq!(check_base_url(local).unwrap().warning, None, "{local}");
        }
    }

    #[test]
    fn bad_urls_get_plain_messages() {
        let msg = |s: &str| check_base_url(s).unwrap_err().to_string();
        assert!(msg("").contains("Enter the server's FHIR base URL"));
        assert!(msg("ehr.example.org/fhir").contains("should start with https://"), "{}", msg("ehr.example.org/fhir"));
        assert!(msg("ftp://files.example.org").contains("not supported"));
        assert!(msg("https://user:secret@ehr.example.org/fhir").contains("user name and password"));
        assert!(!msg("https://user:secret@ehr.example.org/fhir").contains("secret"), "never echo a password");
        assert!(msg("https://ehr.example.org/fhir?x=1").contains("remove the part from ?"));
        assert!(msg("https://exa mple.org").contains("is not a web address"));
        assert_eq!(check_base_url("").unwrap_err().field(), Some(ServerField::BaseUrl));
    }

    #[test]
    fn add_edit_list_remove() {
        let db = Database::open_in_memory().unwrap();
        let a = db.add_server(&open("Zeta", "https://z.test/fhir/")).unwrap();
        let b = db.add_server(&open("alpha", "http://localhost:1/fhir")).unwrap();
        assert_eq!(a.base_url, "https://z.test/fhir");
        let names: Vec<_> = db.list_servers().unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["alpha", "Zeta"], "sorted by name, case-insensitively");

        let edited = db
            .update_server(
                a.id,
                &ServerInput {
                    name: " Zeta prod ".into(),
                    base_url: "https://z.test/r4".into(),
                    auth: AuthKind::SmartBackend,
                    client_id: Some(" haul-client ".into()),
                    scope: Some("".into()),
                    key_kid: None,
                    token_url: None,
                },
            )
            .unwrap();
        assert_eq!(edited.name, "Zeta prod");
        assert_eq!(edited.client_id.as_deref(), Some("haul-client"));
        assert_eq!(edited.scope.as_deref(), Some(DEFAULT_SCOPE), "an empty scope falls back to the default");
        assert_eq!(edited.auth, AuthKind::SmartBackend);

        db.remove_server(b.id).unwrap();
        assert_eq!(db.list_servers().unwrap().len(), 1);
        assert!(matches!(db.remove_server(b.id), Err(ServerError::NotFound(_))));
        assert!(matches!(db.update_server(b.id, &open("x", "https://x.test")), Err(ServerError::NotFound(_))));
    }

    #[test]
    fn duplicate_names_are_refused_whatever_the_case() {
        let db = Database::open_in_memory().unwrap();
        let first = db.add_server(&open("Payer", "https://a.test")).unwrap();
        let err = db.add_server(&open("payer ", "https://b.test")).unwrap_err();
        assert!(matches!(err, ServerError::DuplicateName(_)));
        assert_eq!(err.to_string(), "A server named “Payer” already exists. Choose another name.");
        assert_eq!(err.field(), Some(ServerField::Name));
        let other = db.add_server(&open("Other", "https://b.test")).unwrap();
        assert!(matches!(
            db.update_server(other.id, &open("PAYER", "https://b.test")),
            Err(ServerError::DuplicateName(_))
        ));
        // Renaming a server to its own name (another case) is fine.
        db.update_server(first.id, &open("PAYER", "https://a.test")).unwrap();
        assert_eq!(db.list_servers().unwrap().len(), 2);
    }

    #[test]
    fn smart_servers_need_a_client_id_and_sane_scopes() {
        let db = Database::open_in_memory().unwrap();
        let mut input = open("S", "https://s.test");
        input.auth = AuthKind::SmartBackend;
        let err = db.add_server(&input).unwrap_err();
        assert_eq!(err.field(), Some(ServerField::ClientId));
        input.client_id = Some("c".into());
        input.scope = Some("system/*.rs launch".into());
        let err = db.add_server(&input).unwrap_err();
        assert_eq!(err.field(), Some(ServerField::Scope));
        assert!(err.to_string().contains("“launch” is not a SMART scope"));
        input.scope = Some("system/Patient.rs system/Observation.rs".into());
        assert!(db.add_server(&input).is_ok());
        assert!(db.list_servers().unwrap().iter().all(|s| s.name == "S"));
    }

    #[test]
    fn the_demo_server_is_offered_once_and_follows_its_port() {
        let db = Database::open_in_memory().unwrap();
        db.sync_demo_server("http://127.0.0.1:1000/fhir").unwrap();
        let demo = db.list_servers().unwrap().pop().unwrap();
        assert_eq!((demo.name.as_str(), demo.builtin), (DEMO_NAME, true));
        db.sync_demo_server("http://127.0.0.1:2000/fhir").unwrap();
        let servers = db.list_servers().unwrap();
        assert_eq!(servers.len(), 1);
        assert_eq!(servers[0].base_url, "http://127.0.0.1:2000/fhir");
        // Renaming is fine, but its address stays the app's.
        let renamed = db.update_server(demo.id, &open("My demo", "https://elsewhere.test")).unwrap();
        assert_eq!((renamed.name.as_str(), renamed.base_url.as_str()), ("My demo", "http://127.0.0.1:2000/fhir"));
        // Removed stays removed.
        db.remove_server(demo.id).unwrap();
        db.sync_demo_server("http://127.0.0.1:3000/fhir").unwrap();
        assert!(db.list_servers().unwrap().is_empty());
    }

    #[test]
    fn smart_settings_check_the_token_url_and_the_key() {
        let db = Database::open_in_memory().unwrap();
        let mut input = open("S", "https://s.test/fhir");
        input.auth = AuthKind::SmartBackend;
        input.client_id = Some("c".into());
        input.token_url = Some("token".into());
        let err = db.add_server(&input).unwrap_err();
        assert_eq!(err.field(), Some(ServerField::TokenUrl));
        assert!(err.to_string().contains("not a complete web address"), "{err}");
        input.token_url = Some("https://s.test/auth/token/".into());
        input.key_kid = Some("no-such-kid".into());
        let err = db.add_server(&input).unwrap_err();
        assert_eq!(err.field(), Some(ServerField::KeyKid), "{err}");
        input.key_kid = None;
        let saved = db.add_server(&input).unwrap();
        assert_eq!(saved.token_url.as_deref(), Some("https://s.test/auth/token"));
        // Open servers keep no SMART settings.
        let mut open_again = input.clone();
        open_again.auth = AuthKind::Open;
        let saved = db.update_server(saved.id, &open_again).unwrap();
        assert_eq!((saved.token_url, saved.key_kid), (None, None));
    }

    #[test]
    fn names_are_required() {
        let db = Database::open_in_memory().unwrap();
        let err = db.add_server(&open("   ", "https://a.test")).unwrap_err();
        assert_eq!(err.field(), Some(ServerField::Name));
        assert!(db.list_servers().unwrap().is_empty(), "nothing saved on a refused form");
    }
}
