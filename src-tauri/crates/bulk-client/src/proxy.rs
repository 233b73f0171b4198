//! A proxy set for one server: corporate networks that send web traffic through a proxy that asks for a
//! user name and password. The proxy's address is checked here, by one rule, for the store and the CLI.
//! Without one: `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY`, then the system's proxy settings (Windows and macOS by
//! reqwest; GNOME's, PAC files included, by `desktop_proxy`). A server's own proxy is an address, not a PAC
//! file: the desktop's PAC setting is where a PAC file goes.

use url::Url;
use zeroize::Zeroizing;

/// A server's proxy as the HTTP client needs it. The password goes to the proxy only
/// (`Proxy-Authorization`), never to the FHIR server.
#[derive(Clone)]
pub struct ProxySettings {
    /// `http://host:port` or `https://host:port`, as [`check_proxy_url`] leaves it.
    pub url: String,
    pub username: Option<String>,
    pub password: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for ProxySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxySettings")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<saved>"))
            .finish()
    }
}

/// Why a proxy address cannot be used. Each message quotes what was typed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("Enter the proxy's address, for example http://proxy.hospital.example:8080.")]
    Empty,
    #[error(
        "“{0}” is not a proxy address. A proxy address looks like http://proxy.hospital.example:8080 (ask your IT department)."
    )]
    NotAnAddress(String),
    #[error(
        "Haul talks to proxies over http:// or https://; “{0}:” proxies are not supported. Ask your IT department for the web (HTTP) proxy's address."
    )]
    Scheme(String),
    #[error(
        "Leave the user name and password out of the proxy's address: enter them in their own fields, so the password is kept in this computer's keychain."
    )]
    CredentialsInAddress,
    #[error(
        "“{0}” looks like a PAC file or a web page, not a proxy. A PAC file belongs in this computer's proxy settings (GNOME: Settings → Network → Proxy → Automatic), which Haul follows when a server has no proxy of its own; here, enter a proxy's address (such as http://proxy.hospital.example:8080)."
    )]
    HasPath(String),
}

/// Checks a proxy address; returns it as stored: `scheme://host[:port]`.
pub fn check_proxy_url(input: &str) -> Result<String, ProxyError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(ProxyError::Empty);
    }
    // A user and password typed into the address are refused before anything quotes the text back.
    let authority = text.split_once("://").map_or(text, |(_, rest)| rest);
    // Anywhere before a query: a password may hold a '/' (`nurse:pa/ss@proxy`), which would end the host early.
    if authority.split(['?', '#']).next().is_some_and(|a| a.contains('@')) {
        return Err(ProxyError::CredentialsInAddress);
    }
    // `proxy.example:8080` would parse with `proxy.example` as its scheme: without "://" it is an http proxy.
    let with_scheme = if text.contains("://") { text.to_string() } else { format!("http://{text}") };
    let url = Url::parse(&with_scheme).map_err(|_| ProxyError::NotAnAddress(text.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(ProxyError::Scheme(url.scheme().to_string()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ProxyError::CredentialsInAddress);
    }
    let Some(host) = url.host_str() else { return Err(ProxyError::NotAnAddress(text.to_string())) };
    if (url.path() != "/" && !url.path().is_empty()) || url.query().is_some() {
        return Err(ProxyError::HasPath(text.to_string()));
    }
    Ok(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

impl ProxySettings {
    /// The reqwest proxy for every request of the client, with Basic credentials for the proxy alone.
    pub(crate) fn to_reqwest(&self) -> Result<reqwest::Proxy, ProxyError> {
        let proxy = reqwest::Proxy::all(&self.url).map_err(|_| ProxyError::NotAnAddress(self.url.clone()))?;
        Ok(match &self.username {
            Some(user) => proxy.basic_auth(user, self.password.as_ref().map_or("", |p| p.as_str())),
            None => proxy,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_addresses_are_normalised_or_refused_in_plain_words() {
        assert_eq!(check_proxy_url(" http://proxy.example:8080/ ").unwrap(), "http://proxy.example:8080");
        assert_eq!(check_proxy_url("https://proxy.example").unwrap(), "https://proxy.example");
        assert_eq!(check_proxy_url("proxy.example:3128").unwrap(), "http://proxy.example:3128");
        assert_eq!(check_proxy_url("10.0.0.5:8080").unwrap(), "http://10.0.0.5:8080");
        assert_eq!(check_proxy_url(""), Err(ProxyError::Empty));
        assert_eq!(check_proxy_url("socks5://proxy.example:1080"), Err(ProxyError::Scheme("socks5".into())));
        assert_eq!(check_proxy_url("http://me:pw@proxy.example:8080"), Err(ProxyError::CredentialsInAddress));
        // Even when the rest does not parse, the typed password is never quoted back.
        assert_eq!(check_proxy_url("http://nurse:hunter2@proxy:99999"), Err(ProxyError::CredentialsInAddress));
        assert_eq!(check_proxy_url("http://nurse:pa/ss@proxy:8080"), Err(ProxyError::CredentialsInAddress));
        assert_eq!(check_proxy_url("http://nurse:1234/x@proxy"), Err(ProxyError::CredentialsInAddress));
        let pac = check_proxy_url("http://wpad.hospital.example/proxy.pac").unwrap_err();
        assert!(matches!(pac, ProxyError::HasPath(_)) && pac.to_string().contains("PAC"), "{pac}");
        assert!(matches!(check_proxy_url("http://"), Err(ProxyError::NotAnAddress(_))));
    }

    #[test]
    fn the_password_is_not_in_debug_output() {
        let settings = ProxySettings {
            url: "http://proxy.example:8080".into(),
            username: Some("nurse".into()),
            password: Some(Zeroizing::new("hunter2-proxy".into())),
        };
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
