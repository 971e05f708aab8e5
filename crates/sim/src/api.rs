//! The simulated `GET /api/v1/tasks/{identifier}?space=` endpoint, with faults applied, and the
//! middleware that counts its requests.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use alumio_models::{SpaceIdentifier, TaskIdentifier};
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;

use crate::faults::FaultMode;
use crate::reply;
use crate::simulator::Shared;

/// How long a [`FaultMode::Hang`] request waits at most when the simulator is not shut down.
const HANG_LIMIT: Duration = Duration::from_secs(3600);

/// The body of a [`FaultMode::Garbage`] reply.
const GARBAGE: &str = "<html><body><h1>oops</h1><p>Bad gateway</p></body></html>";

/// The property [`FaultMode::Oversized`] pads the task with.
const PADDING_PROPERTY: &[u8] = b",\"attachment\":\"";

/// The task endpoint's query; other parameters are ignored, as Alumio does.
#[derive(Debug, Deserialize)]
pub(crate) struct TaskQuery {
    space: Option<String>,
}

/// Counts every request to the task endpoint (and to unknown paths) and its reply's status.
pub(crate) async fn count_replies(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    shared.stats.request_received();
    let response = next.run(request).await;
    shared.stats.reply_sent(response.status().as_u16());
    response
}

/// `GET /api/v1/tasks/{identifier}?space=`.
pub(crate) async fn get_task(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<TaskQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    shared.pause(shared.faults.latency()).await;
    let mode = shared.faults.mode();
    match mode {
        FaultMode::Down => return reply::service_unavailable(),
        FaultMode::TooManyRequests { retry_after_secs } => {
            return reply::too_many_requests(retry_after_secs);
        }
        FaultMode::Hang => {
            shared.pause(HANG_LIMIT).await;
            return reply::service_unavailable();
        }
        _ => {}
    }
    if shared.faults.next_request_fails() {
        return reply::service_unavailable();
    }
    if !shared.auth.allows(&headers) {
        return reply::unauthorised();
    }
    let space = match query {
        Ok(Query(TaskQuery { space: Some(space) })) => {
            if SpaceIdentifier::validate(&space).is_err() {
                return reply::bad_request("space", "may only hold a-z, 0-9 and '-'");
            }
            shared.catalog.space_index(&space)
        }
        Ok(Query(TaskQuery { space: None })) => Some(shared.default_space),
        Err(_) => return reply::bad_request("space", "the query string could not be read"),
    };
    let Ok(Path(identifier)) = path else {
        return reply::task_not_found(None);
    };
    let task = space.and_then(|space| shared.catalog.find(space, &identifier));
    let Some(task) = task else {
        let shown = TaskIdentifier::validate(&identifier)
            .is_ok()
            .then_some(identifier.as_str());
        return reply::task_not_found(shown);
    };
    let body = shared.catalog.body(task, shared.elapsed_millis());
    match mode {
        FaultMode::Garbage => reply::json(StatusCode::OK, GARBAGE),
        FaultMode::Oversized(limit) => reply::json(StatusCode::OK, padded_past(&body, limit)),
        FaultMode::ResetMidBody => reset_mid_body(body),
        _ => reply::json(StatusCode::OK, body),
    }
}

/// The task document with an extra property that makes it longer than `limit` bytes; still
/// valid JSON, so only a size check can refuse it.
fn padded_past(body: &Bytes, limit: usize) -> Bytes {
    // `{"object":{...}}`: the padding goes inside the task object, before its closing braces.
    let Some(open) = body.strip_suffix(b"}}") else {
        return body.clone();
    };
    let overhead = open.len() + PADDING_PROPERTY.len() + "\"}}".len();
    let padding = limit.saturating_add(1).saturating_sub(overhead);
    let mut padded = Vec::with_capacity(overhead + padding);
    padded.extend_from_slice(open);
    padded.extend_from_slice(PADDING_PROPERTY);
    padded.resize(padded.len() + padding, b'A');
    padded.extend_from_slice(b"\"}}");
    Bytes::from(padded)
}

/// A `200` announcing the whole body, whose stream yields half of it and then fails, so the
/// server drops the connection mid-body.
fn reset_mid_body(body: Bytes) -> Response {
    let length = body.len();
    let half = body.slice(..length / 2);
    // `Some(Some(half))`: send the half; `Some(None)`: fail; `None`: done.
    let chunks = futures_util::stream::unfold(Some(Some(half)), |stage| async move {
        match stage? {
            Some(half) => Some((Ok(half), Some(None))),
            None => {
                // Lets the server flush the headers and the first half before the failure.
                tokio::time::sleep(Duration::from_millis(20)).await;
                let reset =
                    io::Error::new(io::ErrorKind::ConnectionReset, "simulated reset mid-body");
                Some((Err(reset), None))
            }
        }
    });
    let mut response = reply::json(StatusCode::OK, Body::from_stream(chunks));
    response
        .headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(length));
    response
}

/// Any path other than the task endpoint.
pub(crate) async fn no_such_route() -> Response {
    reply::error(StatusCode::NOT_FOUND, "no route matches the path")
}

/// A method other than `GET` (or `HEAD`) on the task endpoint.
pub(crate) async fn method_not_allowed() -> Response {
    reply::error(StatusCode::METHOD_NOT_ALLOWED, "only GET is allowed")
}
