//! `haul convert EXPORT_DIR --format delta --out DIR|ADDRESS`: an export into Delta Lake tables.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use export_jobs::delta::{DeltaConvertError, DeltaReport, convert_to_delta};
use export_jobs::wording::duration as human_duration;
use fhir_tables::{ConvertOptions, ConvertPhase, ConvertProgress, SchemaMemory};

/// Where Delta tables go: a folder, or a storage address opened with the sign-in saved for it in the app
/// (Storage page), else with the environment's credentials.
pub fn target(out: &str) -> Result<object_destination::Destination, String> {
    let db = crate::open_db()?;
    export_jobs::delta::open_target(&db, out).map_err(|e| e.to_string())
}

/// Exit code 0 when every line converted, 3 when some lines were bad, 130 when stopped.
pub async fn run(
    inputs: &[PathBuf],
    out: &str,
    options: ConvertOptions,
    memory: Box<dyn SchemaMemory + Send>,
    json: bool,
) -> Result<u8, String> {
    let [folder] = inputs else {
        return Err(format!(
            "A Delta conversion takes one export folder (it was given {}): each export is one version of the tables.",
            inputs.len()
        ));
    };
    if !folder.is_dir() {
        return Err(format!("{} is not a folder: give the export folder Haul wrote.", folder.display()));
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let bar = crate::progress::bytes_bar(0);
    let on_progress: Arc<dyn Fn(&ConvertProgress) + Send + Sync> = {
        let bar = bar.clone();
        Arc::new(move |p: &ConvertProgress| {
            if let Some(bar) = &bar {
                let phase = match p.phase {
                    ConvertPhase::Scanning => "reading",
                    ConvertPhase::Writing => "writing",
                };
                bar.set_length(p.total_bytes);
                bar.set_message(format!("{} ({phase})", p.resource_type));
                bar.set_position(p.done_bytes);
            }
        })
    };
    let watcher = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.store(true, Ordering::Relaxed);
            }
        })
    };
    let result = convert_to_delta(folder, target(out)?, &options, memory, on_progress, cancel).await;
    watcher.abort();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = match result {
        Ok(r) => r,
        Err(DeltaConvertError::Cancelled) => {
            eprintln!("haul: {}", DeltaConvertError::Cancelled);
            return Ok(130);
        }
        Err(e) => return Err(e.to_string()),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report).expect("reports serialize"));
    } else {
        print_report(&report);
    }
    Ok(if report.bad_lines > 0 { 3 } else { 0 })
}

pub fn print_report(report: &DeltaReport) {
    let how = if report.incremental { "merged into" } else { "written to" };
    println!(
        "The export of {} was {how} {} Delta tables at {} in {}.",
        report.transaction_time,
        report.tables.len(),
        report.target,
        human_duration(std::time::Duration::from_secs_f64(report.seconds))
    );
    println!("{:<28} {:>8} {:>10} {:>9} {:>9} {:>9}", "TABLE", "VERSION", "ROWS", "ADDED", "CHANGED", "DELETED");
    for t in &report.tables {
        let version = t.version.map_or("same".to_string(), |v| v.to_string());
        let (added, changed, deleted) = match &t.change {
            Some(c) => (c.added.to_string(), c.changed.to_string(), (c.deleted + c.left_with_patient).to_string()),
            None => ("-".into(), "-".into(), "-".into()),
        };
        println!("{:<28} {version:>8} {:>10} {added:>9} {changed:>9} {deleted:>9}", t.resource_type, t.rows);
    }
    if report.tables.iter().any(|t| t.version.is_none()) {
        println!("“same”: the table already held this export, so it was left as it was.");
    }
    if report.left > 0 {
        println!("{} patients left the group: their resources were taken out of every table.", report.left);
    }
    if report.bad_lines > 0 {
        let (lines, were) = if report.bad_lines == 1 { ("line", "was") } else { ("lines", "were") };
        match &report.bad_lines_file {
            Some(file) => println!("{} bad {lines} {were} left out, kept in {file}.", report.bad_lines),
            None => println!("{} bad {lines} {were} left out.", report.bad_lines),
        }
    }
    for w in &report.warnings {
        println!("warning: {w}");
    }
}
