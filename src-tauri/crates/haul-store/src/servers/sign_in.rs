//! The sign-in part of the server form: which settings each method keeps, and their checks. A method keeps
//! only its own settings, so switching a server to another method never leaves a stale one behind.

use bulk_client::{SecretStyle, check_token_param, normalize_origin};

use super::{AuthKind, DEFAULT_SCOPE, ServerError, ServerField, ServerInput, check_base_url, invalid};

/// The sign-in settings as stored: trimmed, blank → None, only what the method uses.
#[derive(Debug, Default, PartialEq)]
pub(super) struct SignInFields {
    pub client_id: Option<String>,
    pub scope: Option<String>,
    pub key_kid: Option<String>,
    pub token_url: Option<String>,
    pub trusted_origins: Vec<String>,
    pub secret_style: Option<SecretStyle>,
    pub token_params: Vec<(String, String)>,
    pub assertion_kid: Option<String>,
    pub jku: Option<String>,
}

fn optional(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// The entries checked by the rule the HTTP client enforces (bulk_client's), normalized and each kept once;
/// blank entries (empty lines in the form) are dropped.
fn normalize_trusted_origins(entries: &[String]) -> Result<Vec<String>, ServerError> {
    let mut origins: Vec<String> = Vec::new();
    for entry in entries.iter().filter(|e| !e.trim().is_empty()) {
        let origin = normalize_origin(entry)?;
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    Ok(origins)
}

fn token_url(input: &ServerInput) -> Result<Option<String>, ServerError> {
    match optional(&input.token_url) {
        Some(url) => Ok(Some(
            check_base_url(&url)
                .map_err(|e| invalid(ServerField::TokenUrl, e.to_string().replace("FHIR base URL", "token URL")))?
                .normalized,
        )),
        None => Ok(None),
    }
}

/// A key id is sent in a JWT header: short printable text.
fn assertion_kid(input: &ServerInput) -> Result<Option<String>, ServerError> {
    match optional(&input.assertion_kid) {
        Some(kid) if kid.len() > 200 || kid.chars().any(|c| c.is_control() || c.is_whitespace()) => Err(invalid(
            ServerField::AssertionKid,
            "A key ID is one word of up to 200 characters, as the server showed it (no spaces or line breaks).",
        )),
        kid => Ok(kid),
    }
}

/// The JWKS URL sent as `jku`: the server fetches the public key from it, so it must be https (SMART's
/// rule), like a FHIR address (http only on this computer, for the simulator).
fn jku(input: &ServerInput) -> Result<Option<String>, ServerError> {
    optional(&input.jku).map(|url| check_jku(&url)).transpose()
}

/// Checks (and normalizes) a JWKS URL to send as `jku`; for the command line as for the form.
pub fn check_jku(url: &str) -> Result<String, ServerError> {
    let url = url.trim();
    // Kept exactly as typed: servers compare `jku` with the registered URL character by character.
    match url::Url::parse(url) {
        Ok(parsed) if parsed.scheme() == "https" && parsed.host_str().is_some() => Ok(url.to_string()),
        _ => Err(invalid(
            ServerField::Jku,
            format!(
                "“{url}” is not a JWKS URL: it must be a whole https:// address (the server fetches your public key from it), for example https://keys.example.org/haul/jwks.json."
            ),
        )),
    }
}

fn client_id(input: &ServerInput, message: &str) -> Result<String, ServerError> {
    optional(&input.client_id).ok_or_else(|| invalid(ServerField::ClientId, message))
}

/// Extra token parameters: names checked by bulk-client's rule, names and values trimmed.
fn token_params(params: &[(String, String)]) -> Result<Vec<(String, String)>, ServerError> {
    params
        .iter()
        .map(|(name, value)| {
            check_token_param(name).map_err(|why| invalid(ServerField::TokenParams, why))?;
            if value.chars().any(char::is_control) {
                return Err(invalid(
                    ServerField::TokenParams,
                    format!("The value of “{}” has a line break or control character in it.", name.trim()),
                ));
            }
            Ok((name.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

pub(super) fn validate_sign_in(input: &ServerInput) -> Result<SignInFields, ServerError> {
    Ok(match input.auth {
        // Open servers get no token, so there is nothing to trust anyone with.
        AuthKind::Open => SignInFields::default(),
        AuthKind::SmartBackend => {
            let client_id =
                client_id(input, "Enter the client ID that the server's administrators registered for Haul.")?;
            let scope = optional(&input.scope).unwrap_or_else(|| DEFAULT_SCOPE.to_string());
            if let Some(bad) = scope.split_whitespace().find(|part| !part.contains('/')) {
                return Err(invalid(
                    ServerField::Scope,
                    format!(
                        "“{bad}” is not a SMART scope. Scopes look like system/*.read or system/Patient.rs, separated by spaces."
                    ),
                ));
            }
            SignInFields {
                client_id: Some(client_id),
                scope: Some(scope),
                key_kid: optional(&input.key_kid),
                token_url: token_url(input)?,
                trusted_origins: normalize_trusted_origins(&input.trusted_origins)?,
                assertion_kid: assertion_kid(input)?,
                jku: jku(input)?,
                ..SignInFields::default()
            }
        }
        // The scope is the server's own word (none for BCDA, clientCreds for AB2D, https://host/.default for
        // Azure), so it is not checked against SMART's grammar.
        AuthKind::ClientSecret => SignInFields {
            client_id: Some(client_id(input, "Enter the client ID that came with the client secret.")?),
            scope: optional(&input.scope),
            token_url: token_url(input)?,
            trusted_origins: normalize_trusted_origins(&input.trusted_origins)?,
            secret_style: Some(input.secret_style.unwrap_or_default()),
            token_params: token_params(&input.token_params)?,
            ..SignInFields::default()
        },
        AuthKind::BearerToken => SignInFields {
            trusted_origins: normalize_trusted_origins(&input.trusted_origins)?,
            ..SignInFields::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(auth: AuthKind) -> ServerInput {
        ServerInput {
            name: "S".into(),
            base_url: "https://s.test/fhir".into(),
            auth,
            client_id: Some(" bcda-client ".into()),
            scope: Some(" clientCreds ".into()),
            key_kid: Some("kid-1".into()),
            token_url: Some("https://auth.s.test/token/".into()),
            trusted_origins: vec!["https://files.s.test".into()],
            secret_style: Some(SecretStyle::Post),
            token_params: vec![(" audience ".into(), " https://api.s.test ".into())],
            assertion_kid: Some(" 6f1e-assigned ".into()),
            jku: Some("https://keys.s.test/haul/jwks.json".into()),
        }
    }

    #[test]
    fn each_method_keeps_only_its_own_settings() {
        let secret = validate_sign_in(&input(AuthKind::ClientSecret)).unwrap();
        assert_eq!(
            secret,
            SignInFields {
                client_id: Some("bcda-client".into()),
                scope: Some("clientCreds".into()),
                key_kid: None,
                token_url: Some("https://auth.s.test/token".into()),
                trusted_origins: vec!["https://files.s.test".into()],
                secret_style: Some(SecretStyle::Post),
                token_params: vec![("audience".into(), "https://api.s.test".into())],
                assertion_kid: None,
                jku: None,
            }
        );
        let bearer = validate_sign_in(&input(AuthKind::BearerToken)).unwrap();
        assert_eq!(bearer, SignInFields { trusted_origins: vec!["https://files.s.test".into()], ..Default::default() });
        assert_eq!(validate_sign_in(&input(AuthKind::Open)).unwrap(), SignInFields::default());
        let mut smart = input(AuthKind::SmartBackend);
        smart.scope = None;
        let smart = validate_sign_in(&smart).unwrap();
        assert_eq!((smart.key_kid.as_deref(), smart.scope.as_deref()), (Some("kid-1"), Some(DEFAULT_SCOPE)));
        assert_eq!((smart.secret_style, smart.token_params.len()), (None, 0));
        assert_eq!(smart.assertion_kid.as_deref(), Some("6f1e-assigned"));
        assert_eq!(smart.jku.as_deref(), Some("https://keys.s.test/haul/jwks.json"));
    }

    #[test]
    fn a_jku_must_be_https_and_a_key_id_one_word() {
        let mut i = input(AuthKind::SmartBackend);
        i.scope = None;
        i.jku = Some("http://keys.s.test/jwks.json".into());
        let err = validate_sign_in(&i).unwrap_err();
        assert_eq!(err.field(), Some(ServerField::Jku));
        assert!(err.to_string().contains("https://"), "{err}");
        i.jku = Some("keys.s.test/jwks.json".into());
        assert_eq!(validate_sign_in(&i).unwrap_err().field(), Some(ServerField::Jku));
        i.jku = Some(" ".into());
        assert_eq!(validate_sign_in(&i).unwrap().jku, None);
        // Kept as typed, trailing slash included: servers compare it exactly.
        i.jku = Some(" https://keys.s.test/jwks/ ".into());
        assert_eq!(validate_sign_in(&i).unwrap().jku.as_deref(), Some("https://keys.s.test/jwks/"));
        i.assertion_kid = Some("two words".into());
        assert_eq!(validate_sign_in(&i).unwrap_err().field(), Some(ServerField::AssertionKid));
    }

    #[test]
    fn client_secret_needs_a_client_id_takes_any_scope_and_defaults_to_basic() {
        let mut i = input(AuthKind::ClientSecret);
        i.scope = Some("https://s.test/.default".into());
        i.secret_style = None;
        let fields = validate_sign_in(&i).unwrap();
        assert_eq!(fields.secret_style, Some(SecretStyle::Basic));
        assert_eq!(fields.scope.as_deref(), Some("https://s.test/.default"), "not a SMART scope, and fine");
        i.scope = Some("  ".into());
        assert_eq!(validate_sign_in(&i).unwrap().scope, None, "no scope is sent when none is set");
        i.client_id = Some(" ".into());
        let err = validate_sign_in(&i).unwrap_err();
        assert_eq!(err.field(), Some(ServerField::ClientId));
        assert!(err.to_string().contains("came with the client secret"), "{err}");
    }

    #[test]
    fn token_params_may_not_replace_hauls_own_fields() {
        let mut i = input(AuthKind::ClientSecret);
        for (name, says) in [("client_secret", "set by Haul itself"), ("scope", "own field"), ("", "needs a name")] {
            i.token_params = vec![(name.into(), "x".into())];
            let err = validate_sign_in(&i).unwrap_err();
            assert_eq!(err.field(), Some(ServerField::TokenParams), "{name}");
            assert!(err.to_string().contains(says), "{name}: {err}");
        }
        i.token_params = vec![("resource".into(), "a\nb".into())];
        assert!(validate_sign_in(&i).unwrap_err().to_string().contains("line break"));
    }
}
