//! A server's client secret or bearer token: in the OS keychain only. The server's row keeps the name of
//! its keychain entry (`server-secret:<id>:<random>`), never the secret: random so that two Haul databases
//! on one computer (the tests', a second data folder), or a server id used again after a removal, never
//! share an entry.

use std::hash::{BuildHasher, Hasher};

use rusqlite::OptionalExtension;
use zeroize::Zeroizing;

use super::{Server, ServerError, ServerField, invalid};
use crate::db::Database;
use crate::keychain::{Keychain, KeychainError};

/// A keychain entry name nobody else uses: its kind, the server id and 64 bits from the std hasher's random
/// keys and the clock. Not a secret; only unique.
pub(crate) fn new_entry_name(kind: &str, id: i64) -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.write_u32(std::process::id());
    format!("{kind}:{id}:{:016x}", h.finish())
}

impl Database {
    fn secret_entry(&self, id: i64) -> Result<Option<String>, ServerError> {
        self.conn()
            .query_row("SELECT secret_entry FROM servers WHERE id = ?1", [id], |r| r.get::<_, Option<String>>(0))
            .optional()
            .map_err(|e| self.error(e))?
            .ok_or(ServerError::NotFound(id))
    }

    /// Saves the client secret or bearer token of server `id` in the OS keychain, replacing any saved one.
    /// White space around it (a paste's line end) is dropped.
    pub fn set_server_secret(&self, keychain: &Keychain, id: i64, secret: &str) -> Result<Server, ServerError> {
        let server = self.get_server(id)?;
        let Some(what) = server.auth.secret_words() else {
            return Err(invalid(
                ServerField::Secret,
                format!(
                    "“{}” does not sign in with a secret; choose “Client ID and secret” or “Bearer token” first.",
                    server.name
                ),
            ));
        };
        let secret = Zeroizing::new(secret.trim().to_string());
        if secret.is_empty() {
            return Err(invalid(ServerField::Secret, format!("Paste the {what} first.")));
        }
        if secret.chars().any(char::is_control) {
            return Err(invalid(
                ServerField::Secret,
                format!("The {what} has a line break or control character inside it; paste it again, on one line."),
            ));
        }
        let old = self.secret_entry(id)?;
        let name = new_entry_name("server-secret", id);
        // Keychain first: a row naming an entry the keychain lacks would only fail later.
        keychain.store_secret(&name, &server.name, &secret)?;
        let saved =
            self.conn().execute("UPDATE servers SET secret_entry = ?1 WHERE id = ?2", rusqlite::params![name, id]);
        if let Err(e) = saved {
            let _ = keychain.remove_secret(&name, &server.name);
            return Err(self.error(e).into());
        }
        if let Some(old) = old {
            // The new entry is in place; the old one is only clutter now.
            let _ = keychain.remove_secret(&old, &server.name);
        }
        self.get_server(id)
    }

    /// The saved secret of server `id`, from the keychain, for signing in.
    pub fn server_secret(&self, keychain: &Keychain, id: i64) -> Result<Zeroizing<String>, ServerError> {
        let server = self.get_server(id)?;
        let what = server.auth.secret_words().unwrap_or("secret");
        match self.secret_entry(id)? {
            Some(name) => Ok(keychain.load_secret(&name, &server.name)?),
            None => Err(ServerError::NoSecret { server: server.name, what }),
        }
    }

    /// Removes the saved secret (keychain entry, then the row's reference to it). An entry already gone
    /// counts as removed; a keychain that cannot be reached is an error.
    pub(super) fn remove_server_secret(&self, keychain: &Keychain, server: &Server) -> Result<(), ServerError> {
        let Some(name) = self.secret_entry(server.id)? else { return Ok(()) };
        match keychain.remove_secret(&name, &server.name) {
            Ok(()) | Err(KeychainError::SecretMissing { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        self.conn()
            .execute("UPDATE servers SET secret_entry = NULL WHERE id = ?1", [server.id])
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Like [`Self::remove_server_secret`], as far as the keychain lets it: the row forgets the entry in
    /// any case, so the secret is never used again.
    pub(super) fn forget_server_secret(&self, keychain: &Keychain, server: &Server) {
        if let Ok(Some(name)) = self.secret_entry(server.id) {
            let _ = keychain.remove_secret(&name, &server.name);
        }
    }
}
