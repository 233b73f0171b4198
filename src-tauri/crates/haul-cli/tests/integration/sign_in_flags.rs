//! `haul export`'s sign-in flags: a secret comes only from an environment variable, and a variable that is
//! unset or empty, or a flag missing its partner, is said in plain words before anything is created.

use std::path::Path;
use std::process::Command;

fn haul(data: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_haul"));
    command.args(args).env("HAUL_DATA_DIR", data).env_remove("HAUL_TEST_SECRET_FLAG_VAR");
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn secrets_come_from_named_variables_and_missing_ones_are_explained() {
    let data = tempfile::tempdir().unwrap();
    let out = data.path().join("out");
    let base = ["export", "--fhir-url", "http://127.0.0.1:9/fhir", "--out", out.to_str().unwrap()];
    fn joined<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [base, extra].concat()
    }
    let with = |extra: &[&'static str]| joined(&base, extra);

    let (ok, text) =
        haul(data.path(), &with(&["--client-id", "c", "--client-secret-env", "HAUL_TEST_SECRET_FLAG_VAR"]), &[]);
    assert!(!ok);
    assert!(text.contains("HAUL_TEST_SECRET_FLAG_VAR, but that environment variable is not set"), "{text}");
    assert!(text.contains("client secret"), "{text}");

    let (ok, text) = haul(
        data.path(),
        &with(&["--bearer-token-env", "HAUL_TEST_SECRET_FLAG_VAR"]),
        &[("HAUL_TEST_SECRET_FLAG_VAR", "  ")],
    );
    assert!(!ok && text.contains("that environment variable is empty"), "{text}");
    assert!(text.contains("bearer token"), "{text}");

    let (ok, text) = haul(data.path(), &with(&["--client-id", "c"]), &[]);
    assert!(!ok && text.contains("--client-id needs --key KID") && text.contains("--client-secret-env VAR"), "{text}");

    // Refused by the flags' own rules (clap): a style without a secret, a reserved token parameter.
    let (ok, text) = haul(data.path(), &with(&["--secret-style", "post"]), &[]);
    assert!(!ok && text.contains("--client-secret-env"), "{text}");
    let (ok, text) = haul(
        data.path(),
        &with(&["--client-id", "c", "--client-secret-env", "V", "--token-param", "client_secret=x"]),
        &[],
    );
    assert!(!ok && text.contains("set by Haul itself"), "{text}");
    let (ok, text) =
        haul(data.path(), &with(&["--client-id", "c", "--client-secret-env", "V", "--secret-style", "header"]), &[]);
    assert!(!ok && text.contains("use basic or post"), "{text}");

    // Nothing was created by a refused command.
    assert!(!out.exists());
    let (ok, text) = haul(data.path(), &["history"], &[]);
    assert!(ok && text.contains("No exports yet"), "{text}");
}
