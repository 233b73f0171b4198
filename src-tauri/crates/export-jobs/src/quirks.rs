//! What a server's profile (its kind, chosen for a saved server) changes in an export before it is sent:
//! the levels it offers, the parameters it turns down, how it wants `_since`/`_until` written, and AB2D's
//! "no `_since` means since your last export", which would make a full export silently incremental.

use bulk_client::{ExportLevel, ExportRequest};
use server_profiles::{Profile, ProfileError, ProfileLevel};

/// The `_since` a full export sends to a server that reads a missing `_since` as "since the last export":
/// AB2D's earliest (its data starts in 2020; a later attestation date is applied by AB2D itself).
const FULL_EXPORT_SINCE: &str = "2020-01-01T00:00:00Z";

/// Whether `since` is the one a full export to an AB2D-like server carries ([`FULL_EXPORT_SINCE`], in
/// whichever form the server wanted): such an export is full, not incremental.
pub fn is_full_export_since(since: &str) -> bool {
    let parse = |s: &str| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok();
    parse(since).is_some_and(|t| Some(t) == parse(FULL_EXPORT_SINCE))
}

/// Why a request does not suit the server's kind.
#[derive(Debug, thiserror::Error)]
pub enum QuirkError {
    #[error("{server} offers {offered} exports only; choose one of those.")]
    LevelNotOffered { server: String, offered: String },
    /// `_container` is Azure's own parameter; another server would refuse or ignore it.
    #[error("{server} has no storage containers to choose: leave the container empty.")]
    ContainerNotTaken { server: String },
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

/// Adjusts `request` for the server's kind; what the user should know about it, in words.
pub fn apply(profile: &Profile, request: &mut ExportRequest) -> Result<Vec<String>, QuirkError> {
    let mut notes = Vec::new();
    let level = match request.level() {
        ExportLevel::System => ProfileLevel::System,
        ExportLevel::Patient => ProfileLevel::Patient,
        ExportLevel::Group(_) => ProfileLevel::Group,
    };
    if !profile.supports_level(level) {
        let offered: Vec<&str> = profile
            .levels
            .iter()
            .map(|l| match l {
                ProfileLevel::System => "system-level",
                ProfileLevel::Patient => "all-patients",
                ProfileLevel::Group => "group",
            })
            .collect();
        return Err(QuirkError::LevelNotOffered { server: profile.name.clone(), offered: offered.join(" or ") });
    }
    let mut used = Vec::new();
    let mut uses = |flag: bool, name: &'static str| {
        if flag {
            used.push(name);
        }
    };
    uses(!request.types.is_empty(), "_type");
    uses(request.since.is_some(), "_since");
    uses(request.until.is_some(), "_until");
    uses(!request.elements.is_empty(), "_elements");
    uses(!request.patients.is_empty(), "patient");
    uses(!request.type_filters.is_empty(), "_typeFilter");
    uses(!request.include_associated_data.is_empty(), "includeAssociatedData");
    profile.check_request(&used)?;
    if request.container.is_some() && !profile.quirks.container_param {
        return Err(QuirkError::ContainerNotTaken { server: profile.name.clone() });
    }
    if request.since.is_none() && profile.quirks.default_since_last {
        request.since = Some(FULL_EXPORT_SINCE.to_string());
        notes.push(format!(
            "{} sends only what changed since your last export when no “since” is given; Haul asked for everything since {} so that this is a full export.",
            profile.name,
            &FULL_EXPORT_SINCE[..10]
        ));
    }
    for instant in [&mut request.since, &mut request.until].into_iter().flatten() {
        *instant = profile.format_since(instant)?;
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(id: &str) -> &'static Profile {
        server_profiles::by_id(id).unwrap()
    }

    #[test]
    fn ab2d_full_exports_say_since_when_and_write_offsets() {
        let ab2d = profile("cms-ab2d-sandbox");
        let mut full = ExportRequest { level: Some(ExportLevel::Patient), ..Default::default() };
        let notes = apply(ab2d, &mut full).unwrap();
        assert_eq!(full.since.as_deref(), Some("2020-01-01T00:00:00+00:00"));
        assert!(notes[0].contains("full export"), "{notes:?}");
        let mut since = ExportRequest {
            level: Some(ExportLevel::Patient),
            since: Some("2026-10-01T00:00:00Z".into()),
            until: Some("2026-11-01T00:00:00Z".into()),
            ..Default::default()
        };
        assert!(apply(ab2d, &mut since).unwrap().is_empty());
        assert_eq!(since.since.as_deref(), Some("2026-10-01T00:00:00+00:00"));
        assert_eq!(since.until.as_deref(), Some("2026-11-01T00:00:00+00:00"));
        let mut group = ExportRequest { level: Some(ExportLevel::Group("x".into())), ..Default::default() };
        let e = apply(ab2d, &mut group).unwrap_err();
        assert!(e.to_string().contains("all-patients exports only"), "{e}");
    }

    #[test]
    fn refused_parameters_are_named_before_anything_is_sent() {
        let bcda = profile("cms-bcda-sandbox");
        let mut r = ExportRequest {
            level: Some(ExportLevel::Group("all".into())),
            elements: vec!["id".into()],
            ..Default::default()
        };
        let e = apply(bcda, &mut r).unwrap_err();
        assert!(e.to_string().contains("_elements"), "{e}");
        let mut ok = ExportRequest { level: Some(ExportLevel::Group("all".into())), ..Default::default() };
        assert!(apply(bcda, &mut ok).unwrap().is_empty());
        assert_eq!(ok.since, None, "BCDA reads a missing _since as everything");
    }

    #[test]
    fn only_azure_takes_a_container() {
        let with_container = || ExportRequest {
            level: Some(ExportLevel::System),
            container: Some("monthly-roster".into()),
            ..Default::default()
        };
        let mut azure = with_container();
        assert!(apply(profile("azure-health-data-services"), &mut azure).unwrap().is_empty());
        assert!(azure.kickoff_url("https://x.test/fhir").contains("_container=monthly-roster"));
        let e = apply(profile("hapi-fhir"), &mut with_container()).unwrap_err();
        assert!(matches!(e, QuirkError::ContainerNotTaken { .. }), "{e}");
    }
}
