//! `haul export` / `resume` / `history` / `cancel` as a user runs them, including `kill -9` in the middle:
//! the resumed export must equal an uninterrupted one byte for byte, and files verified before the kill
//! must not be fetched again (the simulator counts requests).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use bulk_sim::{Faults, RunningSim, SimConfig};

struct Haul {
    data: tempfile::TempDir,
}

impl Haul {
    fn new() -> Self {
        Self { data: tempfile::tempdir().unwrap() }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_haul"));
        c.args(args).env("HAUL_DATA_DIR", self.data.path()).env("HAUL_TEST_FAST_PACING", "1").stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Every NDJSON file of an export folder (outputs, error/, deleted/), by relative name.
fn ndjson_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in ["", "error", "deleted"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else { continue };
        for e in entries {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if name.ends_with(".ndjson") && name != "log.ndjson" {
                let rel = if sub.is_empty() { name } else { format!("{sub}/{name}") };
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Our file name → the simulator's, from haul-report.json's record of what was done.
fn server_names(dir: &Path) -> BTreeMap<String, String> {
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("haul-report.json")).unwrap()).unwrap();
    m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let url = f["url"].as_str().unwrap();
            (f["file"].as_str().unwrap().to_string(), url.rsplit('/').next().unwrap().to_string())
        })
        .collect()
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn sim_preparing_for(prepare_time: Duration) -> RunningSim {
    RunningSim::start(SimConfig {
        data: bulk_sim::DataSource::Generated { seed: 7, patients: 150 },
        resources_per_file: 600,
        prepare_time,
        poll_interval_seconds: 0,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

async fn sim() -> RunningSim {
    sim_preparing_for(Duration::from_millis(300)).await
}

fn export_args<'a>(base: &'a str, out: &'a str) -> Vec<&'a str> {
    vec!["export", "--fhir-url", base, "--group", "aco-north", "--parallel", "2", "--out", out]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_download_then_resumed_equals_an_uninterrupted_export() {
    let sim = sim().await;
    let base = sim.base_url();
    let root = tempfile::tempdir().unwrap();
    let reference = root.path().join("reference");
    let haul = Haul::new();
    let o = haul.run(&export_args(&base, reference.to_str().unwrap()));
    assert!(o.status.success(), "{}", text(&o));
    let expected = ndjson_files(&reference);
    assert!(expected.len() > 5, "{:?}", expected.keys());

    // Slow files, then kill -9 once some are verified and another is part-way. "Part-way" means well short of
    // the file's full size: a `.part` holding every byte (downloaded, not yet renamed) is finished without a
    // Range request on resume, which is right but is not what this test is about.
    sim.set_faults(Faults { file_bytes_per_second: Some(60_000), ..Faults::default() });
    let out: PathBuf = root.path().join("interrupted");
    let mut child = haul.spawn(&export_args(&base, out.to_str().unwrap()));
    wait_until("a verified file and a partial one", Duration::from_secs(60), || {
        let Ok(entries) = std::fs::read_dir(&out) else { return false };
        let names: Vec<(String, u64)> = entries
            .flatten()
            .map(|e| (e.file_name().to_string_lossy().to_string(), e.metadata().map(|m| m.len()).unwrap_or(0)))
            .collect();
        let verified = names.iter().any(|(n, _)| n.ends_with(".ndjson") && n != "log.ndjson");
        let partial = names.iter().any(|(n, len)| {
            let full = n.strip_suffix(".part").and_then(|n| expected.get(n)).map_or(0, |b| b.len() as u64);
            // At 60 kB/s, 20 kB left is a third of a second: ample time for the kill below.
            *len > 0 && *len + 20_000 < full
        });
        verified && partial
    });
    child.kill().unwrap(); // SIGKILL: no cleanup of any kind
    child.wait().unwrap();
    let verified_before: Vec<String> = ndjson_files(&out).into_keys().collect();
    let requests_before = sim.stats().file_requests;
    let kickoffs_before = sim.stats().kickoffs;

    sim.set_faults(Faults::default());
    let h = haul.run(&["history"]);
    assert!(text(&h).contains("interrupted (haul resume)"), "{}", text(&h));
    let o = haul.run(&["resume"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("resuming at byte"), "a partial file resumed with Range: {}", text(&o));

    assert_eq!(ndjson_files(&out), expected, "byte for byte what an uninterrupted export brought");
    assert!(!std::fs::read_dir(&out).unwrap().flatten().any(|e| e.file_name().to_string_lossy().ends_with(".part")));
    assert_eq!(sim.stats().kickoffs, kickoffs_before, "resume polls the saved status URL; no new kickoff");
    let names = server_names(&out);
    let requests_after = sim.stats().file_requests;
    for file in &verified_before {
        let server = &names[file];
        assert_eq!(requests_before.get(server), requests_after.get(server), "{file} was not fetched again");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_polling_then_resumed_uses_the_saved_status_url() {
    let sim = sim_preparing_for(Duration::from_secs(3)).await;
    let base = sim.base_url();
    let root = tempfile::tempdir().unwrap();
    let haul = Haul::new();
    let out = root.path().join("out");
    let mut child = haul.spawn(&export_args(&base, out.to_str().unwrap()));
    wait_until("status polls", Duration::from_secs(30), || sim.stats().status_polls >= 2);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(sim.stats().kickoffs, 1);
    let o = haul.run(&["resume", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(sim.stats().kickoffs, 1, "no second kickoff");

    let reference = root.path().join("reference");
    let o = haul.run(&export_args(&base, reference.to_str().unwrap()));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(ndjson_files(&out), ndjson_files(&reference));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_say_whether_everything_verified() {
    let sim = sim().await;
    let base = sim.base_url();
    let root = tempfile::tempdir().unwrap();
    let haul = Haul::new();
    let dir = |n: &str| root.path().join(n).to_string_lossy().to_string();

    let o = haul.run(&["export", "--fhir-url", &base, "--group", "no-such-group", "--out", &dir("a")]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("HTTP 404"), "{}", text(&o));

    sim.set_faults(Faults { malformed_lines: 2, ..Faults::default() });
    let o = haul.run(&["export", "--fhir-url", &base, "--type", "Patient", "--out", &dir("b")]);
    assert_eq!(o.status.code(), Some(3), "completed with problems: {}", text(&o));
    assert!(text(&o).contains("quarantine/Patient.000.ndjson"), "{}", text(&o));
    sim.set_faults(Faults::default());

    let o = haul.run(&["export", "--fhir-url", &base, "--type", "Patient", "--out", &dir("b")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("is not empty"), "an earlier export is never overwritten: {}", text(&o));
    let o = haul.run(&["export", "--fhir-url", &base, "--since", "last week", "--out", &dir("c")]);
    assert!(text(&o).contains("not a FHIR instant"), "{}", text(&o));
    let o = haul.run(&["export", "--fhir-url", &base, "--system", "--patient", "p1", "--out", &dir("d")]);
    assert!(text(&o).contains("patient or group level"), "{}", text(&o));

    let o = haul.run(&["export", "--fhir-url", &base, "--type", "Patient,Condition", "--out", &dir("e")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = haul.run(&[
        "export",
        "--fhir-url",
        &base,
        "--type",
        "Condition,Patient",
        "--since",
        "auto",
        "--out",
        &dir("f"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("Since the last export: changes since"), "{}", text(&o));
    assert!(root.path().join("f/deleted/Bundle.000.ndjson").exists(), "an incremental export records deletions");

    let o = haul.run(&["history", "--json"]);
    let rows: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 4, "four exports were created (the refused ones never were)");
    assert_eq!(rows[0]["state"], "completed");
    assert!(rows[0]["request"]["since"].is_string());
    // The deleted[] Bundle's entries, not its lines: what the server reported deleted.
    let deletions = rows[0]["deletions"].as_u64().unwrap();
    assert!(deletions > 1, "{}", rows[0]);
    assert_eq!(rows[1]["deletions"], 0, "a full export reports none");

    // The incremental export against the full one before it: changes only, and the deletions it listed.
    let (full, since) = (rows[1]["id"].to_string(), rows[0]["id"].to_string());
    let o = haul.run(&["compare", &since, &full, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let c: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(c["incremental"], true);
    let condition = c["types"].as_array().unwrap().iter().find(|t| t["resourceType"] == "Condition").unwrap();
    // Every deletion is counted once: of a Condition the full export held, or (the simulator's made-up ones,
    // before its timeline moves) of one it never held, which changes nothing between the two.
    let (held, not_held) = (condition["deleted"].as_u64().unwrap(), condition["deletedNotHeld"].as_u64().unwrap());
    assert_eq!((held, not_held), (0, deletions), "{c}");
    assert_eq!(condition["after"], condition["before"], "deletions of what it never held take nothing away: {c}");
    let o = haul.run(&["compare", &full, &since]);
    assert!(text(&o).contains("asked for changes only") && text(&o).contains("Condition"), "{}", text(&o));
    let note = format!("deletions of resources the earlier one did not hold ({deletions} Condition)");
    assert!(text(&o).contains(&note), "{}", text(&o));
    let o = haul.run(&["compare", &full, "999"]);
    assert!(text(&o).contains("There is no export 999"), "{}", text(&o));
    let o = haul.run(&["cancel", &rows[0]["id"].to_string()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("already finished"), "{}", text(&o));
}

#[tokio::test]
async fn server_text_reaches_the_terminal_without_escape_sequences() {
    let sim = RunningSim::start(SimConfig {
        poll_interval_seconds: 0,
        faults: Faults { escape_sequences: true, count_off_by: 1, ..Faults::default() },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let haul = Haul::new();
    let out = haul.data.path().join("escapes");
    let o = tokio::task::spawn_blocking({
        let (base, out) = (sim.base_url(), out.display().to_string());
        let haul_data = haul.data.path().to_path_buf();
        move || {
            let mut c = Command::new(env!("CARGO_BIN_EXE_haul"));
            c.args(["export", "--fhir-url", &base, "--type", "Patient", "--out", &out])
                .env("HAUL_DATA_DIR", haul_data)
                .env("HAUL_TEST_FAST_PACING", "1")
                .stdin(Stdio::null());
            c.output().unwrap()
        }
    })
    .await
    .unwrap();
    let all = [o.stdout.as_slice(), o.stderr.as_slice()].concat();
    assert!(!all.contains(&0x1b) && !all.contains(&0x07), "raw escape bytes reached the terminal: {}", text(&o));
    assert!(text(&o).contains("\\u{1b}"), "shown visibly instead: {}", text(&o));
    // The file listed under the trick type holds Patients: not one line is of its type, so it is lost.
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("not NDJSON"), "{}", text(&o));
    assert_eq!(sim.stats().deletes, 0, "an incomplete copy keeps the server's");
}

/// A system without CA certificates (a minimal install without the ca-certificates package; found by installing
/// the .deb into a bare Debian): Haul once stopped at start with a panic. Now it starts, exports from a plain-HTTP
/// server, and trusts nothing it cannot verify.
#[tokio::test]
async fn a_computer_without_ca_certificates_still_runs_haul() {
    let sim = RunningSim::start(SimConfig { poll_interval_seconds: 0, ..SimConfig::default() }).await.unwrap();
    let haul = Haul::new();
    let out = haul.data.path().join("no-ca");
    let o = tokio::task::spawn_blocking({
        let (base, out) = (sim.base_url(), out.display().to_string());
        let mut c = haul.command(&["export", "--fhir-url", &base, "--type", "Patient", "--out", &out]);
        // rustls-native-certs reads only these when they are set: both point at nothing.
        c.env("SSL_CERT_FILE", "/nonexistent/ca.pem").env("SSL_CERT_DIR", "/nonexistent");
        move || c.output().unwrap()
    })
    .await
    .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(out.join("Patient.000.ndjson").is_file());
}
