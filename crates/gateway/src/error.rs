//! `GatewayError`: every answer the gateway gives on its own behalf, and the one place where
//! such answers become responses in Alumio's `Error` shape.

use std::time::Duration;

use alumio_models::{ApiError, Violation};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};

/// What Alumio itself puts in `type`, so consumers can treat both alike.
pub(crate) const ERROR_TYPE: &str = "https://tools.ietf.org/html/rfc2616#section-10";

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
        let status = self.status();
        let mut error = ApiError::new(
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error"),
        )
        .with_type(ERROR_TYPE)
        .with_detail(self.to_string());
        if let Self::InvalidParameter { parameter, reason } = self {
            error = error.with_violation(Violation::new(*parameter, reason.clone()));
        }
        error
    }
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
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after.as_secs().max(1)),
                );
            }
            _ => {}
        }
        response
    }
}
