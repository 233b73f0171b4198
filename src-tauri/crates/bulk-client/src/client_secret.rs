//! OAuth 2.0 client credentials with a client secret (RFC 6749 §2.3.1, §4.4): how CMS BCDA and AB2D (via
//! Okta) and Microsoft Entra (Azure Health Data Services) issue tokens. The secret goes either in an HTTP
//! Basic `Authorization` header (`client_secret_basic`) or as form fields (`client_secret_post`); the token
//! is cached in memory until shortly before it expires, like SMART's.

use std::time::Duration;

use base64::Engine;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use zeroize::Zeroizing;

use crate::http::HttpClient;
use crate::secrets::Secrets;
use crate::smart::{AuthError, AuthErrorKind, says_unknown_client};
use crate::token_endpoint::{OAuthRefusal, TokenAnswer, TokenCache, not_oauth, post_form};

/// Where the client secret goes in the token request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SecretStyle {
    /// `client_secret_basic`: an HTTP Basic `Authorization` header (RFC 6749's default; BCDA, AB2D/Okta).
    #[default]
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` as form fields (Microsoft Entra).
    Post,
}

impl SecretStyle {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretStyle::Basic => "basic",
            SecretStyle::Post => "post",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "basic" | "client_secret_basic" => Some(SecretStyle::Basic),
            "post" | "client_secret_post" => Some(SecretStyle::Post),
            _ => None,
        }
    }
}

/// Form fields Haul sets itself: an extra token parameter may not replace them.
const RESERVED_PARAMS: &[&str] =
    &["grant_type", "client_id", "client_secret", "client_assertion", "client_assertion_type", "scope"];

/// Checks the name of an extra token parameter (`audience`, `resource`, …). The error is a sentence.
pub fn check_token_param(name: &str) -> Result<(), String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("A token parameter needs a name before the = sign, as in audience=https://api.example.org.".into());
    }
    if name == "scope" {
        return Err("Set the scope in its own field, not as an extra token parameter.".into());
    }
    if RESERVED_PARAMS.contains(&name) {
        return Err(format!("“{name}” is set by Haul itself and cannot be an extra token parameter."));
    }
    if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("“{}” is not a parameter name: names have no spaces.", crate::text::printable(name)));
    }
    if names_a_secret(name) {
        return Err(format!(
            "“{}” looks like a secret, and extra token parameters are kept as plain settings, not in the keychain. Put the client secret in its own field; Haul cannot keep a second secret for one server.",
            crate::text::printable(name)
        ));
    }
    Ok(())
}

/// Parameter names whose values are secrets (`password`, `api_key`, `refresh_token`, `Ocp-Apim-Subscription-Key`,
/// …): letters and digits only, lower case, compared by what they contain.
fn names_a_secret(name: &str) -> bool {
    const SECRET_WORDS: &[&str] = &[
        "secret",
        "password",
        "passwd",
        "pwd",
        "token",
        "apikey",
        "subscriptionkey",
        "credential",
        "privatekey",
        "assertion",
    ];
    let plain: String = name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect();
    SECRET_WORDS.iter().any(|w| plain.contains(w))
}

/// Signs in to one server with a client ID and secret, and keeps the current access token (in memory only).
pub struct ClientSecretAuth {
    http: HttpClient,
    token_url: String,
    client_id: String,
    secret: Zeroizing<String>,
    style: SecretStyle,
    scope: Option<String>,
    params: Vec<(String, String)>,
    cache: TokenCache,
    /// The secret, its Basic header and every token received, so server text echoing one can be cleaned.
    secrets: Secrets,
}

impl std::fmt::Debug for ClientSecretAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecretAuth")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("style", &self.style)
            .finish_non_exhaustive()
    }
}

impl ClientSecretAuth {
    pub fn new(
        http: HttpClient,
        token_url: String,
        client_id: String,
        secret: Zeroizing<String>,
        style: SecretStyle,
    ) -> Self {
        let secrets = Secrets::default();
        secrets.add_lasting(&secret);
        let this = Self {
            http,
            token_url,
            client_id,
            secret,
            style,
            scope: None,
            params: Vec::new(),
            cache: TokenCache::default(),
            secrets,
        };
        if let Some(header) = this.basic_header() {
            // An echoed Authorization header shows the secret base64-encoded.
            this.secrets.add_lasting(header.trim_start_matches("Basic "));
        }
        this
    }

    /// The scope to ask for; none (blank) sends no `scope` (BCDA wants none, AB2D `clientCreds`, Entra
    /// `https://<FHIR host>/.default`).
    pub fn with_scope(mut self, scope: Option<String>) -> Self {
        self.scope = scope.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        self
    }

    /// Extra form fields for the token request (`audience`, `resource`, …), sent after Haul's own.
    pub fn with_token_params(mut self, params: Vec<(String, String)>) -> Self {
        self.params = params;
        self
    }

    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// The secret and the tokens this sign-in has used so far (shared: later ones are added as they come).
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// `Basic base64(id:secret)`, each part form-encoded first as RFC 6749 §2.3.1 asks (ids and secrets
    /// made of letters, digits, `-`, `_` and `.`, the usual ones, are unchanged by it).
    fn basic_header(&self) -> Option<Zeroizing<String>> {
        if self.style != SecretStyle::Basic {
            return None;
        }
        let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let pair = Zeroizing::new(format!("{}:{}", encode(&self.client_id), encode(&self.secret)));
        Some(Zeroizing::new(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair.as_bytes()))))
    }

    /// Asks the token endpoint for a new token (no caching): the building block of [`Self::access_token`].
    pub async fn request_token(&self) -> Result<(Zeroizing<String>, Duration), AuthError> {
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        if self.style == SecretStyle::Post {
            form.push(("client_id", self.client_id.as_str()));
            form.push(("client_secret", self.secret.as_str()));
        }
        if let Some(scope) = &self.scope {
            form.push(("scope", scope.as_str()));
        }
        form.extend(self.params.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let header = self.basic_header();
        let scrub = |mut e: AuthError| {
            e.message = self.secrets.redact(&e.message);
            e.detail = e.detail.map(|d| self.secrets.redact(&d));
            e
        };
        match post_form(&self.http, &self.token_url, &form, header.as_deref().map(String::as_str)).await {
            Ok(TokenAnswer::Token { token, lifetime }) => {
                self.secrets.add(&token);
                Ok((token, lifetime))
            }
            Ok(TokenAnswer::Refused(r)) => Err(scrub(self.refusal(&r))),
            Ok(TokenAnswer::NotOAuth { status: 401, body }) => Err(scrub(self.unexplained_401(&body))),
            Ok(TokenAnswer::NotOAuth { status, body }) => Err(scrub(not_oauth(&self.token_url, status, &body))),
            Err(e) => Err(scrub(e)),
        }
    }

    /// The current access token: the cached one while it is fresh, else a new one.
    pub async fn access_token(&self) -> Result<Zeroizing<String>, AuthError> {
        self.cache.get_or_fetch(|| self.request_token()).await
    }

    /// Forgets the cached token (a server said 401).
    pub async fn invalidate(&self) {
        self.cache.clear().await;
    }

    /// What to try with the other style, for messages where the style may be the cause.
    fn other_style_hint(&self) -> &'static str {
        match self.style {
            SecretStyle::Basic => "this server wants them as form fields (client_secret_post)",
            SecretStyle::Post => "this server wants them in an Authorization header (client_secret_basic)",
        }
    }

    fn unexplained_401(&self, body: &[u8]) -> AuthError {
        AuthError::new(
            AuthErrorKind::WrongSecret,
            format!(
                "The token endpoint refused the client ID “{}” and its secret (HTTP 401) without giving a reason. The client ID or secret is wrong, or {}.",
                self.client_id,
                self.other_style_hint()
            ),
            Some(format!("HTTP 401. Body begins: {}", crate::error::excerpt(body))),
        )
    }

    /// Reads an RFC 6749 error answer into plain words: what the server said, and a likely cause only
    /// where its words or the request point to one.
    fn refusal(&self, r: &OAuthRefusal) -> AuthError {
        let said = r.said();
        let d = r.lower_description();
        let client = &self.client_id;
        let names_credentials = d.contains("client_secret") || d.contains("client_id") || d.contains("credentials");
        // "Unknown client or wrong secret" is not an unknown client: servers often will not say which.
        let unknown_client = (says_unknown_client(&r.error, &d) || d.contains("was not found"))
            && !(d.contains("secret") || d.contains("credential") || d.contains("password"));
        let (kind, message) = match r.error.as_str() {
            "invalid_scope" => (
                AuthErrorKind::InvalidScope,
                match &self.scope {
                    Some(scope) => format!(
                        "The server refused the scope “{scope}” ({said}). Set the scope its documentation gives (for example clientCreds for AB2D, or https://<FHIR host>/.default for Azure) in the server's settings."
                    ),
                    None => format!(
                        "The server wants a scope and none is set ({said}). Set the scope its documentation gives in the server's settings."
                    ),
                },
            ),
            _ if unknown_client => (
                AuthErrorKind::UnknownClient,
                format!(
                    "The server does not know the client ID “{client}” ({said}). Check the client ID in the server's settings."
                ),
            ),
            "invalid_client" if d.contains("expired") => (
                AuthErrorKind::WrongSecret,
                format!(
                    "The server says the secret of client “{client}” has expired ({said}). Create a new secret where the client is registered and enter it on the Servers page."
                ),
            ),
            "invalid_client" => (
                AuthErrorKind::WrongSecret,
                format!(
                    "The server refused the client ID “{client}” and its secret ({said}). The client ID or secret is wrong, or {}.",
                    self.other_style_hint()
                ),
            ),
            "invalid_request" if self.style == SecretStyle::Basic && names_credentials => (
                AuthErrorKind::WrongSecret,
                format!(
                    "The server did not find the client's credentials in the request ({said}). It likely wants the client ID and secret as form fields: choose client_secret_post in the server's settings."
                ),
            ),
            "unauthorized_client" => (
                AuthErrorKind::Refused,
                format!(
                    "The server knows client “{client}” but does not let it sign in this way ({said}). Ask its administrators to allow the client credentials grant for it."
                ),
            ),
            _ => (AuthErrorKind::Refused, format!("The server refused to sign Haul in ({said}).")),
        };
        AuthError::new(kind, message, Some(r.detail()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(style: SecretStyle, scope: Option<&str>) -> ClientSecretAuth {
        ClientSecretAuth::new(
            HttpClient::new(),
            "https://auth.test/token".into(),
            "bcda-client".into(),
            Zeroizing::new("s3cret-value-0123456789".into()),
            style,
        )
        .with_scope(scope.map(str::to_string))
    }

    fn refused(a: &ClientSecretAuth, error: &str, description: &str) -> AuthError {
        a.refusal(&OAuthRefusal { status: 401, error: error.into(), description: description.into() })
    }

    #[test]
    fn a_refused_secret_names_the_style_as_a_possible_cause() {
        let e = refused(&auth(SecretStyle::Basic, None), "invalid_client", "Client authentication failed");
        assert_eq!(e.kind, AuthErrorKind::WrongSecret);
        assert!(e.message.contains("Client authentication failed"), "{}", e.message);
        assert!(
            e.message.contains(
                "The client ID or secret is wrong, or this server wants them as form fields (client_secret_post)"
            ),
            "{}",
            e.message
        );
        let e =
            refused(&auth(SecretStyle::Post, None), "invalid_client", "AADSTS7000215: Invalid client secret provided.");
        assert!(e.message.contains("Authorization header (client_secret_basic)"), "{}", e.message);
        assert!(e.message.contains("AADSTS7000215"), "{}", e.message);
    }

    #[test]
    fn other_refusals_say_what_the_server_said_and_a_cause_only_when_likely() {
        let basic = auth(SecretStyle::Basic, Some("clientCreds"));
        let e = refused(&basic, "invalid_client", "The provided client secret keys for app 'x' are expired.");
        assert!(
            e.message.contains("has expired") && e.message.contains("enter it on the Servers page"),
            "{}",
            e.message
        );
        let e = refused(&basic, "invalid_scope", "The requested scope is invalid");
        assert_eq!(e.kind, AuthErrorKind::InvalidScope);
        assert!(e.message.contains("“clientCreds”") && e.message.contains("The requested scope is invalid"));
        let e = refused(&auth(SecretStyle::Post, None), "invalid_scope", "scope is required");
        assert!(e.message.contains("none is set"), "{}", e.message);
        let e = refused(&basic, "unauthorized_client", "Application with identifier 'bcda-client' was not found");
        assert_eq!(e.kind, AuthErrorKind::UnknownClient, "{e:?}");
        let e = refused(&basic, "invalid_client", "unknown client or wrong client secret");
        assert_eq!(e.kind, AuthErrorKind::WrongSecret, "not said to be unknown: {e:?}");
        let e = refused(&basic, "invalid_request", "client_secret is required for the client_credentials grant");
        assert!(e.message.contains("client_secret_post"), "{}", e.message);
        // The same words with post: the style is not the cause, so it is not named.
        let e = refused(&auth(SecretStyle::Post, None), "invalid_request", "client_secret is required");
        assert_eq!(e.kind, AuthErrorKind::Refused);
        assert!(!e.message.contains("client_secret_basic"), "{}", e.message);
        let e = refused(&basic, "invalid_grant", "something else entirely");
        assert_eq!(e.kind, AuthErrorKind::Refused);
        assert!(e.message.contains("invalid_grant: something else entirely"), "{}", e.message);
        assert!(e.detail.unwrap().starts_with("HTTP 401"));
    }

    #[test]
    fn the_secret_and_its_basic_header_are_held_for_redaction() {
        let a = auth(SecretStyle::Basic, None);
        let header = a.basic_header().unwrap();
        assert_eq!(
            header.as_str(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("bcda-client:s3cret-value-0123456789")
            )
        );
        let echoed = format!("you sent {} with secret s3cret-value-0123456789", header.as_str());
        let clean = a.secrets().redact(&echoed);
        assert!(!clean.contains("s3cret") && !clean.contains(header.trim_start_matches("Basic ")), "{clean}");
        assert!(auth(SecretStyle::Post, None).basic_header().is_none());
    }

    #[test]
    fn extra_parameters_cannot_replace_hauls_own() {
        assert!(check_token_param("audience").is_ok());
        assert!(check_token_param("resource").is_ok());
        assert!(check_token_param("scope").unwrap_err().contains("own field"));
        assert!(check_token_param("client_secret").unwrap_err().contains("set by Haul itself"));
        assert!(check_token_param(" ").is_err());
        assert!(check_token_param("two words").is_err());
        for secret in ["password", "api_key", "refresh_token", "Ocp-Apim-Subscription-Key", "x-client-Secret"] {
            assert!(check_token_param(secret).unwrap_err().contains("looks like a secret"), "{secret}");
        }
        assert!(check_token_param("audience").is_ok() && check_token_param("subject_type").is_ok());
        assert_eq!(SecretStyle::parse("POST"), Some(SecretStyle::Post));
        assert_eq!(SecretStyle::parse("client_secret_basic"), Some(SecretStyle::Basic));
        assert_eq!(SecretStyle::parse("header"), None);
    }
}
