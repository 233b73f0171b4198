//! `haul export --server NAME` and `haul servers list`: a server saved in the app (its secret in the real
//! keychain) is exported from without repeating its address or sign-in, and no secret is ever printed.

use std::path::Path;
use std::process::{Command, Output};

use bulk_sim::{AuthMode, RunningSim, SecretStyle, SimConfig};
use haul_store::{AuthKind, Database, Keychain, ServerInput};

fn haul(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_haul")).args(args).env("HAUL_DATA_DIR", data).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

// Multi-threaded: the simulator keeps answering while this thread waits for the `haul` process.
#[tokio::test(flavor = "multi_thread")]
async fn a_saved_server_is_exported_from_by_name_with_its_secret_from_the_keychain() {
    let sim = RunningSim::start(SimConfig {
        auth: AuthMode::ClientSecret {
            token_lifetime: std::time::Duration::from_secs(300),
            style: SecretStyle::Basic,
            required_scope: None,
        },
        poll_interval_seconds: 0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (client_id, secret) = sim.register_secret_client();
    let data = tempfile::tempdir().unwrap();
    let db = Database::open(&data.path().join("haul.db")).unwrap();
    let server = db
        .add_server(&ServerInput {
            name: "BCDA test".into(),
            base_url: sim.base_url(),
            auth: AuthKind::ClientSecret,
            client_id: Some(client_id),
            ..ServerInput::default()
        })
        .unwrap();
    db.set_server_secret(&Keychain, server.id, &secret).unwrap();

    let out = data.path().join("roster");
    let o = haul(data.path(), &["export", "--server", "bcda TEST", "--group", "all", "--out", out.to_str().unwrap()]);
    let said = text(&o);
    assert_eq!(o.status.code(), Some(0), "{said}");
    assert!(!said.contains(&secret), "the secret is never printed");
    assert!(out.join("Patient.000.ndjson").exists(), "{said}");
    assert_eq!(sim.stats().token_requests, 1, "signed in with the saved secret");

    let o = haul(data.path(), &["servers", "list"]);
    assert!(text(&o).contains("BCDA test") && text(&o).contains("secret in the keychain"), "{}", text(&o));
    let o = haul(data.path(), &["servers", "list", "--json"]);
    let row: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(row["name"], "BCDA test");
    assert!(!text(&o).contains(&secret));

    let o = haul(data.path(), &["export", "--server", "Payer", "--out", data.path().join("x").to_str().unwrap()]);
    assert!(text(&o).contains("No saved server is named “Payer”. Saved servers: “BCDA test”."), "{}", text(&o));
    let o = haul(data.path(), &["export", "--server", "BCDA test", "--fhir-url", "https://x.test", "--out", "y"]);
    assert!(!o.status.success() && text(&o).contains("cannot be used with"), "{}", text(&o));
    db.remove_server(&Keychain, server.id).unwrap();
}
