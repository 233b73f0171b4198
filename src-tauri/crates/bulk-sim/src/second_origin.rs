//! The second origin: another `host:port` that serves the same files and status endpoint, as a storage
//! service or a separate status host would. It counts every request and whether it carried
//! `Authorization` (tokens must not travel to another origin unasked), and with
//! `Faults::second_origin_requires_token` it refuses requests without a bearer token.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use axum::routing::get;

use crate::{Sim, auth, export, files, hostile};

pub fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/files/{job}/{name}", get(files::second_origin))
        .route("/fhir/bulkstatus/{id}", get(export::status).delete(export::delete))
        .fallback(crate::not_found)
        .layer(from_fn_with_state(sim.clone(), count_and_guard))
        // Outermost, so that the guard's 401 echoes too.
        .layer(from_fn_with_state(sim.clone(), hostile::echo_authorization))
        .layer(from_fn_with_state(sim.clone(), crate::proxy::count_proxy_authorization))
        .with_state(sim)
}

async fn count_and_guard(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    {
        let mut stats = sim.stats();
        stats.redirected_requests += 1;
        if request.headers().contains_key(header::AUTHORIZATION) {
            stats.redirected_with_authorization += 1;
        }
    }
    let requires_token = sim.faults().second_origin_requires_token;
    if requires_token && let Err(refusal) = auth::require_bearer(&sim, request.headers()) {
        return *refusal;
    }
    next.run(request).await
}
