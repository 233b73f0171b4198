//! The status endpoint (202 while preparing, then the manifest) and DELETE, which cancels a job.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{JobState, too_many_requests};
use crate::{Sim, auth, outcome};

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
