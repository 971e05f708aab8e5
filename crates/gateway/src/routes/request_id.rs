//! `x-request-id`: a consumer's own id is kept when it is sane, otherwise one is made; either
//! way it is echoed in the response and named in the request's log line.
//!
//! A hand-written tower layer rather than `axum::middleware::from_fn`: it runs on every
//! request, and `from_fn` costs a boxed future, a cloned inner service and several allocations
//! per call, about a third of a cache hit's instructions when measured (docs/performance.md).

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Uri};
use tower::{Layer, Service};

use crate::hex;

pub use crate::render::REQUEST_ID;

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

/// How many ids a thread formats at once.
const IDS_PER_BLOCK: usize = 64;

/// `pppppppp-nnnnnnnnnnnn`.
const ID_LEN: usize = 21;

/// A thread's ids formatted ahead into one shared buffer.
struct IdBlock {
    ids: Bytes,
    next: usize,
}

thread_local! {
    static IDS: RefCell<IdBlock> = const {
        RefCell::new(IdBlock {
            ids: Bytes::new(),
            next: IDS_PER_BLOCK,
        })
    };
}

/// A fresh id: the process prefix and a counter in hex. Ids are formatted a block at a time
/// and each is a slice of its block, so an id costs neither formatting nor an allocation of its
/// own; the counter reserves a whole block at once, so ids stay unique across threads.
pub(super) fn new_request_id() -> HeaderValue {
    IDS.with(|block| {
        let mut block = block.borrow_mut();
        if block.next >= IDS_PER_BLOCK {
            *block = IdBlock {
                ids: format_ids(NEXT_ID.fetch_add(IDS_PER_BLOCK as u64, Ordering::Relaxed)),
                next: 0,
            };
        }
        let start = block.next * ID_LEN;
        block.next += 1;
        HeaderValue::from_maybe_shared(block.ids.slice(start..start + ID_LEN))
            .unwrap_or(HeaderValue::from_static("unknown"))
    })
}

/// `IDS_PER_BLOCK` ids from `first` on, back to back, written without the formatting machinery.
fn format_ids(first: u64) -> Bytes {
    let mut ids = vec![b'-'; IDS_PER_BLOCK * ID_LEN];
    for (id, n) in ids.chunks_exact_mut(ID_LEN).zip(first..) {
        hex::encode_into(&PROCESS_PREFIX.to_be_bytes(), &mut id[..8]);
        // The counter's low 48 bits: twelve digits.
        hex::encode_into(&n.to_be_bytes()[2..], &mut id[9..]);
    }
    Bytes::from(ids)
}

/// The consumer's own id, when it sent one worth keeping.
pub(super) fn consumers_request_id(headers: &HeaderMap) -> Option<&HeaderValue> {
    headers.get(&REQUEST_ID).filter(|id| is_sane(id))
}

fn is_sane(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// Tags every request and its response with an id, and writes the request's log line.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService { inner }
    }
}

/// The service [`RequestIdLayer`] wraps around the router.
#[derive(Debug, Clone)]
pub(super) struct RequestIdService<S> {
    inner: S,
}

impl<S> Service<Request> for RequestIdService<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = TaggedResponse<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let started = Instant::now();
        let id = match consumers_request_id(request.headers()) {
            Some(id) => id.clone(),
            None => {
                let id = new_request_id();
                request.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
        };
        // A `Uri` shares its bytes, so keeping it for the log line costs no copy of the path.
        let method = request.method().clone();
        let uri = request.uri().clone();
        TaggedResponse {
            inner: self.inner.call(request),
            tag: Some(Tag {
                id,
                method,
                uri,
                started,
            }),
        }
    }
}

struct Tag {
    id: HeaderValue,
    method: Method,
    uri: Uri,
    started: Instant,
}

pin_project_lite::pin_project! {
    /// The inner response, with the id added and the log line written once it is ready.
    pub(super) struct TaggedResponse<F> {
        #[pin]
        inner: F,
        tag: Option<Tag>,
    }
}

impl<F> Future for TaggedResponse<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = ready!(this.inner.poll(cx));
        if let Some(tag) = this.tag.take() {
            let took = tag.started.elapsed();
            crate::access::log_request(&tag.id, &tag.method, tag.uri.path(), &mut response, took);
            response.headers_mut().insert(REQUEST_ID, tag.id);
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_ids_are_unique_hex_with_the_process_prefix() {
        let first = new_request_id();
        let second = new_request_id();
        assert_ne!(first, second);
        // Past a block and on another thread too.
        let many: std::collections::HashSet<HeaderValue> = (0..3 * IDS_PER_BLOCK)
            .map(|_| new_request_id())
            .chain(
                std::thread::spawn(|| {
                    (0..IDS_PER_BLOCK)
                        .map(|_| new_request_id())
                        .collect::<Vec<_>>()
                })
                .join()
                .unwrap(),
            )
            .collect();
        assert_eq!(many.len(), 4 * IDS_PER_BLOCK);
        let text = first.to_str().unwrap();
        assert_eq!(text.len(), 21);
        assert_eq!(&text[8..9], "-");
        assert!(text.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
        assert_eq!(&text[..8], format!("{:08x}", *PROCESS_PREFIX));
    }

    #[test]
    fn only_visible_ascii_ids_of_sane_length_are_kept() {
        assert!(is_sane(&HeaderValue::from_static("abc-123")));
        assert!(!is_sane(&HeaderValue::from_static("")));
        assert!(!is_sane(&HeaderValue::from_static("has space")));
        assert!(!is_sane(&HeaderValue::from_str(&"x".repeat(129)).unwrap()));
    }
}
