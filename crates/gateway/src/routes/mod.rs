//! The gateway's HTTP surface: the task endpoint, operations endpoints and the answers for
//! everything else, all in Alumio's `Error` shape.

mod hit_path;
mod operations;
mod request_id;
mod tasks;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

pub use hit_path::{Endpoint, EndpointFuture, HitBody};
pub use request_id::REQUEST_ID;

/// What the consumer-facing listener serves: the hit path in front of [`app`].
pub fn endpoint(state: AppState) -> Endpoint {
    Endpoint::with_hit_path(state.clone(), app(state))
}

/// The hit path in front of [`app_without_metrics`], for when the admin listener serves
/// `/metrics`.
pub fn endpoint_without_metrics(state: AppState) -> Endpoint {
    Endpoint::with_hit_path(state.clone(), app_without_metrics(state))
}

/// The consumer-facing router, `/metrics` included.
pub fn app(state: AppState) -> Router {
    consumer_router(state, true)
}

/// The consumer-facing router without `/metrics`, for when the admin listener serves it.
pub fn app_without_metrics(state: AppState) -> Router {
    consumer_router(state, false)
}

fn consumer_router(state: AppState, with_metrics: bool) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(operations::healthz))
        .route("/readyz", get(operations::readyz));
    if with_metrics {
        router = router.route("/metrics", get(crate::exposition::metrics));
    }
    // The task endpoint is the router's fallback rather than a route with a `{identifier}`
    // parameter: axum stores a matched route's parameters in the request's extensions, an
    // allocation and a map insert on every hit that the handler, which reads the path itself,
    // never uses (9% of a hit's instructions when measured).
    router
        .fallback(tasks::dispatch)
        .layer(request_id::RequestIdLayer)
        .with_state(state)
}
