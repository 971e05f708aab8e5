//! The replies the simulator sends: JSON bodies, and Alumio's `Error` body for every failure.

use alumio_models::{ApiError, Violation};
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use serde::Serialize;

/// The `type` Alumio puts in its error bodies.
pub(crate) const ERROR_TYPE: &str = "https://tools.ietf.org/html/rfc2616#section-10";

/// A reply with a JSON body.
pub(crate) fn json(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A JSON reply serialized from `value`.
pub(crate) fn serialized(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => json(status, Bytes::from(body)),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the reply could not be written",
        ),
    }
}

/// Alumio's `Error` body for `status`, with its standard title and `detail`.
pub(crate) fn error(status: StatusCode, detail: impl Into<String>) -> Response {
    api_error(status, base_error(status).with_detail(detail))
}

fn base_error(status: StatusCode) -> ApiError {
    ApiError::new(
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error"),
    )
    .with_type(ERROR_TYPE)
}

fn api_error(status: StatusCode, error: ApiError) -> Response {
    let body = serde_json::to_vec(&error)
        .map(Bytes::from)
        .unwrap_or_else(|_| Bytes::from_static(b"{}"));
    json(status, body)
}

/// `400` naming the rejected input.
pub(crate) fn bad_request(parameter: &str, problem: &str) -> Response {
    let error = base_error(StatusCode::BAD_REQUEST)
        .with_detail(format!("{parameter}: {problem}"))
        .with_violation(Violation::new(parameter, problem));
    api_error(StatusCode::BAD_REQUEST, error)
}

/// `401` for a missing or wrong token.
pub(crate) fn unauthorised() -> Response {
    let mut response = error(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// `404` for a task that does not exist in the space asked for.
pub(crate) fn task_not_found(identifier: Option<&str>) -> Response {
    let detail = match identifier {
        Some(identifier) => format!("task {identifier} not found"),
        None => "task not found".to_owned(),
    };
    error(StatusCode::NOT_FOUND, detail)
}

/// `503`, as a down or overloaded Alumio answers.
pub(crate) fn service_unavailable() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the service is temporarily unavailable",
    )
}

/// `429` with `Retry-After`.
pub(crate) fn too_many_requests(retry_after_secs: u64) -> Response {
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "rate limit exceeded, retry later",
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}
