//! `haul export`'s network flags against the simulator over real sockets: `--proxy` with a user and a password
//! from the environment (the proxy alone sees them; a wrong one is named as the proxy's refusal), and
//! `--client-cert` with a PEM or PKCS#12 file for a server that asks for a client certificate.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use bulk_sim::{RunningSim, SimConfig, SimProxy, SimTls};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

async fn tls_sim(require_client_certificate: bool) -> RunningSim {
    RunningSim::start(SimConfig {
        prepare_time: Duration::from_millis(50),
        poll_interval_seconds: 0,
        tls: Some(SimTls { require_client_certificate, ..SimTls::default() }),
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

/// `export --fhir-url … --out DIR --ca-file CA` and `extra`.
fn export_args(sim: &RunningSim, data: &Path, out: &str, extra: &[&str]) -> Vec<String> {
    let ca = data.join("ca.pem");
    std::fs::write(&ca, sim.ca_certificate_pem().unwrap()).unwrap();
    let mut args: Vec<String> =
        ["export", "--fhir-url", &sim.base_url(), "--out", data.join(out).to_str().unwrap()].map(String::from).to_vec();
    args.extend(["--ca-file".to_string(), ca.to_str().unwrap().to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The simulator's client certificate as a PKCS#12 file with `password` (AES-256 and SHA-256, as OpenSSL 3).
pub fn pkcs12_of(pem: &str, password: &str) -> Vec<u8> {
    let certificate = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    let key = PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap();
    let chain = p12_keystore::PrivateKeyChain::new(
        vec![7u8; 20],
        p12_keystore::PrivateKey::from_der(key.secret_der()).unwrap(),
        [p12_keystore::Certificate::from_der(certificate.as_ref()).unwrap()],
    );
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry("haul", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    store.writer(password).write().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_goes_through_the_proxy_with_its_password_from_the_environment() {
    let sim = tls_sim(false).await;
    let proxy = SimProxy::start("nurse", "cli-proxy-pass-2468").await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let url = proxy.url();
    let flags = ["--proxy", &url, "--proxy-user", "nurse", "--proxy-password-env", "HAUL_TEST_PROXY_PASSWORD"];

    let args = export_args(&sim, data.path(), "wrong", &flags);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = haul(data.path(), &args, &[("HAUL_TEST_PROXY_PASSWORD", "not-the-password")]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains(&format!("The proxy {url} refused the proxy user name and password")), "{}", text(&o));
    assert!(!text(&o).contains("not-the-password"));

    let args = export_args(&sim, data.path(), "right", &flags);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = haul(data.path(), &args, &[("HAUL_TEST_PROXY_PASSWORD", "cli-proxy-pass-2468")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(proxy.stats().tunnels > 0 && proxy.stats().with_credentials > 0, "{:?}", proxy.stats());
    assert_eq!(sim.stats().proxy_authorization_seen, 0);

    // The password variable must be set; the password itself is never a flag.
    let args = export_args(&sim, data.path(), "unset", &flags);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = haul(data.path(), &args, &[]);
    assert!(text(&o).contains("HAUL_TEST_PROXY_PASSWORD, but that environment variable is not set"), "{}", text(&o));
    let o = haul(data.path(), &["export", "--fhir-url", "http://x/fhir", "--out", "x", "--proxy-password", "p"], &[]);
    assert!(!o.status.success() && text(&o).contains("--proxy-password"), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_asks_for_a_client_certificate_takes_a_pem_or_a_pkcs12_file() {
    let sim = tls_sim(true).await;
    let data = tempfile::tempdir().unwrap();
    let args = export_args(&sim, data.path(), "none", &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = haul(data.path(), &args, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("asks for a client certificate"), "{}", text(&o));

    let pem = sim.client_identity_pem().unwrap();
    let pem_file = data.path().join("client.pem");
    std::fs::write(&pem_file, &pem).unwrap();
    let args = export_args(&sim, data.path(), "pem", &["--client-cert", pem_file.to_str().unwrap()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = haul(data.path(), &args, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let p12_file = data.path().join("client.p12");
    std::fs::write(&p12_file, pkcs12_of(&pem, "p12-pass-1357")).unwrap();
    let flags = ["--client-cert", p12_file.to_str().unwrap(), "--client-cert-password-env", "HAUL_TEST_P12_PASSWORD"];
    let args = export_args(&sim, data.path(), "p12-wrong", &flags);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = haul(data.path(), &args, &[("HAUL_TEST_P12_PASSWORD", "nope")]);
    assert!(!o.status.success());
    assert!(text(&o).contains("--client-cert: The client certificate file"), "{}", text(&o));
    assert!(text(&o).contains("password does not open"), "{}", text(&o));
    assert!(!data.path().join("p12-wrong").exists(), "refused before anything is created");

    let args = export_args(&sim, data.path(), "p12", &flags);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = haul(data.path(), &args, &[("HAUL_TEST_P12_PASSWORD", "p12-pass-1357")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
