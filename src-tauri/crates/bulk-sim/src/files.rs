//! Serving export files: bearer checks, `Range` (206), gzip, expiry, and the file faults (dropped
//! connections, slow streams, redirects to a second origin).

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, BufReader};

use crate::{Sim, auth, outcome};

const CHUNK: usize = 256 * 1024;
const NDJSON: &str = "application/fhir+ndjson";

/// The second origin: serves the same files, for redirects, and notes whether a token came along.
pub fn second_origin_router(sim: Arc<Sim>) -> Router {
    Router::new().route("/files/{job}/{name}", get(second_origin)).with_state(sim)
}

pub async fn main_origin(
    State(sim): State<Arc<Sim>>,
    Path((job, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if sim.faults().redirect_files {
        let target = format!("{}/files/{job}/{name}", sim.second_origin);
        return (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, target)]).into_response();
    }
    // Files need the token exactly when the manifest says requiresAccessToken (SMART mode).
    if let Err(r) = auth::check_bearer(&sim, &headers) {
        return *r;
    }
    if headers.contains_key(header::AUTHORIZATION) {
        sim.stats().file_requests_with_authorization += 1;
    }
    serve(&sim, &job, &name, &headers).await
}

async fn second_origin(
    State(sim): State<Arc<Sim>>,
    Path((job, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    {
        let mut stats = sim.stats();
        stats.redirected_requests += 1;
        if headers.contains_key(header::AUTHORIZATION) {
            stats.redirected_with_authorization += 1;
        }
    }
    // Like a storage service with signed URLs: no token needed (and none should be sent).
    serve(&sim, &job, &name, &headers).await
}

async fn serve(sim: &Sim, job_id: &str, name: &str, headers: &HeaderMap) -> Response {
    let Some(job) = sim.jobs.get(job_id) else {
        return outcome::response(StatusCode::NOT_FOUND, "error", "not-found", "No such export (deleted or expired)");
    };
    if name.contains('/') || name.contains("..") {
        return outcome::response(StatusCode::NOT_FOUND, "error", "not-found", "No such file");
    }
    let (expire_after, gone, drop_after, drop_times, rate) = {
        let f = sim.faults();
        (f.files_expire_after, f.expired_gone, f.drop_after_bytes, f.drop_times_per_file, f.file_bytes_per_second)
    };
    if let (Some(after), Some(ready)) = (expire_after, job.ready_at())
        && SystemTime::now() > ready + after
    {
        let status = if gone { StatusCode::GONE } else { StatusCode::NOT_FOUND };
        return outcome::response(status, "error", "expired", "This file has expired and is no longer available");
    }
    let path = job.dir.join(name);
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(_) => return outcome::response(StatusCode::NOT_FOUND, "error", "not-found", "No such file"),
    };
    let len = match file.metadata().await {
        Ok(m) => m.len(),
        Err(e) => return outcome::response(StatusCode::INTERNAL_SERVER_ERROR, "error", "exception", &e.to_string()),
    };
    let attempt = {
        let mut stats = sim.stats();
        let n = stats.file_requests.entry(name.to_string()).or_default();
        *n += 1;
        *n
    };
    let drop_after = drop_after.filter(|_| attempt <= drop_times);

    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
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
    if start > 0 && file.seek(std::io::SeekFrom::Start(start)).await.is_err() {
        return outcome::response(StatusCode::INTERNAL_SERVER_ERROR, "error", "exception", "seek failed");
    }
    let body_len = end - start;
    let reader = file.take(body_len);
    let gzip = status == StatusCode::OK
        && headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let (reader, length): (Pin<Box<dyn AsyncRead + Send>>, Option<u64>) = if gzip {
        let encoder = async_compression::tokio::bufread::GzipEncoder::with_quality(
            BufReader::with_capacity(CHUNK, reader),
            async_compression::Level::Fastest,
        );
        (Box::pin(encoder), None)
    } else {
        (Box::pin(reader), Some(body_len))
    };
    let mut response = Response::new(Body::from_stream(body_stream(reader, drop_after, rate)));
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
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes {start}-{}/{len}", end - 1)).unwrap());
    }
    if let (Some(after), Some(ready)) = (expire_after, job.ready_at()) {
        h.insert(header::EXPIRES, HeaderValue::from_str(&httpdate::fmt_http_date(ready + after)).unwrap());
    }
    response
}

/// `bytes=A-B`, `bytes=A-`, `bytes=-N` → half-open `[start, end)`; `None` when unsatisfiable.
fn parse_range(spec: &str, len: u64) -> Option<(u64, u64)> {
    let spec = spec.strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        (len.saturating_sub(n), len)
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() { len } else { (b.parse::<u64>().ok()? + 1).min(len) };
        (start, end)
    };
    (start < end && start < len).then_some((start, end))
}

struct Plan {
    reader: Pin<Box<dyn AsyncRead + Send>>,
    drop_after: Option<u64>,
    rate: Option<u64>,
    sent: u64,
    done: bool,
}

/// The body: chunks from `reader`, cut off with an error after `drop_after` bytes, paced to `rate`.
fn body_stream(
    reader: Pin<Box<dyn AsyncRead + Send>>,
    drop_after: Option<u64>,
    rate: Option<u64>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let plan = Plan { reader, drop_after, rate, sent: 0, done: false };
    futures_util::stream::unfold(plan, |mut p| async move {
        if p.done {
            return None;
        }
        let mut cap = CHUNK;
        if let Some(limit) = p.drop_after {
            if p.sent >= limit {
                p.done = true;
                // Pending for a moment makes hyper flush what was sent, so the client really receives the
                // first `limit` bytes (and the headers) before the connection breaks.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let err = std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "simulated dropped connection");
                return Some((Err(err), p));
            }
            cap = cap.min((limit - p.sent) as usize);
        }
        if let Some(rate) = p.rate {
            // Small chunks keep a slow stream smooth.
            cap = cap.min((rate as usize / 10).max(1));
        }
        let mut buf = vec![0u8; cap];
        match p.reader.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                p.sent += n as u64;
                if let Some(rate) = p.rate {
                    tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate as f64)).await;
                }
                Some((Ok(Bytes::from(buf)), p))
            }
            Err(e) => {
                p.done = true;
                Some((Err(e), p))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 10)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 100)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 100)));
        assert_eq!(parse_range("bytes=95-200", 100), Some((95, 100)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}
