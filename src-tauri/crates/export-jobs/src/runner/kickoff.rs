//! Kickoff: start the export, waiting out a busy server (429) and a few broken connections.

use bulk_client::Kickoff;
use haul_store::{JobFailure, JobRecord};
use serde_json::{Value, json};

use super::context::{Ctx, Stop, failure_of};
use super::events::JobEvent;
use super::pacing::jitter;

/// Sends the kickoff; the status URL to poll.
pub(super) async fn kickoff(ctx: &Ctx, job: &JobRecord) -> Result<String, Stop> {
    let url = job.request.kickoff_url(ctx.session.base_url());
    let mut params: serde_json::Map<String, Value> = Default::default();
    if let Ok(u) = url::Url::parse(&url) {
        for (k, v) in u.query_pairs() {
            params.insert(k.into_owned(), json!(v));
        }
    }
    let mut network_failures = 0;
    for attempt in 1..=ctx.pacing.kickoff_attempts {
        if ctx.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        match ctx.session.kickoff(&job.request).await {
            Ok(Kickoff::Accepted { status_url }) => {
                ctx.log.set_export_id(&status_url);
                ctx.log.event(
                    "kickoff",
                    json!({"exportUrl": url, "requestParameters": params, "errorCode": null, "errorBody": null,
                           "responseHeaders": null}),
                );
                return Ok(status_url);
            }
            Ok(Kickoff::Busy { retry_after, said }) => {
                let wait = ctx.wait_for(retry_after, ctx.pacing.retry_base * attempt);
                ctx.emit(JobEvent::Waiting {
                    reason: format!(
                        "The server is busy (HTTP 429{}); Haul asks again.",
                        said.map(|s| format!(": {s}")).unwrap_or_default()
                    ),
                    seconds: wait.as_secs_f64(),
                });
                ctx.pause(wait).await?;
            }
            Err(e) if e.is_retryable() && network_failures < 3 => {
                network_failures += 1;
                let wait = jitter(ctx.pacing.retry_base * network_failures);
                ctx.emit(JobEvent::Waiting { reason: e.message.clone(), seconds: wait.as_secs_f64() });
                ctx.pause(wait).await?;
            }
            Err(e) => {
                ctx.log.event(
                    "kickoff",
                    json!({"exportUrl": url, "requestParameters": params, "errorCode": e.status,
                           "errorBody": e.detail, "responseHeaders": null}),
                );
                return Err(Stop::Failed(failure_of(&e)));
            }
        }
    }
    Err(Stop::Failed(JobFailure {
        kind: "busy".into(),
        message: format!(
            "The server stayed busy (HTTP 429) through {} attempts; it may already be running an export for this client. Try again later.",
            ctx.pacing.kickoff_attempts
        ),
        detail: None,
    }))
}
