//! `AppState`: what every request handler shares, built once at start-up.

use std::sync::Arc;

use std::time::Duration;

use alumio_transport::AlumioClient;

use crate::access::{AccessMetrics, AccessPolicy};
use crate::cache::{CacheMetrics, MokaResponseCache, ResponseCache};
use crate::config::Settings;
use crate::fetch::{FetchMetrics, FetchPolicy, Fetcher};
use crate::freshness::FreshnessPolicy;
use crate::metrics::MetricsRegistry;
use crate::shared_tier::{SharedTier, SharedTierMetrics, SharedTierSettings};
use crate::upstream::{BreakerSettings, BudgetSettings, FailureBackoff};

/// The settings the request path needs, resolved from configuration.
#[derive(Debug, Clone)]
pub struct StateSettings {
    /// Times to live by kind of answer.
    pub freshness: FreshnessPolicy,
    /// The cache's byte budget.
    pub cache_max_bytes: u64,
    /// Longest a consumer waits for a miss before getting a 504.
    pub request_timeout: Duration,
    /// How long past freshness a copy may stand in when Alumio fails.
    pub stale_if_error: Duration,
    /// How long past freshness a copy is served at once while it refreshes in the background.
    pub stale_while_revalidate: Duration,
    /// When the circuit breaker opens.
    pub breaker: BreakerSettings,
    /// How long a failing key is left alone.
    pub backoff: FailureBackoff,
    /// Requests to Alumio in flight, per second and queued.
    pub budget: BudgetSettings,
    /// The shared tier on Redis; `None` for a replica that caches alone. From `Settings`
    /// through `SharedTierSettings::from_settings`, which may read a file.
    pub shared_tier: Option<SharedTierSettings>,
}

impl Default for StateSettings {
    fn default() -> Self {
        Self {
            freshness: FreshnessPolicy::default(),
            cache_max_bytes: 256 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            stale_if_error: Duration::from_secs(3600),
            stale_while_revalidate: Duration::from_secs(10),
            breaker: BreakerSettings::default(),
            backoff: FailureBackoff::default(),
            budget: BudgetSettings::default(),
            shared_tier: None,
        }
    }
}

impl StateSettings {
    /// How long an unread entry can still be of use: the longest time to live plus the longest
    /// window in which a stale copy may be served.
    pub fn keep_unread_for(&self) -> Duration {
        let FreshnessPolicy {
            ttl_active,
            ttl_settled,
            ttl_not_found,
        } = self.freshness;
        let longest_ttl = ttl_active.max(ttl_settled).max(ttl_not_found);
        longest_ttl.saturating_add(self.stale_if_error.max(self.stale_while_revalidate))
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
            stale_if_error: settings.stale_if_error,
            stale_while_revalidate: settings.stale_while_revalidate,
            breaker: BreakerSettings {
                failure_threshold: settings.breaker_failures,
                cool_down: settings.breaker_cool_down,
            },
            backoff: FailureBackoff {
                initial: settings.upstream_failure_backoff,
                max: settings.upstream_failure_backoff_max,
            },
            budget: BudgetSettings {
                max_concurrency: settings.upstream_max_concurrency,
                max_rate: settings.upstream_rate,
                max_queue: settings.upstream_max_queue,
                queue_timeout: settings.upstream_queue_timeout,
            },
            shared_tier: None,
        }
    }
}

/// The metrics of one gateway: the registry every component registers its own metrics with
/// when it is built, and the handles the request handlers count into. The fetcher's are
/// handed to it; the admin router registers its own.
pub struct GatewayMetrics {
    registry: MetricsRegistry,
    /// How requests were answered, and how full the cache is.
    pub cache: CacheMetrics,
    /// Refused requests and consumers-file reloads.
    pub access: AccessMetrics,
}

impl GatewayMetrics {
    /// The registry, for components built later and for the exposition.
    pub fn registry(&self) -> &MetricsRegistry {
        &self.registry
    }
}

/// Shared, cheaply cloned state of one gateway.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<StateInner>,
}

struct StateInner {
    request_timeout: Duration,
    stale_if_error: Duration,
    stale_while_revalidate: Duration,
    cache: Arc<dyn ResponseCache>,
    fetcher: Arc<Fetcher>,
    metrics: GatewayMetrics,
    access: AccessPolicy,
}

impl AppState {
    /// State for a gateway in front of `upstream` that serves whom `access` lets in. There is
    /// no default policy: `Application::build` applies the secure one from the settings. With a
    /// shared tier it starts connecting in the background (so this needs a Tokio runtime) and
    /// never waits for Redis.
    pub fn new(upstream: AlumioClient, settings: &StateSettings, access: AccessPolicy) -> Self {
        let cache: Arc<dyn ResponseCache> = Arc::new(MokaResponseCache::new(
            settings.cache_max_bytes,
            settings.keep_unread_for(),
        ));
        let registry = MetricsRegistry::new();
        let mut fetcher = Fetcher::new(
            upstream,
            Arc::clone(&cache),
            FetchPolicy {
                freshness: settings.freshness,
                breaker: settings.breaker,
                backoff: settings.backoff,
                budget: settings.budget,
                stale_while_revalidate: settings.stale_while_revalidate,
            },
            FetchMetrics::register(&registry),
        );
        if let Some(shared) = &settings.shared_tier {
            tracing::info!(redis = %shared.redacted_urls(), cluster = shared.cluster, "using the shared tier");
            let metrics = SharedTierMetrics::register(&registry);
            fetcher = fetcher.with_shared_tier(SharedTier::start(shared.clone(), metrics));
        }
        let fetcher = Arc::new(fetcher);
        if let Some(tier) = fetcher.shared_tier() {
            // Purges made on other replicas apply here as if made here.
            let weak = Arc::downgrade(&fetcher);
            tier.on_purge(Box::new(move |scope| {
                if let Some(fetcher) = weak.upgrade() {
                    fetcher.purge(scope);
                }
            }));
        }
        let metrics = GatewayMetrics {
            cache: CacheMetrics::register(&registry),
            access: AccessMetrics::register(&registry),
            registry,
        };
        Self {
            inner: Arc::new(StateInner {
                request_timeout: settings.request_timeout,
                stale_if_error: settings.stale_if_error,
                stale_while_revalidate: settings.stale_while_revalidate,
                cache,
                fetcher,
                metrics,
                access,
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

    /// How long past freshness a copy may stand in when Alumio fails.
    pub fn stale_if_error(&self) -> Duration {
        self.inner.stale_if_error
    }

    /// How long past freshness a copy is served while it refreshes in the background.
    pub fn stale_while_revalidate(&self) -> Duration {
        self.inner.stale_while_revalidate
    }

    /// The metrics.
    pub fn metrics(&self) -> &GatewayMetrics {
        &self.inner.metrics
    }

    /// Who may call the task endpoint.
    pub fn access(&self) -> &AccessPolicy {
        &self.inner.access
    }

    /// The shared tier, if this replica uses one.
    pub fn shared_tier(&self) -> Option<&SharedTier> {
        self.inner.fetcher.shared_tier()
    }
}
