//! What the benchmarks share: the `haul` binary beside them, a child process killed on drop, a child's own
//! peak RSS and CPU time from wait4, the Python with the peers, and the Synthea sample scaled up.

#![allow(dead_code, reason = "each benchmark uses part of this module")]

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// The repository.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

/// The Python with DuckDB, pyarrow and openpyxl: `.venv` (made by `tests/run.sh`) or `HAUL_PYTHON`.
pub fn python() -> PathBuf {
    std::env::var_os("HAUL_PYTHON").map(PathBuf::from).unwrap_or_else(|| root().join(".venv/bin/python"))
}

/// The shared folder (`HAUL_SHARED_DIR`, or beside the repository).
pub fn shared() -> PathBuf {
    std::env::var_os("HAUL_SHARED_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("../shared"))
}

/// Copies the Synthea sample's resources of `resource_type`, each copy with a new id, into
/// `out/<Type>.ndjson` until it holds `target` bytes (kept when already that large).
pub fn scale(resource_type: &str, target: u64, out: &Path) {
    let path = out.join(format!("{resource_type}.ndjson"));
    if std::fs::metadata(&path).map(|m| m.len() >= target).unwrap_or(false) {
        return;
    }
    let gz = std::fs::File::open(shared().join(format!("data/synthea-r4/{resource_type}.ndjson.gz"))).unwrap();
    let lines: Vec<String> =
        BufReader::new(flate2::read::MultiGzDecoder::new(gz)).lines().map(Result::unwrap).collect();
    let mut w = BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut written = 0u64;
    let mut copy = 0;
    while written < target {
        for line in &lines {
            let at = line.find("\"id\":\"").expect("resources have ids") + 6;
            let end = at + line[at..].find('"').unwrap();
            let new = format!("{}{}-c{copy}{}\n", &line[..at], &line[at..end], &line[end..]);
            w.write_all(new.as_bytes()).unwrap();
            written += new.len() as u64;
            if written >= target {
                break;
            }
        }
        copy += 1;
    }
}

pub struct Killed(pub Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn haul_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let haul = dir.join("haul");
    assert!(haul.exists(), "build it first: cargo build --release -p haul-cli --bin haul");
    haul
}

/// Waits for `child` and returns (success, its own peak RSS in KiB, its CPU seconds), from wait4.
pub fn wait_with_usage(child: &Child) -> (bool, i64, f64) {
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value; wait4 only writes the two out-parameters we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert!(pid > 0, "wait4 failed");
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        usage.ru_maxrss,
        secs(usage.ru_utime) + secs(usage.ru_stime),
    )
}

/// Runs `command` to its end: (wall seconds, its own peak RSS in MiB, its stdout, or "failed: " and the last
/// line of its stderr).
#[expect(clippy::zombie_processes, reason = "reaped by wait4, which also reports its rusage")]
pub fn run_measured(command: &mut Command) -> (f64, f64, String) {
    let started = Instant::now();
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let text = std::io::read_to_string(stdout).unwrap_or_default();
    let (ok, peak_kib, _) = wait_with_usage(&child);
    let seconds = started.elapsed().as_secs_f64();
    let err = err_reader.join().unwrap();
    let outcome = if ok { text.trim().to_string() } else { format!("failed: {}", err.lines().last().unwrap_or("")) };
    (seconds, peak_kib as f64 / 1024.0, outcome)
}

/// `haul sim` with `patients` generated patients, ready at once, files of up to `resources_per_file`, and
/// `extra` arguments: the process and its base URL.
pub fn start_sim(patients: u64, resources_per_file: u64, extra: &[&str]) -> (Killed, String) {
    let mut child = Command::new(haul_binary())
        .args(["sim", "--patients", &patients.to_string(), "--prepare-seconds", "0"])
        .args(["--resources-per-file", &resources_per_file.to_string()])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    (Killed(child), line.trim().to_string())
}

/// A process's CPU seconds so far (user + system, from /proc).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()).unwrap_or(0.0);
    ticks / 100.0
}

/// A process's peak RSS so far (`VmHWM`), in KiB.
pub fn peak_rss_kib(pid: u32) -> i64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
