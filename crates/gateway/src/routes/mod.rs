//! The gateway's HTTP surface: the task endpoint, operations endpoints and the answers for
//! everything else, all in Alumio's `Error` shape.

pub(crate) mod operations;
mod request_id;
mod tasks;

use axum::Router;
use axum::routing::get;

use crate::error::GatewayError;
use crate::key::TASKS_PATH_PREFIX;
use crate::state::AppState;

pub use request_id::REQUEST_ID;

/// The consumer-facing router, `/metrics` included.
pub fn app(state: AppState) -> Router {
    consumer_router(state, true)
}

/// The consumer-facing router without `/metrics`, for when the admin listener serves it.
pub fn app_without_metrics(state: AppState) -> Router {
    consumer_router(state, false)
}

fn consumer_router(state: AppState, with_metrics: bool) -> Router {
    let tasks_route = format!("{TASKS_PATH_PREFIX}{{identifier}}");
    let mut router = Router::new()
        .route(
            &tasks_route,
            get(tasks::get_task).fallback(async || GatewayError::MethodNotAllowed),
        )
        .route("/healthz", get(operations::healthz))
        .route("/readyz", get(operations::readyz));
    if with_metrics {
        router = router.route("/metrics", get(operations::metrics));
    }
    router
        .fallback(async || GatewayError::NotFound)
        .layer(request_id::RequestIdLayer)
        .with_state(state)
}
