//! Scheduled exports run by the operating system's own scheduler, so they happen while the app is closed:
//! a systemd user timer on Linux (tested), a launchd agent on macOS and a Task Scheduler task on Windows
//! (written to the same interface from their documentation, not run here). Each runs
//! `haul run-scheduled ID` at the chosen time; what runs, and its history, is Haul's (haul-store).

mod launchd;
mod systemd;
mod task_scheduler;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// How often a schedule runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Cadence {
    Daily,
    /// On Mondays.
    Weekly,
    /// On the first of the month.
    Monthly,
}

impl Cadence {
    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Daily => "daily",
            Cadence::Weekly => "weekly",
            Cadence::Monthly => "monthly",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "daily" => Some(Cadence::Daily),
            "weekly" => Some(Cadence::Weekly),
            "monthly" => Some(Cadence::Monthly),
            _ => None,
        }
    }

    /// "monthly on the 1st at 06:00", for people.
    pub fn describe(self, at: TimeOfDay) -> String {
        match self {
            Cadence::Daily => format!("daily at {at}"),
            Cadence::Weekly => format!("weekly on Mondays at {at}"),
            Cadence::Monthly => format!("monthly on the 1st at {at}"),
        }
    }
}

/// A local time of day, to the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeOfDay {
    pub hour: u8,
    pub minute: u8,
}

impl TimeOfDay {
    /// `"06:00"` → 06:00; anything else is a sentence saying what is expected.
    pub fn parse(s: &str) -> Result<Self, ScheduleError> {
        let bad = || ScheduleError::Time(s.to_string());
        let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
        let (hour, minute) = (h.parse::<u8>().map_err(|_| bad())?, m.parse::<u8>().map_err(|_| bad())?);
        if hour > 23 || minute > 59 || m.len() != 2 {
            return Err(bad());
        }
        Ok(Self { hour, minute })
    }
}

impl std::fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

/// What the scheduler runs: `program args…` with `env`, at `cadence`/`at`, under the name `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledCommand {
    /// Unique per schedule, letters, digits and dashes (`haul-schedule-3`).
    pub name: String,
    /// Shown in the scheduler's own lists.
    pub description: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Variables the run needs (`HAUL_DATA_DIR` when the app uses another data folder).
    pub env: Vec<(String, String)>,
    pub cadence: Cadence,
    pub at: TimeOfDay,
}

/// Whether the scheduler took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// Registered and active: it will run.
    Active,
    /// The definition is written, but the scheduler could not be told now (no user session, say); the
    /// sentence says how to turn it on.
    WrittenOnly(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "“{0}” is not a time of day. Write it as hours and minutes on a 24-hour clock, for example 06:00 or 18:30."
    )]
    Time(String),
    #[error("Haul could not write the schedule to {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("Haul could not remove the schedule {}: {source}", path.display())]
    Remove { path: PathBuf, source: std::io::Error },
    #[error("The system's scheduler refused the schedule: {0}")]
    Refused(String),
    #[error(
        "Scheduling is not available on this system ({0}). Use the system's own scheduler to run `haul run-scheduled ID`."
    )]
    Unsupported(&'static str),
}

/// Registers `command` with this system's scheduler (replacing one of the same name).
pub fn install(command: &ScheduledCommand) -> Result<Installed, ScheduleError> {
    platform::install(command)
}

/// Removes the schedule named `name` from this system's scheduler (nothing to remove is fine).
pub fn remove(name: &str) -> Result<(), ScheduleError> {
    platform::remove(name)
}

#[cfg(target_os = "linux")]
mod platform {
    use super::*;
    pub fn install(command: &ScheduledCommand) -> Result<Installed, ScheduleError> {
        systemd::install(&systemd::user_unit_dir(), command, true)
    }
    pub fn remove(name: &str) -> Result<(), ScheduleError> {
        systemd::remove(&systemd::user_unit_dir(), name, true)
    }
}

#[cfg(target_os = "macos")]
mod platform {
    pub use super::launchd::{install, remove};
}

#[cfg(windows)]
mod platform {
    pub use super::task_scheduler::{install, remove};
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
mod platform {
    use super::*;
    pub fn install(_: &ScheduledCommand) -> Result<Installed, ScheduleError> {
        Err(ScheduleError::Unsupported(std::env::consts::OS))
    }
    pub fn remove(_: &str) -> Result<(), ScheduleError> {
        Err(ScheduleError::Unsupported(std::env::consts::OS))
    }
}

pub use systemd::{calendar as systemd_calendar, install as install_systemd_units, remove as remove_systemd_units};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_are_read_strictly() {
        assert_eq!(TimeOfDay::parse(" 06:05 ").unwrap(), TimeOfDay { hour: 6, minute: 5 });
        for bad in ["6", "24:00", "06:60", "06:5", "six", ""] {
            assert!(TimeOfDay::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Cadence::Monthly.describe(TimeOfDay { hour: 6, minute: 0 }), "monthly on the 1st at 06:00");
    }
}
