//! Benchmark (prints figures; not a timed test): `haul tables` with the built-in `observation` and `eob_line`
//! views to Parquet, next to the same flattening written as DuckDB SQL over read_ndjson_auto (`COPY (SELECT …)
//! TO … parquet`), in one run, with the same thread count.
//!
//!     cargo build --release -p haul-cli --bin haul --example tables_bench
//!     target/release/examples/tables_bench [THREADS] [OBSERVATION_MB] [EOB_MB]     # default: 2 250 370
//!
//! The input is the shared Synthea sample scaled up (new ids), as for convert_bench. Each tool runs three
//! times (`HAUL_BENCH_ROUNDS`), taking turns; the median run is shown, with each process's own peak RSS.
//! Haul runs with `--memory-limit 64` (`HAUL_BENCH_MEMORY_MB`); DuckDB with its defaults.
//!
//! `HAUL_OCTOFHIR_RUNNER`: the path of a runner built from octofhir-sof (evaluated for issue 17; not a Haul
//! dependency, see src-tauri/DECISIONS-DATA.md) that takes `VIEW.json FILE.ndjson` and evaluates every line on one
//! thread without writing; when set it is measured too.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{haul_binary, python, root, run_measured, scale};

struct Run {
    tool: &'static str,
    seconds: f64,
    peak_mib: f64,
    outcome: String,
}

fn measure(tool: &'static str, commands: Vec<Command>, out: &Path) -> Run {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).unwrap();
    let (mut seconds, mut peak_mib, mut outcomes) = (0.0, 0.0f64, Vec::new());
    for mut c in commands {
        let (s, p, o) = run_measured(&mut c);
        seconds += s;
        peak_mib = peak_mib.max(p);
        outcomes.push(o);
    }
    Run { tool, seconds, peak_mib, outcome: outcomes.join("; ") }
}

fn haul_rows(json: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(v) => v
            .as_array()
            .unwrap()
            .iter()
            .map(|o| format!("{}: {} rows", o["view"].as_str().unwrap(), o["rows"]))
            .collect::<Vec<_>>()
            .join(", "),
        Err(_) => json.chars().take(300).collect(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads: usize = args.first().map(|a| a.parse().unwrap()).unwrap_or(2);
    let obs_mb: u64 = args.get(1).map(|a| a.parse().unwrap()).unwrap_or(250);
    let eob_mb: u64 = args.get(2).map(|a| a.parse().unwrap()).unwrap_or(370);
    // Haul's --memory-limit: the speed is the same from 64 MB up (measured), the peak follows the limit.
    let memory_mb: u64 = std::env::var("HAUL_BENCH_MEMORY_MB").ok().and_then(|m| m.parse().ok()).unwrap_or(64);
    let work =
        std::env::var_os("HAUL_BENCH_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target/convert-bench"));
    let input = work.join(format!("input-{obs_mb}-{eob_mb}"));
    std::fs::create_dir_all(&input).unwrap();
    scale("Observation", obs_mb << 20, &input);
    scale("ExplanationOfBenefit", eob_mb << 20, &input);
    let input_bytes: u64 = std::fs::read_dir(&input).unwrap().flatten().map(|e| e.metadata().unwrap().len()).sum();
    let peers = root().join("src-tauri/crates/fhir-views/tests/python/tables_peers.py");
    let views = root().join("src-tauri/crates/fhir-views/views");
    let octofhir = std::env::var_os("HAUL_OCTOFHIR_RUNNER").map(PathBuf::from);

    let rounds: usize = std::env::var("HAUL_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let tools = if octofhir.is_some() { 3 } else { 2 };
    let mut all: Vec<Vec<Run>> = (0..tools).map(|_| Vec::new()).collect();
    for round in 0..rounds {
        let out = work.join("tables-haul");
        let mut haul = Command::new(haul_binary());
        haul.arg("tables").arg(&input).arg("--out").arg(&out);
        haul.args(["--views", "observation,eob_line", "--format", "parquet", "--threads", &threads.to_string()]);
        haul.args(["--memory-limit", &memory_mb.to_string(), "--json"]);
        all[0].push(measure("haul", vec![haul], &out));
        let out = work.join("tables-duckdb");
        let mut duck = Command::new(python());
        duck.arg(&peers).arg("duckdb").arg(&input).arg(&out).arg(threads.to_string());
        all[1].push(measure("duckdb", vec![duck], &out));
        // Its evaluator takes minutes: measured in the first round only.
        if let Some(runner) = octofhir.as_ref().filter(|_| round == 0) {
            let commands = [("observation", "Observation"), ("eob_line", "ExplanationOfBenefit")]
                .into_iter()
                .map(|(view, t)| {
                    let mut c = Command::new(runner);
                    c.arg(views.join(format!("{view}.json"))).arg(input.join(format!("{t}.ndjson")));
                    c
                })
                .collect();
            all[2].push(measure("octofhir", commands, &work.join("tables-octofhir")));
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
    println!("{:<9} {:>9} {:>9} {:>13}   outcome", "tool", "wall s", "MB/s", "peak RSS MiB");
    for r in &runs {
        let outcome = if r.tool == "haul" { haul_rows(&r.outcome) } else { r.outcome.clone() };
        println!(
            "{:<9} {:>9.2} {:>9.1} {:>13.1}   {outcome}",
            r.tool,
            r.seconds,
            mb(input_bytes) / r.seconds,
            r.peak_mib
        );
    }
    println!("every run's wall seconds: {}", walls.join(", "));
    let (h, d) = (&runs[0], &runs[1]);
    println!(
        "haul vs duckdb: {:.2}x the throughput, {:.2}x the peak memory (target: >= 2x, <= 0.25x)",
        d.seconds / h.seconds,
        h.peak_mib / d.peak_mib
    );
    if let Some(o) = runs.get(2) {
        println!(
            "haul vs octofhir-sof (its evaluator alone, one thread, no output): {:.2}x the throughput",
            o.seconds / h.seconds
        );
    }
}
