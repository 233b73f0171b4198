//! Linux: a systemd user service (`Type=oneshot`, the command) and its timer (`OnCalendar`, `Persistent=true`
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]
//! so a run missed while the computer was off happens at the next start), in the user's unit folder, then
//! `systemctl --user daemon-reload` and `enable --now`. Without a user session (a server, CI) the files are
//! written and the caller is told how to turn the timer on.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Cadence, Installed, ScheduleError, ScheduledCommand, TimeOfDay};

/// `$XDG_CONFIG_HOME/systemd/user`, else `~/.config/systemd/user`.
pub fn user_unit_dir() -> PathBuf {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".config"));
    config.join("systemd").join("user")
}

/// systemd's calendar event for a cadence and time.
pub fn calendar(cadence: Cadence, at: TimeOfDay) -> String {
    match cadence {
        Cadence::Daily => format!("*-*-* {at}:00"),
        Cadence::Weekly => format!("Mon *-*-* {at}:00"),
        Cadence::Monthly => format!("*-*-01 {at}:00"),
    }
}

/// A value on an `ExecStart=` line: quoted, with systemd's escapes for `\`, `"`, `%` and `$`.
fn quoted(arg: &str) -> String {
    format!("\"{}\"", quoted_value(arg).replace('$', "$$"))
}

/// A quoted `Environment=` assignment's text: `$` means nothing there (no variable expansion), so only `\`,
/// `"` and the `%` of specifiers are escaped.
fn quoted_value(arg: &str) -> String {
    arg.replace('\\', "\\\\").replace('"', "\\\"").replace('%', "%%")
}

fn service(command: &ScheduledCommand) -> String {
    let mut exec = vec![quoted(&command.program.to_string_lossy())];
    exec.extend(command.args.iter().map(|a| quoted(a)));
    let env: String =
        command.env.iter().map(|(k, v)| format!("Environment=\"{}\"\n", quoted_value(&format!("{k}={v}")))).collect();
    format!(
        "[Unit]\nDescription={}\n\n[Service]\nType=oneshot\n{env}ExecStart={}\n",
        command.description,
        exec.join(" ")
    )
}

fn timer(command: &ScheduledCommand) -> String {
    format!(
        "[Unit]\nDescription={} ({})\n\n[Timer]\nOnCalendar={}\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n",
        command.description,
        command.cadence.describe(command.at),
        calendar(command.cadence, command.at)
    )
}

fn write(path: &Path, text: &str) -> Result<(), ScheduleError> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|source| ScheduleError::Write { path: parent.to_path_buf(), source })?;
    std::fs::write(path, text).map_err(|source| ScheduleError::Write { path: path.to_path_buf(), source })
}

/// `systemctl --user ARGS`; the error text when it failed or could not start.
fn systemctl(args: &[&str]) -> Result<(), String> {
    match Command::new("systemctl").arg("--user").args(args).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Writes the service and timer into `dir`; with `activate`, tells systemd.
pub fn install(dir: &Path, command: &ScheduledCommand, activate: bool) -> Result<Installed, ScheduleError> {
    write(&dir.join(format!("{}.service", command.name)), &service(command))?;
    write(&dir.join(format!("{}.timer", command.name)), &timer(command))?;
    if !activate {
        return Ok(Installed::WrittenOnly(format!(
            "Turn it on with: systemctl --user enable --now {}.timer",
            command.name
        )));
    }
    let timer_name = format!("{}.timer", command.name);
    match systemctl(&["daemon-reload"]).and_then(|()| systemctl(&["enable", "--now", &timer_name])) {
        Ok(()) => Ok(Installed::Active),
        Err(why) => Ok(Installed::WrittenOnly(format!(
            "The schedule is saved in {}, but systemd could not be told now ({why}). It starts with your next login, or run: systemctl --user enable --now {timer_name}",
            dir.display()
        ))),
    }
}

/// Stops and removes the timer and service named `name` from `dir`.
pub fn remove(dir: &Path, name: &str, deactivate: bool) -> Result<(), ScheduleError> {
    if deactivate {
        // Not running under systemd is fine: the files below are what would start it.
        let _ = systemctl(&["disable", "--now", &format!("{name}.timer")]);
    }
    for ext in ["timer", "service"] {
        let path = dir.join(format!("{name}.{ext}"));
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(ScheduleError::Remove { path, source }),
        }
    }
    if deactivate {
        let _ = systemctl(&["daemon-reload"]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command() -> ScheduledCommand {
        ScheduledCommand {
            name: "haul-schedule-3".into(),
            description: "Haul: ACO North, monthly".into(),
            program: PathBuf::from("/opt/Haul 1/haul"),
            args: vec!["run-scheduled".into(), "3".into()],
            env: vec![("HAUL_DATA_DIR".into(), "/home/ana/100% $team".into())],
            cadence: Cadence::Monthly,
            at: TimeOfDay { hour: 6, minute: 0 },
        }
    }

    #[test]
    fn units_say_when_and_what_with_systemds_quoting() {
        let dir = tempfile::tempdir().unwrap();
        install(dir.path(), &command(), false).unwrap();
        let service = std::fs::read_to_string(dir.path().join("haul-schedule-3.service")).unwrap();
        assert!(service.contains("ExecStart=\"/opt/Haul 1/haul\" \"run-scheduled\" \"3\""), "{service}");
        assert!(service.contains("Environment=\"HAUL_DATA_DIR=/home/ana/100%% $team\""), "{service}");
        let timer = std::fs::read_to_string(dir.path().join("haul-schedule-3.timer")).unwrap();
        assert!(timer.contains("OnCalendar=*-*-01 06:00:00") && timer.contains("Persistent=true"), "{timer}");
        remove(dir.path(), "haul-schedule-3", false).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        remove(dir.path(), "haul-schedule-3", false).unwrap();
    }

    #[test]
    fn calendars_for_each_cadence() {
        let at = TimeOfDay { hour: 18, minute: 30 };
        assert_eq!(calendar(Cadence::Daily, at), "*-*-* 18:30:00");
        assert_eq!(calendar(Cadence::Weekly, at), "Mon *-*-* 18:30:00");
        assert_eq!(calendar(Cadence::Monthly, at), "*-*-01 18:30:00");
    }
}
