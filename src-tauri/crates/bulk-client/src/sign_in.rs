//! One sign-in type for every method a session may use: SMART Backend Services (a signed assertion), a
//! client ID and secret, or a bearer token given by hand. The session asks only for a token, a request sent
//! with it (signed in again once on 401, where that is possible), and the secrets to clean out of server text.

use reqwest::{RequestBuilder, Response, StatusCode};
use zeroize::Zeroizing;

use crate::client_secret::ClientSecretAuth;
use crate::secrets::Secrets;
use crate::smart::{AuthError, AuthErrorKind, BackendAuth};

/// How a session signs in to its server.
#[derive(Debug)]
pub enum SignIn {
    /// SMART Backend Services (`private_key_jwt`).
    Backend(BackendAuth),
    /// OAuth 2.0 client credentials with a client secret (BCDA, AB2D, Microsoft Entra).
    ClientSecret(ClientSecretAuth),
    /// A bearer token the user pasted: sent as it is, never renewed.
    Bearer(StaticBearer),
}

impl From<BackendAuth> for SignIn {
    fn from(a: BackendAuth) -> Self {
        SignIn::Backend(a)
    }
}

impl From<ClientSecretAuth> for SignIn {
    fn from(a: ClientSecretAuth) -> Self {
        SignIn::ClientSecret(a)
    }
}

impl From<StaticBearer> for SignIn {
    fn from(a: StaticBearer) -> Self {
        SignIn::Bearer(a)
    }
}

impl SignIn {
    /// The current access token (a new one when the cached one is stale; the pasted one as it is).
    pub async fn access_token(&self) -> Result<Zeroizing<String>, AuthError> {
        match self {
            SignIn::Backend(a) => a.access_token().await,
            SignIn::ClientSecret(a) => a.access_token().await,
            SignIn::Bearer(b) => Ok(b.token.clone()),
        }
    }

    /// Forgets the cached token (a server said 401). A pasted token has nothing to forget.
    pub async fn invalidate(&self) {
        match self {
            SignIn::Backend(a) => a.invalidate().await,
            SignIn::ClientSecret(a) => a.invalidate().await,
            SignIn::Bearer(_) => {}
        }
    }

    /// Every secret this sign-in holds or has received (shared: later tokens are added as they come).
    pub fn secrets(&self) -> &Secrets {
        match self {
            SignIn::Backend(a) => a.secrets(),
            SignIn::ClientSecret(a) => a.secrets(),
            SignIn::Bearer(b) => &b.secrets,
        }
    }

    /// The token endpoint, for the methods that have one.
    pub fn token_url(&self) -> Option<&str> {
        match self {
            SignIn::Backend(a) => Some(a.token_url()),
            SignIn::ClientSecret(a) => Some(a.token_url()),
            SignIn::Bearer(_) => None,
        }
    }

    /// Sends a request with the bearer token; on 401, signs in again once and resends. With a pasted token
    /// a 401 is an [`AuthError`]: there is no way to get another token.
    pub async fn send(
        &self,
        build: impl Fn(&str) -> RequestBuilder,
    ) -> Result<Result<Response, reqwest::Error>, AuthError> {
        if let SignIn::Bearer(b) = self {
            return b.send(build).await;
        }
        let token = self.access_token().await?;
        let first = build(&token).send().await;
        match &first {
            Ok(r) if r.status() == StatusCode::UNAUTHORIZED => {
                self.invalidate().await;
                let token = self.access_token().await?;
                Ok(build(&token).send().await)
            }
            _ => Ok(first),
        }
    }
}

/// A bearer token given by hand (a gateway's portal issued it): kept in memory, never renewed.
pub struct StaticBearer {
    token: Zeroizing<String>,
    secrets: Secrets,
}

impl std::fmt::Debug for StaticBearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticBearer(..)")
    }
}

impl StaticBearer {
    /// `token` without surrounding white space (a paste often brings a line end along).
    pub fn new(token: Zeroizing<String>) -> Self {
        let token = Zeroizing::new(token.trim().to_string());
        let secrets = Secrets::default();
        secrets.add_lasting(&token);
        Self { token, secrets }
    }

    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    async fn send(
        &self,
        build: impl Fn(&str) -> RequestBuilder,
    ) -> Result<Result<Response, reqwest::Error>, AuthError> {
        match build(&self.token).send().await {
            Ok(r) if r.status() == StatusCode::UNAUTHORIZED => Err(self.refused(r).await),
            other => Ok(other),
        }
    }

    async fn refused(&self, response: Response) -> AuthError {
        let challenge = response
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(|v| format!(" WWW-Authenticate: {}.", crate::text::printable(v)))
            .unwrap_or_default();
        let body = crate::session::read_small(response).await;
        let said = match crate::error::operation_outcome_text(&body) {
            Some(oo) => format!(" The server said: {oo}"),
            None if body.is_empty() => String::new(),
            None => format!(" Body begins: {}", crate::error::excerpt(&body)),
        };
        AuthError::new(
            AuthErrorKind::TokenRefused,
            "The server refused the bearer token it was given (HTTP 401): the token is wrong, has expired or was revoked. Haul cannot renew a token given by hand: get a new one from the server's operators or portal and give it to Haul again.",
            Some(self.secrets.redact(&format!("HTTP 401.{challenge}{said}"))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_pasted_token_is_trimmed_held_for_redaction_and_never_renewed() {
        let sign_in = SignIn::from(StaticBearer::new(Zeroizing::new("  pasted-token-0123456789\n".into())));
        assert_eq!(sign_in.access_token().await.unwrap().as_str(), "pasted-token-0123456789");
        sign_in.invalidate().await;
        assert_eq!(sign_in.access_token().await.unwrap().as_str(), "pasted-token-0123456789");
        assert_eq!(sign_in.secrets().redact("Bearer pasted-token-0123456789"), "Bearer [redacted]");
        assert!(sign_in.token_url().is_none());
    }
}
