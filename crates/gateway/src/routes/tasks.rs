//! `GET`/`HEAD /api/v1/tasks/{identifier}?space=`: a fresh entry answers at once; anything else
//! goes through the fetcher.

use std::time::Instant;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, Uri};

use crate::error::GatewayError;
use crate::key::TaskKey;
use crate::render::{CacheOutcome, render};
use crate::state::AppState;

/// Answers one task request. Only the validated key is used from the request, so nothing else
/// a consumer sends can reach Alumio or change what is cached.
pub(super) async fn get_task(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let key = match TaskKey::from_path_and_query(uri.path(), uri.query()) {
        Ok(key) => key,
        Err(error) => return error.into_response(),
    };
    if let Some(entry) = state.cache().get(&key)
        && entry.is_fresh(Instant::now())
    {
        state.metrics().cache_hits.increment(1);
        return render(&entry, CacheOutcome::Hit, true, &method, &headers);
    }
    let fetch = state.fetcher().fetch(&key);
    let Ok((result, outcome)) = tokio::time::timeout(state.request_timeout(), fetch).await else {
        return GatewayError::UpstreamTimeout.into_response();
    };
    match outcome {
        CacheOutcome::Hit => state.metrics().cache_hits.increment(1),
        CacheOutcome::Miss | CacheOutcome::Collapsed => state.metrics().cache_misses.increment(1),
    }
    match result {
        Ok(fetched) => render(
            &fetched.response,
            outcome,
            fetched.stored,
            &method,
            &headers,
        ),
        Err(error) => error.into_response(),
    }
}
