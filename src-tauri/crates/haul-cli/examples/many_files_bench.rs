//! Benchmark (prints figures; not a timed test): many small files from a server that throttles, the Oracle
//! Health pattern. The simulator serves one resource per file (about 20,000 files) and answers every 20th
//! file request with `429 Retry-After: 1` (5 %). In one run, on the same simulator process:
//!
//! - `haul export` (4 downloads at once, fewer while the server asks it to slow down),
//! - `smart-fetch bulk --no-default-filters --no-compression` (PyPI `smart-fetch`, from `.venv` or
//!   `HAUL_SMART_FETCH`), the peer,
//! - curl driven by a script (`--parallel --parallel-max 4 --retry 10`), as the floor (no verification).
//!
//! For each: wall time, files/s, requests (from the simulator's counters), 429s, failed files, peak RSS.
//!
//!     cargo build --release -p haul-cli --bin haul --example many_files_bench
//!     target/release/examples/many_files_bench [PATIENTS]     # default 190 (about 20,000 files)

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{Killed, haul_binary, wait_with_usage};

const FAULTS: &str = r#"{"file_429_every":20,"file_retry_after_seconds":1}"#;

fn start_sim(patients: u64) -> (Killed, String) {
    common::start_sim(patients, 1, &["--faults", FAULTS])
}

/// The simulator's counters: (file requests answered with a body, file requests throttled).
fn counters(base: &str) -> (u64, u64) {
    let origin = base.trim_end_matches("/fhir");
    let out = Command::new("curl").args(["-s", &format!("{origin}/_sim/stats")]).output().unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let requests = stats["file_requests"].as_object().map(|m| m.values().filter_map(|v| v.as_u64()).sum()).unwrap_or(0);
    (requests, stats["files_throttled"].as_u64().unwrap_or(0))
}

/// NDJSON files and their non-blank lines under `dir` (recursively).
fn count_output(dir: &Path) -> (u64, u64) {
    let (mut files, mut lines) = (0, 0);
    let Ok(entries) = std::fs::read_dir(dir) else { return (0, 0) };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            let (f, l) = count_output(&p);
            files += f;
            lines += l;
        } else if p.extension().is_some_and(|x| x == "ndjson") && !p.ends_with("log.ndjson") {
            files += 1;
            lines +=
                std::fs::read_to_string(&p).unwrap_or_default().lines().filter(|l| !l.trim().is_empty()).count() as u64;
        }
    }
    (files, lines)
}

struct Row {
    name: &'static str,
    ok: bool,
    wall: Duration,
    files: u64,
    resources: u64,
    requests: u64,
    throttled: u64,
    rss_mib: f64,
}

#[expect(clippy::zombie_processes, reason = "reaped by wait4, which also reports its rusage")]
fn measure(name: &'static str, base: &str, mut cmd: Command, out: &Path) -> Row {
    let before = counters(base);
    let t = Instant::now();
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap_or_else(|e| panic!("{name}: {e}"));
    let (ok, peak_kib, _) = wait_with_usage(&child);
    let wall = t.elapsed();
    let after = counters(base);
    let (files, resources) = count_output(out);
    Row {
        name,
        ok,
        wall,
        files,
        resources,
        requests: after.0 - before.0,
        throttled: after.1 - before.1,
        rss_mib: peak_kib as f64 / 1024.0,
    }
}

fn smart_fetch() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HAUL_SMART_FETCH") {
        return Some(p.into());
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let venv = repo.join(".venv/bin/smart-fetch");
    venv.exists().then_some(venv)
}

fn main() {
    let patients: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(190);
    let work =
        tempfile::tempdir_in(std::env::var_os("HAUL_BENCH_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir))
            .unwrap();
    let (_sim, base) = start_sim(patients);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("simulator {base}: {patients} patients, one resource per file, faults {FAULTS}; load {}", load.trim());

    let mut rows = Vec::new();
    let haul_out = work.path().join("haul");
    let mut haul = Command::new(haul_binary());
    haul.args(["export", "--fhir-url", &base, "--system", "--parallel", "4", "--no-delete", "--out"])
        .arg(&haul_out)
        .env("HAUL_DATA_DIR", work.path().join("haul-data"));
    rows.push(measure("haul", &base, haul, &haul_out));

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(haul_out.join("manifest.json")).unwrap_or_default()).unwrap_or_default();
    let urls: Vec<String> = manifest["output"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["url"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();

    match smart_fetch() {
        Some(sf) => {
            let out = work.path().join("smart-fetch");
            let mut cmd = Command::new(sf);
            cmd.args(["bulk", "--fhir-url", &base, "--no-default-filters", "--no-compression"]).arg(&out);
            rows.push(measure("smart-fetch", &base, cmd, &out));
        }
        None => println!("smart-fetch: not found (pip install smart-fetch into .venv, or set HAUL_SMART_FETCH)"),
    }

    let curl_out = work.path().join("curl");
    std::fs::create_dir_all(&curl_out).unwrap();
    let config = work.path().join("curl.config");
    let lines: Vec<String> = urls
        .iter()
        .enumerate()
        .map(|(i, u)| format!("url = \"{u}\"\noutput = \"{}\"", curl_out.join(format!("{i}.ndjson")).display()))
        .collect();
    std::fs::write(&config, lines.join("\n")).unwrap();
    let mut curl = Command::new("curl");
    curl.args(["--silent", "--parallel", "--parallel-max", "4", "--retry", "10", "--retry-delay", "1", "--config"])
        .arg(&config);
    rows.push(measure("curl (floor)", &base, curl, &curl_out));

    println!();
    println!(
        "{:<14} {:>4} {:>8} {:>8} {:>8} {:>10} {:>9} {:>6} {:>9} {:>9}",
        "client", "ok", "wall s", "files", "missing", "resources", "requests", "429s", "files/s", "RSS MiB"
    );
    let expected = urls.len() as u64;
    for r in &rows {
        println!(
            "{:<14} {:>4} {:>8.1} {:>8} {:>8} {:>10} {:>9} {:>6} {:>9.0} {:>9.1}",
            r.name,
            if r.ok { "yes" } else { "no" },
            r.wall.as_secs_f64(),
            r.files,
            expected.saturating_sub(r.files),
            r.resources,
            r.requests,
            r.throttled,
            r.files as f64 / r.wall.as_secs_f64(),
            r.rss_mib
        );
    }
    if let (Some(h), Some(s)) = (rows.iter().find(|r| r.name == "haul"), rows.iter().find(|r| r.name == "smart-fetch"))
    {
        println!();
        println!(
            "haul / smart-fetch throughput: {:.2} (files/s; above 1 is faster)",
            (h.files as f64 / h.wall.as_secs_f64()) / (s.files as f64 / s.wall.as_secs_f64()).max(f64::MIN_POSITIVE)
        );
    }
}
