//! Keys against the real OS keychain. On Linux this needs a Secret Service: `make test` runs the tests
//! inside `dbus-run-session` with an unlocked gnome-keyring.

use std::sync::Arc;
use std::time::Duration;

use bulk_client::{BackendAuth, HttpClient, KeyAlgorithm};
use haul_store::servers::{AuthKind, ServerInput};
use haul_store::{Database, KeyStoreError, Keychain, KeychainError};

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
