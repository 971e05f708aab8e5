//! `GET`/`HEAD /api/v1/tasks/{identifier}?space=`: a fresh entry answers at once, a recently
//! expired one answers at once while it refreshes, and anything else goes through the fetcher,
//! with the last good copy standing in when Alumio fails.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method};

use crate::access;
use crate::entry::{CacheOutcome, StaleReason};
use crate::error::GatewayError;
use crate::fetch::allows_stale;
use crate::key::{TASKS_PATH_PREFIX, TaskKey};
use crate::render::render;
use crate::routes::REQUEST_ID;
use crate::state::AppState;

/// Everything no other route took: `GET`/`HEAD` of a task path go to [`get_task`], another
/// method on a task path gets 405 with `Allow`, and any other path 404, all in Alumio's shape.
pub(super) async fn dispatch(state: State<AppState>, request: Request) -> Response {
    if !is_task_path(request.uri().path()) {
        return GatewayError::NotFound.into_response();
    }
    if request.method() == Method::GET || request.method() == Method::HEAD {
        get_task(state, request).await
    } else {
        GatewayError::MethodNotAllowed.into_response()
    }
}

/// `/api/v1/tasks/<one non-empty segment>`.
pub(super) fn is_task_path(path: &str) -> bool {
    path.strip_prefix(TASKS_PATH_PREFIX)
        .is_some_and(|segment| !segment.is_empty() && !segment.contains('/'))
}

/// The access decision the hit path took for a request it hands on to the router, so that the
/// handler does not take a second request from the consumer's rate.
#[derive(Clone)]
pub(super) struct AccessDecided(pub(super) Result<access::Admission, access::Refusal>);

/// Answers one task request. Access is decided first, before the cache is looked at; then
/// only the validated key is used from the request, so nothing else a consumer sends can reach
/// Alumio or change what is cached. The request is taken whole, by value, so that a hit copies
/// none of its headers.
async fn get_task(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let decided = match parts.extensions.remove::<AccessDecided>() {
        Some(AccessDecided(decided)) => decided,
        None => access::admit(state.access(), &parts.headers),
    };
    let admission = match decided {
        Ok(admission) => admission,
        Err(refusal) => return refusal.into_response(&state.metrics().access),
    };
    let key = match TaskKey::from_path_and_query(parts.uri.path(), parts.uri.query()) {
        Ok(key) => key,
        Err(error) => {
            let mut response = error.into_response();
            admission.tag(&mut response, None);
            return response;
        }
    };
    if let Err(refusal) = admission.authorize(&key.key_ref()) {
        return refusal.into_response(&state.metrics().access);
    }
    let mut response = serve(&state, &key, &parts.method, &parts.headers).await;
    admission.tag(&mut response, Some(&key.key_ref()));
    response
}

/// The answer for an allowed request: fresh, stale while revalidating, fetched, or the last
/// good copy when Alumio fails.
async fn serve(state: &AppState, key: &TaskKey, method: &Method, headers: &HeaderMap) -> Response {
    let now = Instant::now();
    let cached = state.cache().get(&key.key_ref());
    if let Some(entry) = &cached
        && entry.is_fresh(now)
    {
        state.metrics().cache.hits.increment(1);
        return render(entry, CacheOutcome::Hit, true, method, headers);
    }
    // Only what goes past a fresh hit needs the request id, to name it in the fetch's logs.
    let request_id = headers
        .get(REQUEST_ID)
        .and_then(|id| id.to_str().ok())
        .unwrap_or("-");
    if let Some(entry) = &cached
        && entry.stale_for(now) < state.stale_while_revalidate()
    {
        state.fetcher().refresh_in_background(key, request_id);
        state
            .metrics()
            .cache
            .stale_served
            .increment(StaleReason::Revalidating);
        let outcome = CacheOutcome::Stale(StaleReason::Revalidating);
        return render(entry, outcome, true, method, headers);
    }
    let fetch = state.fetcher().fetch(key, request_id);
    let (result, outcome) = match tokio::time::timeout(state.request_timeout(), fetch).await {
        Ok(fetched) => fetched,
        Err(_) => (Err(GatewayError::UpstreamTimeout), CacheOutcome::Miss),
    };
    // The fetch may have brought a stale copy from the shared tier into L1.
    let last_good = || {
        cached
            .or_else(|| state.cache().get(&key.key_ref()))
            .filter(|entry| entry.stale_for(now) <= state.stale_if_error())
    };
    if let Some(stale) = allows_stale(&result).then(last_good).flatten() {
        state
            .metrics()
            .cache
            .stale_served
            .increment(StaleReason::UpstreamFailed);
        let outcome = CacheOutcome::Stale(StaleReason::UpstreamFailed);
        return render(&stale, outcome, true, method, headers);
    }
    match outcome {
        CacheOutcome::Hit | CacheOutcome::SharedHit => state.metrics().cache.hits.increment(1),
        CacheOutcome::Stale(reason) => state.metrics().cache.stale_served.increment(reason),
        _ => state.metrics().cache.misses.increment(1),
    }
    match result {
        Ok(fetched) => render(&fetched.response, outcome, fetched.stored, method, headers),
        Err(error) => error.into_response(),
    }
}
