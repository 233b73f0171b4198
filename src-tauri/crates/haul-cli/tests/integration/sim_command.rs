//! `haul sim` as a user runs it: start the binary, read the base URL it prints, export with plain HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(std::process::Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(args: &[&str]) -> (Killed, Vec<String>, usize) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_haul"))
        .arg("sim")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines_wanted = if args.contains(&"--register-jwks") { 2 } else { 1 };
    let mut reader = BufReader::new(stdout);
    let mut lines = Vec::new();
    for _ in 0..lines_wanted {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        lines.push(line.trim().to_string());
    }
    (Killed(child), lines, lines_wanted)
}

#[tokio::test]
async fn sim_prints_its_base_url_and_serves_a_complete_export() {
    let (_child, lines, _) = start(&["--patients", "1000", "--prepare-seconds", "0.2"]);
    let base = &lines[0];
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with("/fhir"), "{base}");
    let http = reqwest::Client::new();
    let res = http.get(format!("{base}/$export")).header("Prefer", "respond-async").send().await.unwrap();
    assert_eq!(res.status(), 202);
    let status = res.headers()["content-location"].to_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    let manifest: serde_json::Value = loop {
        let res = http.get(&status).send().await.unwrap();
        if res.status() == 200 {
            break res.json().await.unwrap();
        }
        assert_eq!(res.status(), 202);
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let outputs = manifest["output"].as_array().unwrap();
    let mut patients = 0;
    for out in outputs.iter().filter(|o| o["type"] == "Patient") {
        let text = http.get(out["url"].as_str().unwrap()).send().await.unwrap().text().await.unwrap();
        patients += text.lines().count();
    }
    assert_eq!(patients, 1000);
    assert_eq!(http.delete(&status).send().await.unwrap().status(), 202);
}

#[test]
fn registering_a_jwks_prints_the_client_id_on_the_second_line() {
    let jwks = concat!(env!("CARGO_MANIFEST_DIR"), "/../bulk-sim/tests/keys/jwks-a.json");
    let (_child, lines, _) = start(&["--auth", "smart", "--register-jwks", jwks]);
    assert!(lines[0].ends_with("/fhir"));
    assert!(lines[1].starts_with("haul-client-"), "{lines:?}");
}

#[test]
fn bad_fault_json_is_a_plain_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_haul")).args(["sim", "--faults", "{nope"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("haul: --faults is not valid fault JSON"), "{err}");
}
