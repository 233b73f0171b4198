//! `haul schedule add|list|remove` and `haul run-scheduled ID`: an export repeated by the operating system's
//! scheduler (os-schedule), each run "only what changed since the last export" of the same request, into a
//! new folder, recorded in the history as a scheduled run. Two runs of one schedule never overlap: a lock
//! file in the data folder makes the second one skip, and say so.

use clap::{Args, Subcommand};
use export_jobs::scheduled::{self, Runs, ScheduledRun};
use haul_store::{DataDir, JobState};
use os_schedule::{Cadence, TimeOfDay};

use crate::export::{EXIT_FAILED, EXIT_OK, EXIT_PROBLEMS};
use crate::open_db;

#[derive(Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    command: ScheduleCommand,
}

#[derive(Subcommand)]
enum ScheduleCommand {
    /// Repeat an export (its server, request and settings) with the system's scheduler, each time only what
    /// changed since the last one.
    Add {
        /// The export to repeat (`haul history`).
        export: i64,
        /// daily, weekly (Mondays) or monthly (the 1st).
        #[arg(long, value_name = "daily|weekly|monthly", value_parser = cadence)]
        every: Cadence,
        /// The time of day, 24-hour clock (this computer's time zone).
        #[arg(long, value_name = "HH:MM", default_value = "06:00")]
        at: String,
    },
    /// The schedules and how each one's last run went.
    List,
    /// Stop repeating (the past runs stay in the history).
    Remove { id: i64 },
}

#[derive(Args)]
pub struct RunScheduledArgs {
    /// The schedule (`haul schedule list`).
    id: i64,
}

fn cadence(s: &str) -> Result<Cadence, String> {
    Cadence::parse(s).ok_or_else(|| format!("“{s}” is not daily, weekly or monthly."))
}

pub fn run(args: ScheduleArgs) -> Result<u8, String> {
    let db = open_db()?;
    match args.command {
        ScheduleCommand::Add { export, every, at } => {
            let data = DataDir::locate().map_err(|e| e.to_string())?;
            let program = std::env::current_exe().map_err(|e| format!("Haul cannot find its own program: {e}"))?;
            let runs = Runs { program, args: vec!["run-scheduled".into()] };
            let added = scheduled::add(&db, &data, export, every, &at, &runs)?;
            let (s, when) = (&added.schedule, every.describe(TimeOfDay::parse(&at).map_err(|e| e.to_string())?));
            match added.note {
                None => println!("Schedule {}: export {} again {when}.", s.id, s.export_id),
                Some(how) => println!("Schedule {}: export {} again {when}. {how}", s.id, s.export_id),
            }
        }
        ScheduleCommand::List => {
            let schedules = db.list_schedules().map_err(|e| e.to_string())?;
            if schedules.is_empty() {
                println!("No schedules. Add one with: haul schedule add EXPORT --every monthly --at 06:00");
            }
            for s in schedules {
                let last = match (&s.last_run_at, &s.last_message) {
                    (Some(when), Some(what)) => format!("last run {when}: {what}"),
                    _ => "not run yet".into(),
                };
                println!("{}  export {} again, {} at {}  ({last})", s.id, s.export_id, s.cadence, s.at);
            }
        }
        ScheduleCommand::Remove { id } => {
            scheduled::remove(&db, id)?;
            println!("Schedule {id} removed; its runs stay in the history.");
        }
    }
    Ok(EXIT_OK)
}

/// What the system's scheduler runs. Exit codes as `haul export`'s.
pub async fn run_scheduled(args: RunScheduledArgs) -> Result<u8, String> {
    let data = DataDir::locate().map_err(|e| e.to_string())?;
    let runner = crate::export::plain_runner(open_db()?);
    match scheduled::run(&runner, &data, args.id, crate::export::plain_lines()).await? {
        ScheduledRun::Skipped(why) => {
            eprintln!("{why}");
            Ok(EXIT_OK)
        }
        ScheduledRun::Ran(outcome) => {
            crate::export::print_outcome(&outcome);
            Ok(match outcome.state {
                JobState::Completed => EXIT_OK,
                JobState::CompletedWithProblems => EXIT_PROBLEMS,
                _ => EXIT_FAILED,
            })
        }
    }
}
