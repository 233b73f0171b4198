//! `haul export`, `haul resume`, `haul history`, `haul cancel`: the export engine from a terminal.
//! Progress bars on a terminal, one plain line per event otherwise (cron, CI, pipes).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulk_client::{ExportLevel, ExportRequest, HttpClient, SecretStyle};
use clap::Args;
use export_jobs::wording::bytes as human_bytes;

use crate::open_db;
use bulk_client::DownloadLimits;
use export_jobs::{ExportPlan, ExportRunner, ExportTarget, JobOutcome, Limits, Pacing, ServerChoice, Since};
use haul_store::{AuthSettings, Database, JobState, SecretRef};
use tokio_util::sync::CancellationToken;

/// Exit codes: 0 only when every file arrived and verified.
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_PROBLEMS: u8 = 3;
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Args)]
pub struct ExportArgs {
    /// The server's FHIR base URL.
    #[arg(long, value_name = "URL", required_unless_present = "server")]
    fhir_url: Option<String>,
    /// A server saved in the app, by name: its address, sign-in (secret from the keychain), kind and network
    /// settings (see `haul servers list`).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["fhir_url", "client_id", "bearer_token_env", "bearer_token_file", "ca_file", "proxy", "client_cert"])]
    server: Option<String>,
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
    /// Only resources changed up to this FHIR instant (`_until`; AB2D and IG v2 servers).
    #[arg(long, value_name = "INSTANT")]
    until: Option<String>,
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
    /// Azure Health Data Services: the storage container the server writes the files into (`_container`).
    #[arg(long, value_name = "NAME")]
    container: Option<String>,
    /// Any other kickoff parameter the server understands, as NAME=VALUE; repeat for more.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = name_value)]
    extra: Vec<(String, String)>,
    /// The client id: SMART Backend Services (with --key) or a client secret (with --client-secret-env).
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// The signing key's kid (see `haul keys list`).
    #[arg(long, value_name = "KID", requires = "client_id", group = "signing_key")]
    key: Option<String>,
    /// The signing key's file instead (PEM or JWK, private to you: `chmod 600`), for a computer without a
    /// keychain (a server). Haul keeps the path and reads the file each time the export signs in.
    #[arg(long, value_name = "PATH", requires = "client_id", group = "signing_key", conflicts_with = "key")]
    key_file: Option<PathBuf>,
    /// The key id the server assigned to your public key (CMS DPC), sent as the assertion's kid.
    #[arg(long, value_name = "ID", requires = "signing_key")]
    key_id_at_server: Option<String>,
    /// The JWKS URL registered with the server (Epic), sent as the assertion's jku.
    #[arg(long, value_name = "URL", requires = "signing_key")]
    jku: Option<String>,
    /// Sign in with a client ID and secret (OAuth client credentials: BCDA, AB2D, Azure), the secret read
    /// from this environment variable. Never on the command line, where other users of the computer can see
    /// it.
    #[arg(long, value_name = "VAR", requires = "client_id", conflicts_with = "signing_key", group = "client_secret")]
    client_secret_env: Option<String>,
    /// The client secret from this file instead (private to you: `chmod 600`), for a computer without a
    /// keychain; read each time the export signs in.
    #[arg(long, value_name = "PATH", requires = "client_id", conflicts_with_all = ["signing_key", "client_secret_env"], group = "client_secret")]
    client_secret_file: Option<PathBuf>,
    /// How the client secret is sent: basic (an Authorization header; the default) or post (form fields).
    #[arg(long, value_name = "basic|post", requires = "client_secret", value_parser = secret_style)]
    secret_style: Option<SecretStyle>,
    /// An extra field of the token request, as NAME=VALUE (audience=…, resource=…); repeat for more.
    #[arg(long = "token-param", value_name = "NAME=VALUE", requires = "client_secret", value_parser = token_param)]
    token_params: Vec<(String, String)>,
    /// Sign in with a bearer token read from this environment variable (sent as it is; it cannot be renewed).
    #[arg(long, value_name = "VAR", conflicts_with_all = ["client_id", "signing_key", "client_secret"])]
    bearer_token_env: Option<String>,
    /// The bearer token from this file instead (private to you: `chmod 600`).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["client_id", "signing_key", "client_secret", "bearer_token_env"])]
    bearer_token_file: Option<PathBuf>,
    /// Token endpoint (discovered from the server's .well-known/smart-configuration when absent).
    #[arg(long, value_name = "URL", requires = "client_id")]
    token_url: Option<String>,
    /// OAuth scope (SMART: system/*.read unless given; with a client secret: none unless given).
    #[arg(long, value_name = "S", requires = "client_id")]
    scope: Option<String>,
    /// Files downloaded at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=32))]
    parallel: u32,
    /// Do not send DELETE to the server after downloading (leave the files there).
    #[arg(long)]
    no_delete: bool,
    /// With --since on a group: do not fetch the full records of patients who joined the group since then.
    #[arg(long)]
    no_new_member_records: bool,
    /// Where the files go: a folder (created; must be new or empty), or object storage, `s3://bucket/prefix`,
    /// `gs://bucket/prefix` or `az://container/prefix`, with credentials from the environment (each export
    /// in its own `export_date=` partition; Haul's small files stay in a folder under its data folder).
    #[arg(long, value_name = "DIR|URL", value_parser = out_arg)]
    out: ExportTarget,
    #[command(flatten)]
    network: crate::network_args::NetworkArgs,
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

fn name_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((n, v)) if !n.trim().is_empty() => Ok((n.trim().to_string(), v.to_string())),
        _ => Err(format!("“{s}” is not NAME=VALUE")),
    }
}

fn token_param(s: &str) -> Result<(String, String), String> {
    let (name, value) = name_value(s)?;
    bulk_client::check_token_param(&name)?;
    Ok((name, value))
}

fn secret_style(s: &str) -> Result<SecretStyle, String> {
    SecretStyle::parse(s).ok_or_else(|| format!("“{s}” is not a secret style: use basic or post"))
}

/// Checks, before anything is created, that `--<flag> VAR` names a variable holding a `what`. The value is
/// read again when the export signs in (by `haul resume` too), and never printed.
fn secret_from_env(flag: &str, variable: &str, what: &str) -> Result<SecretRef, String> {
    if variable.is_empty() || variable.contains('=') || variable.contains('\0') {
        return Err(format!("--{flag} takes the name of an environment variable, not “{variable}”."));
    }
    match std::env::var(variable) {
        Ok(value) if !value.trim().is_empty() => Ok(SecretRef::Environment { variable: variable.to_string() }),
        Ok(_) => Err(format!(
            "--{flag} names {variable}, but that environment variable is empty. Put the {what} in it first."
        )),
        Err(std::env::VarError::NotPresent) => Err(format!(
            "--{flag} names {variable}, but that environment variable is not set here. Set it to the {what} first, without typing it on a command line (for example `read -rs {variable} && export {variable}`)."
        )),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(format!("--{flag} names {variable}, but its value is not text. Put the {what} in it as it was given."))
        }
    }
}

/// Checks, before anything is created, that `--*-file PATH` is a readable file private to its owner; the job
/// keeps its absolute path (a scheduled run starts elsewhere) and reads it again each time it signs in.
fn secret_from_file(path: &std::path::Path) -> Result<SecretRef, String> {
    haul_store::read_secret_text(path).map_err(|e| e.to_string())?;
    Ok(SecretRef::File { path: absolute(path)? })
}

/// The same for a SMART key file, which must also hold a private key Haul can sign with.
fn checked_key_file(path: &std::path::Path) -> Result<String, String> {
    let bytes = haul_store::read_secret_file(path).map_err(|e| e.to_string())?;
    bulk_client::SigningKey::import(&bytes)
        .map_err(|e| format!("The key file {} is not a usable private key: {e}", path.display()))?;
    absolute(path)
}

fn absolute(path: &std::path::Path) -> Result<String, String> {
    std::path::absolute(path).map(|p| p.display().to_string()).map_err(|e| format!("{}: {e}", path.display()))
}

/// The sign-in the flags ask for (none: an open server).
fn sign_in_of_args(args: &mut ExportArgs) -> Result<Option<AuthSettings>, String> {
    if let Some(variable) = &args.bearer_token_env {
        return Ok(Some(AuthSettings::bearer_token(secret_from_env("bearer-token-env", variable, "bearer token")?)));
    }
    if let Some(path) = &args.bearer_token_file {
        return Ok(Some(AuthSettings::bearer_token(secret_from_file(path)?)));
    }
    let Some(client_id) = args.client_id.take() else { return Ok(None) };
    let endpoint = |auth: AuthSettings, args: &mut ExportArgs| AuthSettings {
        token_url: args.token_url.take(),
        scope: args.scope.take(),
        ..auth
    };
    let key = match (args.key.take(), args.key_file.take()) {
        (Some(kid), _) => Some(AuthSettings::smart_backend(client_id.clone(), kid)),
        (None, Some(path)) => {
            let path = checked_key_file(&path)?;
            Some(AuthSettings {
                key_kid: None,
                key_file: Some(path),
                ..AuthSettings::smart_backend(client_id.clone(), String::new())
            })
        }
        (None, None) => None,
    };
    let secret = match (&args.client_secret_env, &args.client_secret_file) {
        (Some(variable), _) => Some(secret_from_env("client-secret-env", variable, "client secret")?),
        (None, Some(path)) => Some(secret_from_file(path)?),
        (None, None) => None,
    };
    match (key, secret) {
        (Some(smart), _) => {
            let jku = args.jku.take().map(|u| haul_store::check_jku(&u).map_err(|e| e.to_string())).transpose()?;
            let auth = AuthSettings { assertion_kid: args.key_id_at_server.take(), jku, ..smart };
            Ok(Some(endpoint(auth, args)))
        }
        (None, Some(secret)) => {
            let style = args.secret_style.unwrap_or_default();
            let auth = AuthSettings {
                token_params: std::mem::take(&mut args.token_params),
                ..AuthSettings::client_secret(client_id, secret, style)
            };
            Ok(Some(endpoint(auth, args)))
        }
        (None, None) => Err(
            "--client-id needs --key KID or --key-file PATH (SMART Backend Services), or --client-secret-env VAR or --client-secret-file PATH (a client secret)."
                .into(),
        ),
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

fn runner(db: Database, limits: &LimitArgs, http: HttpClient) -> ExportRunner {
    with_datasets(ExportRunner::new(Arc::new(Mutex::new(db)), http).with_pacing(pacing()).with_limits(limits.limits()))
}

/// Every clean export keeps its request's current dataset up to date, as in the app.
fn with_datasets(runner: ExportRunner) -> ExportRunner {
    match haul_store::DataDir::locate() {
        Ok(dir) => runner.with_datasets(dir.datasets_root()),
        Err(_) => runner,
    }
}

/// A FHIR instant: a full date-time with a time zone. `or_else` names what else the flag takes.
fn check_instant(flag: &str, s: &str, or_else: &str) -> Result<(), String> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map(drop).map_err(|_| {
        format!(
            "{flag} “{s}” is not a FHIR instant. Give a full date and time with a time zone, for example 2026-01-31T00:00:00Z{or_else}."
        )
    })
}

pub async fn export(mut args: ExportArgs) -> Result<u8, String> {
    let auth = sign_in_of_args(&mut args)?;
    let http = args.network.http_client()?;
    let db = open_db()?;
    let (choice, fhir_url) = match (&args.server, &args.fhir_url) {
        (Some(name), _) => {
            let server = crate::saved_servers::find_by_name(&db, name)?;
            (ServerChoice::Saved(server.id), server.base_url)
        }
        (None, url) => {
            let check = haul_store::check_base_url(url.as_deref().unwrap_or_default()).map_err(|e| e.to_string())?;
            if let Some(w) = &check.warning {
                eprintln!("Note: {w}");
            }
            let fhir_url = check.normalized.clone();
            (ServerChoice::Address { fhir_url: fhir_url.clone(), auth }, fhir_url)
        }
    };
    let level = match (&args.group, args.patient_level) {
        (Some(g), _) => ExportLevel::Group(g.trim().to_string()),
        (None, true) => ExportLevel::Patient,
        (None, false) => ExportLevel::System,
    };
    let request = ExportRequest {
        level: Some(level),
        output_format: args.output_format,
        since: None,
        until: args.until.clone(),
        container: args.container,
        types: args.types.into_iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect(),
        elements: args.elements,
        patients: args.patients,
        type_filters: args.type_filters,
        include_associated_data: args.include_associated_data,
        lenient: args.lenient,
        post: args.post,
        extra: args.extra,
    };
    let (out_dir, destination) = match args.out {
        ExportTarget::Folder(dir) => (Some(dir), None),
        ExportTarget::Storage(address) => (None, Some(address)),
    };
    // A storage export keeps its log, manifest and report in a new folder under Haul's exports folder.
    let exports_root = match &destination {
        None => std::path::PathBuf::from("."),
        Some(_) => haul_store::DataDir::locate().map_err(|e| e.to_string())?.default_exports_root(),
    };
    let mut plan = ExportPlan {
        out_dir,
        destination,
        parallel: args.parallel,
        delete_after: !args.no_delete,
        new_member_records: !args.no_new_member_records,
        ..ExportPlan::new(choice, request)
    };
    if let Some(u) = &args.until {
        check_instant("--until", u, "")?;
    }
    match args.since.as_deref() {
        None => {}
        Some("auto") => plan.since = Since::LastExport,
        Some(s) => {
            check_instant("--since", s, ", or `auto`")?;
            plan.request.since = Some(s.to_string());
        }
    }
    let auto = plan.since == Since::LastExport;
    let planned = plan.create(&db, &exports_root).map_err(plan_error)?;
    for note in &planned.notes {
        eprintln!("Note: {note}");
    }
    if let Some(baseline) = planned.baseline.as_ref().filter(|_| auto) {
        eprintln!("Since the last export: {}.", export_jobs::describe_baseline(baseline));
    }
    let job = planned.job;
    eprintln!("Export {} started: {}", job.id, job.request.describe(&fhir_url).lines().next().unwrap_or(""));
    match &job.settings.destination {
        Some(address) => eprintln!("Storage: {address} (Haul's own files: {})", job.out_dir),
        None => eprintln!("Folder: {}", job.out_dir),
    }
    run_one(&runner(db, &args.limits, http), job.id).await
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
    let runner = runner(db, &args.limits, HttpClient::new());
    let mut worst = EXIT_OK;
    for id in ids {
        eprintln!("Resuming export {id}");
        let code = run_one(&runner, id).await?;
        worst = worst.max(code);
    }
    Ok(worst)
}

pub fn history(args: HistoryArgs) -> Result<u8, String> {
    let db = open_db()?;
    let jobs = db.list_jobs(args.limit).map_err(|e| e.to_string())?;
    if args.json {
        for j in &jobs {
            let totals = db.type_totals(j.id).map_err(|e| e.to_string())?;
            let mut v = serde_json::to_value(j).map_err(|e| e.to_string())?;
            v["totals"] = serde_json::to_value(&totals).map_err(|e| e.to_string())?;
            v["deletions"] = db.deletion_count(j.id).map_err(|e| e.to_string())?.into();
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

/// A runner with the default limits and client: scheduled runs, which have no flags.
pub fn plain_runner(db: Database) -> ExportRunner {
    with_datasets(ExportRunner::new(Arc::new(Mutex::new(db)), HttpClient::new()).with_pacing(pacing()))
}

use crate::progress::bars;
pub use crate::progress::{plain_lines, print_outcome};

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

/// `--out` of `haul export`: a folder, or object storage (export-jobs' one rule).
fn out_arg(text: &str) -> Result<ExportTarget, String> {
    export_jobs::export_target(text).map_err(|e| e.to_string())
}
