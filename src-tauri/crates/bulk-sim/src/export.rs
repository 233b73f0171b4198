//! `$export` kickoff, the job that prepares its files, the status endpoint and DELETE.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::source::{GroupDef, Scope};
use crate::{RetryAfter, Sim, auth, outcome};

const NDJSON_FORMATS: &[&str] = &["application/fhir+ndjson", "application/ndjson", "ndjson"];
const SUBSETTED: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";

#[derive(Default)]
pub struct Jobs {
    map: Mutex<HashMap<String, Arc<Job>>>,
}

impl Jobs {
    pub fn get(&self, id: &str) -> Option<Arc<Job>> {
        self.map.lock().unwrap().get(id).cloned()
    }
}

pub struct Job {
    pub id: String,
    pub dir: PathBuf,
    started: Instant,
    state: Mutex<JobState>,
    progress: Mutex<String>,
    cancelled: AtomicBool,
}

enum JobState {
    Preparing,
    Ready { manifest: Value, ready_at: SystemTime },
    Failed(String),
}

impl Job {
    /// When the files were ready (for expiry), if they are.
    pub fn ready_at(&self) -> Option<SystemTime> {
        match &*self.state.lock().unwrap() {
            JobState::Ready { ready_at, .. } => Some(*ready_at),
            _ => None,
        }
    }
}

#[derive(Clone, Copy)]
enum Level {
    System,
    Patient,
    Group,
}

/// A kickoff's parameters once parsed and checked.
struct ExportRequest {
    since: Option<OffsetDateTime>,
    types: Option<Vec<String>>,
    elements: Vec<String>,
    patients: Option<HashSet<String>>,
    type_filters: Vec<TypeFilter>,
    /// Things a lenient request asked for that the server ignored: reported in `error[]`.
    ignored: Vec<String>,
}

struct TypeFilter {
    resource_type: String,
    params: Vec<(String, String)>,
}

pub async fn kickoff_system(
    state: State<Arc<Sim>>,
    method: Method,
    headers: HeaderMap,
    q: RawQuery,
    body: Bytes,
) -> Response {
    kickoff(state, Level::System, None, method, headers, q, body).await
}

pub async fn kickoff_patient(
    state: State<Arc<Sim>>,
    method: Method,
    headers: HeaderMap,
    q: RawQuery,
    body: Bytes,
) -> Response {
    kickoff(state, Level::Patient, None, method, headers, q, body).await
}

pub async fn kickoff_group(
    state: State<Arc<Sim>>,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
    q: RawQuery,
    body: Bytes,
) -> Response {
    kickoff(state, Level::Group, Some(id), method, headers, q, body).await
}

fn bad_request(diagnostics: &str) -> Response {
    outcome::response(StatusCode::BAD_REQUEST, "error", "invalid", diagnostics)
}

pub fn too_many_requests(retry: RetryAfter) -> Response {
    let value = match retry {
        RetryAfter::Seconds(s) => s.to_string(),
        RetryAfter::HttpDate(s) => httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(s)),
        RetryAfter::Hours(h) => (h * 3600).to_string(),
        RetryAfter::UnixTimestamp => {
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs().to_string()
        }
    };
    let mut r =
        outcome::response(StatusCode::TOO_MANY_REQUESTS, "error", "throttled", "Too many requests; retry later");
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

#[allow(clippy::too_many_arguments)]
async fn kickoff(
    State(sim): State<Arc<Sim>>,
    level: Level,
    group_id: Option<String>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if let Err(r) = auth::check_bearer(&sim, &headers) {
        return *r;
    }
    sim.stats().kickoffs += 1;
    {
        let mut faults = sim.faults();
        if faults.kickoff_429_times > 0 {
            faults.kickoff_429_times -= 1;
            return too_many_requests(faults.retry_after);
        }
    }
    let header_text =
        |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let prefer = header_text(header::HeaderName::from_static("prefer"));
    let accept = header_text(header::ACCEPT);
    if sim.config.strict_headers {
        if !prefer.contains("respond-async") {
            return bad_request("The Prefer header must be respond-async for $export");
        }
        if !accept.contains("application/fhir+json") {
            return bad_request("The Accept header must be application/fhir+json for $export");
        }
    }
    let lenient = prefer.contains("handling=lenient");

    let params = match method {
        Method::POST => match parameters_from_body(&body) {
            Ok(p) => p,
            Err(e) => return bad_request(&e),
        },
        _ => url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    };
    let group = match (level, group_id.as_deref()) {
        (Level::Group, Some(id)) => match sim.source.group(id) {
            Some(g) => Some(g),
            None => {
                return outcome::response(
                    StatusCode::NOT_FOUND,
                    "error",
                    "not-found",
                    &format!("Group/{id} is not known to this server"),
                );
            }
        },
        _ => None,
    };
    let request = match parse_request(&params, level, method == Method::POST, lenient) {
        Ok(r) => r,
        Err(e) => return bad_request(&e),
    };

    let id = format!("job-{:05}", sim.next_id.fetch_add(1, Ordering::Relaxed));
    let dir = sim.work_dir.path().join(&id);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return outcome::response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "error",
            "exception",
            &format!("cannot create export folder: {e}"),
        );
    }
    let request_url = {
        let path = match (level, &group_id) {
            (Level::System, _) => "$export".to_string(),
            (Level::Patient, _) => "Patient/$export".to_string(),
            (Level::Group, Some(g)) => format!("Group/{g}/$export"),
            (Level::Group, None) => unreachable!("group routes always carry an id"),
        };
        match query.as_deref().filter(|q| !q.is_empty()) {
            Some(q) => format!("{}/{path}?{q}", sim.base_url()),
            None => format!("{}/{path}", sim.base_url()),
        }
    };
    let job = Arc::new(Job {
        id: id.clone(),
        dir,
        started: Instant::now(),
        state: Mutex::new(JobState::Preparing),
        progress: Mutex::new("Queued".into()),
        cancelled: AtomicBool::new(false),
    });
    sim.jobs.map.lock().unwrap().insert(id.clone(), job.clone());
    let transaction_time = OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default();
    let group = group.cloned();
    let sim2 = sim.clone();
    tokio::task::spawn_blocking(move || {
        let result = prepare(&sim2, &job, level, group.as_ref(), &request, &request_url, &transaction_time);
        let mut state = job.state.lock().unwrap();
        *state = match result {
            Ok(manifest) => JobState::Ready { manifest, ready_at: SystemTime::now() },
            Err(e) => JobState::Failed(e),
        };
    });
    let mut response = StatusCode::ACCEPTED.into_response();
    let status_url = format!("{}/bulkstatus/{id}", sim.base_url());
    response.headers_mut().insert(header::CONTENT_LOCATION, HeaderValue::from_str(&status_url).unwrap());
    response
}

/// `Parameters` → (name, value) pairs; any `value[x]` is read as text.
fn parameters_from_body(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("The POST body is not JSON: {e}"))?;
    if value.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Err("The POST body must be a FHIR Parameters resource".into());
    }
    let mut out = Vec::new();
    for p in value.get("parameter").and_then(Value::as_array).into_iter().flatten() {
        let Some(name) = p.get("name").and_then(Value::as_str) else {
            return Err("Every parameter needs a name".into());
        };
        let text = p.as_object().and_then(|o| {
            o.iter().find(|(k, _)| k.starts_with("value")).and_then(|(k, v)| match v {
                Value::String(s) => Some(s.clone()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Number(n) => Some(n.to_string()),
                Value::Object(o) if k == "valueReference" => {
                    o.get("reference").and_then(Value::as_str).map(str::to_string)
                }
                _ => None,
            })
        });
        match text {
            Some(t) => out.push((name.to_string(), t)),
            None => return Err(format!("Parameter {name} has no value this server understands")),
        }
    }
    Ok(out)
}

fn parse_request(
    params: &[(String, String)],
    level: Level,
    post: bool,
    lenient: bool,
) -> Result<ExportRequest, String> {
    let mut joined: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (k, v) in params {
        joined.entry(k.as_str()).or_default().push(v.clone());
    }
    // Repeated parameters mean the same as one comma-joined value.
    let list = |name: &str| -> Vec<String> {
        joined
            .get(name)
            .into_iter()
            .flatten()
            .flat_map(|v| v.split(',').map(|s| s.trim().to_string()).collect::<Vec<_>>())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let mut ignored = Vec::new();
    for name in joined.keys() {
        let known =
            ["_outputFormat", "_since", "_type", "_elements", "patient", "includeAssociatedData", "_typeFilter"];
        if !known.contains(name) {
            if lenient {
                ignored.push(format!("The parameter {name} is not supported and was ignored"));
            } else {
                return Err(format!("The parameter {name} is not supported by this server"));
            }
        }
    }
    if let Some(format) = joined.get("_outputFormat").and_then(|v| v.last())
        && !NDJSON_FORMATS.contains(&format.as_str())
    {
        return Err(format!("_outputFormat {format} is not supported; use application/fhir+ndjson"));
    }
    let since = match joined.get("_since").and_then(|v| v.last()) {
        Some(s) => Some(
            OffsetDateTime::parse(s, &Rfc3339)
                .map_err(|_| format!("_since must be a FHIR instant such as 2024-01-01T00:00:00Z, not {s}"))?,
        ),
        None => None,
    };
    let types = list("_type");
    for t in &types {
        if !is_type_name(t) {
            return Err(format!("_type lists {t}, which is not a resource type"));
        }
    }
    let elements = list("_elements");
    for e in &elements {
        let ok = match e.split_once('.') {
            Some((t, el)) => is_type_name(t) && !el.is_empty(),
            None => e.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        };
        if !ok {
            return Err(format!("_elements entry {e} is not an element name"));
        }
    }
    let patients = list("patient");
    let patients = if patients.is_empty() {
        None
    } else {
        if !post {
            return Err("The patient parameter can only be sent with POST".into());
        }
        if matches!(level, Level::System) {
            return Err("The patient parameter is not allowed at system level".into());
        }
        Some(patients.into_iter().map(|p| p.trim_start_matches("Patient/").to_string()).collect())
    };
    for value in list("includeAssociatedData") {
        if lenient {
            ignored.push(format!("includeAssociatedData={value} is not supported and was ignored"));
        } else {
            return Err(format!("includeAssociatedData={value} is not supported by this server"));
        }
    }
    let mut type_filters = Vec::new();
    for raw in joined.get("_typeFilter").into_iter().flatten().flat_map(|v| split_type_filters(v)) {
        match parse_type_filter(&raw) {
            Ok(f) => type_filters.push(f),
            Err(e) if lenient => ignored.push(format!("_typeFilter {raw} was ignored: {e}")),
            Err(e) => return Err(format!("_typeFilter {raw} is not supported: {e}")),
        }
    }
    Ok(ExportRequest { since, types: (!types.is_empty()).then_some(types), elements, patients, type_filters, ignored })
}

fn is_type_name(t: &str) -> bool {
    t.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && t.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Splits `A?x=1,B?y=2` at the commas that start a new `Type?` (commas inside a query stay).
fn split_type_filters(value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in value.split(',') {
        let starts_new = part.split_once('?').is_some_and(|(t, _)| is_type_name(t));
        match out.last_mut() {
            Some(last) if !starts_new => {
                last.push(',');
                last.push_str(part);
            }
            _ => out.push(part.to_string()),
        }
    }
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

const FILTER_PARAMS: &[&str] = &["category", "clinical-status", "code", "status"];

fn parse_type_filter(raw: &str) -> Result<TypeFilter, String> {
    let (resource_type, query) = raw.split_once('?').ok_or("it must look like Type?param=value")?;
    if !is_type_name(resource_type) {
        return Err(format!("{resource_type} is not a resource type"));
    }
    let mut params = Vec::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k == "_include" || k == "_sort" || k == "_revinclude" {
            return Err(format!("{k} is not allowed in _typeFilter"));
        }
        if !FILTER_PARAMS.contains(&k.as_ref()) {
            return Err(format!("this server filters only on {}", FILTER_PARAMS.join(", ")));
        }
        params.push((k.into_owned(), v.into_owned()));
    }
    if params.is_empty() {
        return Err("it has no search parameters".into());
    }
    Ok(TypeFilter { resource_type: resource_type.to_string(), params })
}

fn codings_match(value: Option<&Value>, wanted: &str) -> bool {
    let (system, code) = match wanted.split_once('|') {
        Some((s, c)) => (Some(s), c),
        None => (None, wanted),
    };
    let concepts: Vec<&Value> = match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => return false,
    };
    concepts.iter().any(|cc| {
        cc.get("coding").and_then(Value::as_array).into_iter().flatten().any(|c| {
            c.get("code").and_then(Value::as_str) == Some(code)
                && system.is_none_or(|s| s.is_empty() || c.get("system").and_then(Value::as_str) == Some(s))
        })
    })
}

fn matches_filter(resource: &Value, f: &TypeFilter) -> bool {
    f.params.iter().all(|(k, v)| {
        v.split(',').any(|one| match k.as_str() {
            "category" => codings_match(resource.get("category"), one),
            "clinical-status" => codings_match(resource.get("clinicalStatus"), one),
            "code" => codings_match(resource.get("code"), one),
            "status" => resource.get("status").and_then(Value::as_str) == Some(one),
            _ => false,
        })
    })
}

fn updated_after(resource: &Value, since: OffsetDateTime) -> bool {
    resource
        .pointer("/meta/lastUpdated")
        .and_then(Value::as_str)
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
        .is_some_and(|t| t > since)
}

fn subset(resource: Value, resource_type: &str, elements: &[String]) -> Value {
    let Value::Object(map) = resource else { return resource };
    let keep = |k: &str| {
        matches!(k, "resourceType" | "id" | "meta")
            || elements.iter().any(|e| match e.split_once('.') {
                Some((t, el)) => t == resource_type && el == k,
                None => e == k,
            })
    };
    let mut out: serde_json::Map<String, Value> = map.into_iter().filter(|(k, _)| keep(k)).collect();
    let meta = out.entry("meta").or_insert_with(|| json!({}));
    let tags = meta.as_object_mut().map(|m| m.entry("tag").or_insert_with(|| json!([])));
    if let Some(Value::Array(tags)) = tags {
        tags.push(json!({"system": SUBSETTED, "code": "SUBSETTED"}));
    }
    Value::Object(out)
}

/// One type's output: files of at most `per_file` resources.
struct TypeOutput {
    resource_type: String,
    files: Vec<(String, u64)>,
    current: Option<BufWriter<std::fs::File>>,
    in_current: u64,
    malformed_left: u32,
}

fn prepare(
    sim: &Sim,
    job: &Job,
    level: Level,
    group: Option<&GroupDef>,
    request: &ExportRequest,
    request_url: &str,
    transaction_time: &str,
) -> Result<Value, String> {
    let (failing, malformed, fail_export) = {
        let f = sim.faults();
        (f.failing_types.clone(), f.malformed_lines, f.fail_export)
    };
    let available: HashSet<String> = sim.source.types().into_iter().collect();
    let requested: Vec<String> = match &request.types {
        Some(types) => types.clone(),
        None => sim.source.types(),
    };
    let wanted: HashSet<String> =
        requested.iter().filter(|t| available.contains(*t)).filter(|t| !failing.contains(t)).cloned().collect();
    let scope = Scope { system: matches!(level, Level::System), group, patients: request.patients.clone() };
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
    if fail_export {
        return Err("The export failed on the server (simulated fault)".into());
    }
    let mut output = Vec::new();
    for out in outputs.values_mut() {
        if let Some(mut w) = out.current.take() {
            w.flush().map_err(|e| e.to_string())?;
        }
        for (name, count) in &out.files {
            output.push(json!({"type": out.resource_type, "url": file_url(sim, &job.id, name), "count": count}));
        }
    }
    // Problems go to an OperationOutcome file in error[].
    let mut issues: Vec<Value> = Vec::new();
    for t in requested.iter().filter(|t| failing.contains(t)) {
        issues.push(outcome::body(
            "error",
            "processing",
            &format!("The {t} export failed on the server (simulated fault)"),
        ));
    }
    for why in &request.ignored {
        issues.push(outcome::body("warning", "not-supported", why));
    }
    let mut errors = Vec::new();
    if !issues.is_empty() {
        let name = "error-OperationOutcome-1.ndjson".to_string();
        write_lines(&job.dir.join(&name), &issues)?;
        errors.push(json!({"type": "OperationOutcome", "url": file_url(sim, &job.id, &name)}));
    }
    let mut deleted = Vec::new();
    if request.since.is_some() {
        let entries = deletions(sim, &scope, &wanted);
        if !entries.is_empty() {
            let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
            let name = "deleted-Bundle-1.ndjson".to_string();
            write_lines(&job.dir.join(&name), &[bundle])?;
            deleted.push(json!({"type": "Bundle", "url": file_url(sim, &job.id, &name)}));
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
    Ok(json!({
        "transactionTime": transaction_time,
        "request": request_url,
        "requiresAccessToken": sim.smart(),
        "output": output,
        "error": errors,
        "deleted": deleted,
        "extension": {"urn:haul:bulk-sim": {"job": job.id}}
    }))
}

fn file_url(sim: &Sim, job: &str, name: &str) -> String {
    format!("{}/files/{job}/{name}", sim.origin)
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

/// Deterministic "deleted since" entries: every 37th patient in scope lost one resource of each wanted type.
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
                entries.push(json!({"request": {"method": "DELETE", "url": format!("{t}/deleted-{id}")}}));
            }
        }
        ControlFlow::Continue(())
    });
    entries
}

pub async fn status(State(sim): State<Arc<Sim>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = auth::check_bearer(&sim, &headers) {
        return *r;
    }
    sim.stats().status_polls += 1;
    {
        let mut faults = sim.faults();
        if faults.status_429_times > 0 {
            faults.status_429_times -= 1;
            return too_many_requests(faults.retry_after);
        }
        if faults.status_transient_times > 0 {
            faults.status_transient_times -= 1;
            return outcome::response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "error",
                "transient",
                "The server is busy; try again shortly",
            );
        }
        if faults.status_html_502_times > 0 {
            faults.status_html_502_times -= 1;
            return outcome::proxy_html_502();
        }
    }
    let Some(job) = sim.jobs.get(&id) else {
        return outcome::response(
            StatusCode::NOT_FOUND,
            "error",
            "not-found",
            &format!("No export {id}: it may have been deleted or expired"),
        );
    };
    let state = job.state.lock().unwrap();
    match &*state {
        JobState::Preparing => {
            let mut r = StatusCode::ACCEPTED.into_response();
            let progress = job.progress.lock().unwrap().clone();
            if let Ok(v) = HeaderValue::from_str(&progress) {
                r.headers_mut().insert("x-progress", v);
            }
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(sim.config.poll_interval_seconds));
            r
        }
        JobState::Ready { manifest, ready_at } => {
            let mut r = (StatusCode::OK, axum::Json(manifest.clone())).into_response();
            if let Some(after) = sim.faults().files_expire_after {
                let expires = httpdate::fmt_http_date(*ready_at + after);
                r.headers_mut().insert(header::EXPIRES, HeaderValue::from_str(&expires).unwrap());
            }
            r
        }
        JobState::Failed(why) => outcome::response(StatusCode::INTERNAL_SERVER_ERROR, "fatal", "exception", why),
    }
}

pub async fn delete(State(sim): State<Arc<Sim>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = auth::check_bearer(&sim, &headers) {
        return *r;
    }
    sim.stats().deletes += 1;
    let Some(job) = sim.jobs.map.lock().unwrap().remove(&id) else {
        return outcome::response(StatusCode::NOT_FOUND, "error", "not-found", &format!("No export {id}"));
    };
    job.cancelled.store(true, Ordering::Relaxed);
    let _ = std::fs::remove_dir_all(&job.dir);
    StatusCode::ACCEPTED.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn repeated_parameters_join_like_commas() {
        let r = parse_request(
            &pairs(&[("_type", "Patient"), ("_type", "Observation,Condition")]),
            Level::System,
            false,
            false,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.types.unwrap(), ["Patient", "Observation", "Condition"]);
    }

    #[test]
    fn bad_parameters_are_refused_unless_lenient() {
        let err = |p: &[(&str, &str)], level| parse_request(&pairs(p), level, false, false).err().unwrap();
        assert!(err(&[("_outputFormat", "text/csv")], Level::System).contains("_outputFormat"));
        assert!(err(&[("_since", "yesterday")], Level::System).contains("FHIR instant"));
        assert!(err(&[("_type", "observation")], Level::System).contains("not a resource type"));
        assert!(err(&[("patient", "Patient/1")], Level::Patient).contains("POST"));
        assert!(err(&[("_typeFilter", "Observation?_sort=date")], Level::System).contains("_sort"));
        assert!(err(&[("_typeFilter", "Observation?value-quantity=5")], Level::System).contains("filters only on"));
        assert!(err(&[("_foo", "1")], Level::System).contains("not supported"));
        let lenient = parse_request(
            &pairs(&[("_typeFilter", "Observation?value-quantity=5"), ("_foo", "1")]),
            Level::System,
            false,
            true,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(lenient.ignored.len(), 2);
        assert!(parse_request(&pairs(&[("patient", "p1")]), Level::System, true, false).is_err());
        for f in NDJSON_FORMATS {
            assert!(parse_request(&pairs(&[("_outputFormat", f)]), Level::System, false, false).is_ok(), "{f}");
        }
    }

    #[test]
    fn type_filters_split_only_between_types() {
        assert_eq!(
            split_type_filters("Observation?category=laboratory,vital-signs,Condition?clinical-status=active"),
            ["Observation?category=laboratory,vital-signs", "Condition?clinical-status=active"]
        );
    }

    #[test]
    fn filters_and_subsetting() {
        let obs = json!({"resourceType": "Observation", "id": "o", "meta": {"lastUpdated": "2020-01-01T00:00:00Z"},
            "status": "final", "category": [{"coding": [{"system": "s", "code": "laboratory"}]}], "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]}, "subject": {"reference": "Patient/p"}});
        let f = parse_type_filter("Observation?category=vital-signs,laboratory&code=http://loinc.org|718-7").unwrap();
        assert!(matches_filter(&obs, &f));
        assert!(!matches_filter(&obs, &parse_type_filter("Observation?status=amended").unwrap()));
        let s = subset(obs.clone(), "Observation", &["status".into(), "Patient.gender".into()]);
        assert_eq!(
            s.as_object().unwrap().keys().cloned().collect::<Vec<_>>(),
            ["id", "meta", "resourceType", "status"]
        );
        assert_eq!(s["meta"]["tag"][0]["code"], "SUBSETTED");
        let since = OffsetDateTime::parse("2019-06-01T00:00:00Z", &Rfc3339).unwrap();
        assert!(updated_after(&obs, since));
        assert!(!updated_after(&obs, OffsetDateTime::parse("2021-06-01T00:00:00+02:00", &Rfc3339).unwrap()));
    }
}
