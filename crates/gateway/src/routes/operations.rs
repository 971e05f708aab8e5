//! Operations endpoints: liveness and readiness (`/metrics` is `crate::exposition`).

use axum::extract::State;
use axum::response::IntoResponse;

use crate::state::AppState;

/// Live: the process answers.
pub(super) async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready: the gateway can serve requests. It stays ready while the circuit breaker is open,
/// since it still serves cached and stale answers, and while Redis is away, since it then
/// serves local-only; the detail says how the upstream and the shared tier are doing.
pub(super) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let fetcher = state.fetcher();
    let shared_tier = match state.shared_tier() {
        Some(tier) => serde_json::json!({
            "state": tier.state().as_str(),
            "breaker": tier.breaker_state().as_str(),
        }),
        None => serde_json::json!({ "state": "disabled" }),
    };
    let detail = serde_json::json!({
        "status": "ready",
        "upstream": {
            "circuit": fetcher.breaker_state().as_str(),
            "fetchesInFlight": fetcher.in_flight(),
            "requestsInFlight": fetcher.upstream_in_flight(),
        },
        "shared_tier": shared_tier,
    });
    axum::Json(detail)
}
