//! The end of a job: what arrived, what did not, what the server said went wrong; DELETE only after a clean
//! completion (every file verified whole, counts as announced, nothing set aside), since DELETE tells the
//! server it may drop what may be the only complete copy; `haul-report.json` with what became of each file.

use std::collections::HashMap;

use haul_store::jobs::FILE_EXPIRED;
use haul_store::{FileKind, FileRecord, FileState, JobFailure, JobRecord, JobState};
use serde_json::{Value, json};

use super::context::{Ctx, Stop, io_failure};
use super::events::JobEvent;
use crate::verify::Verified;
use crate::wording;

/// Sums up a job whose downloads have all ended: completed (with or without problems) or failed.
pub(super) async fn sum_up(
    ctx: &Ctx,
    job: &JobRecord,
    status_url: &str,
    summaries: HashMap<u32, Verified>,
) -> Result<(JobState, Vec<String>), Stop> {
    let files = ctx.db(|db| db.job_files(ctx.id))?;
    let mut problems = Vec::new();
    let lost: Vec<&FileRecord> = files.iter().filter(|f| f.state != FileState::Verified).collect();
    for f in files.iter().filter(|f| f.state == FileState::Verified) {
        if f.bad_lines > 0 {
            problems.push(format!(
                "{}: {} not valid {} and set aside in quarantine/{}.",
                f.name,
                if f.bad_lines == 1 {
                    "1 line was".to_string()
                } else {
                    format!("{} were", wording::count(f.bad_lines, "line"))
                },
                f.resource_type,
                f.name
            ));
        }
        if f.kind == FileKind::Output
            && let (Some(expected), Some(got)) = (f.expected_count, f.resources)
            && expected != got
        {
            problems.push(format!("{}: the server announced {expected} resources; {got} arrived.", f.name));
        }
    }
    let mut errors = 0;
    let mut first_errors = Vec::new();
    for s in summaries.values() {
        errors += s.issues.fatal_or_error;
        first_errors.extend(s.issues.first_errors.iter().cloned());
    }
    if errors > 0 {
        first_errors.truncate(3);
        problems.push(format!(
            "The server reported {} in its error files (see error/): {}",
            wording::count(errors, "error"),
            first_errors.join("; ")
        ));
    }
    if !lost.is_empty() {
        // Each file once, briefly: a server that refuses ten thousand files does not make a message of megabytes
        // (every file's own error stays in haul-report.json).
        let mut list: Vec<String> = lost
            .iter()
            .take(LOST_NAMED)
            .map(|f| {
                let why: String = f.error.as_deref().unwrap_or("not downloaded").chars().take(1000).collect();
                format!("{} ({why})", f.name)
            })
            .collect();
        if lost.len() > LOST_NAMED {
            list.push(format!("and {} more (see haul-report.json)", lost.len() - LOST_NAMED));
        }
        let failure = JobFailure {
            kind: if lost.iter().any(|f| f.is_expired()) { FILE_EXPIRED.into() } else { "download".into() },
            message: format!(
                "{} of {} files could not be downloaded, so this export is incomplete: {}. The files that did arrive are verified and kept. Haul did not tell the server to delete its copy: resume the export to try the missing files again.",
                lost.len(),
                files.len(),
                list.join(", ")
            ),
            detail: None,
        };
        write_report(ctx, &files, JobState::Failed)?;
        return Err(Stop::Failed(failure));
    }
    let unclean = files.iter().any(|f| f.bad_lines > 0)
        || files.iter().any(|f| {
            f.kind == FileKind::Output && matches!((f.expected_count, f.resources), (Some(e), Some(g)) if e != g)
        });
    if job.settings.delete_after {
        if unclean {
            problems.push(
                "Haul did not tell the server to delete its files, because what arrived is not exactly what the server listed (see above). Its copy stays until it expires: download it again with a new export, or delete it on the server once you have what you need.".to_string(),
            );
        } else if let Err(e) = ctx.session.delete(status_url).await {
            ctx.emit(JobEvent::Warning {
                message: format!("Every file is safe, but the server did not accept the request to release them: {e}"),
            });
        }
    }
    let state = if problems.is_empty() { JobState::Completed } else { JobState::CompletedWithProblems };
    ctx.db(|db| db.finish_job(ctx.id, state, &problems, None))?;
    write_report(ctx, &files, state)?;
    Ok((state, problems))
}

/// Lost files named in a failed export's message.
const LOST_NAMED: usize = 10;

/// `haul-report.json`: what Haul did with each file of the manifest (the manifest itself is kept as received).
pub(super) fn write_report(ctx: &Ctx, files: &[FileRecord], state: JobState) -> Result<(), Stop> {
    let files: Vec<Value> = files
        .iter()
        .map(|f| {
            json!({"url": f.url, "file": f.name, "type": f.resource_type, "state": f.state,
                   "resources": f.resources, "expected": f.expected_count, "bytes": f.bytes_done,
                   "badLines": f.bad_lines, "error": f.error})
        })
        .collect();
    let value = json!({"exportId": ctx.id, "state": state, "files": files});
    let path = ctx.folder.report();
    let tmp = path.with_extension("json.tmp");
    let text = ctx.session.secrets().redact(&serde_json::to_string_pretty(&value).expect("JSON values serialize"));
    std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &path)).map_err(|e| io_failure("write", &path, &e))
}
