//! The bench's input: the Synthea sample scaled up (see the top of `main.rs`), and two incremental exports of
//! the same size and mix that differ in *which* base resources they change and delete:
//! - `incremental`: spread evenly over each table (one in ten at the default sizes), so every row group of the dataset
//!   holds some: the worst case for a merge, which must then re-encode every row group;
//! - `incremental-recent`: within the newest fifth of each type, in the order the server exported them. A
//!   server that exports in creation order (HAPI: by its internal id) and a dataset that appends each
//!   month's new resources at the end both put recent resources last, and amendments and deletions fall
//!   mostly on recent records (a result corrected, a claim adjusted, a record entered in error).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One base resource in this many (not changed) is deleted by the incremental export.
const DELETE_EVERY: u64 = 100;
/// Entries per deletion Bundle (one Bundle a line).
const BUNDLE_ENTRIES: usize = 10_000;
/// The "recent" incremental changes and deletes within this last part of each type's base resources.
const RECENT_PART: u64 = 5;

/// What the generator wrote, kept beside the input (a kept input is reused by the next run).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Input {
    pub base_rows: u64,
    pub base_bytes: u64,
    pub changed_rows: u64,
    pub changed_bytes: u64,
    pub new_rows: u64,
    pub new_bytes: u64,
    pub deleted_rows: u64,
    pub now_rows: u64,
    pub now_bytes: u64,
    /// Rows each table must have after the merge.
    pub expected: BTreeMap<String, u64>,
    /// The same for `incremental-recent`.
    pub recent_changed_rows: u64,
    pub recent_deleted_rows: u64,
    pub recent_expected: BTreeMap<String, u64>,
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

/// Writes `dir/base`, `dir/incremental` and `dir/incremental-recent` (each with `deleted/`) and `dir/now` (the
/// full export after `incremental`): see the top of the file.
pub fn generate(sample_dir: &Path, dir: &Path, base_target: u64, incremental_target: u64) -> Input {
    // Version 2 added `incremental-recent`: an input from before is generated again.
    let marker = dir.join("input-2.json");
    if let Some(input) = std::fs::read_to_string(&marker).ok().and_then(|t| serde_json::from_str(&t).ok()) {
        println!("(reusing the input generated earlier in {})", dir.display());
        return input;
    }
    let _ = std::fs::remove_dir_all(dir);
    for sub in ["base", "incremental/deleted", "incremental-recent/deleted", "now"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let sample = sample(sample_dir);
    let size = |lines: &[String]| lines.iter().map(|l| l.len() as u64 + 1).sum::<u64>();
    let total: u64 = sample.values().map(|l| size(l)).sum();
    // One base resource in `every` gets a new version: half the incremental's bytes.
    let every = (base_target as f64 / (incremental_target as f64 / 2.0)).round().max(1.0) as u64;
    let mut input = Input::default();
    let mut deleted: Vec<String> = Vec::new();
    let mut recent_deleted: Vec<String> = Vec::new();
    for (t, lines) in &sample {
        let share = size(lines) as f64 / total as f64;
        let (base_bytes, new_bytes) =
            ((base_target as f64 * share) as u64, (incremental_target as f64 / 2.0 * share) as u64);
        let name = format!("{t}.001.ndjson");
        let mut base = create(&dir.join("base").join(&name));
        let mut incremental = create(&dir.join("incremental").join(&name));
        let mut recent = create(&dir.join("incremental-recent").join(&name));
        let mut now = create(&dir.join("now").join(&name));
        let (mut n, mut written, mut deleted_here, mut recent_deleted_here) = (0u64, 0u64, 0u64, 0u64);
        // The recent part: the same number of changes and deletions, RECENT_PART times as dense.
        let recent_from = base_bytes - base_bytes / RECENT_PART;
        let (mut recent_n, recent_every, recent_delete_every) =
            (0u64, (every / RECENT_PART).max(1), (DELETE_EVERY / RECENT_PART).max(2));
        for line in lines.iter().cycle() {
            if written >= base_bytes {
                break;
            }
            let suffix = format!("-b{}", n / lines.len() as u64);
            let first = resource(line, &suffix, 1, &stamp(1, n));
            let is_recent = written >= recent_from;
            written += first.len() as u64;
            base.write_all(first.as_bytes()).unwrap();
            if is_recent {
                if recent_n.is_multiple_of(recent_every) {
                    recent.write_all(resource(line, &suffix, 2, &stamp(2, n)).as_bytes()).unwrap();
                    input.recent_changed_rows += 1;
                } else if recent_n % recent_delete_every == 1 {
                    let (at, end) = id_range(line);
                    recent_deleted.push(format!("{t}/{}{suffix}", &line[at..end]));
                    recent_deleted_here += 1;
                }
                recent_n += 1;
            }
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
            recent.write_all(fresh.as_bytes()).unwrap();
            now.write_all(fresh.as_bytes()).unwrap();
        }
        input.new_rows += added;
        input.new_bytes += added_bytes;
        input.deleted_rows += deleted_here;
        input.expected.insert(t.clone(), n - deleted_here + added);
        input.recent_deleted_rows += recent_deleted_here;
        input.recent_expected.insert(t.clone(), n - recent_deleted_here + added);
        for mut w in [base, incremental, recent, now] {
            w.flush().unwrap();
        }
    }
    for (folder, deleted) in [("incremental", &deleted), ("incremental-recent", &recent_deleted)] {
        let mut bundles = create(&dir.join(folder).join("deleted/Bundle.001.ndjson"));
        for chunk in deleted.chunks(BUNDLE_ENTRIES) {
            let entry: Vec<Value> =
                chunk.iter().map(|url| json!({"request": {"method": "DELETE", "url": url}})).collect();
            let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entry});
            writeln!(bundles, "{bundle}").unwrap();
        }
        bundles.flush().unwrap();
    }
    input.now_rows = input.expected.values().sum();
    input.now_bytes = folder_bytes(&dir.join("now"));
    std::fs::write(&marker, serde_json::to_string_pretty(&input).unwrap()).unwrap();
    input
}

pub fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).unwrap().flatten().filter(|e| e.path().is_file()).map(|e| e.metadata().unwrap().len()).sum()
}
