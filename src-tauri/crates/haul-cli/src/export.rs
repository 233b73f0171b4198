//! `haul export`, `haul resume`, `haul history`, `haul cancel`: the export engine from a terminal.
//! Progress bars on a terminal, one plain line per event otherwise (cron, CI, pipes).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulk_client::{ExportLevel, ExportRequest, HttpClient};
use clap::Args;
use export_jobs::wording::{bytes as human_bytes, duration as human_duration};

use crate::open_db;
use bulk_client::{DownloadLimits, printable};
use export_jobs::{EventSink, ExportPlan, ExportRunner, JobEvent, JobOutcome, Limits, Pacing, ServerChoice, Since};
use haul_store::{AuthSettings, Database, JobState};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

/// Exit codes: 0 only when every file arrived and verified.
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_PROBLEMS: u8 = 3;
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Args)]
pub struct ExportArgs {
    /// The server's FHIR base URL.
    #[arg(long, value_name = "URL")]
    fhir_url: String,
    /// Export one Group (roster): Group/ID/$export.
    #[arg(long, value_name = "ID", conflicts_with_all = ["patient_level", "system"])]
    group: Option<String>,
    /// Export all patients' data: Patient/$export.
    #[arg(long, conflicts_with = "system")]
    patient_level: bool,
    /// Export everything the server holds: $export (the default).
    #[arg(long)]
    system: bool,
    /// Resource types, comma-separated (`_type`).
    #[arg(long = "type", value_name = "T,…", value_delimiter = ',')]
    types: Vec<String>,
    /// Only resources changed after this FHIR instant, or `auto`: since the last successful export of the same
    /// server, level, group and types.
    #[arg(long, value_name = "INSTANT|auto")]
    since: Option<String>,
    /// Elements to keep (`_elements`), comma-separated.
    #[arg(long, value_name = "E,…", value_delimiter = ',')]
    elements: Vec<String>,
    /// Only these patients (ids or Patient/id), comma-separated; sent as POST.
    #[arg(long = "patient", value_name = "ID,…", value_delimiter = ',')]
    patients: Vec<String>,
    /// `_typeFilter` query such as `Observation?category=laboratory`; repeat for more.
    #[arg(long = "type-filter", value_name = "Q")]
    type_filters: Vec<String>,
    /// `includeAssociatedData` values, comma-separated.
    #[arg(long, value_name = "V,…", value_delimiter = ',')]
    include_associated_data: Vec<String>,
    /// `_outputFormat` (default application/fhir+ndjson).
    #[arg(long, value_name = "MIME")]
    output_format: Option<String>,
    /// Ask the server to skip what it does not support (`Prefer: handling=lenient`).
    #[arg(long)]
    lenient: bool,
    /// Kick off with POST and a Parameters body (automatic with --patient).
    #[arg(long)]
    post: bool,
    /// Any other kickoff parameter the server understands, as NAME=VALUE; repeat for more.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = name_value)]
    extra: Vec<(String, String)>,
    /// SMART Backend Services client id (with --key).
    #[arg(long, value_name = "ID", requires = "key")]
    client_id: Option<String>,
    /// The signing key's kid (see `haul keys list`).
    #[arg(long, value_name = "KID", requires = "client_id")]
    key: Option<String>,
    /// Token endpoint (discovered from the server when absent).
    #[arg(long, value_name = "URL", requires = "client_id")]
    token_url: Option<String>,
    /// OAuth scope (default system/*.read).
    #[arg(long, value_name = "S", requires = "client_id")]
    scope: Option<String>,
    /// Files downloaded at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=32))]
    parallel: u32,
    /// Do not send DELETE to the server after downloading (leave the files there).
    #[arg(long)]
    no_delete: bool,
    /// The export folder (created; must be new or empty).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    #[command(flatten)]
    limits: LimitArgs,
}

#[derive(Args)]
pub struct ResumeArgs {
    /// The export's number (`haul history`); without it, every interrupted export.
    job: Option<i64>,
    #[command(flatten)]
    limits: LimitArgs,
}

/// What a server may cost at most. The defaults are far above any real export.
#[derive(Args)]
pub struct LimitArgs {
    /// The longest line kept, in MB; a longer one is set aside by reference (where, how long, how it began).
    #[arg(long, value_name = "MB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    max_line_mb: u64,
    /// A download that brings under 4 KB in this many seconds has stalled: it is said, and resumed.
    #[arg(long, value_name = "S", default_value_t = 60, value_parser = clap::value_parser!(u64).range(2..=3600))]
    stall_seconds: u64,
    /// Give up on one try of a file after this many minutes (default: no limit; large files take hours).
    #[arg(long, value_name = "MIN", value_parser = clap::value_parser!(u64).range(1..))]
    file_deadline_minutes: Option<u64>,
    /// Free disk space to keep, in GB: the export stops cleanly (resumable) before going below.
    #[arg(long, value_name = "GB", default_value_t = 1)]
    keep_free_gb: u64,
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        let defaults = Limits::default();
        Limits {
            max_line_bytes: (self.max_line_mb << 20) as usize,
            min_free_disk_bytes: self.keep_free_gb << 30,
            download: DownloadLimits {
                stall_window: Duration::from_secs(self.stall_seconds),
                deadline: self.file_deadline_minutes.map(|m| Duration::from_secs(m * 60)),
                ..defaults.download
            },
            ..defaults
        }
    }
}

#[derive(Args)]
pub struct HistoryArgs {
    /// How many exports to list, newest first.
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Print JSON (one object per export) instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct CancelArgs {
    job: i64,
}

fn name_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((n, v)) if !n.trim().is_empty() => Ok((n.trim().to_string(), v.to_string())),
        _ => Err(format!("“{s}” is not NAME=VALUE")),
    }
}

/// Test hooks: `HAUL_TEST_FAST_PACING=1` shortens waits so fault tests finish in seconds.
fn pacing() -> Pacing {
    if std::env::var_os("HAUL_TEST_FAST_PACING").is_some() {
        Pacing {
            min_poll: Duration::from_millis(50),
            max_poll: Duration::from_millis(500),
            retry_after_cap: Duration::from_secs(1),
            retry_base: Duration::from_millis(50),
            ..Pacing::default()
        }
    } else {
        Pacing::default()
    }
}

fn runner(db: Database, limits: &LimitArgs) -> ExportRunner {
    ExportRunner::new(Arc::new(Mutex::new(db)), HttpClient::new()).with_pacing(pacing()).with_limits(limits.limits())
}

/// A FHIR instant: a full date-time with a time zone.
fn check_instant(s: &str) -> Result<(), String> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map(drop).map_err(|_| {
        format!(
            "--since “{s}” is not a FHIR instant. Give a full date and time with a time zone, for example 2026-01-31T00:00:00Z, or `auto`."
        )
    })
}

pub async fn export(args: ExportArgs) -> Result<u8, String> {
    let check = haul_store::check_base_url(&args.fhir_url).map_err(|e| e.to_string())?;
    let fhir_url = check.normalized.clone();
    if let Some(w) = &check.warning {
        eprintln!("Note: {w}");
    }
    let level = match (&args.group, args.patient_level) {
        (Some(g), _) => ExportLevel::Group(g.trim().to_string()),
        (None, true) => ExportLevel::Patient,
        (None, false) => ExportLevel::System,
    };
    let db = open_db()?;
    let request = ExportRequest {
        level: Some(level),
        output_format: args.output_format,
        since: None,
        types: args.types.into_iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect(),
        elements: args.elements,
        patients: args.patients,
        type_filters: args.type_filters,
        include_associated_data: args.include_associated_data,
        lenient: args.lenient,
        post: args.post,
        extra: args.extra,
    };
    let auth = match (args.client_id, args.key) {
        (Some(client_id), Some(key_kid)) => {
            Some(AuthSettings { client_id, key_kid, token_url: args.token_url, scope: args.scope })
        }
        _ => None,
    };
    let mut plan = ExportPlan {
        out_dir: Some(args.out),
        parallel: args.parallel,
        delete_after: !args.no_delete,
        ..ExportPlan::new(ServerChoice::Address { fhir_url: fhir_url.clone(), auth }, request)
    };
    match args.since.as_deref() {
        None => {}
        Some("auto") => plan.since = Since::LastExport,
        Some(s) => {
            check_instant(s)?;
            plan.request.since = Some(s.to_string());
        }
    }
    let auto = plan.since == Since::LastExport;
    // The exports root is only used without --out, which the command line always has.
    let planned = plan.create(&db, std::path::Path::new(".")).map_err(plan_error)?;
    match (auto, &planned.baseline) {
        (true, Some(t)) => eprintln!("Incremental: since {t} (the last successful export of the same request)."),
        (true, None) => eprintln!("No earlier successful export of this request: running a full export."),
        _ => {}
    }
    let job = planned.job;
    eprintln!("Export {} started: {}", job.id, job.request.describe(&fhir_url).lines().next().unwrap_or(""));
    eprintln!("Folder: {}", job.out_dir);
    run_one(&runner(db, &args.limits), job.id).await
}

/// The plan's refusals in the command line's words (its flags, not the app's pages).
fn plan_error(e: export_jobs::PlanError) -> String {
    match e {
        export_jobs::PlanError::PatientsNeedPatientLevel => {
            "--patient works at patient or group level only: add --patient-level or --group ID.".into()
        }
        export_jobs::PlanError::GroupIdMissing => "--group needs the Group's id.".into(),
        other => other.to_string(),
    }
}

pub async fn resume(args: ResumeArgs) -> Result<u8, String> {
    let db = open_db()?;
    let ids: Vec<i64> = match args.job {
        Some(id) => vec![id],
        None => db.interrupted_jobs().map_err(|e| e.to_string())?.into_iter().map(|j| j.id).collect(),
    };
    if ids.is_empty() {
        eprintln!("No interrupted exports.");
        return Ok(EXIT_OK);
    }
    let runner = runner(db, &args.limits);
    let mut worst = EXIT_OK;
    for id in ids {
        eprintln!("Resuming export {id}");
        let code = run_one(&runner, id).await?;
        worst = worst.max(code);
    }
    Ok(worst)
}

pub async fn cancel(args: CancelArgs) -> Result<u8, String> {
    let runner = ExportRunner::new(Arc::new(Mutex::new(open_db()?)), HttpClient::new());
    match runner.cancel(args.job).await {
        Ok(true) => {
            eprintln!("Export {} cancelled; the server was told to stop.", args.job);
            Ok(EXIT_OK)
        }
        Ok(false) => Err(format!("Export {} had already finished; nothing to cancel.", args.job)),
        Err(e) => Err(e.to_string()),
    }
}

pub fn history(args: HistoryArgs) -> Result<u8, String> {
    let db = open_db()?;
    let jobs = db.list_jobs(args.limit).map_err(|e| e.to_string())?;
    if args.json {
        for j in &jobs {
            let totals = db.type_totals(j.id).map_err(|e| e.to_string())?;
            let mut v = serde_json::to_value(j).map_err(|e| e.to_string())?;
            v["totals"] = serde_json::to_value(&totals).map_err(|e| e.to_string())?;
            println!("{v}");
        }
        return Ok(EXIT_OK);
    }
    if jobs.is_empty() {
        println!("No exports yet.");
        return Ok(EXIT_OK);
    }
    println!(
        "{:>4}  {:<20}  {:<24}  {:<24}  {:>10}  {:>9}  folder",
        "id", "started", "state", "what", "resources", "size"
    );
    for j in &jobs {
        let totals = db.type_totals(j.id).map_err(|e| e.to_string())?;
        let resources: u64 = totals.iter().map(|t| t.resources).sum();
        let bytes: u64 = totals.iter().map(|t| t.bytes).sum();
        let what = match j.request.level() {
            ExportLevel::System => "system".to_string(),
            ExportLevel::Patient => "all patients".to_string(),
            ExportLevel::Group(g) => format!("group {g}"),
        };
        let state = match j.state {
            JobState::Created | JobState::KickedOff | JobState::Downloading => "interrupted (haul resume)",
            s => s.label(),
        };
        println!(
            "{:>4}  {:<20}  {:<24}  {:<24}  {:>10}  {:>9}  {}",
            j.id,
            j.created_at.get(..19).unwrap_or(&j.created_at).replace('T', " "),
            state,
            what,
            resources,
            human_bytes(bytes),
            j.out_dir
        );
    }
    Ok(EXIT_OK)
}

async fn run_one(runner: &ExportRunner, id: i64) -> Result<u8, String> {
    let sink = if std::io::stderr().is_terminal() { bars() } else { plain_lines() };
    let cancel = CancellationToken::new();
    let run = runner.run(id, sink, cancel.clone());
    let outcome: JobOutcome = tokio::select! {
        r = run => r.map_err(|e| e.to_string())?,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("\nStopped. Export {id} is saved: `haul resume {id}` carries on, `haul cancel {id}` cancels it.");
            return Ok(EXIT_INTERRUPTED);
        }
    };
    print_outcome(&outcome);
    Ok(match outcome.state {
        JobState::Completed => EXIT_OK,
        JobState::CompletedWithProblems => EXIT_PROBLEMS,
        _ => EXIT_FAILED,
    })
}

fn print_outcome(o: &JobOutcome) {
    for t in &o.totals {
        eprintln!(
            "  {:<28} {:>10} resources  {:>9}  ({} files)",
            printable(&t.resource_type),
            t.resources,
            human_bytes(t.bytes),
            t.files
        );
    }
    if let Some(f) = &o.failure
        && let Some(d) = &f.detail
    {
        eprintln!("  detail: {}", printable(d));
    }
    eprintln!("{}", printable(&o.message));
    if o.state == JobState::Failed {
        eprintln!("`haul resume {}` tries again what can be tried again.", o.id);
    }
}

/// One line per event, with anything a server wrote made safe for the terminal (no escape sequences).
fn event_line(e: &JobEvent) -> Option<String> {
    event_text(e).map(|line| printable(&line).into_owned())
}

fn event_text(e: &JobEvent) -> Option<String> {
    Some(match e {
        JobEvent::State { state } => format!("state: {}", state.label()),
        JobEvent::KickedOff { status_url } => format!("kicked off; status at {status_url}"),
        JobEvent::Progress { text } => format!("server working: {}", text.as_deref().unwrap_or("(no progress text)")),
        JobEvent::Waiting { reason, seconds } => {
            format!("waiting {}: {reason}", human_duration(Duration::from_secs_f64(*seconds)))
        }
        JobEvent::Warning { message } => format!("warning: {message}"),
        JobEvent::Manifest { files, transaction_time } => {
            format!("manifest: {files} files, transactionTime {transaction_time}")
        }
        JobEvent::FileStarted { name, resume_from, .. } if *resume_from > 0 => {
            format!("download {name} (resuming at byte {resume_from})")
        }
        JobEvent::FileStarted { name, .. } => format!("download {name}"),
        JobEvent::FileProgress { .. } => return None,
        JobEvent::FileVerified { name, resources, bytes, bad_lines, .. } => {
            let bad = if *bad_lines > 0 { format!(", {bad_lines} bad lines quarantined") } else { String::new() };
            format!("verified {name}: {resources} resources, {}{bad}", human_bytes(*bytes))
        }
        JobEvent::FileFailed { name, message, .. } => format!("FAILED {name}: {message}"),
        JobEvent::Finished { .. } => return None,
    })
}

fn plain_lines() -> EventSink {
    Arc::new(|e: &JobEvent| {
        if let Some(line) = event_line(e) {
            eprintln!("{line}");
        }
    })
}

fn bars() -> EventSink {
    let multi = MultiProgress::new();
    let status = multi.add(ProgressBar::new_spinner());
    status.set_style(ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}").expect("valid template"));
    status.enable_steady_tick(Duration::from_millis(120));
    let style =
        ProgressStyle::with_template("  {prefix:<28} {bar:30} {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12}")
            .expect("valid template");
    let files: Mutex<HashMap<u32, ProgressBar>> = Mutex::new(HashMap::new());
    Arc::new(move |e: &JobEvent| {
        let mut files = files.lock().expect("bars lock");
        match e {
            JobEvent::FileStarted { seq, name, resume_from, .. } => {
                let bar = multi.add(ProgressBar::new(0));
                bar.set_style(style.clone());
                bar.set_prefix(name.clone());
                bar.set_position(*resume_from);
                files.insert(*seq, bar);
            }
            JobEvent::FileProgress { seq, bytes, total } => {
                if let Some(bar) = files.get(seq) {
                    bar.set_length(total.unwrap_or(*bytes).max(*bytes));
                    bar.set_position(*bytes);
                }
            }
            JobEvent::FileVerified { seq, .. } | JobEvent::FileFailed { seq, .. } => {
                if let Some(bar) = files.remove(seq) {
                    bar.finish_and_clear();
                    multi.remove(&bar);
                }
                if let Some(line) = event_line(e) {
                    let _ = multi.println(line);
                }
            }
            JobEvent::Progress { text } => status.set_message(
                text.as_deref().map(|t| printable(t).into_owned()).unwrap_or_else(|| "server working".into()),
            ),
            JobEvent::State { state } => status.set_message(state.label()),
            JobEvent::Finished { .. } => status.finish_and_clear(),
            other => {
                if let Some(line) = event_line(other) {
                    let _ = multi.println(line);
                }
            }
        }
    })
}
