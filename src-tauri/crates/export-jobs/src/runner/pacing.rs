//! How patient Haul is with a server: waits between polls, retries, and how long it keeps trying.

use std::time::Duration;

/// How patient Haul is. Tests shorten these; the defaults suit real servers.
#[derive(Debug, Clone)]
pub struct Pacing {
    /// The shortest wait between polls (also when a server says `Retry-After: 0`).
    pub min_poll: Duration,
    /// Haul's own backoff stops growing here.
    pub max_poll: Duration,
    /// Longer `Retry-After` values are clamped to this, and reported.
    pub retry_after_cap: Duration,
    /// First wait before retrying a failed download or kickoff; doubles each time.
    pub retry_base: Duration,
    /// Tries per file before it counts as failed.
    pub file_attempts: u32,
    /// "Try later" answers in a row (429, transient, proxy pages, broken connections) before the job fails.
    pub poll_failures: u32,
    /// Kickoffs answered 429 before Haul gives up.
    pub kickoff_attempts: u32,
    /// How long one run keeps asking about an export the server keeps "in progress" before it stops (the
    /// export stays resumable and is not cancelled on the server): a scheduled run must not wait forever.
    pub max_wait: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            min_poll: Duration::from_secs(1),
            max_poll: Duration::from_secs(60),
            retry_after_cap: bulk_client::export::MAX_RETRY_AFTER,
            retry_base: Duration::from_secs(2),
            file_attempts: 6,
            poll_failures: 30,
            kickoff_attempts: 10,
            // Large group exports take hours, some a day or more; three days is past any healthy server.
            max_wait: Duration::from_secs(72 * 3600),
        }
    }
}

/// A little randomness so many clients do not poll in step.
pub(crate) fn jitter(d: Duration) -> Duration {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|t| t.subsec_nanos()).unwrap_or(0);
    let factor = 0.9 + (nanos % 1000) as f64 / 5000.0; // 0.9 ..= 1.1
    d.mul_f64(factor)
}
