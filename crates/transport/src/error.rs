//! `TransportError`, the one error type of this crate, and which of its cases are worth a retry.

use alumio_models::ApiError;
use http::StatusCode;
use url::Url;

/// Everything that can go wrong asking Alumio for a task.
///
/// Messages are lowercase, say what happened and name the URL asked for. That URL is built from
/// the base URL (which may not hold credentials) and the identifiers; the API token is never
/// part of a message, a `Debug` output or a source error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// Alumio answered with a status other than 2xx.
    #[error("alumio answered {status} for {url}{}", summary(body.as_deref()))]
    Api {
        /// The URL asked for.
        url: Url,
        /// The status of the last reply.
        status: StatusCode,
        /// The body, when it is an Alumio `Error` document (boxed to keep the error small).
        body: Option<Box<ApiError>>,
        /// The start of the body as text (at most [`TransportError::RAW_TEXT_LIMIT`] bytes),
        /// kept when the body is not empty and not an Alumio `Error` document, such as a
        /// proxy's HTML page.
        raw: Option<String>,
    },
    /// An attempt, or the retry policy's overall deadline, ran out before a full reply arrived.
    #[error("request to {url} timed out")]
    Timeout {
        /// The URL asked for.
        url: Url,
    },
    /// No connection could be made (refused, DNS, TLS, connect timeout).
    #[error("could not connect to {url}")]
    Connect {
        /// The URL asked for.
        url: Url,
        /// What the HTTP client reported, without its URL.
        source: reqwest::Error,
    },
    /// The reply's body is larger than the configured limit; it was not read to the end.
    #[error("response body from {url} exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The URL asked for.
        url: Url,
        /// The configured limit, in bytes.
        limit: usize,
    },
    /// A 2xx reply whose body is not a task document.
    #[error("response from {url} is not a task document")]
    Decode {
        /// The URL asked for.
        url: Url,
        /// Why the body does not parse.
        source: serde_json::Error,
    },
    /// The client's configuration is not usable; the reason never echoes the token or a
    /// password.
    #[error("invalid client configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// The task identifier is `.` or `..`, which no URL can carry as a path segment: every
    /// spelling of them, `%2E%2E` included, is removed by URL normalisation and would reach
    /// another resource. Nothing was sent.
    #[error("task identifier cannot be sent as a single url path segment")]
    UnsendableIdentifier,
    /// Any other failure of the HTTP exchange, such as a connection reset mid-body.
    #[error("request to {url} failed")]
    Request {
        /// The URL asked for.
        url: Url,
        /// What the HTTP client reported, without its URL.
        source: reqwest::Error,
    },
}

impl TransportError {
    /// How many bytes of a non-Alumio error body [`TransportError::Api`] keeps in `raw`.
    pub const RAW_TEXT_LIMIT: usize = 1024;

    /// Whether the same request may succeed if sent again: connection failures, timeouts,
    /// resets, and replies `429`, `502`, `503` and `504`.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Timeout { .. } | Self::Request { .. } => true,
            Self::Api { status, .. } => is_retryable_status(*status),
            Self::BodyTooLarge { .. }
            | Self::Decode { .. }
            | Self::InvalidConfig { .. }
            | Self::UnsendableIdentifier => false,
        }
    }

    /// The URL the failed request was for, when one was built.
    pub fn url(&self) -> Option<&Url> {
        match self {
            Self::Api { url, .. }
            | Self::Timeout { url }
            | Self::Connect { url, .. }
            | Self::BodyTooLarge { url, .. }
            | Self::Decode { url, .. }
            | Self::Request { url, .. } => Some(url),
            Self::InvalidConfig { .. } | Self::UnsendableIdentifier => None,
        }
    }

    /// The HTTP status of the reply, for [`TransportError::Api`].
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Whether a reply with this status is worth sending the request again.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// `": <title>: <detail>"` from an Alumio error body, for the `Api` message.
fn summary(body: Option<&ApiError>) -> String {
    let parts = body
        .into_iter()
        .flat_map(|body| [&body.title, &body.detail]);
    parts
        .flatten()
        .filter(|text| !text.is_empty())
        .fold(String::new(), |mut out, text| {
            out.push_str(": ");
            out.extend(text.chars().take(200).filter(|c| !c.is_control()));
            out
        })
}
