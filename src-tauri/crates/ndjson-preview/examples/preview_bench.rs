//! Preview speed on a large NDJSON file: time to the first page while the index builds, index throughput,
//! random page latency, find throughput and peak memory, with `wc -l` and `grep -ic` on the same file as
//! peers measured in the same run. Not a test: it prints figures.
//!
//! `cargo run --release -p ndjson-preview --example preview_bench [MB]` (default 1000): writes
//! `target/preview-bench/Observation.ndjson` (the Synthea sample's Observations, repeated) once, and a gzipped
//! copy of its first 200 MB for the `.gz` figures.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use ndjson_preview::{PreviewFolder, PreviewOptions};

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn prepare(dir: &Path, mb: u64) -> std::io::Result<()> {
    let plain = dir.join("plain/Observation.ndjson");
    let want = mb * 1_000_000;
    if std::fs::metadata(&plain).map(|m| m.len() >= want).unwrap_or(false) {
        return Ok(());
    }
    std::fs::create_dir_all(dir.join("plain"))?;
    std::fs::create_dir_all(dir.join("gz"))?;
    let shared = std::env::var_os("HAUL_SHARED_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared"));
    let sample = shared.join("data/synthea-r4/Observation.ndjson.gz");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(std::fs::File::open(sample)?), &mut text)?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&plain)?);
    let gz_file = std::fs::File::create(dir.join("gz/Observation.ndjson.gz"))?;
    let mut gz = Some(flate2::write::GzEncoder::new(std::io::BufWriter::new(gz_file), flate2::Compression::fast()));
    let (mut written, mut round) = (0u64, 0u64);
    while written < want {
        for line in text.lines() {
            // New ids each round, so the file reads like one large export rather than one repeated.
            let line = line.replacen("\"id\":\"", &format!("\"id\":\"r{round}-"), 1);
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
            written += line.len() as u64 + 1;
            if let Some(g) = gz.as_mut() {
                g.write_all(line.as_bytes())?;
                g.write_all(b"\n")?;
                if written >= 200_000_000 {
                    gz.take().expect("gz").finish()?;
                }
            }
        }
        round += 1;
    }
    if let Some(g) = gz.take() {
        g.finish()?;
    }
    out.flush()
}

fn run(cmd: &str, args: &[&str]) -> (f64, String) {
    let t = Instant::now();
    let out = std::process::Command::new(cmd).args(args).output().expect("peer command");
    (t.elapsed().as_secs_f64(), String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let mb: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../target/preview-bench");
    prepare(&dir, mb).expect("prepare input");
    let plain_dir = dir.join("plain");
    let file = plain_dir.join("Observation.ndjson");
    let size = std::fs::metadata(&file).unwrap().len() as f64;
    let file_s = file.to_str().unwrap();
    // Read once so both Haul and the peers start from the page cache.
    std::process::Command::new("cat").arg(&file).stdout(std::process::Stdio::null()).status().expect("cat");
    let cache = dir.join("cache");
    let _ = std::fs::remove_dir_all(&cache);

    // Open, start indexing in the background, ask for the first page at once.
    let t = Instant::now();
    let folder = Arc::new(PreviewFolder::open(&plain_dir, PreviewOptions::new(cache.clone())).unwrap());
    let builder = {
        let folder = folder.clone();
        std::thread::spawn(move || {
            let t = Instant::now();
            folder.index_type("Observation", &|_| {}, &AtomicBool::new(false)).unwrap();
            t.elapsed().as_secs_f64()
        })
    };
    let first_page = loop {
        let page = folder.page("Observation", 0, 100).unwrap();
        if page.rows.len() == 100 {
            break t.elapsed().as_secs_f64();
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    let index_s = builder.join().unwrap();
    let rows = folder.progress("Observation").unwrap().rows;

    // Random pages of 100 rows after the index is built.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut latencies = Vec::new();
    for _ in 0..300 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let start = seed % rows.saturating_sub(100).max(1);
        let t = Instant::now();
        let page = folder.page("Observation", start, 100).unwrap();
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(page.rows.len(), 100);
    }
    latencies.sort_by(f64::total_cmp);
    let t = Instant::now();
    let found = folder.find("Observation", "Body Height", &mut |_| {}, &AtomicBool::new(false)).unwrap();
    let find_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let last_id = folder.rows("Observation", &[rows - 1]).unwrap()[0].id.clone().unwrap();
    let id_row = folder.find_id("Observation", &last_id, &AtomicBool::new(false)).unwrap();
    let id_s = t.elapsed().as_secs_f64();
    assert_eq!(id_row, Some(rows - 1));

    let (wc_s, wc_out) = run("wc", &["-l", file_s]);
    let (grep_s, grep_out) = run("grep", &["-ic", "body height", file_s]);
    assert_eq!(grep_out.parse::<u64>().ok(), Some(found.matches), "grep and Haul disagree");
    assert!(wc_out.starts_with(&rows.to_string()), "wc -l and Haul disagree: {wc_out} vs {rows}");

    // .gz: the first 200 MB, inflated once into the cache while it is indexed.
    let gz_dir = dir.join("gz");
    let gz_size = std::fs::metadata(gz_dir.join("Observation.ndjson.gz")).unwrap().len() as f64;
    let gz = PreviewFolder::open(&gz_dir, PreviewOptions::new(cache.clone())).unwrap();
    let t = Instant::now();
    gz.index_type("Observation", &|_| {}, &AtomicBool::new(false)).unwrap();
    let gz_s = t.elapsed().as_secs_f64();
    let gz_rows = gz.progress("Observation").unwrap().rows;
    let t = Instant::now();
    gz.page("Observation", gz_rows / 2, 100).unwrap();
    let gz_page_ms = t.elapsed().as_secs_f64() * 1000.0;
    let inflated: u64 = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with("Observation.ndjson.gz-") && n.ends_with(".ndjson")
        })
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();

    let mbs = |bytes: f64, s: f64| bytes / 1e6 / s;
    println!("file: {:.0} MB, {rows} rows (plain NDJSON, from the page cache)", size / 1e6);
    println!("first page of 100 rows visible:   {:.1} ms after opening (index still building)", first_page * 1000.0);
    println!("index built:                      {:.2} s, {:.0} MB/s", index_s, mbs(size, index_s));
    println!("  peer `wc -l`:                   {:.2} s, {:.0} MB/s", wc_s, mbs(size, wc_s));
    println!("  ratio Haul index / wc -l:       {:.2}", (size / index_s) / (size / wc_s));
    println!(
        "random page of 100 rows:          p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (300 pages)",
        latencies[150], latencies[296], latencies[299]
    );
    println!(
        "find \"Body Height\":               {} rows, {:.2} s, {:.0} MB/s",
        found.matches,
        find_s,
        mbs(size, find_s)
    );
    println!("  peer `grep -ic`:                {:.2} s, {:.0} MB/s", grep_s, mbs(size, grep_s));
    println!("  ratio Haul find / grep -ic:     {:.2}", grep_s / find_s);
    println!("find by id (last row):            {:.2} s", id_s);
    println!(
        ".gz ({:.0} MB compressed, {gz_rows} rows): inflated and indexed in {:.2} s ({:.0} MB/s of NDJSON); a middle page {:.2} ms",
        gz_size / 1e6,
        gz_s,
        mbs(inflated as f64, gz_s),
        gz_page_ms
    );
    println!("peak memory (RSS):                {:.0} MiB", peak_rss_mib());
}
