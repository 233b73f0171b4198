//! `haul run NAME --config FILE`, as on a server without a desktop: the file names the server, its client secret
//! file and the export; the first run is complete, the second only what changed since (a new folder each run),
//! and the secret itself never goes into the file, the data folder or the output.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use super::support::haul;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_declared_in_a_file_run_by_name_month_after_month() {
    let sim = bulk_sim::RunningSim::start(bulk_sim::SimConfig {
        auth: bulk_sim::AuthMode::ClientSecret {
            token_lifetime: Duration::from_secs(300),
            style: bulk_sim::SecretStyle::Basic,
            required_scope: None,
        },
        prepare_time: Duration::from_millis(200),
        poll_interval_seconds: 0,
        ..bulk_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let (client_id, secret) = sim.register_secret_client();
    let data = tempfile::tempdir().unwrap();
    let etc = tempfile::tempdir().unwrap();
    let secret_file = etc.path().join("bcda.secret");
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = etc.path().join("haul.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[servers.payer]
fhir_url = "{}"
client_id = "{client_id}"
client_secret_file = "bcda.secret"

[exports.aco-monthly]
server = "payer"
group = "aco-north"
types = ["Patient", "Observation"]
since = "auto"
out = "exports/aco"
"#,
            sim.base_url()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();

    let (ok, first) = haul(data.path(), &["run", "aco-monthly", "--config", config]);
    assert!(ok, "{first}");
    assert!(first.contains("no earlier complete export"), "the first run is complete: {first}");
    std::thread::sleep(Duration::from_millis(1100));
    let (ok, second) = haul(data.path(), &["run", "aco-monthly", "--config", config]);
    assert!(ok, "{second}");
    assert!(second.contains("Since the last export: changes since"), "the second run is incremental: {second}");
    let runs: Vec<_> = std::fs::read_dir(etc.path().join("exports/aco")).unwrap().flatten().collect();
    assert_eq!(runs.len(), 2, "a new folder each run");
    assert!(sim.stats().kickoffs == 2);

    let (ok, text) = haul(data.path(), &["run", "aco-weekly", "--config", config]);
    assert!(!ok && text.contains("no export “aco-weekly”") && text.contains("aco-monthly"), "{text}");
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, text) = haul(data.path(), &["run", "aco-monthly", "--config", config]);
    assert!(!ok && text.contains("can be read by other users"), "{text}");

    let db = std::fs::read(data.path().join("haul.db")).unwrap();
    for place in [&db[..], first.as_bytes(), second.as_bytes(), text.as_bytes()] {
        assert!(!place.windows(secret.len()).any(|w| w == secret.as_bytes()), "the secret was written or printed");
    }
}
