//! `haul`: Haul's jobs from a terminal, for automation, cron and servers.
//!
//! Today: `haul sim` (the Bulk Data server simulator) and `haul keys` (signing keys). Exports (`haul export`,
//! `resume`, `history`) and conversion come with their issues; until then they are not listed here.

mod keys;
mod sim;

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
    /// Signing keys for SMART Backend Services (private keys stay in the OS keychain).
    Keys(keys::KeysArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Sim(args) => sim::run(args).await,
            Command::Keys(args) => keys::run(args),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("haul: {message}");
            ExitCode::FAILURE
        }
    }
}
