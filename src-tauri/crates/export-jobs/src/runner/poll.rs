//! Polling the status URL until the manifest arrives, as patiently as the server asks.

use std::time::Duration;

use bulk_client::{Manifest, Poll};
use haul_store::JobFailure;
use serde_json::json;

use super::context::{Ctx, Stop, failure_of};
use super::events::JobEvent;

/// Polls until the export is complete: the manifest and its `Expires`.
pub(super) async fn poll(ctx: &Ctx, status_url: &str) -> Result<(Manifest, Option<String>), Stop> {
    let started = std::time::Instant::now();
    let mut backoff = ctx.pacing.min_poll;
    let mut failures = 0u32;
    loop {
        if ctx.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        let wait = match ctx.session.poll(status_url).await {
            Ok(Poll::Complete { manifest, expires }) => return Ok((*manifest, expires)),
            Ok(Poll::InProgress { progress, retry_after }) => {
                failures = 0;
                if started.elapsed() >= ctx.pacing.max_wait {
                    return Err(Stop::Failed(still_in_progress(ctx.pacing.max_wait, progress.as_deref())));
                }
                ctx.db(|db| db.set_progress(ctx.id, progress.as_deref()))?;
                ctx.emit(JobEvent::Progress { text: progress.clone() });
                ctx.log.event(
                    "status_progress",
                    json!({"body": null, "xProgress": progress,
                           "retryAfter": retry_after.map(|r| r.wait.as_secs())}),
                );
                let wait = ctx.wait_for(retry_after, backoff).max(age_floor(started.elapsed(), ctx.pacing.max_poll));
                backoff = (backoff.mul_f64(1.5)).min(ctx.pacing.max_poll);
                wait
            }
            Ok(Poll::TryLater { reason, retry_after, detail }) => {
                failures += 1;
                ctx.log.event(
                    "status_error",
                    json!({"body": detail, "code": null, "message": reason, "responseHeaders": null}),
                );
                if failures > ctx.pacing.poll_failures {
                    return Err(Stop::Failed(JobFailure {
                        kind: "server_unavailable".into(),
                        message: format!(
                            "The server kept answering “try later” ({failures} times in a row); last: {reason} Haul stopped asking. Resume the export when the server is healthy."
                        ),
                        detail,
                    }));
                }
                let own = (ctx.pacing.retry_base * 2u32.saturating_pow(failures.min(6))).min(ctx.pacing.max_poll);
                let wait = ctx.wait_for(retry_after, own);
                ctx.emit(JobEvent::Waiting { reason, seconds: wait.as_secs_f64() });
                wait
            }
            Err(e) => {
                ctx.log.event(
                    "status_error",
                    json!({"body": e.detail, "code": e.status, "message": e.message, "responseHeaders": null}),
                );
                return Err(Stop::Failed(failure_of(&e)));
            }
        };
        ctx.pause(wait).await?;
    }
}

/// An export the server kept "in progress" for longer than this run waits. Nothing on the server is
/// cancelled: the status address is kept, and resuming asks again.
fn still_in_progress(waited: Duration, progress: Option<&str>) -> JobFailure {
    JobFailure {
        kind: "still_in_progress".into(),
        message: format!(
            "The server still says the export is being prepared after {} of asking, so Haul stopped waiting. The export was not cancelled on the server: resume it later to ask again, or start a new one.",
            bulk_client::text::duration_words(waited)
        ),
        detail: progress.map(|p| format!("last progress: {p}")),
    }
}

/// The shortest wait between polls for an export this old: a second per minute of age (up to the longest
/// wait). A server that keeps answering `Retry-After: 1` for an hour is not asked 3,600 times: servers limit
/// requests per minute (the reference server blocks a client for 5 minutes after 60).
fn age_floor(age: Duration, max: Duration) -> Duration {
    Duration::from_secs(age.as_secs() / 60).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_slow_down_as_an_export_ages() {
        let max = Duration::from_secs(60);
        assert_eq!(age_floor(Duration::from_secs(30), max), Duration::ZERO);
        assert_eq!(age_floor(Duration::from_secs(10 * 60), max), Duration::from_secs(10));
        assert_eq!(age_floor(Duration::from_secs(5 * 3600), max), max);
    }
}
