//! Where the access token may go: the FHIR server's own origin, and the storage origins a user chose to
//! trust for that server (off by default). Everything else (a file URL, a status URL or a redirect on
//! another host) is asked without it, so a server cannot send the token to a third party.

use url::Url;

/// Why a trusted-origin entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    #[error("“{0}” is not a web address (expected something like https://storage.example.com).")]
    NotAnAddress(String),
    #[error("“{0}” must start with https:// (plain http is allowed only for this computer: localhost or 127.0.0.1).")]
    NotHttps(String),
    #[error("“{0}” names a path or query; list only the address (scheme, host and port), e.g. {1}.")]
    HasPath(String, String),
}

/// A scheme-host-port origin, written as `https://host[:port]` (default ports left out).
pub fn normalize_origin(input: &str) -> Result<String, OriginError> {
    let text = input.trim();
    let url = Url::parse(text).map_err(|_| OriginError::NotAnAddress(text.to_string()))?;
    let host = url.host_str().ok_or_else(|| OriginError::NotAnAddress(text.to_string()))?;
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err(OriginError::NotHttps(text.to_string())),
        _ => return Err(OriginError::NotAnAddress(text.to_string())),
    }
    let origin = url.origin().ascii_serialization();
    if (url.path() != "/" && !url.path().is_empty()) || url.query().is_some() || url.fragment().is_some() {
        return Err(OriginError::HasPath(text.to_string(), origin));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(OriginError::NotAnAddress(text.to_string()));
    }
    Ok(origin)
}

/// Whether `url` is on this computer (localhost, 127.0.0.0/8, ::1), where plain HTTP crosses no network.
pub fn is_loopback(url: &Url) -> bool {
    url.host().is_some_and(|h| match h {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    })
}

/// The origins a session sends its token to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenOrigins {
    /// The FHIR server's origin.
    server: String,
    /// Storage origins the user trusts for this server.
    trusted: Vec<String>,
}

impl TokenOrigins {
    pub fn new(base_url: &str, trusted: &[String]) -> Self {
        let server = origin_of(base_url).unwrap_or_default();
        let trusted = trusted.iter().filter_map(|t| normalize_origin(t).ok()).collect();
        Self { server, trusted }
    }

    /// Whether `url` may receive the token.
    pub fn allows(&self, url: &str) -> bool {
        match origin_of(url) {
            Some(o) => (!self.server.is_empty() && o == self.server) || self.trusted.contains(&o),
            None => false,
        }
    }

    /// `url`'s origin when it is neither the server's nor trusted (for the message that says so).
    pub fn foreign_origin(&self, url: &str) -> Option<String> {
        (!self.allows(url)).then(|| origin_of(url).unwrap_or_else(|| url.to_string()))
    }
}

fn origin_of(url: &str) -> Option<String> {
    let u = Url::parse(url).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| u.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_written_one_way() {
        assert_eq!(normalize_origin(" https://Store.Example.com:443/ ").unwrap(), "https://store.example.com");
        assert_eq!(normalize_origin("https://s.example.com:8443").unwrap(), "https://s.example.com:8443");
        assert_eq!(normalize_origin("http://127.0.0.1:9000").unwrap(), "http://127.0.0.1:9000");
        assert!(matches!(normalize_origin("http://s.example.com"), Err(OriginError::NotHttps(_))));
        assert!(
            matches!(normalize_origin("https://s.example.com/bucket"), Err(OriginError::HasPath(_, o)) if o == "https://s.example.com")
        );
        assert!(matches!(normalize_origin("s.example.com"), Err(OriginError::NotAnAddress(_))));
        assert!(matches!(normalize_origin("file:///etc"), Err(OriginError::NotAnAddress(_))));
        assert!(matches!(normalize_origin("https://u:p@s.example.com"), Err(OriginError::NotAnAddress(_))));
    }

    #[test]
    fn the_token_goes_to_the_server_and_trusted_storage_only() {
        let o = TokenOrigins::new("https://ehr.example.com/fhir/r4", &["https://files.example.net".into()]);
        assert!(o.allows("https://ehr.example.com/bulkstatus/1"));
        assert!(o.allows("https://files.example.net/x/1.ndjson?sig=abc"));
        assert!(!o.allows("http://ehr.example.com/bulkstatus/1"), "another scheme is another origin");
        assert!(!o.allows("https://ehr.example.com:8443/x"));
        assert!(!o.allows("https://evil.example.org/x"));
        assert!(!o.allows("file:///etc/passwd"));
        assert_eq!(o.foreign_origin("https://evil.example.org/x?y").as_deref(), Some("https://evil.example.org"));
        assert_eq!(o.foreign_origin("https://ehr.example.com/x"), None);
    }
}
