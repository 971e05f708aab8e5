//! One GET, sent until it gets a reply not worth retrying: each attempt bounded in time and
//! body size and traced in its own span, all attempts inside the policy's overall deadline.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, StatusCode};
use tokio::time::Instant;
use tracing::{Instrument, debug, info_span};
use url::Url;

use crate::body::{BodyError, read_limited};
use crate::error::{TransportError, is_retryable_status};
use crate::retry::{RetryPolicy, parse_retry_after};

/// The HTTP side of a client: pool, credentials and limits.
pub(crate) struct Transport {
    pub(crate) http: reqwest::Client,
    /// `Bearer <token>`, marked sensitive.
    pub(crate) authorization: HeaderValue,
    pub(crate) request_timeout: Duration,
    pub(crate) retry_policy: RetryPolicy,
    pub(crate) max_body_bytes: usize,
}

/// One complete HTTP reply, its body read within the limit.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

type Outcome = Result<Reply, TransportError>;

impl Transport {
    /// Sends `GET url` until a reply is not worth retrying, the attempts run out or the next
    /// attempt would start past the overall deadline; returns the last outcome.
    pub(crate) async fn exchange(&self, url: &Url) -> Outcome {
        let deadline = Instant::now() + self.retry_policy.overall_deadline;
        let mut attempt: u32 = 1;
        loop {
            let attempt_deadline = (Instant::now() + self.request_timeout).min(deadline);
            let span = info_span!("alumio_attempt", attempt, url = %url);
            let outcome = self.attempt(url, attempt_deadline).instrument(span).await;
            let Some(wait) = self.wait_before_retry(&outcome, attempt) else {
                return outcome;
            };
            if attempt >= self.retry_policy.max_attempts {
                debug!(attempt, "no attempts left");
                return outcome;
            }
            let resume = Instant::now() + wait;
            if resume >= deadline {
                debug!(attempt, ?wait, "no time left for another attempt");
                return outcome;
            }
            debug!(attempt, ?wait, "retrying");
            tokio::time::sleep_until(resume).await;
            attempt += 1;
        }
    }

    /// How long to wait before retrying after `outcome`, or `None` when it is final.
    fn wait_before_retry(&self, outcome: &Outcome, attempt: u32) -> Option<Duration> {
        let policy = &self.retry_policy;
        match outcome {
            Ok(reply) if is_retryable_status(reply.status) => {
                let asked = reply
                    .headers
                    .get(RETRY_AFTER)
                    .and_then(|value| parse_retry_after(value, SystemTime::now()));
                match asked {
                    Some(asked) if asked > policy.max_retry_after => {
                        debug!(attempt, ?asked, "retry-after is longer than allowed");
                        None
                    }
                    Some(asked) => Some(asked),
                    None => Some(policy.backoff(attempt + 1)),
                }
            }
            Err(error) if error.is_retryable() => Some(policy.backoff(attempt + 1)),
            Ok(_) | Err(_) => None,
        }
    }

    /// One attempt, cut off at `deadline`; logs its outcome.
    async fn attempt(&self, url: &Url, deadline: Instant) -> Outcome {
        let started = Instant::now();
        let outcome = match tokio::time::timeout_at(deadline, self.send(url)).await {
            Ok(outcome) => outcome,
            Err(_elapsed) => Err(TransportError::Timeout { url: url.clone() }),
        };
        let elapsed = started.elapsed();
        match &outcome {
            Ok(reply) => debug!(
                status = reply.status.as_u16(),
                body_bytes = reply.body.len(),
                ?elapsed,
                "alumio replied"
            ),
            Err(error) => debug!(
                %error,
                retryable = error.is_retryable(),
                ?elapsed,
                "attempt failed"
            ),
        }
        outcome
    }

    /// Sends the request once and reads the whole reply.
    async fn send(&self, url: &Url) -> Outcome {
        let mut response = self
            .http
            .get(url.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .send()
            .await
            .map_err(|error| classify(url, error))?;
        let status = response.status();
        let body = read_limited(&mut response, self.max_body_bytes)
            .await
            .map_err(|error| match error {
                BodyError::TooLarge => TransportError::BodyTooLarge {
                    url: url.clone(),
                    limit: self.max_body_bytes,
                },
                BodyError::Read(error) => classify(url, error),
            })?;
        let headers = std::mem::take(response.headers_mut());
        Ok(Reply {
            status,
            headers,
            body,
        })
    }
}

/// Turns a reqwest failure into our error, dropping reqwest's copy of the URL.
fn classify(url: &Url, error: reqwest::Error) -> TransportError {
    let url = url.clone();
    let source = error.without_url();
    if source.is_connect() {
        TransportError::Connect { url, source }
    } else if source.is_timeout() {
        TransportError::Timeout { url }
    } else {
        TransportError::Request { url, source }
    }
}
