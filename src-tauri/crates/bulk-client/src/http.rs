use std::time::Duration;

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
        let inner = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(15))
            // A quiet connection is a dead one; whole downloads may legitimately take hours.
            .read_timeout(Duration::from_secs(60))
            .build()
            .expect("the HTTP client's fixed settings are valid");
        let files = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the HTTP client's fixed settings are valid");
        Self { inner, files }
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}
