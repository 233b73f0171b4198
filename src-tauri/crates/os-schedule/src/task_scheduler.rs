//! Windows: a Task Scheduler task (`schtasks /Create`, under the `Haul\` folder). schtasks cannot set
//! environment variables, so the task runs `cmd /c set … && program args`. Written from Microsoft's schtasks
//! documentation; the arguments are tested on every system, creating the task only on Windows (not run by
//! Haul's CI).
#![cfg_attr(not(windows), allow(dead_code))]

use std::process::Command;

use crate::{Cadence, Installed, ScheduleError, ScheduledCommand};

pub(crate) fn task_name(name: &str) -> String {
    format!("Haul\\{name}")
}

/// The arguments of `schtasks` that create (or replace, `/F`) the task.
pub(crate) fn create_args(command: &ScheduledCommand) -> Vec<String> {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\\\""));
    let mut run: Vec<String> = command.env.iter().map(|(k, v)| format!("set \"{k}={v}\" &&")).collect();
    run.push(quote(&command.program.to_string_lossy()));
    run.extend(command.args.iter().map(|a| quote(a)));
    let action = format!("cmd /c {}", run.join(" "));
    let mut args: Vec<String> =
        vec!["/Create".into(), "/F".into(), "/TN".into(), task_name(&command.name), "/TR".into(), action];
    match command.cadence {
        Cadence::Daily => args.extend(["/SC".into(), "DAILY".into()]),
        Cadence::Weekly => args.extend(["/SC".into(), "WEEKLY".into(), "/D".into(), "MON".into()]),
        Cadence::Monthly => args.extend(["/SC".into(), "MONTHLY".into(), "/D".into(), "1".into()]),
    }
    args.extend(["/ST".into(), command.at.to_string()]);
    args
}

pub fn install(command: &ScheduledCommand) -> Result<Installed, ScheduleError> {
    match Command::new("schtasks").args(create_args(command)).output() {
        Ok(out) if out.status.success() => Ok(Installed::Active),
        Ok(out) => Err(ScheduleError::Refused(String::from_utf8_lossy(&out.stderr).trim().to_string())),
        Err(e) => Err(ScheduleError::Refused(e.to_string())),
    }
}

pub fn remove(name: &str) -> Result<(), ScheduleError> {
    // A task that is not there is already removed.
    let _ = Command::new("schtasks").args(["/Delete", "/F", "/TN", &task_name(name)]).output();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TimeOfDay;

    #[test]
    fn the_task_runs_monthly_on_the_first_with_the_data_folder_set() {
        let args = create_args(&ScheduledCommand {
            name: "haul-schedule-4".into(),
            description: "d".into(),
            program: r"C:\Program Files\Haul\haul.exe".into(),
            args: vec!["run-scheduled".into(), "4".into()],
            env: vec![("HAUL_DATA_DIR".into(), r"D:\Haul".into())],
            cadence: Cadence::Monthly,
            at: TimeOfDay { hour: 6, minute: 0 },
        });
        assert_eq!(args[3], r"Haul\haul-schedule-4");
        assert_eq!(
            args[5],
            r#"cmd /c set "HAUL_DATA_DIR=D:\Haul" && "C:\Program Files\Haul\haul.exe" "run-scheduled" "4""#
        );
        assert_eq!(&args[6..], ["/SC", "MONTHLY", "/D", "1", "/ST", "06:00"]);
    }
}
