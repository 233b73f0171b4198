//! With no keychain reachable, a key (or a server's secret) is refused with a plain message and nothing is written anywhere.
//! (Its own test binary: the keychain connection is set up once per process.)

use bulk_client::KeyAlgorithm;
use haul_store::{AuthKind, Database, KeyStoreError, Keychain, KeychainError, ServerError, ServerInput};

#[test]
fn no_keychain_means_no_key_and_a_clear_message() {
    // SAFETY: the only test in this binary, run before any thread reads the environment.
    unsafe { std::env::set_var("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/haul-no-bus") };
    let tmp = tempfile::tempdir().unwrap();
    let db = Database::open(&tmp.path().join("haul.db")).unwrap();
    let err = db.generate_key(&Keychain, KeyAlgorithm::ES384, "Nowhere to go").unwrap_err();
    match &err {
        KeyStoreError::Keychain(KeychainError::Unavailable { .. })
        | KeyStoreError::Keychain(KeychainError::Locked { .. }) => {}
        other => panic!("expected a keychain error, got {other:?}"),
    }
    assert!(err.to_string().contains("keychain"), "{err}");
    assert!(db.list_keys().unwrap().is_empty(), "no key recorded without its private half");

    // A server's secret the same way: refused, and its row does not claim one.
    let input = ServerInput {
        name: "BCDA".into(),
        base_url: "https://bcda.test/api/v2".into(),
        auth: AuthKind::ClientSecret,
        client_id: Some("c".into()),
        ..ServerInput::default()
    };
    let server = db.add_server(&input).unwrap();
    let err = db.set_server_secret(&Keychain, server.id, "nowhere-to-go-secret").unwrap_err();
    assert!(matches!(err, ServerError::Keychain(_)), "{err:?}");
    assert!(!db.get_server(server.id).unwrap().secret_saved);
    // With no secret saved, removing the server does not need the keychain.
    db.remove_server(&Keychain, server.id).unwrap();
    let files: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(files.iter().all(|f| f.to_string_lossy().starts_with("haul.db")), "no other file written: {files:?}");
}
