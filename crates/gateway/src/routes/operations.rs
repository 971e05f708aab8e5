//! Operations endpoints: liveness and readiness (`/metrics` is `crate::exposition`).

use axum::extract::State;
use axum::response::IntoResponse;

use crate::state::AppState;

/// Live: the process answers.
pub(super) async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready: the gateway can serve requests. It stays ready while the circuit breaker is open,
/// since it still serves cached and stale answers; the detail says how the upstream is doing.
pub(super) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let fetcher = state.fetcher();
    let detail = serde_json::json!({
        "status": "ready",
        "upstream": {
            "circuit": fetcher.breaker_state().as_str(),
            "fetchesInFlight": fetcher.in_flight(),
            "requestsInFlight": fetcher.upstream_in_flight(),
        },
    });
    axum::Json(detail)
}
