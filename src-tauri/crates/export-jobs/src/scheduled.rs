//! Schedules, for the app and `haul` alike: adding one (recorded here, registered with the system's
//! scheduler through os-schedule) and running one (what the scheduler starts): an incremental export from
//! the newest complete one of the same request, into a new folder, never two runs of one schedule at once.

use std::path::PathBuf;

use haul_store::{DataDir, Database, RunOutcome, Schedule};
use os_schedule::{Cadence, Installed, ScheduledCommand, TimeOfDay};
use tokio_util::sync::CancellationToken;

use crate::plan::{ExportPlan, Since};
use crate::runner::{EventSink, ExportRunner, JobOutcome};

/// The name of schedule `id` in the system's scheduler.
pub fn scheduler_name(id: i64) -> String {
    format!("haul-schedule-{id}")
}

/// What runs a schedule: a program and the arguments before the schedule's number (`haul run-scheduled`,
/// or the app's `--run-scheduled`).
#[derive(Debug, Clone)]
pub struct Runs {
    pub program: PathBuf,
    pub args: Vec<String>,
}

/// A schedule added, and whether the system's scheduler took it (its sentence when it only could be written).
pub struct Added {
    pub schedule: Schedule,
    pub note: Option<String>,
}

/// Repeats export `export_id` `cadence` at `at` (`HH:MM`), run by `runs`. Nothing is kept when the system's
/// scheduler refuses it.
pub fn add(
    db: &Database,
    data: &DataDir,
    export_id: i64,
    cadence: Cadence,
    at: &str,
    runs: &Runs,
) -> Result<Added, String> {
    let at = TimeOfDay::parse(at).map_err(|e| e.to_string())?;
    let job = db
        .get_job(export_id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("There is no export {export_id} in Haul's history."))?;
    let schedule = db.add_schedule(job.id, cadence.as_str(), &at.to_string()).map_err(|e| e.to_string())?;
    let mut args = runs.args.clone();
    args.push(schedule.id.to_string());
    let command = ScheduledCommand {
        name: scheduler_name(schedule.id),
        description: format!("Haul: export {} again, {}", job.id, cadence.describe(at)),
        program: runs.program.clone(),
        args,
        // The run must use this data folder, whatever the scheduler's environment.
        env: vec![("HAUL_DATA_DIR".into(), data.root().display().to_string())],
        cadence,
        at,
    };
    match os_schedule::install(&command) {
        Ok(Installed::Active) => Ok(Added { schedule, note: None }),
        Ok(Installed::WrittenOnly(how)) => Ok(Added { schedule, note: Some(how) }),
        Err(e) => {
            db.remove_schedule(schedule.id).map_err(|e| e.to_string())?;
            Err(e.to_string())
        }
    }
}

/// Stops repeating: out of the system's scheduler, then out of Haul (its runs stay in the history).
pub fn remove(db: &Database, id: i64) -> Result<(), String> {
    os_schedule::remove(&scheduler_name(id)).map_err(|e| e.to_string())?;
    if !db.remove_schedule(id).map_err(|e| e.to_string())? {
        return Err(format!("There is no schedule {id}."));
    }
    Ok(())
}

/// How a scheduled run went.
pub enum ScheduledRun {
    /// The previous run of the schedule still held it.
    Skipped(String),
    Ran(JobOutcome),
}

/// Runs schedule `id` now, with `runner` (whose database is the data folder `data`'s). Every ending is
/// recorded on the schedule; a failed one is told by the app when it next opens.
pub async fn run(runner: &ExportRunner, data: &DataDir, id: i64, sink: EventSink) -> Result<ScheduledRun, String> {
    let record = |job: Option<i64>, outcome: RunOutcome, message: &str| {
        let db = runner.database().lock().expect("database lock");
        db.record_scheduled_run(id, job, outcome, message).map_err(|e| e.to_string())
    };
    let schedule = {
        let db = runner.database().lock().expect("database lock");
        db.get_schedule(id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("There is no schedule {id} (it was removed); remove its timer too."))?
    };
    let lock_path = data.root().join(format!("schedule-{id}.lock"));
    let lock = std::fs::File::create(&lock_path).map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let message = "Skipped: the previous run of this schedule was still going.";
            record(None, RunOutcome::Skipped, message)?;
            return Ok(ScheduledRun::Skipped(message.into()));
        }
        // A folder that cannot lock (some network homes): running anyway could let two runs write at once.
        Err(std::fs::TryLockError::Error(e)) => {
            let message = format!(
                "The schedule did not run: Haul cannot lock {} ({e}), which keeps two runs from overlapping. Keep Haul's data folder on a local disk.",
                lock_path.display()
            );
            record(None, RunOutcome::Failed, &message)?;
            return Err(message);
        }
    }
    let planned = {
        let db = runner.database().lock().expect("database lock");
        ExportPlan::rerun(&db, schedule.export_id, false).and_then(|mut plan| {
            // Each run continues from the newest complete one (the baseline rule), up to now: neither the
            // repeated export's `_since` nor its `_until` is kept.
            plan.request.since = None;
            plan.request.until = None;
            plan.since = Since::LastExport;
            plan.folder_note = Some("scheduled".into());
            let planned = plan.create(&db, &data.default_exports_root())?;
            db.set_job_schedule(planned.job.id, id)?;
            Ok(planned)
        })
    };
    let planned = match planned {
        Ok(p) => p,
        Err(e) => {
            let message = e.to_string();
            record(None, RunOutcome::Failed, &message)?;
            return Err(message);
        }
    };
    let job = planned.job.id;
    let outcome = runner.run(job, sink, CancellationToken::new()).await;
    let (result, message) = match &outcome {
        Ok(o) => {
            let result = match o.state {
                haul_store::JobState::Completed => RunOutcome::Completed,
                haul_store::JobState::CompletedWithProblems => RunOutcome::CompletedWithProblems,
                _ => RunOutcome::Failed,
            };
            (result, o.message.clone())
        }
        Err(e) => (RunOutcome::Failed, e.to_string()),
    };
    record(Some(job), result, &message)?;
    drop(lock);
    outcome.map(ScheduledRun::Ran).map_err(|e| e.to_string())
}
