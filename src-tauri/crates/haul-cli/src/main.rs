//! `haul`: Haul's jobs from a terminal, for automation, cron and servers.
//!
//! Today: `haul sim`, the Bulk Data server simulator. Exports (`haul export`, `resume`, `history`), keys and
//! conversion come with their issues; until then they are not listed here.

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Sim(args) => sim::run(args).await,
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
