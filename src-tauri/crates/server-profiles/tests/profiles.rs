//! The embedded profiles as a whole, and the rules every profile file must keep.

use std::collections::BTreeSet;
use std::path::Path;

use bulk_client::{KeyAlgorithm, SecretStyle};
use server_profiles::{
    PROFILE_FILES, Profile, ProfileError, ProfileKeyAlgorithm, ProfileLevel, ProfileSecretStyle, ProfileSignInMethod,
    SinceFormat, all, by_id, load, parse, placeholders,
};

/// A small valid profile to bend in the rule tests, so each test breaks exactly one rule.
const MINIMAL: &str = r#"{
  "id": "example",
  "name": "Example",
  "vendor": "Example Inc.",
  "summary": "An example server.",
  "sources": ["https://example.org/docs"],
  "base_url_hint": "https://<host>/fhir",
  "sign_in": { "method": "open" },
  "levels": ["system"]
}"#;

fn with(field: &str, value: &str) -> String {
    let mut json: serde_json::Value = serde_json::from_str(MINIMAL).unwrap();
    json[field] = serde_json::from_str(value).unwrap();
    json.to_string()
}

fn problem(file: &str, json: &str) -> String {
    match parse(file, json) {
        Err(ProfileError::Invalid { problem, .. }) => problem,
        other => panic!("expected an invalid profile, got {other:?}"),
    }
}

#[test]
fn every_embedded_profile_parses_and_checks() {
    for (file, json) in PROFILE_FILES {
        if let Err(e) = parse(file, json) {
            panic!("{e}");
        }
    }
    assert_eq!(all().len(), PROFILE_FILES.len());
}

#[test]
fn ids_are_unique_and_equal_to_the_file_names() {
    let ids: Vec<&str> = all().iter().map(|profile| profile.id.as_str()).collect();
    let listed: Vec<&str> = PROFILE_FILES.iter().map(|(file, _)| *file).collect();
    assert_eq!(ids, listed);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "duplicate id in {ids:?}");
}

#[test]
fn every_json_file_in_the_folder_is_embedded() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = PROFILE_FILES.iter().map(|(file, _)| file.to_string()).collect();
    assert_eq!(on_disk, listed);
}

#[test]
fn the_profiles_asked_for_are_all_there() {
    for id in [
        "cms-bcda-sandbox",
        "cms-bcda",
        "cms-ab2d-sandbox",
        "cms-ab2d",
        "cms-dpc-sandbox",
        "epic",
        "oracle-health",
        "azure-health-data-services",
        "hapi-fhir",
        "standard",
    ] {
        assert!(by_id(id).is_some(), "{id} is missing");
    }
    assert!(by_id("no-such-server").is_none());
    assert_eq!(by_id("standard").unwrap().name, "Other (standard)");
}

#[test]
fn every_profile_names_https_sources() {
    for profile in all() {
        assert!(!profile.sources.is_empty(), "{} has no sources", profile.id);
        for source in &profile.sources {
            assert_eq!(url::Url::parse(source).unwrap().scheme(), "https", "{}: {source}", profile.id);
        }
    }
}

#[test]
fn urls_parse_once_placeholders_are_filled() {
    let fill = |text: &str| {
        placeholders(text).iter().fold(text.to_string(), |filled, name| filled.replace(&format!("<{name}>"), "x"))
    };
    for profile in all() {
        let urls = [&profile.base_url, &profile.base_url_hint, &profile.sign_in.token_url];
        for url in urls.into_iter().flatten() {
            assert!(url::Url::parse(&fill(url)).is_ok(), "{}: {url}", profile.id);
        }
        if let Some(base_url) = &profile.base_url {
            assert!(placeholders(base_url).is_empty(), "{}: a fixed base_url has placeholders", profile.id);
        }
    }
}

#[test]
fn sandboxes_have_a_fixed_base_url_and_only_they_carry_test_credentials() {
    let sandboxes: Vec<&Profile> = all().iter().filter(|profile| profile.is_sandbox()).collect();
    assert_eq!(sandboxes.len(), 3);
    for profile in &sandboxes {
        assert!(profile.base_url.is_some(), "{} has no base_url", profile.id);
    }
    for profile in all().iter().filter(|profile| profile.test_credentials.is_some()) {
        assert!(profile.is_sandbox(), "{} is not a sandbox", profile.id);
        assert_eq!(profile.sign_in.method, ProfileSignInMethod::ClientSecret);
    }
}

#[test]
fn published_sandbox_credentials_are_the_ones_on_the_vendor_pages() {
    let bcda = by_id("cms-bcda-sandbox").unwrap().test_credentials.as_ref().unwrap();
    assert_eq!(bcda.client_id, "6dc59a4c-ef93-46c0-9c00-02e500e13731");
    let ab2d = by_id("cms-ab2d-sandbox").unwrap().test_credentials.as_ref().unwrap();
    assert_eq!(ab2d.client_id, "0oa9jyx2w9Z0AntLE297");
    assert!(by_id("cms-dpc-sandbox").unwrap().test_credentials.is_none());
}

#[test]
fn bcda_offers_its_named_groups_at_group_level() {
    let bcda = by_id("cms-bcda").unwrap();
    let group_ids: Vec<&str> = bcda.groups.iter().map(|group| group.id.as_str()).collect();
    assert_eq!(group_ids, ["all", "runout"]);
    assert!(bcda.supports_level(ProfileLevel::Group));
    assert!(!bcda.supports_level(ProfileLevel::System));
}

#[test]
fn ab2d_writes_since_with_an_offset() {
    let ab2d = by_id("cms-ab2d").unwrap();
    assert_eq!(ab2d.since_format, SinceFormat::Offset);
    assert_eq!(ab2d.format_since("2026-01-01T00:00:00Z").unwrap(), "2026-01-01T00:00:00+00:00");
    assert_eq!(ab2d.format_since("2026-01-01T00:00:00.250Z").unwrap(), "2026-01-01T00:00:00.250+00:00");
    assert_eq!(ab2d.format_since("2020-10-10T03:00:00-06:00").unwrap(), "2020-10-10T03:00:00-06:00");
}

#[test]
fn other_servers_get_since_unchanged() {
    let standard = by_id("standard").unwrap();
    assert_eq!(standard.format_since("2026-01-01T00:00:00Z").unwrap(), "2026-01-01T00:00:00Z");
    assert_eq!(standard.format_since(" 2026-01-01T00:00:00+02:00 ").unwrap(), "2026-01-01T00:00:00+02:00");
}

#[test]
fn since_that_is_not_an_instant_is_refused_for_every_format() {
    for id in ["cms-ab2d", "standard"] {
        let profile = by_id(id).unwrap();
        for bad in ["2026-01-01", "yesterday", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00"] {
            assert!(matches!(profile.format_since(bad), Err(ProfileError::NotAnInstant { .. })), "{id} accepted {bad}");
        }
    }
}

#[test]
fn check_request_names_the_server_and_the_refused_parameter() {
    let oracle = by_id("oracle-health").unwrap();
    assert!(oracle.check_request(&["_type", "_since"]).is_ok());
    let err = oracle.check_request(&["_type", "_elements=Patient.id"]).unwrap_err();
    assert!(matches!(&err, ProfileError::RefusedParam { param, .. } if param == "_elements"));
    let message = err.to_string();
    assert!(message.contains("Oracle Health") && message.contains("_elements"), "{message}");
    assert!(by_id("standard").unwrap().check_request(&["_elements", "patient"]).is_ok());
}

#[test]
fn a_profile_with_an_unknown_field_fails_to_parse() {
    let top_level = with("colour", "\"blue\"");
    assert!(matches!(parse("example", &top_level), Err(ProfileError::Parse { .. })));
    let nested = with("sign_in", r#"{ "method": "open", "tokenUrl": "https://example.org/token" }"#);
    assert!(matches!(parse("example", &nested), Err(ProfileError::Parse { .. })));
    let quirk = with("quirks", r#"{ "one_export_at_once": true }"#);
    assert!(matches!(parse("example", &quirk), Err(ProfileError::Parse { .. })));
    assert!(parse("example", MINIMAL).is_ok());
}

#[test]
fn the_id_must_match_the_file_name() {
    assert!(problem("other-name", MINIMAL).contains("file name"));
}

#[test]
fn two_files_with_one_id_are_refused() {
    let result = load(&[("example", MINIMAL), ("example", MINIMAL)]);
    assert!(matches!(result, Err(ProfileError::DuplicateId { id }) if id == "example"));
}

#[test]
fn sign_in_fields_must_fit_the_method() {
    let token_url_on_open = with("sign_in", r#"{ "method": "open", "token_url": "https://example.org/token" }"#);
    assert!(problem("example", &token_url_on_open).contains("token_url"));
    let scope_on_bearer = with("sign_in", r#"{ "method": "bearer_token", "scope": "system/*.read" }"#);
    assert!(problem("example", &scope_on_bearer).contains("scope"));
    let style_on_smart = with("sign_in", r#"{ "method": "smart_backend", "secret_style": "post" }"#);
    assert!(problem("example", &style_on_smart).contains("secret_style"));
    let key_on_secret =
        with("sign_in", r#"{ "method": "client_secret", "key": { "algorithm": "ES384", "registers": "pem" } }"#);
    assert!(problem("example", &key_on_secret).contains("key"));
    let reserved_param = with("sign_in", r#"{ "method": "client_secret", "token_params": [["grant_type", "x"]] }"#);
    assert!(problem("example", &reserved_param).contains("grant_type"));
    let small_key = with(
        "sign_in",
        r#"{ "method": "smart_backend", "key": { "algorithm": "RS384", "rsa_bits": 1024, "registers": "pem" } }"#,
    );
    assert!(problem("example", &small_key).contains("1024"));
}

#[test]
fn a_sandbox_without_a_base_url_is_refused() {
    let sandbox = MINIMAL.replace("\"example\"", "\"example-sandbox\"");
    assert!(problem("example-sandbox", &sandbox).contains("base_url"));
}

#[test]
fn test_credentials_outside_a_sandbox_are_refused() {
    let json = with("test_credentials", r#"{ "client_id": "a", "client_secret": "b" }"#);
    assert!(problem("example", &json).contains("sandboxes"));
}

#[test]
fn export_options_must_be_consistent() {
    let no_levels = with("levels", "[]");
    assert!(problem("example", &no_levels).contains("levels"));
    let groups_without_group_level = with("groups", r#"[{ "id": "all", "label": "All" }]"#);
    assert!(problem("example", &groups_without_group_level).contains("group"));
    let bad_param = with("refused_params", r#"["_elements=x"]"#);
    assert!(problem("example", &bad_param).contains("parameter name"));
}

#[test]
fn bad_urls_and_missing_sources_are_refused() {
    let no_sources = with("sources", "[]");
    assert!(problem("example", &no_sources).contains("sources"));
    let http_source = with("sources", r#"["http://example.org/docs"]"#);
    assert!(problem("example", &http_source).contains("https"));
    let placeholder_in_base_url = with("base_url", r#""https://<host>/fhir""#);
    let mut json: serde_json::Value = serde_json::from_str(&placeholder_in_base_url).unwrap();
    json.as_object_mut().unwrap().remove("base_url_hint");
    assert!(problem("example", &json.to_string()).contains("placeholder"));
}

#[test]
fn sign_in_words_match_bulk_client() {
    // The app copies these into bulk-client settings, so every spelling must mean the same there.
    let styles = [(ProfileSecretStyle::Basic, SecretStyle::Basic), (ProfileSecretStyle::Post, SecretStyle::Post)];
    for (ours, theirs) in styles {
        let word = serde_json::to_value(ours).unwrap();
        assert_eq!(serde_json::from_value::<SecretStyle>(word).unwrap(), theirs);
    }
    let algorithms =
        [(ProfileKeyAlgorithm::RS384, KeyAlgorithm::RS384), (ProfileKeyAlgorithm::ES384, KeyAlgorithm::ES384)];
    for (ours, theirs) in algorithms {
        let word = serde_json::to_value(ours).unwrap();
        assert_eq!(serde_json::from_value::<KeyAlgorithm>(word).unwrap(), theirs);
    }
}
