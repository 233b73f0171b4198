//! macOS: a launchd agent (`~/Library/LaunchAgents/org.haul.<name>.plist`, `StartCalendarInterval`) loaded
//! with `launchctl bootstrap gui/<uid>`. Written from Apple's launchd.plist(5); the text is tested on every
//! system, loading it only on a Mac (not run by Haul's CI).
#![cfg_attr(not(target_os = "macos"), allow(dead_code))]

use std::path::PathBuf;
use std::process::Command;

use crate::{Cadence, Installed, ScheduleError, ScheduledCommand};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

pub(crate) fn label(name: &str) -> String {
    format!("org.haul.{name}")
}

fn plist_path(name: &str) -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
        .join("Library/LaunchAgents")
        .join(format!("{}.plist", label(name)))
}

pub(crate) fn plist(command: &ScheduledCommand) -> String {
    let args: String = std::iter::once(command.program.to_string_lossy().into_owned())
        .chain(command.args.iter().cloned())
        .map(|a| format!("    <string>{}</string>\n", escape(&a)))
        .collect();
    let env: String = command
        .env
        .iter()
        .map(|(k, v)| format!("    <key>{}</key>\n    <string>{}</string>\n", escape(k), escape(v)))
        .collect();
    let day = match command.cadence {
        Cadence::Daily => String::new(),
        Cadence::Weekly => "    <key>Weekday</key>\n    <integer>1</integer>\n".into(),
        Cadence::Monthly => "    <key>Day</key>\n    <integer>1</integer>\n".into(),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n  <key>Label</key>\n  <string>{}</string>\n  <key>ProgramArguments</key>\n  <array>\n{args}  </array>\n  <key>EnvironmentVariables</key>\n  <dict>\n{env}  </dict>\n  <key>StartCalendarInterval</key>\n  <dict>\n{day}    <key>Hour</key>\n    <integer>{}</integer>\n    <key>Minute</key>\n    <integer>{}</integer>\n  </dict>\n</dict>\n</plist>\n",
        escape(&label(&command.name)),
        command.at.hour,
        command.at.minute
    )
}

fn uid() -> String {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

pub fn install(command: &ScheduledCommand) -> Result<Installed, ScheduleError> {
    let path = plist_path(&command.name);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| ScheduleError::Write { path: dir.to_path_buf(), source })?;
    }
    std::fs::write(&path, plist(command)).map_err(|source| ScheduleError::Write { path: path.clone(), source })?;
    let domain = format!("gui/{}", uid());
    // Loading twice fails; unload an earlier version first (absent is fine).
    let _ = Command::new("launchctl").args(["bootout", &domain]).arg(&path).output();
    match Command::new("launchctl").args(["bootstrap", &domain]).arg(&path).output() {
        Ok(out) if out.status.success() => Ok(Installed::Active),
        Ok(out) => Err(ScheduleError::Refused(String::from_utf8_lossy(&out.stderr).trim().to_string())),
        Err(e) => Err(ScheduleError::Refused(e.to_string())),
    }
}

pub fn remove(name: &str) -> Result<(), ScheduleError> {
    let path = plist_path(name);
    let _ = Command::new("launchctl").args(["bootout", &format!("gui/{}", uid())]).arg(&path).output();
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ScheduleError::Remove { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TimeOfDay;

    #[test]
    fn the_agent_runs_the_command_weekly_on_mondays() {
        let text = plist(&ScheduledCommand {
            name: "haul-schedule-2".into(),
            description: "d".into(),
            program: "/Applications/Haul.app/Contents/MacOS/haul".into(),
            args: vec!["run-scheduled".into(), "2".into()],
            env: vec![("HAUL_DATA_DIR".into(), "/Users/ana/R&D".into())],
            cadence: Cadence::Weekly,
            at: TimeOfDay { hour: 7, minute: 15 },
        });
        assert!(text.contains("<string>org.haul.haul-schedule-2</string>"));
        assert!(text.contains("<string>run-scheduled</string>\n    <string>2</string>"));
        assert!(text.contains("<string>/Users/ana/R&amp;D</string>"));
        assert!(text.contains("<key>Weekday</key>\n    <integer>1</integer>"));
        assert!(
            text.contains(
                "<key>Hour</key>\n    <integer>7</integer>\n    <key>Minute</key>\n    <integer>15</integer>"
            )
        );
    }
}
