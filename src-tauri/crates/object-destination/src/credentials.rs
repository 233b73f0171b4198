//! Storage credentials a person typed into Haul (kept in the OS keychain by haul-store, handed here in memory)
//! for one bucket or container and what is under it. When a saved sign-in covers an address it is the whole
//! sign-in: nothing is mixed in from the environment or the profile files, so what the person saved is what
//! is used.

use object_store::aws::AmazonS3Builder;
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use zeroize::Zeroizing;

use crate::DestinationError;

/// One saved sign-in, secret included (in memory only, wiped when dropped).
pub enum StorageCredentials {
    /// AWS S3, or an S3-compatible server at `endpoint`.
    S3 { access_key_id: String, secret_access_key: Zeroizing<String>, region: Option<String>, endpoint: Option<String> },
    /// Azure Blob Storage / ADLS Gen2: an account key, or a SAS token (told apart by its `sig=`).
    Azure { account: String, secret: Zeroizing<String>, endpoint: Option<String> },
    /// Google Cloud Storage: a service account's JSON key.
    Gcs { service_account_key: Zeroizing<String> },
}

impl std::fmt::Debug for StorageCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.scheme())
    }
}

impl StorageCredentials {
    /// The address scheme these credentials are for.
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::S3 { .. } => "s3",
            Self::Azure { .. } => "az",
            Self::Gcs { .. } => "gs",
        }
    }

    /// Whether a SAS token rather than an account key (a SAS token's query always signs with `sig=`).
    fn is_sas(secret: &str) -> bool {
        secret.trim_start_matches('?').split('&').any(|p| p.starts_with("sig="))
    }

    pub(crate) fn s3(&self, address: &str) -> Result<AmazonS3Builder, DestinationError> {
        let Self::S3 { access_key_id, secret_access_key, region, endpoint } = self else {
            return Err(self.wrong_kind(address));
        };
        let mut b = AmazonS3Builder::new()
            .with_url(address)
            .with_access_key_id(access_key_id)
            .with_secret_access_key(secret_access_key.as_str())
            .with_region(region.as_deref().filter(|r| !r.is_empty()).unwrap_or("us-east-1"));
        if let Some(endpoint) = endpoint.as_deref().filter(|e| !e.is_empty()) {
            b = b.with_endpoint(endpoint).with_allow_http(check_endpoint(endpoint)?);
        }
        Ok(b)
    }

    pub(crate) fn azure(&self, address: &str) -> Result<MicrosoftAzureBuilder, DestinationError> {
        let Self::Azure { account, secret, endpoint } = self else { return Err(self.wrong_kind(address)) };
        let mut b = MicrosoftAzureBuilder::new().with_url(address).with_account(account);
        b = if Self::is_sas(secret) {
            b.with_config(AzureConfigKey::SasKey, secret.trim_start_matches('?'))
        } else {
            b.with_access_key(secret.as_str())
        };
        if let Some(endpoint) = endpoint.as_deref().filter(|e| !e.is_empty()) {
            b = b.with_endpoint(endpoint.to_string()).with_allow_http(check_endpoint(endpoint)?);
        }
        Ok(b)
    }

    pub(crate) fn gcs(&self, address: &str) -> Result<GoogleCloudStorageBuilder, DestinationError> {
        let Self::Gcs { service_account_key } = self else { return Err(self.wrong_kind(address)) };
        let builder = GoogleCloudStorageBuilder::new()
            .with_url(address)
            .with_config(GoogleConfigKey::ServiceAccountKey, service_account_key.as_str());
        gcs_http_only_on_loopback(builder, address, Some(service_account_key))
    }

    fn wrong_kind(&self, address: &str) -> DestinationError {
        DestinationError::Setup {
            address: address.to_string(),
            reason: format!("the sign-in saved for it is for {}:// addresses", self.scheme()),
        }
    }
}

/// An endpoint typed by hand: https, or plain http only on this computer (a test server such as moto or
/// Azurite), where nothing crosses a network. True: plain http is allowed.
pub fn check_endpoint(endpoint: &str) -> Result<bool, DestinationError> {
    let bad = |reason: &str| DestinationError::Setup { address: endpoint.to_string(), reason: reason.to_string() };
    let url = url::Url::parse(endpoint).map_err(|_| bad("the endpoint is not a web address (https://…)"))?;
    if url.password().is_some() || !url.username().is_empty() || url.query().is_some() {
        return Err(DestinationError::CredentialsInAddress);
    }
    match url.scheme() {
        "https" => Ok(false),
        "http" if is_loopback(&url) => Ok(true),
        "http" => Err(bad(
            "a plain http:// endpoint is accepted only on this computer (a test server); over a network, use https://",
        )),
        _ => Err(bad("the endpoint must start with https://")),
    }
}

/// GCS's builder allows plain http, and a service account's key file may name the storage's address
/// (`gcs_base_url`, for test servers): its bearer token would then cross a network in clear. Here plain http
/// is allowed only when that address is on this computer (as a typed endpoint), and refused elsewhere. `key` is
/// a saved key; else the environment's key (`GOOGLE_SERVICE_ACCOUNT_KEY`, or the file that
/// `GOOGLE_SERVICE_ACCOUNT` or `_PATH` names), the only ones object_store takes the address from.
pub(crate) fn gcs_http_only_on_loopback(
    builder: GoogleCloudStorageBuilder,
    address: &str,
    key: Option<&str>,
) -> Result<GoogleCloudStorageBuilder, DestinationError> {
    let from_env = || {
        std::env::var("GOOGLE_SERVICE_ACCOUNT_KEY").ok().or_else(|| {
            let path = std::env::var_os("GOOGLE_SERVICE_ACCOUNT")
                .or_else(|| std::env::var_os("GOOGLE_SERVICE_ACCOUNT_PATH"))?;
            std::fs::read_to_string(path).ok()
        })
    };
    let key = key.map(str::to_string).or_else(from_env);
    let base_url = key
        .and_then(|k| serde_json::from_str::<serde_json::Value>(&k).ok())
        .and_then(|v| v.get("gcs_base_url")?.as_str().map(str::to_string));
    let allow_http = match base_url {
        Some(url) => check_endpoint(&url).map_err(|e| match e {
            DestinationError::Setup { reason, .. } => DestinationError::Setup {
                address: address.to_string(),
                reason: format!("the service account key's gcs_base_url: {reason}"),
            },
            other => other,
        })?,
        None => false,
    };
    Ok(builder.with_config(GoogleConfigKey::Client(object_store::ClientConfigKey::AllowHttp), allow_http.to_string()))
}

/// S3 parts go with an unsigned payload (`UNSIGNED-PAYLOAD`, which S3 takes over https) where TLS, or staying
/// on this computer, already keeps the bytes intact from tampering on the way: hashing every part with SHA-256
/// for the signature cost Haul 4.2–4.4 s of CPU per GB against 3.2–3.8 without (storage_bench, 2 GB runs).
/// Plain http to another host (an environment's endpoint with `AWS_ALLOW_HTTP`) stays signed.
pub(crate) fn unsigned_payload_where_safe(builder: AmazonS3Builder) -> AmazonS3Builder {
    use object_store::aws::AmazonS3ConfigKey::{Endpoint, S3Endpoint};
    // `AWS_ENDPOINT_URL_S3` wins over `AWS_ENDPOINT_URL` when both are set, as in object_store's build.
    let endpoint = builder.get_config_value(&S3Endpoint).or_else(|| builder.get_config_value(&Endpoint));
    let safe = match endpoint {
        // AWS itself, always over https.
        None => true,
        Some(endpoint) => url::Url::parse(&endpoint)
            .is_ok_and(|url| url.scheme() == "https" || (url.scheme() == "http" && is_loopback(&url))),
    };
    if safe { builder.with_unsigned_payload(true) } else { builder }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The scheme family an address belongs to (`s3a` is `s3`; `azure`, `abfs`, `abfss` are `az`).
pub fn scheme_family(address: &str) -> Option<&'static str> {
    let (scheme, _) = address.trim().split_once("://")?;
    match scheme.to_ascii_lowercase().as_str() {
        "s3" | "s3a" => Some("s3"),
        "gs" => Some("gs"),
        "az" | "azure" | "abfs" | "abfss" => Some("az"),
        _ => None,
    }
}

/// Whether a sign-in saved for `saved` (a bucket or container, perhaps with a prefix) covers `address`: the
/// same scheme family, bucket and prefix, on whole path segments (`s3://b/a` covers `s3://b/a/x`, never
/// `s3://b/ab`).
pub fn covers(saved: &str, address: &str) -> bool {
    let rest = |a: &str| a.trim().split_once("://").map(|(_, r)| r.trim_end_matches('/').to_string());
    let (Some(family), Some(saved_rest), Some(rest)) = (scheme_family(saved), rest(saved), rest(address)) else {
        return false;
    };
    scheme_family(address) == Some(family)
        && !saved_rest.is_empty()
        && (rest == saved_rest || rest.strip_prefix(&saved_rest).is_some_and(|tail| tail.starts_with('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_address_covers_itself_and_what_is_under_it_on_whole_segments() {
        assert!(covers("s3://bucket", "s3://bucket/exports/aco"));
        assert!(covers("s3://bucket/", "s3a://bucket"));
        assert!(covers("s3://bucket/exports", "s3://bucket/exports/"));
        assert!(covers("az://container", "azure://container/x"));
        assert!(!covers("s3://bucket/exports", "s3://bucket/exports2"));
        assert!(!covers("s3://bucket", "s3://bucket2/x"));
        assert!(!covers("s3://bucket", "gs://bucket/x"));
        assert!(!covers("s3://", "s3://bucket"));
        assert!(!covers("/tmp/x", "/tmp/x"));
    }

    #[test]
    fn plain_http_endpoints_only_on_this_computer() {
        assert!(!check_endpoint("https://s3.eu.example.com").unwrap());
        assert!(check_endpoint("http://127.0.0.1:9000").unwrap());
        assert!(check_endpoint("http://localhost:10000/devstoreaccount1").unwrap());
        assert!(check_endpoint("http://[::1]:9000").unwrap());
        assert!(matches!(check_endpoint("http://minio.lan:9000"), Err(DestinationError::Setup { .. })));
        assert!(matches!(check_endpoint("ftp://x"), Err(DestinationError::Setup { .. })));
        assert!(matches!(check_endpoint("https://key:secret@host"), Err(DestinationError::CredentialsInAddress)));
        assert!(matches!(check_endpoint("https://host/?sig=x"), Err(DestinationError::CredentialsInAddress)));
    }

    #[test]
    fn payloads_are_signed_only_over_plain_http_to_another_host() {
        use object_store::aws::AmazonS3ConfigKey::UnsignedPayload;
        let unsigned_with = |b: AmazonS3Builder| {
            unsigned_payload_where_safe(b).get_config_value(&UnsignedPayload).as_deref() == Some("true")
        };
        let unsigned = |endpoint: Option<&str>| {
            let mut b = AmazonS3Builder::new();
            if let Some(e) = endpoint {
                b = b.with_endpoint(e);
            }
            unsigned_with(b)
        };
        // S3's own endpoint setting is the one used when both are given.
        let both = |general: &str, s3: &str| {
            unsigned_with(
                AmazonS3Builder::new()
                    .with_endpoint(general)
                    .with_config(object_store::aws::AmazonS3ConfigKey::S3Endpoint, s3),
            )
        };
        assert!(!both("https://s3.example.com", "http://minio.lan:9000"));
        assert!(both("http://minio.lan:9000", "https://s3.example.com"));
        assert!(unsigned(None));
        assert!(unsigned(Some("https://s3.eu.example.com")));
        assert!(unsigned(Some("http://127.0.0.1:9000")));
        assert!(unsigned(Some("http://localhost:9000")));
        assert!(!unsigned(Some("http://minio.lan:9000")));
        assert!(!unsigned(Some("http://10.0.0.5:9000")));
        assert!(!unsigned(Some("not a url")));
    }

    #[test]
    fn a_gcs_key_may_send_its_token_over_plain_http_only_on_this_computer() {
        let key = |url: &str| format!(r#"{{"private_key":"x","client_email":"a@b","gcs_base_url":"{url}"}}"#);
        let allowed = |k: &str| {
            gcs_http_only_on_loopback(GoogleCloudStorageBuilder::new(), "gs://b", Some(k))
                .map(|b| b.get_config_value(&GoogleConfigKey::Client(object_store::ClientConfigKey::AllowHttp)))
        };
        assert_eq!(allowed(&key("http://127.0.0.1:4443")).unwrap().as_deref(), Some("true"));
        assert_eq!(allowed(&key("https://storage.example.com")).unwrap().as_deref(), Some("false"));
        assert_eq!(allowed(r#"{"private_key":"x"}"#).unwrap().as_deref(), Some("false"));
        let e = allowed(&key("http://storage.lan:4443")).unwrap_err();
        assert!(matches!(&e, DestinationError::Setup { reason, .. } if reason.contains("gcs_base_url")), "{e}");
    }

    #[test]
    fn a_sas_token_is_told_from_an_account_key() {
        assert!(StorageCredentials::is_sas("?sv=2024-08-04&ss=b&sig=abc%3D"));
        assert!(StorageCredentials::is_sas("sv=2024&sig=x"));
        assert!(!StorageCredentials::is_sas(
            "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
        ));
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let c = StorageCredentials::S3 {
            access_key_id: "AKIA".into(),
            secret_access_key: Zeroizing::new("very-secret".into()),
            region: None,
            endpoint: None,
        };
        assert!(!format!("{c:?}").contains("very-secret"));
    }
}
