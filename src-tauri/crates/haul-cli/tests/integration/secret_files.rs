//! A computer without a keychain (a server VM): `--client-secret-file`, `--bearer-token-file` and `--key-file`
//! sign in from files private to their owner. A file others can read is refused before anything is created;
//! Haul keeps the path, never the content, and nothing of the secret reaches the data folder, the export folder
//! or what was printed. A secret file made readable to others after the export started stops the resume.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use bulk_client::{KeyAlgorithm, SigningKey};

use super::support::haul;

fn private_file(dir: &Path, name: &str, content: &[u8], mode: u32) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path.to_str().unwrap().to_string()
}

fn everything_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap_or_default()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_and_keys_from_private_files_sign_in_and_stay_out_of_everything_written() {
    let data = tempfile::tempdir().unwrap();
    let secrets_dir = tempfile::tempdir().unwrap();
    let outs = tempfile::tempdir().unwrap();
    let mut printed = String::new();
    let mut secrets: Vec<Vec<u8>> = Vec::new();

    // A client secret from a file.
    let sim = bulk_sim::RunningSim::start(bulk_sim::SimConfig {
        auth: bulk_sim::AuthMode::ClientSecret {
            token_lifetime: Duration::from_secs(300),
            style: bulk_sim::SecretStyle::Basic,
            required_scope: None,
        },
        ..bulk_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let (client_id, secret) = sim.register_secret_client();
    let base = sim.base_url();
    let open = private_file(secrets_dir.path(), "open-secret", format!("{secret}\n").as_bytes(), 0o644);
    let out = outs.path().join("refused");
    let (ok, text) = haul(
        data.path(),
        &[
            "export",
            "--fhir-url",
            &base,
            "--client-id",
            &client_id,
            "--client-secret-file",
            &open,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!ok && text.contains("can be read by other users") && text.contains("chmod 600"), "{text}");
    assert!(!out.exists(), "nothing is created for a refused secret file");
    printed += &text;
    let file = private_file(secrets_dir.path(), "client-secret", format!("{secret}\n").as_bytes(), 0o600);
    let out = outs.path().join("secret");
    let (ok, text) = haul(
        data.path(),
        &[
            "export",
            "--fhir-url",
            &base,
            "--client-id",
            &client_id,
            "--client-secret-file",
            &file,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(ok, "{text}");
    printed += &text;
    secrets.push(secret.into_bytes());
    secrets.extend(sim.issued_tokens().into_iter().map(String::into_bytes));

    // A bearer token from a file.
    let token = "gateway-token-from-a-file-271828";
    let gateway = bulk_sim::RunningSim::start(bulk_sim::SimConfig {
        auth: bulk_sim::AuthMode::StaticBearer { token: token.into() },
        ..bulk_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let file = private_file(secrets_dir.path(), "token", token.as_bytes(), 0o400);
    let out = outs.path().join("bearer");
    let (ok, text) = haul(
        data.path(),
        &["export", "--fhir-url", &gateway.base_url(), "--bearer-token-file", &file, "--out", out.to_str().unwrap()],
    );
    assert!(ok, "{text}");
    printed += &text;
    secrets.push(token.as_bytes().to_vec());

    // A SMART key from a PEM file, without the keychain.
    let smart = bulk_sim::RunningSim::start(bulk_sim::SimConfig {
        auth: bulk_sim::AuthMode::Smart { token_lifetime: Duration::from_secs(300) },
        prepare_time: Duration::from_secs(2),
        ..bulk_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let key = SigningKey::generate(KeyAlgorithm::ES384).unwrap();
    let client = smart.register_client(key.public_jwks(), None).unwrap();
    let der = key.private_pkcs8_der().to_vec();
    let body = base64::engine::general_purpose::STANDARD.encode(&der);
    let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n"));
    let key_file = private_file(secrets_dir.path(), "key.pem", pem.as_bytes(), 0o600);
    let out = outs.path().join("smart");
    let (ok, text) = haul(
        data.path(),
        &[
            "export",
            "--fhir-url",
            &smart.base_url(),
            "--client-id",
            &client,
            "--key-file",
            &key_file,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(ok, "{text}");
    printed += &text;
    secrets.push(der);
    secrets.extend(lines.iter().map(|l| l.as_bytes().to_vec()));
    secrets.extend(smart.issued_tokens().into_iter().map(String::into_bytes));

    // Made readable to others later: the next sign-in refuses it, in words.
    let out = outs.path().join("later");
    let mut child = Command::new(env!("CARGO_BIN_EXE_haul"))
        .args([
            "export",
            "--fhir-url",
            &smart.base_url(),
            "--client-id",
            &client,
            "--key-file",
            &key_file,
            "--out",
            out.to_str().unwrap(),
        ])
        .env("HAUL_DATA_DIR", data.path())
        .env("HAUL_TEST_FAST_PACING", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while smart.stats().kickoffs < 2 {
        assert!(std::time::Instant::now() < deadline, "the second export did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, text) = haul(data.path(), &["resume"]);
    assert!(!ok && text.contains("can be read by other users") && text.contains(&key_file), "{text}");
    printed += &text;
    let (_, history) = haul(data.path(), &["history", "--json"]);
    assert!(history.contains(&key_file), "the job keeps the key file's path: {history}");
    printed += &history;

    let mut places = everything_under(data.path());
    places.extend(everything_under(outs.path()));
    assert!(places.iter().any(|(p, _)| p.ends_with("haul.db")));
    places.push(("what was printed".into(), printed.into_bytes()));
    for (place, bytes) in &places {
        for secret in &secrets {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_slice()), "a secret found in {place}");
        }
    }
}
