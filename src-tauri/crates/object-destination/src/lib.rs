//! Object storage as the place an export goes: `s3://bucket/prefix` (AWS S3 and S3-compatible servers),
//! `gs://bucket/prefix` (Google Cloud Storage) and `az://container/prefix` (Azure Blob Storage and ADLS Gen2,
//! also `abfs(s)://container@account.dfs.core.windows.net/prefix`), through the Arrow project's `object_store`.
//!
//! Credentials come only from the standard places each cloud's own tools read: the environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, `AZURE_STORAGE_ACCOUNT_NAME`,
//! `GOOGLE_APPLICATION_CREDENTIALS`, …), AWS's profile files ([`aws_profile`]), web identity and instance
//! metadata — or from a sign-in saved in Haul for the bucket or container ([`StorageCredentials`], the
//! secret from the OS keychain), which then replaces them. An address that carries a
//! password or a query (a SAS token) is refused: addresses are kept in Haul's history, secrets never are.
//!
//! [`ObjectUpload`] is a multipart upload whose progress ([`UploadProgress`]: the upload's id and its parts'
//! ids) the caller keeps, so a process that was killed continues the same upload after the parts it finished.

mod aws_profile;
mod credentials;
mod error;
mod upload;

use std::sync::Arc;

use bytes::Bytes;
use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::multipart::MultipartStore;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

pub use credentials::{StorageCredentials, check_endpoint, covers, scheme_family};
pub use error::DestinationError;
pub use upload::{MAX_PARTS, ObjectUpload, PART_SIZE, UploadProgress};

/// The address schemes Haul writes to, besides a folder.
pub const SCHEMES: &[&str] = &["s3", "s3a", "gs", "az", "azure", "abfs", "abfss"];

/// Whether `text` is written as an object storage address Haul can write to (`s3://…`, `gs://…`, `az://…`).
pub fn is_object_address(text: &str) -> bool {
    scheme_of(text).is_some_and(|s| SCHEMES.contains(&s.to_ascii_lowercase().as_str()))
}

fn scheme_of(text: &str) -> Option<&str> {
    let (scheme, _) = text.trim().split_once("://")?;
    (!scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))).then_some(scheme)
}

/// An address checked as Haul takes it (a known scheme, a bucket, no credentials or query), without a
/// trailing slash; nothing is opened.
pub fn normalize(address: &str) -> Result<String, DestinationError> {
    parse(address).map(|(address, _, _)| address)
}

fn parse(address: &str) -> Result<(String, String, ObjectPath), DestinationError> {
    let address = address.trim().trim_end_matches('/').to_string();
    let Some(scheme) = scheme_of(&address).map(str::to_ascii_lowercase) else {
        return Err(DestinationError::BadAddress(address));
    };
    if !SCHEMES.contains(&scheme.as_str()) {
        return Err(DestinationError::Unsupported { scheme });
    }
    let url = url::Url::parse(&address).map_err(|_| DestinationError::BadAddress(address.clone()))?;
    let abfs = scheme.starts_with("abfs");
    // abfs names its container as the user part (container@account…); nothing else may carry one.
    if url.password().is_some() || url.query().is_some() || (!abfs && !url.username().is_empty()) {
        return Err(DestinationError::CredentialsInAddress);
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(DestinationError::BadAddress(address));
    }
    let prefix =
        ObjectPath::parse(url.path().trim_matches('/')).map_err(|_| DestinationError::BadAddress(address.clone()))?;
    Ok((address, scheme, prefix))
}

/// An object storage address opened with the credentials of the environment: where objects go, and the
/// store that puts them there.
#[derive(Clone)]
pub struct Destination {
    address: String,
    store: Arc<dyn ObjectStore>,
    /// The storage's own multipart uploads (resumable across processes); a folder has none.
    uploads: Option<Arc<dyn MultipartStore>>,
    prefix: ObjectPath,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Destination").field("address", &self.address).finish()
    }
}

impl Destination {
    /// Opens `address` with the environment's credentials. Nothing is sent yet: see
    /// [`Destination::check_access`].
    pub fn open(address: &str) -> Result<Self, DestinationError> {
        Self::open_with(address, None)
    }

    /// Opens `address` with `saved` credentials when given (nothing from the environment then), else the
    /// environment's.
    pub fn open_with(address: &str, saved: Option<&StorageCredentials>) -> Result<Self, DestinationError> {
        let (address, scheme, prefix) = parse(address)?;
        let setup =
            |e: object_store::Error| DestinationError::Setup { address: address.clone(), reason: e.to_string() };
        let (store, uploads): (Arc<dyn ObjectStore>, Arc<dyn MultipartStore>) = match scheme.as_str() {
            "s3" | "s3a" => {
                let builder = match saved {
                    Some(c) => credentials::unsigned_payload_where_safe(c.s3(&address)?),
                    None => {
                        let mut builder = AmazonS3Builder::from_env().with_url(&address);
                        for (key, value) in aws_profile::ProfileFiles::from_env().settings(&address)? {
                            builder = builder.with_config(key, value);
                        }
                        // A choice made in the environment stands.
                        match std::env::var_os("AWS_UNSIGNED_PAYLOAD") {
                            Some(_) => builder,
                            None => credentials::unsigned_payload_where_safe(builder),
                        }
                    }
                };
                let s = Arc::new(builder.build().map_err(setup)?);
                (s.clone(), s)
            }
            "gs" => {
                let builder = match saved {
                    Some(c) => c.gcs(&address)?,
                    None => credentials::gcs_http_only_on_loopback(
                        GoogleCloudStorageBuilder::from_env().with_url(&address),
                        &address,
                        None,
                    )?,
                };
                let s = Arc::new(builder.build().map_err(setup)?);
                (s.clone(), s)
            }
            _ => {
                let builder = match saved {
                    Some(c) => c.azure(&address)?,
                    None => MicrosoftAzureBuilder::from_env().with_url(&address),
                };
                let s = Arc::new(builder.build().map_err(setup)?);
                (s.clone(), s)
            }
        };
        Ok(Self { address, store, uploads: Some(uploads), prefix })
    }

    /// A local folder behind the same interface (created if missing), for what is written to a folder or to
    /// storage by one code path (Delta tables). It has no resumable multipart uploads.
    pub fn open_folder(folder: &std::path::Path) -> Result<Self, DestinationError> {
        let address = folder.display().to_string();
        std::fs::create_dir_all(folder).map_err(|e| DestinationError::Failed {
            what: "create",
            address: address.clone(),
            reason: e.to_string(),
        })?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(folder)
            .map_err(|e| DestinationError::Setup { address: address.clone(), reason: e.to_string() })?;
        Ok(Self { address, store: Arc::new(store), uploads: None, prefix: ObjectPath::default() })
    }

    /// The address as the user wrote it, without a trailing slash.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The full address of `relative` (a `/`-separated name under the prefix).
    pub fn address_of(&self, relative: &str) -> String {
        match relative.trim_start_matches('/') {
            "" => self.address.clone(),
            relative => format!("{}/{relative}", self.address),
        }
    }

    fn location(&self, relative: &str) -> ObjectPath {
        let mut path = self.prefix.clone();
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            path = path.clone().join(part);
        }
        path
    }

    /// Lists what is under the prefix, so a wrong bucket or missing credentials show up before an export
    /// starts rather than after its first file.
    pub async fn check_access(&self) -> Result<(), DestinationError> {
        let Err(e) = self.store.list_with_delimiter(Some(&self.prefix)).await else { return Ok(()) };
        let failed = self.failed("list", "", e);
        if matches!(failed, DestinationError::Failed { .. }) {
            // object_store passes a GCS listing's 401 or 403 on as a plain error; a head's are typed, so one
            // of a name nothing has tells a refusal of the credentials from other failures.
            let probe = self.location("_haul/.access-check");
            if let Err(
                e @ (object_store::Error::Unauthenticated { .. } | object_store::Error::PermissionDenied { .. }),
            ) = self.store.head(&probe).await
            {
                return Err(self.failed("list", "", e));
            }
        }
        Err(failed)
    }

    /// Writes a whole (small) object, replacing one of the same name.
    pub async fn put(&self, relative: &str, bytes: Bytes) -> Result<(), DestinationError> {
        self.store
            .put(&self.location(relative), PutPayload::from(bytes))
            .await
            .map(drop)
            .map_err(|e| self.failed("write", relative, e))
    }

    /// Writes a whole (small) object only if there is none of that name yet. False: one was there.
    pub async fn put_new(&self, relative: &str, bytes: Bytes) -> Result<bool, DestinationError> {
        let opts = PutOptions { mode: PutMode::Create, ..Default::default() };
        match self.store.put_opts(&self.location(relative), PutPayload::from(bytes), opts).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(self.failed("write", relative, e)),
        }
    }

    /// The object's bytes; `None` when there is no such object.
    pub async fn get(&self, relative: &str) -> Result<Option<Bytes>, DestinationError> {
        let got = match self.store.get(&self.location(relative)).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.failed("read", relative, e)),
        };
        got.bytes().await.map(Some).map_err(|e| self.failed("read", relative, e))
    }

    /// The object's size; `None` when there is no such object.
    pub async fn size_of(&self, relative: &str) -> Result<Option<u64>, DestinationError> {
        match self.store.head(&self.location(relative)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.failed("read", relative, e)),
        }
    }

    /// The object's bytes as they arrive, a chunk at a time (bounded memory for any size).
    pub async fn read_chunks(
        &self,
        relative: &str,
    ) -> Result<impl futures_util::Stream<Item = Result<Bytes, DestinationError>> + use<>, DestinationError> {
        let got = self.store.get(&self.location(relative)).await.map_err(|e| self.failed("read", relative, e))?;
        let (this, relative) = (self.clone(), relative.to_string());
        Ok(got.into_stream().map_err(move |e| this.failed("read", &relative, e)))
    }

    /// Every object under `relative` (recursively): its name relative to the prefix, and its size.
    pub async fn list(&self, relative: &str) -> Result<Vec<(String, u64)>, DestinationError> {
        let under = self.location(relative);
        let found: Vec<_> =
            self.store.list(Some(&under)).try_collect().await.map_err(|e| self.failed("list", relative, e))?;
        let base = self.prefix.as_ref().len();
        let mut out: Vec<(String, u64)> = found
            .into_iter()
            .map(|m| {
                let full = m.location.as_ref();
                let name = if base == 0 { full } else { full.get(base + 1..).unwrap_or(full) };
                (name.to_string(), m.size)
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// The names of the folders directly under `relative` (one level down).
    pub async fn folders(&self, relative: &str) -> Result<Vec<String>, DestinationError> {
        let under = self.location(relative);
        let listed =
            self.store.list_with_delimiter(Some(&under)).await.map_err(|e| self.failed("list", relative, e))?;
        let mut out: Vec<String> =
            listed.common_prefixes.iter().filter_map(|p| p.filename().map(str::to_string)).collect();
        out.sort();
        Ok(out)
    }

    /// Removes the object (best effort for the caller: a missing object is no error).
    pub async fn delete(&self, relative: &str) -> Result<(), DestinationError> {
        match self.store.delete(&self.location(relative)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.failed("delete", relative, e)),
        }
    }

    /// Copies the local file at `from` to `relative`, a part at a time (memory: a few parts, whatever the
    /// file's size). The object appears whole, or not at all. Returns its size.
    pub async fn upload_file(&self, relative: &str, from: &std::path::Path) -> Result<u64, DestinationError> {
        use tokio::io::AsyncReadExt;
        let local = |e: std::io::Error| DestinationError::Failed {
            what: "read",
            address: from.display().to_string(),
            reason: e.to_string(),
        };
        let mut file = tokio::fs::File::open(from).await.map_err(local)?;
        let upload =
            self.store.put_multipart(&self.location(relative)).await.map_err(|e| self.failed("write", relative, e))?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, upload::PART_SIZE);
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = match file.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(local(e));
                }
            };
            if n == 0 {
                break;
            }
            size += n as u64;
            // Two parts in flight at most: bounded memory, and the next part reads while one is sent.
            if let Err(e) = writer.wait_for_capacity(2).await {
                return Err(self.failed("write", relative, e));
            }
            writer.write(&buf[..n]);
        }
        writer.finish().await.map_err(|e| self.failed("write", relative, e))?;
        Ok(size)
    }

    /// A multipart upload of `relative`, new (`resumed: None`) or continuing the one `resumed` describes.
    pub fn upload(&self, relative: &str, resumed: Option<UploadProgress>) -> ObjectUpload {
        ObjectUpload::new(self.clone(), relative, resumed)
    }

    fn failed(&self, what: &'static str, relative: &str, source: object_store::Error) -> DestinationError {
        DestinationError::from_store(what, self.address_of(relative), source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_addresses_are_recognised_by_scheme() {
        for yes in ["s3://b/p", "S3://b", "gs://b/x", "az://c/p", "abfss://c@a.dfs.core.windows.net/p"] {
            assert!(is_object_address(yes), "{yes}");
        }
        for no in ["/tmp/x", "C:\\exports", "exports", "ftp://host/x", "http://h/x", "s3:", "://x"] {
            assert!(!is_object_address(no), "{no}");
        }
    }

    #[test]
    fn addresses_with_secrets_or_no_bucket_are_refused() {
        let refused = |a: &str| Destination::open(a).unwrap_err();
        assert!(matches!(refused("s3://key:secret@bucket/p"), DestinationError::CredentialsInAddress));
        assert!(matches!(refused("az://container/p?sv=2024&sig=abc"), DestinationError::CredentialsInAddress));
        assert!(matches!(refused("ftp://host/p"), DestinationError::Unsupported { .. }));
        assert!(matches!(refused("s3:///p"), DestinationError::BadAddress(_)));
        let message = refused("az://container/p?sig=abc").to_string();
        assert!(!message.contains("abc"), "{message}");
    }

    #[test]
    fn names_go_under_the_prefix() {
        // SAFETY: tests in this binary do not read the environment concurrently with this write.
        unsafe {
            std::env::set_var("AWS_REGION", "us-east-1");
        }
        let d = Destination::open("s3://bucket/exports/aco/").unwrap();
        assert_eq!(d.address(), "s3://bucket/exports/aco");
        assert_eq!(
            d.location("export_date=2026-11-01/Patient/part-000.ndjson").as_ref(),
            "exports/aco/export_date=2026-11-01/Patient/part-000.ndjson"
        );
        assert_eq!(d.address_of("a/b"), "s3://bucket/exports/aco/a/b");
        let root = Destination::open("s3://bucket").unwrap();
        assert_eq!(root.location("a/b").as_ref(), "a/b");
    }
}
