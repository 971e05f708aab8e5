//! `AppState`: what every request handler shares, built once at start-up.

use std::sync::Arc;

use std::time::Duration;

use alumio_transport::{AlumioClient, RetryPolicy, TransportError};
use secrecy::SecretString;

use crate::cache::{MokaResponseCache, ResponseCache};
use crate::config::Settings;
use crate::fetch::Fetcher;
use crate::freshness::FreshnessPolicy;
use crate::metrics::GatewayMetrics;

/// The settings the request path needs, resolved from configuration.
#[derive(Debug, Clone)]
pub struct StateSettings {
    /// Times to live by kind of answer.
    pub freshness: FreshnessPolicy,
    /// The cache's byte budget.
    pub cache_max_bytes: u64,
    /// Longest a consumer waits for a miss before getting a 504.
    pub request_timeout: Duration,
}

impl Default for StateSettings {
    fn default() -> Self {
        Self {
            freshness: FreshnessPolicy::default(),
            cache_max_bytes: 256 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl From<&Settings> for StateSettings {
    fn from(settings: &Settings) -> Self {
        Self {
            freshness: FreshnessPolicy {
                ttl_active: settings.ttl_active,
                ttl_settled: settings.ttl_settled,
                ttl_not_found: settings.ttl_not_found,
            },
            cache_max_bytes: settings.cache_max_bytes,
            request_timeout: settings.request_timeout,
        }
    }
}

/// The Alumio client the settings describe, for the API at `url` with `token`.
pub fn upstream_client(
    url: &str,
    token: SecretString,
    settings: &Settings,
) -> Result<AlumioClient, TransportError> {
    let retry = RetryPolicy {
        max_attempts: settings.upstream_attempts,
        overall_deadline: settings.upstream_timeout * settings.upstream_attempts
            + settings.upstream_connect_timeout,
        ..RetryPolicy::default()
    };
    AlumioClient::builder(url, token)
        .connect_timeout(settings.upstream_connect_timeout)
        .request_timeout(settings.upstream_timeout)
        .retry_policy(retry)
        .max_body_bytes(usize::try_from(settings.upstream_max_body).unwrap_or(usize::MAX))
        .user_agent_suffix(concat!("alumio-gateway/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Shared, cheaply cloned state of one gateway.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<StateInner>,
}

struct StateInner {
    request_timeout: Duration,
    cache: Arc<dyn ResponseCache>,
    fetcher: Arc<Fetcher>,
    metrics: Arc<GatewayMetrics>,
}

impl AppState {
    /// State for a gateway in front of `upstream`.
    pub fn new(upstream: AlumioClient, settings: &StateSettings) -> Self {
        let cache: Arc<dyn ResponseCache> = Arc::new(MokaResponseCache::new(
            settings.cache_max_bytes,
            Duration::ZERO,
        ));
        let metrics = Arc::new(GatewayMetrics::new());
        let fetcher = Arc::new(Fetcher::new(
            upstream,
            Arc::clone(&cache),
            settings.freshness,
            Arc::clone(&metrics),
        ));
        Self {
            inner: Arc::new(StateInner {
                request_timeout: settings.request_timeout,
                cache,
                fetcher,
                metrics,
            }),
        }
    }

    /// The cache.
    pub fn cache(&self) -> &dyn ResponseCache {
        &*self.inner.cache
    }

    /// The fetcher that serves misses.
    pub fn fetcher(&self) -> &Arc<Fetcher> {
        &self.inner.fetcher
    }

    /// Longest a consumer waits for a miss.
    pub fn request_timeout(&self) -> Duration {
        self.inner.request_timeout
    }

    /// The metrics.
    pub fn metrics(&self) -> &GatewayMetrics {
        &self.inner.metrics
    }
}
