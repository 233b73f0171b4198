//! Serving export files: bearer checks, `Range` (206), gzip, expiry, and the file faults: dropped
//! connections, slow, trickling or short streams, redirects to the second origin, and the hostile answers
//! of `bodies` (sign-in pages, `file://` redirects, giant lines, gzip bombs). The byte stream is `stream`;
//! refusals by request number or by concurrent downloads are `throttle`.

mod bodies;
mod stream;
mod throttle;
mod validators;

use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, BufReader};

use bodies::HostileBody;
use stream::{CHUNK, Pacing, body_stream, parse_range};

use crate::{Faults, Sim, auth, outcome};

const NDJSON: &str = "application/fhir+ndjson";

pub async fn main_origin(
    State(sim): State<Arc<Sim>>,
    Path((job, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if sim.faults().redirect_files {
        let target = format!("{}/files/{job}/{name}", sim.second_origin);
        return (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, target)]).into_response();
    }
    // Files need the token whenever the auth mode has one, whether or not the manifest says so
    // (`Faults::omit_requires_access_token`).
    if let Err(r) = auth::check_bearer(&sim, &headers) {
        return *r;
    }
    if headers.contains_key(header::AUTHORIZATION) {
        sim.stats().file_requests_with_authorization += 1;
    }
    serve(&sim, &job, &name, &headers).await
}

/// Like a storage service with signed URLs: no token needed (and none should be sent), unless
/// `second_origin_requires_token` (checked, and every request counted, by the second origin's router).
pub async fn second_origin(
    State(sim): State<Arc<Sim>>,
    Path((job, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    serve(&sim, &job, &name, &headers).await
}

/// What is served in place of a file's bytes, or the file itself.
enum Content {
    File(tokio::fs::File),
    GiantLine,
}

async fn serve(sim: &Sim, job_id: &str, name: &str, headers: &HeaderMap) -> Response {
    let faults = sim.faults().clone();
    let slot = match throttle::admit(sim, &faults) {
        Ok(slot) => slot,
        Err(refusal) => return *refusal,
    };
    let response = serve_file(sim, &faults, job_id, name, headers).await;
    throttle::hold_while_streaming(response, slot)
}

async fn serve_file(sim: &Sim, faults: &Faults, job_id: &str, name: &str, headers: &HeaderMap) -> Response {
    let Some(job) = sim.jobs.get(job_id) else {
        return outcome::response(StatusCode::NOT_FOUND, "error", "not-found", "No such export (deleted or expired)");
    };
    if name.contains('/') || name.contains("..") {
        return outcome::response(StatusCode::NOT_FOUND, "error", "not-found", "No such file");
    }
    if let (Some(after), Some(ready)) = (faults.files_expire_after, job.ready_at())
        && SystemTime::now() > ready + after
    {
        let status = if faults.expired_gone { StatusCode::GONE } else { StatusCode::NOT_FOUND };
        return outcome::response(status, "error", "expired", "This file has expired and is no longer available");
    }
    let hostile = bodies::hostile_body(faults.giant_line_bytes, faults.gzip_bomb_bytes, job.output_rank(name));
    let without_file = if faults.redirect_files_to_file_scheme {
        Some(bodies::file_scheme_redirect())
    } else if faults.html_files {
        Some(bodies::sign_in_page())
    } else if let Some(HostileBody::GzipBomb(n)) = hostile {
        Some(bodies::gzip_bomb(n, faults.gzip_bomb_encoded))
    } else {
        None
    };
    if let Some(response) = without_file {
        count_request(sim, name);
        return response;
    }
    let asked_before = sim.stats().file_requests.get(name).copied().unwrap_or(0);
    if faults.files_change_at_request == Some(asked_before + 1)
        && hostile.is_none()
        && let Err(e) = validators::make_again(&job.dir.join(name)).await
    {
        return outcome::response(StatusCode::INTERNAL_SERVER_ERROR, "error", "exception", &e.to_string());
    }
    let (content, len, modified) = match hostile {
        Some(HostileBody::GiantLine(n)) => (Content::GiantLine, n, None),
        _ => match open(&job.dir.join(name)).await {
            Ok((file, len, modified)) => (Content::File(file), len, Some(modified)),
            Err(response) => return *response,
        },
    };
    let attempt = count_request(sim, name);
    // These faults announce the real length, so the body is not compressed on the fly.
    let keeps_length = faults.short_bodies
        || faults.trickle_every.is_some()
        || hostile.is_some()
        || faults.files_change_at_request.is_some();
    let may_gzip = !keeps_length
        && headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let modified = modified.filter(|_| !faults.no_validators);
    let version = modified.map(|m| validators::Validators::of(len, m, false));

    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .filter(|_| version.as_ref().is_none_or(|v| v.range_allowed(headers)));
    let (status, start, end) = match range {
        None => (StatusCode::OK, 0, len),
        Some(spec) => match parse_range(spec, len) {
            Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e),
            None => {
                let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                r.headers_mut()
                    .insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes */{len}")).unwrap());
                return r;
            }
        },
    };
    let body_len = end - start;
    let reader: Pin<Box<dyn AsyncRead + Send>> = match content {
        Content::GiantLine => bodies::giant_line(body_len),
        Content::File(mut file) => {
            if start > 0 && file.seek(std::io::SeekFrom::Start(start)).await.is_err() {
                return outcome::response(StatusCode::INTERNAL_SERVER_ERROR, "error", "exception", "seek failed");
            }
            Box::pin(file.take(body_len))
        }
    };
    let gzip = status == StatusCode::OK && may_gzip;
    let (reader, length): (Pin<Box<dyn AsyncRead + Send>>, Option<u64>) = if gzip {
        let encoder = async_compression::tokio::bufread::GzipEncoder::with_quality(
            BufReader::with_capacity(CHUNK, reader),
            async_compression::Level::Fastest,
        );
        (Box::pin(encoder), None)
    } else {
        (Box::pin(reader), Some(body_len))
    };
    let mut response = Response::new(Body::from_stream(body_stream(reader, pacing(faults, attempt, body_len))));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(n) = length {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if let Some(m) = modified {
        validators::Validators::of(len, m, gzip).insert(h);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes {start}-{}/{len}", end - 1)).unwrap());
    }
    if let (Some(after), Some(ready)) = (faults.files_expire_after, job.ready_at()) {
        h.insert(header::EXPIRES, HeaderValue::from_str(&httpdate::fmt_http_date(ready + after)).unwrap());
    }
    response
}

/// The file, its length and when it was last changed, or the error answer.
async fn open(path: &std::path::Path) -> Result<(tokio::fs::File, u64, SystemTime), Box<Response>> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|_| Box::new(outcome::response(StatusCode::NOT_FOUND, "error", "not-found", "No such file")))?;
    let meta = file.metadata().await.map_err(|e| {
        Box::new(outcome::response(StatusCode::INTERNAL_SERVER_ERROR, "error", "exception", &e.to_string()))
    })?;
    Ok((file, meta.len(), meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)))
}

/// Counts a request for file `name`; returns which request of that file it is (1 for the first).
fn count_request(sim: &Sim, name: &str) -> u32 {
    let mut stats = sim.stats();
    let n = stats.file_requests.entry(name.to_string()).or_default();
    *n += 1;
    *n
}

/// The stream faults for request number `attempt` of a file, whose body here is `body_len` bytes.
fn pacing(faults: &Faults, attempt: u32, body_len: u64) -> Pacing {
    let dropped = faults.drop_after_bytes.filter(|_| attempt <= faults.drop_times_per_file);
    let short = faults.short_bodies.then_some(body_len / 2);
    let cut_after = match (dropped, short) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Pacing { cut_after, bytes_per_second: faults.file_bytes_per_second, trickle_every: faults.trickle_every }
}
