//! `haul schedule` and `haul run-scheduled`: the systemd user timer is written (and checked by
//! `systemd-analyze verify`; CI has no user session, so it is not started), each run is an incremental export
//! from the newest complete one, two runs of one schedule never overlap, and removing it removes the timer.

use std::path::Path;
use std::process::{Command, Output};

use bulk_sim::{RunningSim, SimConfig};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }
    fn units(&self) -> std::path::PathBuf {
        self.dir.path().join("config/systemd/user")
    }
    fn haul(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_haul"))
            .args(args)
            .env("HAUL_DATA_DIR", self.data())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            // No user session here: systemctl --user cannot be reached, as on a server or in CI.
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
            .env("XDG_RUNTIME_DIR", self.dir.path().join("no-runtime"))
            .output()
            .unwrap()
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn history(env: &Env) -> Vec<serde_json::Value> {
    let o = env.haul(&["history", "--json"]);
    String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn verify_units(dir: &Path, name: &str) {
    let runtime = tempfile::tempdir().unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--user"])
        .arg(dir.join(format!("{name}.timer")))
        .arg(dir.join(format!("{name}.service")))
        .env("XDG_RUNTIME_DIR", runtime.path())
        .output()
        .expect("systemd-analyze (Debian's systemd package; `make test` installs it)");
    assert!(out.status.success(), "systemd-analyze verify: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_runs_incrementally_never_twice_at_once_and_goes_away_cleanly() {
    let sim = RunningSim::start(SimConfig { poll_interval_seconds: 0, ..SimConfig::default() }).await.unwrap();
    let env = Env { dir: tempfile::tempdir().unwrap() };
    let first = env.dir.path().join("first");
    let o = env.haul(&[
        "export",
        "--fhir-url",
        &sim.base_url(),
        "--type",
        "Patient,Condition",
        "--out",
        first.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let template = history(&env)[0]["id"].to_string();

    let o = env.haul(&["schedule", "add", &template, "--every", "sometimes"]);
    assert!(!o.status.success() && text(&o).contains("not daily, weekly or monthly"), "{}", text(&o));
    let o = env.haul(&["schedule", "add", &template, "--every", "monthly", "--at", "25:00"]);
    assert!(!o.status.success() && text(&o).contains("not a time of day"), "{}", text(&o));
    let o = env.haul(&["schedule", "add", &template, "--every", "monthly", "--at", "06:00"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("monthly on the 1st at 06:00"), "{}", text(&o));
    assert!(
        text(&o).contains("systemctl --user enable --now haul-schedule-1.timer"),
        "told how to turn it on: {}",
        text(&o)
    );
    verify_units(&env.units(), "haul-schedule-1");
    let service = std::fs::read_to_string(env.units().join("haul-schedule-1.service")).unwrap();
    assert!(service.contains("\"run-scheduled\" \"1\"") && service.contains("HAUL_DATA_DIR="), "{service}");

    // The system's scheduler runs it: an incremental export from the one it repeats.
    let o = env.haul(&["run-scheduled", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = history(&env);
    assert_eq!(rows.len(), 2);
    assert!(rows[0]["request"]["since"].is_string(), "only what changed: {}", rows[0]);
    assert!(rows[0]["outDir"].as_str().unwrap().contains("scheduled"), "{}", rows[0]);

    // While a run holds the schedule, another one skips and says so.
    let lock = std::fs::File::create(env.data().join("schedule-1.lock")).unwrap();
    lock.lock().unwrap();
    let o = env.haul(&["run-scheduled", "1"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o).contains("Skipped: the previous run of this schedule was still going"), "{}", text(&o));
    drop(lock);
    assert_eq!(history(&env).len(), 2, "the skipped run exported nothing");
    let o = env.haul(&["schedule", "list"]);
    assert!(text(&o).contains("Skipped"), "{}", text(&o));

    let o = env.haul(&["schedule", "remove", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        !env.units().join("haul-schedule-1.timer").exists() && !env.units().join("haul-schedule-1.service").exists()
    );
    let o = env.haul(&["run-scheduled", "1"]);
    assert!(!o.status.success() && text(&o).contains("There is no schedule 1"), "{}", text(&o));
}
