//! `haul-desktop --run-scheduled ID`: what the system's scheduler starts for a schedule made in the window.
//! No window opens: the run is export-jobs' (`scheduled::run`), the same as `haul run-scheduled`, and its
//! progress goes to the log (the scheduler's journal).

use std::sync::{Arc, Mutex};

use bulk_client::HttpClient;
use export_jobs::ExportRunner;
use export_jobs::scheduled::{self, ScheduledRun};
use haul_store::{DataDir, Database, JobState};

/// The schedule named by `--run-scheduled ID` among the program's arguments, if any.
pub fn requested(args: &[String]) -> Option<Result<i64, String>> {
    let at = args.iter().position(|a| a == "--run-scheduled")?;
    Some(
        args.get(at + 1)
            .and_then(|id| id.parse::<i64>().ok())
            .ok_or_else(|| "--run-scheduled takes the schedule's number.".to_string()),
    )
}

/// Runs schedule `id` without a window; the process's exit code (0 done, 3 with problems, 1 failed).
pub fn run(id: i64) -> i32 {
    let result = (|| {
        let data = DataDir::locate().map_err(|e| e.to_string())?;
        let db = Database::open(&data.database_path()).map_err(|e| e.to_string())?;
        let runner = ExportRunner::new(Arc::new(Mutex::new(db)), HttpClient::new()).with_datasets(data.datasets_root());
        let sink: export_jobs::EventSink =
            Arc::new(|e: &export_jobs::JobEvent| tracing::info!(event = ?e, "scheduled run"));
        let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
        runtime.block_on(scheduled::run(&runner, &data, id, sink))
    })();
    match result {
        Ok(ScheduledRun::Skipped(why)) => {
            tracing::info!(schedule = id, "{why}");
            0
        }
        Ok(ScheduledRun::Ran(o)) => {
            tracing::info!(schedule = id, state = ?o.state, "{}", o.message);
            match o.state {
                JobState::Completed => 0,
                JobState::CompletedWithProblems => 3,
                _ => 1,
            }
        }
        Err(message) => {
            tracing::error!(schedule = id, "{message}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_read_from_the_arguments() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(requested(&args(&["haul-desktop"])), None);
        assert_eq!(requested(&args(&["haul-desktop", "--run-scheduled", "7"])), Some(Ok(7)));
        assert!(requested(&args(&["haul-desktop", "--run-scheduled"])).unwrap().is_err());
        assert!(requested(&args(&["haul-desktop", "--run-scheduled", "seven"])).unwrap().is_err());
    }
}
