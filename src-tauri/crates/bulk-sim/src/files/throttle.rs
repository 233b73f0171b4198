//! File throttling as servers in the wild do it: every Nth file request refused with 429 or 503, and a
//! request refused with 429 while too many downloads are already streaming (Oracle Health limits concurrent
//! downloads per client). Refusals carry an OperationOutcome and `Retry-After`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;

use crate::{Faults, Sim, outcome};

/// One file body counted as streaming; dropping it counts the body out.
pub struct StreamingSlot(Arc<AtomicU32>);

impl Drop for StreamingSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts a file request and lets it through with a streaming slot, or returns the refusal to send.
pub fn admit(sim: &Sim, faults: &Faults) -> Result<StreamingSlot, Box<Response>> {
    let n = sim.file_request_number.fetch_add(1, Ordering::SeqCst) + 1;
    let falls_on = |every: Option<u32>| every.filter(|&e| e > 0).is_some_and(|e| n.is_multiple_of(u64::from(e)));
    if falls_on(faults.file_429_every) {
        return Err(Box::new(refuse(sim, StatusCode::TOO_MANY_REQUESTS, faults.file_retry_after_seconds)));
    }
    if falls_on(faults.file_503_every) {
        return Err(Box::new(refuse(sim, StatusCode::SERVICE_UNAVAILABLE, faults.file_retry_after_seconds)));
    }
    // Counted whether or not there is a limit, so that a limit switched on mid-download sees the bodies
    // already streaming.
    let limit = faults.max_concurrent_files;
    let taken = sim.streaming_files.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |streaming| match limit {
        Some(max) if streaming >= max => None,
        _ => Some(streaming + 1),
    });
    match taken {
        Ok(_) => Ok(StreamingSlot(sim.streaming_files.clone())),
        Err(_) => Err(Box::new(refuse(sim, StatusCode::TOO_MANY_REQUESTS, faults.file_retry_after_seconds))),
    }
}

/// `response` with `slot` riding along its body: released when the body ends, or when it is dropped
/// (the client went away mid-download).
pub fn hold_while_streaming(response: Response, slot: StreamingSlot) -> Response {
    let (parts, body) = response.into_parts();
    let chunks = futures_util::stream::unfold((body.into_data_stream(), slot), |(mut chunks, slot)| async move {
        chunks.next().await.map(|chunk| (chunk, (chunks, slot)))
    });
    Response::from_parts(parts, Body::from_stream(chunks))
}

fn refuse(sim: &Sim, status: StatusCode, retry_after_seconds: u64) -> Response {
    sim.stats().files_throttled += 1;
    let (code, why) = if status == StatusCode::SERVICE_UNAVAILABLE {
        ("transient", "The file service is unavailable; retry later")
    } else {
        ("throttled", "Too many file requests; retry later")
    };
    let mut response = outcome::response(status, "error", code, why);
    if retry_after_seconds > 0 {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
    }
    response
}
