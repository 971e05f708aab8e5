//! The axum floor both the criterion benches and `examples/hit_path_profile.rs` measure the
//! gateway against: a bare router answering prepared bytes, with and without middleware.
//! Included by path from both, since a bench and an example cannot share a module otherwise.

use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, Uri, header};

pub(crate) fn get_request(uri: &Uri) -> Request {
    let mut request = Request::new(Body::empty());
    *request.uri_mut() = uri.clone();
    request
}

pub(crate) fn floor_router(body: &Bytes) -> Router {
    let body = body.clone();
    Router::new().route(
        "/api/v1/tasks/{identifier}",
        axum::routing::get(move || {
            let body = body.clone();
            async move {
                let mut response = Response::new(Body::from(body));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
        }),
    )
}

pub(crate) async fn pass_through(request: Request, next: Next) -> Response {
    next.run(request).await
}

/// What the gateway's request-id middleware did when this was written: format an id, insert
/// it in the request, copy the method and path for the log line, echo the id.
pub(crate) async fn request_id_like_gateway(mut request: Request, next: Next) -> Response {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let started = Instant::now();
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = HeaderValue::try_from(format!("{:08x}-{n:012x}", 0x5eed_u32))
        .unwrap_or(HeaderValue::from_static("unknown"));
    request.headers_mut().insert("x-request-id", id.clone());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    tracing::debug!(?id, %method, path, micros = started.elapsed().as_micros(), "request");
    response.headers_mut().insert("x-request-id", id);
    response
}
