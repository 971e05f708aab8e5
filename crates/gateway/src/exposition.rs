//! `GET /metrics`: the Prometheus text exposition of one gateway's metrics, served by the
//! consumer router or, with `--metrics-on-admin`, by the admin router behind its token.

use axum::extract::State;
use axum::response::IntoResponse;
use http::{HeaderValue, header};

use crate::state::AppState;

/// Every metric of the gateway, the cache's size brought up to date first.
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let metrics = state.metrics();
    metrics.cache.observe(state.cache().usage());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        metrics.registry().render(),
    )
}
