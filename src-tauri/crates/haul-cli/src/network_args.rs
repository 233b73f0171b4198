//! `haul export`'s network flags, for hospitals' and payers' networks: a CA certificate file, a proxy with a
//! user name and password, a client certificate (PEM, or PKCS#12 with its password). Secrets come from
//! environment variables, never from the command line, where other users of the computer can see them. They
//! serve this one export: a `haul resume` of it does not remember them.

use std::path::PathBuf;

use bulk_client::{HttpClient, NetworkSettings, ProxySettings, check_proxy_url};
use clap::Args;
use zeroize::Zeroizing;

#[derive(Args, Debug, Default)]
pub struct NetworkArgs {
    /// A CA certificate file (PEM) to trust besides this computer's: for a server whose certificate comes
    /// from its organisation's own certificate authority.
    #[arg(long, value_name = "PATH")]
    ca_file: Option<PathBuf>,
    /// A web proxy for this export (http://host:port or https://host:port), instead of HTTP_PROXY/HTTPS_PROXY
    /// and the desktop's proxy settings (GNOME's PAC files included), which apply without it.
    #[arg(long, value_name = "URL")]
    proxy: Option<String>,
    /// The proxy's user name.
    #[arg(long, value_name = "NAME", requires = "proxy")]
    proxy_user: Option<String>,
    /// The proxy's password, read from this environment variable.
    #[arg(long, value_name = "VAR", requires = "proxy_user")]
    proxy_password_env: Option<String>,
    /// A client certificate for servers that ask for one: a PEM file (certificate and private key) or a
    /// PKCS#12 file (.p12, .pfx).
    #[arg(long, value_name = "FILE")]
    client_cert: Option<PathBuf>,
    /// The PKCS#12 file's password, read from this environment variable.
    #[arg(long, value_name = "VAR", requires = "client_cert")]
    client_cert_password_env: Option<String>,
}

/// The value of `--<flag> VAR`'s variable; never printed.
fn secret_of(flag: &str, variable: &str, what: &str) -> Result<Zeroizing<String>, String> {
    if variable.is_empty() || variable.contains('=') || variable.contains('\0') {
        return Err(format!("--{flag} takes the name of an environment variable, not “{variable}”."));
    }
    match std::env::var(variable) {
        Ok(value) => Ok(Zeroizing::new(value)),
        Err(std::env::VarError::NotPresent) => Err(format!(
            "--{flag} names {variable}, but that environment variable is not set here. Set it to the {what} first, without typing it on a command line (for example `read -rs {variable} && export {variable}`)."
        )),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(format!("--{flag} names {variable}, but its value is not text. Put the {what} in it as it was given."))
        }
    }
}

impl NetworkArgs {
    /// The HTTP client these flags ask for (none: this computer's roots and proxy settings). Files are read
    /// and checked here, before anything is created.
    pub fn http_client(&self) -> Result<HttpClient, String> {
        let mut settings = NetworkSettings::default();
        if let Some(path) = &self.ca_file {
            settings.extra_roots_pem = Some(haul_store::read_ca_file(path).map_err(|e| format!("--ca-file: {e}"))?);
        }
        if let Some(url) = &self.proxy {
            let url = check_proxy_url(url).map_err(|e| format!("--proxy: {e}"))?;
            let password = match &self.proxy_password_env {
                Some(variable) => Some(secret_of("proxy-password-env", variable, "proxy password")?),
                None => None,
            };
            settings.proxy = Some(ProxySettings { url, username: self.proxy_user.clone(), password });
        }
        if let Some(path) = &self.client_cert {
            let password = match &self.client_cert_password_env {
                Some(variable) => Some(secret_of("client-cert-password-env", variable, "certificate file's password")?),
                None => None,
            };
            let identity = haul_store::read_client_certificate_file(path, password.as_deref().map(String::as_str))
                .map_err(|e| format!("--client-cert: {e}"))?;
            let description = &identity.description;
            if description.expired {
                eprintln!(
                    "Warning: the client certificate {} expired on {}; servers will likely refuse it.",
                    bulk_client::printable(&description.subject),
                    description.not_after
                );
            }
            settings.client_identity_pem = Some(identity.pem());
        }
        HttpClient::configured(&settings).map_err(|e| e.to_string())
    }
}
