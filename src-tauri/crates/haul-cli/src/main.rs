//! `haul`: Haul's jobs from a terminal, for automation, cron and servers.
//!
//! `haul export` / `resume` / `history` / `cancel` (Bulk Data exports), `haul keys` (signing keys),
//! `haul storage` (object storage sign-ins), `haul convert` (NDJSON to Parquet), `haul tables` (SQL-on-FHIR
//! views to Parquet, CSV, Excel) and `haul sim` (the Bulk Data server simulator).

mod cancel;
mod compare;
mod config;
mod convert;
mod delta;
mod export;
mod keys;
mod network_args;
mod progress;
mod saved_servers;
mod schedule;
mod sim;
mod storage;
mod tables;
mod vacuum;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "haul", version, about = "FHIR Bulk Data exports without a window")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a Bulk Data server simulator on this computer (for trying Haul, tests and benchmarks).
    Sim(sim::SimArgs),
    /// Run a Bulk Data export into a folder or object storage: kickoff, wait, download, verify. Exit code 0 only when every file
    /// arrived and verified (3: completed with problems, 1: failed, 130: interrupted, resumable).
    Export(Box<export::ExportArgs>),
    /// Carry on with interrupted exports (all of them, or the one named).
    Resume(export::ResumeArgs),
    /// List earlier exports.
    History(export::HistoryArgs),
    /// Cancel an export (also tells the server).
    Cancel(cancel::CancelArgs),
    /// Convert NDJSON (an export folder) to Parquet, one table per resource type. Exit code 0 when every line
    /// converted, 3 when some lines were bad (left out, listed), 1 on failure, 130 when interrupted.
    Convert(convert::ConvertArgs),
    /// Flat tables from an export with SQL-on-FHIR views (built-in or your own ViewDefinition files), as
    /// Parquet, CSV or Excel. Exit code 0 when every view was written, 3 when some stopped (the others
    /// written), 1 when a view is invalid (nothing done), 130 when interrupted.
    Tables(tables::TablesArgs),
    /// Signing keys for SMART Backend Services (private keys stay in the OS keychain).
    Keys(keys::KeysArgs),
    /// Two exports of one server and group side by side: resources added, changed, deleted and gone per
    /// type, patients who joined and left.
    Compare(compare::CompareArgs),
    /// Repeat an export with the system's scheduler (systemd on Linux), each time only what changed.
    Schedule(schedule::ScheduleArgs),
    /// Run a schedule now, as the system's scheduler does.
    RunScheduled(schedule::RunScheduledArgs),
    /// The servers saved in the app (`haul export --server NAME` uses one).
    Servers(saved_servers::ServersArgs),
    /// Sign-ins for object storage (S3, Azure, Google Cloud Storage), as on the app's Storage page: the
    /// secret in the OS keychain.
    Storage(storage::StorageArgs),
    /// Remove the data files only older versions of Delta tables hold, once older than each table's retention
    /// (a week unless the table sets delta.deletedFileRetentionDuration), as an engine's VACUUM does.
    Vacuum(vacuum::VacuumArgs),
    /// Run an export declared in a config file (`[exports.NAME]`): for a server without a desktop, from cron
    /// or a systemd timer. The file names secret files or variables, never secrets.
    Run(config::RunArgs),
}

/// Haul's database in its data folder (`HAUL_DATA_DIR` or the platform's), as the app uses it.
fn open_db() -> Result<haul_store::Database, String> {
    let dir = haul_store::DataDir::locate().map_err(|e| e.to_string())?;
    dir.ensure_writable().map_err(|e| e.to_string())?;
    haul_store::Database::open(&dir.database_path()).map_err(|e| e.to_string())
}

/// `--out DIR`: a folder path, never a URL such as `s3://bucket/prefix` (export-jobs' one rule for it).
fn folder_arg(text: &str) -> Result<std::path::PathBuf, String> {
    let path = std::path::PathBuf::from(text);
    export_jobs::local_folder(&path).map_err(|e| e.to_string())?;
    Ok(path)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(8)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Sim(args) => sim::run(args).await.map(|()| 0),
            Command::Keys(args) => keys::run(args).map(|()| 0),
            Command::Convert(args) => convert::run(args).await,
            Command::Tables(args) => tables::run(args).await,
            Command::Export(args) => export::export(*args).await,
            Command::Resume(args) => export::resume(args).await,
            Command::History(args) => export::history(args),
            Command::Cancel(args) => cancel::run(args).await,
            Command::Servers(args) => saved_servers::run(args),
            Command::Storage(args) => storage::run(args).await,
            Command::Compare(args) => compare::run(args),
            Command::Schedule(args) => schedule::run(args),
            Command::RunScheduled(args) => schedule::run_scheduled(args).await,
            Command::Run(args) => config::run(args).await,
            Command::Vacuum(args) => vacuum::run(args).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            // Server text can reach an error: shown with its control characters escaped, line by line.
            let shown: Vec<String> = message.lines().map(|l| bulk_client::printable(l).into_owned()).collect();
            eprintln!("haul: {}", shown.join("\n"));
            ExitCode::FAILURE
        }
    }
}
