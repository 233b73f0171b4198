//! A key is generated and used; then the data folder (SQLite and everything beside it) and everything the
//! commands printed are searched for the private key (PEM body, DER, JWK `d`) and the access token.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bulk_client::{BackendAuth, HttpClient};
use haul_store::{Database, Keychain};
use p384::pkcs8::DecodePrivateKey;
use rsa::traits::PrivateKeyParts;

fn haul(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_haul")).args(args).env("HAUL_DATA_DIR", data).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "haul {args:?} failed: {text}");
    text
}

fn kid_from(output: &str) -> String {
    output.lines().find_map(|l| l.strip_prefix("kid: ")).expect("a kid line").trim().to_string()
}

fn all_files(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn no_private_key_or_token_reaches_the_disk_or_the_output() {
    let data = tempfile::tempdir().unwrap();
    let mut printed = String::new();
    let out = haul(data.path(), &["keys", "generate", "--alg", "ES384", "--label", "Scan EC"]);
    let ec_kid = kid_from(&out);
    printed += &out;
    let out = haul(data.path(), &["keys", "generate", "--alg", "RS384", "--label", "Scan RSA"]);
    let rsa_kid = kid_from(&out);
    printed += &out;
    printed += &haul(data.path(), &["keys", "list"]);
    let jwks_file = data.path().join("jwks.json");
    printed += &haul(data.path(), &["keys", "jwks", &ec_kid, "--out", jwks_file.to_str().unwrap()]);
    printed += &haul(data.path(), &["keys", "jwks", &rsa_kid]);

    // Use the keys: sign in to the simulator with each.
    let sim = bulk_sim::RunningSim::start(bulk_sim::SimConfig {
        auth: bulk_sim::AuthMode::Smart { token_lifetime: Duration::from_secs(300) },
        ..bulk_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let mut tokens = Vec::new();
    {
        let db = Database::open(&data.path().join("haul.db")).unwrap();
        for kid in [&ec_kid, &rsa_kid] {
            let client = sim.register_client(db.key_jwks(kid).unwrap(), None).unwrap();
            let key = db.signing_key(&Keychain, kid).unwrap();
            let auth = BackendAuth::new(HttpClient::new(), sim.token_url(), client, None, Arc::new(key));
            tokens.push(auth.access_token().await.unwrap().to_string());
        }
    }
    printed += &haul(data.path(), &["keys", "list"]);

    // What must never be found.
    let mut secrets: Vec<(String, Vec<u8>)> = Vec::new();
    for kid in [&ec_kid, &rsa_kid] {
        let der = Keychain.load(kid).unwrap();
        let pem_body = base64::engine::general_purpose::STANDARD.encode(&*der);
        for (i, line) in pem_body.as_bytes().chunks(64).enumerate() {
            secrets.push((format!("PEM line {i} of {kid}"), line.to_vec()));
        }
        secrets.push((format!("DER of {kid}"), der.to_vec()));
        let d = if let Ok(ec) = p384::SecretKey::from_pkcs8_der(&der) {
            ec.to_bytes().to_vec()
        } else {
            rsa::RsaPrivateKey::from_pkcs8_der(&der).unwrap().d().to_bytes_be()
        };
        secrets.push((
            format!("JWK d of {kid}"),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&d).into_bytes(),
        ));
    }
    for (i, t) in tokens.iter().enumerate() {
        secrets.push((format!("access token {i}"), t.clone().into_bytes()));
    }

    let mut places = Vec::new();
    all_files(data.path(), &mut places);
    assert!(places.iter().any(|(p, _)| p.ends_with("haul.db")));
    places.push(("command output".into(), printed.clone().into_bytes()));
    for (place, bytes) in &places {
        for (what, secret) in &secrets {
            assert!(!contains(bytes, secret), "{what} found in {place}");
        }
    }
    // The public part is there, as it should be.
    assert!(printed.contains(&ec_kid) && std::fs::read_to_string(&jwks_file).unwrap().contains("\"x\""));

    haul(data.path(), &["keys", "delete", &ec_kid]);
    haul(data.path(), &["keys", "delete", &rsa_kid]);
}

/// `haul` with `--env NAME=VALUE` pairs set for it; the output, success or not.
fn haul_with_env(data: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_haul"));
    command.args(args).env("HAUL_DATA_DIR", data).env("HAUL_TEST_FAST_PACING", "1");
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_client_secret_or_bearer_token_reaches_the_disk_or_the_output() {
    let data = tempfile::tempdir().unwrap();
    let outs = tempfile::tempdir().unwrap();
    let mut printed = String::new();
    let mut secrets: Vec<(String, String)> = Vec::new();

    // A client secret from the environment, sent as HTTP Basic, with an extra token parameter; tokens revoked
    // mid-export so a second one is issued too.
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
    let out = outs.path().join("bcda");
    let base = sim.base_url();
    let args = [
        "export",
        "--fhir-url",
        &base,
        "--group",
        "aco-north",
        "--client-id",
        &client_id,
        "--client-secret-env",
        "HAUL_TEST_CLIENT_SECRET",
        "--token-param",
        "audience=https://api.example.test",
        "--out",
        out.to_str().unwrap(),
    ];
    let (ok, text) = haul_with_env(data.path(), &args, &[("HAUL_TEST_CLIENT_SECRET", &secret)]);
    assert!(ok, "{text}");
    printed += &text;
    assert_eq!(sim.stats().token_form_fields, ["audience", "grant_type"], "Basic: the secret is not a form field");
    secrets.push(("client secret".into(), secret.clone()));
    secrets.extend(sim.issued_tokens().into_iter().map(|t| ("access token".to_string(), t)));

    // A bearer token from the environment.
    let token = "pasted-gateway-token-9d8c7b6a";
    let gateway = bulk_sim::RunningSim::start(bulk_sim::SimConfig {
        auth: bulk_sim::AuthMode::StaticBearer { token: token.into() },
        ..bulk_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let out = outs.path().join("gateway");
    let base = gateway.base_url();
    let args =
        ["export", "--fhir-url", &base, "--bearer-token-env", "HAUL_TEST_BEARER", "--out", out.to_str().unwrap()];
    let (ok, text) = haul_with_env(data.path(), &args, &[("HAUL_TEST_BEARER", token)]);
    assert!(ok, "{text}");
    printed += &text;
    secrets.push(("bearer token".into(), token.into()));

    // A wrong secret: refused in plain words, without the secret.
    let out = outs.path().join("wrong");
    let base = sim.base_url();
    let wrong = "wrong-client-secret-31415926";
    let args = [
        "export",
        "--fhir-url",
        &base,
        "--client-id",
        &client_id,
        "--client-secret-env",
        "HAUL_TEST_CLIENT_SECRET",
        "--out",
        out.to_str().unwrap(),
    ];
    let (ok, text) = haul_with_env(data.path(), &args, &[("HAUL_TEST_CLIENT_SECRET", wrong)]);
    assert!(!ok && text.contains("refused the client ID"), "{text}");
    printed += &text;
    secrets.push(("wrong secret".into(), wrong.into()));
    printed += &haul_with_env(data.path(), &["history", "--json"], &[]).1;

    let mut places = Vec::new();
    all_files(data.path(), &mut places);
    all_files(outs.path(), &mut places);
    assert!(places.iter().any(|(p, _)| p.ends_with("haul.db")));
    places.push(("command output".into(), printed.into_bytes()));
    for (place, bytes) in &places {
        for (what, secret) in &secrets {
            assert!(!contains(bytes, secret.as_bytes()), "{what} found in {place}");
        }
    }
}

/// The proxy password and a client certificate's private key (PEM, and the PKCS#12 file's password) used by
/// exports, right and wrong: none of them in the data folder, the export folders or what was printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_proxy_password_or_client_key_reaches_the_disk_or_the_output() {
    let sim = bulk_sim::RunningSim::start(bulk_sim::SimConfig {
        prepare_time: Duration::from_millis(50),
        poll_interval_seconds: 0,
        tls: Some(bulk_sim::SimTls { require_client_certificate: true, ..bulk_sim::SimTls::default() }),
        ..bulk_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let proxy_password = "scan-proxy-pass-8c7b6a5f";
    let proxy = bulk_sim::SimProxy::start("scanner", proxy_password).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let outs = tempfile::tempdir().unwrap();
    let ca = outs.path().join("ca.pem");
    std::fs::write(&ca, sim.ca_certificate_pem().unwrap()).unwrap();
    let pem = sim.client_identity_pem().unwrap();
    let p12_password = "scan-p12-pass-4d3c2b1a";
    let p12 = outs.path().join("client.p12");
    std::fs::write(&p12, crate::network_flags::pkcs12_of(&pem, p12_password)).unwrap();
    let proxy_url = proxy.url();
    let base = sim.base_url();
    let mut printed = String::new();
    for (folder, password) in [("wrong", "scan-wrong-proxy-pass-0"), ("right", proxy_password)] {
        let out = outs.path().join(folder);
        let args = [
            "export",
            "--fhir-url",
            &base,
            "--out",
            out.to_str().unwrap(),
            "--ca-file",
            ca.to_str().unwrap(),
            "--proxy",
            &proxy_url,
            "--proxy-user",
            "scanner",
            "--proxy-password-env",
            "HAUL_TEST_SCAN_PROXY",
            "--client-cert",
            p12.to_str().unwrap(),
            "--client-cert-password-env",
            "HAUL_TEST_SCAN_P12",
        ];
        let env = [("HAUL_TEST_SCAN_PROXY", password), ("HAUL_TEST_SCAN_P12", p12_password)];
        let (ok, text) = haul_with_env(data.path(), &args, &env);
        assert_eq!(ok, folder == "right", "{text}");
        printed += &text;
    }
    printed += &haul_with_env(data.path(), &["history", "--json"], &[]).1;
    assert!(proxy.stats().with_credentials > 0);

    let mut secrets: Vec<(String, Vec<u8>)> = vec![
        ("proxy password".into(), proxy_password.into()),
        ("wrong proxy password".into(), b"scan-wrong-proxy-pass-0".to_vec()),
        ("PKCS#12 password".into(), p12_password.into()),
        (
            "Proxy-Authorization value".into(),
            base64::engine::general_purpose::STANDARD.encode(format!("scanner:{proxy_password}")).into_bytes(),
        ),
    ];
    let key_pem = pem.split("-----BEGIN PRIVATE KEY-----").nth(1).unwrap();
    for (i, line) in key_pem.lines().filter(|l| l.len() >= 16 && !l.starts_with("-----")).enumerate() {
        secrets.push((format!("client key PEM line {i}"), line.as_bytes().to_vec()));
    }
    let mut places = Vec::new();
    all_files(data.path(), &mut places);
    all_files(&outs.path().join("right"), &mut places);
    all_files(&outs.path().join("wrong"), &mut places);
    assert!(places.iter().any(|(p, _)| p.ends_with("haul.db")));
    places.push(("command output".into(), printed.into_bytes()));
    for (place, bytes) in &places {
        for (what, secret) in &secrets {
            assert!(!contains(bytes, secret), "{what} found in {place}");
        }
    }
}
