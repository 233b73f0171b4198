//! Storage sign-ins: credentials for object storage typed into the app, each for one bucket or container
//! (and what is under it). The secret goes to the OS keychain only; the row keeps the address, the kind, the
//! non-secret half (access key id, account name, service account e-mail) and the keychain entry's name.
//! What an address may be, and which sign-in covers which address, is object-destination's rule (applied by
//! export-jobs); this module stores and gives back.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use zeroize::Zeroizing;

use crate::keychain::{Keychain, KeychainError};
use crate::servers::secret::new_entry_name;
use crate::{Database, DbError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum StorageKind {
    S3,
    Azure,
    Gcs,
}

impl StorageKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::S3 => "s3",
            Self::Azure => "azure",
            Self::Gcs => "gcs",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "s3" => Some(Self::S3),
            "azure" => Some(Self::Azure),
            "gcs" => Some(Self::Gcs),
            _ => None,
        }
    }
}

/// A saved sign-in, as the app lists it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct StorageSignIn {
    #[ts(type = "number")]
    pub id: i64,
    /// The bucket or container (`s3://bucket`, perhaps with a prefix) it is for.
    pub address: String,
    pub kind: StorageKind,
    /// The S3 access key id, the Azure account name, or the Google service account's e-mail.
    pub key_id: String,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub created_at: String,
}

/// What a new sign-in's row holds (its secret is passed beside it, never kept here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStorageSignIn {
    pub address: String,
    pub kind: StorageKind,
    pub key_id: String,
    pub region: Option<String>,
    pub endpoint: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageSignInError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Keychain(KeychainError),
    #[error("There is no saved storage sign-in {0}; it may have been removed in another window.")]
    NotFound(i64),
    #[error(
        "The secret saved for {address} is no longer in this computer's keychain (it was deleted there, or this is another computer). Enter it again on the Storage page."
    )]
    SecretMissing { address: String },
}

impl StorageSignInError {
    fn keychain(e: KeychainError, address: &str) -> Self {
        match e {
            KeychainError::SecretMissing { .. } | KeychainError::Missing { .. } => {
                Self::SecretMissing { address: address.to_string() }
            }
            other => Self::Keychain(other),
        }
    }
}

const COLUMNS: &str = "id, address, kind, key_id, region, endpoint, created_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StorageSignIn> {
    let kind: String = r.get(2)?;
    Ok(StorageSignIn {
        id: r.get(0)?,
        address: r.get(1)?,
        kind: StorageKind::parse(&kind).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, format!("kind {kind}").into())
        })?,
        key_id: r.get(3)?,
        region: r.get(4)?,
        endpoint: r.get(5)?,
        created_at: r.get(6)?,
    })
}

impl Database {
    /// Saves a sign-in for `new.address`, replacing one saved for that address: the secret into the keychain
    /// first (a row naming an entry the keychain lacks would only fail later), then the row, then the
    /// replaced sign-in's entry is removed.
    pub fn save_storage_sign_in(
        &self,
        keychain: &Keychain,
        new: &NewStorageSignIn,
        secret: &str,
    ) -> Result<StorageSignIn, StorageSignInError> {
        let old: Option<String> = self
            .conn()
            .query_row("SELECT secret_entry FROM storage_sign_ins WHERE address = ?1", [&new.address], |r| r.get(0))
            .optional()
            .map_err(|e| self.error(e))?;
        let next: i64 = self
            .conn()
            .query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM storage_sign_ins", [], |r| r.get(0))
            .map_err(|e| self.error(e))?;
        let entry = new_entry_name("storage-secret", next);
        keychain
            .store_secret(&entry, &new.address, secret)
            .map_err(|e| StorageSignInError::keychain(e, &new.address))?;
        let saved = self.conn().execute(
            "INSERT INTO storage_sign_ins (address, kind, key_id, region, endpoint, secret_entry) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (address) DO UPDATE SET kind = excluded.kind, \
             key_id = excluded.key_id, region = excluded.region, endpoint = excluded.endpoint, \
             secret_entry = excluded.secret_entry",
            params![new.address, new.kind.as_str(), new.key_id, new.region, new.endpoint, entry],
        );
        if let Err(e) = saved {
            let _ = keychain.remove_secret(&entry, &new.address);
            return Err(self.error(e).into());
        }
        if let Some(old) = old {
            let _ = keychain.remove_secret(&old, &new.address);
        }
        self.conn()
            .query_row(&format!("SELECT {COLUMNS} FROM storage_sign_ins WHERE address = ?1"), [&new.address], row)
            .map_err(|e| self.error(e).into())
    }

    /// Sign-in `id`'s address and keychain entry.
    fn storage_entry(&self, id: i64) -> Result<(String, String), StorageSignInError> {
        self.conn()
            .query_row("SELECT address, secret_entry FROM storage_sign_ins WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(|e| self.error(e))?
            .ok_or(StorageSignInError::NotFound(id))
    }

    /// Every saved sign-in, by address.
    pub fn storage_sign_ins(&self) -> Result<Vec<StorageSignIn>, DbError> {
        let mut stmt = self
            .conn()
            .prepare(&format!("SELECT {COLUMNS} FROM storage_sign_ins ORDER BY address"))
            .map_err(|e| self.error(e))?;
        let rows = stmt.query_map([], row).map_err(|e| self.error(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.error(e))
    }

    /// The secret of sign-in `id`, from the keychain, to open a storage with.
    pub fn storage_sign_in_secret(
        &self,
        keychain: &Keychain,
        id: i64,
    ) -> Result<Zeroizing<String>, StorageSignInError> {
        let (address, entry) = self.storage_entry(id)?;
        keychain.load_secret(&entry, &address).map_err(|e| StorageSignInError::keychain(e, &address))
    }

    /// Removes sign-in `id`: its keychain entry (one already gone counts as removed), then its row. A keychain
    /// that cannot be reached is an error, and the row stays, so the secret is not left behind unnamed.
    pub fn remove_storage_sign_in(&self, keychain: &Keychain, id: i64) -> Result<(), StorageSignInError> {
        let (address, entry) = self.storage_entry(id)?;
        match keychain.remove_secret(&entry, &address) {
            Ok(()) | Err(KeychainError::SecretMissing { .. }) => {}
            Err(e) => return Err(StorageSignInError::Keychain(e)),
        }
        self.conn().execute("DELETE FROM storage_sign_ins WHERE id = ?1", [id]).map_err(|e| self.error(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(address: &str, key_id: &str) -> NewStorageSignIn {
        NewStorageSignIn {
            address: address.into(),
            kind: StorageKind::S3,
            key_id: key_id.into(),
            region: Some("eu-west-1".into()),
            endpoint: None,
        }
    }

    #[test]
    fn a_sign_in_keeps_its_secret_in_the_keychain_only_and_is_replaced_then_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("haul.db");
        let db = Database::open(&path).unwrap();
        let secret = "wJalrXUtnFEMI-storage-secret-for-a-test";
        let saved = db.save_storage_sign_in(&Keychain, &s3("s3://lake", "AKIAFIRST"), secret).unwrap();
        assert_eq!((saved.address.as_str(), saved.key_id.as_str()), ("s3://lake", "AKIAFIRST"));
        assert_eq!(db.storage_sign_in_secret(&Keychain, saved.id).unwrap().as_str(), secret);

        // Saved again for the same address: one row, the new secret, the old entry gone from the keychain.
        let old_entry: String =
            db.conn().query_row("SELECT secret_entry FROM storage_sign_ins", [], |r| r.get(0)).unwrap();
        let again = db.save_storage_sign_in(&Keychain, &s3("s3://lake", "AKIASECOND"), "second-secret").unwrap();
        assert_eq!(db.storage_sign_ins().unwrap(), vec![again.clone()]);
        assert_eq!(db.storage_sign_in_secret(&Keychain, again.id).unwrap().as_str(), "second-secret");
        assert!(Keychain.load_secret(&old_entry, "s3://lake").is_err(), "the replaced secret is removed");

        // Nothing of either secret in the database file.
        drop(db);
        let bytes = std::fs::read(&path).unwrap();
        let wal = std::fs::read(tmp.path().join("haul.db-wal")).unwrap_or_default();
        for s in [secret, "second-secret"] {
            let found = |b: &[u8]| b.windows(s.len()).any(|w| w == s.as_bytes());
            assert!(!found(&bytes) && !found(&wal), "{s} reached SQLite");
        }

        let db = Database::open(&path).unwrap();
        db.remove_storage_sign_in(&Keychain, again.id).unwrap();
        assert!(db.storage_sign_ins().unwrap().is_empty());
        assert!(matches!(db.remove_storage_sign_in(&Keychain, again.id), Err(StorageSignInError::NotFound(_))));
    }

    #[test]
    fn a_secret_deleted_from_the_keychain_is_explained() {
        let db = Database::open_in_memory().unwrap();
        let saved = db.save_storage_sign_in(&Keychain, &s3("s3://gone", "AKIA"), "x-secret").unwrap();
        let entry: String = db.conn().query_row("SELECT secret_entry FROM storage_sign_ins", [], |r| r.get(0)).unwrap();
        Keychain.remove_secret(&entry, "s3://gone").unwrap();
        let e = db.storage_sign_in_secret(&Keychain, saved.id).unwrap_err();
        assert!(matches!(e, StorageSignInError::SecretMissing { .. }), "{e:?}");
        assert!(e.to_string().contains("Storage page"));
        db.remove_storage_sign_in(&Keychain, saved.id).unwrap();
    }
}
