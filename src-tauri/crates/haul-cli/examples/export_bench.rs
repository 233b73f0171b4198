//! Benchmark (prints figures; not a timed test): `haul export` of a whole simulator dataset at two sizes,
//! with throughput and peak RSS of the `haul` process, next to curl fetching the same files in the same run
//! (4 in parallel, gzip accepted like Haul) as the loopback/disk peer.
//!
//!     cargo build --release -p haul-cli --bin haul --example export_bench
//!     target/release/examples/export_bench 1 5        # dataset sizes in GB (default: 1 5)
//!
//! The simulator runs as its own process (`haul sim`), so its memory is not counted. The download is timed from
//! the manifest to `state: completed`, with the CPU and peak RSS Haul had used by then; what follows is the
//! update of the export's current dataset (Parquet tables and flat views), timed and measured on its own.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{Killed, cpu_seconds, haul_binary, peak_rss_kib, wait_with_usage};

fn start_sim(patients: u64) -> (Killed, String) {
    common::start_sim(patients, 200000, &[])
}

struct Run {
    bytes: u64,
    files: usize,
    download: Duration,
    /// CPU seconds of the process up to the download's end (kickoff and polling are negligible).
    cpu: f64,
    peak_rss_mib: f64,
    /// The current dataset's update after the download: wall time, CPU seconds, and the process's peak RSS
    /// over the whole run.
    dataset: Duration,
    dataset_cpu: f64,
    whole_peak_rss_mib: f64,
}

#[expect(clippy::zombie_processes, reason = "reaped by wait4, which also reports its rusage")]
/// One `haul export --system`: the download (from the manifest to `state: completed`), then the current
/// dataset's update (from there to the exit).
fn haul_export(base: &str, out: &Path, data: &Path) -> Run {
    let mut child = Command::new(haul_binary())
        .args(["export", "--fhir-url", base, "--system", "--parallel", "4", "--no-delete", "--out"])
        .arg(out)
        .env("HAUL_DATA_DIR", data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (mut started, mut downloaded) = (None, None);
    for line in stderr.lines() {
        let line = line.unwrap();
        if started.is_none() && line.starts_with("manifest:") {
            started = Some(Instant::now());
        }
        if downloaded.is_none() && line.starts_with("state: completed") {
            downloaded = Some((Instant::now(), cpu_seconds(child.id()), peak_rss_kib(child.id())));
        }
    }
    let (ok, peak_kib, cpu) = wait_with_usage(&child);
    let ended = Instant::now();
    assert!(ok, "haul export failed");
    let started = started.expect("a manifest arrived");
    let (downloaded, cpu_then, peak_then) = downloaded.expect("the export said it completed");
    let mut bytes = 0;
    let mut files = 0;
    for e in std::fs::read_dir(out).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(".ndjson") && name != "log.ndjson" {
            bytes += e.metadata().unwrap().len();
            files += 1;
        }
    }
    Run {
        bytes,
        files,
        download: downloaded - started,
        cpu: cpu_then,
        peak_rss_mib: peak_then as f64 / 1024.0,
        dataset: ended - downloaded,
        dataset_cpu: cpu - cpu_then,
        whole_peak_rss_mib: peak_kib as f64 / 1024.0,
    }
}

/// curl fetching the same file URLs, 4 at a time, into a folder: (wall time, CPU seconds).
fn curl_peer(manifest: &Path, out: &Path) -> Option<(Duration, f64)> {
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(manifest).ok()?).ok()?;
    let mut cmd = Command::new("curl");
    cmd.args(["--silent", "--fail", "--compressed", "--parallel", "--parallel-max", "4"]);
    for (i, f) in m["output"].as_array()?.iter().enumerate() {
        cmd.arg("-o").arg(out.join(format!("{i}.ndjson"))).arg(f["url"].as_str()?);
    }
    std::fs::create_dir_all(out).ok()?;
    let t = Instant::now();
    let child = cmd.stderr(Stdio::null()).spawn().ok()?;
    let (ok, _, cpu) = wait_with_usage(&child);
    ok.then(|| (t.elapsed(), cpu))
}

fn main() {
    let sizes: Vec<f64> = {
        let args: Vec<f64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
        if args.is_empty() { vec![1.0, 5.0] } else { args }
    };
    let work =
        tempfile::tempdir_in(std::env::var_os("HAUL_BENCH_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir))
            .unwrap();

    // Calibration: bytes per generated patient.
    let (sim, base) = start_sim(200);
    let cal = haul_export(&base, &work.path().join("cal"), &work.path().join("cal-data"));
    drop(sim);
    let per_patient = cal.bytes as f64 / 200.0;
    println!("calibration: {:.0} KB of NDJSON per generated patient", per_patient / 1000.0);
    println!();
    println!(
        "{:>8} {:>10} {:>6} {:>8} {:>10} {:>13} {:>12} {:>10} {:>13} {:>10} {:>10} {:>12} {:>12}",
        "export",
        "bytes",
        "files",
        "haul s",
        "haul MB/s",
        "haul CPU s/GB",
        "haul RSS MiB",
        "curl MB/s",
        "curl CPU s/GB",
        "haul/curl",
        "dataset s",
        "dataset CPU",
        "all RSS MiB"
    );
    let mut rss = Vec::new();
    for gb in sizes {
        let patients = ((gb * 1e9) / per_patient).ceil() as u64;
        let (sim, base) = start_sim(patients);
        let out = work.path().join(format!("haul-{gb}"));
        let run = haul_export(&base, &out, &work.path().join(format!("data-{gb}")));
        let mbps = run.bytes as f64 / 1e6 / run.download.as_secs_f64();
        let peer = curl_peer(&out.join("manifest.json"), &work.path().join(format!("curl-{gb}")));
        drop(sim);
        let gbytes = run.bytes as f64 / 1e9;
        let (peer_mbps, peer_cpu, ratio) = match peer {
            Some((t, cpu)) => {
                let p = run.bytes as f64 / 1e6 / t.as_secs_f64();
                (format!("{p:.0}"), format!("{:.2}", cpu / gbytes), format!("{:.2}", mbps / p))
            }
            None => ("n/a".into(), "n/a".into(), "n/a".into()),
        };
        println!(
            "{:>6.1}GB {:>10} {:>6} {:>8.1} {:>10.0} {:>13.2} {:>12.1} {:>10} {:>13} {:>10} {:>10.1} {:>12.1} {:>12.1}",
            gb,
            run.bytes,
            run.files,
            run.download.as_secs_f64(),
            mbps,
            run.cpu / gbytes,
            run.peak_rss_mib,
            peer_mbps,
            peer_cpu,
            ratio,
            run.dataset.as_secs_f64(),
            run.dataset_cpu,
            run.whole_peak_rss_mib
        );
        rss.push(run.peak_rss_mib);
        let _ = std::fs::remove_dir_all(&out);
        let _ = std::fs::remove_dir_all(work.path().join(format!("curl-{gb}")));
    }
    if rss.len() >= 2 {
        let (first, last) = (rss[0], rss[rss.len() - 1]);
        println!();
        println!("peak RSS, largest vs smallest dataset: {:+.1}% (flat: within ±10%)", (last - first) / first * 100.0);
    }
}
