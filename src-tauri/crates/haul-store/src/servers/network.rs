//! How a server is reached on a corporate network (hospitals, payers): a proxy of its own, with a user name
//! and a password, and a client certificate for servers that ask for one (mutual TLS). Secrets are kept as
//! the client secret is (`secret.rs`): the proxy password, and the certificate with its private key, only in
//! the OS keychain, under entries named in the server's row; the row keeps the proxy's address and user name,
//! and of the certificate only what the user recognises it by (file name, subject, expiry). Set on their own,
//! after the server is saved, like its CA file; read from the keychain each time a job connects.

use std::path::{Path, PathBuf};

use bulk_client::{ClientIdentity, ClientIdentityError, ProxySettings, check_proxy_url};
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use zeroize::Zeroizing;

use super::secret::new_entry_name;
use super::{Server, ServerError, ServerField, invalid};
use crate::db::Database;
use crate::keychain::{Keychain, KeychainError};

/// A server's own proxy, as the UI sees it: never the password, only whether one is saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ServerProxy {
    /// `http://host:port` or `https://host:port`.
    pub url: String,
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// A proxy password is saved in the OS keychain.
    pub password_saved: bool,
}

/// What the proxy form sends.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ProxyInput {
    pub url: String,
    #[ts(optional)]
    #[serde(default)]
    pub username: Option<String>,
    /// A new password; absent keeps the saved one, empty removes it. Goes to the keychain, nowhere else.
    #[ts(optional)]
    #[serde(default)]
    pub password: Option<String>,
}

/// Never prints the password (only whether one was given).
impl std::fmt::Debug for ProxyInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyInput")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

/// A saved client certificate as the user recognises it. The certificate and its key are in the keychain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ClientCertificateInfo {
    /// The name of the file it was read from (the file itself is not needed again).
    pub file_name: String,
    /// The certificate's subject, such as `CN=haul-client, O=Hospital`.
    pub subject: String,
    /// When it stops being valid (RFC 3339, UTC).
    pub not_after: String,
    /// It has expired: servers will refuse it (worked out when read, not stored).
    #[serde(default)]
    pub expired: bool,
}

/// Far above any client certificate file (a few KB, a long chain a few dozen).
const MAX_CERTIFICATE_FILE_BYTES: u64 = 1 << 20;

/// Why a client certificate file cannot be used. Each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ClientCertificateFileError {
    #[error("Haul cannot find the client certificate file {}. Choose the file again.", .0.display())]
    Missing(PathBuf),
    #[error("Haul cannot read the client certificate file {}: {source}. Check that it is a file you may read.", path.display())]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error(
        "{} is too large for a client certificate file (those are a few KB). Choose the certificate file your IT department gave you.",
        .0.display()
    )]
    TooLarge(PathBuf),
    #[error("The client certificate file {} cannot be used. {source}", path.display())]
    Unusable { path: PathBuf, source: ClientIdentityError },
}

impl ClientCertificateFileError {
    /// The file is fine, its password is not: the form puts the message beside the password.
    pub fn is_about_password(&self) -> bool {
        matches!(
            self,
            ClientCertificateFileError::Unusable {
                source: ClientIdentityError::PasswordNeeded | ClientIdentityError::WrongPassword,
                ..
            }
        )
    }
}

/// Reads a client certificate file (PEM, or PKCS#12 with `password`): for the Servers form and `haul export
/// --client-cert`, by one rule.
pub fn read_client_certificate_file(
    path: &Path,
    password: Option<&str>,
) -> Result<ClientIdentity, ClientCertificateFileError> {
    let unreadable = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::NotFound => ClientCertificateFileError::Missing(path.to_path_buf()),
        _ => ClientCertificateFileError::Unreadable { path: path.to_path_buf(), source },
    };
    if std::fs::metadata(path).map_err(unreadable)?.len() > MAX_CERTIFICATE_FILE_BYTES {
        return Err(ClientCertificateFileError::TooLarge(path.to_path_buf()));
    }
    let content = Zeroizing::new(std::fs::read(path).map_err(unreadable)?);
    ClientIdentity::read(&content, password)
        .map_err(|source| ClientCertificateFileError::Unusable { path: path.to_path_buf(), source })
}

/// The description kept in the row, from its JSON; `expired` as of now.
pub(super) fn certificate_info(json: Option<String>) -> Option<ClientCertificateInfo> {
    let mut info: ClientCertificateInfo = serde_json::from_str(&json?).ok()?;
    let format = &time::format_description::well_known::Rfc3339;
    info.expired = time::OffsetDateTime::parse(&info.not_after, format)
        .is_ok_and(|not_after| not_after < time::OffsetDateTime::now_utc());
    Some(info)
}

/// The entries a server's row names, for removing them.
struct NetworkEntries {
    proxy_password: Option<String>,
    client_certificate: Option<String>,
}

/// A keychain entry that is already gone counts as removed.
fn remove_entry(keychain: &Keychain, name: &str, server: &str) -> Result<(), KeychainError> {
    match keychain.remove_secret(name, server) {
        Ok(()) | Err(KeychainError::SecretMissing { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

fn no_control(text: &str, field: ServerField, what: &str) -> Result<(), ServerError> {
    if text.chars().any(char::is_control) {
        return Err(invalid(field, format!("The {what} has a line break or control character in it; type it again.")));
    }
    Ok(())
}

impl Database {
    fn network_entries(&self, id: i64) -> Result<NetworkEntries, ServerError> {
        self.conn()
            .query_row("SELECT proxy_password_entry, client_certificate_entry FROM servers WHERE id = ?1", [id], |r| {
                Ok(NetworkEntries { proxy_password: r.get(0)?, client_certificate: r.get(1)? })
            })
            .optional()
            .map_err(|e| self.error(e))?
            .ok_or(ServerError::NotFound(id))
    }

    /// Sets the server's own proxy (or, with `None`, goes back to this computer's proxy settings). A password
    /// needs a user name; it is kept in the keychain (a password not given keeps the saved one, an empty one
    /// removes it).
    pub fn set_server_proxy(
        &self,
        keychain: &Keychain,
        id: i64,
        proxy: Option<&ProxyInput>,
    ) -> Result<Server, ServerError> {
        let server = self.get_server(id)?;
        let old = self.network_entries(id)?.proxy_password;
        let Some(proxy) = proxy else {
            if let Some(old) = &old {
                remove_entry(keychain, old, &server.name)?;
            }
            self.write_proxy(id, None, None, None)?;
            return self.get_server(id);
        };
        let url = check_proxy_url(&proxy.url)?;
        let username = proxy.username.as_deref().map(str::trim).filter(|u| !u.is_empty());
        if let Some(user) = username {
            no_control(user, ServerField::ProxyUsername, "proxy user name")?;
            if user.contains(':') {
                return Err(invalid(ServerField::ProxyUsername, "A proxy user name cannot contain “:”."));
            }
        }
        let password = proxy.password.as_deref().map(|p| Zeroizing::new(p.to_string()));
        let entry = match (&password, username) {
            (Some(p), _) if p.is_empty() => None,
            (Some(_), None) => {
                return Err(invalid(
                    ServerField::ProxyUsername,
                    "Enter the proxy user name that goes with the password.",
                ));
            }
            (Some(p), Some(_)) => {
                no_control(p, ServerField::ProxyPassword, "proxy password")?;
                let name = new_entry_name("server-proxy-password", id);
                // Keychain first: a row naming an entry the keychain lacks would only fail later.
                keychain.store_secret(&name, &server.name, p)?;
                Some(name)
            }
            // No new password: the saved one stays while there is a user name to go with it, and only for the
            // proxy it was saved for (a password is never sent to another host).
            (None, Some(_)) if server.proxy.as_ref().is_none_or(|p| p.url == url) => old.clone(),
            (None, Some(_)) => {
                return Err(invalid(
                    ServerField::ProxyPassword,
                    "The proxy's address changed: enter the password for the new proxy (a saved password goes only to the proxy it was saved for).",
                ));
            }
            (None, None) => None,
        };
        if let Err(e) = self.write_proxy(id, Some(&url), username, entry.as_deref()) {
            if entry != old
                && let Some(new) = &entry
            {
                let _ = keychain.remove_secret(new, &server.name);
            }
            return Err(e);
        }
        if let Some(old) = old
            && entry.as_deref() != Some(old.as_str())
        {
            // The row no longer names it; only clutter now.
            let _ = keychain.remove_secret(&old, &server.name);
        }
        self.get_server(id)
    }

    fn write_proxy(
        &self,
        id: i64,
        url: Option<&str>,
        username: Option<&str>,
        entry: Option<&str>,
    ) -> Result<(), ServerError> {
        self.conn()
            .execute(
                "UPDATE servers SET proxy_url = ?1, proxy_username = ?2, proxy_password_entry = ?3,
                     updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?4",
                rusqlite::params![url, username, entry, id],
            )
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Reads a client certificate file (PEM, or PKCS#12 with its password) once, keeps the certificate and
    /// key in the keychain and a description in the row; `None` removes it. An expired certificate is kept
    /// (the description says so); the user decides.
    pub fn set_server_client_certificate(
        &self,
        keychain: &Keychain,
        id: i64,
        file: Option<&Path>,
        password: Option<&str>,
    ) -> Result<Server, ServerError> {
        let server = self.get_server(id)?;
        let old = self.network_entries(id)?.client_certificate;
        let (info, entry) = match file {
            None => (None, None),
            Some(path) => {
                let identity = read_client_certificate_file(path, password.filter(|p| !p.is_empty()))?;
                let info = ClientCertificateInfo {
                    file_name: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                    subject: identity.description.subject.clone(),
                    not_after: identity.description.not_after.clone(),
                    expired: identity.description.expired,
                };
                let name = new_entry_name("server-client-certificate", id);
                keychain.store_secret_bytes(&name, &server.name, identity.private_key().as_bytes())?;
                let info = serde_json::to_string(&info).expect("a description serializes");
                (Some((info, identity.certificates_pem().to_string())), Some(name))
            }
        };
        if file.is_none()
            && let Some(old) = &old
        {
            remove_entry(keychain, old, &server.name)?;
        }
        let (info, chain) = info.unzip();
        let saved = self.conn().execute(
            "UPDATE servers SET client_certificate = ?1, client_certificate_entry = ?2, client_certificate_chain = ?4,
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?3",
            rusqlite::params![info, entry, id, chain],
        );
        if let Err(e) = saved {
            if let Some(new) = &entry {
                let _ = keychain.remove_secret(new, &server.name);
            }
            return Err(self.error(e).into());
        }
        if file.is_some()
            && let Some(old) = old
        {
            let _ = keychain.remove_secret(&old, &server.name);
        }
        self.get_server(id)
    }

    /// The server's own proxy with its password from the keychain, for connecting; `None` without one.
    pub fn server_proxy_settings(&self, keychain: &Keychain, id: i64) -> Result<Option<ProxySettings>, ServerError> {
        let server = self.get_server(id)?;
        let Some(proxy) = server.proxy else { return Ok(None) };
        let password = match self.network_entries(id)?.proxy_password {
            Some(name) => Some(keychain.load_secret(&name, &server.name)?),
            None => None,
        };
        Ok(Some(ProxySettings { url: proxy.url, username: proxy.username, password }))
    }

    /// The server's client certificate and key (PEM) from the keychain, for connecting; `None` without one.
    pub fn server_client_identity(
        &self,
        keychain: &Keychain,
        id: i64,
    ) -> Result<Option<Zeroizing<String>>, ServerError> {
        let server = self.get_server(id)?;
        let Some(name) = self.network_entries(id)?.client_certificate else { return Ok(None) };
        let chain: Option<String> = self
            .conn()
            .query_row("SELECT client_certificate_chain FROM servers WHERE id = ?1", [id], |r| r.get(0))
            .map_err(|e| self.error(e))?;
        let key = bulk_client::PrivateKeyPart::from_bytes(keychain.load_secret_bytes(&name, &server.name)?);
        match (chain, key) {
            (Some(chain), Some(key)) => Ok(Some(bulk_client::identity_pem(&chain, &key))),
            // Saved by a build that kept it otherwise, or damaged: choosing the file again mends it.
            _ => Err(invalid(
                ServerField::ClientCertificate,
                format!(
                    "The client certificate saved for “{}” cannot be read any more. Choose its file again in the server's settings.",
                    server.name
                ),
            )),
        }
    }

    /// Removes the proxy password and client certificate entries of a server being removed. An entry already
    /// gone counts as removed; a keychain that cannot be reached is an error (the server stays).
    pub(super) fn remove_server_network_secrets(
        &self,
        keychain: &Keychain,
        server: &Server,
    ) -> Result<(), ServerError> {
        let entries = self.network_entries(server.id)?;
        for name in [entries.proxy_password, entries.client_certificate].into_iter().flatten() {
            remove_entry(keychain, &name, &server.name)?;
        }
        Ok(())
    }
}
