//! Benchmark (prints figures; not a timed test): `haul convert` next to DuckDB and pyarrow converting the
//! same NDJSON to zstd Parquet, in one run, with the same thread count.
//!
//!     cargo build --release -p haul-cli --bin haul --example convert_bench
//!     target/release/examples/convert_bench [THREADS] [OBSERVATION_MB] [EOB_MB]     # default: 2 250 370
//!
//! The input is the shared Synthea sample scaled up: its Observation and ExplanationOfBenefit resources
//! copied with new ids until the files reach the sizes asked. The peers come from `.venv` (made by
//! `tests/run.sh`) or `HAUL_PYTHON`. Peak RSS is each process's own, from wait4. Each tool runs three
//! times (`HAUL_BENCH_ROUNDS`), taking turns; the median run is shown.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{haul_binary, python, root, run_measured, scale};

struct Run {
    tool: &'static str,
    seconds: f64,
    peak_mib: f64,
    output_bytes: u64,
    outcome: String,
}

fn measure(tool: &'static str, mut command: Command, out: &Path) -> Run {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).unwrap();
    let (seconds, peak_mib, text) = run_measured(&mut command);
    let output_bytes = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "parquet"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    // A failed run's text already says so ("failed: …"); a peer's long output is cut.
    let outcome = if tool == "haul" || text.starts_with("failed: ") { text } else { text.chars().take(400).collect() };
    Run { tool, seconds, peak_mib, output_bytes, outcome }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads: usize = args.first().map(|a| a.parse().unwrap()).unwrap_or(2);
    let obs_mb: u64 = args.get(1).map(|a| a.parse().unwrap()).unwrap_or(250);
    let eob_mb: u64 = args.get(2).map(|a| a.parse().unwrap()).unwrap_or(370);
    let work =
        std::env::var_os("HAUL_BENCH_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target/convert-bench"));
    let input = work.join(format!("input-{obs_mb}-{eob_mb}"));
    std::fs::create_dir_all(&input).unwrap();
    scale("Observation", obs_mb << 20, &input);
    scale("ExplanationOfBenefit", eob_mb << 20, &input);
    let input_bytes: u64 = std::fs::read_dir(&input).unwrap().flatten().map(|e| e.metadata().unwrap().len()).sum();
    let peers = root().join("src-tauri/crates/fhir-tables/tests/python/convert_peers.py");

    // Each tool runs ROUNDS times, the three taking turns; the median run of each is shown (the machine
    // is shared: single runs vary by a third).
    let rounds: usize = std::env::var("HAUL_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let mut all: Vec<Vec<Run>> = vec![Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..rounds {
        let out = work.join("out-haul");
        let mut haul = Command::new(haul_binary());
        haul.arg("convert").arg(&input).arg("--out").arg(&out);
        haul.args(["--threads", &threads.to_string(), "--no-remember", "--json"]);
        all[0].push(measure("haul", haul, &out));
        for (i, tool) in ["duckdb", "pyarrow"].into_iter().enumerate() {
            let out = work.join(format!("out-{tool}"));
            let mut c = Command::new(python());
            c.arg(&peers).arg(tool).arg(&input).arg(&out).arg(threads.to_string());
            all[i + 1].push(measure(tool, c, &out));
        }
    }
    let walls: Vec<String> = all
        .iter()
        .map(|runs| {
            let w: Vec<String> = runs.iter().map(|r| format!("{:.2}", r.seconds)).collect();
            format!("{} {}", runs[0].tool, w.join("/"))
        })
        .collect();
    let runs: Vec<Run> = all
        .into_iter()
        .map(|mut runs| {
            runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
            runs.swap_remove(runs.len() / 2)
        })
        .collect();

    let mb = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "Input: {:.0} MB of NDJSON (Synthea scaled: Observation {obs_mb} MB, ExplanationOfBenefit {eob_mb} MB); {threads} threads",
        mb(input_bytes)
    );
    println!("{:<8} {:>9} {:>9} {:>13} {:>12}   outcome", "tool", "wall s", "MB/s", "peak RSS MiB", "output MB");
    for r in &runs {
        let outcome = if r.tool == "haul" {
            match serde_json::from_str::<serde_json::Value>(&r.outcome) {
                Ok(v) => v["types"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| format!("{}: {} rows", t["resourceType"].as_str().unwrap(), t["rows"]))
                    .collect::<Vec<_>>()
                    .join(", "),
                Err(_) => r.outcome.clone(),
            }
        } else {
            r.outcome.clone()
        };
        println!(
            "{:<8} {:>9.2} {:>9.1} {:>13.1} {:>12.1}   {outcome}",
            r.tool,
            r.seconds,
            mb(input_bytes) / r.seconds,
            r.peak_mib,
            mb(r.output_bytes)
        );
    }
    println!("every run's wall seconds: {}", walls.join(", "));
    let (h, d) = (&runs[0], &runs[1]);
    println!(
        "haul vs duckdb: {:.2}x the throughput, {:.2}x the peak memory (target: >= 2x, <= 0.25x)",
        d.seconds / h.seconds,
        h.peak_mib / d.peak_mib
    );
}
