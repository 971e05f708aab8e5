//! The gateway's HTTP surface: the task endpoint, operations endpoints and the answers for
//! everything else, all in Alumio's `Error` shape.

mod operations;
mod request_id;
mod tasks;

use axum::Router;
use axum::routing::get;

use crate::error::GatewayError;
use crate::key::TASKS_PATH_PREFIX;
use crate::state::AppState;

pub use request_id::REQUEST_ID;

/// The consumer-facing router.
pub fn app(state: AppState) -> Router {
    let tasks_route = format!("{TASKS_PATH_PREFIX}{{identifier}}");
    Router::new()
        .route(
            &tasks_route,
            get(tasks::get_task).fallback(async || GatewayError::MethodNotAllowed),
        )
        .route("/healthz", get(operations::healthz))
        .route("/readyz", get(operations::readyz))
        .route("/metrics", get(operations::metrics))
        .fallback(async || GatewayError::NotFound)
        .layer(axum::middleware::from_fn(request_id::tag_request))
        .with_state(state)
}
