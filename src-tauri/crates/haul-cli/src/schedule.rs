//! `haul schedule add|list|remove` and `haul run-scheduled ID`: an export repeated by the operating system's
//! scheduler (os-schedule), each run "only what changed since the last export" of the same request, into a
//! new folder, recorded in the history as a scheduled run. Two runs of one schedule never overlap: a lock
//! file in the data folder makes the second one skip, and say so.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use export_jobs::{ExportPlan, JobOutcome, Since};
use haul_store::{DataDir, JobState, RunOutcome};
use os_schedule::{Cadence, Installed, ScheduledCommand, TimeOfDay};

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

fn name(id: i64) -> String {
    format!("haul-schedule-{id}")
}

pub fn run(args: ScheduleArgs) -> Result<u8, String> {
    let db = open_db()?;
    match args.command {
        ScheduleCommand::Add { export, every, at } => {
            let at = TimeOfDay::parse(&at).map_err(|e| e.to_string())?;
            let job = db
                .get_job(export)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("There is no export {export} in Haul's history (see `haul history`)."))?;
            let schedule = db.add_schedule(job.id, every.as_str(), &at.to_string()).map_err(|e| e.to_string())?;
            let program = std::env::current_exe().map_err(|e| format!("Haul cannot find its own program: {e}"))?;
            // The run must use this data folder, whatever its environment.
            let data = DataDir::locate().map_err(|e| e.to_string())?;
            let command = ScheduledCommand {
                name: name(schedule.id),
                description: format!("Haul: export {} again, {}", job.id, every.describe(at)),
                program,
                args: vec!["run-scheduled".into(), schedule.id.to_string()],
                env: vec![("HAUL_DATA_DIR".into(), data.root().display().to_string())],
                cadence: every,
                at,
            };
            match os_schedule::install(&command) {
                Ok(Installed::Active) => {
                    println!("Schedule {}: export {} again {}.", schedule.id, job.id, every.describe(at))
                }
                Ok(Installed::WrittenOnly(how)) => {
                    println!("Schedule {}: export {} again {}. {how}", schedule.id, job.id, every.describe(at))
                }
                Err(e) => {
                    db.remove_schedule(schedule.id).map_err(|e| e.to_string())?;
                    return Err(e.to_string());
                }
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
            os_schedule::remove(&name(id)).map_err(|e| e.to_string())?;
            if !db.remove_schedule(id).map_err(|e| e.to_string())? {
                return Err(format!("There is no schedule {id} (see `haul schedule list`)."));
            }
            println!("Schedule {id} removed; its runs stay in the history.");
        }
    }
    Ok(EXIT_OK)
}

/// What the system's scheduler runs. Exit codes as `haul export`'s.
pub async fn run_scheduled(args: RunScheduledArgs) -> Result<u8, String> {
    let db = open_db()?;
    let schedule = db
        .get_schedule(args.id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("There is no schedule {} (it was removed); remove its timer too.", args.id))?;
    let data = DataDir::locate().map_err(|e| e.to_string())?;
    let lock_path: PathBuf = data.root().join(format!("schedule-{}.lock", schedule.id));
    let lock = std::fs::File::create(&lock_path).map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let message = "Skipped: the previous run of this schedule was still going.";
            db.record_scheduled_run(schedule.id, None, RunOutcome::Skipped, message).map_err(|e| e.to_string())?;
            eprintln!("{message}");
            return Ok(EXIT_OK);
        }
        // A folder that cannot lock (some network homes): running anyway could let two runs write at once.
        Err(std::fs::TryLockError::Error(e)) => {
            let message = format!(
                "The schedule did not run: Haul cannot lock {} ({e}), which keeps two runs from overlapping. Keep Haul's data folder on a local disk.",
                lock_path.display()
            );
            db.record_scheduled_run(schedule.id, None, RunOutcome::Failed, &message).map_err(|e| e.to_string())?;
            return Err(message);
        }
    }
    let planned = (|| {
        let mut plan = ExportPlan::rerun(&db, schedule.export_id, false)?;
        // Each run continues from the newest complete one (the baseline rule), not from the first.
        // …and up to now: an `_until` of the export it repeats would fence every run into the same past.
        plan.request.since = None;
        plan.request.until = None;
        plan.since = Since::LastExport;
        plan.folder_note = Some("scheduled".into());
        plan.create(&db, &data.default_exports_root())
    })();
    let planned = match planned {
        Ok(p) => p,
        Err(e) => {
            let message = e.to_string();
            db.record_scheduled_run(schedule.id, None, RunOutcome::Failed, &message).map_err(|e| e.to_string())?;
            return Err(message);
        }
    };
    let id = planned.job.id;
    db.set_job_schedule(id, schedule.id).map_err(|e| e.to_string())?;
    for note in &planned.notes {
        eprintln!("Note: {note}");
    }
    let runner = crate::export::plain_runner(db);
    let outcome: Result<JobOutcome, String> = crate::export::run_to_end(&runner, id).await;
    let db = runner.database().lock().expect("database lock");
    let (result, code) = match &outcome {
        Ok(o) if o.state == JobState::Completed => (RunOutcome::Completed, EXIT_OK),
        Ok(o) if o.state == JobState::CompletedWithProblems => (RunOutcome::CompletedWithProblems, EXIT_PROBLEMS),
        _ => (RunOutcome::Failed, EXIT_FAILED),
    };
    let message = match &outcome {
        Ok(o) => o.message.clone(),
        Err(e) => e.clone(),
    };
    db.record_scheduled_run(schedule.id, Some(id), result, &message).map_err(|e| e.to_string())?;
    drop(lock);
    Ok(code)
}
