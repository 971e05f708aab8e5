//! `x-request-id`: a consumer's own id is kept when it is sane, otherwise one is made; either
//! way it is echoed in the response and named in the request's log line.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderName, HeaderValue};

/// The request id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest consumer-supplied id that is kept; longer ones are replaced, not truncated.
const MAX_REQUEST_ID_LEN: usize = 128;

/// A per-process random prefix and a counter make ids unique without a random draw per request.
static PROCESS_PREFIX: LazyLock<u32> = LazyLock::new(|| {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    nanos ^ std::process::id().rotate_left(16)
});
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn new_request_id() -> HeaderValue {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    HeaderValue::try_from(format!("{:08x}-{n:012x}", *PROCESS_PREFIX))
        .unwrap_or(HeaderValue::from_static("unknown"))
}

fn is_sane(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// Tags the request and its response with an id and writes the request's log line.
pub(super) async fn tag_request(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = match request.headers().get(&REQUEST_ID) {
        Some(id) if is_sane(id) => id.clone(),
        _ => {
            let id = new_request_id();
            request.headers_mut().insert(REQUEST_ID, id.clone());
            id
        }
    };
    let method = request.method().clone();
    // A `Uri` shares its bytes, so keeping it for the log line costs no copy of the path.
    let uri = request.uri().clone();
    let mut response = next.run(request).await;
    crate::access::log_request(&id, &method, uri.path(), &mut response, started.elapsed());
    response.headers_mut().insert(REQUEST_ID, id);
    response
}
