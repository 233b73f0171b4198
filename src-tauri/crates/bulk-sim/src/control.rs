//! The test and benchmark routes under `/_sim/`: faults, stats, client registration over HTTP, and advancing
//! the timeline. Mounted
//! only when `SimConfig::control_routes` is on (never in the app's demo server).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::{Faults, Sim, auth, outcome, timeline};

pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/_sim/register", post(auth::register_endpoint))
        .route("/_sim/faults", get(get_faults).post(set_faults))
        .route("/_sim/stats", get(get_stats))
        .route("/_sim/timeline/advance", post(advance_timeline))
}

async fn get_faults(State(sim): State<Arc<Sim>>) -> Response {
    axum::Json(sim.faults().clone()).into_response()
}

async fn set_faults(State(sim): State<Arc<Sim>>, axum::Json(faults): axum::Json<Faults>) -> Response {
    *sim.faults() = faults;
    StatusCode::NO_CONTENT.into_response()
}

async fn get_stats(State(sim): State<Arc<Sim>>) -> Response {
    axum::Json(sim.stats().clone()).into_response()
}

/// 200 with the epoch's `EpochChanges`; 409 for a folder source, whose data has no timeline.
async fn advance_timeline(State(sim): State<Arc<Sim>>) -> Response {
    // Off the async threads: the advance may wait a few milliseconds and walks the whole dataset.
    match tokio::task::spawn_blocking(move || timeline::advance(&sim)).await {
        Ok(Ok(changes)) => axum::Json(changes).into_response(),
        Ok(Err(why)) => outcome::response(StatusCode::CONFLICT, "error", "not-supported", &why),
        Err(e) => outcome::response(StatusCode::INTERNAL_SERVER_ERROR, "error", "exception", &e.to_string()),
    }
}
