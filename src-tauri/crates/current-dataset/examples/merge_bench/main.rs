//! Benchmark (prints figures; not a timed test): merging an incremental export into a current dataset,
//! against rebuilding the dataset from scratch, in one run. Target (the issue): the merge costs at most a
//! third of the rebuild, and its peak memory stays under the conversion's limit.
//!
//!     cargo build --release -p current-dataset --example merge_bench
//!     target/release/examples/merge_bench [BASE_GB] [INCREMENTAL_GB]     # default: 5 1 (fractions work)
//!
//! Input: the shared Synthea sample scaled up, each type in its own proportion, each copy with new ids and a
//! `meta` (versionId 1, lastUpdated in January): the base export. The incremental (lastUpdated in February):
//! half its bytes new versions of base resources (versionId 2, first `status` amended), half new resources,
//! and `deleted/` Bundles deleting 1% of the base. "now": the full export a server would give after it.
//! Two such incrementals, the same but for which base resources they change and delete (`input.rs`):
//! spread over every row group (the worst case), and within the newest fifth of each type (recent).
//!
//! Each phase is a child process (this program, `--child`), so its peak RSS (VmHWM) and CPU are its own:
//! initial build (full apply of the base), merge (apply of the incremental to it), rebuild (replay: full
//! apply of the base, then the incremental, into an empty dataset, as from the export folders kept on
//! disk), both for each incremental, rebuild (full apply of "now": a fresh full export) and a plain `fhir_tables::convert` of "now";
//! every built-in flat view, made whole from the base's tables and again after each merge, reusing the view
//! rows of the row groups the merge copied (what a dataset keeping views adds to an update);
//! and, to see where the merge's time goes, measured alone: converting the incremental's NDJSON, decoding
//! every base table, and decoding and encoding them again. `HAUL_BENCH_QUICK=1` skips the two "now" phases.
//! Work folder `target/merge-bench` (`HAUL_BENCH_DIR`), removed at the end unless `HAUL_BENCH_KEEP` is set
//! (a kept input is reused). Sample: `../shared` beside the repository (`HAUL_SHARED_DIR`).
//! Options: `ConvertOptions::default()`, as the app uses them.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use current_dataset::{Dataset, Update};
use fhir_tables::ConvertOptions;
use fhir_tables::table_writer::TableWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use serde_json::{Value, json};

mod input;
use input::{folder_bytes, generate};

const GIB: f64 = (1u64 << 30) as f64;
const MIB: f64 = (1u64 << 20) as f64;

fn root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    root.canonicalize().unwrap_or(root)
}

fn env_path(name: &str, default: PathBuf) -> PathBuf {
    std::env::var_os(name).map(PathBuf::from).unwrap_or(default)
}

// ---------------------------------------------------------------------------------------------------------
// A phase, in a child process

/// Rows of each table of the folder, from the Parquet footers; and the tables' bytes.
fn table_rows(dir: &Path) -> (BTreeMap<String, u64>, u64) {
    let (mut rows, mut bytes) = (BTreeMap::new(), 0);
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let Some(t) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".parquet")) else {
            continue;
        };
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        rows.insert(t.to_string(), reader.metadata().file_metadata().num_rows() as u64);
        bytes += entry.metadata().unwrap().len();
    }
    (rows, bytes)
}

/// Decodes every table of `dir` to Arrow batches (what a merge reads), counting rows; with `out`, also
/// encodes them again there as a merge writes them (the cost of rewriting the tables, changed or not).
fn scan(dir: &Path, out: Option<&Path>, options: &ConvertOptions) -> u64 {
    let mut rows = 0;
    for t in table_rows(dir).0.keys() {
        let file = File::open(dir.join(format!("{t}.parquet"))).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let mut writer = out.map(|out| {
            std::fs::create_dir_all(out).unwrap();
            let zstd = ZstdLevel::try_new(options.zstd_level).unwrap();
            let props = WriterProperties::builder()
                .set_compression(Compression::ZSTD(zstd))
                .set_max_row_group_row_count(None)
                .build();
            let file = File::create(out.join(format!("{t}.parquet"))).unwrap();
            TableWriter::new(file, builder.schema().clone(), props, options.sizes().unwrap().1, options.threads)
                .unwrap()
        });
        for batch in builder.with_batch_size(8192).build().unwrap() {
            let batch = batch.unwrap();
            rows += batch.num_rows() as u64;
            if let Some(w) = writer.as_mut() {
                w.write(batch).unwrap();
            }
        }
        if let Some(w) = writer {
            w.close().unwrap();
        }
    }
    rows
}

/// A number from /proc/self/status (kB).
fn status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with(key)).unwrap_or("");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// User + system CPU seconds of this process, all threads (clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

/// Export N's transactionTime: the end of month N (an incremental's `_since` is the previous one's).
fn transaction_time(export_id: i64) -> String {
    format!("2026-{export_id:02}-28T00:00:00Z")
}

/// `--child DIR STEP…`, a step being `full@ID=FOLDER` or `incremental@ID=FOLDER` (an apply to the
/// dataset in DIR), `convert=FOLDER` (a plain conversion into DIR), `scan` (decode DIR's tables) or
/// `rewrite=OUT` (decode them and encode them again into OUT) or `views=OUT` (every built-in view over them).
/// Prints one JSON line: each step's seconds and report, the tables after, peak RSS and CPU time.
fn child(args: &[String]) {
    let dir = PathBuf::from(&args[0]);
    let options = ConvertOptions::default();
    let cancel = AtomicBool::new(false);
    let mut steps = Vec::new();
    for spec in &args[1..] {
        let started = Instant::now();
        let (what, folder) = spec.split_once('=').unwrap_or((spec, ""));
        let detail = match what {
            "scan" => json!({ "rows": scan(&dir, None, &options) }),
            "rewrite" => json!({ "rows": scan(&dir, Some(Path::new(folder)), &options) }),
            "views" => views(&dir, Path::new(folder), &options),
            "convert" => {
                let inputs = fhir_tables::find_inputs(&[PathBuf::from(folder)]).unwrap();
                let r = fhir_tables::convert(&inputs, &dir, &options, &fhir_tables::Forgetful, &|_| {}, &cancel)
                    .unwrap_or_else(|e| panic!("convert {folder}: {e}"));
                json!({ "rows": r.types.iter().map(|t| t.rows).sum::<u64>(), "badLines": r.bad_lines })
            }
            _ => {
                let (kind, id) = what.split_once('@').expect("full@ID or incremental@ID");
                let export_id: i64 = id.parse().unwrap();
                let full = kind == "full";
                let update = Update {
                    export_id,
                    transaction_time: transaction_time(export_id),
                    full,
                    since: (!full).then(|| transaction_time(export_id - 1)),
                    folders: vec![PathBuf::from(folder)],
                    members: None,
                    joined: 0,
                };
                let mut dataset = Dataset::open(&dir).unwrap();
                let report = dataset.apply(&update, &options, &cancel).unwrap_or_else(|e| panic!("{spec}: {e}"));
                serde_json::to_value(report).unwrap()
            }
        };
        steps.push(json!({ "step": what, "seconds": started.elapsed().as_secs_f64(), "detail": detail }));
    }
    let (tables, bytes) = table_rows(&dir);
    let peak = status_kib("VmHWM:");
    println!("{}", json!({ "steps": steps, "tables": tables, "bytes": bytes, "peakKib": peak, "cpu": cpu_seconds() }));
}

/// Every built-in view over the dataset's tables, into `out`, reusing the rows of unchanged row groups from
/// the views already there (as a dataset keeping views does when its tables change).
fn views(dir: &Path, out: &Path, options: &ConvertOptions) -> Value {
    let views: Vec<fhir_views::View> =
        fhir_views::BUILT_IN.iter().map(|(n, _)| fhir_views::built_in(n).unwrap()).collect();
    let paths: Vec<(PathBuf, PathBuf)> = views
        .iter()
        .map(|v| (dir.join(format!("{}.parquet", v.resource)), out.join(format!("{}.parquet", v.name))))
        .collect();
    let kept: Vec<fhir_views::KeptView<'_>> = views
        .iter()
        .zip(&paths)
        .filter(|(_, (table, _))| table.is_file())
        .map(|(view, (table, previous))| fhir_views::KeptView {
            view,
            table,
            previous: previous.is_file().then_some(previous.as_path()),
        })
        .collect();
    let opts = fhir_views::TablesOptions {
        threads: options.threads,
        memory_limit: options.memory_limit,
        ..Default::default()
    };
    let made = fhir_views::keep_views_current(&kept, out, &opts, &AtomicBool::new(false)).unwrap();
    let rows: u64 = made.iter().map(|(o, _)| o.rows).sum();
    let reused: usize = made.iter().map(|(_, r)| r.reused_groups).sum();
    let derived: usize = made.iter().map(|(_, r)| r.derived_groups).sum();
    let computed: usize = made.iter().map(|(_, r)| r.computed_groups).sum();
    json!({ "rows": rows, "reusedGroups": reused, "derivedGroups": derived, "computedGroups": computed })
}

struct Phase {
    wall: f64,
    cpu: f64,
    peak_mb: f64,
    steps: Vec<Value>,
    tables: BTreeMap<String, u64>,
    bytes: u64,
}

impl Phase {
    fn rows(&self) -> u64 {
        self.tables.values().sum()
    }
}

/// Runs `steps` in a child process on the folder `dir` (emptied first unless `keep`).
fn run(dir: &Path, steps: &[String], keep: bool) -> Phase {
    if !keep {
        let _ = std::fs::remove_dir_all(dir);
    }
    std::fs::create_dir_all(dir).unwrap();
    let started = Instant::now();
    let out = Command::new(std::env::current_exe().unwrap())
        .arg("--child")
        .arg(dir)
        .args(steps)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let wall = started.elapsed().as_secs_f64();
    assert!(out.status.success(), "the phase {steps:?} failed ({})", out.status);
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(text.lines().last().unwrap_or("")).expect("the child's report");
    Phase {
        wall,
        cpu: v["cpu"].as_f64().unwrap_or(0.0),
        peak_mb: v["peakKib"].as_f64().unwrap_or(0.0) / 1024.0,
        steps: v["steps"].as_array().cloned().unwrap_or_default(),
        tables: serde_json::from_value(v["tables"].clone()).unwrap_or_default(),
        bytes: v["bytes"].as_u64().unwrap_or(0),
    }
}

fn loadavg() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------------------------
// The run

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--child") {
        return child(&args[1..]);
    }
    let gb = |i: usize, default: f64| -> f64 {
        args.get(i).map(|a| a.parse().expect("sizes are numbers of GB, e.g. 0.5")).unwrap_or(default)
    };
    let (base_gb, incremental_gb) = (gb(0, 5.0), gb(1, 1.0));
    assert!(base_gb > 0.0 && incremental_gb > 0.0, "sizes must be positive");
    let quick = std::env::var_os("HAUL_BENCH_QUICK").is_some();
    let shared = env_path("HAUL_SHARED_DIR", root().join("../shared"));
    let work = env_path("HAUL_BENCH_DIR", root().join("target/merge-bench"));
    let options = ConvertOptions::default();
    let limit_mb = options.memory_limit as f64 / MIB;
    let load_start = loadavg();
    println!(
        "merge_bench: base {base_gb} GB, incremental {incremental_gb} GB; ConvertOptions::default(): {} threads, \
         memory limit {limit_mb:.0} MB, zstd {}; {} CPUs",
        options.threads,
        options.zstd_level,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    println!("load at start: {load_start}");

    let input_dir = work.join(format!("input-{base_gb}-{incremental_gb}"));
    let started = Instant::now();
    let input =
        generate(&shared.join("data/synthea-r4"), &input_dir, (base_gb * GIB) as u64, (incremental_gb * GIB) as u64);
    let generation = started.elapsed().as_secs_f64();
    let (base, incremental, now) = (input_dir.join("base"), input_dir.join("incremental"), input_dir.join("now"));
    let incremental_bytes = folder_bytes(&incremental) + folder_bytes(&incremental.join("deleted"));
    println!(
        "input ({generation:.0} s to generate): base {:.0} MB, {} resources, {} types | incremental {:.0} MB: \
         {} new versions ({:.0} MB), {} new resources ({:.0} MB), {} deleted ({:.1}% of the base) | \
         full export after it: {:.0} MB, {} resources",
        input.base_bytes as f64 / MIB,
        input.base_rows,
        input.expected.len(),
        incremental_bytes as f64 / MIB,
        input.changed_rows,
        input.changed_bytes as f64 / MIB,
        input.new_rows,
        input.new_bytes as f64 / MIB,
        input.deleted_rows,
        100.0 * input.deleted_rows as f64 / input.base_rows.max(1) as f64,
        input.now_bytes as f64 / MIB,
        input.now_rows,
    );

    let arg = |step: &str, folder: &Path| format!("{step}={}", folder.display());
    let dir = |name: &str| work.join(format!("dataset-{name}"));
    let (merged, merged_recent) = (dir("merged"), dir("merged-recent"));
    let recent = input_dir.join("incremental-recent");
    let initial = run(&merged, &[arg("full@1", &base)], false);
    copy_dir(&merged, &merged_recent);
    // The flat views a dataset keeps: made whole from the base, then again after each merge (reusing rows).
    let (views_spread, views_recent) = (work.join("views-spread"), work.join("views-recent"));
    for v in [&views_spread, &views_recent] {
        let _ = std::fs::remove_dir_all(v);
    }
    let views_whole = run(&merged, &[arg("views", &views_spread)], true);
    copy_dir(&views_spread, &views_recent);
    let scanned = run(&merged, &["scan".to_string()], true);
    let rewritten = run(&merged, &[arg("rewrite", &work.join("rewrite-base"))], true);
    let converted_incoming = run(&work.join("convert-incremental"), &[arg("convert", &incremental)], false);
    let merge = run(&merged, &[arg("incremental@2", &incremental)], true);
    let replay = run(&dir("replay"), &[arg("full@1", &base), arg("incremental@2", &incremental)], false);
    let merge_recent = run(&merged_recent, &[arg("incremental@2", &recent)], true);
    let replay_recent = run(&dir("replay-recent"), &[arg("full@1", &base), arg("incremental@2", &recent)], false);
    let views_after_spread = run(&merged, &[arg("views", &views_spread)], true);
    let views_after_recent = run(&merged_recent, &[arg("views", &views_recent)], true);
    // The other rebuilds, from "now": (name, phase).
    let mut others = Vec::new();
    if !quick {
        others.push(("rebuild (full apply of the export now)", run(&dir("full"), &[arg("full@2", &now)], false)));
        others.push(("plain convert of the export now", run(&dir("plain"), &[arg("convert", &now)], false)));
    }
    let load_end = loadavg();

    println!();
    println!(
        "{:<46} {:>8} {:>8} {:>13} {:>11} {:>10}",
        "phase", "wall s", "CPU s", "peak RSS MB", "rows", "Parquet MB"
    );
    let line = |name: &str, p: &Phase| {
        println!(
            "{name:<46} {:>8.2} {:>8.2} {:>13.1} {:>11} {:>10.1}",
            p.wall,
            p.cpu,
            p.peak_mb,
            p.rows(),
            p.bytes as f64 / MIB
        )
    };
    line("initial build (full apply of the base)", &initial);
    line("merge, changes spread (apply the incremental)", &merge);
    line("  alone: convert the incremental's NDJSON", &converted_incoming);
    line("  alone: decode every base table", &scanned);
    line("  alone: decode + encode every base table", &rewritten);
    line("rebuild, spread (replay: full + incremental)", &replay);
    line("merge, changes recent (apply the incremental)", &merge_recent);
    line("rebuild, recent (replay: full + incremental)", &replay_recent);
    line("views: every built-in view, whole (base)", &views_whole);
    line("views after the spread merge (reusing rows)", &views_after_spread);
    line("views after the recent merge (reusing rows)", &views_after_recent);
    for (name, p) in &others {
        line(name, p);
    }
    let step = |i: usize| replay.steps[i]["seconds"].as_f64().unwrap();
    println!(
        "rebuild (replay, spread) steps: full apply {:.2} s + incremental apply {:.2} s (a second merge)",
        step(0),
        step(1)
    );
    // The merge = converting the incoming NDJSON + rewriting every old table (decode, encode) + the rest.
    let share = |f: fn(&Phase) -> f64| {
        let (c, r, m) = (f(&converted_incoming), f(&rewritten), f(&merge));
        let pct = |x: f64| 100.0 * x / m;
        format!(
            "convert the incoming NDJSON {c:.2} s ({:.0}%), rewrite the old tables {r:.2} s ({:.0}%; of which \
             decoding {:.2} s), the rest (indexing, deciding, the incoming rows, fsync, waiting) {:.2} s ({:.0}%)",
            pct(c),
            pct(r),
            f(&scanned),
            m - c - r,
            pct(m - c - r)
        )
    };
    println!("merge (spread), where the time goes (from the phases measured alone), wall: {}", share(|p| p.wall));
    println!("merge (spread), where the time goes, CPU: {}", share(|p| p.cpu));

    let mut problems = Vec::new();
    let spread = Scenario {
        name: "spread",
        merge: &merge,
        replay: &replay,
        changed: input.changed_rows,
        deleted: input.deleted_rows,
        expected: &input.expected,
    };
    let recent = Scenario {
        name: "recent",
        merge: &merge_recent,
        replay: &replay_recent,
        changed: input.recent_changed_rows,
        deleted: input.recent_deleted_rows,
        expected: &input.recent_expected,
    };
    for s in [&spread, &recent] {
        s.check(input.new_rows, &mut problems);
    }
    for (name, p) in &others {
        if p.tables != input.expected {
            problems.push(format!("{name}: its tables' rows differ from the expected"));
        }
    }
    let correct = problems.is_empty();
    if correct {
        println!("correctness: every table's rows agree (merged = rebuilt = expected, in both scenarios)");
    } else {
        println!("correctness: MISMATCH: {}", problems.join("; "));
    }

    let target = 1.0 / 3.0;
    for (name, p) in &others {
        println!("merge (spread) / {name}: wall {:.3}, CPU {:.3}", merge.wall / p.wall, merge.cpu / p.cpu);
    }
    println!(
        "peak RSS MB: initial build {:.0}, merge (spread) {:.0}, merge (recent) {:.0}, rebuilds {:.0} and {:.0}; \
         memory limit {limit_mb:.0}",
        initial.peak_mb, merge.peak_mb, merge_recent.peak_mb, replay.peak_mb, replay_recent.peak_mb
    );
    println!("load at end: {load_end} (load at start: {load_start})");
    for (name, m, r, after) in [
        ("spread", &merge, &replay, &views_after_spread),
        ("recent", &merge_recent, &replay_recent, &views_after_recent),
    ] {
        let d = &after.steps[0]["detail"];
        println!(
            "with the views kept, changes {name}: merge {:.2} s + views {:.2} s ({} rows; {} table row groups' view \
             rows reused, {} taken by id, {} evaluated) against rebuild {:.2} s + views whole {:.2} s: {:.3}; peak {:.0} MB",
            m.wall,
            after.wall,
            d["rows"],
            d["reusedGroups"],
            d["derivedGroups"],
            d["computedGroups"],
            r.wall,
            views_whole.wall,
            (m.wall + after.wall) / (r.wall + views_whole.wall),
            after.peak_mb
        );
    }
    for s in [&spread, &recent] {
        let ratio = s.merge.wall / s.replay.wall;
        let (fast, small) = (ratio <= target, s.merge.peak_mb <= limit_mb);
        println!(
            "verdict, changes {}: {} — the merge took {:.2} s, {:.0}% of the rebuild (replay)'s {:.2} s (CPU {:.0}%; \
             target <= 33%: {}), peak {:.0} MB (limit {limit_mb:.0} MB: {}){}",
            s.name,
            if fast && small && correct { "MEETS the target" } else { "MISSES the target" },
            s.merge.wall,
            100.0 * ratio,
            s.replay.wall,
            100.0 * s.merge.cpu / s.replay.cpu,
            if fast { "met" } else { "missed" },
            s.merge.peak_mb,
            if small { "under" } else { "OVER" },
            if correct { "" } else { "; the tables' rows DISAGREE" },
        );
    }

    if std::env::var_os("HAUL_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&work);
    } else {
        println!("kept: {}", work.display());
    }
}

/// One incremental export's merge and rebuild, and what the generator put in it.
struct Scenario<'a> {
    name: &'a str,
    merge: &'a Phase,
    replay: &'a Phase,
    changed: u64,
    deleted: u64,
    expected: &'a BTreeMap<String, u64>,
}

impl Scenario<'_> {
    /// Prints what the merge did against what was generated; problems go to `problems`.
    fn check(&self, new_rows: u64, problems: &mut Vec<String>) {
        let report = &self.merge.steps[0]["detail"];
        let tables = report["tables"].as_array().unwrap();
        let sum = |key: &str| -> u64 { tables.iter().map(|t| t[key].as_u64().unwrap()).sum() };
        let widened: Vec<&str> =
            tables.iter().filter(|t| t["widened"] == true).map(|t| t["resourceType"].as_str().unwrap()).collect();
        println!(
            "merge report, changes {}: {} tables, changed {} (generated {}), added {} (generated {new_rows}), \
             deleted {} (generated {}), duplicates {}, bad lines {}, widened: {}",
            self.name,
            tables.len(),
            sum("changed"),
            self.changed,
            sum("added"),
            sum("deleted"),
            self.deleted,
            sum("duplicates"),
            report["badLines"],
            if widened.is_empty() { "none (fast path everywhere)".to_string() } else { widened.join(", ") }
        );
        if sum("changed") != self.changed || sum("deleted") != self.deleted || sum("added") != new_rows {
            problems.push(format!("changes {}: the merge's counts differ from what was generated", self.name));
        }
        for (what, tables) in [("merged", &self.merge.tables), ("rebuilt", &self.replay.tables)] {
            let differ: Vec<String> = self
                .expected
                .iter()
                .filter(|(t, n)| tables.get(*t) != Some(n))
                .map(|(t, n)| format!("{t}: {:?} (expected {n})", tables.get(t)))
                .collect();
            if !differ.is_empty() || tables.len() != self.expected.len() {
                problems.push(format!("changes {}, {what}: {}", self.name, differ.join(", ")));
            }
        }
    }
}

/// A copy of the dataset folder `from` (its files) at `to`.
fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        if entry.path().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}
