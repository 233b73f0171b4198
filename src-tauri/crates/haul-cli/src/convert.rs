//! `haul convert`: NDJSON export folders to Parquet, one table per resource type.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use export_jobs::wording::{bytes as human_bytes, duration as human_duration};
use export_jobs::{RememberedSchemas, server_of_folder};
use fhir_tables::{ConversionReport, ConvertOptions, ConvertProgress, Forgetful, SchemaMemory, convert, find_inputs};

#[derive(clap::Args)]
pub struct ConvertArgs {
    /// An export folder, or NDJSON files (.ndjson, .ndjson.gz); files of one type become one table.
    #[arg(required = true, value_name = "EXPORT_DIR")]
    inputs: Vec<PathBuf>,
    /// Where the tables go. Parquet: a folder (<Type>.parquet, plus bad-lines.ndjson when some lines were bad).
    /// Delta: a folder or a storage address (s3://, gs://, az://), one table per type (<out>/<Type>).
    #[arg(long, value_name = "DIR|ADDRESS")]
    out: String,
    /// parquet: one file per type, made anew. delta: Delta Lake tables that each export updates (a full
    /// export replaces their contents, an incremental one is merged in by resource id).
    #[arg(long, value_enum, default_value_t = Format::Parquet)]
    format: Format,
    /// Only these resource types (comma separated).
    #[arg(long, value_delimiter = ',', value_name = "TYPE,…")]
    types: Vec<String>,
    /// Peak memory to stay under, roughly, in MB.
    #[arg(long, default_value_t = 300, value_name = "MB")]
    memory_limit: u64,
    /// Parsing threads [default: all cores].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Neither read nor widen the schemas remembered for this server: tables exactly as this input.
    #[arg(long)]
    no_remember: bool,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Parquet,
    Delta,
}

/// Exit code 0 when every line converted, 3 when some lines were bad (reported), 1 on failure.
pub async fn run(args: ConvertArgs) -> Result<u8, String> {
    if args.format == Format::Delta {
        return crate::delta::run(&args.inputs, &args.out, options_of(&args), schema_memory_for(&args), args.json)
            .await;
    }
    let out = crate::folder_arg(&args.out)?;
    let mut inputs = find_inputs(&args.inputs).map_err(|e| e.to_string())?;
    if !args.types.is_empty() {
        let missing: Vec<&String> =
            args.types.iter().filter(|t| !inputs.iter().any(|i| &i.resource_type == *t)).collect();
        if !missing.is_empty() {
            let present: Vec<&str> = inputs.iter().map(|i| i.resource_type.as_str()).collect();
            return Err(format!(
                "No files of type {} here; the types present are: {}.",
                missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                present.join(", ")
            ));
        }
        inputs.retain(|i| args.types.contains(&i.resource_type));
    }
    let options = options_of(&args);
    let memory = schema_memory_for(&args);

    let cancel = Arc::new(AtomicBool::new(false));
    let bar = crate::progress::bytes_bar(inputs.iter().map(|i| i.bytes()).sum::<u64>() * 2);
    let job = {
        let cancel = cancel.clone();
        let bar = bar.clone();
        tokio::task::spawn_blocking(move || {
            let on_progress = |p: &ConvertProgress| {
                if let Some(bar) = &bar {
                    let phase = match p.phase {
                        fhir_tables::ConvertPhase::Scanning => "reading",
                        fhir_tables::ConvertPhase::Writing => "writing",
                    };
                    bar.set_message(format!("{} ({phase})", p.resource_type));
                    bar.set_position(p.done_bytes);
                }
            };
            convert(&inputs, &out, &options, memory.as_ref(), &on_progress, &cancel)
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
    let result = job.await.map_err(|e| format!("the conversion stopped unexpectedly: {e}"))?;
    watcher.abort();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = match result {
        Ok(r) => r,
        Err(fhir_tables::ConvertError::Cancelled) => {
            eprintln!("haul: {}", fhir_tables::ConvertError::Cancelled);
            return Ok(130);
        }
        Err(e) => return Err(e.to_string()),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("reports serialize"));
    } else {
        print_report(&report);
    }
    Ok(if report.bad_lines > 0 { 3 } else { 0 })
}

fn options_of(args: &ConvertArgs) -> ConvertOptions {
    let defaults = ConvertOptions::default();
    ConvertOptions {
        threads: args.threads.unwrap_or(defaults.threads),
        memory_limit: args.memory_limit.saturating_mul(1 << 20),
        ..defaults
    }
}

fn schema_memory_for(args: &ConvertArgs) -> Box<dyn SchemaMemory + Send> {
    if args.no_remember { Box::new(Forgetful) } else { schema_memory(args) }
}

fn schema_memory(args: &ConvertArgs) -> Box<dyn SchemaMemory + Send> {
    let db = match crate::open_db() {
        Ok(db) => db,
        Err(e) => {
            eprintln!("haul: schemas are not remembered this time: {e}");
            return Box::new(Forgetful);
        }
    };
    let folder = args.inputs.iter().find(|p| p.is_dir());
    match folder.and_then(|f| server_of_folder(Some(&db), f)) {
        Some(server) => Box::new(RememberedSchemas::new(db, server)),
        None => {
            eprintln!(
                "haul: which server these files came from is unknown (no Haul export, no manifest.json), so the \
                 tables' schemas are exactly this input's and are not remembered."
            );
            Box::new(Forgetful)
        }
    }
}

fn print_report(report: &ConversionReport) {
    let rows: u64 = report.types.iter().map(|t| t.rows).sum();
    let input: u64 = report.types.iter().map(|t| t.ndjson_bytes).sum();
    let output: u64 = report.types.iter().map(|t| t.output_bytes).sum();
    println!(
        "Converted {} resources of {} types: {} of NDJSON → {} of Parquet in {} ({}/s), into {}",
        rows,
        report.types.len(),
        human_bytes(input),
        human_bytes(output),
        human_duration(std::time::Duration::from_secs_f64(report.seconds)),
        human_bytes((input as f64 / report.seconds.max(0.001)) as u64),
        report.out_dir
    );
    println!("{:<28} {:>10} {:>6} {:>10} {:>10} {:>8}", "TYPE", "ROWS", "BAD", "NDJSON", "PARQUET", "COLUMNS");
    for t in &report.types {
        println!(
            "{:<28} {:>10} {:>6} {:>10} {:>10} {:>8}",
            t.resource_type,
            t.rows,
            t.bad_lines,
            human_bytes(t.ndjson_bytes),
            if t.output_file.is_some() { human_bytes(t.output_bytes) } else { "-".into() },
            t.columns
        );
    }
    let json: Vec<String> = report
        .types
        .iter()
        .flat_map(|t| {
            t.json_columns.iter().map(move |c| format!("  {}.{} ({})", t.resource_type, c.path, c.kinds.join(", ")))
        })
        .collect();
    if !json.is_empty() {
        println!("Columns kept as JSON text (their values differ in kind, or were never typed):");
        for line in json {
            println!("{line}");
        }
    }
    for t in report.types.iter().filter(|t| !t.new_columns.is_empty() || !t.widened_columns.is_empty()) {
        if !t.new_columns.is_empty() {
            println!("{}: new columns since the last conversion: {}", t.resource_type, t.new_columns.join(", "));
        }
        if !t.widened_columns.is_empty() {
            println!("{}: widened columns: {}", t.resource_type, t.widened_columns.join(", "));
        }
    }
    for t in report.types.iter().filter(|t| t.null_properties > 0) {
        println!(
            "{}: {} properties were null (not allowed in FHIR); stored as absent",
            t.resource_type, t.null_properties
        );
    }
    for t in report.types.iter().filter(|t| t.output_file.is_none()) {
        println!("{}: no good lines, so no table", t.resource_type);
    }
    for w in &report.warnings {
        println!("warning: {w}");
    }
    if report.bad_lines > 0 {
        let (lines, were) = if report.bad_lines == 1 { ("line", "was") } else { ("lines", "were") };
        println!(
            "{} bad {lines} {were} left out, listed in {} (file, line, problem). The first:",
            report.bad_lines,
            report.bad_lines_file.as_deref().unwrap_or("?")
        );
        for b in &report.bad_line_examples {
            println!("  {}:{}: {}", b.file, b.line, b.problem);
        }
    }
}
