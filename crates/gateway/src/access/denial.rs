//! `Denial`: a request refused before any cache lookup or upstream work, answered in Alumio's
//! `Error` shape like every answer the gateway gives on its own behalf.

use std::time::Duration;

use alumio_models::{ApiError, SpaceIdentifier, Violation};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use super::metrics::DenialReason;
use crate::error::{api_error, error_response, retry_after};

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// No consumer key was sent.
    MissingKey,
    /// The key is no consumer's.
    UnknownKey,
    /// The consumer may not read this space (`None`: tasks without a space).
    Space(Option<SpaceIdentifier>),
    /// The consumer is over its rate.
    RateLimited {
        /// When a request would be admitted again.
        retry_after: Duration,
    },
}

impl Denial {
    /// The reason, for metrics and logs.
    pub fn reason(&self) -> DenialReason {
        match self {
            Self::MissingKey => DenialReason::MissingKey,
            Self::UnknownKey => DenialReason::UnknownKey,
            Self::Space(_) => DenialReason::Space,
            Self::RateLimited { .. } => DenialReason::RateLimited,
        }
    }

    /// The HTTP status it is answered with. A space outside the consumer's list is a 403, not
    /// a 404: the decision is taken on the consumer's own list before Alumio is asked, so it
    /// says nothing about whether the space or the task exists (see `docs/security.md`).
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingKey | Self::UnknownKey => StatusCode::UNAUTHORIZED,
            Self::Space(_) => StatusCode::FORBIDDEN,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::MissingKey | Self::UnknownKey => {
                "a valid consumer key is required: send 'Authorization: Bearer <key>'".into()
            }
            Self::Space(Some(space)) => format!("this consumer key may not read space '{space}'"),
            Self::Space(None) => {
                "this consumer key may not read tasks without a space; add ?space=".into()
            }
            Self::RateLimited { .. } => {
                "this consumer is over its request rate, try again later".into()
            }
        }
    }

    /// The body in Alumio's `Error` shape.
    pub fn to_api_error(&self) -> ApiError {
        let error = api_error(self.status(), self.detail());
        match self {
            Self::Space(_) => error.with_violation(Violation::new(
                "space",
                "is not among the spaces this consumer may read",
            )),
            _ => error,
        }
    }
}

impl IntoResponse for Denial {
    fn into_response(self) -> Response {
        let mut response = error_response(self.status(), &self.to_api_error());
        let headers = response.headers_mut();
        match self {
            Self::MissingKey => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"alumio-gateway\""),
                );
            }
            Self::UnknownKey => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=\"alumio-gateway\", error=\"invalid_token\"",
                    ),
                );
            }
            Self::RateLimited { retry_after: wait } => {
                headers.insert(header::RETRY_AFTER, retry_after(wait));
            }
            Self::Space(_) => {}
        }
        response
    }
}
