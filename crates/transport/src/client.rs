//! `AlumioClient`: asks Alumio for one task, typed or as raw bytes, with retries inside a
//! deadline.

use std::fmt;
use std::sync::Arc;

use alumio_models::{ApiError, DetailedTaskResult, SpaceIdentifier, TaskIdentifier};
use http::{HeaderValue, StatusCode};
use secrecy::SecretString;
use url::Url;

use crate::builder::ClientBuilder;
use crate::error::TransportError;
use crate::exchange::Transport;
use crate::path::BaseUrl;
use crate::raw::{CacheHeaders, RawTaskResponse};
use crate::retry::RetryPolicy;

/// A client for one Alumio environment's task endpoint.
///
/// Cloning is cheap and shares the connection pool. `Debug` never shows the token.
#[derive(Clone)]
pub struct AlumioClient {
    inner: Arc<Inner>,
}

struct Inner {
    base: BaseUrl,
    user_agent: HeaderValue,
    transport: Transport,
}

impl AlumioClient {
    /// Starts configuring a client for the environment at `base_url`, such as
    /// `https://tenant.alumio.com/api/v1` (a trailing slash makes no difference), which
    /// authenticates with the API key `token`.
    pub fn builder(base_url: &str, token: SecretString) -> ClientBuilder {
        ClientBuilder::new(base_url, token)
    }

    pub(crate) fn from_parts(base: BaseUrl, user_agent: HeaderValue, transport: Transport) -> Self {
        let inner = Inner {
            base,
            user_agent,
            transport,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The base URL, normalised and without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str()
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.transport.retry_policy
    }

    /// The largest body read, in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.inner.transport.max_body_bytes
    }

    /// The URL asked for a task: `{base}/tasks/{identifier}`, plus `?space={space}`.
    ///
    /// The identifier is always exactly one path segment: every byte that is not an RFC 3986
    /// unreserved character is percent-encoded (`a/b` becomes `a%2Fb`, `%2F` becomes `%252F`).
    /// Fails with [`TransportError::UnsendableIdentifier`] for `.` and `..`, which URL
    /// normalisation would remove in any spelling.
    pub fn task_url(
        &self,
        identifier: &TaskIdentifier,
        space: Option<&SpaceIdentifier>,
    ) -> Result<Url, TransportError> {
        self.inner.base.task_url(identifier, space)
    }

    /// Fetches a task and parses it.
    ///
    /// A reply other than 2xx, after retries, is [`TransportError::Api`], carrying the Alumio
    /// error body when there is one; a 2xx body that is not a task document is
    /// [`TransportError::Decode`].
    pub async fn get_task(
        &self,
        identifier: &TaskIdentifier,
        space: Option<&SpaceIdentifier>,
    ) -> Result<DetailedTaskResult, TransportError> {
        let url = self.task_url(identifier, space)?;
        let reply = self.inner.transport.exchange(&url).await?;
        if reply.status.is_success() {
            return serde_json::from_slice(&reply.body)
                .map_err(|source| TransportError::Decode { url, source });
        }
        Err(api_error(url, reply.status, &reply.body))
    }

    /// Fetches a task and returns the last reply as received, whatever its status.
    ///
    /// The body is never parsed or re-serialized. Errors are only failures to get a complete
    /// reply: connection, timeout, reset, body too large, unsendable identifier.
    pub async fn get_task_raw(
        &self,
        identifier: &TaskIdentifier,
        space: Option<&SpaceIdentifier>,
    ) -> Result<RawTaskResponse, TransportError> {
        let url = self.task_url(identifier, space)?;
        let reply = self.inner.transport.exchange(&url).await?;
        Ok(RawTaskResponse {
            status: reply.status,
            headers: CacheHeaders::from_headers(&reply.headers),
            body: reply.body,
        })
    }
}

/// The `Api` error for a non-2xx reply: the Alumio error body when the body is one, else the
/// start of the body as text.
fn api_error(url: Url, status: StatusCode, body: &[u8]) -> TransportError {
    let (body, raw) = match serde_json::from_slice::<ApiError>(body) {
        Ok(error) => (Some(Box::new(error)), None),
        Err(_) if body.is_empty() => (None, None),
        Err(_) => (None, Some(text_start(body, TransportError::RAW_TEXT_LIMIT))),
    };
    TransportError::Api {
        url,
        status,
        body,
        raw,
    }
}

/// At most `limit` bytes of `body` as text; invalid UTF-8 becomes U+FFFD.
fn text_start(body: &[u8], limit: usize) -> String {
    let mut text = String::from_utf8_lossy(&body[..body.len().min(limit)]).into_owned();
    // Replacement characters are longer than the bytes they replace.
    let mut end = text.len().min(limit);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

impl fmt::Debug for AlumioClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("AlumioClient")
            .field("base_url", &inner.base)
            .field("user_agent", &inner.user_agent)
            .field("request_timeout", &inner.transport.request_timeout)
            .field("retry_policy", &inner.transport.retry_policy)
            .field("max_body_bytes", &inner.transport.max_body_bytes)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_text_never_passes_the_limit() {
        assert_eq!(text_start(b"hello", 3), "hel");
        assert_eq!(text_start(&[0xff; 10], 4), "\u{fffd}");
        assert_eq!(text_start("éé".as_bytes(), 3), "é");
        assert_eq!(text_start(b"", 3), "");
    }
}
