//! `RawTaskResponse` and `CacheHeaders`: a reply exactly as Alumio sent it, for callers that
//! relay bytes instead of parsing them.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};

/// The last reply Alumio gave, whatever its status, with its body untouched.
///
/// The body is exactly the bytes received (after transfer and content decoding), never parsed
/// or re-serialized, and at most the client's `max_body_bytes` long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTaskResponse {
    /// The reply's status; may be any status, not only 2xx.
    pub status: StatusCode,
    /// The reply's body.
    pub body: Bytes,
    /// The reply's headers that matter to a cache or a relay.
    pub headers: CacheHeaders,
}

/// The reply headers a caching relay needs, each as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheHeaders {
    /// `ETag`.
    pub etag: Option<HeaderValue>,
    /// `Last-Modified`.
    pub last_modified: Option<HeaderValue>,
    /// `Cache-Control`.
    pub cache_control: Option<HeaderValue>,
    /// `Retry-After`.
    pub retry_after: Option<HeaderValue>,
    /// `Content-Type`.
    pub content_type: Option<HeaderValue>,
}

impl CacheHeaders {
    /// Picks the cache-relevant headers out of a reply's headers.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let get = |name| headers.get(name).cloned();
        Self {
            etag: get(header::ETAG),
            last_modified: get(header::LAST_MODIFIED),
            cache_control: get(header::CACHE_CONTROL),
            retry_after: get(header::RETRY_AFTER),
            content_type: get(header::CONTENT_TYPE),
        }
    }
}
