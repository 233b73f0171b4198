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
//!
//! Each phase is a child process (this program, `--child`), so its peak RSS (VmHWM) and CPU are its own:
//! initial build (full apply of the base), merge (apply of the incremental to it), rebuild (replay: full
//! apply of the base, then the incremental, into an empty dataset, as from the export folders kept on
//! disk), rebuild (full apply of "now": a fresh full export) and a plain `fhir_tables::convert` of "now";
//! and, to see where the merge's time goes, measured alone: converting the incremental's NDJSON, decoding
//! every base table, and decoding and encoding them again. `HAUL_BENCH_QUICK=1` skips the two "now" phases.
//! Work folder `target/merge-bench` (`HAUL_BENCH_DIR`), removed at the end unless `HAUL_BENCH_KEEP` is set
//! (a kept input is reused). Sample: `../shared` beside the repository (`HAUL_SHARED_DIR`).
//! Options: `ConvertOptions::default()`, as the app uses them.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
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
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const GIB: f64 = (1u64 << 30) as f64;
const MIB: f64 = (1u64 << 20) as f64;
/// One base resource in this many (not changed) is deleted by the incremental export.
const DELETE_EVERY: u64 = 100;
/// Entries per deletion Bundle (one Bundle a line).
const BUNDLE_ENTRIES: usize = 10_000;

fn root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    root.canonicalize().unwrap_or(root)
}

fn env_path(name: &str, default: PathBuf) -> PathBuf {
    std::env::var_os(name).map(PathBuf::from).unwrap_or(default)
}

// ---------------------------------------------------------------------------------------------------------
// The input

/// What the generator wrote, kept beside the input (a kept input is reused by the next run).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Input {
    base_rows: u64,
    base_bytes: u64,
    changed_rows: u64,
    changed_bytes: u64,
    new_rows: u64,
    new_bytes: u64,
    deleted_rows: u64,
    now_rows: u64,
    now_bytes: u64,
    /// Rows each table must have after the merge.
    expected: BTreeMap<String, u64>,
}

/// `meta.lastUpdated` in `month` of 2026, a different second for each `n`.
fn stamp(month: u32, n: u64) -> String {
    format!("2026-{month:02}-{:02}T{:02}:{:02}:{:02}.000Z", 1 + n / 86_400 % 27, n / 3600 % 24, n / 60 % 60, n % 60)
}

/// Byte range of the resource's id in a sample line (`{"resourceType":"T","id":"…",…`).
fn id_range(line: &str) -> (usize, usize) {
    let at = line.find("\"id\":\"").expect("resources have ids") + 6;
    (at, at + line[at..].find('"').unwrap())
}

/// The sample line as a resource of the scaled export: id + `suffix`, a `meta`, and for a new version the
/// first `status` amended.
fn resource(line: &str, suffix: &str, version: u32, last_updated: &str) -> String {
    let (_, end) = id_range(line);
    let mut rest = std::borrow::Cow::Borrowed(&line[end + 1..]);
    if version > 1
        && let Some(at) = rest.find("\"status\":\"")
    {
        let value = at + 10;
        let value_end = value + rest[value..].find('"').unwrap();
        rest = format!("{}amended{}", &rest[..value], &rest[value_end..]).into();
    }
    format!(
        "{}{suffix}\",\"meta\":{{\"versionId\":\"{version}\",\"lastUpdated\":\"{last_updated}\"}}{rest}\n",
        &line[..end]
    )
}

fn create(path: &Path) -> BufWriter<File> {
    BufWriter::with_capacity(1 << 20, File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// The sample's resources by type (uncompressed lines, one per id).
fn sample(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("the Synthea sample at {}: {e}", dir.display()));
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(t) = name.strip_suffix(".ndjson.gz") else { continue };
        let gz = flate2::read::MultiGzDecoder::new(File::open(entry.path()).unwrap());
        // The sample repeats some Organizations and Practitioners (one id, twice): each id once here.
        let mut ids = std::collections::HashSet::new();
        let lines: Vec<String> = BufReader::new(gz)
            .lines()
            .map(Result::unwrap)
            .filter(|l| !l.trim().is_empty() && ids.insert(l[id_range(l).0..id_range(l).1].to_string()))
            .collect();
        if !lines.is_empty() {
            out.insert(t.to_string(), lines);
        }
    }
    assert!(!out.is_empty(), "no *.ndjson.gz in {}", dir.display());
    out
}

/// Writes `dir/base`, `dir/incremental` (with `deleted/`) and `dir/now`: see the top of the file.
fn generate(sample_dir: &Path, dir: &Path, base_target: u64, incremental_target: u64) -> Input {
    let marker = dir.join("input.json");
    if let Some(input) = std::fs::read_to_string(&marker).ok().and_then(|t| serde_json::from_str(&t).ok()) {
        println!("(reusing the input generated earlier in {})", dir.display());
        return input;
    }
    let _ = std::fs::remove_dir_all(dir);
    for sub in ["base", "incremental/deleted", "now"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let sample = sample(sample_dir);
    let size = |lines: &[String]| lines.iter().map(|l| l.len() as u64 + 1).sum::<u64>();
    let total: u64 = sample.values().map(|l| size(l)).sum();
    // One base resource in `every` gets a new version: half the incremental's bytes.
    let every = (base_target as f64 / (incremental_target as f64 / 2.0)).round().max(1.0) as u64;
    let mut input = Input::default();
    let mut deleted: Vec<String> = Vec::new();
    for (t, lines) in &sample {
        let share = size(lines) as f64 / total as f64;
        let (base_bytes, new_bytes) =
            ((base_target as f64 * share) as u64, (incremental_target as f64 / 2.0 * share) as u64);
        let name = format!("{t}.001.ndjson");
        let mut base = create(&dir.join("base").join(&name));
        let mut incremental = create(&dir.join("incremental").join(&name));
        let mut now = create(&dir.join("now").join(&name));
        let (mut n, mut written, mut deleted_here) = (0u64, 0u64, 0u64);
        for line in lines.iter().cycle() {
            if written >= base_bytes {
                break;
            }
            let suffix = format!("-b{}", n / lines.len() as u64);
            let first = resource(line, &suffix, 1, &stamp(1, n));
            written += first.len() as u64;
            base.write_all(first.as_bytes()).unwrap();
            if n.is_multiple_of(every) {
                let second = resource(line, &suffix, 2, &stamp(2, n));
                input.changed_bytes += second.len() as u64;
                input.changed_rows += 1;
                incremental.write_all(second.as_bytes()).unwrap();
                now.write_all(second.as_bytes()).unwrap();
            } else if n % DELETE_EVERY == 1 {
                let (at, end) = id_range(line);
                deleted.push(format!("{t}/{}{suffix}", &line[at..end]));
                deleted_here += 1;
            } else {
                now.write_all(first.as_bytes()).unwrap();
            }
            n += 1;
        }
        input.base_rows += n;
        input.base_bytes += written;
        let (mut added, mut added_bytes) = (0u64, 0u64);
        for line in lines.iter().cycle() {
            if added_bytes >= new_bytes {
                break;
            }
            let suffix = format!("-n{}", added / lines.len() as u64);
            let fresh = resource(line, &suffix, 1, &stamp(2, n + added));
            added_bytes += fresh.len() as u64;
            added += 1;
            incremental.write_all(fresh.as_bytes()).unwrap();
            now.write_all(fresh.as_bytes()).unwrap();
        }
        input.new_rows += added;
        input.new_bytes += added_bytes;
        input.deleted_rows += deleted_here;
        input.expected.insert(t.clone(), n - deleted_here + added);
        for mut w in [base, incremental, now] {
            w.flush().unwrap();
        }
    }
    let mut bundles = create(&dir.join("incremental/deleted/Bundle.001.ndjson"));
    for chunk in deleted.chunks(BUNDLE_ENTRIES) {
        let entry: Vec<Value> = chunk.iter().map(|url| json!({"request": {"method": "DELETE", "url": url}})).collect();
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entry});
        writeln!(bundles, "{bundle}").unwrap();
    }
    bundles.flush().unwrap();
    input.now_rows = input.expected.values().sum();
    input.now_bytes = folder_bytes(&dir.join("now"));
    std::fs::write(&marker, serde_json::to_string_pretty(&input).unwrap()).unwrap();
    input
}

fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).unwrap().flatten().filter(|e| e.path().is_file()).map(|e| e.metadata().unwrap().len()).sum()
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
/// `rewrite=OUT` (decode them and encode them again into OUT).
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
    let merged = dir("merged");
    let initial = run(&merged, &[arg("full@1", &base)], false);
    let scanned = run(&merged, &["scan".to_string()], true);
    let rewritten = run(&merged, &[arg("rewrite", &work.join("rewrite-base"))], true);
    let converted_incoming = run(&work.join("convert-incremental"), &[arg("convert", &incremental)], false);
    let merge = run(&merged, &[arg("incremental@2", &incremental)], true);
    let replay = run(&dir("replay"), &[arg("full@1", &base), arg("incremental@2", &incremental)], false);
    // The other rebuilds, from "now": (name, phase).
    let mut others = Vec::new();
    if !quick {
        others.push(("rebuild (full apply of the export now)", run(&dir("full"), &[arg("full@2", &now)], false)));
        others.push(("plain convert of the export now", run(&dir("plain"), &[arg("convert", &now)], false)));
    }
    let load_end = loadavg();

    println!();
    println!(
        "{:<44} {:>8} {:>8} {:>13} {:>11} {:>10}",
        "phase", "wall s", "CPU s", "peak RSS MB", "rows", "Parquet MB"
    );
    let line = |name: &str, p: &Phase| {
        println!(
            "{name:<44} {:>8.2} {:>8.2} {:>13.1} {:>11} {:>10.1}",
            p.wall,
            p.cpu,
            p.peak_mb,
            p.rows(),
            p.bytes as f64 / MIB
        )
    };
    line("initial build (full apply of the base)", &initial);
    line("merge (apply of the incremental)", &merge);
    line("  alone: convert the incremental's NDJSON", &converted_incoming);
    line("  alone: decode every base table", &scanned);
    line("  alone: decode + encode every base table", &rewritten);
    line("rebuild (replay: full apply + incremental)", &replay);
    for (name, p) in &others {
        line(name, p);
    }
    let step = |i: usize| replay.steps[i]["seconds"].as_f64().unwrap();
    println!(
        "rebuild (replay) steps: full apply {:.2} s + incremental apply {:.2} s (a second merge)",
        step(0),
        step(1)
    );
    // The merge = converting the incoming NDJSON + rewriting every old table (decode, encode) + the rest.
    let share = |f: fn(&Phase) -> f64| {
        let (c, r, m) = (f(&converted_incoming), f(&rewritten), f(&merge));
        let pct = |x: f64| 100.0 * x / m;
        format!(
            "convert the incoming NDJSON {c:.2} s ({:.0}%), rewrite the old tables {r:.2} s ({:.0}%; of which \
             decoding {:.2} s), the rest (indexing, re-reading and re-encoding the incoming rows, filtering, \
             fsync) {:.2} s ({:.0}%)",
            pct(c),
            pct(r),
            f(&scanned),
            m - c - r,
            pct(m - c - r)
        )
    };
    println!("merge, where the time goes (from the phases measured alone), wall: {}", share(|p| p.wall));
    println!("merge, where the time goes, CPU: {}", share(|p| p.cpu));

    // What the merge did, against what the generator wrote.
    let report = &merge.steps[0]["detail"];
    let tables = report["tables"].as_array().unwrap();
    let sum = |key: &str| -> u64 { tables.iter().map(|t| t[key].as_u64().unwrap()).sum() };
    let widened: Vec<&str> =
        tables.iter().filter(|t| t["widened"] == true).map(|t| t["resourceType"].as_str().unwrap()).collect();
    println!(
        "merge report: {} tables, changed {} (generated {}), added {} (generated {}), deleted {} (generated {}), \
         duplicates {}, bad lines {}, widened: {}",
        tables.len(),
        sum("changed"),
        input.changed_rows,
        sum("added"),
        input.new_rows,
        sum("deleted"),
        input.deleted_rows,
        sum("duplicates"),
        report["badLines"],
        if widened.is_empty() { "none (fast path everywhere)".to_string() } else { widened.join(", ") }
    );

    // Correctness, cheaply: the tables' row counts agree everywhere.
    let mut problems = Vec::new();
    let mut compare = |name: &str, tables: &BTreeMap<String, u64>| {
        if *tables != input.expected {
            let differ: Vec<String> = input
                .expected
                .iter()
                .filter(|(t, n)| tables.get(*t) != Some(n))
                .map(|(t, n)| format!("{t}: {:?} (expected {n})", tables.get(t)))
                .collect();
            problems.push(format!("{name}: {}", differ.join(", ")));
        }
    };
    compare("merged", &merge.tables);
    compare("rebuild (replay)", &replay.tables);
    for (name, p) in &others {
        compare(name, &p.tables);
    }
    if sum("changed") != input.changed_rows || sum("deleted") != input.deleted_rows || sum("added") != input.new_rows {
        problems.push("the merge's counts differ from what was generated".into());
    }
    let correct = problems.is_empty();
    if correct {
        println!(
            "correctness: every table's rows agree (merged = rebuilt = expected: {} rows in {} tables)",
            input.now_rows,
            input.expected.len()
        );
    } else {
        println!("correctness: MISMATCH: {}", problems.join("; "));
    }

    let target = 1.0 / 3.0;
    let ratios = |f: fn(&Phase) -> f64| {
        let mut text = format!("{:.3} rebuild (replay)", f(&merge) / f(&replay));
        for (name, p) in &others {
            text += &format!(", {:.3} {name}", f(&merge) / f(p));
        }
        text
    };
    println!("merge / rebuild, wall: {}; target <= {target:.3}", ratios(|p| p.wall));
    println!("merge / rebuild, CPU:  {}", ratios(|p| p.cpu));
    let mut peaks = format!(
        "merge {:.0}, initial build {:.0}, rebuild (replay) {:.0}",
        merge.peak_mb, initial.peak_mb, replay.peak_mb
    );
    for (name, p) in &others {
        peaks += &format!(", {name} {:.0}", p.peak_mb);
    }
    println!("peak RSS MB: {peaks}; memory limit {limit_mb:.0}");
    println!("load at end: {load_end} (load at start: {load_start})");
    let ratio = merge.wall / replay.wall;
    let (fast, small) = (ratio <= target, merge.peak_mb <= limit_mb);
    let fresh = others
        .first()
        .map(|(_, p)| format!("; against a fresh full export's full apply: {:.0}% of it", 100.0 * merge.wall / p.wall));
    println!(
        "verdict: {} — the merge took {:.2} s, {:.0}% of the rebuild (replay)'s {:.2} s (target <= 33%: {}), peak \
         {:.0} MB (limit {limit_mb:.0} MB: {}){}{}",
        if fast && small && correct { "MEETS the target" } else { "MISSES the target" },
        merge.wall,
        100.0 * ratio,
        replay.wall,
        if fast { "met" } else { "missed" },
        merge.peak_mb,
        if small { "under" } else { "OVER" },
        if correct { "" } else { "; the tables' rows DISAGREE" },
        fresh.unwrap_or_default()
    );

    if std::env::var_os("HAUL_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&work);
    } else {
        println!("kept: {}", work.display());
    }
}
