//! Rules a profile must keep beyond its JSON shape: what serde cannot say (a secret style only with a
//! client secret, a sandbox with a base URL, URLs that parse). Each broken rule is one sentence naming
//! the field, for whoever edits the file.

use std::collections::HashSet;

use url::Url;

use crate::error::ProfileError;
use crate::profile::{Profile, ProfileKeyAlgorithm, ProfileLevel, ProfileSignIn, ProfileSignInMethod};

/// Smallest RSA key worth naming: SMART servers commonly refuse less than 2048 bits.
const MIN_RSA_BITS: u32 = 2048;

/// The parts of a text the user fills in: `<name>` with lower-case letters, digits and dashes.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else { break };
        let name = &after[..close];
        if is_placeholder_name(name) {
            found.push(name);
        }
        rest = &after[close + 1..];
    }
    found
}

fn is_placeholder_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub(crate) fn check(profile: &Profile) -> Result<(), ProfileError> {
    let problem = |problem: String| ProfileError::Invalid { id: profile.id.clone(), problem };
    check_text_fields(profile).map_err(problem)?;
    check_base_url(profile).map_err(problem)?;
    check_sign_in(&profile.sign_in).map_err(problem)?;
    check_credentials(profile).map_err(problem)?;
    check_export_options(profile).map_err(problem)
}

fn check_text_fields(profile: &Profile) -> Result<(), String> {
    let id_ok =
        !profile.id.is_empty() && profile.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !id_ok {
        return Err("the id must be lower-case letters, digits and dashes.".into());
    }
    for (field, value) in [("name", &profile.name), ("vendor", &profile.vendor), ("summary", &profile.summary)] {
        if value.trim().is_empty() {
            return Err(format!("{field} is empty."));
        }
    }
    if profile.summary.contains('\n') {
        return Err("the summary must be one line, for the server form.".into());
    }
    if profile.sources.is_empty() {
        return Err("sources is empty: name the public pages the facts come from.".into());
    }
    for source in &profile.sources {
        let parsed = Url::parse(source).map_err(|e| format!("the source {source} is not a URL ({e})."))?;
        if parsed.scheme() != "https" {
            return Err(format!("the source {source} is not an https URL."));
        }
    }
    if profile.notes.iter().any(|note| note.trim().is_empty()) {
        return Err("a note is empty.".into());
    }
    Ok(())
}

/// Parses a URL after putting a sample value in each placeholder, so patterns are checked too.
fn check_url(field: &str, value: &str, placeholders_allowed: bool) -> Result<(), String> {
    let mut filled = value.to_string();
    for name in placeholders(value) {
        if !placeholders_allowed {
            return Err(format!("{field} has a placeholder <{name}> but must be a URL anyone can use as is."));
        }
        filled = filled.replace(&format!("<{name}>"), "placeholder");
    }
    if filled.contains(['<', '>']) {
        return Err(format!("{field} has a < or > that is not a placeholder like <tenant-id>."));
    }
    let parsed = Url::parse(&filled).map_err(|e| format!("{field} {value} is not a URL ({e})."))?;
    if parsed.scheme() != "https" {
        return Err(format!("{field} {value} is not an https URL."));
    }
    Ok(())
}

fn check_base_url(profile: &Profile) -> Result<(), String> {
    match (&profile.base_url, &profile.base_url_hint) {
        (Some(_), Some(_)) => Err("give base_url or base_url_hint, not both.".into()),
        (None, _) if profile.is_sandbox() => Err("a sandbox needs its fixed base_url.".into()),
        (Some(url), None) => check_url("base_url", url, false),
        (None, Some(hint)) => check_url("base_url_hint", hint, true),
        (None, None) => Err("give base_url or base_url_hint, so the form can show what to type.".into()),
    }
}

fn check_sign_in(sign_in: &ProfileSignIn) -> Result<(), String> {
    let method = sign_in.method;
    let gets_token = matches!(method, ProfileSignInMethod::SmartBackend | ProfileSignInMethod::ClientSecret);
    if !gets_token && (sign_in.token_url.is_some() || sign_in.scope.is_some() || !sign_in.token_params.is_empty()) {
        return Err("token_url, scope and token_params belong to SMART or client-secret sign-in only.".into());
    }
    if sign_in.secret_style.is_some() && method != ProfileSignInMethod::ClientSecret {
        return Err("secret_style belongs to client-secret sign-in only.".into());
    }
    if sign_in.key.is_some() && method != ProfileSignInMethod::SmartBackend {
        return Err("key belongs to SMART Backend Services sign-in only.".into());
    }
    if let Some(token_url) = &sign_in.token_url {
        check_url("token_url", token_url, true)?;
    }
    if sign_in.scope.as_deref().is_some_and(|scope| scope.trim().is_empty()) {
        return Err("scope is empty; leave it out instead.".into());
    }
    let mut param_names = HashSet::new();
    for (name, _) in &sign_in.token_params {
        // Haul fills these itself; a profile setting them would fight the sign-in code.
        const RESERVED: &[&str] =
            &["grant_type", "client_id", "client_secret", "client_assertion", "client_assertion_type", "scope"];
        if name.trim().is_empty() || RESERVED.contains(&name.as_str()) {
            return Err(format!("token_params may not set {name:?}."));
        }
        if !param_names.insert(name) {
            return Err(format!("token_params sets {name} twice."));
        }
    }
    if let Some(key) = &sign_in.key {
        match (key.algorithm, key.rsa_bits) {
            (ProfileKeyAlgorithm::ES384, Some(_)) => return Err("rsa_bits goes with RS384 only.".into()),
            (ProfileKeyAlgorithm::RS384, Some(bits)) if bits < MIN_RSA_BITS => {
                return Err(format!("rsa_bits {bits} is below {MIN_RSA_BITS}."));
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_credentials(profile: &Profile) -> Result<(), String> {
    let Some(credentials) = &profile.test_credentials else { return Ok(()) };
    // Published test credentials exist only for public sandboxes that sign in with a client secret.
    if !profile.is_sandbox() {
        return Err("test_credentials belong to sandboxes only.".into());
    }
    if profile.sign_in.method != ProfileSignInMethod::ClientSecret {
        return Err("test_credentials need client-secret sign-in.".into());
    }
    if credentials.client_id.trim().is_empty() || credentials.client_secret.trim().is_empty() {
        return Err("test_credentials need both client_id and client_secret.".into());
    }
    Ok(())
}

fn check_export_options(profile: &Profile) -> Result<(), String> {
    if profile.levels.is_empty() {
        return Err("levels is empty: name at least one of system, patient, group.".into());
    }
    if profile.levels.iter().collect::<HashSet<_>>().len() != profile.levels.len() {
        return Err("levels names a level twice.".into());
    }
    if !profile.groups.is_empty() && !profile.supports_level(ProfileLevel::Group) {
        return Err("groups are offered but group is not among the levels.".into());
    }
    let mut group_ids = HashSet::new();
    for group in &profile.groups {
        if group.id.trim().is_empty() || group.label.trim().is_empty() {
            return Err("every group needs an id and a label.".into());
        }
        if !group_ids.insert(&group.id) {
            return Err(format!("the group {} is listed twice.", group.id));
        }
    }
    for param in &profile.refused_params {
        if param.trim().is_empty() || param.contains(['=', '&', ' ']) {
            return Err(format!("refused_params holds {param:?}, which is not a parameter name."));
        }
    }
    if profile.quirks.files_expire_hours == Some(0) {
        return Err("files_expire_hours is 0; leave it out when unknown.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_named_parts_in_angle_brackets() {
        assert_eq!(
            placeholders("https://<workspace>-<fhir-service>.example/<x>/a<b"),
            vec!["workspace", "fhir-service", "x"]
        );
        assert!(placeholders("https://example.org/fhir").is_empty());
        assert!(placeholders("<Not Allowed>").is_empty());
    }

    #[test]
    fn urls_with_placeholders_are_checked_after_filling_them() {
        assert!(check_url("token_url", "https://authorization.example/tenants/<tenant-id>/token", true).is_ok());
        assert!(check_url("base_url", "https://<host>/fhir", false).is_err());
        assert!(check_url("base_url_hint", "https://<Host Name>/fhir", true).is_err());
        assert!(check_url("base_url", "http://example.org/fhir", false).is_err());
        assert!(check_url("base_url", "not a url", false).is_err());
    }
}
