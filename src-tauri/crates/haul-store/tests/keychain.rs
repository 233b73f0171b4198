//! Keys against the real OS keychain. On Linux this needs a Secret Service: `make test` runs the tests
//! inside `dbus-run-session` with an unlocked gnome-keyring.

use std::sync::Arc;
use std::time::Duration;

use bulk_client::{BackendAuth, HttpClient, KeyAlgorithm};
use haul_store::servers::{AuthKind, ServerInput};
use haul_store::{Database, KeyStoreError, Keychain, KeychainError, ServerError};

fn smart_server(name: &str, kid: &str) -> ServerInput {
    ServerInput {
        name: name.into(),
        base_url: "https://payer.test/fhir".into(),
        auth: AuthKind::SmartBackend,
        client_id: Some("haul".into()),
        scope: None,
        key_kid: Some(kid.into()),
        token_url: None,
        trusted_origins: vec![],
        secret_style: None,
        token_params: vec![],
        assertion_kid: None,
        jku: None,
    }
}

#[test]
fn keys_live_in_the_keychain_and_are_listed_with_their_servers() {
    let db = Database::open_in_memory().unwrap();
    let keychain = Keychain;
    let es = db.generate_key(&keychain, KeyAlgorithm::ES384, "Payer prod").unwrap();
    let rs = db.generate_key(&keychain, KeyAlgorithm::RS384, "Payer test").unwrap();
    assert_eq!(es.alg, KeyAlgorithm::ES384);
    assert!(es.public_jwk.get("d").is_none());
    assert_eq!(es.public_jwk["kid"], es.kid);

    db.add_server(&smart_server("Payer", &es.kid)).unwrap();
    db.add_server(&smart_server("Payer staging", &es.kid)).unwrap();
    let listed = db.list_keys().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed.iter().find(|k| k.kid == es.kid).unwrap().used_by, ["Payer", "Payer staging"]);

    let jwks = db.key_jwks(&rs.kid).unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    assert!(jwks["keys"][0].get("d").is_none());

    let loaded = db.signing_key(&keychain, &es.kid).unwrap();
    assert_eq!(loaded.kid(), es.kid);
    assert!(db.find_key(&es.kid).unwrap().unwrap().last_used_at.is_some());

    // Deleting says who loses the key, removes the keychain entry, and unsets the servers' key.
    let lost = db.delete_key(&keychain, &es.kid).unwrap();
    assert_eq!(lost, ["Payer", "Payer staging"]);
    assert_eq!(keychain.load(&es.kid).unwrap_err(), KeychainError::Missing { kid: es.kid.clone() });
    assert!(db.list_servers().unwrap().iter().all(|s| s.key_kid.is_none()));
    db.delete_key(&keychain, &rs.kid).unwrap();
    assert!(db.list_keys().unwrap().is_empty());
}

#[test]
fn importing_the_same_key_twice_is_refused() {
    let db = Database::open_in_memory().unwrap();
    let pem = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../bulk-sim/tests/keys/es384-b.pem")).unwrap();
    let first = db.import_key(&Keychain, &pem, "Imported").unwrap();
    let err = db.import_key(&Keychain, &pem, "Again").unwrap_err();
    assert!(matches!(err, KeyStoreError::Exists { .. }), "{err}");
    assert!(err.to_string().contains("already in Haul, as “Imported”"), "{err}");
    assert!(matches!(db.import_key(&Keychain, b"not a key", "x"), Err(KeyStoreError::Key(_))));
    assert!(matches!(db.generate_key(&Keychain, KeyAlgorithm::ES384, "  "), Err(KeyStoreError::Invalid(_))));
    db.delete_key(&Keychain, &first.kid).unwrap();
}

#[test]
fn a_key_missing_from_the_keychain_is_explained() {
    let db = Database::open_in_memory().unwrap();
    let key = db.generate_key(&Keychain, KeyAlgorithm::ES384, "Vanishing").unwrap();
    Keychain.remove(&key.kid).unwrap();
    let err = db.signing_key(&Keychain, &key.kid).unwrap_err();
    assert!(err.to_string().contains("no longer in this computer's keychain"), "{err}");
    // Deleting it from Haul still works.
    db.delete_key(&Keychain, &key.kid).unwrap();
}

#[tokio::test]
async fn a_key_from_the_keychain_signs_in_to_the_simulator() {
    let sim = bulk_sim::RunningSim::start(bulk_sim::SimConfig {
        auth: bulk_sim::AuthMode::Smart { token_lifetime: Duration::from_secs(300) },
        ..bulk_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let db = Database::open_in_memory().unwrap();
    let info = db.generate_key(&Keychain, KeyAlgorithm::RS384, "Sim").unwrap();
    let client = sim.register_client(db.key_jwks(&info.kid).unwrap(), None).unwrap();
    let key = db.signing_key(&Keychain, &info.kid).unwrap();
    let auth = BackendAuth::new(HttpClient::new(), sim.token_url(), client, None, Arc::new(key));
    assert!(!auth.access_token().await.unwrap().is_empty());
    db.delete_key(&Keychain, &info.kid).unwrap();
}

fn secret_server(name: &str) -> ServerInput {
    ServerInput {
        name: name.into(),
        base_url: "https://bcda.test/api/v2".into(),
        auth: AuthKind::ClientSecret,
        client_id: Some("bcda-client".into()),
        secret_style: Some(bulk_client::SecretStyle::Basic),
        ..ServerInput::default()
    }
}

fn entry_name(db: &Database, id: i64) -> Option<String> {
    db.conn().query_row("SELECT secret_entry FROM servers WHERE id = ?1", [id], |r| r.get(0)).unwrap()
}

#[test]
fn a_server_secret_lives_in_the_keychain_only_and_goes_with_its_server() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("haul.db");
    let db = Database::open(&path).unwrap();
    let server = db.add_server(&secret_server("BCDA sandbox")).unwrap();
    assert!(!server.secret_saved);
    let err = db.server_secret(&Keychain, server.id).unwrap_err();
    assert!(matches!(err, ServerError::NoSecret { .. }), "{err}");
    assert!(err.to_string().contains("client secret") && err.to_string().contains("Servers page"), "{err}");

    let secret = "s3cret-for-the-keychain-0a1b2c3d4e5f";
    let saved = db.set_server_secret(&Keychain, server.id, &format!("  {secret}\n")).unwrap();
    assert!(saved.secret_saved, "the form can say a secret is saved");
    assert_eq!(db.server_secret(&Keychain, server.id).unwrap().as_str(), secret, "trimmed, read back");
    let first_entry = entry_name(&db, server.id).unwrap();
    assert!(first_entry.starts_with(&format!("server-secret:{}:", server.id)), "{first_entry}");

    // A new secret replaces the old one, whose entry goes.
    db.set_server_secret(&Keychain, server.id, "second-secret-0123456789").unwrap();
    assert_eq!(db.server_secret(&Keychain, server.id).unwrap().as_str(), "second-secret-0123456789");
    assert!(matches!(Keychain.load_secret(&first_entry, "x"), Err(KeychainError::SecretMissing { .. })));

    // Nothing of it in the database file (nor beside it: WAL, SHM).
    drop(db);
    for entry in std::fs::read_dir(tmp.path()).unwrap().flatten() {
        let bytes = std::fs::read(entry.path()).unwrap();
        for s in [secret, "second-secret-0123456789"] {
            assert!(!bytes.windows(s.len()).any(|w| w == s.as_bytes()), "{s} found in {:?}", entry.path());
        }
    }
    let db = Database::open(&path).unwrap();

    // Removing the server removes its keychain entry.
    let entry = entry_name(&db, server.id).unwrap();
    db.remove_server(&Keychain, server.id).unwrap();
    let gone = Keychain.load_secret(&entry, "BCDA sandbox").unwrap_err();
    assert_eq!(gone, KeychainError::SecretMissing { server: "BCDA sandbox".into() });
    assert!(gone.to_string().contains("Enter it again on the Servers page"), "{gone}");
}

#[test]
fn changing_the_sign_in_method_forgets_the_secret() {
    let db = Database::open_in_memory().unwrap();
    let server = db.add_server(&secret_server("AB2D")).unwrap();
    db.set_server_secret(&Keychain, server.id, "client-secret-not-a-token-42").unwrap();
    let entry = entry_name(&db, server.id).unwrap();
    // Same method, other settings: the secret stays.
    let mut edit = secret_server("AB2D");
    edit.scope = Some("clientCreds".into());
    assert!(db.update_server(&Keychain, server.id, &edit).unwrap().secret_saved);
    // A client secret must never be sent as a bearer token.
    edit.auth = AuthKind::BearerToken;
    let bearer = db.update_server(&Keychain, server.id, &edit).unwrap();
    assert!(!bearer.secret_saved);
    let err = db.server_secret(&Keychain, server.id).unwrap_err();
    assert!(err.to_string().contains("bearer token"), "{err}");
    assert!(Keychain.load_secret(&entry, "AB2D").is_err(), "its keychain entry is gone too");

    // Open and SMART servers have no secret to save; an empty paste is refused.
    let open = db.add_server(&ServerInput { auth: AuthKind::Open, ..secret_server("Open") }).unwrap();
    let err = db.set_server_secret(&Keychain, open.id, "x-secret-value").unwrap_err();
    assert_eq!(err.field(), Some(haul_store::servers::ServerField::Secret));
    let err = db.set_server_secret(&Keychain, server.id, " \n").unwrap_err();
    assert!(err.to_string().contains("Paste the bearer token first"), "{err}");
    db.remove_server(&Keychain, server.id).unwrap();
}

/// A client certificate and its key as one PEM file, as IT hands them out.
fn client_certificate_pem() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name.push(rcgen::DnType::CommonName, "haul-nurse-station");
    let certificate = params.self_signed(&key).unwrap();
    (certificate.pem(), key.serialize_pem())
}

fn network_entries(db: &Database, id: i64) -> (Option<String>, Option<String>) {
    db.conn()
        .query_row("SELECT proxy_password_entry, client_certificate_entry FROM servers WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap()
}

#[test]
fn a_proxy_password_and_a_client_certificate_live_in_the_keychain_only_and_go_with_their_server() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("haul.db");
    let db = Database::open(&path).unwrap();
    let server = db.add_server(&ServerInput { auth: AuthKind::Open, ..secret_server("Hospital") }).unwrap();
    assert_eq!((server.proxy.clone(), server.client_certificate.clone()), (None, None));

    let password = "proxy-pass-9f8e7d6c5b4a";
    let input = haul_store::ProxyInput {
        url: "proxy.hospital.test:8080".into(),
        username: Some(" nurse ".into()),
        password: Some(password.into()),
    };
    let saved = db.set_server_proxy(&Keychain, server.id, Some(&input)).unwrap();
    let proxy = saved.proxy.unwrap();
    assert_eq!(
        (proxy.url.as_str(), proxy.username.as_deref(), proxy.password_saved),
        ("http://proxy.hospital.test:8080", Some("nurse"), true)
    );
    let settings = db.server_proxy_settings(&Keychain, server.id).unwrap().unwrap();
    assert_eq!(settings.password.as_deref().map(|p| p.as_str()), Some(password));
    let first_entry = network_entries(&db, server.id).0.unwrap();
    assert!(first_entry.starts_with(&format!("server-proxy-password:{}:", server.id)), "{first_entry}");

    // Saving the form again without a password keeps the saved one; a new one replaces it.
    let again = haul_store::ProxyInput { password: None, ..input.clone() };
    assert!(db.set_server_proxy(&Keychain, server.id, Some(&again)).unwrap().proxy.unwrap().password_saved);
    assert_eq!(network_entries(&db, server.id).0.as_deref(), Some(first_entry.as_str()));
    let changed = haul_store::ProxyInput { password: Some("second-proxy-pass-1234".into()), ..input.clone() };
    db.set_server_proxy(&Keychain, server.id, Some(&changed)).unwrap();
    assert!(matches!(Keychain.load_secret(&first_entry, "x"), Err(KeychainError::SecretMissing { .. })));
    // Another proxy's address without its password: the saved password is not carried to the new host.
    let moved = haul_store::ProxyInput { url: "other-proxy.test:3128".into(), password: None, ..input.clone() };
    let err = db.set_server_proxy(&Keychain, server.id, Some(&moved)).unwrap_err();
    assert_eq!(err.field(), Some(haul_store::servers::ServerField::ProxyPassword), "{err}");
    let proxy = db.get_server(server.id).unwrap().proxy.unwrap();
    assert_eq!(proxy.url, "http://proxy.hospital.test:8080", "nothing changed");

    // A password without a user name, a PAC file's address: refused beside their fields.
    let no_user = haul_store::ProxyInput { username: None, ..input.clone() };
    let err = db.set_server_proxy(&Keychain, server.id, Some(&no_user)).unwrap_err();
    assert_eq!(err.field(), Some(haul_store::servers::ServerField::ProxyUsername), "{err}");
    let pac = haul_store::ProxyInput { url: "http://wpad.hospital.test/wpad.dat".into(), ..input.clone() };
    let err = db.set_server_proxy(&Keychain, server.id, Some(&pac)).unwrap_err();
    assert!(err.to_string().contains("PAC"), "{err}");

    // A client certificate: PEM read once, kept in the keychain; the row keeps its description.
    let (certificate, key) = client_certificate_pem();
    let file = tmp.path().join("nurse-station.pem");
    std::fs::write(&file, format!("{certificate}{key}")).unwrap();
    let saved = db.set_server_client_certificate(&Keychain, server.id, Some(&file), None).unwrap();
    let info = saved.client_certificate.unwrap();
    assert_eq!((info.file_name.as_str(), info.subject.as_str()), ("nurse-station.pem", "CN=haul-nurse-station"));
    assert!(!info.expired);
    let pem = db.server_client_identity(&Keychain, server.id).unwrap().unwrap();
    assert!(pem.contains(key.trim()), "the key is kept as read");
    std::fs::remove_file(&file).unwrap();
    assert!(db.server_client_identity(&Keychain, server.id).unwrap().is_some(), "the file is not needed again");

    // A PKCS#12 file as OpenSSL 3 writes it: its password opens it; a wrong one is said to be wrong.
    let p12 =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bulk-client/tests/fixtures/openssl3-client.p12");
    let err = db.set_server_client_certificate(&Keychain, server.id, Some(&p12), Some("not-it")).unwrap_err();
    assert_eq!(err.field(), Some(haul_store::servers::ServerField::ClientCertificatePassword), "{err}");
    assert!(err.to_string().contains("password does not open"), "{err}");
    let old_entry = network_entries(&db, server.id).1.unwrap();
    let saved = db.set_server_client_certificate(&Keychain, server.id, Some(&p12), Some("haul-test")).unwrap();
    assert_eq!(saved.client_certificate.unwrap().subject, "CN=OpenSSL 3 client");
    assert!(Keychain.load_secret(&old_entry, "x").is_err(), "the replaced certificate's entry is gone");

    // Nothing of the secrets in the database file (nor beside it: WAL, SHM).
    let p12_key = db.server_client_identity(&Keychain, server.id).unwrap().unwrap();
    let p12_key_body = p12_key.split("-----BEGIN PRIVATE KEY-----").nth(1).unwrap().lines().nth(1).unwrap().to_string();
    let key_body = key.lines().nth(1).unwrap().to_string();
    drop(db);
    for entry in std::fs::read_dir(tmp.path()).unwrap().flatten() {
        let bytes = std::fs::read(entry.path()).unwrap();
        for s in [password, "second-proxy-pass-1234", key_body.as_str(), p12_key_body.as_str()] {
            assert!(!bytes.windows(s.len()).any(|w| w == s.as_bytes()), "{s} found in {:?}", entry.path());
        }
    }
    let db = Database::open(&path).unwrap();

    // Removing the server removes both entries.
    let (proxy_entry, certificate_entry) = network_entries(&db, server.id);
    db.remove_server(&Keychain, server.id).unwrap();
    for entry in [proxy_entry.unwrap(), certificate_entry.unwrap()] {
        assert!(matches!(Keychain.load_secret(&entry, "Hospital"), Err(KeychainError::SecretMissing { .. })));
    }
}

#[test]
fn clearing_the_proxy_and_the_certificate_removes_their_entries() {
    let db = Database::open_in_memory().unwrap();
    let server = db.add_server(&ServerInput { auth: AuthKind::Open, ..secret_server("Payer") }).unwrap();
    let input = haul_store::ProxyInput {
        url: "https://proxy.payer.test:3128".into(),
        username: Some("svc-haul".into()),
        password: Some("clear-me-proxy-5678".into()),
    };
    db.set_server_proxy(&Keychain, server.id, Some(&input)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (certificate, key) = client_certificate_pem();
    let file = tmp.path().join("payer.pem");
    std::fs::write(&file, format!("{key}{certificate}")).unwrap();
    db.set_server_client_certificate(&Keychain, server.id, Some(&file), None).unwrap();
    let (proxy_entry, certificate_entry) = network_entries(&db, server.id);

    // An empty password removes it, and the user name stays.
    let no_password = haul_store::ProxyInput { password: Some(String::new()), ..input.clone() };
    let saved = db.set_server_proxy(&Keychain, server.id, Some(&no_password)).unwrap().proxy.unwrap();
    assert_eq!((saved.username.as_deref(), saved.password_saved), (Some("svc-haul"), false));
    assert!(Keychain.load_secret(proxy_entry.as_deref().unwrap(), "Payer").is_err());

    let cleared = db.set_server_proxy(&Keychain, server.id, None).unwrap();
    assert_eq!(cleared.proxy, None);
    let cleared = db.set_server_client_certificate(&Keychain, server.id, None, None).unwrap();
    assert_eq!(cleared.client_certificate, None);
    assert!(Keychain.load_secret(certificate_entry.as_deref().unwrap(), "Payer").is_err());
    assert_eq!(network_entries(&db, server.id), (None, None));
    db.remove_server(&Keychain, server.id).unwrap();
}
