//! `haul export --ca-file` against the simulator over real HTTPS with its private CA: without the flag the
//! export fails saying the authority is not trusted; with the CA file it completes, sign-in included; a file
//! that holds no certificate is refused before anything is created.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use bulk_sim::{AuthMode, RunningSim, SimConfig, SimTls};

async fn tls_sim(auth: AuthMode) -> RunningSim {
    RunningSim::start(SimConfig {
        auth,
        prepare_time: Duration::from_millis(100),
        poll_interval_seconds: 0,
        tls: Some(SimTls::default()),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn haul(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_haul"));
    command.args(args).env("HAUL_DATA_DIR", data).env("HAUL_TEST_FAST_PACING", "1").stdin(Stdio::null());
    command.envs(env.iter().copied());
    command.output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn outputs_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.ends_with(".ndjson") && n != "log.ndjson"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_needs_the_ca_file_and_completes_with_it() {
    let sim = tls_sim(AuthMode::Open).await;
    let base = sim.base_url();
    let data = tempfile::tempdir().unwrap();
    let ca = data.path().join("organisation-ca.pem");
    std::fs::write(&ca, sim.ca_certificate_pem().unwrap()).unwrap();

    let without = data.path().join("without");
    let o = haul(data.path(), &["export", "--fhir-url", &base, "--out", without.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("signed by an authority this computer does not trust"), "{}", text(&o));

    let with = data.path().join("with");
    let o = haul(
        data.path(),
        &["export", "--fhir-url", &base, "--out", with.to_str().unwrap(), "--ca-file", ca.to_str().unwrap()],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(outputs_in(&with) > 0, "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_is_made_over_the_ca_file_too() {
    let sim = tls_sim(AuthMode::ClientSecret {
        token_lifetime: Duration::from_secs(300),
        style: bulk_sim::SecretStyle::Basic,
        required_scope: None,
    })
    .await;
    let (client_id, secret) = sim.register_secret_client();
    let data = tempfile::tempdir().unwrap();
    let ca = data.path().join("ca.pem");
    std::fs::write(&ca, sim.ca_certificate_pem().unwrap()).unwrap();
    let out = data.path().join("out");
    let base = sim.base_url();
    let args = [
        "export",
        "--fhir-url",
        &base,
        "--out",
        out.to_str().unwrap(),
        "--client-id",
        &client_id,
        "--client-secret-env",
        "HAUL_TEST_CA_FLAG_SECRET",
        "--ca-file",
        ca.to_str().unwrap(),
    ];
    let o = haul(data.path(), &args, &[("HAUL_TEST_CA_FLAG_SECRET", &secret)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(sim.stats().token_requests >= 1);
}

#[test]
fn a_file_without_a_certificate_is_refused_before_anything_is_created() {
    let data = tempfile::tempdir().unwrap();
    let notes = data.path().join("notes.txt");
    std::fs::write(&notes, "ask IT for the CA").unwrap();
    let out = data.path().join("out");
    let args = [
        "export",
        "--fhir-url",
        "https://127.0.0.1:9/fhir",
        "--out",
        out.to_str().unwrap(),
        "--ca-file",
        notes.to_str().unwrap(),
    ];
    let o = haul(data.path(), &args, &[]);
    assert!(!o.status.success());
    assert!(text(&o).contains("--ca-file: The CA certificate file"), "{}", text(&o));
    assert!(text(&o).contains("holds no certificate"), "{}", text(&o));
    assert!(!out.exists(), "no export folder");
    let o = haul(data.path(), &["history", "--json"], &[]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "", "no job recorded");
}
