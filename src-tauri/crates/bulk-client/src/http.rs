use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::HttpError;
use crate::ca_bundle::{CaBundleError, read_ca_certificates};
use crate::proxy::{ProxyError, ProxySettings};

pub const USER_AGENT: &str = concat!("Haul/", env!("CARGO_PKG_VERSION"), " (FHIR Bulk Data client)");

/// How one server is reached on a corporate network. Meant for that server's jobs only, so an added
/// authority, proxy or certificate serves nothing else Haul talks to. All empty: the platform's roots and
/// the system's proxy (the environment's, else the desktop's: see `desktop_proxy`), as [`HttpClient::new`].
#[derive(Debug, Clone, Default)]
pub struct NetworkSettings {
    /// A PEM file of CA certificates trusted besides the platform's roots: for a server whose certificate
    /// comes from its organisation's own authority.
    pub extra_roots_pem: Option<Vec<u8>>,
    /// A proxy for every request (instead of the system's).
    pub proxy: Option<ProxySettings>,
    /// A client certificate and its key, as PEM ([`crate::ClientIdentity::pem`]), for servers that ask for one
    /// (mutual TLS).
    pub client_identity_pem: Option<Zeroizing<String>>,
}

/// Why the HTTP client for a server's settings cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum NetworkSetupError {
    #[error(transparent)]
    CaCertificates(#[from] CaBundleError),
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    /// The saved client certificate no longer reads (the keychain entry was changed by hand).
    #[error("Haul cannot use the saved client certificate ({0}). Choose the client certificate file again.")]
    ClientCertificate(#[source] reqwest::Error),
    /// Reported by reqwest; not expected once the settings passed the checks above.
    #[error("Haul could not set up connections with these network settings: {0}")]
    Client(#[source] reqwest::Error),
}

/// The longest an exchange other than a file download may take, body included (a 64 MB manifest on a slow
/// line takes minutes).
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(600);

/// One HTTP client per process (or per server with network settings): connection pools are shared,
/// timeouts set once.
#[derive(Clone, Debug)]
pub struct HttpClient {
    pub(crate) inner: reqwest::Client,
    /// For export files: redirects are followed by hand, so a token never travels to another origin, and a
    /// gzip-encoded body is unpacked by `content_encoding`, within the file's bound. Token requests use it too:
    /// a redirect there would post the credentials again.
    pub(crate) files: reqwest::Client,
    /// The server's own proxy, to name it when it fails (the system's proxy is not known by name).
    proxy: Option<Arc<ProxyName>>,
    /// The proxy's password and the `Proxy-Authorization` value made of it: a proxy's error page that echoes
    /// the request must not carry them into a message.
    pub(crate) proxy_secrets: crate::secrets::Secrets,
}

/// A proxy as messages name it: its address, and whether Haul sent it a user name.
#[derive(Debug)]
pub(crate) struct ProxyName {
    pub url: String,
    pub with_credentials: bool,
}

impl HttpClient {
    pub fn new() -> Self {
        Self::configured(&NetworkSettings::default()).expect("the HTTP client's fixed settings are valid")
    }

    /// A client with a server's network settings: extra CA certificates, a proxy, a client certificate.
    pub fn configured(settings: &NetworkSettings) -> Result<HttpClient, NetworkSetupError> {
        let roots = match &settings.extra_roots_pem {
            None => Vec::new(),
            Some(pem) => read_ca_certificates(pem)?
                .iter()
                .map(|der| reqwest::Certificate::from_der(der))
                .collect::<Result<Vec<_>, _>>()
                .map_err(CaBundleError::Client)?,
        };
        // The server's own proxy, else (when the environment names none) the desktop's settings.
        let proxy = match &settings.proxy {
            Some(p) => Some(p.to_reqwest()?),
            None => crate::desktop_proxy::desktop_proxy(),
        };
        let identity = settings
            .client_identity_pem
            .as_ref()
            .map(|pem| reqwest::Identity::from_pem(pem.as_bytes()))
            .transpose()
            .map_err(NetworkSetupError::ClientCertificate)?;
        let builder = || {
            let mut builder = reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .connect_timeout(Duration::from_secs(15))
                // A quiet connection is a dead one; whole downloads may legitimately take hours.
                .read_timeout(Duration::from_secs(60))
                .tls_certs_merge(roots.iter().cloned());
            if let Some(proxy) = &proxy {
                builder = builder.proxy(proxy.clone());
            }
            if let Some(identity) = &identity {
                builder = builder.identity(identity.clone());
            }
            builder
        };
        // A system without CA certificates (a minimal install without `ca-certificates`) makes the platform's
        // verifier refuse to start. Haul then trusts only the certificates its settings name (none: every HTTPS
        // server is refused with a certificate error, plain HTTP on loopback still works) instead of not starting.
        // Never less strict: any other build error comes back from the second try.
        // Everything but a file download (kickoff, status, manifest, discovery, Groups) ends within this, however
        // slowly a server trickles its answer; downloads have their own stall detection instead.
        // Redirects reqwest follows itself (kickoff, status, discovery): never from HTTPS to plain HTTP away from
        // this computer, and at most ten.
        let exchange = |b: reqwest::ClientBuilder| {
            b.timeout(EXCHANGE_TIMEOUT).redirect(reqwest::redirect::Policy::custom(|attempt| {
                let from_https = attempt.previous().last().is_some_and(|p| p.scheme() == "https");
                let to_http = attempt.url().scheme() == "http" && !crate::origins::is_loopback(attempt.url());
                if from_https && to_http {
                    attempt.error("a redirect from HTTPS to plain HTTP")
                } else if attempt.previous().len() > 10 {
                    attempt.error("too many redirects")
                } else {
                    attempt.follow()
                }
            }))
        };
        // Files: redirects followed by hand, gzip-encoded bodies unpacked by `content_encoding`.
        let for_files = |b: reqwest::ClientBuilder| b.redirect(reqwest::redirect::Policy::none()).no_gzip();
        let (inner, files) = match (exchange(builder()).build(), for_files(builder()).build()) {
            (Ok(inner), Ok(files)) => (inner, files),
            _ => {
                tracing::warn!(
                    "the system's CA certificates could not be loaded (is the ca-certificates package installed?); \
                     only the certificates in Haul's settings are trusted"
                );
                let only = || builder().tls_certs_only(roots.iter().cloned());
                let inner = exchange(only()).build().map_err(NetworkSetupError::Client)?;
                let files = for_files(only()).build().map_err(NetworkSetupError::Client)?;
                (inner, files)
            }
        };
        let proxy = settings
            .proxy
            .as_ref()
            .map(|p| Arc::new(ProxyName { url: p.url.clone(), with_credentials: p.username.is_some() }));
        let proxy_secrets = crate::secrets::Secrets::default();
        if let Some(p) = &settings.proxy
            && let (Some(user), Some(password)) = (&p.username, &p.password)
        {
            use base64::Engine;
            proxy_secrets.add_lasting(password);
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", password.as_str()));
            proxy_secrets.add_lasting(&zeroize::Zeroizing::new(basic));
        }
        Ok(Self { inner, files, proxy, proxy_secrets })
    }

    /// A transport failure in words, naming the server's proxy when it is the proxy that failed.
    pub(crate) fn transport_error(&self, err: &reqwest::Error, what: &str, host: &str) -> HttpError {
        HttpError::from_transport_via(err, what, host, self.proxy.as_deref())
    }

    /// A 407 is only ever a proxy's answer (the server's own proxy, or the system's): it is not the server's
    /// refusal, and says what to set.
    pub(crate) fn proxy_refusal(&self, status: reqwest::StatusCode) -> Option<HttpError> {
        (status == reqwest::StatusCode::PROXY_AUTHENTICATION_REQUIRED)
            .then(|| HttpError::proxy_refused(self.proxy.as_deref()).with_status(407))
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}
