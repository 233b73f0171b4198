use super::*;
use crate::Keychain;

fn open(name: &str, url: &str) -> ServerInput {
    ServerInput {
        name: name.into(),
        base_url: url.into(),
        auth: AuthKind::Open,
        client_id: None,
        scope: None,
        key_kid: None,
        token_url: None,
        trusted_origins: vec![],
        secret_style: None,
        token_params: vec![],
        assertion_kid: None,
        jku: None,
    }
}

#[test]
fn urls_are_normalized() {
    let c = check_base_url("  https://ehr.example.org/fhir/  ").unwrap();
    assert_eq!(c.normalized, "https://ehr.example.org/fhir");
    assert_eq!(c.warning, None);
    assert_eq!(check_base_url("https://EHR.example.org").unwrap().normalized, "https://ehr.example.org");
}

#[test]
fn plain_http_warns_except_on_this_computer() {
    assert!(check_base_url("http://ehr.example.org/fhir").unwrap().warning.unwrap().contains("unencrypted"));
    for local in
        ["http://localhost:8080/fhir", "http://127.0.0.1:9/fhir", "http://[::1]:9/fhir", "http://sim.localhost/"]
    {
        assert_eq!(check_base_url(local).unwrap().warning, None, "{local}");
    }
}

#[test]
fn bad_urls_get_plain_messages() {
    let msg = |s: &str| check_base_url(s).unwrap_err().to_string();
    assert!(msg("").contains("Enter the server's FHIR base URL"));
    assert!(msg("ehr.example.org/fhir").contains("should start with https://"), "{}", msg("ehr.example.org/fhir"));
    assert!(msg("ftp://files.example.org").contains("not supported"));
    assert!(msg("https://user:secret@ehr.example.org/fhir").contains("user name and password"));
    assert!(!msg("https://user:secret@ehr.example.org/fhir").contains("secret"), "never echo a password");
    assert!(msg("https://ehr.example.org/fhir?x=1").contains("remove the part from ?"));
    assert!(msg("https://exa mple.org").contains("is not a web address"));
    assert_eq!(check_base_url("").unwrap_err().field(), Some(ServerField::BaseUrl));
}

#[test]
fn add_edit_list_remove() {
    let db = Database::open_in_memory().unwrap();
    let a = db.add_server(&open("Zeta", "https://z.test/fhir/")).unwrap();
    let b = db.add_server(&open("alpha", "http://localhost:1/fhir")).unwrap();
    assert_eq!(a.base_url, "https://z.test/fhir");
    let names: Vec<_> = db.list_servers().unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["alpha", "Zeta"], "sorted by name, case-insensitively");

    let edited = db
        .update_server(
            &Keychain,
            a.id,
            &ServerInput {
                name: " Zeta prod ".into(),
                base_url: "https://z.test/r4".into(),
                auth: AuthKind::SmartBackend,
                client_id: Some(" haul-client ".into()),
                scope: Some("".into()),
                key_kid: None,
                token_url: None,
                trusted_origins: vec![],
                secret_style: None,
                token_params: vec![],
                assertion_kid: None,
                jku: None,
            },
        )
        .unwrap();
    assert_eq!(edited.name, "Zeta prod");
    assert_eq!(edited.client_id.as_deref(), Some("haul-client"));
    assert_eq!(edited.scope.as_deref(), Some(DEFAULT_SCOPE), "an empty scope falls back to the default");
    assert_eq!(edited.auth, AuthKind::SmartBackend);

    db.remove_server(&Keychain, b.id).unwrap();
    assert_eq!(db.list_servers().unwrap().len(), 1);
    assert!(matches!(db.remove_server(&Keychain, b.id), Err(ServerError::NotFound(_))));
    assert!(matches!(db.update_server(&Keychain, b.id, &open("x", "https://x.test")), Err(ServerError::NotFound(_))));
}

#[test]
fn duplicate_names_are_refused_whatever_the_case() {
    let db = Database::open_in_memory().unwrap();
    let first = db.add_server(&open("Payer", "https://a.test")).unwrap();
    let err = db.add_server(&open("payer ", "https://b.test")).unwrap_err();
    assert!(matches!(err, ServerError::DuplicateName(_)));
    assert_eq!(err.to_string(), "A server named “Payer” already exists. Choose another name.");
    assert_eq!(err.field(), Some(ServerField::Name));
    let other = db.add_server(&open("Other", "https://b.test")).unwrap();
    assert!(matches!(
        db.update_server(&Keychain, other.id, &open("PAYER", "https://b.test")),
        Err(ServerError::DuplicateName(_))
    ));
    // Renaming a server to its own name (another case) is fine.
    db.update_server(&Keychain, first.id, &open("PAYER", "https://a.test")).unwrap();
    assert_eq!(db.list_servers().unwrap().len(), 2);
}

#[test]
fn smart_servers_need_a_client_id_and_sane_scopes() {
    let db = Database::open_in_memory().unwrap();
    let mut input = open("S", "https://s.test");
    input.auth = AuthKind::SmartBackend;
    let err = db.add_server(&input).unwrap_err();
    assert_eq!(err.field(), Some(ServerField::ClientId));
    input.client_id = Some("c".into());
    input.scope = Some("system/*.rs launch".into());
    let err = db.add_server(&input).unwrap_err();
    assert_eq!(err.field(), Some(ServerField::Scope));
    assert!(err.to_string().contains("“launch” is not a SMART scope"));
    input.scope = Some("system/Patient.rs system/Observation.rs".into());
    assert!(db.add_server(&input).is_ok());
    assert!(db.list_servers().unwrap().iter().all(|s| s.name == "S"));
}

#[test]
fn the_demo_server_is_offered_once_and_follows_its_port() {
    let db = Database::open_in_memory().unwrap();
    db.sync_demo_server("http://127.0.0.1:1000/fhir").unwrap();
    let demo = db.list_servers().unwrap().pop().unwrap();
    assert_eq!((demo.name.as_str(), demo.builtin), (DEMO_NAME, true));
    db.sync_demo_server("http://127.0.0.1:2000/fhir").unwrap();
    let servers = db.list_servers().unwrap();
    assert_eq!(servers.len(), 1);
    assert_eq!(servers[0].base_url, "http://127.0.0.1:2000/fhir");
    // Renaming is fine, but its address stays the app's.
    let renamed = db.update_server(&Keychain, demo.id, &open("My demo", "https://elsewhere.test")).unwrap();
    assert_eq!((renamed.name.as_str(), renamed.base_url.as_str()), ("My demo", "http://127.0.0.1:2000/fhir"));
    // Removed stays removed.
    db.remove_server(&Keychain, demo.id).unwrap();
    db.sync_demo_server("http://127.0.0.1:3000/fhir").unwrap();
    assert!(db.list_servers().unwrap().is_empty());
}

#[test]
fn smart_settings_check_the_token_url_and_the_key() {
    let db = Database::open_in_memory().unwrap();
    let mut input = open("S", "https://s.test/fhir");
    input.auth = AuthKind::SmartBackend;
    input.client_id = Some("c".into());
    input.token_url = Some("token".into());
    let err = db.add_server(&input).unwrap_err();
    assert_eq!(err.field(), Some(ServerField::TokenUrl));
    assert!(err.to_string().contains("not a complete web address"), "{err}");
    input.token_url = Some("https://s.test/auth/token/".into());
    input.key_kid = Some("no-such-kid".into());
    let err = db.add_server(&input).unwrap_err();
    assert_eq!(err.field(), Some(ServerField::KeyKid), "{err}");
    input.key_kid = None;
    let saved = db.add_server(&input).unwrap();
    assert_eq!(saved.token_url.as_deref(), Some("https://s.test/auth/token"));
    // Open servers keep no SMART settings.
    let mut open_again = input.clone();
    open_again.auth = AuthKind::Open;
    let saved = db.update_server(&Keychain, saved.id, &open_again).unwrap();
    assert_eq!((saved.token_url, saved.key_kid), (None, None));
}

#[test]
fn names_are_required() {
    let db = Database::open_in_memory().unwrap();
    let err = db.add_server(&open("   ", "https://a.test")).unwrap_err();
    assert_eq!(err.field(), Some(ServerField::Name));
    assert!(db.list_servers().unwrap().is_empty(), "nothing saved on a refused form");
}

fn smart_with_origins(origins: &[&str]) -> ServerInput {
    ServerInput {
        auth: AuthKind::SmartBackend,
        client_id: Some("c".into()),
        trusted_origins: origins.iter().map(|o| o.to_string()).collect(),
        ..open("S", "https://ehr.example.com/fhir")
    }
}

#[test]
fn trusted_origins_round_trip_normalized_and_once_each() {
    let db = Database::open_in_memory().unwrap();
    let saved = db
        .add_server(&smart_with_origins(&[
            "https://Files.Example.com:443/",
            "  ",
            "https://files.example.com",
            "https://store.example.net:8443",
        ]))
        .unwrap();
    let expected = ["https://files.example.com", "https://store.example.net:8443"];
    assert_eq!(saved.trusted_origins, expected);
    assert_eq!(db.get_server(saved.id).unwrap().trusted_origins, expected);
    assert_eq!(db.list_servers().unwrap()[0].trusted_origins, expected);

    let edited = db.update_server(&Keychain, saved.id, &smart_with_origins(&["http://127.0.0.1:9000"])).unwrap();
    assert_eq!(edited.trusted_origins, ["http://127.0.0.1:9000"]);
    // Input from callers that predate the field (no `trustedOrigins` key) means an empty list.
    let older: ServerInput = serde_json::from_str(
        r#"{"name":"S","baseUrl":"https://ehr.example.com/fhir","auth":"smart_backend","clientId":"c"}"#,
    )
    .unwrap();
    assert_eq!(db.update_server(&Keychain, saved.id, &older).unwrap().trusted_origins, Vec::<String>::new());
}

#[test]
fn trusted_origins_that_are_not_origins_are_refused_naming_the_field() {
    let db = Database::open_in_memory().unwrap();
    for (entry, says) in [("http://files.example.com", "must start with https://"), ("https://x/y", "names a path")] {
        let err = db.add_server(&smart_with_origins(&["https://ok.example.com", entry])).unwrap_err();
        assert!(matches!(err, ServerError::TrustedOrigin(_)), "{entry}: {err}");
        assert_eq!(err.field(), Some(ServerField::TrustedOrigins), "{entry}");
        assert!(err.to_string().contains(says) && err.to_string().contains(entry), "{entry}: {err}");
    }
    assert!(db.list_servers().unwrap().is_empty(), "nothing saved on a refused form");
}

#[test]
fn open_servers_and_the_demo_trust_no_storage_origin() {
    let db = Database::open_in_memory().unwrap();
    let mut input = smart_with_origins(&["https://files.example.com"]);
    input.auth = AuthKind::Open;
    // Open servers get no token; whatever the list said is not kept.
    assert!(db.add_server(&input).unwrap().trusted_origins.is_empty());

    db.sync_demo_server("http://127.0.0.1:1000/fhir").unwrap();
    let demo = db.list_servers().unwrap().into_iter().find(|s| s.builtin).unwrap();
    assert!(demo.trusted_origins.is_empty());
    let mut edit = smart_with_origins(&["https://files.example.com"]);
    edit.name = DEMO_NAME.into();
    assert!(db.update_server(&Keychain, demo.id, &edit).unwrap().trusted_origins.is_empty());
}
