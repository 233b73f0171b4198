//! The OS keychain (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows): the only
//! place a private key is ever stored. There is no fallback: if the keychain cannot be used, the user is
//! told what to do, and nothing is written anywhere else.

use zeroize::Zeroizing;

/// The keychain "service" Haul's entries are filed under.
pub const SERVICE: &str = "org.haul.desktop";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeychainError {
    #[error(
        "Haul cannot reach this computer's keychain (on Linux: the Secret Service, such as GNOME Keyring or KWallet). Private keys are kept only there, never in a file. Start your desktop's keyring (install gnome-keyring if there is none) and unlock it, then try again."
    )]
    Unavailable { detail: String },
    #[error("This computer's keychain is locked. Unlock it (your login password usually does) and try again.")]
    Locked { detail: String },
    #[error(
        "The private key {kid} is no longer in this computer's keychain (it was deleted there, or this is another computer). Create or import the key again and register its public key with the server."
    )]
    Missing { kid: String },
    #[error("The keychain refused to store or read the key: {detail}")]
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
}
