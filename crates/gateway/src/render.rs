//! Turns a stored answer into a response for one consumer: the shared body and pre-rendered
//! headers, plus the few headers that depend on the moment (`Age`, `Cache-Control`).

use std::sync::LazyLock;
use std::time::Instant;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};

use crate::entry::{CacheOutcome, StaleReason, StoredResponse};

/// `X-Cache`, the header most caches and tools already read.
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");
/// RFC 9211 `Cache-Status`.
pub const CACHE_STATUS: HeaderName = HeaderName::from_static("cache-status");

/// Answers up to an hour old or fresh take their `Age` and `max-age` values from these tables,
/// so a hit formats no numbers and allocates nothing for them.
const PRERENDERED_SECONDS: u64 = 3600;

static SECONDS: LazyLock<Vec<HeaderValue>> =
    LazyLock::new(|| (0..=PRERENDERED_SECONDS).map(HeaderValue::from).collect());

static MAX_AGE: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    (0..=PRERENDERED_SECONDS)
        .map(|secs| render_max_age(secs).unwrap_or(HeaderValue::from_static("no-cache")))
        .collect()
});

fn render_max_age(secs: u64) -> Option<HeaderValue> {
    HeaderValue::try_from(format!("max-age={secs}")).ok()
}

fn seconds(secs: u64) -> HeaderValue {
    usize::try_from(secs)
        .ok()
        .and_then(|index| SECONDS.get(index).cloned())
        .unwrap_or_else(|| HeaderValue::from(secs))
}

fn max_age(secs: u64) -> HeaderValue {
    usize::try_from(secs)
        .ok()
        .and_then(|index| MAX_AGE.get(index).cloned())
        .or_else(|| render_max_age(secs))
        .unwrap_or(HeaderValue::from_static("no-cache"))
}

/// Builds the response for `entry`. `stored` says whether the entry is in the cache, which
/// decides between `max-age` and `no-store`.
pub fn render(
    entry: &StoredResponse,
    outcome: CacheOutcome,
    stored: bool,
    method: &Method,
    request_headers: &HeaderMap,
) -> Response {
    render_at(
        Instant::now(),
        entry,
        outcome,
        stored,
        method,
        request_headers,
    )
    .map(|body| body.map_or_else(Body::empty, Body::from))
}

/// The response for `entry` as of `now`, with the body it sends (`None`: no body). The router
/// and the hit path both answer through this one function, so their headers cannot drift apart.
pub fn render_at(
    now: Instant,
    entry: &StoredResponse,
    outcome: CacheOutcome,
    stored: bool,
    method: &Method,
    request_headers: &HeaderMap,
) -> http::Response<Option<Bytes>> {
    let not_modified =
        entry.status() == StatusCode::OK && etag_matches(request_headers, entry.etag());
    let (status, body) = if not_modified {
        (StatusCode::NOT_MODIFIED, None)
    } else if method == Method::HEAD {
        (entry.status(), None)
    } else {
        (entry.status(), Some(entry.body().clone()))
    };

    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.reserve(8);
    if !not_modified {
        headers.insert(header::CONTENT_TYPE, entry.content_type().clone());
        if method == Method::HEAD {
            headers.insert(
                header::CONTENT_LENGTH,
                HeaderValue::from(entry.body().len()),
            );
        }
    }
    if entry.status() == StatusCode::OK {
        headers.insert(header::ETAG, entry.etag().clone());
    }
    if stored {
        headers.insert(header::AGE, seconds(entry.age_secs(now)));
        headers.insert(header::CACHE_CONTROL, max_age(entry.remaining_secs(now)));
    } else {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Some(retry_after) = entry.retry_after() {
        headers.insert(header::RETRY_AFTER, retry_after.clone());
    }
    let (x_cache, cache_status) = cache_labels(outcome, stored);
    headers.insert(X_CACHE, HeaderValue::from_static(x_cache));
    headers.insert(CACHE_STATUS, HeaderValue::from_static(cache_status));
    response
}

/// `X-Cache` and `Cache-Status` for an outcome.
fn cache_labels(outcome: CacheOutcome, stored: bool) -> (&'static str, &'static str) {
    match (outcome, stored) {
        (CacheOutcome::Hit, _) => ("HIT", "alumio-gateway; hit"),
        (CacheOutcome::SharedHit, _) => ("HIT", "alumio-gateway; hit; detail=shared"),
        (CacheOutcome::Miss, true) => ("MISS", "alumio-gateway; fwd=miss; stored"),
        (CacheOutcome::Miss, false) => ("MISS", "alumio-gateway; fwd=miss"),
        (CacheOutcome::Collapsed, true) => ("MISS", "alumio-gateway; fwd=miss; collapsed; stored"),
        (CacheOutcome::Collapsed, false) => ("MISS", "alumio-gateway; fwd=miss; collapsed"),
        (CacheOutcome::Stale(StaleReason::Revalidating), _) => (
            "STALE",
            "alumio-gateway; hit; fwd=stale; detail=revalidating",
        ),
        (CacheOutcome::Stale(StaleReason::UpstreamFailed), _) => (
            "STALE",
            "alumio-gateway; hit; fwd=stale; detail=upstream-failed",
        ),
    }
}

/// `If-None-Match` with weak comparison (RFC 9110 13.1.2): `*`, or any listed tag whose opaque
/// part equals ours, with or without `W/`.
fn etag_matches(request_headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = etag.as_bytes();
    request_headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .any(|tag| tag == b"*" || tag.strip_prefix(b"W/").unwrap_or(tag) == ours)
}

#[cfg(test)]
mod tests;
