//! `haul keys` as a user runs it (real keychain).

use std::process::Command;

fn haul(data: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_haul")).args(args).env("HAUL_DATA_DIR", data).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn generate_list_jwks_import_delete() {
    let data = tempfile::tempdir().unwrap();
    let (ok, out, _) = haul(data.path(), &["keys", "list"]);
    assert!(ok && out.contains("No keys yet"), "{out}");

    let (ok, out, err) = haul(data.path(), &["keys", "generate", "--alg", "es384", "--label", "Payer prod"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("Created ES384 key “Payer prod”"), "{out}");
    let kid = out.lines().find_map(|l| l.strip_prefix("kid: ")).unwrap().to_string();

    let (ok, out, _) = haul(data.path(), &["keys", "jwks", &kid]);
    assert!(ok);
    let jwks: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(jwks["keys"][0]["kid"], kid);
    assert_eq!(jwks["keys"][0]["alg"], "ES384");

    let pem = concat!(env!("CARGO_MANIFEST_DIR"), "/../bulk-sim/tests/keys/rs384-b.pem");
    let (ok, out, err) = haul(data.path(), &["keys", "import", pem]);
    assert!(ok, "{err}");
    assert!(out.starts_with("Imported RS384 key “rs384-b”"), "{out}");
    let imported = out.lines().find_map(|l| l.strip_prefix("kid: ")).unwrap().to_string();
    let (ok, _, err) = haul(data.path(), &["keys", "import", pem]);
    assert!(!ok && err.contains("already in Haul"), "{err}");

    let (_, out, _) = haul(data.path(), &["keys", "list"]);
    assert!(out.contains(&kid) && out.contains(&imported) && out.contains("no server"), "{out}");

    let (ok, _, err) = haul(data.path(), &["keys", "import", "/nonexistent/key.pem"]);
    assert!(!ok && err.starts_with("haul: cannot read /nonexistent/key.pem"), "{err}");
    let (ok, _, err) = haul(data.path(), &["keys", "jwks", "nope"]);
    assert!(!ok && err.contains("There is no key nope in Haul"), "{err}");

    for k in [&kid, &imported] {
        let (ok, out, err) = haul(data.path(), &["keys", "delete", k]);
        assert!(ok && out.contains("Deleted key"), "{out}{err}");
    }
    let (_, out, _) = haul(data.path(), &["keys", "list"]);
    assert!(out.contains("No keys yet"));
}

#[test]
fn larger_rsa_keys_and_their_public_key_as_pem() {
    let data = tempfile::tempdir().unwrap();
    let (ok, out, err) = haul(data.path(), &["keys", "generate", "--alg", "RS384", "--bits", "3072", "--label", "DPC"]);
    assert!(ok, "{err}");
    let kid = out.lines().find_map(|l| l.strip_prefix("kid: ")).unwrap().to_string();
    let (ok, pem, err) = haul(data.path(), &["keys", "pem", &kid]);
    assert!(ok, "{err}");
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n") && pem.trim_end().ends_with("-----END PUBLIC KEY-----"));
    // 3072-bit modulus: the SPKI is about 420 bytes, 2048-bit about 294 (base64 lines tell the size).
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(body.len() > 500, "a 3072-bit key: {}", body.len());
    let (ok, _, err) = haul(data.path(), &["keys", "generate", "--alg", "RS384", "--bits", "1024", "--label", "x"]);
    assert!(!ok && err.contains("1024"), "{err}");
    let _ = haul(data.path(), &["keys", "delete", &kid]);
}

#[test]
fn sign_file_gives_what_a_portal_asks_for_with_rsa_keys_only() {
    let data = tempfile::tempdir().unwrap();
    let snippet = data.path().join("snippet.txt");
    std::fs::write(&snippet, "This is the snippet used to verify a key pair in DPC.\n").unwrap();
    let snippet = snippet.to_str().unwrap();
    let (ok, out, err) = haul(data.path(), &["keys", "generate", "--alg", "RS384", "--label", "DPC"]);
    assert!(ok, "{err}");
    let rsa = out.lines().find_map(|l| l.strip_prefix("kid: ")).unwrap().to_string();
    let (ok, signature, err) = haul(data.path(), &["keys", "sign-file", &rsa, snippet]);
    assert!(ok, "{err}");
    // openssl base64's shape: lines of 64, a 2048-bit signature is 256 bytes = 344 base64 characters.
    let lines: Vec<&str> = signature.lines().collect();
    assert!(lines.iter().all(|l| l.len() <= 64) && lines.len() == 6, "{signature}");
    assert_eq!(lines.concat().len(), 344);
    let (ok, again, _) = haul(data.path(), &["keys", "sign-file", &rsa, snippet]);
    assert!(ok && again == signature, "RSA PKCS#1 v1.5 signatures are deterministic");

    let (_, out, _) = haul(data.path(), &["keys", "generate", "--alg", "ES384", "--label", "EC"]);
    let ec = out.lines().find_map(|l| l.strip_prefix("kid: ")).unwrap().to_string();
    let (ok, _, err) = haul(data.path(), &["keys", "sign-file", &ec, snippet]);
    assert!(!ok && err.contains("Create an RSA key"), "{err}");
    let (ok, _, err) = haul(data.path(), &["keys", "sign-file", &rsa, "/nonexistent/snippet.txt"]);
    assert!(!ok && err.contains("Haul cannot sign /nonexistent/snippet.txt"), "{err}");
    for k in [&rsa, &ec] {
        haul(data.path(), &["keys", "delete", k]);
    }
}

#[test]
fn a_kid_that_starts_with_a_dash_is_a_kid_not_a_flag() {
    let data = tempfile::tempdir().unwrap();
    for command in ["jwks", "pem", "delete"] {
        let (ok, _, err) = haul(data.path(), &["keys", command, "-t1x"]);
        assert!(!ok && err.contains("There is no key -t1x in Haul"), "{command}: {err}");
    }
    let (ok, _, err) = haul(data.path(), &["keys", "sign-file", "-t1x", "/nonexistent/snippet.txt"]);
    assert!(!ok && !err.contains("unexpected argument"), "{err}");
}
