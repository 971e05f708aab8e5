//! `GatewayError`: every answer the gateway gives on its own behalf, and the one place where
//! answers become responses in Alumio's `Error` shape: [`api_error`] builds every such body,
//! [`error_response`] every such response, and [`retry_after`] every `Retry-After`, for these
//! errors, access denials and the admin API alike.

use std::time::Duration;

use alumio_models::{ApiError, Violation};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};

/// What Alumio itself puts in `type`, so consumers can treat both alike.
const ERROR_TYPE: &str = "https://tools.ietf.org/html/rfc2616#section-10";

/// An error the gateway answers itself. Messages are for consumers: they say what happened
/// without internals; the cause is logged where the error is made.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// A request parameter is not valid.
    #[error("{reason}")]
    InvalidParameter {
        /// The parameter's name (`identifier` or `space`).
        parameter: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// No such route on the gateway.
    #[error("no such resource on this gateway")]
    NotFound,
    /// The route exists but not for this method.
    #[error("method not allowed, use GET or HEAD")]
    MethodNotAllowed,
    /// Alumio did not answer within the gateway's deadline.
    #[error("alumio did not answer in time")]
    UpstreamTimeout,
    /// Alumio could not be reached, or the connection broke.
    #[error("alumio could not be reached")]
    UpstreamUnreachable,
    /// Alumio answered with something the gateway will not pass on.
    #[error("alumio sent a reply the gateway cannot use: {reason}")]
    BadUpstreamReply {
        /// What was wrong with the reply, in terms safe to show a consumer.
        reason: &'static str,
    },
    /// Alumio keeps failing, so the gateway sends it nothing until a cool-down passes.
    #[error("alumio is failing; the gateway is giving it time to recover, try again later")]
    CircuitOpen {
        /// When to try again.
        retry_after: Duration,
    },
    /// The gateway is shedding load; try again later.
    #[error("the gateway is overloaded, try again later")]
    Overloaded {
        /// When to try again.
        retry_after: Duration,
    },
    /// A bug or a lost task inside the gateway.
    #[error("the gateway failed to handle the request")]
    Internal,
}

impl GatewayError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidParameter { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::UpstreamUnreachable | Self::BadUpstreamReply { .. } => StatusCode::BAD_GATEWAY,
            Self::Overloaded { .. } | Self::CircuitOpen { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body in Alumio's `Error` shape.
    pub fn to_api_error(&self) -> ApiError {
        let mut error = api_error(self.status(), self.to_string());
        if let Self::InvalidParameter { parameter, reason } = self {
            error = error.with_violation(Violation::new(*parameter, reason.clone()));
        }
        error
    }
}

/// The one builder of Alumio-shaped bodies: `status` with its reason as `title`, Alumio's own
/// `type`, and `detail` in words for the consumer. Callers add violations where they have any.
pub(crate) fn api_error(status: StatusCode, detail: impl Into<String>) -> ApiError {
    ApiError::new(
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error"),
    )
    .with_type(ERROR_TYPE)
    .with_detail(detail)
}

/// The one `Retry-After` rule: whole seconds, rounded up and at least one, so a client that
/// obeys is never early (a breaker with 1.2 s of cool-down left says 2, not 1).
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// [`retry_after_secs`] as a header value.
pub(crate) fn retry_after(wait: Duration) -> HeaderValue {
    HeaderValue::from(retry_after_secs(wait))
}

/// Serializes an `Error` body; it cannot fail for these types, but a fixed body stands in
/// rather than a panic if it ever did.
pub(crate) fn api_error_body(error: &ApiError) -> Bytes {
    serde_json::to_vec(error)
        .map(Bytes::from)
        .unwrap_or_else(|_| {
            Bytes::from_static(br#"{"status":"500","title":"Internal Server Error"}"#)
        })
}

/// The one shape of every answer the gateway gives on its own behalf: `status`, `error` as
/// JSON, never stored by anyone. Callers add only the headers their case needs.
pub(crate) fn error_response(status: StatusCode, error: &ApiError) -> Response {
    let mut response = (status, api_error_body(error)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let mut response = error_response(self.status(), &self.to_api_error());
        let headers = response.headers_mut();
        match self {
            Self::MethodNotAllowed => {
                headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            }
            Self::Overloaded { retry_after } | Self::CircuitOpen { retry_after } => {
                headers.insert(header::RETRY_AFTER, self::retry_after(retry_after));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry_after_of(error: GatewayError) -> String {
        let response = error.into_response();
        response.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_at_least_one() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(30)), 30);
    }

    #[test]
    fn a_circuit_open_503_never_asks_a_client_back_before_the_breaker_admits() {
        let retry_after = Duration::from_millis(1200);
        assert_eq!(
            retry_after_of(GatewayError::CircuitOpen { retry_after }),
            "2"
        );
        assert_eq!(
            retry_after_of(GatewayError::Overloaded { retry_after }),
            "2"
        );
    }

    #[test]
    fn every_body_has_alumio_s_type_and_the_status_s_reason() {
        let error = api_error(StatusCode::UNAUTHORIZED, "who are you");
        let body: serde_json::Value = serde_json::from_slice(&api_error_body(&error)).unwrap();
        assert_eq!(body["status"], "401");
        assert_eq!(body["title"], "Unauthorized");
        assert_eq!(body["type"], ERROR_TYPE);
        assert_eq!(body["detail"], "who are you");
    }
}
