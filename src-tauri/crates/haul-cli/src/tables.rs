//! `haul tables`: SQL-on-FHIR views over an export folder, as flat Parquet, CSV and Excel files.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use fhir_views::{
    BUILT_IN, Format, TablesOptions, TablesProgress, View, ViewOutcome, built_in, check_names, make_tables,
};

#[derive(clap::Args)]
pub struct TablesArgs {
    /// An export folder, or NDJSON files (.ndjson, .ndjson.gz).
    #[arg(required_unless_present = "list", value_name = "EXPORT_DIR")]
    inputs: Vec<PathBuf>,
    /// Folder for the tables: <view>.<format> for each view and format. With --format delta: a folder or a
    /// storage address (s3://, gs://, az://), one Delta table per view (<out>/<view>).
    #[arg(long, value_name = "DIR|ADDRESS", required_unless_present = "list")]
    out: Option<String>,
    /// Built-in views (comma separated; `all` for every one). Without --views or --view-file: all.
    #[arg(long, value_delimiter = ',', value_name = "VIEW,…")]
    views: Vec<String>,
    /// Your own ViewDefinition file, or a folder of them (may be repeated).
    #[arg(long = "view-file", value_name = "F.json")]
    view_files: Vec<PathBuf>,
    /// Formats (comma separated): parquet, csv, xlsx; or delta alone (Delta Lake tables, from a full export).
    #[arg(long, value_delimiter = ',', default_value = "parquet", value_name = "FORMAT,…")]
    format: Vec<String>,
    /// Start CSV files with a byte-order mark, so Excel reads them as UTF-8.
    #[arg(long)]
    csv_bom: bool,
    /// Peak memory to stay under, roughly, in MB.
    #[arg(long, default_value_t = 300, value_name = "MB")]
    memory_limit: u64,
    /// Threads [default: all cores].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// List the built-in views and stop.
    #[arg(long)]
    list: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// The views asked for, every one checked before any file is read.
fn chosen_views(args: &TablesArgs) -> Result<Vec<View>, String> {
    let mut views = Vec::new();
    let all = args.views.iter().any(|v| v == "all") || (args.views.is_empty() && args.view_files.is_empty());
    let names: Vec<&str> =
        if all { BUILT_IN.iter().map(|(n, _)| *n).collect() } else { args.views.iter().map(String::as_str).collect() };
    for name in names {
        views.push(built_in(name.trim()).map_err(|e| e.to_string())?);
    }
    for f in &args.view_files {
        views.extend(fhir_views::read_view_files(f).map_err(|e| e.to_string())?);
    }
    check_names(&views).map_err(|e| e.to_string())?;
    Ok(views)
}

/// Exit code 0 when every view was written, 3 when some stopped (named, the others written), 1 when nothing
/// could start (an invalid view, say), 130 when interrupted.
pub async fn run(args: TablesArgs) -> Result<u8, String> {
    if args.list {
        for (name, _) in BUILT_IN {
            let v = built_in(name).map_err(|e| e.to_string())?;
            println!("{:<20} {:<22} {}", name, v.resource, v.description.unwrap_or_default());
        }
        return Ok(0);
    }
    // Present: clap asks for --out unless --list, which returned above.
    let out = args.out.clone().ok_or("--out DIR is needed: the folder for the tables")?;
    let delta = args.format.iter().any(|f| f.trim().eq_ignore_ascii_case("delta"));
    if delta && args.format.len() > 1 {
        return Err(
            "--format delta goes alone: Delta tables are a place of their own, not a file beside others.".into()
        );
    }
    let delta_folder = match (delta, args.inputs.as_slice()) {
        (false, _) => None,
        (true, [folder]) if folder.is_dir() => {
            export_jobs::delta::check_views_export(folder).map_err(|e| e.to_string())?;
            Some(folder.clone())
        }
        (true, _) => {
            return Err("--format delta takes one export folder: each export is one version of the tables.".into());
        }
    };
    let staging = match delta {
        true => Some(tempfile::Builder::new().prefix("haul-views-").tempdir().map_err(|e| e.to_string())?),
        false => None,
    };
    let out_dir = match &staging {
        Some(dir) => dir.path().to_path_buf(),
        None => crate::folder_arg(&out)?,
    };
    let mut formats = Vec::new();
    for f in args.format.iter().filter(|_| !delta) {
        let format =
            Format::parse(f).ok_or_else(|| format!("'{f}' is not a format Haul writes (parquet, csv, xlsx)"))?;
        if !formats.contains(&format) {
            formats.push(format);
        }
    }
    if delta {
        formats.push(Format::Parquet);
    }
    let views = chosen_views(&args)?;
    let defaults = TablesOptions::default();
    let options = TablesOptions {
        threads: args.threads.unwrap_or(defaults.threads),
        memory_limit: args.memory_limit.saturating_mul(1 << 20),
        formats,
        csv_bom: args.csv_bom,
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let bar = crate::progress::bytes_bar(0);
    let started = std::time::Instant::now();
    let job = {
        let (cancel, bar, inputs, out) = (cancel.clone(), bar.clone(), args.inputs.clone(), out_dir.clone());
        tokio::task::spawn_blocking(move || {
            let on_progress = |p: &TablesProgress| {
                if let Some(bar) = &bar {
                    bar.set_length(p.bytes_total);
                    bar.set_position(p.bytes_read);
                    bar.set_message(format!("{} ({}/{}) {} rows", p.view, p.view_number, p.views, p.rows));
                }
            };
            make_tables(&inputs, &views, &out, &options, &on_progress, &cancel)
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
    let result = job.await.map_err(|e| format!("making tables stopped unexpectedly: {e}"))?;
    watcher.abort();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let outcomes = match result {
        Ok(o) => o,
        Err(fhir_views::TablesError::Cancelled) => {
            eprintln!("haul: stopped; views not finished left no files (earlier files are as they were)");
            return Ok(130);
        }
        Err(e) => return Err(e.to_string()),
    };
    let stopped = outcomes.iter().any(|o| o.failure.is_some());
    if let Some(folder) = delta_folder {
        let written: Vec<(String, PathBuf)> = outcomes
            .iter()
            .filter(|o| o.failure.is_none())
            .filter_map(|o| o.files.first().map(|f| (o.view.clone(), f.clone())))
            .collect();
        let report = export_jobs::delta::publish_views(&folder, crate::delta::target(&out)?, &written)
            .await
            .map_err(|e| e.to_string())?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report).expect("reports serialize"));
        } else {
            print_summary(&outcomes, started.elapsed());
            crate::delta::print_report(&report);
        }
        return Ok(if stopped { 3 } else { 0 });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcomes).expect("outcomes serialize"));
    } else {
        print_summary(&outcomes, started.elapsed());
    }
    Ok(if stopped { 3 } else { 0 })
}

fn print_summary(outcomes: &[ViewOutcome], took: std::time::Duration) {
    println!("{:<20} {:<22} {:>10} {:>8}  FILES", "VIEW", "RESOURCE", "ROWS", "COLUMNS");
    for o in outcomes {
        let files: Vec<String> = o
            .files
            .iter()
            .map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
            .collect();
        let files = if o.failure.is_some() { "(none: stopped)".to_string() } else { files.join(", ") };
        println!("{:<20} {:<22} {:>10} {:>8}  {}", o.view, o.resource, o.rows, o.columns, files);
    }
    for o in outcomes {
        for n in &o.notes {
            println!("{}: {n}", o.view);
        }
        if let Some(f) = &o.failure {
            println!("{}: stopped, no file written or replaced: {f}", o.view);
        }
    }
    let ok = outcomes.iter().filter(|o| o.failure.is_none()).count();
    println!("{ok} of {} views written in {:.1} s", outcomes.len(), took.as_secs_f64());
}
