//! What Alumio's reply, or the lack of one, means for the consumer and for the cache.
//!
//! The gateway relays what Alumio sent and validates only what it must read: a `200` that is a
//! JSON object is a task to relay and store whatever its properties hold, its status read only
//! to choose the time to live; an error reply that is JSON is Alumio's error to relay. Answers
//! the typed model cannot read are relayed too, and reported as schema drift.

use std::time::Duration;

use alumio_models::{ApiError, DetailedTaskResult, read_status};
use alumio_transport::{RawTaskResponse, TransportError};
use http::{HeaderValue, StatusCode};
use serde::de::IgnoredAny;

use super::drift::{DriftKind, DriftLog};
use super::{FetchResult, Fetched};
use crate::entry::{EntryKind, StoredResponse};
use crate::error::GatewayError;
use crate::freshness::FreshnessPolicy;
use crate::key::TaskKey;

/// What the gateway reads from a `200`'s body: the kind of entry it makes, and whether the
/// typed model could read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskAnswer {
    /// The kind of entry, chosen by the task's status.
    pub kind: EntryKind,
    /// Whether the body is a `DetailedTaskResult` to the typed model; if not, it is relayed
    /// all the same and reported as schema drift.
    pub typed: bool,
}

/// Reads a `200`'s body: `None` when it is not a JSON object, which is not an answer to relay.
///
/// The typed reading comes first, since it must run anyway to tell drift apart, so a body it
/// reads costs exactly that reading; the lenient status reading runs only when it fails.
pub fn read_task_answer(body: &[u8]) -> Option<TaskAnswer> {
    match serde_json::from_slice::<DetailedTaskResult>(body) {
        // The typed reading takes PHP's `[]` for an empty object, but a top-level `[]` is no
        // task document.
        Ok(result) if result.written_as_empty_array => None,
        Ok(result) => {
            let status = result.object.as_ref().and_then(|task| task.status.as_ref());
            Some(TaskAnswer {
                kind: FreshnessPolicy::classify_status(status),
                typed: true,
            })
        }
        Err(_) => read_status(body).ok().map(|reading| TaskAnswer {
            kind: FreshnessPolicy::classify_status(reading.status()),
            typed: false,
        }),
    }
}

/// What an error reply's body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorBody {
    /// Alumio's `Error` body.
    Typed,
    /// JSON of another shape: still Alumio's answer, relayed as sent.
    OtherJson,
    /// Not JSON, such as a proxy's HTML page: Alumio did not answer.
    NotJson,
}

fn read_error_body(body: &[u8]) -> ErrorBody {
    if serde_json::from_slice::<ApiError>(body).is_ok() {
        ErrorBody::Typed
    } else if serde_json::from_slice::<IgnoredAny>(body).is_ok() {
        ErrorBody::OtherJson
    } else {
        ErrorBody::NotJson
    }
}

/// Turns a reply into what consumers get: a task or a 404 to store, an Alumio error to relay
/// once, or the gateway's own 502 for anything that is not an Alumio reply.
pub(super) fn classify(
    freshness: &FreshnessPolicy,
    drift: &DriftLog,
    key: &TaskKey,
    raw: RawTaskResponse,
    request_id: &str,
) -> FetchResult {
    let content_type = raw
        .headers
        .content_type
        .clone()
        .unwrap_or(HeaderValue::from_static("application/json"));
    let (kind, drifted) = match raw.status {
        StatusCode::OK => {
            let Some(answer) = read_task_answer(&raw.body) else {
                tracing::warn!(
                    request_id,
                    ?key,
                    bytes = raw.body.len(),
                    "alumio sent a 200 that is not a task document: not a json object"
                );
                return Err(GatewayError::BadUpstreamReply {
                    reason: "the body is not a task document: not a json object",
                });
            };
            (answer.kind, (!answer.typed).then_some(DriftKind::Task))
        }
        status if status.is_client_error() || status.is_server_error() => {
            let body = read_error_body(&raw.body);
            if body == ErrorBody::NotJson {
                tracing::warn!(request_id, ?key, %status, "alumio sent an error without a json body");
                return Err(GatewayError::BadUpstreamReply {
                    reason: "an error without alumio's error body",
                });
            }
            if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                tracing::warn!(request_id, ?key, %status, "alumio refused the gateway's token for this task");
            }
            let kind = if status == StatusCode::NOT_FOUND {
                EntryKind::NotFound
            } else {
                EntryKind::Uncacheable
            };
            (
                kind,
                (body == ErrorBody::OtherJson).then_some(DriftKind::Error),
            )
        }
        status => {
            tracing::warn!(request_id, ?key, %status, "alumio answered with an unexpected status");
            return Err(GatewayError::BadUpstreamReply {
                reason: "an unexpected status",
            });
        }
    };
    let fresh_for = freshness.ttl(kind);
    if let Some(drift_kind) = drifted {
        // Answers that are not stored still warn at most once per active time to live.
        let window = fresh_for.max(freshness.ttl_active);
        drift.report(drift_kind, key, &raw.body, window, request_id);
    }
    let response = StoredResponse::new(raw.status, raw.body, content_type, kind, fresh_for)
        .with_retry_after(raw.headers.retry_after);
    Ok(Fetched {
        response,
        stored: fresh_for > Duration::ZERO,
    })
}

/// Maps a failure to reach Alumio to the consumer's error, logging the cause, which the
/// consumer never sees.
pub(super) fn error_for_failure(
    key: &TaskKey,
    error: &TransportError,
    request_id: &str,
) -> GatewayError {
    tracing::warn!(request_id, ?key, %error, "fetching from alumio failed");
    match error {
        TransportError::Timeout { .. } => GatewayError::UpstreamTimeout,
        TransportError::Connect { .. } | TransportError::Request { .. } => {
            GatewayError::UpstreamUnreachable
        }
        TransportError::UnsendableIdentifier => GatewayError::InvalidParameter {
            parameter: "identifier",
            reason: "task identifier cannot be sent to alumio as a path segment".into(),
        },
        TransportError::BodyTooLarge { .. } => GatewayError::BadUpstreamReply {
            reason: "the body is larger than the gateway accepts",
        },
        _ => GatewayError::BadUpstreamReply {
            reason: "the reply could not be read",
        },
    }
}

/// Whether a fetch's result says Alumio is failing (down, slow, overloaded, sending garbage),
/// as opposed to answering: such results open the breaker, back the key off, and let a stale
/// copy be served instead.
pub(super) fn is_upstream_failure(result: &FetchResult) -> bool {
    match result {
        Ok(fetched) => {
            let status = fetched.response.status();
            status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
        }
        Err(error) => matches!(
            error,
            GatewayError::UpstreamTimeout
                | GatewayError::UpstreamUnreachable
                | GatewayError::BadUpstreamReply { .. }
        ),
    }
}

/// Whether a stale copy may stand in for this result: any upstream failure, and the answers
/// the gateway gives when it protects Alumio (circuit open, load shed) or loses a fetch.
pub fn allows_stale(result: &FetchResult) -> bool {
    is_upstream_failure(result)
        || matches!(
            result,
            Err(GatewayError::CircuitOpen { .. }
                | GatewayError::Overloaded { .. }
                | GatewayError::Internal)
        )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;

    fn relayed(status: u16) -> FetchResult {
        let response = StoredResponse::new(
            StatusCode::from_u16(status).unwrap(),
            Bytes::from_static(b"{}"),
            HeaderValue::from_static("application/json"),
            EntryKind::Uncacheable,
            Duration::ZERO,
        );
        Ok(Fetched {
            response,
            stored: false,
        })
    }

    #[test]
    fn alumio_failing_allows_a_stale_copy() {
        for result in [
            Err(GatewayError::UpstreamTimeout),
            Err(GatewayError::UpstreamUnreachable),
            Err(GatewayError::BadUpstreamReply { reason: "garbage" }),
            relayed(500),
            relayed(503),
            relayed(429),
        ] {
            assert!(is_upstream_failure(&result), "{result:?}");
            assert!(allows_stale(&result), "{result:?}");
        }
    }

    #[test]
    fn protecting_alumio_allows_a_stale_copy_without_counting_as_its_failure() {
        for result in [
            Err(GatewayError::CircuitOpen {
                retry_after: Duration::from_secs(1),
            }),
            Err(GatewayError::Overloaded {
                retry_after: Duration::from_secs(1),
            }),
        ] {
            assert!(!is_upstream_failure(&result), "{result:?}");
            assert!(allows_stale(&result), "{result:?}");
        }
    }

    #[test]
    fn answers_are_never_replaced_by_a_stale_copy() {
        for status in [200, 304, 400, 401, 403, 404] {
            assert!(!allows_stale(&relayed(status)), "{status}");
        }
        let bad_request = Err(GatewayError::InvalidParameter {
            parameter: "identifier",
            reason: "bad".into(),
        });
        assert!(!allows_stale(&bad_request));
    }
}
