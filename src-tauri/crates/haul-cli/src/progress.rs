//! How `haul export` and `resume` show a running export: progress bars on a terminal, one line per event
//! otherwise, and the outcome's totals; anything a server wrote made safe for the terminal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulk_client::printable;
use export_jobs::wording::{bytes as human_bytes, duration as human_duration};
use export_jobs::{EventSink, JobEvent, JobOutcome};
use haul_store::JobState;
use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

pub fn print_outcome(o: &JobOutcome) {
    for t in &o.totals {
        eprintln!(
            "  {:<28} {:>10} resources  {:>9}  ({} files)",
            printable(&t.resource_type),
            t.resources,
            human_bytes(t.bytes),
            t.files
        );
    }
    // The headline first, then the technical detail under it.
    eprintln!("{}", printable(&o.message));
    if let Some(f) = &o.failure
        && let Some(d) = &f.detail
    {
        eprintln!("  detail: {}", printable(d));
    }
    if o.state == JobState::Failed {
        eprintln!("`haul resume {}` tries again what can be tried again.", o.id);
    }
}

/// One line per event, with anything a server wrote made safe for the terminal (no escape sequences).
fn event_line(e: &JobEvent) -> Option<String> {
    event_text(e).map(|line| printable(&line).into_owned())
}

fn event_text(e: &JobEvent) -> Option<String> {
    Some(match e {
        JobEvent::State { state } => format!("state: {}", state.label()),
        JobEvent::KickedOff { status_url } => format!("kicked off; status at {status_url}"),
        JobEvent::Progress { text } => format!("server working: {}", text.as_deref().unwrap_or("(no progress text)")),
        JobEvent::Waiting { reason, seconds } => {
            format!("waiting {}: {reason}", human_duration(Duration::from_secs_f64(*seconds)))
        }
        JobEvent::Warning { message } => format!("warning: {message}"),
        JobEvent::Manifest { files, transaction_time, expires } => {
            let until = expires.as_deref().map(|e| format!("; the server keeps them until {e}")).unwrap_or_default();
            format!("manifest: {files} files, transactionTime {transaction_time}{until}")
        }
        JobEvent::FileStarted { name, resume_from, .. } if *resume_from > 0 => {
            format!("download {name} (resuming at byte {resume_from})")
        }
        JobEvent::FileStarted { name, .. } => format!("download {name}"),
        JobEvent::FileProgress { .. } => return None,
        JobEvent::FileVerified { name, resources, bytes, bad_lines, .. } => {
            let bad = if *bad_lines > 0 { format!(", {bad_lines} bad lines quarantined") } else { String::new() };
            format!("verified {name}: {resources} resources, {}{bad}", human_bytes(*bytes))
        }
        JobEvent::FileFailed { name, message, .. } => format!("FAILED {name}: {message}"),
        JobEvent::Finished { .. } => return None,
    })
}

pub fn plain_lines() -> EventSink {
    Arc::new(|e: &JobEvent| {
        if let Some(line) = event_line(e) {
            eprintln!("{line}");
        }
    })
}

pub(crate) fn bars() -> EventSink {
    let multi = MultiProgress::new();
    let status = multi.add(ProgressBar::new_spinner());
    status.set_style(ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}").expect("valid template"));
    status.enable_steady_tick(Duration::from_millis(120));
    let style =
        ProgressStyle::with_template("  {prefix:<28} {bar:30} {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12}")
            .expect("valid template");
    let files: Mutex<HashMap<u32, ProgressBar>> = Mutex::new(HashMap::new());
    Arc::new(move |e: &JobEvent| {
        let mut files = files.lock().expect("bars lock");
        match e {
            JobEvent::FileStarted { seq, name, resume_from, .. } => {
                let bar = multi.add(ProgressBar::new(0));
                bar.set_style(style.clone());
                bar.set_prefix(name.clone());
                bar.set_position(*resume_from);
                files.insert(*seq, bar);
            }
            JobEvent::FileProgress { seq, bytes, total } => {
                if let Some(bar) = files.get(seq) {
                    bar.set_length(total.unwrap_or(*bytes).max(*bytes));
                    bar.set_position(*bytes);
                }
            }
            JobEvent::FileVerified { seq, .. } | JobEvent::FileFailed { seq, .. } => {
                if let Some(bar) = files.remove(seq) {
                    bar.finish_and_clear();
                    multi.remove(&bar);
                }
                if let Some(line) = event_line(e) {
                    let _ = multi.println(line);
                }
            }
            JobEvent::Progress { text } => status.set_message(
                text.as_deref().map(|t| printable(t).into_owned()).unwrap_or_else(|| "server working".into()),
            ),
            JobEvent::State { state } => status.set_message(state.label()),
            JobEvent::Finished { .. } => status.finish_and_clear(),
            other => {
                if let Some(line) = event_line(other) {
                    let _ = multi.println(line);
                }
            }
        }
    })
}

/// The bar of a conversion (convert, tables, Delta) on a terminal: bytes read of `total`; none when stderr
/// is not a terminal (a log file gets the summary only).
pub fn bytes_bar(total: u64) -> Option<ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{msg:32} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
                .expect("template")
                .progress_chars("=> "),
        );
        bar
    })
}
