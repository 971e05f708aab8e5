//! `ClientBuilder`: the settings of an `AlumioClient`, checked once in `build`.

use std::fmt;
use std::time::Duration;

use http::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::client::AlumioClient;
use crate::error::TransportError;
use crate::exchange::Transport;
use crate::path::BaseUrl;
use crate::retry::RetryPolicy;

/// The `User-Agent` every request carries, before any suffix.
pub const USER_AGENT: &str = concat!("alumio-transport/", env!("CARGO_PKG_VERSION"));

/// How long an idle pooled connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Settings for an [`AlumioClient`]; made by [`AlumioClient::builder`].
///
/// Nothing is checked until [`ClientBuilder::build`]. `Debug` shows neither the token nor any
/// password in the base URL.
pub struct ClientBuilder {
    base_url: String,
    token: SecretString,
    connect_timeout: Duration,
    request_timeout: Duration,
    retry_policy: RetryPolicy,
    max_body_bytes: usize,
    user_agent_suffix: Option<String>,
    pool_max_idle_per_host: usize,
}

impl ClientBuilder {
    pub(crate) fn new(base_url: &str, token: SecretString) -> Self {
        Self {
            base_url: base_url.to_owned(),
            token,
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
            retry_policy: RetryPolicy::default(),
            max_body_bytes: 8 * 1024 * 1024,
            user_agent_suffix: None,
            pool_max_idle_per_host: 32,
        }
    }

    /// The longest wait for a TCP and TLS connection (default 2 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The longest one attempt may take, from sending to the last body byte (default 10 s).
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How failed attempts are retried (default [`RetryPolicy::default`]).
    #[must_use]
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = policy;
        self
    }

    /// The largest reply body read, in bytes, after content decoding (default 8 MiB).
    #[must_use]
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Text appended to the `User-Agent`, after a space: `alumio-transport/0.1.0 <suffix>`.
    #[must_use]
    pub fn user_agent_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.user_agent_suffix = Some(suffix.into());
        self
    }

    /// How many idle connections per host the pool keeps (default 32).
    #[must_use]
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.pool_max_idle_per_host = max;
        self
    }

    /// Checks the settings and makes the client.
    ///
    /// Fails with [`TransportError::InvalidConfig`] when the base URL is not an `http`/`https`
    /// URL without credentials, query and fragment, the token is empty or not valid in a
    /// header, the user agent suffix is not valid in a header, a timeout or the deadline is
    /// zero, `max_attempts` is zero or `max_body_bytes` is zero.
    pub fn build(self) -> Result<AlumioClient, TransportError> {
        let invalid = |reason: &str| TransportError::InvalidConfig {
            reason: reason.to_owned(),
        };
        let base = BaseUrl::parse(&self.base_url)?;
        let authorization = bearer(&self.token)?;
        let user_agent = match &self.user_agent_suffix {
            Some(suffix) => HeaderValue::from_str(&format!("{USER_AGENT} {suffix}"))
                .map_err(|_| invalid("user agent suffix is not a valid http header value"))?,
            None => HeaderValue::from_static(USER_AGENT),
        };
        if self.connect_timeout.is_zero() || self.request_timeout.is_zero() {
            return Err(invalid("timeouts must be longer than zero"));
        }
        if self.retry_policy.max_attempts == 0 {
            return Err(invalid("retry policy needs at least one attempt"));
        }
        if self.retry_policy.overall_deadline.is_zero() {
            return Err(invalid("retry policy deadline must be longer than zero"));
        }
        if self.max_body_bytes == 0 {
            return Err(invalid("max body bytes must be at least 1"));
        }
        let http = reqwest::Client::builder()
            .user_agent(user_agent.clone())
            .connect_timeout(self.connect_timeout)
            .pool_max_idle_per_host(self.pool_max_idle_per_host)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            // A redirect could leave `{base}/tasks/`; it is returned as a reply instead.
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .build()
            .map_err(|error| TransportError::InvalidConfig {
                reason: format!("http client could not be built: {}", error.without_url()),
            })?;
        let transport = Transport {
            http,
            authorization,
            request_timeout: self.request_timeout,
            retry_policy: self.retry_policy,
            max_body_bytes: self.max_body_bytes,
        };
        Ok(AlumioClient::from_parts(base, user_agent, transport))
    }
}

/// `Bearer <token>`, marked sensitive so HTTP/2 never indexes it and `Debug` hides it.
fn bearer(token: &SecretString) -> Result<HeaderValue, TransportError> {
    let invalid = |reason: &str| TransportError::InvalidConfig {
        reason: reason.to_owned(),
    };
    let token = token.expose_secret();
    if token.trim().is_empty() {
        return Err(invalid("api token is empty"));
    }
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| invalid("api token is not a valid http header value"))?;
    value.set_sensitive(true);
    Ok(value)
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &redacted_base_url(&self.base_url))
            .field("token", &"[redacted]")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retry_policy", &self.retry_policy)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("user_agent_suffix", &self.user_agent_suffix)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .finish()
    }
}

/// The base URL without credentials, query or fragment, or a placeholder when it does not
/// parse (it might hold a secret anyway).
fn redacted_base_url(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut url) => {
            // Both setters fail only for URLs that cannot have credentials at all.
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.into()
        }
        Err(_) => "[unparsable]".to_owned(),
    }
}
