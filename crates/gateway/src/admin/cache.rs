//! The admin API's cache handlers: purges, which every later request sees at once (requests
//! already waiting on a fetch that began before the purge included), and statistics.

use alumio_models::SpaceIdentifier;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, Uri, header};

use super::Admin;
use crate::error::{GatewayError, api_error, error_response};
use crate::key::{PurgeScope, TASKS_PATH_PREFIX, TaskKey};
use crate::state::AppState;

/// `DELETE /admin/cache/tasks/{identifier}?space=`: the identifier and space are read exactly
/// as the task endpoint reads them, so the purge names the very entry consumers are served.
pub(super) async fn purge_task(State(admin): State<Admin>, uri: Uri) -> Response {
    let raw = uri
        .path()
        .strip_prefix("/admin/cache/tasks/")
        .unwrap_or_default();
    match TaskKey::from_path_and_query(&format!("{TASKS_PATH_PREFIX}{raw}"), uri.query()) {
        Ok(key) => purge(&admin, PurgeScope::Task(key)).await,
        Err(error) => error.into_response(),
    }
}

/// `DELETE /admin/cache/spaces/{space}`.
pub(super) async fn purge_space(State(admin): State<Admin>, uri: Uri) -> Response {
    let raw = uri
        .path()
        .strip_prefix("/admin/cache/spaces/")
        .unwrap_or_default();
    match raw.parse::<SpaceIdentifier>() {
        Ok(space) => purge(&admin, PurgeScope::Space(space)).await,
        Err(error) => GatewayError::from(error).into_response(),
    }
}

/// `DELETE /admin/cache/without-space`.
pub(super) async fn purge_without_space(State(admin): State<Admin>) -> Response {
    purge(&admin, PurgeScope::WithoutSpace).await
}

/// `DELETE /admin/cache`.
pub(super) async fn purge_all(State(admin): State<Admin>) -> Response {
    purge(&admin, PurgeScope::All).await
}

/// Purges this replica, then the shared tier, which carries the purge to every replica. When
/// Redis cannot be reached the purge holds here only, and the answer says so with a 503 so
/// that the operator retries (purges are idempotent).
async fn purge(admin: &Admin, scope: PurgeScope) -> Response {
    admin.state.fetcher().purge(&scope);
    admin.metrics.record_purge(&scope);
    tracing::info!(?scope, "cache purged through the admin api");
    if let Some(tier) = admin.state.shared_tier()
        && let Err(error) = tier.purge(&scope).await
    {
        tracing::warn!(?scope, "{error}");
        let status = StatusCode::SERVICE_UNAVAILABLE;
        return error_response(status, &api_error(status, error.to_string()));
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /admin/cache/stats`.
pub(super) async fn stats(State(state): State<AppState>) -> Response {
    let usage = state.cache().usage();
    let fetcher = state.fetcher();
    axum::Json(serde_json::json!({
        "entries": usage.entries,
        "bytes": usage.bytes,
        "fetchesInFlight": fetcher.in_flight(),
        "upstreamRequestsInFlight": fetcher.upstream_in_flight(),
    }))
    .into_response()
}

/// Unknown admin routes.
pub(super) async fn not_found() -> Response {
    GatewayError::NotFound.into_response()
}

/// A purge route asked with another method.
pub(super) async fn only_delete() -> Response {
    method_not_allowed("DELETE")
}

/// A read-only route asked with another method.
pub(super) async fn only_get() -> Response {
    method_not_allowed("GET, HEAD")
}

fn method_not_allowed(allow: &'static str) -> Response {
    let status = StatusCode::METHOD_NOT_ALLOWED;
    let error = api_error(status, format!("method not allowed, use {allow}"));
    let mut response = error_response(status, &error);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}
