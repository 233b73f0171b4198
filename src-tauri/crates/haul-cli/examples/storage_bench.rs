//! Benchmark (prints figures; not a timed test): the same whole-server export from `haul sim`, once into a
//! local folder and once into an S3-compatible server (moto, in server mode, on loopback), in one run: the
//! throughput of each, the `haul` process's CPU and peak RSS up to the export's end (a folder export goes on to
//! update its current dataset, left out here), and the most local disk the storage export used (Haul's data
//! folder, sampled every 100 ms).
//!
//!     cargo build --release -p haul-cli --bin haul --example storage_bench
//!     target/release/examples/storage_bench 5        # dataset size in GB (default: 5)
//!
//! The simulator and moto run as their own processes, so their memory is not counted. moto keeps objects in
//! memory (spilling large ones to temporary files) and is Python: it is the slower side of this loopback.
//! With `HAUL_S3S_FS` naming the `s3s-fs` binary (an S3 server in Rust over a folder, from crates.io:
//! `cargo install s3s-fs@0.14.1 --features binary`, the last for Rust 1.95), the same export also goes into it, to see Haul's side of the
//! upload with a server that keeps up.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod common;

use common::{Killed, cpu_seconds, haul_binary, peak_rss_kib, python, wait_with_usage};

fn start_sim(patients: u64) -> (Killed, String) {
    common::start_sim(patients, 200000, &[])
}

/// Waits (a minute at most) until something listens on `port`.
fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_moto() -> (Killed, u16) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(python())
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto from .venv (make test installs it)");
    wait_for_port(port, "moto");
    let made = Command::new(python())
        .args([
            "-c",
            &format!(
                "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:{port}', aws_access_key_id='t', \
             aws_secret_access_key='t', region_name='us-east-1').create_bucket(Bucket='bench')"
            ),
        ])
        .status()
        .unwrap();
    assert!(made.success(), "creating the bucket failed");
    (Killed(child), port)
}

/// `s3s-fs` on loopback, keeping its objects in `root` (the bucket `bench` is a folder there).
fn start_s3s_fs(binary: &std::ffi::OsStr, root: &Path) -> (Killed, u16) {
    std::fs::create_dir_all(root.join("bench")).unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(binary)
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--access-key", "t", "--secret-key", "t"])
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("HAUL_S3S_FS names the s3s-fs binary");
    wait_for_port(port, "s3s-fs");
    (Killed(child), port)
}

fn s3_env(port: u16) -> [(&'static str, String); 5] {
    [
        ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
        ("AWS_ALLOW_HTTP", "true".to_string()),
        ("AWS_ACCESS_KEY_ID", "t".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "t".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
    ]
}

struct Run {
    bytes: u64,
    download: Duration,
    cpu: f64,
    peak_rss_mib: f64,
    peak_disk_mib: f64,
}

fn size_of_tree(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => size_of_tree(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[expect(clippy::zombie_processes, reason = "reaped by wait4, which also reports its rusage")]
/// One `haul export --system` into `out`, with Haul's data folder `data`; the download phase is timed from
/// the manifest to the exit, and `data` (where a storage export keeps its own files) is sampled for size.
fn export(base: &str, out: &str, data: &Path, env: &[(&str, String)]) -> Run {
    let mut child = Command::new(haul_binary())
        .args(["export", "--fhir-url", base, "--system", "--parallel", "4", "--no-delete", "--out", out])
        .env("HAUL_DATA_DIR", data)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (stop, peak) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let sampler = {
        let (stop, peak, data) = (stop.clone(), peak.clone(), data.to_path_buf());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(size_of_tree(&data), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    // From the manifest to the export's end (before a folder export's current dataset update, which a storage
    // export does not do).
    let (mut started, mut ended, mut cpu_at_end) = (None, None, None);
    let mut last = std::collections::VecDeque::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if started.is_none() && line.starts_with("manifest:") {
            started = Some(Instant::now());
        }
        if ended.is_none() && line.starts_with("state: completed") {
            ended = Some(Instant::now());
            // The export's own CPU and memory: a folder export goes on to update its current dataset.
            cpu_at_end = Some((cpu_seconds(child.id()), peak_rss_kib(child.id())));
        }
        // What haul said last, to show when the export did not complete.
        last.push_back(line);
        if last.len() > 20 {
            last.pop_front();
        }
    }
    let (ok, peak_kib, cpu) = wait_with_usage(&child);
    let (Some(started), Some(ended)) = (started, ended) else {
        panic!("the export into {out} did not complete; haul's last lines:\n{}", Vec::from(last).join("\n"))
    };
    let download = ended - started;
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    assert!(ok, "haul export failed");
    // Exact sizes, as verified, from the export's record.
    let db = haul_store::Database::open(&haul_store::DataDir::at(data).database_path()).unwrap();
    let bytes = db
        .list_jobs(1)
        .unwrap()
        .iter()
        .map(|j| db.type_totals(j.id).unwrap().iter().map(|t| t.bytes).sum::<u64>())
        .sum();
    Run {
        bytes,
        download,
        cpu: cpu_at_end.map(|(cpu, _)| cpu).filter(|c| *c > 0.0).unwrap_or(cpu),
        // A process gone by then (reaped or not) has no VmHWM line: the whole run's peak then.
        peak_rss_mib: cpu_at_end.map(|(_, peak)| peak).filter(|p| *p > 0).unwrap_or(peak_kib) as f64 / 1024.0,
        peak_disk_mib: peak.load(Ordering::Relaxed) as f64 / (1 << 20) as f64,
    }
}

fn main() {
    let gb: f64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5.0);
    let work = tempfile::tempdir_in(
        std::env::var_os("HAUL_BENCH_DIR").map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir),
    )
    .unwrap();
    let (sim, base) = start_sim(200);
    let cal = export(&base, work.path().join("cal").to_str().unwrap(), &work.path().join("cal-data"), &[]);
    drop(sim);
    let per_patient = cal.bytes as f64 / 200.0;
    let _ = std::fs::remove_dir_all(work.path().join("cal"));

    let patients = ((gb * 1e9) / per_patient).ceil() as u64;
    let (sim, base) = start_sim(patients);
    let (moto, port) = start_moto();
    let folder = work.path().join("folder");
    let local = export(&base, folder.to_str().unwrap(), &work.path().join("local-data"), &[]);
    let peer = boto3_upload(port, &folder);
    let _ = std::fs::remove_dir_all(&folder);
    let moto_before = cpu_seconds(moto.0.id());
    let stored = export(&base, "s3://bench/haul", &work.path().join("s3-data"), &s3_env(port));
    let moto_cpu = cpu_seconds(moto.0.id()) - moto_before;
    drop(moto);
    let fast = std::env::var_os("HAUL_S3S_FS").map(|binary| {
        let (server, port) = start_s3s_fs(&binary, &work.path().join("s3s-fs"));
        let before = cpu_seconds(server.0.id());
        let run = export(&base, "s3://bench/haul", &work.path().join("s3s-data"), &s3_env(port));
        let server_cpu = cpu_seconds(server.0.id()) - before;
        (run, server_cpu)
    });
    drop(sim);

    let rate = |r: &Run| r.bytes as f64 / 1e6 / r.download.as_secs_f64();
    println!("{patients} patients, {:.2} GB of NDJSON; 4 files at a time; load {}", local.bytes as f64 / 1e9, load());
    println!(
        "{:>16} {:>10} {:>10} {:>13} {:>13} {:>15}",
        "into", "seconds", "MB/s", "CPU s/GB", "peak RSS MiB", "local disk MiB"
    );
    let mut rows = vec![("a folder", &local), ("S3 (moto)", &stored)];
    if let Some((run, _)) = &fast {
        rows.push(("S3 (s3s-fs)", run));
    }
    for (name, r) in rows {
        println!(
            "{:>16} {:>10.1} {:>10.0} {:>13.2} {:>13.1} {:>15.1}",
            name,
            r.download.as_secs_f64(),
            rate(r),
            r.cpu / (r.bytes as f64 / 1e9),
            r.peak_rss_mib,
            r.peak_disk_mib
        );
    }
    let peer_rate = local.bytes as f64 / 1e6 / peer.as_secs_f64();
    println!(
        "{:>16} {:>10.1} {:>10.0}   (the folder export's files uploaded to the same moto, 8 MiB parts, 4 at a time)",
        "boto3 upload",
        peer.as_secs_f64(),
        peer_rate
    );
    println!(
        "moto's CPU during the S3 export: {:.1} s per GB ({:.0} % of one core); Haul's: {:.1} s per GB",
        moto_cpu / (stored.bytes as f64 / 1e9),
        moto_cpu / stored.download.as_secs_f64() * 100.0,
        stored.cpu / (stored.bytes as f64 / 1e9)
    );
    println!("S3 / folder throughput: {:.2}", rate(&stored) / rate(&local));
    if let Some((run, server_cpu)) = &fast {
        println!(
            "s3s-fs's CPU during its export: {:.1} s per GB; S3 (s3s-fs) / folder throughput: {:.2}",
            server_cpu / (run.bytes as f64 / 1e9),
            rate(run) / rate(&local)
        );
    }
    println!("S3 / boto3 upload throughput: {:.2} (moto's own ceiling on this machine)", rate(&stored) / peer_rate);
}

/// The peer: AWS's own Python SDK uploading the folder export's NDJSON files to the same server (multipart,
/// 8 MiB parts, 4 files at a time), wall time.
fn boto3_upload(port: u16, folder: &Path) -> Duration {
    let script = format!(
        r#"
import boto3, glob, os, sys, time
from boto3.s3.transfer import TransferConfig
from concurrent.futures import ThreadPoolExecutor
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:{port}", aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1")
files = [f for f in glob.glob(sys.argv[1] + "/*.ndjson") if not f.endswith("log.ndjson")]
config = TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20, max_concurrency=1)
with ThreadPoolExecutor(4) as pool:
    list(pool.map(lambda f: s3.upload_file(f, "bench", "peer/" + os.path.basename(f), Config=config), files))
"#
    );
    let t = Instant::now();
    let status = Command::new(python()).args(["-c", &script]).arg(folder).status().unwrap();
    assert!(status.success(), "the boto3 upload failed");
    t.elapsed()
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
