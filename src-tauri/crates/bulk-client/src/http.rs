use std::time::Duration;

use crate::ca_bundle::{CaBundleError, read_ca_certificates};

pub const USER_AGENT: &str = concat!("Haul/", env!("CARGO_PKG_VERSION"), " (FHIR Bulk Data client)");

/// One HTTP client per process: connection pools are shared, timeouts set once.
#[derive(Clone, Debug)]
pub struct HttpClient {
    pub(crate) inner: reqwest::Client,
    /// For export files: redirects are followed by hand, so a token never travels to another origin.
    pub(crate) files: reqwest::Client,
}

impl HttpClient {
    pub fn new() -> Self {
        Self::trusting(Vec::new()).expect("the HTTP client's fixed settings are valid")
    }

    /// A client that trusts the CA certificates in `pem` (a PEM file, one or more certificates) besides the
    /// platform's roots: for a server whose certificate comes from its organisation's own authority. Meant
    /// for that server's jobs only, so an added authority vouches for nothing else Haul talks to.
    pub fn with_extra_roots(pem: &[u8]) -> Result<HttpClient, CaBundleError> {
        let roots = read_ca_certificates(pem)?
            .iter()
            .map(|der| reqwest::Certificate::from_der(der))
            .collect::<Result<Vec<_>, _>>()
            .map_err(CaBundleError::Client)?;
        Self::trusting(roots).map_err(CaBundleError::Client)
    }

    /// Both clients, with `extra_roots` added to the platform's (none: the platform's alone).
    fn trusting(extra_roots: Vec<reqwest::Certificate>) -> reqwest::Result<Self> {
        let builder = || {
            reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .connect_timeout(Duration::from_secs(15))
                // A quiet connection is a dead one; whole downloads may legitimately take hours.
                .read_timeout(Duration::from_secs(60))
                .tls_certs_merge(extra_roots.iter().cloned())
        };
        let inner = builder().build()?;
        let files = builder().redirect(reqwest::redirect::Policy::none()).build()?;
        Ok(Self { inner, files })
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}
