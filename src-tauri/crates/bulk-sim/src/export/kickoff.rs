//! The `$export` kickoff at system, Patient and Group level: checks, then a job that prepares in the background.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::format_description::well_known::Rfc3339;

use super::prepare::prepare;
use super::request::{parameters_from_body, parse_request};
use super::{Job, JobState, Level, too_many_requests};
use crate::{Sim, auth, groups, hostile, outcome};

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

/// The status URL of `Faults::status_file_scheme`: a client must not read a local file for it.
const FILE_SCHEME_STATUS: &str = "file:///tmp/haul-status";

fn bad_request(diagnostics: &str) -> Response {
    outcome::response(StatusCode::BAD_REQUEST, "error", "invalid", diagnostics)
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
        (Level::Group, Some(id)) => match groups::for_export(&sim, id) {
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
    let mut request = match parse_request(&params, level, method == Method::POST, lenient) {
        Ok(r) => r,
        Err(e) => return bad_request(&e),
    };
    let (busy_while_running, default_since_last) = {
        let faults = sim.faults();
        (faults.busy_while_running, faults.default_since_last)
    };
    if default_since_last && request.since.is_none() {
        request.since = *sim.last_transaction_time.lock().unwrap();
    }

    let id = format!("job-{:05}", sim.next_id.fetch_add(1, Ordering::Relaxed));
    let dir = sim.work_dir.path().join(&id);
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
    let status_url = {
        let faults = sim.faults();
        if faults.status_file_scheme {
            FILE_SCHEME_STATUS.to_string()
        } else if faults.status_on_second_origin {
            format!("{}/fhir/bulkstatus/{id}", sim.second_origin)
        } else {
            format!("{}/bulkstatus/{id}", sim.base_url())
        }
    };
    let (transaction_instant, at) = sim.timeline().begin_export();
    let job = Arc::new(Job {
        id: id.clone(),
        dir: dir.clone(),
        started: Instant::now(),
        state: Mutex::new(JobState::Preparing),
        progress: Mutex::new("Queued".into()),
        cancelled: AtomicBool::new(false),
        authorization: hostile::authorization(&headers),
        polled: AtomicBool::new(false),
        status_url: status_url.clone(),
        at,
    });
    if let Err(running) = sim.jobs.insert_unless_running(job.clone(), busy_while_running) {
        return busy(&running);
    }
    if let Err(e) = std::fs::create_dir_all(&dir) {
        sim.jobs.map.lock().unwrap().remove(&id);
        return outcome::response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "error",
            "exception",
            &format!("cannot create export folder: {e}"),
        );
    }
    let transaction_time = transaction_instant.format(&Rfc3339).unwrap_or_default();
    let sim2 = sim.clone();
    tokio::task::spawn_blocking(move || {
        let result = prepare(&sim2, &job, level, group.as_ref(), &request, &request_url, &transaction_time);
        let mut state = job.state.lock().unwrap();
        *state = match result {
            Ok(m) => {
                *sim2.last_transaction_time.lock().unwrap() = Some(transaction_instant);
                JobState::Ready { manifest: m.body, output_files: m.output_files, ready_at: SystemTime::now() }
            }
            Err(e) => JobState::Failed(e),
        };
    });
    let mut response = StatusCode::ACCEPTED.into_response();
    response.headers_mut().insert(header::CONTENT_LOCATION, HeaderValue::from_str(&status_url).unwrap());
    response
}

/// BCDA's answer to a kickoff while a job of the client is still running: 429, naming that job.
fn busy(running_status_url: &str) -> Response {
    let mut response = outcome::response(
        StatusCode::TOO_MANY_REQUESTS,
        "error",
        "throttled",
        &format!("A job is already in progress: {running_status_url}"),
    );
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}
