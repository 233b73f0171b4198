//! The shape of a server profile: what one kind of server needs from Haul. Field names are the JSON keys
//! of the files in `profiles/`; every struct refuses keys it does not know, so a typo fails loudly instead
//! of leaving a setting at its default.
//!
//! Text fields may hold placeholders such as `<tenant-id>`: parts the user fills in (see `placeholders`).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::ProfileError;
use crate::since;

/// The short name used across Haul's crates.
pub type Profile = ServerProfile;

/// One kind of server, as the user picks it ("what kind of server is this?").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct ServerProfile {
    /// Stable id, equal to the file name without `.json`.
    pub id: String,
    /// As shown in the picker, e.g. "CMS BCDA (sandbox)".
    pub name: String,
    /// Who runs or makes the server.
    pub vendor: String,
    /// One plain sentence for the server form.
    pub summary: String,
    /// Public pages the facts in this profile come from.
    pub sources: Vec<String>,
    /// The FHIR base URL when it is the same for everyone (sandboxes, national services).
    #[serde(default)]
    pub base_url: Option<String>,
    /// The shape of the base URL when each organization has its own, with placeholders.
    #[serde(default)]
    pub base_url_hint: Option<String>,
    pub sign_in: ProfileSignIn,
    /// Credentials the server publishes for its sandbox; never anything private.
    #[serde(default)]
    pub test_credentials: Option<TestCredentials>,
    /// Group ids the server offers to everyone (BCDA's `all` and `runout`).
    #[serde(default)]
    pub groups: Vec<ProfileGroup>,
    /// Export levels the server supports.
    pub levels: Vec<ProfileLevel>,
    /// Kick-off parameters the server turns down.
    #[serde(default)]
    pub refused_params: Vec<String>,
    #[serde(default)]
    pub since_format: SinceFormat,
    #[serde(default)]
    pub quirks: ProfileQuirks,
    /// What the user should know that no field says, including facts that could not be confirmed.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// How Haul gets a token from this kind of server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct ProfileSignIn {
    pub method: ProfileSignInMethod,
    /// Fixed, or a pattern with placeholders; absent when Haul should discover it from the server.
    #[serde(default)]
    pub token_url: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    /// Client secret only.
    #[serde(default)]
    pub secret_style: Option<ProfileSecretStyle>,
    /// Extra token request fields as (name, value).
    #[serde(default)]
    pub token_params: Vec<(String, String)>,
    /// SMART Backend Services only: the key the server expects.
    #[serde(default)]
    pub key: Option<ProfileKey>,
}

/// The same words as the server form's sign-in choice, so the app can copy it across.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ProfileSignInMethod {
    /// No sign-in at all.
    Open,
    /// SMART Backend Services: a signed JWT assertion.
    SmartBackend,
    /// OAuth 2.0 client credentials with a client secret.
    ClientSecret,
    /// A token the user pastes in.
    BearerToken,
}

/// Where the client secret goes in the token request (bulk-client's `SecretStyle`, same spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ProfileSecretStyle {
    /// `client_secret_basic`: an HTTP Basic header.
    Basic,
    /// `client_secret_post`: form fields.
    Post,
}

/// The signing key a SMART-like server expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct ProfileKey {
    pub algorithm: ProfileKeyAlgorithm,
    /// RSA only: the size the server's guide asks for, when it names one.
    #[serde(default)]
    pub rsa_bits: Option<u32>,
    /// How the public half reaches the server.
    pub registers: KeyRegistration,
}

/// bulk-client's `KeyAlgorithm`, same spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub enum ProfileKeyAlgorithm {
    RS384,
    ES384,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum KeyRegistration {
    /// A JWKS document uploaded to the server's portal.
    JwksFile,
    /// A public URL serving the JWKS, which the server fetches (Epic).
    JwksUrl,
    /// A PEM public key pasted into the server's portal (DPC).
    Pem,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct TestCredentials {
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct ProfileGroup {
    pub id: String,
    pub label: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ProfileLevel {
    System,
    Patient,
    Group,
}

/// How `_since` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SinceFormat {
    /// Any FHIR instant, `Z` included: what the IG allows.
    #[default]
    UtcZ,
    /// A numeric offset (`+00:00`) instead of `Z`, for servers whose docs demand one.
    Offset,
}

/// Behaviour that differs from the IG and changes what Haul should do.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields, default)]
#[ts(export)]
pub struct ProfileQuirks {
    /// No `_since` means "since my last export", not "everything" (AB2D).
    pub default_since_last: bool,
    /// The server runs one export per client at a time and refuses a second while one runs.
    pub one_export_at_a_time: bool,
    /// Files need the bearer token even when the manifest leaves `requiresAccessToken` out.
    pub files_need_token_without_flag: bool,
    /// The server takes Azure's `_container` kick-off parameter.
    pub container_param: bool,
    /// How long finished files stay downloadable.
    pub files_expire_hours: Option<u32>,
}

impl ServerProfile {
    /// Sandboxes are the profiles whose id says so; they must name their base URL.
    pub fn is_sandbox(&self) -> bool {
        self.id.ends_with("-sandbox")
    }

    /// Writes a FHIR instant the way this server wants `_since`. The input must already be an instant
    /// (seconds and a time zone); a `Z` becomes `+00:00` for servers that want an offset.
    pub fn format_since(&self, instant: &str) -> Result<String, ProfileError> {
        since::format(self.since_format, instant)
    }

    /// Refuses a kick-off whose parameters include one this server turns down. `params` are parameter
    /// names; a `name=value` pair is judged by its name.
    pub fn check_request(&self, params: &[&str]) -> Result<(), ProfileError> {
        let refused = params
            .iter()
            .map(|param| param.split('=').next().unwrap_or_default().trim())
            .find(|name| self.refused_params.iter().any(|refused| refused == name));
        match refused {
            Some(name) => Err(ProfileError::RefusedParam { server: self.name.clone(), param: name.to_string() }),
            None => Ok(()),
        }
    }

    /// Whether an export at this level makes sense for this server.
    pub fn supports_level(&self, level: ProfileLevel) -> bool {
        self.levels.contains(&level)
    }
}
