//! Turns a stored answer into a response for one consumer: the shared body and pre-rendered
//! headers, plus the few headers that depend on the moment (`Age`, `Cache-Control`).

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};

use crate::entry::{CacheOutcome, StaleReason, StoredResponse};

/// `X-Cache`, the header most caches and tools already read.
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");
/// RFC 9211 `Cache-Status`.
pub const CACHE_STATUS: HeaderName = HeaderName::from_static("cache-status");
/// The request id, echoed on every answer.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

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
/// decides between `max-age` and `no-store`. The request's `x-request-id`, which the router's
/// request-id layer has settled by then, is echoed.
pub fn render(
    entry: &StoredResponse,
    outcome: CacheOutcome,
    stored: bool,
    method: &Method,
    request_headers: &HeaderMap,
) -> Response {
    let request_id = request_headers.get(REQUEST_ID);
    let request = RenderRequest {
        method,
        headers: request_headers,
        request_id,
    };
    let age = entry.age(Instant::now());
    render_at(age, entry, outcome, stored, &request)
        .map(|body| body.map_or_else(Body::empty, Body::from))
}

/// What of a request shapes its answer.
#[derive(Debug, Clone, Copy)]
pub struct RenderRequest<'a> {
    /// `GET` or `HEAD`.
    pub method: &'a Method,
    /// The request's headers, for `If-None-Match`.
    pub headers: &'a HeaderMap,
    /// The id to echo as the answer's last header.
    pub request_id: Option<&'a HeaderValue>,
}

/// The response for `entry`, `age` old, with the body it sends (`None`: no body). The router
/// and the hit path both answer through this one function, so their headers cannot drift apart.
pub fn render_at(
    age: Duration,
    entry: &StoredResponse,
    outcome: CacheOutcome,
    stored: bool,
    request: &RenderRequest<'_>,
) -> http::Response<Option<Bytes>> {
    let not_modified =
        entry.status() == StatusCode::OK && etag_matches(request.headers, entry.etag());
    let (status, body) = if not_modified {
        (StatusCode::NOT_MODIFIED, None)
    } else if request.method == Method::HEAD {
        (entry.status(), None)
    } else {
        (entry.status(), Some(entry.shared_body()))
    };
    let headers = match fresh_hit_template(entry, outcome, stored, request, not_modified) {
        Some(template) => template.fill(age, entry, request.request_id),
        None => headers_one_by_one(age, entry, outcome, stored, request, not_modified),
    };
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// The headers in their order, each inserted by name: for every answer the templates below do
/// not cover.
fn headers_one_by_one(
    age: Duration,
    entry: &StoredResponse,
    outcome: CacheOutcome,
    stored: bool,
    request: &RenderRequest<'_>,
    not_modified: bool,
) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(9);
    if !not_modified {
        headers.insert(header::CONTENT_TYPE, entry.content_type().clone());
        if request.method == Method::HEAD {
            headers.insert(
                header::CONTENT_LENGTH,
                HeaderValue::from(entry.body().len()),
            );
        }
    }
    if entry.status() == StatusCode::OK {
        headers.insert(header::ETAG, entry.etag_header());
    }
    if stored {
        let (age, remaining) = entry.age_and_remaining_secs(age);
        headers.insert(header::AGE, seconds(age));
        headers.insert(header::CACHE_CONTROL, max_age(remaining));
    } else {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Some(retry_after) = entry.retry_after() {
        headers.insert(header::RETRY_AFTER, retry_after.clone());
    }
    let (x_cache, cache_status) = cache_labels(outcome, stored);
    headers.insert(X_CACHE, HeaderValue::from_static(x_cache));
    headers.insert(CACHE_STATUS, HeaderValue::from_static(cache_status));
    if let Some(id) = request.request_id {
        headers.insert(REQUEST_ID, id.clone());
    }
    headers
}

/// A value of a template that is filled per answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Fixed,
    ContentLength,
    Etag,
    Age,
    MaxAge,
    RequestId,
}

/// The headers of the commonest answer, a fresh hit on a stored 200 in JSON with a request id,
/// built once in `headers_one_by_one`'s order. A hit clones the map, which copies it without
/// hashing a name or growing it, and sets the values that vary by position. No entry stores
/// anything for it.
struct Template {
    headers: HeaderMap,
    slots: Vec<Slot>,
}

impl Template {
    fn new(head: bool, not_modified: bool) -> Self {
        let placeholder = || HeaderValue::from_static("-");
        let mut headers = HeaderMap::with_capacity(8);
        let mut slots = Vec::new();
        let mut add = |name: HeaderName, value: HeaderValue, slot: Slot| {
            headers.insert(name, value);
            slots.push(slot);
        };
        if !not_modified {
            let json = HeaderValue::from_static("application/json");
            add(header::CONTENT_TYPE, json, Slot::Fixed);
            if head {
                add(header::CONTENT_LENGTH, placeholder(), Slot::ContentLength);
            }
        }
        add(header::ETAG, placeholder(), Slot::Etag);
        add(header::AGE, placeholder(), Slot::Age);
        add(header::CACHE_CONTROL, placeholder(), Slot::MaxAge);
        let (x_cache, cache_status) = cache_labels(CacheOutcome::Hit, true);
        add(X_CACHE, HeaderValue::from_static(x_cache), Slot::Fixed);
        add(
            CACHE_STATUS,
            HeaderValue::from_static(cache_status),
            Slot::Fixed,
        );
        add(REQUEST_ID, placeholder(), Slot::RequestId);
        Self { headers, slots }
    }

    fn fill(&self, age: Duration, entry: &StoredResponse, id: Option<&HeaderValue>) -> HeaderMap {
        let mut headers = self.headers.clone();
        let (age, remaining) = entry.age_and_remaining_secs(age);
        for ((_, value), slot) in headers.iter_mut().zip(&self.slots) {
            match slot {
                Slot::Fixed => {}
                Slot::ContentLength => *value = HeaderValue::from(entry.body().len()),
                Slot::Etag => *value = entry.etag_header(),
                Slot::Age => *value = seconds(age),
                Slot::MaxAge => *value = max_age(remaining),
                Slot::RequestId => {
                    if let Some(id) = id {
                        *value = id.clone();
                    }
                }
            }
        }
        headers
    }
}

/// Templates for `GET`, `HEAD` and a 304.
static TEMPLATES: LazyLock<[Template; 3]> = LazyLock::new(|| {
    [
        Template::new(false, false),
        Template::new(true, false),
        Template::new(false, true),
    ]
});

/// The template for this answer, if one covers it.
fn fresh_hit_template(
    entry: &StoredResponse,
    outcome: CacheOutcome,
    stored: bool,
    request: &RenderRequest<'_>,
    not_modified: bool,
) -> Option<&'static Template> {
    let covered = outcome == CacheOutcome::Hit
        && stored
        && entry.status() == StatusCode::OK
        && entry.retry_after().is_none()
        && entry.content_type() == "application/json"
        && request.request_id.is_some();
    if !covered {
        return None;
    }
    let index = if not_modified {
        2
    } else {
        usize::from(request.method == Method::HEAD)
    };
    TEMPLATES.get(index)
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
fn etag_matches(request_headers: &HeaderMap, ours: &[u8]) -> bool {
    request_headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .any(|tag| tag == b"*" || tag.strip_prefix(b"W/").unwrap_or(tag) == ours)
}

#[cfg(test)]
mod tests;
