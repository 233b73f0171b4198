//! Which credentials open a storage address: a sign-in saved in Haul (Storage page) that covers it — the most
//! specific one when several do —, else the environment's, profile files and instance metadata. And what a
//! sign-in typed into the app must be before it is saved.

use haul_store::{Database, Keychain, NewStorageSignIn, StorageKind, StorageSignIn, StorageSignInError};
use object_destination::{Destination, DestinationError, StorageCredentials};
use serde::Deserialize;
use ts_rs::TS;
use zeroize::Zeroizing;

/// A sign-in as typed on the Storage page; the secret lives in memory until it is in the keychain.
#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct StorageSignInInput {
    /// The bucket or container, perhaps with a prefix: `s3://bucket`, `az://container`, `gs://bucket`.
    pub address: String,
    pub kind: StorageKind,
    /// The S3 access key id, or the Azure account name (unused for Google: the key names its account).
    pub key_id: String,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    /// The S3 secret access key, the Azure account key or SAS token, or the Google service account's JSON key.
    pub secret: String,
}

impl std::fmt::Debug for StorageSignInInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageSignInInput").field("address", &self.address).field("kind", &self.kind).finish()
    }
}

/// Why a typed sign-in cannot be saved or used.
#[derive(Debug, thiserror::Error)]
pub enum SignInInputError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Destination(#[from] DestinationError),
    #[error(transparent)]
    Store(#[from] StorageSignInError),
}

fn invalid(text: &str) -> SignInInputError {
    SignInInputError::Invalid(text.to_string())
}

fn scheme_of(kind: StorageKind) -> &'static str {
    match kind {
        StorageKind::S3 => "s3",
        StorageKind::Azure => "az",
        StorageKind::Gcs => "gs",
    }
}

fn trimmed(text: &Option<String>) -> Option<String> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string)
}

/// The checked row and credentials of a typed sign-in. Nothing is sent anywhere.
fn checked(input: &StorageSignInInput) -> Result<(NewStorageSignIn, StorageCredentials), SignInInputError> {
    let address = input.address.trim().trim_end_matches('/').to_string();
    let family = object_destination::scheme_family(&address);
    if family.is_none() {
        return Err(invalid("Give the bucket or container as an address: s3://bucket, az://container or gs://bucket."));
    }
    if family != Some(scheme_of(input.kind)) {
        return Err(invalid(&format!(
            "This sign-in is for {}:// addresses; the address starts otherwise.",
            scheme_of(input.kind)
        )));
    }
    let secret = Zeroizing::new(input.secret.trim().to_string());
    if secret.is_empty() {
        return Err(invalid(match input.kind {
            StorageKind::S3 => "Paste the secret access key.",
            StorageKind::Azure => "Paste the account key or a SAS token.",
            StorageKind::Gcs => "Paste the service account's JSON key.",
        }));
    }
    // A key's line break or control character is a paste gone wrong; a JSON key has line breaks of its own.
    if input.kind != StorageKind::Gcs && secret.chars().any(char::is_control) {
        return Err(invalid(
            "The secret has a line break or control character inside it; paste it again, on one line.",
        ));
    }
    let endpoint = trimmed(&input.endpoint);
    if let Some(e) = &endpoint {
        object_destination::check_endpoint(e)?;
    }
    let region = trimmed(&input.region);
    let key_id = input.key_id.trim().to_string();
    let (key_id, credentials) = match input.kind {
        StorageKind::S3 => {
            if key_id.is_empty() || key_id.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(invalid("Give the access key id (it starts with AKIA or ASIA on AWS)."));
            }
            let c = StorageCredentials::S3 {
                access_key_id: key_id.clone(),
                secret_access_key: secret,
                region: region.clone(),
                endpoint: endpoint.clone(),
            };
            (key_id, c)
        }
        StorageKind::Azure => {
            if key_id.is_empty() || !key_id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(invalid("Give the storage account's name (letters and digits)."));
            }
            let c = StorageCredentials::Azure { account: key_id.clone(), secret, endpoint: endpoint.clone() };
            (key_id, c)
        }
        StorageKind::Gcs => {
            let email = service_account_email(&secret)?;
            (email, StorageCredentials::Gcs { service_account_key: secret })
        }
    };
    // Built once here, so what the store would refuse later is refused now.
    Destination::open_with(&address, Some(&credentials))?;
    let row = NewStorageSignIn { address, kind: input.kind, key_id, region, endpoint };
    Ok((row, credentials))
}

/// A Google service account key's e-mail; the key must be one (`"type": "service_account"`, a private key).
fn service_account_email(key: &str) -> Result<String, SignInInputError> {
    let not = || invalid("That is not a service account's JSON key (the file Google Cloud gives under “Keys”).");
    let v: serde_json::Value = serde_json::from_str(key).map_err(|_| not())?;
    if v["type"] != "service_account" || !v["private_key"].is_string() {
        return Err(not());
    }
    v["client_email"].as_str().map(str::to_string).ok_or_else(not)
}

/// Checks and saves a typed sign-in (the secret into the keychain), replacing one saved for the same address.
pub fn save(db: &Database, input: &StorageSignInInput) -> Result<StorageSignIn, SignInInputError> {
    let (row, _) = checked(input)?;
    Ok(db.save_storage_sign_in(&Keychain, &row, input.secret.trim())?)
}

/// Lists the address with a typed sign-in (nothing saved): the Storage page's "Test" before "Save".
pub async fn test(input: &StorageSignInInput) -> Result<(), SignInInputError> {
    let (row, credentials) = checked(input)?;
    let dest = Destination::open_with(&row.address, Some(&credentials))?;
    Ok(listed_within(&dest, &row.address).await?)
}

/// Lists `address` with what an export there would use (the saved sign-in that covers it, else the
/// environment's credentials): `haul storage test`.
pub async fn check_access(db: &Database, address: &str) -> Result<(), DestinationError> {
    let dest = open_storage(db, address)?;
    listed_within(&dest, address).await
}

async fn listed_within(dest: &Destination, address: &str) -> Result<(), DestinationError> {
    // The store retries a storage that does not answer for minutes; a person testing access waits 15 s.
    match tokio::time::timeout(std::time::Duration::from_secs(15), dest.check_access()).await {
        Ok(listed) => listed,
        Err(_) => Err(DestinationError::Failed {
            what: "list",
            address: address.to_string(),
            reason: "the storage did not answer within 15 seconds".into(),
        }),
    }
}

/// The saved sign-in that covers `address`: the longest saved address when several do.
pub fn covering(db: &Database, address: &str) -> Result<Option<StorageSignIn>, haul_store::DbError> {
    Ok(db
        .storage_sign_ins()?
        .into_iter()
        .filter(|s| object_destination::covers(&s.address, address))
        .max_by_key(|s| s.address.trim_end_matches('/').len()))
}

/// Opens a storage `address` with the saved sign-in that covers it, else with the environment's credentials.
pub fn open_storage(db: &Database, address: &str) -> Result<Destination, DestinationError> {
    // Checked first: an address holding a token is refused before it could reach an error about a sign-in.
    let address = &object_destination::normalize(address)?;
    let unusable = |reason: String| DestinationError::SavedSignIn { address: address.to_string(), reason };
    let Some(saved) = covering(db, address).map_err(|e| unusable(e.to_string()))? else {
        return Destination::open(address);
    };
    let secret = db.storage_sign_in_secret(&Keychain, saved.id).map_err(|e| unusable(e.to_string()))?;
    let credentials = match saved.kind {
        StorageKind::S3 => StorageCredentials::S3 {
            access_key_id: saved.key_id,
            secret_access_key: secret,
            region: saved.region,
            endpoint: saved.endpoint,
        },
        StorageKind::Azure => StorageCredentials::Azure { account: saved.key_id, secret, endpoint: saved.endpoint },
        StorageKind::Gcs => StorageCredentials::Gcs { service_account_key: secret },
    };
    Destination::open_with(address, Some(&credentials))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(kind: StorageKind, address: &str, key_id: &str, secret: &str) -> StorageSignInInput {
        StorageSignInInput {
            address: address.into(),
            kind,
            key_id: key_id.into(),
            region: None,
            endpoint: None,
            secret: secret.into(),
        }
    }

    fn refusal(i: &StorageSignInInput) -> String {
        match checked(i) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{i:?} was accepted"),
        }
    }

    /// Needs the Secret Service (the tests run under a private keyring, as in CI).
    #[test]
    fn an_address_holding_a_token_is_refused_before_a_saved_sign_in_could_name_it() {
        let db = Database::open_in_memory().unwrap();
        let new = NewStorageSignIn {
            address: "s3://haul-token-test/t".into(),
            kind: StorageKind::S3,
            key_id: "AKIA".into(),
            region: None,
            endpoint: None,
        };
        let saved = db.save_storage_sign_in(&Keychain, &new, "x-secret").unwrap();
        // The keychain then fails to give the secret: the error that says so must not carry the address's token.
        let entry: String = db.conn().query_row("SELECT secret_entry FROM storage_sign_ins", [], |r| r.get(0)).unwrap();
        Keychain.remove_secret(&entry, &new.address).unwrap();
        let Err(e) = open_storage(&db, "s3://haul-token-test/t/?sig=TOKEN-VALUE") else { panic!("opened") };
        assert!(matches!(e, DestinationError::CredentialsInAddress), "{e}");
        assert!(!e.to_string().contains("TOKEN-VALUE"), "{e}");
        db.conn().execute("DELETE FROM storage_sign_ins WHERE id = ?1", [saved.id]).unwrap();
    }

    #[test]
    fn typed_sign_ins_are_checked_before_anything_is_saved() {
        assert!(refusal(&input(StorageKind::S3, "az://c", "AKIA", "s")).contains("s3://"));
        assert!(refusal(&input(StorageKind::S3, "bucket", "AKIA", "s")).contains("address"));
        assert!(refusal(&input(StorageKind::S3, "s3://b", "", "s")).contains("access key id"));
        assert!(refusal(&input(StorageKind::S3, "s3://b", "AKIA", "  ")).contains("secret access key"));
        assert!(refusal(&input(StorageKind::S3, "s3://b", "AKIA", "a\nb")).contains("line break"));
        assert!(refusal(&input(StorageKind::Azure, "az://c", "my-account", "k")).contains("account's name"));
        assert!(refusal(&input(StorageKind::Gcs, "gs://b", "", "{\"type\":\"user\"}")).contains("service account"));
        let mut http = input(StorageKind::S3, "s3://b", "AKIA", "s");
        http.endpoint = Some("http://minio.lan:9000".into());
        assert!(refusal(&http).contains("https://"));
        http.endpoint = Some("http://127.0.0.1:9000".into());
        let (row, _) = checked(&http).unwrap();
        assert_eq!((row.address.as_str(), row.endpoint.as_deref()), ("s3://b", Some("http://127.0.0.1:9000")));
        // A refusal never quotes the secret.
        let secret = "s3cr3t-value-with\u{7}bell";
        assert!(!refusal(&input(StorageKind::S3, "s3://b", "AKIA", secret)).contains("s3cr3t"));
    }

    #[test]
    fn a_google_key_gives_its_service_account_email() {
        let key = r#"{"type":"service_account","client_email":"haul@p.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n"}"#;
        assert_eq!(service_account_email(key).unwrap(), "haul@p.iam.gserviceaccount.com");
        assert!(service_account_email("{}").is_err());
    }
}
