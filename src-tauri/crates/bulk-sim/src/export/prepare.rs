//! The job behind a kickoff: writes the export's files to its folder, then the manifest that lists them
//! (`manifest::render`).

use std::collections::{BTreeMap, HashSet};
use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::manifest::{self, Contents, Manifest, OutputFile};
use super::request::{ExportRequest, TypeFilter};
use super::selection::{matches_filter, subset, updated_after, updated_until};
use super::{Job, Level};
use crate::source::{GroupDef, Scope};
use crate::{Sim, hostile, outcome};

/// One type's output: files of at most `per_file` resources.
struct TypeOutput {
    resource_type: String,
    files: Vec<(String, u64)>,
    current: Option<BufWriter<std::fs::File>>,
    in_current: u64,
    malformed_left: u32,
}

pub(super) fn prepare(
    sim: &Sim,
    job: &Job,
    level: Level,
    group: Option<&GroupDef>,
    request: &ExportRequest,
    request_url: &str,
    transaction_time: &str,
) -> Result<Manifest, String> {
    // One snapshot: the files and the manifest follow the faults as they were at the start.
    let faults = sim.faults().clone();
    let (failing, malformed) = (&faults.failing_types, faults.malformed_lines);
    let available: HashSet<String> = sim.source.types().into_iter().collect();
    let requested: Vec<String> = match &request.types {
        Some(types) => types.clone(),
        None => sim.source.types(),
    };
    let wanted: HashSet<String> =
        requested.iter().filter(|t| available.contains(*t)).filter(|t| !failing.contains(t)).cloned().collect();
    let scope =
        Scope { system: matches!(level, Level::System), group, patients: request.patients.clone(), at: job.at.clone() };
    let per_file = sim.config.resources_per_file.max(1);
    let mut outputs: BTreeMap<String, TypeOutput> = BTreeMap::new();
    let mut written = 0u64;
    let mut io_error: Option<String> = None;
    let mut write = |t: &str, resource: Value| -> ControlFlow<()> {
        if job.cancelled.load(Ordering::Relaxed) {
            return ControlFlow::Break(());
        }
        if let Some(since) = request.since
            && !updated_after(&resource, since)
        {
            return ControlFlow::Continue(());
        }
        if let Some(until) = request.until
            && !updated_until(&resource, until)
        {
            return ControlFlow::Continue(());
        }
        let filters: Vec<&TypeFilter> = request.type_filters.iter().filter(|f| f.resource_type == t).collect();
        if !filters.is_empty() && !filters.iter().any(|f| matches_filter(&resource, f)) {
            return ControlFlow::Continue(());
        }
        let resource = if request.elements.is_empty() { resource } else { subset(resource, t, &request.elements) };
        let out = outputs.entry(t.to_string()).or_insert_with(|| TypeOutput {
            resource_type: t.to_string(),
            files: Vec::new(),
            current: None,
            in_current: 0,
            malformed_left: malformed,
        });
        if let Err(e) = write_resource(&job.dir, out, &resource, per_file) {
            io_error = Some(e);
            return ControlFlow::Break(());
        }
        written += 1;
        if written.is_multiple_of(5000) {
            *job.progress.lock().unwrap() = format!("Writing {t}: {written} resources so far");
        }
        ControlFlow::Continue(())
    };
    sim.source.each_resource(&scope, &|t| wanted.contains(t), &mut write)?;
    if let Some(e) = io_error {
        return Err(e);
    }
    if job.cancelled.load(Ordering::Relaxed) {
        return Err("cancelled".into());
    }
    if faults.fail_export {
        return Err("The export failed on the server (simulated fault)".into());
    }
    let mut output = Vec::new();
    for out in outputs.values_mut() {
        if let Some(mut w) = out.current.take() {
            w.flush().map_err(|e| e.to_string())?;
        }
        for (name, count) in &out.files {
            output.push(OutputFile { resource_type: out.resource_type.clone(), name: name.clone(), count: *count });
        }
    }
    let echo = job.authorization.as_deref().filter(|_| faults.echo_authorization);
    // Problems go to an OperationOutcome file in error[].
    let mut issues: Vec<Value> = Vec::new();
    for t in requested.iter().filter(|t| failing.contains(t)) {
        let why = format!("The {t} export failed on the server (simulated fault)");
        let why = match echo {
            Some(auth) => hostile::echoed(&why, auth),
            None => why,
        };
        issues.push(outcome::body("error", "processing", &why));
    }
    for why in &request.ignored {
        issues.push(outcome::body("warning", "not-supported", why));
    }
    let mut errors = Vec::new();
    if !issues.is_empty() {
        let name = "error-OperationOutcome-1.ndjson".to_string();
        write_lines(&job.dir.join(&name), &issues)?;
        errors.push(name);
    }
    let mut deleted = Vec::new();
    if let Some(since) = request.since {
        let entries = if scope.at.is_empty() {
            deletions(sim, &scope, &wanted)
        } else {
            deleted_since(sim, &scope, &wanted, since, request.until)
        };
        if !entries.is_empty() {
            let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
            let name = "deleted-Bundle-1.ndjson".to_string();
            write_lines(&job.dir.join(&name), &[bundle])?;
            deleted.push(name);
        }
    }
    // The status endpoint keeps answering 202 for at least the configured preparation time.
    let elapsed = job.started.elapsed();
    if elapsed < sim.config.prepare_time {
        let deadline = Instant::now() + (sim.config.prepare_time - elapsed);
        while Instant::now() < deadline {
            if job.cancelled.load(Ordering::Relaxed) {
                return Err("cancelled".into());
            }
            *job.progress.lock().unwrap() = format!("Finishing: {written} resources written");
            std::thread::sleep(Duration::from_millis(20).min(deadline - Instant::now()));
        }
    }
    let contents = Contents { transaction_time, request_url, output, error: errors, deleted };
    manifest::render(sim, &job.id, &faults, contents).map_err(|e| format!("cannot write the manifest: {e}"))
}

fn write_resource(dir: &std::path::Path, out: &mut TypeOutput, resource: &Value, per_file: u64) -> Result<(), String> {
    if out.current.is_none() || out.in_current >= per_file {
        if let Some(mut w) = out.current.take() {
            w.flush().map_err(|e| e.to_string())?;
        }
        let name = format!("{}-{}.ndjson", out.resource_type, out.files.len() + 1);
        let file = std::fs::File::create(dir.join(&name)).map_err(|e| e.to_string())?;
        out.current = Some(BufWriter::with_capacity(256 * 1024, file));
        out.files.push((name, 0));
        out.in_current = 0;
    }
    let w = out.current.as_mut().expect("opened above");
    serde_json::to_writer(&mut *w, resource).map_err(|e| e.to_string())?;
    w.write_all(b"\n").map_err(|e| e.to_string())?;
    out.in_current += 1;
    if let Some(last) = out.files.last_mut() {
        last.1 += 1;
    }
    // Malformed lines go into the first file, after its first resource, and are not counted.
    if out.files.len() == 1 && out.malformed_left > 0 {
        let line = if out.malformed_left % 2 == 1 {
            format!("{{\"resourceType\": \"{}\", \"id\": \"broken-{}\", ", out.resource_type, out.malformed_left)
        } else {
            "this line is not JSON at all".to_string()
        };
        w.write_all(line.as_bytes()).and_then(|_| w.write_all(b"\n")).map_err(|e| e.to_string())?;
        out.malformed_left -= 1;
    }
    Ok(())
}

fn write_lines(path: &std::path::Path, values: &[Value]) -> Result<(), String> {
    let mut w = BufWriter::new(std::fs::File::create(path).map_err(|e| e.to_string())?);
    for v in values {
        serde_json::to_writer(&mut w, v).map_err(|e| e.to_string())?;
        w.write_all(b"\n").map_err(|e| e.to_string())?;
    }
    w.flush().map_err(|e| e.to_string())
}

fn delete_entry(resource_type: &str, id: &str) -> Value {
    json!({"request": {"method": "DELETE", "url": format!("{resource_type}/{id}")}})
}

/// The timeline's deletions in scope after `since` (and not after `until`). Patients who only left the group
/// are not listed: they are simply no longer in it, as the IG has it.
fn deleted_since(
    sim: &Sim,
    scope: &Scope<'_>,
    wanted: &HashSet<String>,
    since: OffsetDateTime,
    until: Option<OffsetDateTime>,
) -> Vec<Value> {
    let mut entries = Vec::new();
    sim.source.each_deletion(scope, &|t| wanted.contains(t), &mut |t, id, epoch| {
        if epoch.stamp > since && until.is_none_or(|u| epoch.stamp <= u) {
            entries.push(delete_entry(t, id));
        }
    });
    entries
}

/// Before the timeline's first epoch, deterministic made-up "deleted since" entries: every 37th patient in
/// scope lost one resource of each wanted type (ids that were never exported).
fn deletions(sim: &Sim, scope: &Scope<'_>, wanted: &HashSet<String>) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut seen = 0u64;
    let _ = sim.source.each_resource(scope, &|t| t == "Patient", &mut |_, patient| {
        seen += 1;
        if seen % 37 == 1 {
            let id = patient.get("id").and_then(Value::as_str).unwrap_or("unknown").to_string();
            let mut types: Vec<&String> = wanted.iter().filter(|t| t.as_str() != "Patient").collect();
            types.sort();
            for t in types {
                entries.push(delete_entry(t, &format!("deleted-{id}")));
            }
        }
        ControlFlow::Continue(())
    });
    entries
}
