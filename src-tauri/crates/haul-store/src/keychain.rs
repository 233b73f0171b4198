//! The OS keychain (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows): the only
//! place a private key, a client secret or a bearer token is ever stored. There is no fallback: if the keychain cannot be used, the user is
//! told what to do, and nothing is written anywhere else.

use zeroize::Zeroizing;

/// The keychain "service" Haul's entries are filed under.
pub const SERVICE: &str = "org.haul.desktop";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeychainError {
    #[error(
        "Haul cannot reach this computer's keychain (on Linux: the Secret Service, such as GNOME Keyring or KWallet). Private keys and secrets are kept only there, never in a file. Start your desktop's keyring (install gnome-keyring if there is none) and unlock it, then try again."
    )]
    Unavailable { detail: String },
    #[error("This computer's keychain is locked. Unlock it (your login password usually does) and try again.")]
    Locked { detail: String },
    #[error(
        "The private key {kid} is no longer in this computer's keychain (it was deleted there, or this is another computer). Create or import the key again and register its public key with the server."
    )]
    Missing { kid: String },
    /// A server's client secret or bearer token is no longer where Haul saved it.
    #[error(
        "The secret saved for “{server}” is no longer in this computer's keychain (it was deleted there, or this is another computer). Enter it again on the Servers page."
    )]
    SecretMissing { server: String },
    #[error("The keychain refused to store or read the key or secret: {detail}")]
    Refused { detail: String },
}

#[derive(Debug, Clone, Default)]
pub struct Keychain;

fn entry(kid: &str) -> Result<keyring::Entry, KeychainError> {
    keyring::Entry::new(SERVICE, &format!("smart-signing-key:{kid}")).map_err(|e| classify(e, kid))
}

fn classify(e: keyring::Error, kid: &str) -> KeychainError {
    match e {
        keyring::Error::NoEntry => KeychainError::Missing { kid: kid.to_string() },
        keyring::Error::NoStorageAccess(inner) => KeychainError::Locked { detail: inner.to_string() },
        keyring::Error::PlatformFailure(inner) => KeychainError::Unavailable { detail: inner.to_string() },
        keyring::Error::NoDefaultStore => {
            KeychainError::Unavailable { detail: "no keychain store on this system".into() }
        }
        other => KeychainError::Refused { detail: other.to_string() },
    }
}

/// A server's secret entry (its name is kept in the server's row): `server` names it in messages.
fn secret_entry(name: &str, server: &str) -> Result<keyring::Entry, KeychainError> {
    keyring::Entry::new(SERVICE, name).map_err(|e| classify_secret(e, server))
}

fn classify_secret(e: keyring::Error, server: &str) -> KeychainError {
    match classify(e, "") {
        KeychainError::Missing { .. } => KeychainError::SecretMissing { server: server.to_string() },
        other => other,
    }
}

impl Keychain {
    pub fn store(&self, kid: &str, secret: &[u8]) -> Result<(), KeychainError> {
        entry(kid)?.set_secret(secret).map_err(|e| classify(e, kid))
    }

    pub fn load(&self, kid: &str) -> Result<Zeroizing<Vec<u8>>, KeychainError> {
        entry(kid)?.get_secret().map(Zeroizing::new).map_err(|e| classify(e, kid))
    }

    /// Removes the entry; one that is already gone counts as removed.
    pub fn remove(&self, kid: &str) -> Result<(), KeychainError> {
        match entry(kid)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(classify(e, kid)),
        }
    }

    /// Stores a server's client secret or bearer token under the entry `name` (replacing one there).
    pub fn store_secret(&self, name: &str, server: &str, secret: &str) -> Result<(), KeychainError> {
        secret_entry(name, server)?.set_password(secret).map_err(|e| classify_secret(e, server))
    }

    pub fn load_secret(&self, name: &str, server: &str) -> Result<Zeroizing<String>, KeychainError> {
        secret_entry(name, server)?.get_password().map(Zeroizing::new).map_err(|e| classify_secret(e, server))
    }

    /// Stores bytes (a client certificate's key) under the entry `name`, replacing one there.
    pub fn store_secret_bytes(&self, name: &str, server: &str, secret: &[u8]) -> Result<(), KeychainError> {
        secret_entry(name, server)?.set_secret(secret).map_err(|e| classify_secret(e, server))
    }

    pub fn load_secret_bytes(&self, name: &str, server: &str) -> Result<Zeroizing<Vec<u8>>, KeychainError> {
        secret_entry(name, server)?.get_secret().map(Zeroizing::new).map_err(|e| classify_secret(e, server))
    }

    /// Removes a secret entry; one that is already gone counts as removed.
    pub fn remove_secret(&self, name: &str, server: &str) -> Result<(), KeychainError> {
        match secret_entry(name, server)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(classify_secret(e, server)),
        }
    }
}
