//! `$export`: the kickoff (`kickoff`, its parameters in `request`), the job that prepares its files
//! (`prepare`, choosing resources and elements with `selection`) and its manifest (`manifest`), the status
//! endpoint and DELETE (`status`). This module holds what they share: the jobs and the 429 answer.

mod kickoff;
mod manifest;
mod prepare;
mod request;
mod selection;
mod status;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::{RetryAfter, outcome};

pub use kickoff::{kickoff_group, kickoff_patient, kickoff_system};
pub use status::{delete, status};

#[derive(Default)]
pub struct Jobs {
    map: Mutex<HashMap<String, Arc<Job>>>,
}

impl Jobs {
    pub fn get(&self, id: &str) -> Option<Arc<Job>> {
        self.map.lock().unwrap().get(id).cloned()
    }

    /// Adds `job`; but when `refuse_while_running` and an earlier export is still preparing, or ready and not
    /// yet deleted, leaves it out and returns that export's status URL. One lock for both, so that two
    /// kickoffs at once cannot both get in.
    fn insert_unless_running(&self, job: Arc<Job>, refuse_while_running: bool) -> Result<(), String> {
        let mut map = self.map.lock().unwrap();
        if refuse_while_running && let Some(running) = map.values().filter(|j| !j.failed()).min_by_key(|j| j.started) {
            return Err(running.status_url.clone());
        }
        map.insert(job.id.clone(), job);
        Ok(())
    }

    /// Stops every export still preparing (the simulator is going away): a long preparation must not keep
    /// its thread, and a test's runtime waiting on it, past the simulator's end.
    pub fn cancel_all(&self) {
        for job in self.map.lock().unwrap().values() {
            job.cancelled.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

pub struct Job {
    pub id: String,
    pub dir: PathBuf,
    started: Instant,
    state: Mutex<JobState>,
    progress: Mutex<String>,
    cancelled: AtomicBool,
    /// The kickoff's `Authorization` value, for `Faults::echo_authorization` in the error files.
    authorization: Option<String>,
    /// A status poll has reached this job (the first one may be a hostile transient error).
    polled: AtomicBool,
    /// The status URL the kickoff answered with, for `Faults::busy_while_running`.
    status_url: String,
    /// The timeline's epochs as of `transactionTime`: the state of the data this export shows.
    at: crate::timeline::Epochs,
}

enum JobState {
    Preparing,
    /// `manifest` is serialized once, since hostile manifests can be large; `output_files` are the output
    /// file names in manifest order (no copies), to find the first and second for the hostile bodies.
    Ready {
        manifest: Bytes,
        output_files: Vec<String>,
        ready_at: SystemTime,
    },
    Failed(String),
}

impl Job {
    fn failed(&self) -> bool {
        matches!(*self.state.lock().unwrap(), JobState::Failed(_))
    }

    /// When the files were ready (for expiry), if they are.
    pub fn ready_at(&self) -> Option<SystemTime> {
        match &*self.state.lock().unwrap() {
            JobState::Ready { ready_at, .. } => Some(*ready_at),
            _ => None,
        }
    }

    /// Where file `name` stands among the manifest's output files (0 for the first), once ready.
    pub fn output_rank(&self, name: &str) -> Option<usize> {
        match &*self.state.lock().unwrap() {
            JobState::Ready { output_files, .. } => output_files.iter().position(|f| f == name),
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
