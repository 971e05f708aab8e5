//! What Alumio's reply, or the lack of one, means for the consumer and for the cache.

use std::sync::Arc;
use std::time::Duration;

use alumio_models::{ApiError, DetailedTaskResult};
use alumio_transport::{RawTaskResponse, TransportError};
use http::{HeaderValue, StatusCode};

use super::{FetchResult, Fetched};
use crate::entry::{EntryKind, StoredResponse};
use crate::error::GatewayError;
use crate::freshness::FreshnessPolicy;
use crate::key::TaskKey;

/// Turns a reply into what consumers get: a task or a 404 to store, an Alumio error to relay
/// once, or the gateway's own 502 for anything that is not an Alumio reply.
pub(super) fn classify(
    freshness: &FreshnessPolicy,
    key: &TaskKey,
    raw: RawTaskResponse,
    request_id: &str,
) -> FetchResult {
    let content_type = raw
        .headers
        .content_type
        .clone()
        .unwrap_or(HeaderValue::from_static("application/json"));
    let kind = match raw.status {
        StatusCode::OK => match serde_json::from_slice::<DetailedTaskResult>(&raw.body) {
            Ok(DetailedTaskResult {
                object: Some(task), ..
            }) => FreshnessPolicy::classify(&task),
            _ => {
                tracing::warn!(
                    request_id,
                    ?key,
                    bytes = raw.body.len(),
                    "alumio sent a 200 that is not a task document"
                );
                return Err(GatewayError::BadUpstreamReply {
                    reason: "the body is not a task document",
                });
            }
        },
        status if status.is_client_error() || status.is_server_error() => {
            if serde_json::from_slice::<ApiError>(&raw.body).is_err() {
                tracing::warn!(request_id, ?key, %status, "alumio sent an error without its error body");
                return Err(GatewayError::BadUpstreamReply {
                    reason: "an error without alumio's error body",
                });
            }
            if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                tracing::warn!(request_id, ?key, %status, "alumio refused the gateway's token for this task");
            }
            if status == StatusCode::NOT_FOUND {
                EntryKind::NotFound
            } else {
                EntryKind::Uncacheable
            }
        }
        status => {
            tracing::warn!(request_id, ?key, %status, "alumio answered with an unexpected status");
            return Err(GatewayError::BadUpstreamReply {
                reason: "an unexpected status",
            });
        }
    };
    let fresh_for = freshness.ttl(kind);
    let mut response = StoredResponse::new(raw.status, raw.body, content_type, kind, fresh_for);
    response.retry_after = raw.headers.retry_after;
    Ok(Fetched {
        response: Arc::new(response),
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
            let status = fetched.response.status;
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
            response: Arc::new(response),
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
