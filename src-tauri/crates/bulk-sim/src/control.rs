//! The test and benchmark routes under `/_sim/`: faults, stats, and client registration over HTTP. Mounted
//! only when `SimConfig::control_routes` is on (never in the app's demo server).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::{Faults, Sim, auth};

pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/_sim/register", post(auth::register_endpoint))
        .route("/_sim/faults", get(get_faults).post(set_faults))
        .route("/_sim/stats", get(get_stats))
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
