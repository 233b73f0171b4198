//! The status endpoint (202 while preparing, then the manifest) and DELETE, which cancels a job.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{JobState, too_many_requests};
use crate::{Sim, auth, hostile, outcome};

/// The manifest's media type (what `axum::Json` sent before manifests were pre-serialized).
const MANIFEST_TYPE: &str = "application/json";

pub async fn status(State(sim): State<Arc<Sim>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    // Counted before the check: a token sent where it should not go counts even when refused.
    if headers.contains_key(header::AUTHORIZATION) {
        sim.stats().status_requests_with_authorization += 1;
    }
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
    let (escape, echo) = {
        let f = sim.faults();
        (f.escape_sequences, f.echo_authorization)
    };
    if (escape || echo) && !job.polled.swap(true, Ordering::Relaxed) {
        return hostile::first_poll_outcome(escape);
    }
    let state = job.state.lock().unwrap();
    match &*state {
        JobState::Preparing => {
            let mut r = StatusCode::ACCEPTED.into_response();
            let own = job.progress.lock().unwrap().clone();
            let echoed = hostile::authorization(&headers).filter(|_| echo);
            let progress = hostile::progress(own, escape, echoed.as_deref());
            // `from_bytes`: an echoed header value may hold bytes above ASCII, which `from_str` refuses.
            if let Ok(v) = HeaderValue::from_bytes(progress.as_bytes()) {
                r.headers_mut().insert("x-progress", v);
            }
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(sim.config.poll_interval_seconds));
            r
        }
        JobState::Ready { manifest, ready_at, .. } => {
            let mut r =
                (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static(MANIFEST_TYPE))], manifest.clone())
                    .into_response();
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
    if headers.contains_key(header::AUTHORIZATION) {
        sim.stats().deletes_with_authorization += 1;
    }
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
