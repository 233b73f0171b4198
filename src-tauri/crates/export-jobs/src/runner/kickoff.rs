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
    let mut running_elsewhere: Option<String> = None;
    for attempt in 1..=ctx.pacing.kickoff_attempts {
        if ctx.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        match ctx.session.kickoff(&job.request).await {
            Ok(Kickoff::Accepted { status_url }) => {
                // Whatever held an earlier attempt up is gone: nothing of the server's is offered for cancelling.
                ctx.db(|db| db.set_blocked_by(ctx.id, None))?;
                ctx.log.set_export_id(&status_url);
                ctx.log.event(
                    "kickoff",
                    json!({"exportUrl": url, "requestParameters": params, "errorCode": null, "errorBody": null,
                           "responseHeaders": null}),
                );
                return Ok(status_url);
            }
            Ok(Kickoff::Busy { retry_after, said }) => {
                // BCDA answers 429 while the client's earlier export runs, and names it.
                if let Some(other) = said.as_deref().and_then(|s| status_url_in(s, ctx.session.base_url())) {
                    running_elsewhere = Some(other);
                }
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
    let message = match running_elsewhere {
        Some(other) => {
            let ours = ctx.db(|db| db.job_by_status_url(&other))?;
            let what = match ours {
                Some(j) if !j.state.is_finished() => format!(
                    "It is Haul's export {}: let it finish, or cancel it (History, or `haul cancel {}`), then try again.",
                    j.id, j.id
                ),
                // One of Haul's own, finished here but still held by the server (a failed export it could
                // resume): never offered for a DELETE as if it were a stranger's.
                Some(j) => format!(
                    "It is Haul's export {} ({}): resume it (History, or `haul resume {}`) so the server can finish it, then try again.",
                    j.id,
                    j.state.label(),
                    j.id
                ),
                None => {
                    ctx.db(|db| db.set_blocked_by(ctx.id, Some(&other)))?;
                    format!(
                        "If that export is no longer needed, Haul can cancel it on the server (History: “Cancel the server's running export”, or `haul cancel {} --blocking`), then try again.",
                        ctx.id
                    )
                }
            };
            format!(
                "The server is still running an earlier export for this client (status at {other}) and takes one at a time. {what}"
            )
        }
        None => format!(
            "The server stayed busy (HTTP 429) through {} attempts; it may already be running an export for this client. Try again later.",
            ctx.pacing.kickoff_attempts
        ),
    };
    Err(Stop::Failed(JobFailure { kind: "busy".into(), message, detail: None }))
}

/// A status URL on the server's own origin named in a server's text (what BCDA's busy answer holds).
fn status_url_in(text: &str, base_url: &str) -> Option<String> {
    let origin = url::Url::parse(base_url).ok()?.origin();
    text.split(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '(' | ')' | '<' | '>' | ','))
        .filter(|w| w.starts_with("https://") || w.starts_with("http://"))
        .map(|w| w.trim_end_matches(['.', ';']))
        .find(|w| url::Url::parse(w).is_ok_and(|u| u.origin() == origin))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::status_url_in;

    #[test]
    fn a_busy_answer_names_the_running_export_on_the_same_server_only() {
        let base = "https://sandbox.bcda.cms.gov/api/v2";
        assert_eq!(
            status_url_in("A job is already in progress: https://sandbox.bcda.cms.gov/api/v2/jobs/42.", base)
                .as_deref(),
            Some("https://sandbox.bcda.cms.gov/api/v2/jobs/42")
        );
        assert_eq!(status_url_in("see https://evil.example/jobs/1", base), None);
        assert_eq!(status_url_in("busy", base), None);
    }
}
