//! Server profiles: what each kind of FHIR Bulk Data server needs from Haul (base URL, sign-in, groups,
//! levels, parameters it refuses, quirks), kept as data. Each profile is a JSON file in `profiles/`,
//! embedded at build time and checked when first used; `profiles/README.md` describes the format.
//!
//! The crate knows nothing of HTTP or the UI: the app reads a profile and fills in the server form.

mod error;
mod profile;
mod since;
mod validate;

use std::collections::HashSet;
use std::sync::LazyLock;

pub use error::ProfileError;
pub use profile::{
    KeyRegistration, Profile, ProfileGroup, ProfileKey, ProfileKeyAlgorithm, ProfileLevel, ProfileQuirks,
    ProfileSecretStyle, ProfileSignIn, ProfileSignInMethod, ServerProfile, SinceFormat, TestCredentials,
};
pub use validate::placeholders;

/// Every profile file, by id, in the order the picker shows them ("Other (standard)" last). Listing them
/// by hand keeps the build free of directory walking; a test fails when a file is missing here.
pub const PROFILE_FILES: &[(&str, &str)] = &[
    ("cms-bcda-sandbox", include_str!("../profiles/cms-bcda-sandbox.json")),
    ("cms-bcda", include_str!("../profiles/cms-bcda.json")),
    ("cms-ab2d-sandbox", include_str!("../profiles/cms-ab2d-sandbox.json")),
    ("cms-ab2d", include_str!("../profiles/cms-ab2d.json")),
    ("cms-dpc-sandbox", include_str!("../profiles/cms-dpc-sandbox.json")),
    ("epic", include_str!("../profiles/epic.json")),
    ("oracle-health", include_str!("../profiles/oracle-health.json")),
    ("azure-health-data-services", include_str!("../profiles/azure-health-data-services.json")),
    ("hapi-fhir", include_str!("../profiles/hapi-fhir.json")),
    ("standard", include_str!("../profiles/standard.json")),
];

static PROFILES: LazyLock<Vec<Profile>> = LazyLock::new(|| {
    // The files are part of the build and the crate's tests load every one, so a failure here is a
    // broken build that slipped past its tests, not something a user can cause or fix.
    load(PROFILE_FILES).unwrap_or_else(|e| panic!("embedded server profiles are broken: {e}"))
});

/// All profiles, parsed and checked once.
pub fn all() -> &'static [Profile] {
    &PROFILES
}

/// The profile with this id, if there is one.
pub fn by_id(id: &str) -> Option<&'static Profile> {
    all().iter().find(|profile| profile.id == id)
}

/// Parses and checks one profile file; `file` is its name without `.json` and must equal the id inside.
pub fn parse(file: &str, json: &str) -> Result<Profile, ProfileError> {
    let profile: Profile =
        serde_json::from_str(json).map_err(|source| ProfileError::Parse { file: file.to_string(), source })?;
    if profile.id != file {
        return Err(ProfileError::Invalid {
            id: profile.id,
            problem: format!("its id must equal its file name, {file}."),
        });
    }
    validate::check(&profile)?;
    Ok(profile)
}

/// Parses and checks a list of (file name, JSON) pairs, refusing two profiles with one id.
pub fn load(files: &[(&str, &str)]) -> Result<Vec<Profile>, ProfileError> {
    let mut seen = HashSet::new();
    files
        .iter()
        .map(|(file, json)| {
            let profile = parse(file, json)?;
            if !seen.insert(profile.id.clone()) {
                return Err(ProfileError::DuplicateId { id: profile.id });
            }
            Ok(profile)
        })
        .collect()
}
