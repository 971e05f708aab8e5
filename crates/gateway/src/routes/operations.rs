//! Operations endpoints: liveness, readiness and Prometheus metrics.

use axum::extract::State;
use axum::response::IntoResponse;
use http::{HeaderValue, header};

use crate::state::AppState;

/// Live: the process answers.
pub(super) async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready: the gateway can serve requests.
pub(super) async fn readyz() -> &'static str {
    "ready\n"
}

/// Prometheus text exposition of every gateway metric.
pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let body = state.metrics().render(state.cache().usage());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
}
