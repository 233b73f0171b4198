//! Storage sign-ins saved in Haul (the app's Storage page: the secret in the OS keychain) take an export and a
//! Delta conversion into moto's S3, and exports into Azurite and GCS (its front over moto), with nothing in the
//! environment; `haul storage` adds, lists, tests and removes them (the secret from a private file); a wrong
//! key is refused by the storage in plain words; the secret reaches neither the database, the output nor the
//! export folder.

use std::process::Command;

use bulk_sim::{RunningSim, SimConfig};
use export_jobs::storage_sign_in::{StorageSignInInput, save};
use haul_store::{DataDir, Database, Keychain, StorageKind};

use super::storage_servers::{AZURITE_KEY, Haul, Storage, python, text};

/// A distinctive secret moto accepts (it checks none), to look for wherever it must not be.
const S3_SECRET: &str = "haul-saved-storage-secret-4b1f9e";

async fn sim() -> RunningSim {
    RunningSim::start(SimConfig {
        data: bulk_sim::DataSource::Generated { seed: 5, patients: 20 },
        prepare_time: std::time::Duration::from_millis(100),
        poll_interval_seconds: 0,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// `haul` with no storage credentials at all in its environment, and a home without profile files.
fn bare(haul: &Haul, home: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_haul"));
    c.args(args).env("HAUL_DATA_DIR", haul.data.path()).env("HAUL_TEST_FAST_PACING", "1").env("HOME", home);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("AZURE") || k.starts_with("GOOGLE_") {
            c.env_remove(k);
        }
    }
    c.stdin(std::process::Stdio::null()).output().unwrap()
}

fn database(haul: &Haul) -> Database {
    Database::open(&DataDir::at(haul.data.path()).database_path()).unwrap()
}

fn contains(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_saved_for_a_bucket_takes_an_export_and_delta_tables_into_s3() {
    let storage = Storage::moto();
    let sim = sim().await;
    let haul = Haul::new();
    let home = tempfile::tempdir().unwrap();
    let saved = save(
        &database(&haul),
        &StorageSignInInput {
            address: "s3://haul-test".into(),
            kind: StorageKind::S3,
            key_id: "AKIAHAULTEST".into(),
            region: Some("us-east-1".into()),
            endpoint: Some(format!("http://127.0.0.1:{}", storage.port)),
            secret: S3_SECRET.into(),
        },
    )
    .unwrap();

    let o = bare(&haul, home.path(), &["export", "--fhir-url", &sim.base_url(), "--out", "s3://haul-test/signed"]);
    assert!(o.status.success(), "{}", text(&o));
    let objects = storage.objects("signed");
    assert!(objects.keys().any(|k| k.ends_with("/Patient/part-000.ndjson")), "{:?}", objects.keys());

    // The same sign-in serves a Delta conversion of a local export, into the same bucket.
    let folder = home.path().join("local");
    let o = bare(&haul, home.path(), &["export", "--fhir-url", &sim.base_url(), "--out", folder.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let c = bare(
        &haul,
        home.path(),
        &["convert", folder.to_str().unwrap(), "--format", "delta", "--out", "s3://haul-test/delta"],
    );
    assert!(c.status.success(), "{}", text(&c));
    let tables = storage.objects("delta");
    assert!(tables.contains_key("Patient/_delta_log/00000000000000000000.json"), "{:?}", tables.keys());

    // The secret is in the keychain only.
    let db = database(&haul);
    assert_eq!(db.storage_sign_in_secret(&Keychain, saved.id).unwrap().as_str(), S3_SECRET);
    drop(db);
    for (name, bytes) in super::storage_servers::files_under(haul.data.path()) {
        assert!(!contains(&bytes, S3_SECRET), "the secret reached {name}");
    }
    for (name, bytes) in super::storage_servers::files_under(&folder) {
        assert!(!contains(&bytes, S3_SECRET), "the secret reached {name}");
    }
    for out in [&o, &c] {
        assert!(!text(out).contains(S3_SECRET));
    }
}

/// A file only its owner can read, holding `secret`.
fn secret_file(dir: &std::path::Path, name: &str, secret: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, secret).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_azure_sign_in_saved_with_haul_storage_exports_and_a_wrong_key_is_refused_in_words() {
    let storage = Storage::azurite();
    let sim = sim().await;
    let haul = Haul::new();
    let home = tempfile::tempdir().unwrap();
    let endpoint = format!("http://127.0.0.1:{}/devstoreaccount1", storage.port);
    let add = |file: &str, extra: &[&str]| {
        let mut args = vec!["storage", "add", "az://haul", "--account", "devstoreaccount1", "--endpoint", &endpoint];
        args.extend(["--secret-file", file]);
        args.extend(extra);
        bare(&haul, home.path(), &args)
    };
    // A key of the right shape that is not the account's: `haul storage add` asks the storage first, which
    // refuses it, and nothing is saved.
    let wrong = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk=";
    let wrong_file = secret_file(home.path(), "wrong.key", wrong);
    let o = add(&wrong_file, &[]);
    assert!(!o.status.success() && text(&o).contains("Nothing was saved"), "{}", text(&o));
    assert!(text(&o).contains("refused Haul's credentials"), "{}", text(&o));
    assert!(database(&haul).storage_sign_ins().unwrap().is_empty());
    // The secret never comes from the command line, nor from a file others can read.
    let o = bare(&haul, home.path(), &["storage", "add", "az://haul", "--account", "devstoreaccount1"]);
    assert!(!o.status.success() && text(&o).contains("--secret-file"), "{}", text(&o));
    std::fs::set_permissions(&wrong_file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    assert!(!add(&wrong_file, &["--no-test"]).status.success());
    std::fs::set_permissions(&wrong_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();

    // Saved without the check: the export stops before anything is asked of the FHIR server.
    let o = add(&wrong_file, &["--no-test"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = bare(&haul, home.path(), &["export", "--fhir-url", &sim.base_url(), "--out", "az://haul/signed"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("refused Haul's credentials"), "{}", text(&o));
    assert!(!text(&o).contains(wrong));
    assert_eq!(sim.stats().kickoffs, 0, "nothing asked of the server");

    // Saved again with the right key (replacing the wrong one): the export, resumed as it says, goes through.
    assert!(text(&o).contains("haul resume 1"), "{}", text(&o));
    let o = add(&secret_file(home.path(), "right.key", AZURITE_KEY), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let list = bare(&haul, home.path(), &["storage", "list"]);
    assert_eq!(text(&list).lines().filter(|l| l.starts_with("az://haul")).count(), 1, "{}", text(&list));
    assert!(text(&list).contains("account devstoreaccount1"), "{}", text(&list));
    let o = bare(&haul, home.path(), &["resume", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(storage.objects("signed").keys().any(|k| k.ends_with("/Patient/part-000.ndjson")));
    let o = bare(&haul, home.path(), &["storage", "test", "az://haul/signed"]);
    assert!(o.status.success() && text(&o).contains("the sign-in saved for az://haul"), "{}", text(&o));
    for out in [&o, &list] {
        assert!(!text(out).contains(AZURITE_KEY));
    }

    // Removed: its secret leaves the keychain, and the address falls back to the (empty) environment.
    let o = bare(&haul, home.path(), &["storage", "remove", "az://haul/"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(database(&haul).storage_sign_ins().unwrap().is_empty());
    let o = bare(&haul, home.path(), &["storage", "test", "az://haul/signed"]);
    assert!(!o.status.success() && text(&o).contains("environment's credentials"), "{}", text(&o));
    let o = bare(&haul, home.path(), &["storage", "remove", "az://haul"]);
    assert!(!o.status.success() && text(&o).contains("No storage sign-in is saved"), "{}", text(&o));
}

/// `key` (a service account's JSON key) with a private key of its own: the same account, a key GCS does not know.
fn with_another_private_key(key: &str) -> String {
    let code = "import json, sys\n\
from cryptography.hazmat.primitives import serialization\n\
from cryptography.hazmat.primitives.asymmetric import rsa\n\
k = json.loads(sys.argv[1])\n\
k['private_key'] = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(\n\
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()\n\
print(json.dumps(k))";
    let o = Command::new(python()).args(["-c", code, key]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gcs_service_account_key_saved_with_haul_storage_exports_and_another_key_is_refused_in_words() {
    let storage = Storage::gcs();
    let sim = sim().await;
    let haul = Haul::new();
    let home = tempfile::tempdir().unwrap();
    let right = std::fs::read_to_string(storage.service_account_path()).unwrap();
    let wrong = with_another_private_key(&right);
    let add = |name: &str, key: &str| {
        bare(
            &haul,
            home.path(),
            &["storage", "add", "gs://haul-test", "--secret-file", &secret_file(home.path(), name, key)],
        )
    };
    // The storage refuses tokens signed with a key it does not know (a 401, told from other failures by its
    // status, whatever the answer's code): nothing is saved.
    let refused = add("wrong.json", &wrong);
    assert!(!refused.status.success() && text(&refused).contains("Nothing was saved"), "{}", text(&refused));
    assert!(text(&refused).contains("refused Haul's credentials"), "{}", text(&refused));
    assert!(database(&haul).storage_sign_ins().unwrap().is_empty());

    let added = add("right.json", &right);
    assert!(added.status.success(), "{}", text(&added));
    let export = bare(&haul, home.path(), &["export", "--fhir-url", &sim.base_url(), "--out", "gs://haul-test/signed"]);
    assert!(export.status.success(), "{}", text(&export));
    assert!(storage.objects("signed").keys().any(|k| k.ends_with("/Patient/part-000.ndjson")));
    let tested = bare(&haul, home.path(), &["storage", "test", "gs://haul-test/signed"]);
    assert!(tested.status.success(), "{}", text(&tested));
    assert!(text(&tested).contains("the sign-in saved for gs://haul-test"), "{}", text(&tested));

    // The private key is in the keychain only: not in any output, the database or the export's own files.
    let pem_lines: Vec<&str> = right.split("\\n").collect();
    let pem_line = pem_lines[pem_lines.len() / 2];
    assert!(pem_line.len() == 64, "a line from the middle of the key: {pem_line}");
    for o in [&refused, &added, &export, &tested] {
        assert!(!text(o).contains(pem_line), "{}", text(o));
    }
    let data = haul.data.path();
    for f in super::storage_servers::files_under(data).into_keys() {
        let bytes = std::fs::read(data.join(&f)).unwrap();
        assert!(!contains(&bytes, pem_line), "the private key in {f}");
    }
}
