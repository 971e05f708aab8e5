//! HTTP client for Alumio's task endpoint, `GET {base}/tasks/{identifier}?space={space}`.
//!
//! [`AlumioClient`] sends `Authorization: Bearer <API key>` and `Accept: application/json`
//! over a pooled rustls connection (HTTP/2 when the server offers it), and
//!
//! - sends the identifier as exactly one percent-encoded path segment, so no identifier can
//!   reach anything but `{base}/tasks/<one segment>`;
//! - reads bodies chunk by chunk up to a limit, so an oversized body is never buffered whole;
//! - retries connection failures, timeouts, resets and `429`/`502`/`503`/`504` with
//!   exponential backoff, full jitter and `Retry-After`, all inside one overall deadline;
//! - never shows the API key in `Debug`, errors or logs.
//!
//! [`AlumioClient::get_task`] parses the task; [`AlumioClient::get_task_raw`] returns the reply
//! bytes untouched, whatever the status, for callers that relay them.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use alumio_models::{SpaceIdentifier, TaskIdentifier};
//! use alumio_transport::{AlumioClient, RetryPolicy, TransportError};
//! use secrecy::SecretString;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = AlumioClient::builder(
//!     "https://tenant.alumio.com/api/v1",
//!     SecretString::from("api-key"),
//! )
//! .request_timeout(Duration::from_secs(5))
//! .retry_policy(RetryPolicy { max_attempts: 2, ..RetryPolicy::default() })
//! .build()?;
//!
//! let id: TaskIdentifier = "01HV3K5Q8Z".parse()?;
//! let space: SpaceIdentifier = "acme-prod".parse()?;
//! match client.get_task(&id, Some(&space)).await {
//!     Ok(result) => println!("{:?}", result.object.and_then(|task| task.status)),
//!     Err(TransportError::Api { status, .. }) if status == 404 => println!("no such task"),
//!     Err(error) => return Err(error.into()),
//! }
//! # Ok(())
//! # }
//! ```

mod body;
mod builder;
mod client;
mod error;
mod exchange;
mod path;
mod raw;
mod retry;

pub use builder::{ClientBuilder, USER_AGENT};
pub use client::AlumioClient;
pub use error::TransportError;
pub use raw::{CacheHeaders, RawTaskResponse};
pub use retry::RetryPolicy;
