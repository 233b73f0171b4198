//! A job's sign-in settings made into the sign-in its session uses. Secrets are read here, when the job
//! runs, and held in memory only: a signing key or a saved server's secret from the OS keychain, or the
//! command line's secret from the environment variable it named.

use std::path::Path;

use std::sync::Mutex;

use bulk_client::{BackendAuth, ClientSecretAuth, HttpClient, SignIn, StaticBearer, discover_token_url};
use haul_store::{AuthSettings, Database, KeyStoreError, Keychain, SecretRef, ServerError, SignInMethod};
use zeroize::Zeroizing;

use crate::runner::JobError;

/// The sign-in for `auth` with the server at `fhir_url` (whose token endpoint is discovered when the
/// settings name none). A secret that is missing fails here, before anything is sent.
pub(crate) async fn sign_in_for(
    db: &Mutex<Database>,
    keychain: &Keychain,
    http: &HttpClient,
    fhir_url: &str,
    auth: &AuthSettings,
) -> Result<SignIn, JobError> {
    let client_id = || auth.client_id.clone().unwrap_or_default();
    Ok(match auth.method {
        SignInMethod::SmartBackend => {
            let key = match (&auth.key_file, auth.key_kid.as_deref()) {
                (Some(path), _) => key_from_file(Path::new(path))?,
                (None, Some(kid)) => db.lock().expect("database lock").signing_key(keychain, kid)?,
                (None, None) => return Err(KeyStoreError::Invalid(
                    "This export signs in with SMART Backend Services but names no signing key. Choose a key for the server on the Servers page, then export again.".into(),
                ).into()),
            };
            let token_url = token_url(http, fhir_url, auth).await?;
            BackendAuth::new(http.clone(), token_url, client_id(), auth.scope.clone(), std::sync::Arc::new(key))
                .with_registration(auth.assertion_kid.clone(), auth.jku.clone())
                .into()
        }
        SignInMethod::ClientSecret => {
            let secret = read_secret(db, keychain, auth)?;
            let token_url = token_url(http, fhir_url, auth).await?;
            ClientSecretAuth::new(http.clone(), token_url, client_id(), secret, auth.secret_style)
                .with_scope(auth.scope.clone())
                .with_token_params(auth.token_params.clone())
                .into()
        }
        SignInMethod::BearerToken => StaticBearer::new(read_secret(db, keychain, auth)?).into(),
    })
}

async fn token_url(http: &HttpClient, fhir_url: &str, auth: &AuthSettings) -> Result<String, JobError> {
    match &auth.token_url {
        Some(t) if !t.trim().is_empty() => Ok(t.clone()),
        _ => discover_token_url(http, fhir_url)
            .await
            .map_err(|e| JobError::Server { message: e.message, detail: e.detail }),
    }
}

/// The client secret or bearer token, from where the settings say it is.
fn read_secret(db: &Mutex<Database>, keychain: &Keychain, auth: &AuthSettings) -> Result<Zeroizing<String>, JobError> {
    let what = if auth.method == SignInMethod::BearerToken { "bearer token" } else { "client secret" };
    let missing = |message: String| JobError::Key(KeyStoreError::NoSecret(message));
    match &auth.secret {
        Some(SecretRef::Keychain { server_id }) => {
            match db.lock().expect("database lock").server_secret(keychain, *server_id) {
                Ok(secret) => Ok(secret),
                Err(ServerError::Keychain(e)) => Err(JobError::Key(e.into())),
                Err(ServerError::NotFound(_)) => Err(missing(format!(
                    "The server this export signs in to was removed from Haul, and its {what} with it. Add the server again and start a new export."
                ))),
                Err(e) => Err(missing(e.to_string())),
            }
        }
        Some(SecretRef::Environment { variable }) => match std::env::var(variable) {
            Ok(value) if !value.trim().is_empty() => Ok(Zeroizing::new(value)),
            _ => Err(missing(format!(
                "This export reads its {what} from the environment variable {variable}, which is not set (or empty) here. Set it, then resume the export."
            ))),
        },
        Some(SecretRef::File { path }) => haul_store::read_secret_text(Path::new(path))
            .map_err(|e| missing(format!("{e} (the {what} of this export)"))),
        None => Err(missing(format!(
            "This export signs in with a {what} but does not say where it is kept. Start a new export from the Servers page or with `haul export`."
        ))),
    }
}

/// A SMART private key from its file (PEM or JWK; private to its owner), for a computer without a keychain.
fn key_from_file(path: &Path) -> Result<bulk_client::SigningKey, JobError> {
    let bytes = haul_store::read_secret_file(path)
        .map_err(|e| JobError::Key(KeyStoreError::NoSecret(format!("{e} (the signing key of this export)"))))?;
    bulk_client::SigningKey::import(&bytes).map_err(|e| {
        JobError::Key(KeyStoreError::Invalid(format!(
            "The key file {} is not a usable private key: {e}",
            path.display()
        )))
    })
}
