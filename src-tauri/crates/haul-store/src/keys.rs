//! Haul's signing keys: the private half in the OS keychain, the public half (and what uses it) in SQLite.

use std::path::Path;

use bulk_client::{KeyAlgorithm, KeyError, SigningKey};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use ts_rs::TS;

use crate::db::{Database, DbError};
use crate::keychain::{Keychain, KeychainError};

/// A key as lists and screens show it. Never holds private material.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KeyInfo {
    pub kid: String,
    pub label: String,
    pub alg: KeyAlgorithm,
    #[ts(type = "Record<string, unknown>")]
    pub public_jwk: serde_json::Value,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// Names of the servers set up to sign in with this key.
    pub used_by: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Keychain(#[from] KeychainError),
    #[error("This key is already in Haul, as “{label}” (kid {kid}).")]
    Exists { kid: String, label: String },
    #[error("There is no key {0} in Haul.")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// A client secret or bearer token a job needs is not where its settings say (the sentence says where
    /// to enter it).
    #[error("{0}")]
    NoSecret(String),
    /// The file to sign (`Database::sign_proof_file`) cannot be read, or is far too big to be the right one.
    #[error("Haul cannot sign {}: {reason}", path.display())]
    ProofFile { path: std::path::PathBuf, reason: String },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl Database {
    pub fn generate_key(&self, keychain: &Keychain, alg: KeyAlgorithm, label: &str) -> Result<KeyInfo, KeyStoreError> {
        self.generate_key_sized(keychain, alg, None, label)
    }

    /// [`Self::generate_key`] with an RSA size (2048, 3072 or 4096).
    pub fn generate_key_sized(
        &self,
        keychain: &Keychain,
        alg: KeyAlgorithm,
        rsa_bits: Option<u32>,
        label: &str,
    ) -> Result<KeyInfo, KeyStoreError> {
        let label = check_label(label)?;
        let key = SigningKey::generate_sized(alg, rsa_bits)?;
        self.save_key(keychain, &key, &label)
    }

    /// Imports a private key (PEM or JWK). Without a label, the file's name or the algorithm is used.
    pub fn import_key(&self, keychain: &Keychain, bytes: &[u8], label: &str) -> Result<KeyInfo, KeyStoreError> {
        let label = check_label(label)?;
        let key = SigningKey::import(bytes)?;
        self.save_key(keychain, &key, &label)
    }

    /// Stores a key made elsewhere (generated off the database's thread, say): keychain first, then SQLite.
    pub fn save_key(&self, keychain: &Keychain, key: &SigningKey, label: &str) -> Result<KeyInfo, KeyStoreError> {
        let label = check_label(label)?;
        let label = label.as_str();
        if let Some(existing) = self.find_key(key.kid())? {
            return Err(KeyStoreError::Exists { kid: existing.kid, label: existing.label });
        }
        // Keychain first: a key SQLite lists but the keychain lacks would be useless.
        keychain.store(key.kid(), key.private_pkcs8_der())?;
        let inserted = self.conn().execute(
            "INSERT INTO keys (kid, label, alg, public_jwk) VALUES (?1, ?2, ?3, ?4)",
            params![key.kid(), label, key.alg().as_str(), key.public_jwk().to_string()],
        );
        if let Err(e) = inserted {
            let _ = keychain.remove(key.kid());
            return Err(self.error(e).into());
        }
        self.find_key(key.kid())?.ok_or_else(|| KeyStoreError::NotFound(key.kid().to_string()))
    }

    pub fn list_keys(&self) -> Result<Vec<KeyInfo>, KeyStoreError> {
        let mut stmt =
            self.conn().prepare("SELECT kid FROM keys ORDER BY created_at, kid").map_err(|e| self.error(e))?;
        let kids: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .map_err(|e| self.error(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.error(e))?;
        kids.iter().filter_map(|kid| self.find_key(kid).transpose()).collect()
    }

    pub fn find_key(&self, kid: &str) -> Result<Option<KeyInfo>, KeyStoreError> {
        let row = self
            .conn()
            .query_row(
                "SELECT kid, label, alg, public_jwk, created_at, last_used_at FROM keys WHERE kid = ?1",
                [kid],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<String>>(5)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.error(e))?;
        let Some((kid, label, alg, jwk, created_at, last_used_at)) = row else { return Ok(None) };
        let mut stmt = self
            .conn()
            .prepare("SELECT name FROM servers WHERE key_kid = ?1 ORDER BY name COLLATE NOCASE")
            .map_err(|e| self.error(e))?;
        let used_by = stmt
            .query_map([&kid], |r| r.get(0))
            .map_err(|e| self.error(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.error(e))?;
        Ok(Some(KeyInfo {
            kid,
            label,
            alg: KeyAlgorithm::parse(&alg).unwrap_or(KeyAlgorithm::ES384),
            public_jwk: serde_json::from_str(&jwk).unwrap_or_default(),
            created_at,
            last_used_at,
            used_by,
        }))
    }

    /// The JWKS to register with a server.
    pub fn key_jwks(&self, kid: &str) -> Result<serde_json::Value, KeyStoreError> {
        let key = self.find_key(kid)?.ok_or_else(|| KeyStoreError::NotFound(kid.to_string()))?;
        Ok(serde_json::json!({ "keys": [key.public_jwk] }))
    }

    /// The public key as PEM (`-----BEGIN PUBLIC KEY-----`), for servers that register a PEM (CMS DPC).
    pub fn key_public_pem(&self, kid: &str) -> Result<String, KeyStoreError> {
        let key = self.find_key(kid)?.ok_or_else(|| KeyStoreError::NotFound(kid.to_string()))?;
        Ok(bulk_client::keys::public_pem_of_jwk(&key.public_jwk)?)
    }

    /// The base64 RSA SHA-256 signature of `message` with key `kid` (see `SigningKey::sign_proof`): for a
    /// portal that asks the uploader of a public key to sign a file with the private one (CMS DPC).
    pub fn sign_proof_with_key(&self, keychain: &Keychain, kid: &str, message: &[u8]) -> Result<String, KeyStoreError> {
        Ok(self.signing_key(keychain, kid)?.sign_proof(message)?)
    }

    /// [`Self::sign_proof_with_key`] over a file the portal handed out (DPC's `snippet.txt`), read here so the
    /// app and the command line refuse the same wrong files the same way.
    pub fn sign_proof_file(&self, keychain: &Keychain, kid: &str, path: &Path) -> Result<String, KeyStoreError> {
        // The file to sign is a line of text; anything much bigger is the wrong file and is not read.
        const MAX_BYTES: u64 = 1 << 20;
        let refused = |reason: String| KeyStoreError::ProofFile { path: path.to_path_buf(), reason };
        let size = std::fs::metadata(path).map_err(|e| refused(e.to_string()))?.len();
        if size > MAX_BYTES {
            return Err(refused(format!(
                "it is {} KB, and the file a portal asks you to sign is a few lines of text. Check that you chose the right file.",
                size >> 10
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| refused(e.to_string()))?;
        self.sign_proof_with_key(keychain, kid, &bytes)
    }

    /// Deletes a key from the keychain and from Haul; returns the servers that lose their key.
    pub fn delete_key(&self, keychain: &Keychain, kid: &str) -> Result<Vec<String>, KeyStoreError> {
        let key = self.find_key(kid)?.ok_or_else(|| KeyStoreError::NotFound(kid.to_string()))?;
        keychain.remove(kid)?;
        self.conn().execute("DELETE FROM keys WHERE kid = ?1", [kid]).map_err(|e| self.error(e))?;
        Ok(key.used_by)
    }

    /// The private key, from the keychain, for signing; records when it was last used.
    pub fn signing_key(&self, keychain: &Keychain, kid: &str) -> Result<SigningKey, KeyStoreError> {
        self.find_key(kid)?.ok_or_else(|| KeyStoreError::NotFound(kid.to_string()))?;
        let der = keychain.load(kid)?;
        let key = SigningKey::from_pkcs8_der(&der, Some(kid.to_string()))?;
        self.conn()
            .execute("UPDATE keys SET last_used_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE kid = ?1", [kid])
            .map_err(|e| self.error(e))?;
        Ok(key)
    }
}

fn check_label(label: &str) -> Result<String, KeyStoreError> {
    let label = label.trim();
    if label.is_empty() {
        return Err(KeyStoreError::Invalid("Give the key a label, for example “Payer production 2026”.".into()));
    }
    if label.chars().count() > 100 {
        return Err(KeyStoreError::Invalid("Keep the label under 100 characters.".into()));
    }
    Ok(label.to_string())
}
